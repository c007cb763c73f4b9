//! Gift-card attachments over HTTP: the purchaser adds a photo, a video or a voice message
//! to a card before the recipient opens it; the card's people list them; the files are
//! served by short-lived signed URLs, so an `<img>` or `<video>` can load them without a
//! bearer token and a leaked link stops working within the hour.
//!
//! Uploads are raw bodies (not multipart) with the file's `Content-Type`. The body is
//! read as a stream and refused with 413 as soon as it passes its type's limit, so a
//! large upload is never buffered beyond what its type allows; its first bytes must be
//! the magic number of the declared type.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorCode, OrInternal};
use crate::http::cards::views::{CardView, load_for};
use crate::http::routing::Resource;
use crate::http::uploads::{self, Kind, allowed_types, declared_length, format_of, read_body};
use crate::secrets::SecretKey;
use crate::secrets::signing::{Refused, Signer};
use crate::state::{AppState, State};
use crate::store::blobs::{BlobStore, LocalStore};
use actix_web::body::SizedStream;
use actix_web::http::header::{self};
use actix_web::web::{self};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use actix_web::{delete, get};
use actors::giftcard::{GiftCard, Status};
use chrono::{DateTime, Utc};
use entities::card_attachment;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, SqlErr,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

/// Most attachments on one card.
pub const MAX_ATTACHMENTS: i32 = 5;
/// How long a signed URL works, at least.
pub const URL_TTL_SECS: i64 = 3600;
/// Expiry times are rounded up to this, so the same URL comes back for a few minutes and
/// browsers can cache what it points to.
const URL_ROUNDING_SECS: i64 = 300;
/// Label of the subkey that signs attachment URLs.
const URL_KEY_LABEL: &str = "attachment-urls";

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(Resource::of(__path_upload, upload).and(__path_list, list))
        .service(remove)
        .service(serve);
}

// ---------------------------------------------------------------- views

/// A file attached to a gift card.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentView {
    pub id: Uuid,
    /// `photo`, `video` or `voice`.
    pub kind: String,
    /// The MIME type it is served with.
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    pub created_at: DateTime<Utc>,
    /// Where to fetch the bytes (a path on this server): signed, and working until
    /// `url_expires_at` (an hour or a little more); list the attachments again for a
    /// fresh one.
    pub url: String,
    pub url_expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentList {
    /// Oldest first; at most five.
    pub items: Vec<AttachmentView>,
}

/// A card opened by its code, with what its giver attached to it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenedCard {
    #[serde(flatten)]
    pub card: CardView,
    /// Photos, videos and voice messages from the giver (absent when there are none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentView>,
}

/// The answer to opening a card by code: the card and its attachments, with URLs signed
/// for whoever holds the code.
pub async fn with_attachments(
    state: &AppState,
    card: CardView,
) -> ApiResult<web::Json<OpenedCard>> {
    let attachments = views_of(state, card.id).await?;
    Ok(web::Json(OpenedCard { card, attachments }))
}

fn view(state: &AppState, row: card_attachment::Model) -> AttachmentView {
    let (url, url_expires_at) = signed_url(state, row.id, state.clock.now());
    AttachmentView {
        id: row.id,
        kind: row.kind,
        content_type: row.content_type,
        size_bytes: row.size_bytes,
        sha256: row.sha256,
        created_at: row.created_at,
        url,
        url_expires_at,
    }
}

async fn views_of(state: &AppState, card_id: Uuid) -> ApiResult<Vec<AttachmentView>> {
    let rows = card_attachment::Entity::find()
        .filter(card_attachment::Column::CardId.eq(card_id))
        .order_by_asc(card_attachment::Column::CreatedAt)
        .order_by_asc(card_attachment::Column::Id)
        .all(&state.db)
        .await?;
    Ok(rows.into_iter().map(|r| view(state, r)).collect())
}

/// The blob store attachments live in. The local one keeps them under the data dir; a
/// store shared between nodes (object storage) would be chosen here.
fn blob_store(state: &AppState) -> LocalStore {
    LocalStore::in_data_dir(&state.config.data_dir)
}

// ---------------------------------------------------------------- signed URLs

/// Signs `{attachment id}.{exp}`, the whole MAC in hex.
fn url_signer(secrets: &SecretKey) -> Signer {
    Signer::new(secrets, URL_KEY_LABEL)
}

/// Unix time at which a URL signed at `now` expires: an hour later, rounded up to the
/// next five minutes.
fn url_expiry(now: DateTime<Utc>) -> i64 {
    let at = now.timestamp() + URL_TTL_SECS;
    (at + URL_ROUNDING_SECS - 1).div_euclid(URL_ROUNDING_SECS) * URL_ROUNDING_SECS
}

/// `/api/v1/attachments/{id}?exp=…&sig=…`, and when it stops working.
pub fn signed_url(state: &AppState, id: Uuid, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
    let exp = url_expiry(now);
    let sig = url_signer(&state.secrets).sign_expiring(&[id.to_string()], exp);
    let expires = DateTime::from_timestamp(exp, 0).unwrap_or(now);
    (
        format!("/api/v1/attachments/{id}?exp={exp}&sig={sig}"),
        expires,
    )
}

/// Checks a signed URL's query; on success, the seconds it still works.
fn verify_url(state: &AppState, id: Uuid, query: &SignedQuery) -> ApiResult<i64> {
    check_url(&state.secrets, id, query, state.clock.now().timestamp())
}

fn check_url(secrets: &SecretKey, id: Uuid, query: &SignedQuery, now: i64) -> ApiResult<i64> {
    let invalid = || ApiError::forbidden("this attachment link is not valid");
    let exp: i64 = query
        .exp
        .as_deref()
        .and_then(|e| e.parse().ok())
        .ok_or_else(invalid)?;
    let sig = query.sig.as_deref().ok_or_else(invalid)?;
    match url_signer(secrets).verify_expiring(&[id.to_string()], exp, sig, now) {
        Ok(left) => Ok(left),
        Err(Refused::Invalid) => Err(invalid()),
        Err(Refused::Expired) => Err(ApiError::forbidden(
            "this attachment link has expired; list the card's attachments for a new one",
        )),
    }
}

// ---------------------------------------------------------------- upload

/// Only the card's purchaser, and only before the recipient opened it.
fn check_purchaser(card: &GiftCard, who: &Principal) -> ApiResult<()> {
    if card.purchaser_id != who.user_id {
        return Err(ApiError::forbidden(
            "only the card's purchaser can change its attachments",
        ));
    }
    if !matches!(
        card.status,
        Status::PendingPayment | Status::Issued | Status::Delivered
    ) {
        return Err(ApiError::new(
            ErrorCode::CardStateConflict,
            format!(
                "attachments can change until the recipient opens the card; it is {}",
                card.status.as_str()
            ),
        ));
    }
    Ok(())
}

fn too_large(kind: Kind) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!(
            "a {} attachment has at most {} MiB",
            kind.as_str(),
            kind.max_bytes() / uploads::MIB
        ),
    )
}

fn too_many() -> ApiError {
    ApiError::new(
        ErrorCode::TooManyAttachments,
        format!("a card has at most {MAX_ATTACHMENTS} attachments"),
    )
}

/// Inserts the row in the lowest free slot of the card. The unique (card, slot) index is
/// what keeps concurrent uploads to five; one that loses a slot race tries the next. Each
/// lost race means another upload took a place, so after at most five losses every place
/// is taken and the next pass answers "too many" (twice that allows for deletions racing).
async fn insert_row(
    state: &AppState,
    mut row: card_attachment::ActiveModel,
    card_id: Uuid,
) -> ApiResult<card_attachment::Model> {
    for _ in 0..=(2 * MAX_ATTACHMENTS) {
        let taken: Vec<i32> = card_attachment::Entity::find()
            .select_only()
            .column(card_attachment::Column::Slot)
            .filter(card_attachment::Column::CardId.eq(card_id))
            .into_tuple()
            .all(&state.db)
            .await?;
        let slot = (1..=MAX_ATTACHMENTS)
            .find(|s| !taken.contains(s))
            .ok_or_else(too_many)?;
        row.slot = Set(slot);
        match row.clone().insert(&state.db).await {
            Ok(model) => return Ok(model),
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                tracing::debug!(%card_id, slot, "slot taken by a concurrent upload; trying the next");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(
        ErrorCode::Busy,
        "the card's attachments are changing; retry",
    )
    .retry_after(1))
}

/// Adds a photo (`image/jpeg`, `image/png`, `image/webp`, up to 5 MiB), a voice message
/// (`audio/mpeg`, `audio/ogg`, `audio/webm`, `audio/mp4`, up to 10 MiB) or a video
/// (`video/mp4`, `video/webm`, up to 50 MiB) to a card: the raw file as the body, its type
/// as `Content-Type`. The card's purchaser only, until the recipient opens the card; at
/// most five per card. The bytes must be of the declared type.
#[utoipa::path(post, path = "/cards/{id}/attachments", tag = "cards",
    params(("id" = Uuid, Path)),
    request_body(description = "The file's bytes", content(
        ([u8] = "image/jpeg"), ([u8] = "image/png"), ([u8] = "image/webp"),
        ([u8] = "audio/mpeg"), ([u8] = "audio/ogg"), ([u8] = "audio/webm"), ([u8] = "audio/mp4"),
        ([u8] = "video/mp4"), ([u8] = "video/webm"))),
    responses((status = 201, body = AttachmentView),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 413, body = crate::error::Problem),
              (status = 415, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
pub async fn upload(
    state: State,
    who: Principal,
    req: HttpRequest,
    id: web::Path<Uuid>,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let card_id = id.into_inner();
    let (card, _) = load_for(&state, &who, card_id).await?;
    check_purchaser(&card, &who)?;
    let format = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(format_of)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::AttachmentTypeNotAllowed,
                format!(
                    "send the file with its Content-Type, one of {}",
                    allowed_types()
                ),
            )
        })?;
    let kind = format.kind;
    let declared = declared_length(req.headers());
    if declared.is_some_and(|n| n > kind.max_bytes() as u64) {
        return Err(too_large(kind));
    }
    let existing = card_attachment::Entity::find()
        .filter(card_attachment::Column::CardId.eq(card_id))
        .count(&state.db)
        .await?;
    if existing >= MAX_ATTACHMENTS as u64 {
        return Err(too_many());
    }
    let hint = declared.and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
    let (bytes, sha256) =
        read_body(&mut payload, kind.max_bytes(), hint, || too_large(kind)).await?;
    if bytes.is_empty() {
        return Err(ApiError::new(
            ErrorCode::AttachmentContentMismatch,
            "the body is empty: send the file's bytes",
        ));
    }
    if !(format.magic)(&bytes) {
        return Err(ApiError::new(
            ErrorCode::AttachmentContentMismatch,
            format!("the bytes are not a {} file", format.content_type),
        ));
    }

    let id = Uuid::now_v7();
    let key = format!("attachments/{card_id}/{id}");
    let size = i64::try_from(bytes.len()).or_internal()?;
    let store = blob_store(&state);
    store.put(&key, bytes).await.or_internal()?;
    let row = card_attachment::ActiveModel {
        id: Set(id),
        card_id: Set(card_id),
        slot: Set(0),
        kind: Set(kind.as_str().to_owned()),
        content_type: Set(format.content_type.to_owned()),
        size_bytes: Set(size),
        sha256: Set(sha256),
        storage_key: Set(key.clone()),
        created_at: Set(state.clock.now()),
    };
    let row = match insert_row(&state, row, card_id).await {
        Ok(row) => row,
        Err(e) => {
            if let Err(d) = store.delete(&key).await {
                tracing::warn!(error = %d, key, "could not remove the blob of a refused attachment");
            }
            return Err(e);
        }
    };
    tracing::info!(%card_id, attachment_id = %id, kind = kind.as_str(), size, "attachment added");
    Ok(HttpResponse::Created().json(view(&state, row)))
}

// ---------------------------------------------------------------- list, remove

/// The card's attachments, for its donors, holder and admins, each with a signed URL.
#[utoipa::path(get, path = "/cards/{id}/attachments", tag = "cards",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AttachmentList), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
pub async fn list(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<AttachmentList>> {
    let id = id.into_inner();
    load_for(&state, &who, id).await?;
    Ok(web::Json(AttachmentList {
        items: views_of(&state, id).await?,
    }))
}

/// Removes an attachment (the card's purchaser, until the recipient opens the card).
#[utoipa::path(tag = "cards",
    params(("id" = Uuid, Path), ("attachment_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[delete("/cards/{id}/attachments/{attachment_id}")]
pub async fn remove(
    state: State,
    who: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (card_id, attachment_id) = path.into_inner();
    let (card, _) = load_for(&state, &who, card_id).await?;
    check_purchaser(&card, &who)?;
    let row = card_attachment::Entity::find_by_id(attachment_id)
        .filter(card_attachment::Column::CardId.eq(card_id))
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("attachment"))?;
    // The row first: a blob left behind is only wasted space, a row without its blob
    // would be a broken link.
    card_attachment::Entity::delete_by_id(row.id)
        .exec(&state.db)
        .await?;
    if let Err(e) = blob_store(&state).delete(&row.storage_key).await {
        tracing::warn!(error = %e, key = row.storage_key, "could not remove an attachment's blob");
    }
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------- serving

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedQuery {
    /// Unix time the link expires at.
    pub exp: Option<String>,
    /// Hex HMAC-SHA256 of `{attachment_id}.{exp}` under the installation's URL key.
    pub sig: Option<String>,
}

/// A byte range asked for with `Range` (RFC 9110 §14.2), for a file of `len` bytes:
/// `Ok((first, last))` (inclusive, within the file), or `Err(())` when it cannot be
/// satisfied (416). `None`: serve the whole file — no range, several ranges, another unit,
/// or a header that does not parse, which the RFC lets a server ignore.
///
/// Positions are digits only; one too large for 64 bits counts as the largest number, so
/// `bytes=99999999999999999999-` is past the end (416) and `bytes=-99999999999999999999`
/// is the whole file (206), never an overflow.
fn byte_range(value: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let (unit, spec) = value.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return None;
    }
    let spec = spec.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        let suffix = position(last)?;
        if suffix == 0 || len == 0 {
            return Some(Err(()));
        }
        return Some(Ok((len.saturating_sub(suffix), len - 1)));
    }
    let first = position(first)?;
    let last = if last.is_empty() {
        None
    } else {
        Some(position(last)?)
    };
    if last.is_some_and(|l| l < first) {
        return None;
    }
    if first >= len {
        return Some(Err(()));
    }
    Some(Ok((first, last.map_or(len - 1, |l| l.min(len - 1)))))
}

/// A position in a range: one or more ASCII digits (no sign, no blanks), saturating at
/// `u64::MAX`.
fn position(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.bytes().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// The bytes of an attachment, by signed URL (from the attachment list or the opened
/// card): no login needed, so media elements can load it. Answers `Range` requests
/// (players seek; a single range, RFC 9110 §14), `If-Range` and `If-None-Match`. The file
/// is streamed from storage, never read whole into memory.
#[utoipa::path(tag = "cards",
    params(("attachment_id" = Uuid, Path), SignedQuery),
    responses((status = 200, description = "The file, with its content type"),
              (status = 206, description = "Part of the file"),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 416, body = crate::error::Problem)))]
#[get("/attachments/{attachment_id}")]
pub async fn serve(
    state: State,
    req: HttpRequest,
    id: web::Path<Uuid>,
    query: web::Query<SignedQuery>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let max_age = verify_url(&state, id, &query)?;
    let row = card_attachment::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("attachment"))?;
    let blob = blob_store(&state)
        .open(&row.storage_key)
        .await
        .or_internal()?
        .ok_or_else(|| {
            tracing::error!(key = row.storage_key, "an attachment's blob is missing");
            ApiError::not_found("attachment")
        })?;
    let etag = format!("\"{}\"", row.sha256);
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CACHE_CONTROL, format!("private, max-age={max_age}")))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_DISPOSITION, "inline"))
        .insert_header((header::ETAG, etag.clone()))
        .insert_header((header::ACCEPT_RANGES, "bytes"));
    let headers = req.headers();
    let header_text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let none_match = header_text(header::IF_NONE_MATCH)
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if none_match {
        return Ok(res
            .status(actix_web::http::StatusCode::NOT_MODIFIED)
            .finish());
    }
    res.content_type(row.content_type.as_str());
    // `If-Range`: the range only if the file is still the one with this (strong) ETag; a
    // date or another tag gets the whole file.
    let if_range_ok = header_text(header::IF_RANGE).is_none_or(|v| v.trim() == etag);
    let len = blob.len();
    let range = header_text(header::RANGE)
        .filter(|_| if_range_ok)
        .and_then(|v| byte_range(v, len));
    // The file is streamed from disk as it is sent, whole or the part asked for.
    match range {
        None => Ok(res.body(SizedStream::new(len, blob.read_all()))),
        Some(Ok((first, last))) => {
            let part = blob.read_range(first, last).await.or_internal()?;
            Ok(res
                .status(actix_web::http::StatusCode::PARTIAL_CONTENT)
                .insert_header((header::CONTENT_RANGE, format!("bytes {first}-{last}/{len}")))
                .body(SizedStream::new(last - first + 1, part)))
        }
        Some(Err(())) => {
            let mut res = ApiError::new(
                ErrorCode::RangeNotSatisfiable,
                format!("the file has {len} bytes: the range asked for starts past its end"),
            )
            .error_response();
            let size = header::HeaderValue::from_str(&format!("bytes */{len}")).or_internal()?;
            res.headers_mut().insert(header::CONTENT_RANGE, size);
            Ok(res)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use sha2::Sha256;

    #[test]
    fn url_expiry_is_an_hour_rounded_up_to_five_minutes() {
        let at = |s| DateTime::from_timestamp(s, 0).unwrap();
        assert_eq!(url_expiry(at(1_800_000_000)), 1_800_003_600);
        assert_eq!(url_expiry(at(1_800_000_001)), 1_800_003_900);
        assert_eq!(url_expiry(at(1_800_000_299)), 1_800_003_900);
    }

    #[test]
    fn ranges() {
        assert_eq!(byte_range("bytes=0-9", 100), Some(Ok((0, 9))));
        assert_eq!(byte_range("bytes=90-", 100), Some(Ok((90, 99))));
        assert_eq!(byte_range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(byte_range("bytes=-500", 100), Some(Ok((0, 99))));
        assert_eq!(byte_range("bytes=50-500", 100), Some(Ok((50, 99))));
        assert_eq!(byte_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(byte_range("bytes=-0", 100), Some(Err(())));
        assert_eq!(byte_range("bytes=9-0", 100), None);
        assert_eq!(byte_range("bytes=0-1,5-6", 100), None);
        assert_eq!(byte_range("items=0-1", 100), None);
        assert_eq!(byte_range("bytes=x-", 100), None);
    }

    #[test]
    fn ranges_never_overflow_and_read_digits_only() {
        let huge = "99999999999999999999";
        assert_eq!(byte_range(&format!("bytes={huge}-"), 100), Some(Err(())));
        assert_eq!(
            byte_range(&format!("bytes={huge}-{huge}"), 100),
            Some(Err(()))
        );
        assert_eq!(
            byte_range(&format!("bytes=0-{huge}"), 100),
            Some(Ok((0, 99)))
        );
        assert_eq!(
            byte_range(&format!("bytes=-{huge}"), 100),
            Some(Ok((0, 99)))
        );
        assert_eq!(
            byte_range(&format!("bytes={}-", u64::MAX), u64::MAX),
            Some(Err(()))
        );
        assert_eq!(
            byte_range("bytes=-1", u64::MAX),
            Some(Ok((u64::MAX - 1, u64::MAX - 1)))
        );
        assert_eq!(byte_range("bytes=0-0", 1), Some(Ok((0, 0))));
        assert_eq!(byte_range("bytes=0-", 0), Some(Err(())));
        assert_eq!(byte_range("bytes=-5", 0), Some(Err(())));
        // The unit is case-insensitive; blanks around the parts are tolerated.
        assert_eq!(byte_range("Bytes=1-2", 100), Some(Ok((1, 2))));
        assert_eq!(byte_range(" bytes = 1 - 2 ", 100), Some(Ok((1, 2))));
        for bad in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=1",
            "bytes=+1-2",
            "bytes=1-+2",
            "bytes=-+2",
            "bytes=1-2-3",
            "bytes=0x1-2",
            "bytes=1 2-3",
            "bytes=\u{0661}-2",
            "bytes=0-1,",
            "=0-1",
        ] {
            assert_eq!(byte_range(bad, 100), None, "{bad:?}");
        }
    }

    fn query(exp: impl ToString, sig: &str) -> SignedQuery {
        SignedQuery {
            exp: Some(exp.to_string()),
            sig: Some(sig.to_owned()),
        }
    }

    #[test]
    fn a_url_signed_the_old_way_still_works() {
        use hmac::Mac;
        let secrets = SecretKey::from_bytes([3; 32]);
        let id = Uuid::parse_str("0193c0de-0000-7000-8000-00000000a77a").unwrap();
        let exp = 1_800_003_600_i64;
        let key = secrets.derive("attachment-urls");
        let mut m = <hmac::Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        m.update(format!("{id}.{exp}").as_bytes());
        let old = hex::encode(m.finalize().into_bytes());
        assert_eq!(
            check_url(&secrets, id, &query(exp, &old), exp - 600).unwrap(),
            600
        );
        // Hex was read in either case, and still is.
        let upper = old.to_uppercase();
        assert_eq!(
            check_url(&secrets, id, &query(exp, &upper), exp - 1).unwrap(),
            1
        );
        // And a URL signed now is the same as before.
        assert_eq!(
            url_signer(&secrets).sign_expiring(&[id.to_string()], exp),
            old
        );

        let expired = check_url(&secrets, id, &query(exp, &old), exp).unwrap_err();
        assert!(expired.to_string().contains("expired"), "{expired}");
        let other = Uuid::now_v7();
        let forged = check_url(&secrets, other, &query(exp, &old), exp - 1).unwrap_err();
        assert!(!forged.to_string().contains("expired"), "{forged}");
        for (e, s) in [("x", old.as_str()), ("1", ""), ("1", "zz")] {
            assert!(check_url(&secrets, id, &query(e, s), 0).is_err());
        }
        assert!(
            check_url(
                &secrets,
                id,
                &SignedQuery {
                    exp: None,
                    sig: None
                },
                0
            )
            .is_err()
        );
    }
}

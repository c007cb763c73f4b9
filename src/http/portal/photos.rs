//! Catalogue photos over HTTP: a partner uploads the photos of its venue's profile (the
//! owner, like the rest of the profile) and of its experiences (owner and staff, like the
//! rest of an experience), removes them, and everyone fetches them from this host at a
//! stable public URL, `/api/v1/photos/{photo_id}`.
//!
//! The profile's and each experience's `photos` list (the column the catalogue, the pages
//! and the API answers already read) holds an uploaded photo as that URL, where it shows
//! among the others; the `photos` table says whose it is and how to serve it. Upload and
//! removal change the row and the list in one transaction, with the owner's row locked, so
//! concurrent changes cannot lose one another. Reordering is a `PATCH` of the list
//! ([`checked_list`]): uploaded photos may move but not leave it (they leave with
//! `DELETE`), and an `https` URL is still taken there for older clients.
//!
//! Uploads are raw bodies with the file's `Content-Type`, as for card attachments: JPEG,
//! PNG or WebP only, read as a stream and refused with 413 past [`MAX_PHOTO_BYTES`], and
//! the first bytes must be the declared type's magic number.

use super::{MANAGERS, MAX_PHOTOS, OWNERS};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorCode, OrInternal};
use crate::http::uploads::{self, Kind};
use crate::state::{AppState, State};
use crate::store::blobs::{BlobStore, LocalStore};
use actix_web::http::{StatusCode, header};
use actix_web::web::{self};
use actix_web::{HttpRequest, HttpResponse};
use actix_web::{delete, get, post};
use actors::StaffRole;
use chrono::{DateTime, Utc};
use entities::{experience, partner, photo};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
    TransactionTrait,
};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

/// The largest photo, in bytes (as for a card's photo attachment).
pub const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;
/// Where uploaded photos are served; a list holds each as this prefix and its id.
pub const URL_PREFIX: &str = "/api/v1/photos/";
/// How long browsers and proxies may keep a photo: a year. A photo's bytes never change
/// (a new file is a new photo with a new id), so its URL can be cached as immutable.
const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";
/// Longest `https` photo URL taken in a list.
const MAX_URL_LEN: usize = 2048;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(upload_experience_photo)
        .service(remove_experience_photo)
        .service(upload_profile_photo)
        .service(remove_profile_photo)
        .service(serve);
}

// ---------------------------------------------------------------- whose photos

/// Whose photo list a request changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The venue's profile.
    Profile { partner: Uuid },
    /// One of the venue's experiences.
    Experience { partner: Uuid, experience: Uuid },
}

impl Owner {
    fn partner(self) -> Uuid {
        match self {
            Self::Profile { partner } | Self::Experience { partner, .. } => partner,
        }
    }

    fn experience(self) -> Option<Uuid> {
        match self {
            Self::Profile { .. } => None,
            Self::Experience { experience, .. } => Some(experience),
        }
    }

    /// Who may change it: the same roles as for the rest of the profile or experience.
    fn roles(self) -> &'static [StaffRole] {
        match self {
            Self::Profile { .. } => OWNERS,
            Self::Experience { .. } => MANAGERS,
        }
    }
}

/// The owner's photo list, read with a row lock when `lock` (PostgreSQL; SQLite has one
/// writer connection); 404 when the partner, or the experience at this partner, is not
/// there.
async fn list_of(db: &impl ConnectionTrait, owner: Owner, lock: bool) -> ApiResult<Vec<Value>> {
    let value = match owner {
        Owner::Profile { partner } => {
            let mut q = partner::Entity::find_by_id(partner);
            if lock {
                q = q.lock_exclusive();
            }
            q.one(db)
                .await?
                .ok_or_else(|| ApiError::not_found("partner"))?
                .photos
        }
        Owner::Experience {
            partner,
            experience,
        } => {
            let mut q = experience::Entity::find_by_id(experience)
                .filter(experience::Column::PartnerId.eq(partner));
            if lock {
                q = q.lock_exclusive();
            }
            q.one(db)
                .await?
                .ok_or_else(|| ApiError::not_found("experience"))?
                .photos
        }
    };
    Ok(value.as_array().cloned().unwrap_or_default())
}

/// Stores the owner's new photo list.
async fn save_list(
    db: &impl ConnectionTrait,
    owner: Owner,
    list: Vec<Value>,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    match owner {
        Owner::Profile { partner } => {
            partner::ActiveModel {
                id: Set(partner),
                photos: Set(Value::Array(list)),
                updated_at: Set(now),
                ..Default::default()
            }
            .update(db)
            .await?;
        }
        Owner::Experience { experience, .. } => {
            experience::ActiveModel {
                id: Set(experience),
                photos: Set(Value::Array(list)),
                updated_at: Set(now),
                ..Default::default()
            }
            .update(db)
            .await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- the list in a PATCH

/// The URL of an uploaded photo.
pub fn url_of(id: Uuid) -> String {
    format!("{URL_PREFIX}{id}")
}

/// The photo id of a list entry that is an uploaded photo's URL.
fn uploaded(entry: &str) -> Option<Uuid> {
    entry.strip_prefix(URL_PREFIX)?.parse().ok()
}

/// An `https` URL with a host and no credentials, of at most [`MAX_URL_LEN`] bytes.
fn external_url(raw: &str) -> bool {
    raw.len() <= MAX_URL_LEN
        && url::Url::parse(raw).is_ok_and(|u| {
            u.scheme() == "https"
                && u.host_str().is_some_and(|h| !h.is_empty())
                && u.username().is_empty()
                && u.password().is_none()
        })
}

fn bad(field: impl Into<String>, detail: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidField, detail).field(field)
}

/// Checks a photo list sent to replace `current` and returns it as stored: at most
/// [`MAX_PHOTOS`] entries, each already in the list (which is how uploaded photos are
/// reordered) or an `https` URL (kept for clients that send URLs). Every uploaded photo
/// of `current` stays, once: a photo is removed with `DELETE`, which also deletes its
/// file, never by leaving it out.
pub fn checked_list(field: &str, list: &[String], current: &[Value]) -> ApiResult<Value> {
    if list.len() > MAX_PHOTOS {
        return Err(bad(field, format!("at most {MAX_PHOTOS} photos")));
    }
    let known: Vec<&str> = current.iter().filter_map(Value::as_str).collect();
    let mut listed = BTreeSet::new();
    let mut out = Vec::with_capacity(list.len());
    for (i, raw) in list.iter().enumerate() {
        let raw = raw.trim();
        let here = known.contains(&raw);
        if let Some(id) = uploaded(raw) {
            if !here {
                return Err(bad(
                    format!("{field}[{i}]"),
                    "is not a photo of this profile or experience: upload the file to it",
                ));
            }
            if !listed.insert(id) {
                return Err(bad(format!("{field}[{i}]"), "lists a photo twice"));
            }
        } else if !here && !external_url(raw) {
            return Err(bad(
                format!("{field}[{i}]"),
                format!(
                    "must be an https URL of at most {MAX_URL_LEN} characters, or a photo \
                     already in the list (upload photos rather than linking them)"
                ),
            ));
        }
        out.push(Value::String(raw.to_owned()));
    }
    if let Some(left_out) = known
        .iter()
        .filter_map(|k| uploaded(k))
        .find(|id| !listed.contains(id))
    {
        return Err(bad(
            field,
            format!(
                "leaves out the uploaded photo {}: remove it with DELETE …/photos/{left_out}",
                url_of(left_out)
            ),
        ));
    }
    Ok(Value::Array(out))
}

/// [`checked_list`] against the owner's list as it is now, read with a row lock inside
/// the caller's transaction (so an upload cannot slip in between the check and the write).
pub async fn replace(
    tx: &impl ConnectionTrait,
    owner: Owner,
    field: &str,
    list: &[String],
) -> ApiResult<Value> {
    let current = list_of(tx, owner, true).await?;
    checked_list(field, list, &current)
}

// ---------------------------------------------------------------- upload

/// An uploaded photo.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhotoView {
    pub id: Uuid,
    /// Where it is served (a path on this host), as it appears in `photos`.
    pub url: String,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    pub created_at: DateTime<Utc>,
    /// The profile's or experience's photo list after the upload (the new one last).
    #[schema(value_type = Vec<String>)]
    pub photos: Value,
}

/// The blob store photos live in (the local one, under the data dir, as attachments).
fn blob_store(state: &AppState) -> LocalStore {
    LocalStore::in_data_dir(&state.config.data_dir)
}

fn too_large() -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!(
            "a photo has at most {} MiB",
            MAX_PHOTO_BYTES / (1024 * 1024)
        ),
    )
}

fn too_many() -> ApiError {
    ApiError::new(
        ErrorCode::TooManyPhotos,
        format!("at most {MAX_PHOTOS} photos: remove one first"),
    )
}

async fn upload(
    state: &AppState,
    who: &Principal,
    req: &HttpRequest,
    payload: &mut web::Payload,
    owner: Owner,
) -> ApiResult<HttpResponse> {
    who.require_partner(owner.partner(), owner.roles())?;
    let format = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(uploads::format_of)
        .filter(|f| f.kind == Kind::Photo)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::PhotoTypeNotAllowed,
                "send the photo with its Content-Type: image/jpeg, image/png or image/webp",
            )
        })?;
    let declared = uploads::declared_length(req.headers());
    if declared.is_some_and(|n| n > MAX_PHOTO_BYTES as u64) {
        return Err(too_large());
    }
    // Refused before the body is read when the list is full already (checked again below,
    // under the lock, for uploads racing this one).
    if list_of(&state.db, owner, false).await?.len() >= MAX_PHOTOS {
        return Err(too_many());
    }
    let hint = declared.and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
    let (bytes, sha256) = uploads::read_body(payload, MAX_PHOTO_BYTES, hint, too_large).await?;
    if bytes.is_empty() {
        return Err(ApiError::new(
            ErrorCode::PhotoContentMismatch,
            "the body is empty: send the photo's bytes",
        ));
    }
    if !(format.magic)(&bytes) {
        return Err(ApiError::new(
            ErrorCode::PhotoContentMismatch,
            format!("the bytes are not a {} image", format.content_type),
        ));
    }

    // Random (v4), not time-ordered: the URL of a draft's photo cannot be guessed.
    let id = Uuid::new_v4();
    let key = format!("photos/{}/{id}", owner.partner());
    let size = i64::try_from(bytes.len()).or_internal()?;
    let store = blob_store(state);
    store.put(&key, bytes).await.or_internal()?;
    let now = state.clock.now();
    let row = photo::ActiveModel {
        id: Set(id),
        partner_id: Set(owner.partner()),
        experience_id: Set(owner.experience()),
        content_type: Set(format.content_type.to_owned()),
        size_bytes: Set(size),
        sha256: Set(sha256),
        storage_key: Set(key.clone()),
        created_at: Set(now),
    };
    let added = async {
        let tx = state.db.begin().await?;
        let mut list = list_of(&tx, owner, true).await?;
        if list.len() >= MAX_PHOTOS {
            return Err(too_many());
        }
        list.push(Value::String(url_of(id)));
        let row = row.insert(&tx).await?;
        save_list(&tx, owner, list.clone(), now).await?;
        tx.commit().await?;
        Ok::<_, ApiError>((row, list))
    }
    .await;
    let (row, list) = match added {
        Ok(added) => added,
        Err(e) => {
            if let Err(d) = store.delete(&key).await {
                tracing::warn!(error = %d, key, "could not remove the blob of a refused photo");
            }
            return Err(e);
        }
    };
    tracing::info!(photo_id = %id, size, "photo added");
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, url_of(id)))
        .json(PhotoView {
            id,
            url: url_of(id),
            content_type: row.content_type,
            size_bytes: row.size_bytes,
            sha256: row.sha256,
            created_at: row.created_at,
            photos: Value::Array(list),
        }))
}

/// Adds a photo to an experience of the partner (owner or staff): the raw JPEG, PNG or
/// WebP file as the body (at most 5 MiB), its type as `Content-Type`. It goes at the end
/// of the experience's `photos`, as its URL on this host; at most 10 photos.
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path), ("eid" = Uuid, Path)),
    request_body(description = "The photo's bytes", content(
        ([u8] = "image/jpeg"), ([u8] = "image/png"), ([u8] = "image/webp"))),
    responses((status = 201, body = PhotoView),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 413, body = crate::error::Problem),
              (status = 415, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/partners/{id}/experiences/{eid}/photos")]
#[tracing::instrument(skip_all, fields(partner = %path.0, experience = %path.1))]
pub async fn upload_experience_photo(
    state: State,
    who: Principal,
    req: HttpRequest,
    path: web::Path<(Uuid, Uuid)>,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let (partner, experience) = path.into_inner();
    let owner = Owner::Experience {
        partner,
        experience,
    };
    upload(&state, &who, &req, &mut payload, owner).await
}

/// Adds a photo to the venue's profile (owner only), as for an experience's photos.
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path)),
    request_body(description = "The photo's bytes", content(
        ([u8] = "image/jpeg"), ([u8] = "image/png"), ([u8] = "image/webp"))),
    responses((status = 201, body = PhotoView),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 413, body = crate::error::Problem),
              (status = 415, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/partners/{id}/photos")]
#[tracing::instrument(skip_all, fields(partner = %id))]
pub async fn upload_profile_photo(
    state: State,
    who: Principal,
    req: HttpRequest,
    id: web::Path<Uuid>,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let owner = Owner::Profile {
        partner: id.into_inner(),
    };
    upload(&state, &who, &req, &mut payload, owner).await
}

// ---------------------------------------------------------------- removal

async fn remove(
    state: &AppState,
    who: &Principal,
    owner: Owner,
    photo_id: Uuid,
) -> ApiResult<HttpResponse> {
    who.require_partner(owner.partner(), owner.roles())?;
    let tx = state.db.begin().await?;
    let mut list = list_of(&tx, owner, true).await?;
    let mut q =
        photo::Entity::find_by_id(photo_id).filter(photo::Column::PartnerId.eq(owner.partner()));
    q = match owner.experience() {
        Some(e) => q.filter(photo::Column::ExperienceId.eq(e)),
        None => q.filter(photo::Column::ExperienceId.is_null()),
    };
    let row = q
        .one(&tx)
        .await?
        .ok_or_else(|| ApiError::not_found("photo"))?;
    let url = url_of(row.id);
    list.retain(|p| p.as_str() != Some(url.as_str()));
    save_list(&tx, owner, list, state.clock.now()).await?;
    photo::Entity::delete_by_id(row.id).exec(&tx).await?;
    tx.commit().await?;
    // The row first: a blob left behind is only wasted space, a listed photo without its
    // blob would be a broken image.
    if let Err(e) = blob_store(state).delete(&row.storage_key).await {
        tracing::warn!(error = %e, key = row.storage_key, "could not remove a photo's blob");
    }
    tracing::info!(photo_id = %row.id, "photo removed");
    Ok(HttpResponse::NoContent().finish())
}

/// Removes a photo of an experience (owner or staff): it leaves the experience's
/// `photos` and its URL stops answering.
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path), ("eid" = Uuid, Path), ("photo_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[delete("/partners/{id}/experiences/{eid}/photos/{photo_id}")]
#[tracing::instrument(skip_all, fields(partner = %path.0, experience = %path.1, photo = %path.2))]
pub async fn remove_experience_photo(
    state: State,
    who: Principal,
    path: web::Path<(Uuid, Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (partner, experience, photo_id) = path.into_inner();
    let owner = Owner::Experience {
        partner,
        experience,
    };
    remove(&state, &who, owner, photo_id).await
}

/// Removes a photo of the venue's profile (owner only).
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path), ("photo_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[delete("/partners/{id}/photos/{photo_id}")]
#[tracing::instrument(skip_all, fields(partner = %path.0, photo = %path.1))]
pub async fn remove_profile_photo(
    state: State,
    who: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (partner, photo_id) = path.into_inner();
    remove(&state, &who, Owner::Profile { partner }, photo_id).await
}

// ---------------------------------------------------------------- serving

/// The bytes of a catalogue photo, for anyone (photos are public, like the catalogue):
/// with its type, `nosniff`, an ETag and a year's caching, since a photo never changes.
#[utoipa::path(tag = "catalogue",
    params(("photo_id" = Uuid, Path)),
    responses((status = 200, description = "The photo, with its content type"),
              (status = 304, description = "The copy the client has is current"),
              (status = 404, body = crate::error::Problem)))]
#[get("/photos/{photo_id}")]
pub async fn serve(state: State, req: HttpRequest, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let row = photo::Entity::find_by_id(id.into_inner())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("photo"))?;
    let etag = format!("\"{}\"", row.sha256);
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_DISPOSITION, "inline"))
        .insert_header((header::ETAG, etag.clone()));
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if fresh {
        return Ok(res.status(StatusCode::NOT_MODIFIED).finish());
    }
    let bytes = blob_store(&state)
        .get(&row.storage_key)
        .await
        .or_internal()?
        .ok_or_else(|| {
            tracing::error!(key = row.storage_key, "a photo's blob is missing");
            ApiError::not_found("photo")
        })?;
    Ok(res.content_type(row.content_type.as_str()).body(bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn field_of(r: ApiResult<Value>) -> String {
        r.unwrap_err().field.unwrap()
    }

    const A: &str = "/api/v1/photos/0193c0de-0000-4000-8000-00000000000a";
    const B: &str = "/api/v1/photos/0193c0de-0000-4000-8000-00000000000b";

    #[test]
    fn uploaded_photos_may_be_reordered_but_not_left_out_or_doubled() {
        let current = vec![json!(A), json!("https://x.example/1.jpg"), json!(B)];
        assert_eq!(
            checked_list("photos", &strings(&[B, A]), &current).unwrap(),
            json!([B, A]),
            "the https URL may go"
        );
        assert_eq!(
            field_of(checked_list("photos", &strings(&[B]), &current)),
            "photos"
        );
        assert_eq!(
            field_of(checked_list("photos", &strings(&[A, B, A]), &current)),
            "photos[2]"
        );
    }

    #[test]
    fn a_photo_of_another_list_is_refused() {
        assert_eq!(
            field_of(checked_list("photos", &strings(&[A]), &[json!(B)])),
            "photos[0]"
        );
    }

    #[test]
    fn entries_already_listed_stay_and_new_ones_must_be_https() {
        let current = vec![json!("/static/demo/a.jpg")];
        assert!(checked_list("photos", &strings(&["/static/demo/a.jpg"]), &current).is_ok());
        assert_eq!(
            field_of(checked_list(
                "photos",
                &strings(&["/static/other.jpg"]),
                &current
            )),
            "photos[0]"
        );
        assert!(checked_list("photos", &strings(&[" https://x.example/b.jpg "]), &[]).is_ok());
    }

    #[test]
    fn only_this_hosts_photo_urls_count_as_uploaded() {
        assert_eq!(uploaded(A).map(url_of).as_deref(), Some(A));
        assert_eq!(uploaded("/api/v1/photos/not-an-id"), None);
        assert_eq!(uploaded("https://x.example/api/v1/photos/1"), None);
    }
}

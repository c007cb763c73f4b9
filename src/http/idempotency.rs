//! `Idempotency-Key` on mutating requests: the first response to a key is stored and
//! replayed to every retry; the same key with a different request is a 422; a key whose
//! first request is still running is a 409.
//!
//! Keys are scoped to the caller's credential (or `anon` for anonymous calls such as
//! registration), kept for [`RETENTION`], and a first request that never finished (the
//! process died) frees its key after [`ABANDONED_AFTER`]. Server errors (5xx) are not
//! stored, so the client can retry them with the same key.

use crate::auth::principal::credential_scope;
use crate::error::{ApiError, ErrorCode, OrInternal};
use crate::state::AppState;
use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::{HttpResponse, ResponseError};
use chrono::{DateTime, Utc};
use entities::idempotency_key as idem;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

pub const HEADER: &str = "idempotency-key";
pub use crate::store::idempotency::RETENTION;
/// A first request still marked running after this long is taken to have died.
pub const ABANDONED_AFTER: chrono::Duration = chrono::Duration::minutes(5);
/// Largest response body stored for replay.
const MAX_STORED_BODY: usize = 1024 * 1024;

/// The key label stored responses are encrypted under.
const SEAL_LABEL: &str = "idempotent-responses";
const IN_PROGRESS: &str = "in_progress";
const COMPLETED: &str = "completed";

fn valid_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

fn is_mutating(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(raw_key) = req.headers().get(HEADER).cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if !is_mutating(req.method()) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let key = match raw_key.to_str() {
        Ok(k) if valid_key(k) => k.to_owned(),
        _ => {
            let err = ApiError::new(
                ErrorCode::InvalidIdempotencyKey,
                "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is ideal)",
            );
            return Ok(req.into_response(err.error_response()));
        }
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Err(ApiError::internal("application state missing").into());
    };
    // An oversized or broken body is answered here as a problem (errors returned from a
    // middleware would bypass the problem+json error handler).
    let body: Bytes = match req.extract::<Bytes>().await {
        Ok(b) => b,
        Err(e) => {
            let status = e.as_response_error().status_code();
            let err = if status == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    "the body is larger than this endpoint accepts",
                )
            } else {
                ApiError::new(
                    ErrorCode::MalformedJson,
                    format!("the body could not be read: {e}"),
                )
            };
            return Ok(req.into_response(err.error_response()));
        }
    };
    let scope = credential_scope(req.request());
    let request_hash = {
        let mut h = Sha256::new();
        h.update(req.method().as_str());
        h.update(b"\n");
        h.update(req.uri().to_string());
        h.update(b"\n");
        h.update(&body);
        hex::encode(h.finalize())
    };
    req.set_payload(actix_web::dev::Payload::from(body));

    let now = state.clock.now();
    match claim(&state, &scope, &key, &request_hash, now).await {
        Ok(Claim::Mine) => {}
        Ok(Claim::Replay(res)) => return Ok(req.into_response(res)),
        Err(e) => return Ok(req.into_response(e.error_response())),
    }

    let res = match next.call(req).await {
        Ok(res) => res,
        Err(e) => {
            release(&state, &scope, &key).await;
            return Err(e);
        }
    };
    let status = res.status();
    if status.is_server_error() {
        release(&state, &scope, &key).await;
        return Ok(res.map_into_boxed_body());
    }
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (http_req, http_res) = res.into_parts();
    let (head, res_body) = http_res.into_parts();
    let bytes = match body::to_bytes_limited(res_body, MAX_STORED_BODY).await {
        Ok(Ok(b)) => b,
        _ => {
            release(&state, &scope, &key).await;
            return Err(
                ApiError::internal("a response too large to store for idempotent replay").into(),
            );
        }
    };
    // Responses may carry secrets (a login's session token): kept encrypted at rest.
    let sealed = match state.secrets.seal(SEAL_LABEL, &bytes) {
        Ok(s) => s,
        Err(e) => {
            release(&state, &scope, &key).await;
            return Err(ApiError::internal(e).into());
        }
    };
    let stored = idem::ActiveModel {
        scope: Set(scope.clone()),
        key: Set(key.clone()),
        state: Set(COMPLETED.to_owned()),
        response_status: Set(Some(i32::from(status.as_u16()))),
        response_content_type: Set(content_type),
        response_body: Set(Some(sealed)),
        ..Default::default()
    };
    if let Err(e) = stored.update(&state.db).await {
        // The response already happened; failing to store it only weakens replay.
        tracing::warn!(error = %e, "failed to store an idempotent response");
        release(&state, &scope, &key).await;
    }
    let res = head.set_body(BoxBody::new(bytes));
    Ok(ServiceResponse::new(http_req, res))
}

enum Claim {
    /// This request owns the key: run it.
    Mine,
    /// The key was used before for this same request: answer with what it got.
    Replay(HttpResponse),
}

async fn claim(
    state: &AppState,
    scope: &str,
    key: &str,
    request_hash: &str,
    now: DateTime<Utc>,
) -> Result<Claim, ApiError> {
    let row = idem::ActiveModel {
        scope: Set(scope.to_owned()),
        key: Set(key.to_owned()),
        request_hash: Set(request_hash.to_owned()),
        state: Set(IN_PROGRESS.to_owned()),
        response_status: Set(None),
        response_content_type: Set(None),
        response_body: Set(None),
        created_at: Set(now),
    };
    for _ in 0..2 {
        let inserted = idem::Entity::insert(row.clone())
            .on_conflict(
                OnConflict::columns([idem::Column::Scope, idem::Column::Key])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&state.db)
            .await?;
        if inserted > 0 {
            return Ok(Claim::Mine);
        }
        let Some(existing) = idem::Entity::find_by_id((scope.to_owned(), key.to_owned()))
            .one(&state.db)
            .await?
        else {
            continue; // expired and purged in between: try to insert again
        };
        let age = now - existing.created_at;
        let stale = age >= RETENTION || (existing.state == IN_PROGRESS && age >= ABANDONED_AFTER);
        if stale {
            // Take the key over only if nobody else did first (compare on created_at).
            idem::Entity::delete_many()
                .filter(idem::Column::Scope.eq(scope))
                .filter(idem::Column::Key.eq(key))
                .filter(idem::Column::CreatedAt.eq(existing.created_at))
                .exec(&state.db)
                .await?;
            continue;
        }
        if existing.state == IN_PROGRESS {
            return Err(ApiError::new(
                ErrorCode::IdempotencyRequestInProgress,
                "the first request with this Idempotency-Key is still running; retry shortly",
            )
            .retry_after(1));
        }
        if existing.request_hash != request_hash {
            return Err(ApiError::new(
                ErrorCode::IdempotencyKeyReused,
                "this Idempotency-Key was already used for a different request",
            ));
        }
        return Ok(Claim::Replay(replay(state, existing)?));
    }
    Err(ApiError::new(
        ErrorCode::IdempotencyRequestInProgress,
        "this Idempotency-Key is contended; retry shortly",
    )
    .retry_after(1))
}

fn replay(state: &AppState, row: idem::Model) -> Result<HttpResponse, ApiError> {
    let status = row
        .response_status
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut res = HttpResponse::build(status);
    if let Some(ct) = row.response_content_type {
        res.insert_header((header::CONTENT_TYPE, ct));
    }
    res.insert_header(("idempotent-replayed", "true"));
    let body = state
        .secrets
        .open(SEAL_LABEL, &row.response_body.unwrap_or_default())
        .or_internal()?;
    Ok(res.body(body))
}

/// Frees a key whose request did not produce a storable response.
async fn release(state: &AppState, scope: &str, key: &str) {
    let res = idem::Entity::delete_many()
        .filter(idem::Column::Scope.eq(scope))
        .filter(idem::Column::Key.eq(key))
        .filter(idem::Column::State.eq(IN_PROGRESS))
        .exec(&state.db)
        .await;
    if let Err(e) = res {
        tracing::warn!(error = %e, "failed to release an idempotency key");
    }
}

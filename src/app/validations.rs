//! Two-step validation at the venue. The recipient's phone shows a QR code that changes
//! every [`QR_ROTATION_SECS`] seconds: a token signed with the installation's key, naming
//! the booking and the time window. The partner's tablet scans it (step one): this opens
//! a validation request, pushed to the recipient at once. The recipient confirms on their
//! phone (step two): the booking's value is captured and the tablet sees the result on
//! the partner's calendar. A screenshot of an old code is refused (its window passed), and
//! a replayed fresh one finds the same pending request, or a booking already validated.
//! A scan is taken only within the booking's check-in window (`CheckInWindow`, the same
//! as for the tablet's check-in), and the refusal says when it opens.

use crate::auth::constant_time_eq;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::state::AppState;
use actors::booking::BookingStatus;
use actors::notice::{Audience, Channel, NoticeKind};
use chrono::{DateTime, Duration, Utc};
use entities::{booking, validation};
use hmac::{Hmac, Mac};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use sha2::Sha256;
use uuid::Uuid;

/// How often the QR code changes.
pub const QR_ROTATION_SECS: i64 = 30;
/// How long the recipient has to confirm a scan.
pub const REQUEST_TTL: Duration = Duration::minutes(2);
const KEY_LABEL: &str = "booking-qr";

fn window(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(QR_ROTATION_SECS)
}

fn mac(state: &AppState, booking: Uuid, window: i64) -> String {
    let key = state.secrets.derive(KEY_LABEL);
    let mut m = match <Hmac<Sha256> as Mac>::new_from_slice(&key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    m.update(format!("{booking}.{window}").as_bytes());
    hex::encode(&m.finalize().into_bytes()[..16])
}

/// The QR token for a booking now, and when it stops being the current one.
pub fn token(state: &AppState, booking: Uuid) -> (String, DateTime<Utc>) {
    let now = state.clock.now();
    let w = window(now);
    let until = DateTime::from_timestamp((w + 1) * QR_ROTATION_SECS, 0).unwrap_or(now);
    (
        format!("v1.{booking}.{w}.{}", mac(state, booking, w)),
        until,
    )
}

/// The booking a scanned token names, if its signature holds and its window is the
/// current or the previous one (a scan at the turn of a window still works).
fn verify(state: &AppState, raw: &str) -> ApiResult<Uuid> {
    let invalid = || {
        ApiError::new(
            ErrorCode::InvalidCode,
            "this is not a valid, current Fimy booking code",
        )
        .field("token")
    };
    let mut parts = raw.trim().split('.');
    let (Some("v1"), Some(b), Some(w), Some(sig), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(invalid());
    };
    let booking = Uuid::parse_str(b).map_err(|_| invalid())?;
    let w: i64 = w.parse().map_err(|_| invalid())?;
    if !constant_time_eq(mac(state, booking, w).as_bytes(), sig.as_bytes()) {
        return Err(invalid());
    }
    let now = window(state.clock.now());
    if w != now && w != now - 1 {
        return Err(ApiError::new(
            ErrorCode::InvalidCode,
            "this code has expired; ask for the one on screen now",
        )
        .field("token"));
    }
    Ok(booking)
}

/// Step one: the partner's device scanned a code. Opens (or returns the pending) request
/// and asks the recipient to confirm.
pub async fn request(
    state: &AppState,
    partner_id: Uuid,
    scanned_by: Uuid,
    token: &str,
) -> ApiResult<validation::Model> {
    let booking_id = verify(state, token)?;
    let b = booking::Entity::find_by_id(booking_id)
        .one(&state.db)
        .await?
        .filter(|b| b.partner_id == partner_id)
        .ok_or_else(|| ApiError::not_found("booking"))?;
    let status = crate::app::bookings::status_of(&b)?;
    if status != BookingStatus::Confirmed {
        return Err(ApiError::new(
            ErrorCode::BookingStateConflict,
            format!("this booking is {status}: nothing to validate"),
        ));
    }
    let now = state.clock.now();
    // The same window as the tablet's check-in (`actors::booking::CheckInWindow`).
    crate::app::bookings::check_window(state, &b, now).await?;
    if let Some(pending) = validation::Entity::find()
        .filter(validation::Column::BookingId.eq(b.id))
        .filter(validation::Column::Status.eq("pending"))
        .filter(validation::Column::ExpiresAt.gt(now))
        .one(&state.db)
        .await?
    {
        return Ok(pending);
    }
    let v = validation::ActiveModel {
        id: Set(Uuid::now_v7()),
        booking_id: Set(b.id),
        partner_id: Set(partner_id),
        requested_by: Set(scanned_by),
        status: Set("pending".to_owned()),
        expires_at: Set(now + REQUEST_TTL),
        created_at: Set(now),
        decided_at: Set(None),
    }
    .insert(&state.db)
    .await?;
    let data =
        serde_json::json!({"validation_id": v.id, "booking_id": b.id, "expires_at": v.expires_at});
    crate::live::feed::append(
        state,
        b.holder_user_id,
        NoticeKind::ValidationRequested.as_str(),
        data.clone(),
        v.id,
    )
    .await?;
    let push = crate::notify::Outgoing {
        event_id: v.id,
        card_id: Some(b.card_id),
        audience: Audience::Recipient,
        user_id: Some(b.holder_user_id),
        email: None,
        channel: Channel::Push,
        kind: NoticeKind::ValidationRequested,
        payload: data.to_string(),
        at: now,
    };
    crate::notify::enqueue(&state.db, vec![push.row()]).await?;
    Ok(v)
}

/// Step two: the recipient confirms (the value is captured) or declines.
pub async fn decide(
    state: &AppState,
    v: &validation::Model,
    confirm: bool,
) -> ApiResult<validation::Model> {
    let now = state.clock.now();
    if v.status != "pending" {
        return Err(ApiError::new(
            ErrorCode::BookingStateConflict,
            format!("this request is already {}", v.status),
        ));
    }
    if v.expires_at <= now {
        set_status(state, v, "expired", now).await?;
        return Err(ApiError::new(
            ErrorCode::HoldExpired,
            "this request lapsed; the venue can scan again",
        ));
    }
    // Claim the request first, so two taps cannot both go through.
    let status = if confirm { "confirmed" } else { "declined" };
    let claimed = set_status(state, v, status, now).await?;
    if confirm {
        let b = booking::Entity::find_by_id(v.booking_id)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::not_found("booking"))?;
        if let Err(e) = crate::app::bookings::check_in_at(state, &b, v.created_at).await {
            set_status(state, &claimed, "pending", now).await?;
            return Err(e);
        }
    }
    Ok(claimed)
}

/// Moves a request from its current status to `status`, only if nobody did first.
async fn set_status(
    state: &AppState,
    v: &validation::Model,
    status: &str,
    now: DateTime<Utc>,
) -> ApiResult<validation::Model> {
    let res = validation::Entity::update_many()
        .set(validation::ActiveModel {
            status: Set(status.to_owned()),
            decided_at: Set((status != "pending").then_some(now)),
            ..Default::default()
        })
        .filter(validation::Column::Id.eq(v.id))
        .filter(validation::Column::Status.eq(v.status.clone()))
        .exec(&state.db)
        .await?;
    if res.rows_affected != 1 {
        return Err(ApiError::new(
            ErrorCode::BookingStateConflict,
            "this request was decided meanwhile",
        ));
    }
    validation::Entity::find_by_id(v.id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("validation"))
}

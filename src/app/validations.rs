//! Two-step validation at the venue. The recipient's phone shows a QR code that changes
//! every [`QR_ROTATION_SECS`] seconds: a token signed with the installation's key, naming
//! the booking and the time window. The partner's tablet scans it (step one): this opens
//! a validation request, pushed to the recipient at once. The recipient confirms on their
//! phone (step two): the booking's value is captured and the tablet sees the result on
//! the partner's calendar. A screenshot of an old code is refused (its window passed), and
//! a replayed fresh one finds the same pending request, or a booking already validated.
//! A scan is taken only within the booking's check-in window (`CheckInWindow`, the same
//! as for the tablet's check-in), and the refusal says when it opens.

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::secrets::SecretKey;
use crate::secrets::signing::{Signer, TagFormat};
use crate::state::AppState;
use actors::booking::BookingStatus;
use actors::notice::{Audience, Channel, NoticeKind};
use chrono::{DateTime, Duration, Utc};
use entities::{booking, validation};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};
use uuid::Uuid;

/// How often the QR code changes.
pub const QR_ROTATION_SECS: i64 = 30;
/// How long the recipient has to confirm a scan.
pub const REQUEST_TTL: Duration = Duration::minutes(2);
const KEY_LABEL: &str = "booking-qr";

fn window(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(QR_ROTATION_SECS)
}

/// Signs `{booking}.{window}`; the tag is the MAC's first 16 bytes in hex, to keep the
/// QR code small.
fn signer(secrets: &SecretKey) -> Signer {
    Signer::new(secrets, KEY_LABEL).tag_format(TagFormat::HEX.truncated(16))
}

fn fields(booking: Uuid, window: i64) -> [String; 2] {
    [booking.to_string(), window.to_string()]
}

/// The QR token for a booking now, and when it stops being the current one.
pub fn token(state: &AppState, booking: Uuid) -> (String, DateTime<Utc>) {
    token_at(&state.secrets, booking, state.clock.now())
}

fn token_at(secrets: &SecretKey, booking: Uuid, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
    let w = window(now);
    let until = DateTime::from_timestamp((w + 1) * QR_ROTATION_SECS, 0).unwrap_or(now);
    (
        format!(
            "v1.{booking}.{w}.{}",
            signer(secrets).sign(&fields(booking, w))
        ),
        until,
    )
}

/// The booking a scanned token names, if its signature holds and its window is the
/// current or the previous one (a scan at the turn of a window still works).
fn verify(state: &AppState, raw: &str) -> ApiResult<Uuid> {
    booking_of(&state.secrets, raw, state.clock.now())
}

fn booking_of(secrets: &SecretKey, raw: &str, at: DateTime<Utc>) -> ApiResult<Uuid> {
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
    if !signer(secrets).verify(&fields(booking, w), sig) {
        return Err(invalid());
    }
    let now = window(at);
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
    // The request, the recipient's feed line and its push are one transaction: a request
    // is never left without the notice that asks for it, nor a notice without its request.
    // Another writer taking the feed's next number first makes it start again.
    for _ in 0..crate::live::feed::ATTEMPTS {
        let tx = state.db.begin().await?;
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
        .insert(&tx)
        .await?;
        let data = serde_json::json!({"validation_id": v.id, "booking_id": b.id, "expires_at": v.expires_at});
        let line = match crate::live::feed::write_line(
            &tx,
            b.holder_user_id,
            NoticeKind::ValidationRequested.as_str(),
            data.clone(),
            v.id,
            actors::giftcard::chain::event_time(now),
        )
        .await
        {
            Ok(line) => line,
            Err(e) if crate::live::feed::is_taken(&e) => {
                tx.rollback().await?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
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
        crate::notify::enqueue(&tx, vec![push.row()]).await?;
        tx.commit().await?;
        state.bus.publish(vec![line]).await;
        return Ok(v);
    }
    Err(crate::live::feed::busy())
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

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::Mac;

    const BOOKING: &str = "0193c0de-0000-7000-8000-0000000000b1";

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn a_token_signed_the_old_way_still_names_its_booking() {
        let secrets = SecretKey::from_bytes([5; 32]);
        let booking = Uuid::parse_str(BOOKING).unwrap();
        let now = at(1_800_000_015);
        let w = 1_800_000_015 / QR_ROTATION_SECS;
        let key = secrets.derive("booking-qr");
        let mut m = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&key).unwrap();
        m.update(format!("{booking}.{w}").as_bytes());
        let old = format!(
            "v1.{booking}.{w}.{}",
            hex::encode(&m.finalize().into_bytes()[..16])
        );
        assert_eq!(booking_of(&secrets, &old, now).unwrap(), booking);
        // The token made now is the same string.
        assert_eq!(token_at(&secrets, booking, now).0, old);
    }

    #[test]
    fn a_token_works_in_its_window_and_the_next_only() {
        let secrets = SecretKey::from_bytes([5; 32]);
        let booking = Uuid::parse_str(BOOKING).unwrap();
        let (token, until) = token_at(&secrets, booking, at(1_800_000_015));
        assert_eq!(until, at(1_800_000_030));
        assert_eq!(
            booking_of(&secrets, &token, at(1_800_000_059)).unwrap(),
            booking
        );
        let late = booking_of(&secrets, &token, at(1_800_000_060)).unwrap_err();
        assert!(late.to_string().contains("expired"), "{late}");
        let other = SecretKey::from_bytes([6; 32]);
        assert!(booking_of(&other, &token, at(1_800_000_015)).is_err());
        let (head, sig) = token.rsplit_once('.').unwrap();
        let flipped = format!(
            "{head}.{}{}",
            if sig.starts_with('0') { '1' } else { '0' },
            &sig[1..]
        );
        assert!(booking_of(&secrets, &flipped, at(1_800_000_015)).is_err());
        for junk in [
            "",
            "v1",
            "v2.x.1.00",
            &format!("{token}.x"),
            &format!("{head}."),
        ] {
            assert!(
                booking_of(&secrets, junk, at(1_800_000_015)).is_err(),
                "{junk:?}"
            );
        }
    }
}

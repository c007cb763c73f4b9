//! Reminders: before a card expires (30, 7 and 1 days ahead) and before a booked
//! experience (24 hours ahead). Each reminder is an outbox row whose event id is derived
//! from what it reminds of, so however many nodes run the scheduler, and however often,
//! the unique `(event_id, channel, audience)` index lets each reminder be written once.

use crate::error::ApiResult;
use crate::state::AppState;
use actors::notice::{Audience, Channel, NoticeKind};
use chrono::{DateTime, Duration, Utc};
use entities::{booking, gift_card};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

/// Days before expiry at which the holder is reminded, largest first.
pub const EXPIRY_REMINDER_DAYS: [i64; 3] = [30, 7, 1];
/// How long before a booked experience its holder is reminded.
pub const BOOKING_REMINDER: Duration = Duration::hours(24);
/// Most rows looked at per pass and kind.
const BATCH: u64 = 1000;

/// The reminder due for something expiring at `expires_at`, seen at `now`: the smallest
/// threshold not yet passed, so a card that starts close to expiry gets one reminder,
/// not three at once.
pub fn expiry_bucket(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Option<i64> {
    let left = expires_at - now;
    if left <= Duration::zero() {
        return None;
    }
    EXPIRY_REMINDER_DAYS
        .iter()
        .rev()
        .copied()
        .find(|d| left <= Duration::days(*d))
}

struct Reminder {
    event_id: Uuid,
    card_id: Option<Uuid>,
    user_id: Option<Uuid>,
    email: Option<String>,
    kind: NoticeKind,
    payload: serde_json::Value,
}

async fn write(state: &AppState, reminders: Vec<Reminder>, now: DateTime<Utc>) -> ApiResult<usize> {
    let mut written = 0;
    for r in reminders {
        for channel in [Channel::Email, Channel::Push] {
            if channel == Channel::Push && r.user_id.is_none() {
                continue;
            }
            let row = crate::notify::Outgoing {
                event_id: r.event_id,
                card_id: r.card_id,
                audience: Audience::Recipient,
                user_id: r.user_id,
                email: r.email.clone(),
                channel,
                kind: r.kind,
                payload: r.payload.to_string(),
                at: now,
            };
            written += crate::notify::enqueue(&state.db, vec![row.row()]).await?;
        }
    }
    Ok(usize::try_from(written).unwrap_or(usize::MAX))
}

/// Writes the reminders that are due. Returns how many outbox rows it added.
#[tracing::instrument(skip(state))]
pub async fn run(state: &AppState) -> ApiResult<usize> {
    let now = state.clock.now();
    let cards = gift_card::Entity::find()
        .filter(gift_card::Column::Status.is_in(["delivered", "opened", "partly_used"]))
        .filter(gift_card::Column::Available.gt(0))
        .filter(gift_card::Column::ExpiresAt.gt(now))
        .filter(gift_card::Column::ExpiresAt.lte(now + Duration::days(EXPIRY_REMINDER_DAYS[0])))
        .limit(BATCH)
        .all(&state.db)
        .await?;
    let mut due = Vec::new();
    for c in cards {
        let Some(days) = expiry_bucket(c.expires_at, now) else {
            continue;
        };
        let key = format!("expiry-reminder:{days}:{}", c.expires_at.timestamp());
        due.push(Reminder {
            event_id: Uuid::new_v5(&c.id, key.as_bytes()),
            card_id: Some(c.id),
            user_id: c.recipient_user_id,
            email: Some(c.recipient_email.clone()),
            kind: NoticeKind::ExpiryReminder,
            payload: serde_json::json!({"card_id": c.id, "days_left": days, "expires_at": c.expires_at}),
        });
    }
    let bookings = booking::Entity::find()
        .filter(booking::Column::Status.eq(actors::booking::BookingStatus::Confirmed.as_str()))
        .filter(booking::Column::StartsAt.gt(now))
        .filter(booking::Column::StartsAt.lte(now + BOOKING_REMINDER))
        .limit(BATCH)
        .all(&state.db)
        .await?;
    for b in bookings {
        let key = format!("booking-reminder:{}", b.starts_at.timestamp());
        due.push(Reminder {
            event_id: Uuid::new_v5(&b.id, key.as_bytes()),
            card_id: Some(b.card_id),
            user_id: Some(b.holder_user_id),
            email: None,
            kind: NoticeKind::BookingReminder,
            payload: serde_json::json!({"booking_id": b.id, "card_id": b.card_id, "starts_at": b.starts_at}),
        });
    }
    write(state, due, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_reminder_per_threshold_the_nearest_one() {
        let now: DateTime<Utc> = "2026-06-01T00:00:00Z".parse().unwrap();
        assert_eq!(expiry_bucket(now + Duration::days(40), now), None);
        assert_eq!(expiry_bucket(now + Duration::days(30), now), Some(30));
        assert_eq!(expiry_bucket(now + Duration::days(8), now), Some(30));
        assert_eq!(expiry_bucket(now + Duration::days(7), now), Some(7));
        assert_eq!(expiry_bucket(now + Duration::hours(30), now), Some(7));
        assert_eq!(expiry_bucket(now + Duration::hours(3), now), Some(1));
        assert_eq!(expiry_bucket(now - Duration::hours(3), now), None);
    }
}

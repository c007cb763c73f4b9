//! Appending to a user's own feed (`user:{id}`) outside a card's commit — for what
//! concerns one person only, like a validation request at the venue.

use super::LiveEvent;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::state::AppState;
use entities::user_event;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
    SqlErr,
};
use uuid::Uuid;

/// Attempts when another writer takes the same sequence number first.
pub const ATTEMPTS: usize = 5;

/// The sequence number the user's next feed line takes (on `db`, which may be the
/// transaction that writes it).
pub async fn next_seq(db: &impl ConnectionTrait, user_id: Uuid) -> Result<i64, sea_orm::DbErr> {
    let max: Option<Option<i64>> = user_event::Entity::find()
        .select_only()
        .column_as(user_event::Column::Seq.max(), "m")
        .filter(user_event::Column::UserId.eq(user_id))
        .into_tuple()
        .one(db)
        .await?;
    Ok(max.flatten().unwrap_or(0) + 1)
}

/// Writes one line to the user's feed on `db` (which may be a transaction), numbered
/// next, and returns it as the live event to publish once that is committed. Two writers
/// racing on one user's feed collide on the unique `(user_id, seq)` index: the loser gets
/// a unique-constraint error (see [`is_taken`]) and tries again.
pub async fn write_line(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    kind: &str,
    data: serde_json::Value,
    event_id: Uuid,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<LiveEvent, sea_orm::DbErr> {
    let seq = next_seq(db, user_id).await?;
    user_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        seq: Set(seq),
        kind: Set(kind.to_owned()),
        data: Set(data.to_string()),
        at: Set(at),
        event_id: Set(event_id),
    }
    .insert(db)
    .await?;
    Ok(LiveEvent {
        topic: format!("user:{user_id}"),
        seq,
        kind: kind.to_owned(),
        data,
        at,
        donor_seq: None,
    })
}

/// Whether a write failed because another writer took the feed's sequence number first.
pub fn is_taken(e: &sea_orm::DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// The error a caller answers with when the feed stayed busy for every attempt.
pub fn busy() -> ApiError {
    ApiError::new(ErrorCode::Busy, "the user's feed is busy; retry").retry_after(1)
}

/// Appends one line to the user's feed (next sequence number) and publishes it.
pub async fn append(
    state: &AppState,
    user_id: Uuid,
    kind: &str,
    data: serde_json::Value,
    event_id: Uuid,
) -> ApiResult<LiveEvent> {
    for _ in 0..ATTEMPTS {
        let at = actors::giftcard::chain::event_time(state.clock.now());
        match write_line(&state.db, user_id, kind, data.clone(), event_id, at).await {
            Ok(event) => {
                state.bus.publish(vec![event.clone()]).await;
                return Ok(event);
            }
            Err(e) if is_taken(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(busy())
}

//! How long stored responses to `Idempotency-Key` requests are kept (the HTTP middleware
//! that writes and replays them is `http::idempotency`), and their purge, which the
//! node's housekeeping runs.

use chrono::{DateTime, Utc};
use entities::idempotency_key as idem;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

/// A stored response answers retries of its request for this long.
pub const RETENTION: chrono::Duration = chrono::Duration::hours(24);

/// Deletes stored responses older than [`RETENTION`] at `now`.
pub async fn purge_expired(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let res = idem::Entity::delete_many()
        .filter(idem::Column::CreatedAt.lt(now - RETENTION))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

//! Database adapters for the ports the actors need, and what they share: mapping
//! database errors to store errors, and appending to an entity's event table.

pub mod blobs;
pub mod cache;
pub mod cards;
pub mod db;
pub mod idempotency;
pub mod snapshots;

pub use cards::SqlCardStore;

use actors::runtime::{RecordedEvent, StoreError};
use sea_orm::sea_query::{Alias, Query};
use sea_orm::{ConnectionTrait, DbErr, SqlErr};

/// A database error as the actors see it: a unique violation or a serialization
/// failure/deadlock is a [`StoreError::Conflict`] (the transaction was rolled back: the
/// actor reloads and decides again), any other transient error
/// ([`crate::store::db::is_transient`]) is [`StoreError::Unavailable`] (answered 503).
pub fn store_error(e: DbErr) -> StoreError {
    if let Some(SqlErr::UniqueConstraintViolation(_)) = e.sql_err() {
        return StoreError::Conflict;
    }
    if crate::store::db::is_serialization_failure(&e) {
        return StoreError::Conflict;
    }
    if crate::store::db::is_transient(&e) {
        return StoreError::Unavailable(e.to_string());
    }
    StoreError::Other(e.to_string())
}

fn col(name: &str) -> Alias {
    Alias::new(name)
}

/// Appends events to an entity's event table (`id, <owner>, seq, kind, data, at,
/// prev_hash, hash`).
pub async fn append_events<E>(
    db: &impl ConnectionTrait,
    table: &str,
    owner_column: &str,
    events: &[RecordedEvent<E>],
    kind: impl Fn(&E) -> &'static str,
) -> Result<(), StoreError> {
    append_events_numbered(db, table, owner_column, events, kind, None).await
}

/// [`append_events`], with a second numbering of the events in column `extra.0` (one
/// value per event, `None` for events outside it).
pub async fn append_events_numbered<E>(
    db: &impl ConnectionTrait,
    table: &str,
    owner_column: &str,
    events: &[RecordedEvent<E>],
    kind: impl Fn(&E) -> &'static str,
    extra: Option<(&str, &[Option<i64>])>,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut insert = Query::insert();
    let mut columns = vec![
        col("id"),
        col(owner_column),
        col("seq"),
        col("kind"),
        col("data"),
        col("at"),
        col("prev_hash"),
        col("hash"),
    ];
    if let Some((name, _)) = extra {
        columns.push(col(name));
    }
    insert.into_table(col(table)).columns(columns);
    for (i, e) in events.iter().enumerate() {
        let mut values: Vec<sea_orm::sea_query::SimpleExpr> = vec![
            e.id.into(),
            e.entity_id.into(),
            e.seq.into(),
            kind(&e.event).into(),
            e.data.clone().into(),
            e.at.into(),
            e.prev_hash.clone().into(),
            e.hash.clone().into(),
        ];
        if let Some((_, numbers)) = extra {
            values.push(numbers.get(i).copied().flatten().into());
        }
        insert
            .values(values)
            .map_err(|e| StoreError::Other(e.to_string()))?;
    }
    db.execute(&insert).await.map_err(store_error)?;
    Ok(())
}

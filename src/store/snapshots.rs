//! A `Store` for entity kinds kept as a JSON snapshot row (fenced by `version`) plus an
//! append-only event table — slots and partner calendars. Each kind names its tables and
//! the projection columns it keeps beside the snapshot for queries.

use super::{append_events, store_error};
use crate::live::bus::{EventBus, LiveEvent};
use actors::runtime::{Aggregate, Commit, Loaded, Store, StoreError};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::sync::Arc;
use uuid::Uuid;

fn col(name: &str) -> Alias {
    Alias::new(name)
}

/// Where an entity kind lives and what it projects.
pub struct Spec<A: Aggregate> {
    pub state_table: &'static str,
    pub id_column: &'static str,
    pub events_table: &'static str,
    /// The events table's column naming the entity.
    pub owner_column: &'static str,
    /// Projection columns written with each commit (all of them: inserts need them).
    pub columns: fn(&A::State) -> Vec<(&'static str, Value)>,
    /// The live topic of an entity's events.
    pub topic: fn(Uuid) -> String,
}

pub struct SnapshotStore<A: Aggregate> {
    db: DatabaseConnection,
    spec: Spec<A>,
    /// Committed events are published here for live subscribers.
    bus: Arc<dyn EventBus>,
    _kind: PhantomData<A>,
}

impl<A: Aggregate> SnapshotStore<A> {
    pub fn new(db: DatabaseConnection, bus: Arc<dyn EventBus>, spec: Spec<A>) -> Self {
        Self {
            db,
            spec,
            bus,
            _kind: PhantomData,
        }
    }
}

#[async_trait::async_trait]
impl<A> Store<A> for SnapshotStore<A>
where
    A: Aggregate,
    A::State: Serialize + DeserializeOwned,
{
    async fn load(&self, id: Uuid) -> Result<Option<Loaded<A::State>>, StoreError> {
        let select = Query::select()
            .columns([
                col("state"),
                col("version"),
                col("last_seq"),
                col("last_hash"),
            ])
            .from(col(self.spec.state_table))
            .and_where(Expr::col(col(self.spec.id_column)).eq(id))
            .to_owned();
        let Some(row) = self.db.query_one(&select).await.map_err(store_error)? else {
            return Ok(None);
        };
        let state: String = row.try_get("", "state").map_err(store_error)?;
        Ok(Some(Loaded {
            state: serde_json::from_str(&state)
                .map_err(|e| StoreError::Other(format!("unreadable state of {id}: {e}")))?,
            version: row.try_get("", "version").map_err(store_error)?,
            last_seq: row.try_get("", "last_seq").map_err(store_error)?,
            last_hash: row.try_get("", "last_hash").map_err(store_error)?,
        }))
    }

    async fn commit(&self, c: Commit<'_, A>) -> Result<(), StoreError> {
        let Some(last) = c.events.last() else {
            return Ok(());
        };
        let state = serde_json::to_string(c.state).map_err(|e| StoreError::Other(e.to_string()))?;
        let mut values: Vec<(&'static str, Value)> = vec![
            ("state", state.into()),
            ("version", (c.expected_version + 1).into()),
            ("last_seq", last.seq.into()),
            ("last_hash", last.hash.clone().into()),
            ("updated_at", last.at.into()),
        ];
        values.extend((self.spec.columns)(c.state));
        let tx = self.db.begin().await.map_err(store_error)?;
        if c.expected_version == 0 {
            let mut insert = Query::insert();
            insert.into_table(col(self.spec.state_table)).columns(
                std::iter::once(col(self.spec.id_column)).chain(values.iter().map(|(k, _)| col(k))),
            );
            insert
                .values(
                    std::iter::once(Expr::val(c.id))
                        .chain(values.into_iter().map(|(_, v)| Expr::val(v))),
                )
                .map_err(|e| StoreError::Other(e.to_string()))?;
            tx.execute(&insert).await.map_err(store_error)?;
        } else {
            let mut update = Query::update();
            update.table(col(self.spec.state_table));
            for (k, v) in values {
                update.value(col(k), v);
            }
            update
                .and_where(Expr::col(col(self.spec.id_column)).eq(c.id))
                .and_where(Expr::col(col("version")).eq(c.expected_version));
            let res = tx.execute(&update).await.map_err(store_error)?;
            if res.rows_affected() != 1 {
                tx.rollback().await.map_err(store_error)?;
                return Err(StoreError::Conflict);
            }
        }
        append_events(
            &tx,
            self.spec.events_table,
            self.spec.owner_column,
            c.events,
            A::event_kind,
        )
        .await?;
        tx.commit().await.map_err(store_error)?;
        let topic = (self.spec.topic)(c.id);
        self.bus
            .publish(
                c.events
                    .iter()
                    .map(|e| LiveEvent {
                        topic: topic.clone(),
                        seq: e.seq,
                        kind: A::event_kind(&e.event).to_owned(),
                        data: serde_json::from_str(&e.data).unwrap_or_default(),
                        at: e.at,
                        donor_seq: None,
                    })
                    .collect(),
            )
            .await;
        Ok(())
    }
}

/// Slots: counters and the next hold expiry projected for queries and the expiry sweep.
pub fn slot_store(
    db: DatabaseConnection,
    bus: Arc<dyn EventBus>,
) -> SnapshotStore<actors::booking::Slots> {
    SnapshotStore::new(db, bus, slot_spec())
}

/// Where slots live (also what `fimy audit verify` reads).
pub fn slot_spec() -> Spec<actors::booking::Slots> {
    Spec {
        topic: |id| format!("slot:{id}"),
        state_table: "slots",
        id_column: "id",
        events_table: "slot_events",
        owner_column: "slot_id",
        columns: |s| {
            vec![
                ("experience_id", s.experience_id.into()),
                ("partner_id", s.partner_id.into()),
                ("starts_at", s.starts_at.into()),
                ("ends_at", s.ends_at.into()),
                (
                    "capacity",
                    i32::try_from(s.capacity).unwrap_or(i32::MAX).into(),
                ),
                ("held", i32::try_from(s.held()).unwrap_or(i32::MAX).into()),
                (
                    "booked",
                    i32::try_from(s.booked()).unwrap_or(i32::MAX).into(),
                ),
                ("next_hold_expiry", s.next_expiry().into()),
            ]
        },
    }
}

/// Partner calendars: the snapshot holds the availability rules.
pub fn calendar_store(
    db: DatabaseConnection,
    bus: Arc<dyn EventBus>,
) -> SnapshotStore<actors::booking::Calendars> {
    SnapshotStore::new(db, bus, calendar_spec())
}

/// Where partner calendars live (also what `fimy audit verify` reads).
pub fn calendar_spec() -> Spec<actors::booking::Calendars> {
    Spec {
        topic: |id| format!("partner:{id}:calendar"),
        state_table: "calendars",
        id_column: "partner_id",
        events_table: "calendar_events",
        owner_column: "partner_id",
        columns: |_| Vec::new(),
    }
}

//! Notifications on their way out: the one place an outbox row is made and added. A row
//! is added in the transaction of what it tells of (a card's events and their refunds, a
//! due reminder), so it is sent if and only if that is committed; the outbox worker
//! (`workers::outbox`) then delivers it through its channel. What each row says, to whom and
//! how are the domain's typed `NoticeKind`, `Audience` and `Channel`
//! (`actors::notice`): their names are what the row stores.

pub mod delivery;
pub mod email;
pub mod push;
pub mod refunds;

use actors::notice::{Audience, Channel, NoticeKind};
use chrono::{DateTime, Utc};
use entities::outbox;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};
use uuid::Uuid;

/// One notification to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// What receivers deduplicate on: the event it tells of (or one derived from it).
    pub event_id: Uuid,
    pub card_id: Option<Uuid>,
    pub audience: Audience,
    pub user_id: Option<Uuid>,
    /// The address, for someone who may have no account (a recipient).
    pub email: Option<String>,
    pub channel: Channel,
    pub kind: NoticeKind,
    /// What the channel needs beyond the row (JSON).
    pub payload: String,
    /// When it may be sent first (and when it was made).
    pub at: DateTime<Utc>,
}

impl Outgoing {
    /// The outbox row, pending, never tried.
    pub fn row(self) -> outbox::ActiveModel {
        outbox::ActiveModel {
            id: Set(Uuid::now_v7()),
            event_id: Set(self.event_id),
            card_id: Set(self.card_id),
            audience: Set(self.audience.as_str().to_owned()),
            user_id: Set(self.user_id),
            email: Set(self.email),
            channel: Set(self.channel.as_str().to_owned()),
            kind: Set(self.kind.as_str().to_owned()),
            payload: Set(self.payload),
            status: Set("pending".to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(self.at),
            last_error: Set(None),
            created_at: Set(self.at),
        }
    }
}

/// Adds `rows` to the outbox on `conn` (the caller's transaction). A row whose event,
/// channel and audience are there already is skipped, so a write retried after a crash
/// tells once. Returns how many rows were added.
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    rows: Vec<outbox::ActiveModel>,
) -> Result<u64, DbErr> {
    if rows.is_empty() {
        return Ok(0);
    }
    let added = outbox::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([
                outbox::Column::EventId,
                outbox::Column::Channel,
                outbox::Column::Audience,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(added)
}

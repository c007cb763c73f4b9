//! A notification to deliver (email, push, partner webhook), written in the same
//! transaction as the event it announces.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The event announced: receivers deduplicate on it.
    pub event_id: Uuid,
    pub card_id: Option<Uuid>,
    /// `donor`, `recipient`, `partner`.
    pub audience: String,
    pub user_id: Option<Uuid>,
    pub email: Option<String>,
    /// `email`, `push` or `webhook`.
    pub channel: String,
    /// What to say (the event kind, or e.g. `gift_received`).
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// `pending`, `sent`, `dead`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

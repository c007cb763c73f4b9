//! A bookable slot of an experience: capacity and its holds, fenced by `version`; the
//! counters are a projection of the slot's state for queries.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "slots")]
pub struct Model {
    /// UUID v5 of (experience, start): the same slot has the same id on every node.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub experience_id: Uuid,
    pub partner_id: Uuid,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    pub capacity: i32,
    /// People in holds not yet confirmed.
    pub held: i32,
    /// People in confirmed bookings.
    pub booked: i32,
    /// When the earliest unconfirmed hold lapses (for the expiry sweep).
    pub next_hold_expiry: Option<DateTimeUtc>,
    /// `actors::booking::Slot` as JSON.
    #[sea_orm(column_type = "Text")]
    pub state: String,
    pub version: i64,
    pub last_seq: i64,
    pub last_hash: String,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

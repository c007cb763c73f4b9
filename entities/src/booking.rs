//! A booking of an experience slot paid with a gift card.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bookings")]
pub struct Model {
    /// Also the id of the slot hold and of the card authorization.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub card_id: Uuid,
    pub experience_id: Uuid,
    pub partner_id: Uuid,
    pub slot_id: Uuid,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    pub party_size: i32,
    /// Value authorized on the card, minor units.
    pub amount: i64,
    pub currency: String,
    pub holder_user_id: Uuid,
    /// `pending`, `held`, `confirmed`, `cancelled`, `expired`, `failed`, `completed`,
    /// `no_show`: `actors::booking::BookingStatus::as_str`, read back with
    /// `fimy::bookings::status_of`.
    pub status: String,
    /// Until when an unconfirmed booking holds its place.
    pub hold_expires_at: Option<DateTimeUtc>,
    /// `recipient` or `partner`, for cancelled bookings.
    pub cancelled_by: Option<String>,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

//! A partner's calendar actor state (availability rules per experience), fenced by
//! `version`, with its event chain position.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "calendars")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub partner_id: Uuid,
    /// `actors::booking::Calendar` as JSON.
    #[sea_orm(column_type = "Text")]
    pub state: String,
    pub version: i64,
    pub last_seq: i64,
    pub last_hash: String,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

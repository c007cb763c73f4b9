//! One event of a card's append-only, hash-chained log.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "card_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub card_id: Uuid,
    /// 1, 2, 3… per card.
    pub seq: i64,
    pub kind: String,
    /// Canonical JSON, exactly as hashed.
    #[sea_orm(column_type = "Text")]
    pub data: String,
    pub at: DateTimeUtc,
    pub prev_hash: String,
    pub hash: String,
    /// 1, 2, 3… over the events the card's donor sees; empty for the others.
    pub donor_seq: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}

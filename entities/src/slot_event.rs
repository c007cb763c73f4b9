//! One event of a slot's hash-chained log (hold placed, confirmed, released, expired).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "slot_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub slot_id: Uuid,
    pub seq: i64,
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub data: String,
    pub at: DateTimeUtc,
    pub prev_hash: String,
    pub hash: String,
}

impl ActiveModelBehavior for ActiveModel {}

//! One entry of a user's own event feed (`user:{id}` topic).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// 1, 2, 3… per user.
    pub seq: i64,
    /// What happened, e.g. `card_opened`, `gift_received`.
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub data: String,
    pub at: DateTimeUtc,
    /// The entity event it comes from.
    pub event_id: Uuid,
}

impl ActiveModelBehavior for ActiveModel {}

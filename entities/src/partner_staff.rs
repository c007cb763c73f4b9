//! Membership of a user in a partner's staff, with a role (owner, staff, tablet).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "partner_staff")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub partner_id: Uuid,
    /// A staff account belongs to exactly one partner.
    #[sea_orm(unique)]
    pub user_id: Uuid,
    /// `owner`, `staff` or `tablet`.
    pub role: String,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

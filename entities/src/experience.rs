//! An experience offered by a partner: what a gift card can be for.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "experiences")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub partner_id: Uuid,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub category: String,
    /// Price per person in minor units of `currency`.
    pub price_minor: i64,
    /// ISO 4217.
    pub currency: String,
    pub duration_minutes: i32,
    /// People per booking at most.
    pub capacity: i32,
    #[sea_orm(column_type = "Text")]
    pub conditions: String,
    /// JSON array of photo URLs.
    pub photos: Json,
    pub published: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

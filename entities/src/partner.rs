//! A partner venue: restaurant, spa, hotel, activity, shop.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "partners")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// `restaurant`, `spa`, `hotel`, `activity` or `shop`.
    pub category: String,
    pub address: String,
    pub city: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub latitude: f64,
    pub longitude: f64,
    /// IANA time zone, e.g. `America/Toronto`.
    pub timezone: String,
    /// JSON array of photo URLs.
    pub photos: Json,
    /// Platform commission in basis points (1500 = 15 %).
    pub commission_bps: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

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
    /// JSON array of `{weekday, open, close}` (informational; bookable slots come from
    /// each experience's availability rules).
    #[sea_orm(column_type = "Text")]
    pub opening_hours: String,
    /// A booking may be cancelled by its holder until this many hours before it starts.
    pub cancellation_hours: i32,
    /// SHA-256 of the secret in the partner's calendar feed URL; none: no feed.
    pub calendar_feed_token_hash: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

//! A browser's Web Push subscription (what `PushManager.subscribe()` returns), kept per
//! user: where to POST (`endpoint`) and the keys its messages are encrypted to.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "push_subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// The push service's URL for this browser; unique (a browser re-subscribing with the
    /// same endpoint updates its row, even under another account).
    #[sea_orm(column_type = "Text", unique)]
    pub endpoint: String,
    /// The browser's P-256 public key: base64url (no padding) of the 65-byte uncompressed
    /// point.
    pub p256dh: String,
    /// The 16-byte authentication secret, base64url (no padding).
    pub auth: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub user_agent: Option<String>,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

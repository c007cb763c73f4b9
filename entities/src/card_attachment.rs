//! A file attached to a gift card by its purchaser (photo, video or voice message); the
//! bytes are in the blob store under `storage_key`.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "card_attachments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub card_id: Uuid,
    /// 1 to 5, unique per card: the database's guard on the number of attachments.
    pub slot: i32,
    /// `photo`, `video` or `voice`.
    pub kind: String,
    /// The MIME type it is served with (e.g. `image/png`).
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// `attachments/<card id>/<attachment id>`.
    pub storage_key: String,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

//! A catalogue photo a partner uploaded: of its venue (`experience_id` empty) or of one of
//! its experiences. The bytes are in the blob store under `storage_key`; where the photo
//! shows among the others is where its URL (`/api/v1/photos/<id>`) is in the owner's
//! `photos` list.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "photos")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub partner_id: Uuid,
    /// The experience it shows; `None` for a photo of the venue's profile.
    pub experience_id: Option<Uuid>,
    /// The MIME type it is served with (`image/jpeg`, `image/png` or `image/webp`).
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// `photos/<partner id>/<photo id>`.
    pub storage_key: String,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

//! A gift card: indexed columns for lookups plus the whole domain state as JSON (a
//! projection of the card's events), fenced by `version`.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "gift_cards")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `experience` or `value`.
    pub kind: String,
    pub status: String,
    pub currency: String,
    pub face_value: i64,
    /// Cache of the available value; the ledger is the truth (`fimy audit verify`).
    pub available: i64,
    pub held: i64,
    pub purchaser_id: Uuid,
    pub recipient_user_id: Option<Uuid>,
    pub recipient_email: String,
    pub partner_id: Option<Uuid>,
    pub experience_id: Option<Uuid>,
    pub deliver_at: Option<DateTimeUtc>,
    pub expires_at: DateTimeUtc,
    /// Keyed hash of the current code: the only form that is indexed.
    #[sea_orm(unique)]
    pub code_hash: String,
    /// The current code, encrypted, for re-delivery.
    pub code_ciphertext: Vec<u8>,
    /// `actors::giftcard::GiftCard` as JSON.
    #[sea_orm(column_type = "Text")]
    pub state: String,
    pub version: i64,
    pub last_seq: i64,
    pub last_hash: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

//! A request, made by the partner's tablet scanning a recipient's QR code, to validate a
//! booking; the recipient confirms or declines it.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "validations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub booking_id: Uuid,
    pub partner_id: Uuid,
    /// The staff account or tablet that scanned.
    pub requested_by: Uuid,
    /// `pending`, `confirmed`, `declined`, `expired`.
    pub status: String,
    /// A pending request lapses then.
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub decided_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}

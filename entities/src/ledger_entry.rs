//! One line of the double-entry ledger. The lines of a transaction sum to zero.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub txn_id: Uuid,
    pub card_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    /// e.g. `card:{id}`, `platform:cash`, `partner_payable:{id}`.
    pub account: String,
    pub currency: String,
    /// Minor units; debit positive, credit negative.
    pub amount: i64,
    pub at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

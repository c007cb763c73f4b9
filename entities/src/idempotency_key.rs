//! The first response to a mutating request sent with an `Idempotency-Key`, kept so a
//! retry gets the same answer.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    /// Who sent it: a hash of the credential, or `anon`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub scope: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// SHA-256 of method, path, query and body.
    pub request_hash: String,
    /// `in_progress` until the response is stored, then `completed`.
    pub state: String,
    pub response_status: Option<i32>,
    pub response_content_type: Option<String>,
    pub response_body: Option<Vec<u8>>,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

//! Occasion and season tags of an experience (birthday, christmas, winter, …).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "experience_tags")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub experience_id: Uuid,
    /// `occasion` or `season`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag: String,
}

impl ActiveModelBehavior for ActiveModel {}

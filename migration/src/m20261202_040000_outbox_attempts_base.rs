//! The outbox keeps the real number of attempts across an admin's retry: `attempts`
//! counts every failed try of a row for good, and `attempts_base` is what `attempts` was
//! when an admin last put the row back in the queue. The worker dead-letters a row after
//! `MAX_ATTEMPTS` failures *since* that base, so a retry still gives a fresh budget.
//!
//! The column has a default (0) and is not in the `outbox` entity: rows are written by
//! several modules, and only the outbox worker and the admin's retry read or set it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Outbox {
    Table,
    AttemptsBase,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .add_column(
                        ColumnDef::new(Outbox::AttemptsBase)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .drop_column(Outbox::AttemptsBase)
                    .to_owned(),
            )
            .await
    }
}

//! Per-user notification preferences: whether a user wants emails and Web Push
//! notifications. A user without a row gets both; the outbox worker marks rows for a
//! channel the user turned off as `skipped`. Also an index for the admin's outbox list
//! by status.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum NotificationPreferences {
    Table,
    UserId,
    Email,
    Push,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Status,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(NotificationPreferences::Table)
                    .col(pk_uuid(NotificationPreferences::UserId))
                    .col(boolean(NotificationPreferences::Email))
                    .col(boolean(NotificationPreferences::Push))
                    .col(timestamp_with_time_zone(NotificationPreferences::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                NotificationPreferences::Table,
                                NotificationPreferences::UserId,
                            )
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The admin lists rows by status, newest first (`outbox_due` leads with status
        // too, but is ordered by due time).
        manager
            .create_index(
                Index::create()
                    .name("outbox_status_id")
                    .table(Outbox::Table)
                    .col(Outbox::Status)
                    .col(Outbox::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("outbox_status_id")
                    .table(Outbox::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(NotificationPreferences::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

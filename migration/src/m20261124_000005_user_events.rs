//! Each user's own feed of what concerns them (their gift was opened, a booking is
//! confirmed…), numbered per user so a reconnecting client can ask for what it missed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UserEvents {
    Table,
    Id,
    UserId,
    Seq,
    Kind,
    Data,
    At,
    EventId,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserEvents::Table)
                    .col(pk_uuid(UserEvents::Id))
                    .col(uuid(UserEvents::UserId))
                    .col(big_integer(UserEvents::Seq))
                    .col(string(UserEvents::Kind))
                    .col(text(UserEvents::Data))
                    .col(timestamp_with_time_zone(UserEvents::At))
                    .col(uuid(UserEvents::EventId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserEvents::Table, UserEvents::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("user_events_user_seq")
                    .table(UserEvents::Table)
                    .col(UserEvents::UserId)
                    .col(UserEvents::Seq)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(UserEvents::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

//! Catalogue photos uploaded by partners: one row per file, of the venue (no experience)
//! or of one of its experiences; the bytes are in the blob store under `storage_key`.
//! Their order is the order of their URLs (`/api/v1/photos/<id>`) in the `photos` list of
//! the partner or the experience.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Partners {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Experiences {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Photos {
    Table,
    Id,
    PartnerId,
    ExperienceId,
    ContentType,
    SizeBytes,
    Sha256,
    StorageKey,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Photos::Table)
                    .col(pk_uuid(Photos::Id))
                    .col(uuid(Photos::PartnerId))
                    .col(uuid_null(Photos::ExperienceId))
                    .col(string(Photos::ContentType))
                    .col(big_integer(Photos::SizeBytes))
                    .col(string_len(Photos::Sha256, 64))
                    .col(string(Photos::StorageKey))
                    .col(timestamp_with_time_zone(Photos::CreatedAt))
                    .check(Expr::col(Photos::SizeBytes).gte(0))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Photos::Table, Photos::PartnerId)
                            .to(Partners::Table, Partners::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Photos::Table, Photos::ExperienceId)
                            .to(Experiences::Table, Experiences::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("photos_partner")
                    .table(Photos::Table)
                    .col(Photos::PartnerId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("photos_experience")
                    .table(Photos::Table)
                    .col(Photos::ExperienceId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Photos::Table).if_exists().to_owned())
            .await
    }
}

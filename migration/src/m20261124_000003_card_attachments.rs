//! Gift-card attachments (photo, video, voice message): one row per uploaded file, the
//! bytes themselves being in the blob store under `storage_key`. A card has at most five,
//! enforced by the database: each takes one of the card's numbered slots, unique per card.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GiftCards {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CardAttachments {
    Table,
    Id,
    CardId,
    Slot,
    Kind,
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
                    .table(CardAttachments::Table)
                    .col(pk_uuid(CardAttachments::Id))
                    .col(uuid(CardAttachments::CardId))
                    .col(integer(CardAttachments::Slot))
                    .col(string(CardAttachments::Kind))
                    .col(string(CardAttachments::ContentType))
                    .col(big_integer(CardAttachments::SizeBytes))
                    .col(string_len(CardAttachments::Sha256, 64))
                    .col(string(CardAttachments::StorageKey))
                    .col(timestamp_with_time_zone(CardAttachments::CreatedAt))
                    .check(Expr::col(CardAttachments::SizeBytes).gte(0))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CardAttachments::Table, CardAttachments::CardId)
                            .to(GiftCards::Table, GiftCards::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Leads with card_id, so it is also the index a card's attachments are listed by.
        manager
            .create_index(
                Index::create()
                    .name("card_attachments_card_slot")
                    .table(CardAttachments::Table)
                    .col(CardAttachments::CardId)
                    .col(CardAttachments::Slot)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(CardAttachments::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

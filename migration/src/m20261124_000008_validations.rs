//! Two-step validation at the venue: the partner's tablet scans the recipient's rotating
//! QR code (a request), the recipient confirms on their phone (the value is captured).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Validations {
    Table,
    Id,
    BookingId,
    PartnerId,
    RequestedBy,
    Status,
    ExpiresAt,
    CreatedAt,
    DecidedAt,
}

#[derive(DeriveIden)]
enum Bookings {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Validations::Table)
                    .col(pk_uuid(Validations::Id))
                    .col(uuid(Validations::BookingId))
                    .col(uuid(Validations::PartnerId))
                    .col(uuid(Validations::RequestedBy))
                    .col(string(Validations::Status))
                    .col(timestamp_with_time_zone(Validations::ExpiresAt))
                    .col(timestamp_with_time_zone(Validations::CreatedAt))
                    .col(timestamp_with_time_zone_null(Validations::DecidedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Validations::Table, Validations::BookingId)
                            .to(Bookings::Table, Bookings::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "validations_booking",
            Validations::Table,
            vec![
                Validations::BookingId.into_iden(),
                Validations::Status.into_iden(),
            ],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(Validations::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

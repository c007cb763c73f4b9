//! Partner calendars and bookings: partner booking policy columns, per-partner calendar
//! actors (availability rules, change log), bookable slots (capacity fenced by version)
//! with their event logs, bookings, and the message thread of each booking.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Partners {
    Table,
    Id,
    OpeningHours,
    CancellationHours,
    CalendarFeedTokenHash,
}

#[derive(DeriveIden)]
enum Calendars {
    Table,
    PartnerId,
    State,
    Version,
    LastSeq,
    LastHash,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CalendarEvents {
    Table,
    Id,
    PartnerId,
    Seq,
    Kind,
    Data,
    At,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum Slots {
    Table,
    Id,
    ExperienceId,
    PartnerId,
    StartsAt,
    EndsAt,
    Capacity,
    Held,
    Booked,
    NextHoldExpiry,
    State,
    Version,
    LastSeq,
    LastHash,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SlotEvents {
    Table,
    Id,
    SlotId,
    Seq,
    Kind,
    Data,
    At,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum Bookings {
    Table,
    Id,
    CardId,
    ExperienceId,
    PartnerId,
    SlotId,
    StartsAt,
    EndsAt,
    PartySize,
    Amount,
    Currency,
    HolderUserId,
    Status,
    HoldExpiresAt,
    CancelledBy,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum BookingMessages {
    Table,
    Id,
    BookingId,
    AuthorUserId,
    AuthorRole,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Experiences {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum GiftCards {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

/// An entity's append-only, hash-chained event log.
fn event_table(
    table: impl IntoIden,
    id: impl IntoIden,
    owner: impl IntoIden,
    cols: [DynIden; 6],
) -> TableCreateStatement {
    let [seq, kind, data, at, prev, hash] = cols;
    Table::create()
        .table(table)
        .col(pk_uuid(id))
        .col(uuid(owner))
        .col(big_integer(seq))
        .col(string(kind))
        .col(text(data))
        .col(timestamp_with_time_zone(at))
        .col(string(prev))
        .col(string(hash))
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for col in [
            text(Partners::OpeningHours).default("[]").to_owned(),
            integer(Partners::CancellationHours).default(24).to_owned(),
            string_null(Partners::CalendarFeedTokenHash).to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Partners::Table)
                        .add_column(col)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Calendars::Table)
                    .col(pk_uuid(Calendars::PartnerId))
                    .col(text(Calendars::State))
                    .col(big_integer(Calendars::Version))
                    .col(big_integer(Calendars::LastSeq))
                    .col(string(Calendars::LastHash))
                    .col(timestamp_with_time_zone(Calendars::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Calendars::Table, Calendars::PartnerId)
                            .to(Partners::Table, Partners::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(event_table(
                CalendarEvents::Table,
                CalendarEvents::Id,
                CalendarEvents::PartnerId,
                [
                    CalendarEvents::Seq.into_iden(),
                    CalendarEvents::Kind.into_iden(),
                    CalendarEvents::Data.into_iden(),
                    CalendarEvents::At.into_iden(),
                    CalendarEvents::PrevHash.into_iden(),
                    CalendarEvents::Hash.into_iden(),
                ],
            ))
            .await?;
        index(
            manager,
            "calendar_events_partner_seq",
            CalendarEvents::Table,
            vec![
                CalendarEvents::PartnerId.into_iden(),
                CalendarEvents::Seq.into_iden(),
            ],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Slots::Table)
                    .col(pk_uuid(Slots::Id))
                    .col(uuid(Slots::ExperienceId))
                    .col(uuid(Slots::PartnerId))
                    .col(timestamp_with_time_zone(Slots::StartsAt))
                    .col(timestamp_with_time_zone(Slots::EndsAt))
                    .col(integer(Slots::Capacity))
                    .col(integer(Slots::Held))
                    .col(integer(Slots::Booked))
                    .col(timestamp_with_time_zone_null(Slots::NextHoldExpiry))
                    .col(text(Slots::State))
                    .col(big_integer(Slots::Version))
                    .col(big_integer(Slots::LastSeq))
                    .col(string(Slots::LastHash))
                    .col(timestamp_with_time_zone(Slots::UpdatedAt))
                    .check(Expr::col(Slots::Held).gte(0))
                    .check(Expr::col(Slots::Booked).gte(0))
                    .check(
                        Expr::col(Slots::Held)
                            .add(Expr::col(Slots::Booked))
                            .lte(Expr::col(Slots::Capacity)),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Slots::Table, Slots::ExperienceId)
                            .to(Experiences::Table, Experiences::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "slots_experience_start",
            Slots::Table,
            vec![Slots::ExperienceId.into_iden(), Slots::StartsAt.into_iden()],
            true,
        )
        .await?;
        index(
            manager,
            "slots_partner_start",
            Slots::Table,
            vec![Slots::PartnerId.into_iden(), Slots::StartsAt.into_iden()],
            false,
        )
        .await?;
        index(
            manager,
            "slots_next_hold_expiry",
            Slots::Table,
            vec![Slots::NextHoldExpiry.into_iden()],
            false,
        )
        .await?;
        manager
            .create_table(event_table(
                SlotEvents::Table,
                SlotEvents::Id,
                SlotEvents::SlotId,
                [
                    SlotEvents::Seq.into_iden(),
                    SlotEvents::Kind.into_iden(),
                    SlotEvents::Data.into_iden(),
                    SlotEvents::At.into_iden(),
                    SlotEvents::PrevHash.into_iden(),
                    SlotEvents::Hash.into_iden(),
                ],
            ))
            .await?;
        index(
            manager,
            "slot_events_slot_seq",
            SlotEvents::Table,
            vec![SlotEvents::SlotId.into_iden(), SlotEvents::Seq.into_iden()],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Bookings::Table)
                    .col(pk_uuid(Bookings::Id))
                    .col(uuid(Bookings::CardId))
                    .col(uuid(Bookings::ExperienceId))
                    .col(uuid(Bookings::PartnerId))
                    .col(uuid(Bookings::SlotId))
                    .col(timestamp_with_time_zone(Bookings::StartsAt))
                    .col(timestamp_with_time_zone(Bookings::EndsAt))
                    .col(integer(Bookings::PartySize))
                    .col(big_integer(Bookings::Amount))
                    .col(string_len(Bookings::Currency, 3))
                    .col(uuid(Bookings::HolderUserId))
                    .col(string(Bookings::Status))
                    .col(timestamp_with_time_zone_null(Bookings::HoldExpiresAt))
                    .col(string_null(Bookings::CancelledBy))
                    .col(big_integer(Bookings::Version))
                    .col(timestamp_with_time_zone(Bookings::CreatedAt))
                    .col(timestamp_with_time_zone(Bookings::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Bookings::Table, Bookings::CardId)
                            .to(GiftCards::Table, GiftCards::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Bookings::Table, Bookings::HolderUserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "bookings_partner_start",
            Bookings::Table,
            vec![
                Bookings::PartnerId.into_iden(),
                Bookings::StartsAt.into_iden(),
            ],
            false,
        )
        .await?;
        index(
            manager,
            "bookings_card",
            Bookings::Table,
            vec![Bookings::CardId.into_iden()],
            false,
        )
        .await?;
        index(
            manager,
            "bookings_holder",
            Bookings::Table,
            vec![Bookings::HolderUserId.into_iden()],
            false,
        )
        .await?;
        index(
            manager,
            "bookings_status_hold_expiry",
            Bookings::Table,
            vec![
                Bookings::Status.into_iden(),
                Bookings::HoldExpiresAt.into_iden(),
            ],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(BookingMessages::Table)
                    .col(pk_uuid(BookingMessages::Id))
                    .col(uuid(BookingMessages::BookingId))
                    .col(uuid(BookingMessages::AuthorUserId))
                    .col(string(BookingMessages::AuthorRole))
                    .col(text(BookingMessages::Body))
                    .col(timestamp_with_time_zone(BookingMessages::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(BookingMessages::Table, BookingMessages::BookingId)
                            .to(Bookings::Table, Bookings::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "booking_messages_booking",
            BookingMessages::Table,
            vec![
                BookingMessages::BookingId.into_iden(),
                BookingMessages::CreatedAt.into_iden(),
            ],
            false,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            BookingMessages::Table.into_iden(),
            Bookings::Table.into_iden(),
            SlotEvents::Table.into_iden(),
            Slots::Table.into_iden(),
            CalendarEvents::Table.into_iden(),
            Calendars::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        for col in [
            Partners::OpeningHours.into_iden(),
            Partners::CancellationHours.into_iden(),
            Partners::CalendarFeedTokenHash.into_iden(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Partners::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

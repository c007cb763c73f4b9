//! Gift cards (a projection of their events, fenced by `version`), the append-only
//! hash-chained event log, the double-entry ledger, the notification outbox, payments
//! and the webhook events already processed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum GiftCards {
    Table,
    Id,
    Kind,
    Status,
    Currency,
    FaceValue,
    Available,
    Held,
    PurchaserId,
    RecipientUserId,
    RecipientEmail,
    PartnerId,
    ExperienceId,
    DeliverAt,
    ExpiresAt,
    CodeHash,
    CodeCiphertext,
    State,
    Version,
    LastSeq,
    LastHash,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CardEvents {
    Table,
    Id,
    CardId,
    Seq,
    Kind,
    Data,
    At,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum LedgerEntries {
    Table,
    Id,
    TxnId,
    CardId,
    EventId,
    Account,
    Currency,
    Amount,
    At,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    EventId,
    CardId,
    Audience,
    UserId,
    Email,
    Channel,
    Kind,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LastError,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
    CardId,
    ContributionId,
    PayerId,
    Provider,
    ProviderPaymentId,
    Amount,
    Currency,
    Status,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookEvents {
    Table,
    Provider,
    EventId,
    Kind,
    ReceivedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(GiftCards::Table)
                    .col(pk_uuid(GiftCards::Id))
                    .col(string(GiftCards::Kind))
                    .col(string(GiftCards::Status))
                    .col(string_len(GiftCards::Currency, 3))
                    .col(big_integer(GiftCards::FaceValue))
                    .col(big_integer(GiftCards::Available))
                    .col(big_integer(GiftCards::Held))
                    .col(uuid(GiftCards::PurchaserId))
                    .col(uuid_null(GiftCards::RecipientUserId))
                    .col(string(GiftCards::RecipientEmail))
                    .col(uuid_null(GiftCards::PartnerId))
                    .col(uuid_null(GiftCards::ExperienceId))
                    .col(timestamp_with_time_zone_null(GiftCards::DeliverAt))
                    .col(timestamp_with_time_zone(GiftCards::ExpiresAt))
                    .col(string_uniq(GiftCards::CodeHash))
                    .col(blob(GiftCards::CodeCiphertext))
                    .col(text(GiftCards::State))
                    .col(big_integer(GiftCards::Version))
                    .col(big_integer(GiftCards::LastSeq))
                    .col(string(GiftCards::LastHash))
                    .col(timestamp_with_time_zone(GiftCards::CreatedAt))
                    .col(timestamp_with_time_zone(GiftCards::UpdatedAt))
                    .check(Expr::col(GiftCards::Available).gte(0))
                    .check(Expr::col(GiftCards::Held).gte(0))
                    .foreign_key(
                        ForeignKey::create()
                            .from(GiftCards::Table, GiftCards::PurchaserId)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(GiftCards::Table, GiftCards::RecipientUserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "gift_cards_purchaser",
            GiftCards::Table,
            vec![GiftCards::PurchaserId.into_iden()],
            false,
        )
        .await?;
        index(
            manager,
            "gift_cards_recipient",
            GiftCards::Table,
            vec![GiftCards::RecipientUserId.into_iden()],
            false,
        )
        .await?;
        index(
            manager,
            "gift_cards_status_deliver_at",
            GiftCards::Table,
            vec![
                GiftCards::Status.into_iden(),
                GiftCards::DeliverAt.into_iden(),
            ],
            false,
        )
        .await?;
        index(
            manager,
            "gift_cards_expires_at",
            GiftCards::Table,
            vec![GiftCards::ExpiresAt.into_iden()],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(CardEvents::Table)
                    .col(pk_uuid(CardEvents::Id))
                    .col(uuid(CardEvents::CardId))
                    .col(big_integer(CardEvents::Seq))
                    .col(string(CardEvents::Kind))
                    .col(text(CardEvents::Data))
                    .col(timestamp_with_time_zone(CardEvents::At))
                    .col(string(CardEvents::PrevHash))
                    .col(string(CardEvents::Hash))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CardEvents::Table, CardEvents::CardId)
                            .to(GiftCards::Table, GiftCards::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "card_events_card_seq",
            CardEvents::Table,
            vec![CardEvents::CardId.into_iden(), CardEvents::Seq.into_iden()],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(LedgerEntries::Table)
                    .col(pk_uuid(LedgerEntries::Id))
                    .col(uuid(LedgerEntries::TxnId))
                    .col(uuid_null(LedgerEntries::CardId))
                    .col(uuid_null(LedgerEntries::EventId))
                    .col(string(LedgerEntries::Account))
                    .col(string_len(LedgerEntries::Currency, 3))
                    .col(big_integer(LedgerEntries::Amount))
                    .col(timestamp_with_time_zone(LedgerEntries::At))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ledger_entries_account",
            LedgerEntries::Table,
            vec![LedgerEntries::Account.into_iden()],
            false,
        )
        .await?;
        index(
            manager,
            "ledger_entries_card",
            LedgerEntries::Table,
            vec![LedgerEntries::CardId.into_iden()],
            false,
        )
        .await?;
        index(
            manager,
            "ledger_entries_txn",
            LedgerEntries::Table,
            vec![LedgerEntries::TxnId.into_iden()],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .col(pk_uuid(Outbox::Id))
                    .col(uuid(Outbox::EventId))
                    .col(uuid_null(Outbox::CardId))
                    .col(string(Outbox::Audience))
                    .col(uuid_null(Outbox::UserId))
                    .col(string_null(Outbox::Email))
                    .col(string(Outbox::Channel))
                    .col(string(Outbox::Kind))
                    .col(text(Outbox::Payload))
                    .col(string(Outbox::Status))
                    .col(integer(Outbox::Attempts))
                    .col(timestamp_with_time_zone(Outbox::NextAttemptAt))
                    .col(text_null(Outbox::LastError))
                    .col(timestamp_with_time_zone(Outbox::CreatedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "outbox_due",
            Outbox::Table,
            vec![
                Outbox::Status.into_iden(),
                Outbox::NextAttemptAt.into_iden(),
            ],
            false,
        )
        .await?;
        index(
            manager,
            "outbox_event_channel_audience",
            Outbox::Table,
            vec![
                Outbox::EventId.into_iden(),
                Outbox::Channel.into_iden(),
                Outbox::Audience.into_iden(),
            ],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Payments::Table)
                    .col(pk_uuid(Payments::Id))
                    .col(uuid(Payments::CardId))
                    .col(uuid(Payments::ContributionId))
                    .col(uuid(Payments::PayerId))
                    .col(string(Payments::Provider))
                    .col(string_null(Payments::ProviderPaymentId))
                    .col(big_integer(Payments::Amount))
                    .col(string_len(Payments::Currency, 3))
                    .col(string(Payments::Status))
                    .col(text_null(Payments::LastError))
                    .col(timestamp_with_time_zone(Payments::CreatedAt))
                    .col(timestamp_with_time_zone(Payments::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Payments::Table, Payments::CardId)
                            .to(GiftCards::Table, GiftCards::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "payments_card",
            Payments::Table,
            vec![Payments::CardId.into_iden()],
            false,
        )
        .await?;
        index(
            manager,
            "payments_provider_payment",
            Payments::Table,
            vec![
                Payments::Provider.into_iden(),
                Payments::ProviderPaymentId.into_iden(),
            ],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookEvents::Table)
                    .col(string(WebhookEvents::Provider))
                    .col(string(WebhookEvents::EventId))
                    .col(string(WebhookEvents::Kind))
                    .col(timestamp_with_time_zone(WebhookEvents::ReceivedAt))
                    .primary_key(
                        Index::create()
                            .col(WebhookEvents::Provider)
                            .col(WebhookEvents::EventId),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookEvents::Table.into_iden(),
            Payments::Table.into_iden(),
            Outbox::Table.into_iden(),
            LedgerEntries::Table.into_iden(),
            CardEvents::Table.into_iden(),
            GiftCards::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

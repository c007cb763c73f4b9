//! The donor's own numbering of a card's events: `donor_seq` is 1, 2, 3… over the events
//! the donor sees (the lifecycle), and empty for the others (spending, holds, claims,
//! blocks). A donor following a card replays and resumes by it, so the gaps that hidden
//! events leave in `seq` reveal nothing. Existing events are numbered by the same rule.
//!
//! The kinds are written out here, as they were when this migration was made: a
//! migration is a fixed step, not a view of the current code.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CardEvents {
    Table,
    DonorSeq,
    CardId,
}

const DONOR_KINDS: &str = "'card_created', 'payment_received', 'card_issued', \
    'card_delivered', 'card_opened', 'card_booked', 'card_used', 'card_transferred', \
    'expiry_extended', 'value_refunded', 'contribution_refunded', 'card_expired'";

/// Numbers every stored event the donor sees, per card, in `seq` order (what this
/// migration does to the events already there).
pub async fn number_donor_events<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    db.execute_unprepared(&format!(
        "UPDATE card_events SET donor_seq = (\
           SELECT COUNT(*) FROM card_events e \
           WHERE e.card_id = card_events.card_id AND e.seq <= card_events.seq \
           AND e.kind IN ({DONOR_KINDS})) \
         WHERE kind IN ({DONOR_KINDS})"
    ))
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(CardEvents::Table)
                    .add_column(ColumnDef::new(CardEvents::DonorSeq).big_integer().null())
                    .to_owned(),
            )
            .await?;
        number_donor_events(manager.get_connection()).await?;
        manager
            .create_index(
                Index::create()
                    .name("card_events_card_donor_seq")
                    .table(CardEvents::Table)
                    .col(CardEvents::CardId)
                    .col(CardEvents::DonorSeq)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("card_events_card_donor_seq")
                    .table(CardEvents::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(CardEvents::Table)
                    .drop_column(CardEvents::DonorSeq)
                    .to_owned(),
            )
            .await
    }
}

//! Database migrations of Fimy. The same migrations run on SQLite and PostgreSQL; where
//! the two differ (full-text search), a migration asks the backend and says so.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_foundation;
mod m20261124_000002_gift_cards;
mod m20261124_000003_card_attachments;
mod m20261124_000004_bookings;
mod m20261124_000005_user_events;
mod m20261124_000006_notification_preferences;
mod m20261124_000007_push_subscriptions;
mod m20261124_000008_validations;
mod m20261202_020000_card_events_donor_seq;
mod m20261202_040000_outbox_attempts_base;
mod m20261206_220000_photos;

mod util;

pub use m20261202_020000_card_events_donor_seq::number_donor_events;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_foundation::Migration),
            Box::new(m20261124_000002_gift_cards::Migration),
            Box::new(m20261124_000003_card_attachments::Migration),
            Box::new(m20261124_000004_bookings::Migration),
            Box::new(m20261124_000005_user_events::Migration),
            Box::new(m20261124_000006_notification_preferences::Migration),
            Box::new(m20261124_000007_push_subscriptions::Migration),
            Box::new(m20261124_000008_validations::Migration),
            Box::new(m20261202_020000_card_events_donor_seq::Migration),
            Box::new(m20261202_040000_outbox_attempts_base::Migration),
            Box::new(m20261206_220000_photos::Migration),
        ]
    }
}

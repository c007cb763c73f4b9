//! Database migrations of Fimy. The same migrations run on SQLite and PostgreSQL; where
//! the two differ (full-text search), a migration asks the backend and says so.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_foundation;
mod m20261124_000002_gift_cards;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_foundation::Migration),
            Box::new(m20261124_000002_gift_cards::Migration),
        ]
    }
}

//! Connecting to the database (SQLite file or PostgreSQL) and migrating it.

use crate::config::{Config, DatabaseConfig, redact_url};
use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend};
use std::time::Duration;

/// How long a SQLite statement waits for the write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request waits for a pooled connection before answering 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the configured database. SQLite gets WAL, foreign keys and a single connection
/// (the one writer path: SQLite serializes writers anyway, and one connection turns lock
/// contention into queueing instead of `SQLITE_BUSY`).
#[tracing::instrument(skip(config), fields(database = ?config.database))]
pub async fn connect(config: &Config) -> anyhow::Result<DatabaseConnection> {
    crate::datadir::ensure(&config.data_dir).with_context(|| {
        format!(
            "Failed to make the data dir {} private",
            config.data_dir.display()
        )
    })?;
    let mut opts = ConnectOptions::new(config.database_url());
    opts.sqlx_logging(false).acquire_timeout(ACQUIRE_TIMEOUT);
    match &config.database {
        DatabaseConfig::Sqlite { path } => {
            // Created here, 0600, so that SQLite (which gives its -wal and -shm files the
            // database's mode) never makes a world-readable one.
            crate::datadir::private_sqlite(path)
                .with_context(|| format!("Failed to create {} privately", path.display()))?;
            opts.max_connections(1)
                .min_connections(1)
                .map_sqlx_sqlite_opts(|o| {
                    o.create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .foreign_keys(true)
                        .busy_timeout(SQLITE_BUSY_TIMEOUT)
                });
        }
        DatabaseConfig::Postgres { url } => {
            opts.max_connections(config.database_max_connections)
                .min_connections(1);
            tracing::debug!(url = %redact_url(url), "connecting to PostgreSQL");
        }
    }
    Database::connect(opts)
        .await
        .with_context(|| format!("Failed to connect to the database ({:?})", config.database))
}

/// Applies every pending migration.
#[tracing::instrument(skip(db))]
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .context("Failed to run the database migrations")
}

pub fn is_postgres(db: &DatabaseConnection) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}

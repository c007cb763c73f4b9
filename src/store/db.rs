//! Connecting to the database (SQLite file or PostgreSQL) and migrating it.

use crate::config::{Config, DatabaseConfig, redact_url};
use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::{
    self,
    sqlite::{SqliteJournalMode, SqliteSynchronous},
};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr, RuntimeErr};
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

/// Whether a database error is transient: the same request may well succeed in a
/// moment, so it is answered 503 with `Retry-After`, never 500. That is a connection
/// that failed, closed, reset or was refused, a pool that timed out, PostgreSQL shutting
/// down or terminating the backend (`57P01`…`57P03`), any connection exception (`08…`),
/// too many connections (`53300`), a serialization failure or deadlock (`40001`,
/// `40P01`: see [`is_serialization_failure`]), and SQLite's busy or locked database.
pub fn is_transient(e: &DbErr) -> bool {
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            sqlx_transient(e)
        }
        _ => false,
    }
}

/// Whether the transaction was rolled back because it conflicted with another one
/// (PostgreSQL `40001` serialization failure, `40P01` deadlock): running it again is
/// the documented remedy.
pub fn is_serialization_failure(e: &DbErr) -> bool {
    matches!(sqlstate(e).as_deref(), Some("40001" | "40P01"))
}

/// The PostgreSQL SQLSTATE of an error the server returned.
fn sqlstate(e: &DbErr) -> Option<String> {
    match e {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                sqlx::Error::Database(db)
                    if db
                        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                        .is_some() =>
                {
                    db.code().map(|c| c.into_owned())
                }
                _ => None,
            }
        }
        _ => None,
    }
}

fn sqlx_transient(e: &sqlx::Error) -> bool {
    use sqlx::Error as E;
    match e {
        E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => true,
        E::Database(db) => {
            let code = db.code().unwrap_or_default();
            if db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some()
            {
                code.starts_with("08")
                    || matches!(
                        code.as_ref(),
                        "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
                    )
            } else if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Extended result codes: the primary code is the low byte
                // (SQLITE_BUSY = 5, SQLITE_LOCKED = 6, and their variants).
                code.parse::<i32>()
                    .is_ok_and(|c| matches!(c & 0xff, SQLITE_BUSY | SQLITE_LOCKED))
            } else {
                false
            }
        }
        _ => false,
    }
}

const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
    use std::sync::Arc;

    fn sqlx_err(e: sqlx::Error) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)))
    }

    async fn sqlite(path: &std::path::Path, acquire: Duration) -> DatabaseConnection {
        let mut opts = ConnectOptions::new(format!("sqlite://{}?mode=rwc", path.display()));
        opts.max_connections(1)
            .min_connections(1)
            .acquire_timeout(acquire)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::ZERO)
            });
        Database::connect(opts).await.unwrap()
    }

    #[test]
    fn lost_connections_are_transient_and_other_errors_are_not() {
        use std::io::{Error, ErrorKind};
        for kind in [
            ErrorKind::ConnectionReset,
            ErrorKind::ConnectionAborted,
            ErrorKind::ConnectionRefused,
            ErrorKind::BrokenPipe,
            ErrorKind::UnexpectedEof,
        ] {
            let e = sqlx_err(sqlx::Error::Io(Error::from(kind)));
            assert!(is_transient(&e), "{e}");
            let e = DbErr::Exec(RuntimeErr::SqlxError(Arc::new(sqlx::Error::Io(
                Error::from(kind),
            ))));
            assert!(is_transient(&e), "{e}");
        }
        for e in [sqlx::Error::PoolTimedOut, sqlx::Error::PoolClosed] {
            assert!(is_transient(&sqlx_err(e)));
        }
        assert!(is_transient(&DbErr::ConnectionAcquire(
            sea_orm::ConnAcquireErr::Timeout
        )));
        for e in [
            sqlx_err(sqlx::Error::RowNotFound),
            sqlx_err(sqlx::Error::ColumnNotFound("x".into())),
            DbErr::RecordNotFound("x".into()),
            DbErr::Custom("x".into()),
            DbErr::Query(RuntimeErr::Internal("x".into())),
        ] {
            assert!(!is_transient(&e), "{e}");
            assert!(!is_serialization_failure(&e), "{e}");
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_transient() {
        let mut opts = ConnectOptions::new("postgres://nobody@127.0.0.1:1/fimy");
        opts.connect_timeout(Duration::from_secs(1))
            .acquire_timeout(Duration::from_secs(1))
            .sqlx_logging(false);
        let e = Database::connect(opts).await.unwrap_err();
        assert!(is_transient(&e), "{e:?}");
    }

    #[tokio::test]
    async fn a_pool_timeout_and_a_busy_sqlite_are_transient_a_constraint_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let a = sqlite(&path, Duration::from_millis(100)).await;
        a.execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .await
            .unwrap();
        let b = sqlite(&path, Duration::from_millis(100)).await;

        // `a` writes in a transaction: it holds its only connection and the write lock.
        let tx = a.begin().await.unwrap();
        tx.execute_unprepared("INSERT INTO t VALUES (1)")
            .await
            .unwrap();
        let timeout = a.execute_unprepared("SELECT 1").await.unwrap_err();
        assert!(is_transient(&timeout), "pool timeout: {timeout:?}");
        let busy = b
            .execute_unprepared("INSERT INTO t VALUES (2)")
            .await
            .unwrap_err();
        assert!(is_transient(&busy), "busy: {busy:?}");
        tx.commit().await.unwrap();

        let unique = a
            .execute_unprepared("INSERT INTO t VALUES (1)")
            .await
            .unwrap_err();
        assert!(!is_transient(&unique), "{unique:?}");
        let syntax = a.execute_unprepared("SELEC 1").await.unwrap_err();
        assert!(!is_transient(&syntax), "{syntax:?}");
        assert!(matches!(
            crate::store::store_error(busy),
            actors::runtime::StoreError::Unavailable(_)
        ));
        assert!(matches!(
            crate::store::store_error(unique),
            actors::runtime::StoreError::Conflict
        ));
        assert!(matches!(
            crate::store::store_error(syntax),
            actors::runtime::StoreError::Other(_)
        ));
    }

    /// Errors PostgreSQL itself raises (with `FIMY_TEST_DATABASE_URL`; skipped without).
    #[tokio::test]
    async fn postgres_errors_are_classified_by_sqlstate() {
        let Some(url) = std::env::var("FIMY_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            return;
        };
        let mut opts = ConnectOptions::new(url.clone());
        opts.max_connections(1)
            .min_connections(1)
            .sqlx_logging(false);
        let db = Database::connect(opts).await.unwrap();
        let raise = |code: &str| {
            Statement::from_string(
                DbBackend::Postgres,
                format!("DO $$ BEGIN RAISE EXCEPTION 'test' USING ERRCODE = '{code}'; END $$"),
            )
        };
        for (code, transient, serialization) in [
            ("40001", true, true),
            ("40P01", true, true),
            ("57P01", true, false),
            ("57P03", true, false),
            ("08006", true, false),
            ("08003", true, false),
            ("53300", true, false),
            ("23505", false, false),
            ("22P02", false, false),
            ("42P01", false, false),
        ] {
            let e = db.execute_raw(raise(code)).await.unwrap_err();
            assert_eq!(sqlstate(&e).as_deref(), Some(code), "{e:?}");
            assert_eq!(is_transient(&e), transient, "{code}: {e:?}");
            assert_eq!(is_serialization_failure(&e), serialization, "{code}");
        }
        let e = db.execute_raw(raise("40001")).await.unwrap_err();
        assert!(matches!(
            crate::store::store_error(e),
            actors::runtime::StoreError::Conflict
        ));

        // The real thing: the server terminates this connection's backend mid-query.
        let pid: i32 = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT pg_backend_pid() AS pid",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get("", "pid")
            .unwrap();
        let sleeping =
            tokio::spawn(async move { db.execute_unprepared("SELECT pg_sleep(10)").await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let other = Database::connect(url).await.unwrap();
        other
            .execute_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT pg_terminate_backend({pid})"),
            ))
            .await
            .unwrap();
        let e = sleeping.await.unwrap().unwrap_err();
        assert!(is_transient(&e), "pg_terminate_backend: {e:?}");
    }
}

//! The naive design `hot-card --baseline` compares against: per redemption one
//! PostgreSQL transaction — `SELECT … FOR UPDATE` on the card row, `UPDATE` its balance,
//! insert two ledger lines (the card's debit and the venue's credit) and one event, commit
//! (synchronous commit, so as durable as the application's). It runs on tables of its own,
//! in a schema created for the run and dropped afterwards: the application's tables are
//! never touched.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Row};

use crate::phase::{self, Phase, PhaseConfig};

pub struct Baseline {
    pub phase: Phase,
    /// Where it ran (the URL without a password).
    pub database: String,
    pub consistent: bool,
    pub consistency: String,
}

/// `postgres://user:***@host/db`.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

pub async fn run(
    url: &str,
    cfg: &PhaseConfig,
    initial: i64,
    amount: i64,
    run: &str,
) -> anyhow::Result<Baseline> {
    if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        bail!(
            "--baseline needs a PostgreSQL URL (postgres://…), not {}",
            redact(url)
        );
    }
    let pool = PgPoolOptions::new()
        .max_connections(u32::try_from(cfg.workers).unwrap_or(u32::MAX).max(1))
        .min_connections(u32::try_from(cfg.workers).unwrap_or(u32::MAX).max(1))
        .connect(url)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))?;
    let schema = format!(
        "fimy_load_{}",
        run.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
    );
    let result = measure(&pool, &schema, cfg, initial, amount).await;
    // The schema's name is made of ASCII letters, digits and underscores only.
    let dropped = sqlx::raw_sql(AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE"
    )))
    .execute(&pool)
    .await;
    pool.close().await;
    let mut b = result?;
    dropped.context("dropping the baseline's schema")?;
    b.database = redact(url);
    Ok(b)
}

async fn measure(
    pool: &PgPool,
    schema: &str,
    cfg: &PhaseConfig,
    initial: i64,
    amount: i64,
) -> anyhow::Result<Baseline> {
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE SCHEMA {schema};
             CREATE TABLE {schema}.card (id bigint PRIMARY KEY, balance bigint NOT NULL,
                 version bigint NOT NULL, updated_at timestamptz NOT NULL);
             CREATE TABLE {schema}.ledger (id bigserial PRIMARY KEY, card_id bigint NOT NULL,
                 account text NOT NULL, amount bigint NOT NULL, reference bigint NOT NULL,
                 created_at timestamptz NOT NULL);
             CREATE TABLE {schema}.card_event (id bigserial PRIMARY KEY, card_id bigint NOT NULL,
                 seq bigint NOT NULL, kind text NOT NULL, data jsonb NOT NULL,
                 at timestamptz NOT NULL, UNIQUE (card_id, seq));
             INSERT INTO {schema}.card VALUES (1, {initial}, 0, now());"
    )))
    .execute(pool)
    .await
    .context("creating the baseline's tables")?;
    let sql = |s: String| -> Arc<str> { Arc::from(s) };
    let select = sql(format!(
        "SELECT balance, version FROM {schema}.card WHERE id = 1 FOR UPDATE"
    ));
    let update = sql(format!(
        "UPDATE {schema}.card SET balance = balance - $1, version = version + 1, updated_at = now() WHERE id = 1"
    ));
    let ledger = sql(format!(
        "INSERT INTO {schema}.ledger (card_id, account, amount, reference, created_at)
         VALUES (1, 'card', -$1::bigint, $2, now()), (1, 'partner', $1::bigint, $2, now())"
    ));
    let event = sql(format!(
        "INSERT INTO {schema}.card_event (card_id, seq, kind, data, at)
         VALUES (1, $1, 'card_redeemed', jsonb_build_object('amount', $2::bigint), now())"
    ));
    let phase = phase::run(cfg, |_, budget, counters, mut stats| {
        let pool = pool.clone();
        let (select, update, ledger, event) = (
            select.clone(),
            update.clone(),
            ledger.clone(),
            event.clone(),
        );
        async move {
            while budget.take() {
                let started = Instant::now();
                let outcome: Result<bool, sqlx::Error> = async {
                    let mut tx = pool.begin().await?;
                    let row = sqlx::query(AssertSqlSafe(select.clone()))
                        .fetch_one(&mut *tx)
                        .await?;
                    let balance: i64 = row.try_get(0)?;
                    let version: i64 = row.try_get(1)?;
                    if balance < amount {
                        tx.rollback().await?;
                        return Ok(false);
                    }
                    sqlx::query(AssertSqlSafe(update.clone()))
                        .bind(amount)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(AssertSqlSafe(ledger.clone()))
                        .bind(amount)
                        .bind(version + 1)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(AssertSqlSafe(event.clone()))
                        .bind(version + 1)
                        .bind(amount)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(true)
                }
                .await;
                match outcome {
                    Ok(true) => {
                        stats.record_ok(started.elapsed());
                        counters.ok();
                    }
                    Ok(false) => {
                        stats.record_error("insufficient_funds");
                        counters.error();
                    }
                    Err(e) => {
                        let kind = match &e {
                            sqlx::Error::Database(d) => {
                                format!("db_{}", d.code().unwrap_or_default())
                            }
                            sqlx::Error::PoolTimedOut => "pool_timeout".into(),
                            _ => "db_other".into(),
                        };
                        stats.record_error(kind);
                        counters.error();
                    }
                }
            }
            stats
        }
    })
    .await?;
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT (SELECT balance FROM {schema}.card WHERE id = 1),
                (SELECT count(*) FROM {schema}.card_event),
                (SELECT coalesce(sum(amount), 0)::bigint FROM {schema}.ledger WHERE account = 'card')"
    )))
    .fetch_one(pool)
    .await?;
    let (balance, events, debited): (i64, i64, i64) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    let committed = i64::try_from(phase.summary.ok).unwrap_or(i64::MAX);
    let consistent = balance >= 0
        && balance == initial + debited
        && events == committed
        && balance == initial - committed * amount;
    Ok(Baseline {
        consistency: format!(
            "naive balance {balance} = {initial} − {committed} × {amount} committed; {events} events, ledger debits {debited}"
        ),
        consistent,
        phase,
        database: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/d"),
            "postgres://u:***@h:5432/d"
        );
        assert_eq!(redact("postgres://postgres@h/d"), "postgres://postgres@h/d");
        assert_eq!(redact("postgres://h/d"), "postgres://h/d");
    }
}

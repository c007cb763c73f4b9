//! The outbox worker: delivers the notification rows that card events write in their own
//! transaction (`outbox`), at least once, with retries, on any number of nodes.
//!
//! Each pass reads the due rows — `pending` ones whose `next_attempt_at` has come, and
//! `sending` ones whose lease ran out (the node sending them died) — and claims each with
//! a conditional `UPDATE … SET status = 'sending', next_attempt_at = now + lease WHERE id
//! = ? AND status = <as read> AND attempts = <as read>`: of several nodes, exactly one
//! changes the row, and only that one sends it. Reclaiming an expired lease counts as an
//! attempt (the message may have gone out). The outcome is written under the same fence
//! (`status = 'sending' AND attempts = <as claimed>`), so a node that lost its lease cannot
//! overwrite the row.
//!
//! Outcomes: delivered → `sent`; [`DeliveryError::Retry`] → back to `pending` with
//! `attempts + 1` and an exponential back-off with full jitter (5 s doubling up to 1 h),
//! `dead` after [`MAX_ATTEMPTS`] failures since the row was last put back in the queue
//! (`attempts` is the real count of failed tries and an admin's [`retry`] keeps it; the
//! `attempts_base` column, outside the entity, remembers what it was at the retry);
//! [`DeliveryError::Invalid`] → `dead` at once;
//! [`DeliveryError::Gone`] → `gone`. A row for a user who turned that channel off
//! (`notification_preferences`) becomes `skipped` — except the gift email itself, which is
//! how a recipient gets their card. Receivers deduplicate on the event id.
//!
//! Channels: `email` ([`crate::notify::email`]), `push` ([`crate::notify::push::deliver`]) and `refund`
//! ([`crate::app::giftcards::deliver_refund`]: a refund the ledger records, sent to the payment
//! provider with an idempotency key per refund line, so a retry never refunds twice; the
//! row is `sent` once the provider took it). Rows of any other channel stay `pending`
//! until their adapter is wired in [`CHANNELS`].

use crate::notify::delivery::DeliveryError;
use crate::state::AppState;
use actors::notice::{Channel, NoticeKind};
use chrono::{DateTime, Duration, Utc};
use entities::{notification_preference, outbox};
use futures_util::StreamExt;
use rand::Rng;
use sea_orm::sea_query::{Alias, Expr};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio_util::sync::CancellationToken;

/// Failed attempts before a row is dead-lettered (counted since an admin's last retry).
pub const MAX_ATTEMPTS: i32 = 8;
/// The column holding `attempts` as it was at an admin's last retry (0 until then).
const ATTEMPTS_BASE: &str = "attempts_base";
/// The first back-off window; each failure doubles it…
pub const BACKOFF_BASE: Duration = Duration::seconds(5);
/// …up to this.
pub const BACKOFF_CAP: Duration = Duration::hours(1);
/// How long a claimed row is ours before another node may take it over.
pub const LEASE: Duration = Duration::minutes(5);
/// Rows read per pass.
const BATCH: u64 = 64;
/// Rows delivered at once per node.
const CONCURRENCY: usize = 8;
/// Every status a row can have.
pub const STATUSES: [&str; 6] = ["pending", "sending", "sent", "dead", "gone", "skipped"];

pub use crate::notify::delivery::Attempt;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Rows found due.
    pub due: usize,
    pub sent: usize,
    pub retried: usize,
    pub dead: usize,
    pub gone: usize,
    pub skipped: usize,
    pub deferred: usize,
    /// Due rows another node claimed first.
    pub lost: usize,
    /// Rows whose delivery was cut short by a stop, handed back to the queue.
    pub released: usize,
}

impl Tally {
    /// Adds another pass's counts to these.
    pub fn add(&mut self, other: &Tally) {
        self.due += other.due;
        self.sent += other.sent;
        self.retried += other.retried;
        self.dead += other.dead;
        self.gone += other.gone;
        self.skipped += other.skipped;
        self.deferred += other.deferred;
        self.lost += other.lost;
        self.released += other.released;
    }
}

/// The random back-off after the `attempts`-th failure: uniform in
/// `[0, min(cap, base · 2^(attempts-1))]`, at least one second.
pub fn backoff(attempts: i32, rng: &mut impl Rng) -> Duration {
    let window = backoff_window(attempts);
    let ms = rng.gen_range(0..=window.num_milliseconds());
    Duration::milliseconds(ms).max(Duration::seconds(1))
}

/// The largest back-off after the `attempts`-th failure.
pub fn backoff_window(attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(0);
    let ms = BACKOFF_BASE
        .num_milliseconds()
        .saturating_mul(1_i64 << doublings);
    Duration::milliseconds(ms.min(BACKOFF_CAP.num_milliseconds()))
}

/// Runs passes every `outbox_interval`, and at once again after a full batch, until
/// `shutdown` fires: then it claims nothing more, gives the rows it is delivering
/// `shutdown_grace` to finish, and hands back those still unfinished (see [`run_once_until`]).
pub async fn run(state: actix_web::web::Data<AppState>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(state.config.outbox_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        loop {
            match run_once_until(&state, &shutdown).await {
                Ok(t) => {
                    if t.sent + t.retried + t.dead + t.gone + t.skipped + t.released > 0 {
                        tracing::info!(
                            sent = t.sent,
                            retried = t.retried,
                            dead = t.dead,
                            gone = t.gone,
                            skipped = t.skipped,
                            released = t.released,
                            "outbox pass"
                        );
                    }
                    if t.due < BATCH as usize || shutdown.is_cancelled() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "outbox pass failed");
                    break;
                }
            }
        }
    }
}

/// One pass: reads the due rows and delivers those this node claims.
pub async fn run_once(state: &AppState) -> Result<Tally, DbErr> {
    run_once_until(state, &CancellationToken::new()).await
}

/// Passes until one finds no row due (every row due at the clock's time is then sent,
/// retried later, dead, gone, skipped or deferred — or being sent by another node).
/// Returns what they did together.
pub async fn run_until_idle(state: &AppState) -> Result<Tally, DbErr> {
    let mut total = Tally::default();
    loop {
        let t = run_once(state).await?;
        total.add(&t);
        if t.due == 0 {
            return Ok(total);
        }
    }
}

/// One pass that stops claiming rows once `shutdown` fires. A row being delivered then
/// gets `shutdown_grace` to finish; if it does not, its lease is released (the row is
/// `pending` and due at once, `attempts` as claimed), so another node sends it without
/// waiting for the lease to run out.
pub async fn run_once_until(
    state: &AppState,
    shutdown: &CancellationToken,
) -> Result<Tally, DbErr> {
    let now = state.clock.now();
    let due = outbox::Entity::find()
        .filter(outbox::Column::Status.is_in(["pending", "sending"]))
        .filter(outbox::Column::NextAttemptAt.lte(now))
        .filter(outbox::Column::Channel.is_in(state.channels.names()))
        .order_by_asc(outbox::Column::NextAttemptAt)
        .limit(BATCH)
        .all(&state.db)
        .await?;
    let mut tally = Tally {
        due: due.len(),
        ..Tally::default()
    };
    let outcomes: Vec<Result<Outcome, DbErr>> = futures_util::stream::iter(due)
        .map(|row| process(state, row, shutdown))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for outcome in outcomes {
        match outcome? {
            Outcome::Lost => tally.lost += 1,
            Outcome::Sent => tally.sent += 1,
            Outcome::Retried => tally.retried += 1,
            Outcome::Dead => tally.dead += 1,
            Outcome::Gone => tally.gone += 1,
            Outcome::Skipped => tally.skipped += 1,
            Outcome::Deferred => tally.deferred += 1,
            Outcome::Released => tally.released += 1,
            Outcome::Untouched => {}
        }
    }
    Ok(tally)
}

enum Outcome {
    Lost,
    Sent,
    Retried,
    Dead,
    Gone,
    Skipped,
    Deferred,
    /// Claimed, but the node stopped before it was delivered: handed back.
    Released,
    /// Not claimed: the node was stopping.
    Untouched,
}

/// Claims, delivers and records one row.
async fn process(
    state: &AppState,
    row: outbox::Model,
    shutdown: &CancellationToken,
) -> Result<Outcome, DbErr> {
    if shutdown.is_cancelled() {
        return Ok(Outcome::Untouched);
    }
    let Some(row) = claim(state, row).await? else {
        return Ok(Outcome::Lost);
    };
    if row.attempts >= MAX_ATTEMPTS
        && row.attempts - attempts_base(state, &row).await? >= MAX_ATTEMPTS
    {
        // Its last lease ran out: the sending node died too often.
        let error = "the node sending it stopped before finishing".to_owned();
        return finish(state, &row, "dead", row.attempts, None, Some(error)).await;
    }
    let attempt = if wanted(state, &row).await? {
        let delivery = deliver(state, &row);
        tokio::pin!(delivery);
        tokio::select! {
            attempt = &mut delivery => attempt,
            () = shutdown.cancelled() => {
                match tokio::time::timeout(state.config.shutdown_grace, &mut delivery).await {
                    Ok(attempt) => attempt,
                    Err(_) => return release(state, &row).await,
                }
            }
        }
    } else {
        Attempt::Skipped(format!("the user turned {} notifications off", row.channel))
    };
    let now = state.clock.now();
    match attempt {
        Attempt::Done(Ok(())) => finish(state, &row, "sent", row.attempts, Some(now), None).await,
        Attempt::Done(Err(DeliveryError::Retry(e))) => {
            let attempts = row.attempts + 1;
            // The error stays in the row (`last_error`, for admins), not in the log: a relay's
            // or push service's answer may quote the address or endpoint it refused.
            tracing::info!(row = %row.id, channel = %row.channel, kind = %row.kind, attempts, "delivery failed; will retry");
            // `attempts_base <= attempts`: the base is read only when it may matter.
            if attempts >= MAX_ATTEMPTS
                && attempts - attempts_base(state, &row).await? >= MAX_ATTEMPTS
            {
                finish(state, &row, "dead", attempts, Some(now), Some(e)).await
            } else {
                let next = now + backoff(attempts, &mut rand::thread_rng());
                finish(state, &row, "pending", attempts, Some(next), Some(e)).await
            }
        }
        Attempt::Done(Err(DeliveryError::Invalid(e))) => {
            tracing::warn!(row = %row.id, channel = %row.channel, kind = %row.kind, "undeliverable; dead-lettered (see its last_error)");
            finish(state, &row, "dead", row.attempts + 1, Some(now), Some(e)).await
        }
        Attempt::Done(Err(DeliveryError::Gone(e))) => {
            finish(state, &row, "gone", row.attempts + 1, Some(now), Some(e)).await
        }
        Attempt::Deferred(until) => {
            finish(state, &row, "pending", row.attempts, Some(until), None).await
        }
        Attempt::Skipped(why) => {
            finish(state, &row, "skipped", row.attempts, Some(now), Some(why)).await
        }
    }
}

/// What `attempts` was when an admin last put the row back in the queue (0 if never).
async fn attempts_base(state: &AppState, row: &outbox::Model) -> Result<i32, DbErr> {
    let base: Option<i32> = outbox::Entity::find_by_id(row.id)
        .select_only()
        .column_as(Expr::col(Alias::new(ATTEMPTS_BASE)), ATTEMPTS_BASE)
        .into_tuple()
        .one(&state.db)
        .await?;
    Ok(base.unwrap_or(0))
}

/// Takes the row for this node, or `None` when another node was first.
async fn claim(state: &AppState, row: outbox::Model) -> Result<Option<outbox::Model>, DbErr> {
    let now = state.clock.now();
    // Taking over an expired lease counts as an attempt: the message may have gone out.
    let attempts = if row.status == "sending" {
        row.attempts + 1
    } else {
        row.attempts
    };
    let lease_until = now + LEASE;
    // The row as it is once claimed: a receipt may have had spends merged into it since
    // it was read (`store::cards::coalesce_receipts` merges only into a pending row, so
    // what the claim returns is all it will ever say).
    let mut claimed = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value("sending"))
        .col_expr(outbox::Column::Attempts, Expr::value(attempts))
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(lease_until))
        .filter(outbox::Column::Id.eq(row.id))
        .filter(outbox::Column::Status.eq(row.status.as_str()))
        .filter(outbox::Column::Attempts.eq(row.attempts))
        .filter(outbox::Column::NextAttemptAt.lte(now))
        .exec_with_returning(&state.db)
        .await?;
    Ok(claimed.pop())
}

/// Hands a claimed row back to the queue (`pending`, due now, `attempts` as claimed),
/// fenced on the claim like an outcome: for a node that stops while delivering it.
async fn release(state: &AppState, row: &outbox::Model) -> Result<Outcome, DbErr> {
    let res = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value("pending"))
        .col_expr(
            outbox::Column::NextAttemptAt,
            Expr::value(state.clock.now()),
        )
        .filter(outbox::Column::Id.eq(row.id))
        .filter(outbox::Column::Status.eq("sending"))
        .filter(outbox::Column::Attempts.eq(row.attempts))
        .exec(&state.db)
        .await?;
    if res.rows_affected == 1 {
        tracing::info!(row = %row.id, channel = %row.channel, kind = %row.kind, "stopping: delivery unfinished, row handed back");
    }
    Ok(Outcome::Released)
}

/// Records the outcome, fenced on the claim.
async fn finish(
    state: &AppState,
    row: &outbox::Model,
    status: &str,
    attempts: i32,
    next_attempt_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
) -> Result<Outcome, DbErr> {
    let mut update = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value(status))
        .col_expr(outbox::Column::Attempts, Expr::value(attempts));
    if let Some(at) = next_attempt_at {
        update = update.col_expr(outbox::Column::NextAttemptAt, Expr::value(at));
    }
    if let Some(e) = last_error {
        let e: String = e.chars().take(2000).collect();
        update = update.col_expr(outbox::Column::LastError, Expr::value(e));
    }
    let res = update
        .filter(outbox::Column::Id.eq(row.id))
        .filter(outbox::Column::Status.eq("sending"))
        .filter(outbox::Column::Attempts.eq(row.attempts))
        .exec(&state.db)
        .await?;
    if res.rows_affected != 1 {
        tracing::warn!(row = %row.id, "outbox row taken over by another node before its outcome was recorded");
    }
    Ok(match status {
        "sent" => Outcome::Sent,
        "dead" => Outcome::Dead,
        "gone" => Outcome::Gone,
        "skipped" => Outcome::Skipped,
        _ if attempts > row.attempts => Outcome::Retried,
        _ => Outcome::Deferred,
    })
}

/// Delivers a claimed row on its channel.
async fn deliver(state: &AppState, row: &outbox::Model) -> Attempt {
    match state.channels.for_row(&row.channel) {
        Some(channel) => channel.deliver(row).await,
        None => Attempt::Done(Err(DeliveryError::Invalid(format!(
            "no {:?} channel on this node",
            row.channel
        )))),
    }
}

/// Whether the row's user wants notifications on its channel (no preferences row: yes).
/// The gift email is always sent: it is the gift, not a notification about it.
async fn wanted(state: &AppState, row: &outbox::Model) -> Result<bool, DbErr> {
    let channel = Channel::parse(&row.channel);
    if channel == Some(Channel::Email)
        && NoticeKind::parse(&row.kind) == Some(NoticeKind::GiftReceived)
    {
        return Ok(true);
    }
    // A refund is money owed, not a notification: no preference turns it off.
    if channel == Some(Channel::Refund) {
        return Ok(true);
    }
    let user_id = match row.user_id {
        Some(id) => Some(id),
        None => crate::notify::email::addressee(&state.db, row)
            .await?
            .map(|u| u.id),
    };
    let Some(user_id) = user_id else {
        return Ok(true);
    };
    let prefs = notification_preference::Entity::find_by_id(user_id)
        .one(&state.db)
        .await?;
    Ok(match (prefs, channel) {
        (None, _) => true,
        (Some(p), Some(Channel::Email)) => p.email,
        (Some(p), Some(Channel::Push)) => p.push,
        (Some(_), _) => true,
    })
}

/// Puts a dead (or gone) row back in the queue with a fresh budget of [`MAX_ATTEMPTS`],
/// for an admin; `attempts` keeps counting every failed try. The row as it was put back,
/// `Ok(None)` when there is no such row, `Err(status)` when its status is neither.
pub async fn retry(
    state: &AppState,
    id: uuid::Uuid,
) -> Result<Result<Option<outbox::Model>, String>, DbErr> {
    let Some(row) = outbox::Entity::find_by_id(id).one(&state.db).await? else {
        return Ok(Ok(None));
    };
    if !matches!(row.status.as_str(), "dead" | "gone") {
        return Ok(Err(row.status));
    }
    let now = state.clock.now();
    let res = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value("pending"))
        .col_expr(Alias::new(ATTEMPTS_BASE), Expr::value(row.attempts))
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(now))
        .col_expr(
            outbox::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::Status.eq(row.status.as_str()))
        .filter(outbox::Column::Attempts.eq(row.attempts))
        .exec(&state.db)
        .await?;
    if res.rows_affected != 1 {
        // Put back by someone else in the meantime (and perhaps sent already).
        return Ok(Err("pending".to_owned()));
    }
    // What was written (the worker may claim it at once).
    Ok(Ok(Some(outbox::Model {
        status: "pending".to_owned(),
        next_attempt_at: now,
        last_error: None,
        ..row
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_back_off_window_doubles_up_to_an_hour() {
        assert_eq!(backoff_window(1), Duration::seconds(5));
        assert_eq!(backoff_window(2), Duration::seconds(10));
        assert_eq!(backoff_window(7), Duration::seconds(320));
        assert_eq!(backoff_window(11), Duration::seconds(3600));
        assert_eq!(backoff_window(1000), Duration::seconds(3600));
        let mut rng = rand::thread_rng();
        for attempts in 1..=12 {
            for _ in 0..200 {
                let d = backoff(attempts, &mut rng);
                assert!(
                    d >= Duration::seconds(1)
                        && d <= backoff_window(attempts).max(Duration::seconds(1))
                );
            }
        }
    }

    #[test]
    fn the_jitter_spreads_over_the_window() {
        let mut rng = rand::thread_rng();
        let samples: Vec<_> = (0..1000).map(|_| backoff(8, &mut rng)).collect();
        let window = backoff_window(8);
        assert!(samples.iter().any(|d| *d < window / 4));
        assert!(samples.iter().any(|d| *d > window * 3 / 4));
    }

    #[test]
    fn the_interval_is_configurable() {
        let c = crate::config::Config::load_from(None, |k| {
            (k == "FIMY_OUTBOX_INTERVAL_MS").then(|| "250".to_owned())
        })
        .unwrap();
        assert_eq!(c.outbox_interval, std::time::Duration::from_millis(250));
        let d = crate::config::Config::load_from(None, |_| None).unwrap();
        assert_eq!(d.outbox_interval, std::time::Duration::from_millis(500));
        let err = crate::config::Config::load_from(None, |k| {
            (k == "FIMY_OUTBOX_INTERVAL_MS").then(|| "0".to_owned())
        })
        .unwrap_err();
        assert_eq!(err.key, "FIMY_OUTBOX_INTERVAL_MS");
        let err = crate::config::Config::load_from(None, |k| {
            (k == "FIMY_EMAIL_FROM").then(|| "not an address".to_owned())
        })
        .unwrap_err();
        assert_eq!(err.key, "FIMY_EMAIL_FROM");
    }
}

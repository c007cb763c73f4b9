//! The background work of a node — the outbox worker, the scheduler (booking sweep,
//! reminders, scheduled card deliveries and expiries), the janitor, and the sandbox's
//! webhooks — and how it stops.
//!
//! Every loop takes the node's one shutdown signal (a [`CancellationToken`]): once it
//! fires, a loop starts no new pass, lets the pass it is in finish (the outbox hands back
//! what it cannot finish in time, see [`crate::workers::outbox::run_once_until`]), and ends.
//! Each pass is also a public function ([`scheduler_pass`], [`housekeeping`],
//! [`crate::workers::outbox::run_once`]), which is how tests drive the work at a time of their
//! choosing instead of waiting for a timer.

pub mod outbox;

use crate::state::AppState;
use actix_web::web;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often expired sessions and idempotency records are purged.
const JANITOR_INTERVAL: Duration = Duration::from_secs(3600);
/// Deliveries of one sandbox webhook before giving up.
const SANDBOX_WEBHOOK_ATTEMPTS: u32 = 8;

/// What one scheduler pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerTally {
    /// Lapsed booking holds released.
    pub expired_holds: usize,
    /// Reminder rows written to the outbox.
    pub reminders: usize,
    /// Scheduled cards delivered.
    pub delivered: usize,
    /// Cards expired.
    pub expired_cards: usize,
}

/// One scheduler pass at the clock's time: releases lapsed booking holds, writes the due
/// reminders, delivers the cards whose time has come and expires the cards past their
/// date. Each step is safe to run on any number of nodes at once; a failing step is
/// logged and the others still run.
pub async fn scheduler_pass(state: &AppState) -> SchedulerTally {
    let mut tally = SchedulerTally::default();
    match crate::app::bookings::sweep(state).await {
        Ok(0) => {}
        Ok(n) => {
            tally.expired_holds = n;
            tracing::info!(expired = n, "lapsed booking holds released");
        }
        Err(e) => tracing::warn!(error = %e, "booking sweep failed"),
    }
    match crate::app::reminders::run(state).await {
        Ok(0) => {}
        Ok(n) => {
            tally.reminders = n;
            tracing::info!(reminders = n, "reminders queued");
        }
        Err(e) => tracing::warn!(error = %e, "reminders failed"),
    }
    match crate::app::giftcards::run_due(state).await {
        Ok((0, 0)) => {}
        Ok((delivered, expired)) => {
            tally.delivered = delivered;
            tally.expired_cards = expired;
            tracing::info!(delivered, expired, "scheduled card work done")
        }
        Err(e) => tracing::warn!(error = %e, "scheduled card work failed"),
    }
    tally
}

/// Purges expired sessions and idempotency records.
pub async fn housekeeping(state: &AppState) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    match crate::store::idempotency::purge_expired(&state.db, state.clock.now()).await {
        Ok(n) if n > 0 => tracing::info!(purged = n, "expired idempotency records purged"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "failed to purge idempotency records"),
    }
    let res = entities::session::Entity::delete_many()
        .filter(entities::session::Column::ExpiresAt.lte(state.clock.now()))
        .exec(&state.db)
        .await;
    if let Err(e) = res {
        tracing::warn!(error = %e, "failed to purge expired sessions");
    }
}

/// Runs `pass` every `every` (the first at once) until `shutdown` fires; a pass under
/// way is finished, never dropped halfway.
async fn every<F, Fut>(every: Duration, shutdown: CancellationToken, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        pass().await;
    }
}

/// The node's background loops, running until `shutdown` fires.
pub struct Background {
    tasks: Vec<(&'static str, JoinHandle<()>)>,
}

impl Background {
    /// Starts the janitor, the scheduler and the outbox worker.
    pub fn start(state: web::Data<AppState>, shutdown: &CancellationToken) -> Self {
        let janitor = {
            let state = state.clone();
            every(JANITOR_INTERVAL, shutdown.clone(), move || {
                let state = state.clone();
                async move { housekeeping(&state).await }
            })
        };
        let scheduler = {
            let state = state.clone();
            every(
                state.config.scheduler_interval,
                shutdown.clone(),
                move || {
                    let state = state.clone();
                    async move {
                        scheduler_pass(&state).await;
                    }
                },
            )
        };
        let outbox = crate::workers::outbox::run(state, shutdown.clone());
        Self {
            tasks: vec![
                ("janitor", tokio::spawn(janitor)),
                ("scheduler", tokio::spawn(scheduler)),
                ("outbox", tokio::spawn(outbox)),
            ],
        }
    }

    /// Adds a task that ends by itself once the shutdown signal fired.
    pub fn adopt(&mut self, name: &'static str, task: JoinHandle<()>) {
        self.tasks.push((name, task));
    }

    /// Waits for every loop to end (call after firing the shutdown signal).
    pub async fn join(self) {
        for (name, task) in self.tasks {
            if let Err(e) = task.await {
                tracing::error!(task = name, error = %e, "background task failed");
            }
        }
    }
}

/// The sandbox announces payment outcomes as signed webhooks; they go through the same
/// function as webhooks arriving over HTTP. On shutdown, the events already announced are
/// still handled (each with one attempt: the payment happened, its card must follow).
pub fn spawn_sandbox_webhooks(
    state: web::Data<AppState>,
    mut events: tokio::sync::mpsc::UnboundedReceiver<crate::payments::SandboxEvent>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                biased;
                event = events.recv() => event,
                () = shutdown.cancelled() => break,
            };
            let Some((payload, signature)) = event else {
                return;
            };
            // Like Stripe, retry a failed delivery with back-off.
            let mut delay = Duration::from_millis(100);
            for attempt in 1..=SANDBOX_WEBHOOK_ATTEMPTS {
                match crate::app::giftcards::receive_webhook(&state, &payload, &signature).await {
                    Ok(()) => break,
                    Err(e) if attempt == SANDBOX_WEBHOOK_ATTEMPTS || shutdown.is_cancelled() => {
                        tracing::error!(error = %e, "sandbox webhook failed for good");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, attempt, "sandbox webhook failed; retrying");
                        tokio::select! {
                            () = tokio::time::sleep(delay) => {}
                            () = shutdown.cancelled() => {}
                        }
                        delay *= 2;
                    }
                }
            }
            if let Some(sandbox) = &state.sandbox {
                sandbox.webhook_handled();
            }
        }
        events.close();
        while let Ok((payload, signature)) = events.try_recv() {
            if let Err(e) =
                crate::app::giftcards::receive_webhook(&state, &payload, &signature).await
            {
                tracing::error!(error = %e, "sandbox webhook failed at shutdown");
            }
            if let Some(sandbox) = &state.sandbox {
                sandbox.webhook_handled();
            }
        }
    })
}

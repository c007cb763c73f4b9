//! `GiftCardActor`: owns one card's state, serializes every command on it, and commits
//! each batch of commands in one transaction (group commit).
//!
//! Per batch: take the first message, drain whatever else is already waiting (up to
//! [`MAX_BATCH`]), decide and apply each command in order against the in-memory state,
//! commit all resulting events fenced on the version read, then reply to every caller.
//! If the fence fails (another node committed first), reload and decide the batch again.

use super::ports::{CardStore, CodeMaterial, Commit, Loaded, RecordedEvent, StoreError};
use crate::clock::SharedClock;
use crate::giftcard::{self, Command, DomainError, GiftCard, chain};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// Most commands committed together.
pub const MAX_BATCH: usize = 64;
/// Attempts at a batch when the fence keeps failing.
const MAX_ATTEMPTS: usize = 8;

/// What a command did: the card after it, and the events it recorded (none if it was
/// already done, like opening an opened card).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub card: GiftCard,
    pub events: Vec<RecordedEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActorError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The fence failed every attempt: extreme contention across nodes.
    #[error("the card is too busy; retry")]
    Contended,
    #[error("storage failed: {0}")]
    Store(String),
    /// The actor stopped before answering (it crashed); the next message re-activates it.
    #[error("the card's actor stopped; retry")]
    Stopped,
}

/// A command in the mailbox with the caller waiting for its answer.
pub struct Envelope {
    pub command: Command,
    /// Side data for commands that set a new code (create, transfer).
    pub code: Option<CodeMaterial>,
    pub reply: oneshot::Sender<Result<Outcome, ActorError>>,
    /// Set when the actor takes the command into a batch: after that, a lost reply may
    /// hide a committed change, so the caller must not resend it blindly.
    pub started: Arc<std::sync::atomic::AtomicBool>,
}

pub struct GiftCardActor {
    pub id: Uuid,
    pub store: Arc<dyn CardStore>,
    pub clock: SharedClock,
    /// What the database held after our last commit; `None` until loaded, and reset after
    /// a failed commit so the next batch starts from the truth.
    pub state: Option<Loaded>,
    pub loaded: bool,
}

impl GiftCardActor {
    /// Handles one batch of messages.
    pub async fn handle(&mut self, batch: Vec<Envelope>) {
        for env in &batch {
            env.started.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        let result = self.decide_and_commit(&batch).await;
        match result {
            Ok(outcomes) => {
                for (env, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = env.reply.send(outcome);
                }
            }
            Err(e) => {
                for env in batch {
                    let _ = env.reply.send(Err(e.clone()));
                }
            }
        }
    }

    async fn ensure_loaded(&mut self) -> Result<(), ActorError> {
        if !self.loaded {
            self.state = self
                .store
                .load(self.id)
                .await
                .map_err(|e| ActorError::Store(e.to_string()))?;
            self.loaded = true;
        }
        Ok(())
    }

    async fn decide_and_commit(
        &mut self,
        batch: &[Envelope],
    ) -> Result<Vec<Result<Outcome, ActorError>>, ActorError> {
        for _ in 0..MAX_ATTEMPTS {
            self.ensure_loaded().await?;
            let (start, version, mut seq, mut hash) = match &self.state {
                Some(l) => (
                    Some(l.card.clone()),
                    l.version,
                    l.last_seq,
                    l.last_hash.clone(),
                ),
                None => (None, 0, 0, chain::GENESIS.to_owned()),
            };
            let at = chain::event_time(self.clock.now());
            let mut card = start;
            let mut all: Vec<RecordedEvent> = Vec::new();
            let mut per_command: Vec<Result<Vec<RecordedEvent>, DomainError>> = Vec::new();
            let mut code: Option<&CodeMaterial> = None;
            for env in batch {
                match giftcard::decide(card.as_ref(), &env.command) {
                    Ok(events) => {
                        let mut recorded = Vec::with_capacity(events.len());
                        for event in events {
                            seq += 1;
                            let data = chain::canonical_json(&event.data());
                            let next = chain::link(&hash, self.id, seq, event.kind(), &data, at);
                            card = giftcard::apply(card, self.id, &event);
                            recorded.push(RecordedEvent {
                                id: Uuid::now_v7(),
                                card_id: self.id,
                                seq,
                                event,
                                data,
                                at,
                                prev_hash: std::mem::replace(&mut hash, next.clone()),
                                hash: next,
                            });
                        }
                        if !recorded.is_empty() && env.code.is_some() {
                            code = env.code.as_ref();
                        }
                        all.extend(recorded.iter().cloned());
                        per_command.push(Ok(recorded));
                    }
                    Err(e) => per_command.push(Err(e)),
                }
            }
            let answer =
                |card: &Option<GiftCard>,
                 per_command: Vec<Result<Vec<RecordedEvent>, DomainError>>| {
                    per_command
                        .into_iter()
                        .map(|r| match (r, card) {
                            (Ok(events), Some(c)) => Ok(Outcome {
                                card: c.clone(),
                                events,
                            }),
                            (Ok(_), None) => Err(ActorError::Domain(DomainError::NotFound)),
                            (Err(e), _) => Err(ActorError::Domain(e)),
                        })
                        .collect::<Vec<_>>()
                };
            let Some(after) = card.as_ref().filter(|_| !all.is_empty()) else {
                return Ok(answer(&card, per_command));
            };
            let commit = Commit {
                card_id: self.id,
                expected_version: version,
                card: after,
                events: &all,
                code,
            };
            match self.store.commit(commit).await {
                Ok(()) => {
                    self.state = Some(Loaded {
                        card: after.clone(),
                        version: version + 1,
                        last_seq: seq,
                        last_hash: hash,
                    });
                    return Ok(answer(&card, per_command));
                }
                Err(StoreError::Conflict) => {
                    tracing::debug!(card = %self.id, "fence failed; reloading");
                    self.loaded = false;
                }
                Err(e) => {
                    self.loaded = false;
                    return Err(ActorError::Store(e.to_string()));
                }
            }
        }
        Err(ActorError::Contended)
    }
}

/// The actor's life: wait for mail, handle batches, passivate after `idle` without any.
pub async fn run(
    mut actor: GiftCardActor,
    mut rx: mpsc::Receiver<Envelope>,
    idle: std::time::Duration,
    passivate: impl Fn() -> bool + Send,
) {
    loop {
        let first = match tokio::time::timeout(idle, rx.recv()).await {
            Ok(Some(env)) => env,
            Ok(None) => return,
            Err(_) => {
                // Leave the registry first, so no new sender finds us; then close and
                // serve whatever was sent before we left.
                if passivate() {
                    rx.close();
                    let mut rest = Vec::new();
                    while let Ok(env) = rx.try_recv() {
                        rest.push(env);
                    }
                    if !rest.is_empty() {
                        actor.handle(rest).await;
                    }
                    return;
                }
                continue;
            }
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(env) => batch.push(env),
                Err(_) => break,
            }
        }
        actor.handle(batch).await;
    }
}

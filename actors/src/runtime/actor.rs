//! The entity actor: owns one entity's state, serializes every command on it, and
//! commits each batch of commands in one transaction (group commit).
//!
//! Per batch: take the first message, drain whatever else is already waiting (up to
//! [`MAX_BATCH`]), decide and apply each command in order against the in-memory state,
//! commit all resulting events fenced on the version read, then reply to every caller.
//! If the fence fails (another node committed first), reload and decide the batch again.

use super::chain;
use super::ports::{Aggregate, Commit, Loaded, RecordedEvent, Store, StoreError};
use crate::clock::SharedClock;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// Most commands committed together.
pub const MAX_BATCH: usize = 64;
/// Attempts at a batch when the fence keeps failing.
const MAX_ATTEMPTS: usize = 8;

/// What a command did: the state after it, and the events it recorded (none if it was
/// already done, like opening an opened card).
#[derive(Debug, Clone)]
pub struct Outcome<A: Aggregate> {
    pub state: A::State,
    pub events: Vec<RecordedEvent<A::Event>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActorError<E> {
    #[error("{0}")]
    Domain(E),
    /// The fence failed every attempt: extreme contention across nodes.
    #[error("too busy; retry")]
    Contended,
    #[error("storage failed: {0}")]
    Store(String),
    /// The actor stopped before answering (it crashed); the next message re-activates it.
    #[error("the actor stopped; retry")]
    Stopped,
}

/// A command in the mailbox with the caller waiting for its answer.
pub struct Envelope<A: Aggregate> {
    pub command: A::Command,
    pub side: Option<A::Side>,
    pub reply: oneshot::Sender<Result<Outcome<A>, ActorError<A::Error>>>,
    /// Set when the actor takes the command into a batch: after that, a lost reply may
    /// hide a committed change, so the caller must not resend it blindly.
    pub started: Arc<AtomicBool>,
}

pub struct EntityActor<A: Aggregate> {
    pub id: Uuid,
    pub store: Arc<dyn Store<A>>,
    pub clock: SharedClock,
    /// What the database held after our last commit; `None` until loaded (or if the
    /// entity does not exist), and reloaded after a failed commit.
    pub state: Option<Loaded<A::State>>,
    pub loaded: bool,
}

type Results<A> = Vec<Result<Outcome<A>, ActorError<<A as Aggregate>::Error>>>;
/// Per command of a batch: the events it recorded, or why it was refused.
type Decided<A> = Vec<Result<Vec<RecordedEvent<<A as Aggregate>::Event>>, <A as Aggregate>::Error>>;

impl<A: Aggregate> EntityActor<A> {
    /// Handles one batch of messages.
    pub async fn handle(&mut self, batch: Vec<Envelope<A>>) {
        for env in &batch {
            env.started.store(true, Ordering::SeqCst);
        }
        match self.decide_and_commit(&batch).await {
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

    async fn ensure_loaded(&mut self) -> Result<(), ActorError<A::Error>> {
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
        batch: &[Envelope<A>],
    ) -> Result<Results<A>, ActorError<A::Error>> {
        for _ in 0..MAX_ATTEMPTS {
            self.ensure_loaded().await?;
            let (start, version, mut seq, mut hash) = match &self.state {
                Some(l) => (
                    Some(l.state.clone()),
                    l.version,
                    l.last_seq,
                    l.last_hash.clone(),
                ),
                None => (None, 0, 0, chain::GENESIS.to_owned()),
            };
            let at = chain::event_time(self.clock.now());
            let mut state = start;
            let mut all: Vec<RecordedEvent<A::Event>> = Vec::new();
            let mut per_command: Decided<A> = Vec::new();
            let mut side: Option<&A::Side> = None;
            for env in batch {
                match A::decide(state.as_ref(), &env.command) {
                    Ok(events) => {
                        let mut recorded = Vec::with_capacity(events.len());
                        for event in events {
                            seq += 1;
                            let kind = A::event_kind(&event);
                            let data = chain::canonical_json(&A::event_data(&event));
                            let next = chain::link(&hash, self.id, seq, kind, &data, at);
                            state = A::apply(state, self.id, &event);
                            recorded.push(RecordedEvent {
                                id: Uuid::now_v7(),
                                entity_id: self.id,
                                seq,
                                event,
                                data,
                                at,
                                prev_hash: std::mem::replace(&mut hash, next.clone()),
                                hash: next,
                            });
                        }
                        if !recorded.is_empty() && env.side.is_some() {
                            side = env.side.as_ref();
                        }
                        all.extend(recorded.iter().cloned());
                        per_command.push(Ok(recorded));
                    }
                    Err(e) => per_command.push(Err(e)),
                }
            }
            let answer = |state: &Option<A::State>, per_command: Decided<A>| -> Results<A> {
                per_command
                    .into_iter()
                    .map(
                        |r: Result<Vec<RecordedEvent<A::Event>>, A::Error>| match (r, state) {
                            (Ok(events), Some(s)) => Ok(Outcome {
                                state: s.clone(),
                                events,
                            }),
                            (Ok(_), None) => Err(ActorError::Domain(A::not_found())),
                            (Err(e), _) => Err(ActorError::Domain(e)),
                        },
                    )
                    .collect()
            };
            let Some(after) = state.as_ref().filter(|_| !all.is_empty()) else {
                return Ok(answer(&state, per_command));
            };
            let commit = Commit {
                id: self.id,
                expected_version: version,
                state: after,
                events: &all,
                side,
            };
            match self.store.commit(commit).await {
                Ok(()) => {
                    self.state = Some(Loaded {
                        state: after.clone(),
                        version: version + 1,
                        last_seq: seq,
                        last_hash: hash,
                    });
                    return Ok(answer(&state, per_command));
                }
                Err(StoreError::Conflict) => {
                    tracing::debug!(entity = %self.id, "fence failed; reloading");
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
pub async fn run<A: Aggregate>(
    mut actor: EntityActor<A>,
    mut rx: mpsc::Receiver<Envelope<A>>,
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

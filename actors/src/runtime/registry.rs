//! The per-node registry of active actors of one entity kind: activates one on first
//! message, forgets it when it passivates or crashes, and routes commands to it.

use super::actor::{ActorError, EntityActor, Envelope, Outcome, run};
use super::ports::{Aggregate, Store};
use super::workers::Workers;
use crate::clock::SharedClock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// An actor with no message for this long passivates.
    pub idle: Duration,
    /// Mailbox capacity per actor: senders wait when it is full (back-pressure).
    pub mailbox: usize,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(300),
            mailbox: 1024,
        }
    }
}

struct Slot<A: Aggregate> {
    tx: mpsc::Sender<Envelope<A>>,
    generation: u64,
}

struct Inner<A: Aggregate> {
    store: Arc<dyn Store<A>>,
    clock: SharedClock,
    workers: Arc<Workers>,
    config: RegistryConfig,
    // Guards activation: two callers racing on one entity must find one actor.
    active: Mutex<HashMap<Uuid, Slot<A>>>,
    generations: AtomicU64,
}

pub struct Registry<A: Aggregate> {
    inner: Arc<Inner<A>>,
}

impl<A: Aggregate> Clone for Registry<A> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<A: Aggregate> Registry<A> {
    pub fn new(
        store: Arc<dyn Store<A>>,
        clock: SharedClock,
        config: RegistryConfig,
        workers: Arc<Workers>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                workers,
                store,
                clock,
                config,
                active: Mutex::new(HashMap::new()),
                generations: AtomicU64::new(1),
            }),
        }
    }

    /// How many actors are active on this node.
    pub fn active(&self) -> usize {
        self.inner.slots().len()
    }

    /// Sends a command to the entity's actor and waits for its outcome.
    pub async fn send(
        &self,
        id: Uuid,
        command: A::Command,
    ) -> Result<Outcome<A>, ActorError<A::Error>> {
        self.send_with(id, command, None).await
    }

    /// As [`Registry::send`], with side data for the store.
    pub async fn send_with(
        &self,
        id: Uuid,
        command: A::Command,
        side: Option<A::Side>,
    ) -> Result<Outcome<A>, ActorError<A::Error>> {
        // The actor found may have just passivated or crashed. A command it never started
        // is safe to send again to a fresh activation; one it started is not (it may have
        // committed), and its caller is told the actor stopped.
        for _ in 0..3 {
            let (reply, answer) = oneshot::channel();
            let started = Arc::new(AtomicBool::new(false));
            let env = Envelope {
                command: command.clone(),
                side: side.clone(),
                reply,
                started: started.clone(),
            };
            let (tx, generation) = self.actor_for(id)?;
            if tx.send(env).await.is_err() {
                self.inner.forget(id, generation);
                continue;
            }
            match answer.await {
                Ok(result) => return result,
                Err(_) if !started.load(Ordering::SeqCst) => {
                    self.inner.forget(id, generation);
                }
                Err(_) => return Err(ActorError::Stopped),
            }
        }
        Err(ActorError::Stopped)
    }

    #[allow(clippy::type_complexity)]
    fn actor_for(
        &self,
        id: Uuid,
    ) -> Result<(mpsc::Sender<Envelope<A>>, u64), ActorError<A::Error>> {
        let mut slots = self.inner.slots();
        if let Some(slot) = slots.get(&id)
            && !slot.tx.is_closed()
        {
            return Ok((slot.tx.clone(), slot.generation));
        }
        let generation = self.inner.generations.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(self.inner.config.mailbox);
        let actor = EntityActor {
            id,
            store: self.inner.store.clone(),
            clock: self.inner.clock.clone(),
            state: None,
            loaded: false,
        };
        let weak = Arc::downgrade(&self.inner);
        let passivate = move || {
            weak.upgrade()
                .is_none_or(|inner| inner.forget(id, generation))
        };
        if !self
            .inner
            .workers
            .spawn(run(actor, rx, self.inner.config.idle, passivate))
        {
            return Err(ActorError::Store("actor workers stopped".into()));
        }
        slots.insert(
            id,
            Slot {
                tx: tx.clone(),
                generation,
            },
        );
        Ok((tx, generation))
    }
}

impl<A: Aggregate> Inner<A> {
    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Slot<A>>> {
        self.active.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Removes the entity's actor if it is still this generation. Returns whether the
    /// caller may stop (true unless a newer generation depends on it — never the case).
    fn forget(&self, id: Uuid, generation: u64) -> bool {
        let mut slots = self.slots();
        if slots.get(&id).is_some_and(|s| s.generation == generation) {
            slots.remove(&id);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::giftcard::{CardKind, Command, GiftCards, NewCard};
    use crate::money::Currency;
    use crate::runtime::Workers;
    use crate::runtime::ports::{Commit, Loaded, StoreError};

    /// An in-memory store for exercising the runtime alone (the real one is SQL).
    #[derive(Default)]
    struct MemStore {
        cards: Mutex<HashMap<Uuid, Loaded<crate::giftcard::GiftCard>>>,
        commits: AtomicU64,
        panic_next_commit: AtomicBool,
        conflict_next_commit: AtomicBool,
    }

    #[async_trait::async_trait]
    impl Store<GiftCards> for MemStore {
        async fn load(
            &self,
            id: Uuid,
        ) -> Result<Option<Loaded<crate::giftcard::GiftCard>>, StoreError> {
            Ok(self.cards.lock().unwrap().get(&id).cloned())
        }

        async fn commit(&self, c: Commit<'_, GiftCards>) -> Result<(), StoreError> {
            if self.panic_next_commit.swap(false, Ordering::SeqCst) {
                panic!("simulated crash inside an actor");
            }
            if self.conflict_next_commit.swap(false, Ordering::SeqCst) {
                return Err(StoreError::Conflict);
            }
            let mut cards = self.cards.lock().unwrap();
            let current = cards.get(&c.id).map(|l| l.version).unwrap_or(0);
            if current != c.expected_version {
                return Err(StoreError::Conflict);
            }
            let last = c.events.last().unwrap();
            cards.insert(
                c.id,
                Loaded {
                    state: c.state.clone(),
                    version: current + 1,
                    last_seq: last.seq,
                    last_hash: last.hash.clone(),
                },
            );
            self.commits.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn registry(store: Arc<MemStore>, idle: Duration) -> Registry<GiftCards> {
        Registry::new(
            store,
            Arc::new(SystemClock),
            RegistryConfig {
                idle,
                mailbox: 1024,
            },
            Arc::new(Workers::start(2).unwrap()),
        )
    }

    async fn funded_card(reg: &Registry<GiftCards>, id: Uuid, amount: i64) {
        let now = chrono::Utc::now();
        let new = NewCard {
            kind: CardKind::Value { partner_id: None },
            currency: Currency::Eur,
            face_value: amount,
            group: false,
            purchaser_id: Uuid::now_v7(),
            recipient_name: "R".into(),
            recipient_email: "r@example.com".into(),
            message: None,
            theme: "classic".into(),
            deliver_at: None,
        };
        reg.send(id, Command::Create { card: new, now })
            .await
            .unwrap();
        reg.send(
            id,
            Command::RecordPayment {
                contribution_id: Uuid::now_v7(),
                payer_id: Uuid::now_v7(),
                payment_id: "pi".into(),
                amount,
                now,
            },
        )
        .await
        .unwrap();
    }

    fn redeem(amount: i64) -> Command {
        Command::Redeem {
            code_version: None,
            amount,
            currency: crate::money::Currency::Eur,
            partner_id: Uuid::now_v7(),
            commission_bps: 1000,
            reference: Uuid::now_v7(),
            now: chrono::Utc::now(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_commands_on_one_card_are_serialized_and_group_committed() {
        let store = Arc::new(MemStore::default());
        let reg = registry(store.clone(), Duration::from_secs(60));
        let id = Uuid::now_v7();
        funded_card(&reg, id, 10_000).await;
        let before = store.commits.load(Ordering::SeqCst);
        let mut tasks = Vec::new();
        for i in 0..300 {
            let reg = reg.clone();
            tasks.push(tokio::spawn(async move {
                reg.send(id, redeem(1 + i % 97)).await
            }));
        }
        let mut accepted = 0;
        for t in tasks {
            if let Ok(out) = t.await.unwrap() {
                accepted += out
                    .events
                    .iter()
                    .map(|e| match &e.event {
                        crate::giftcard::Event::AmountRedeemed { amount, .. } => *amount,
                        _ => 0,
                    })
                    .sum::<i64>();
            }
        }
        let stored = store.cards.lock().unwrap().get(&id).unwrap().clone();
        assert_eq!(stored.state.available, 10_000 - accepted);
        assert!(stored.state.available >= 0);
        let commits = store.commits.load(Ordering::SeqCst) - before;
        assert!(commits < 300, "batches were grouped: {commits} commits");
        assert_eq!(reg.active(), 1);
    }

    #[tokio::test]
    async fn an_idle_actor_passivates_and_comes_back_with_its_state() {
        let store = Arc::new(MemStore::default());
        let reg = registry(store.clone(), Duration::from_millis(50));
        let id = Uuid::now_v7();
        funded_card(&reg, id, 5_000).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(reg.active(), 0);
        let out = reg.send(id, redeem(1_000)).await.unwrap();
        assert_eq!(out.state.available, 4_000);
    }

    #[tokio::test]
    async fn a_crashed_actor_is_reactivated_from_the_store() {
        let store = Arc::new(MemStore::default());
        let reg = registry(store.clone(), Duration::from_secs(60));
        let id = Uuid::now_v7();
        funded_card(&reg, id, 5_000).await;
        store.panic_next_commit.store(true, Ordering::SeqCst);
        assert_eq!(
            reg.send(id, redeem(1_000)).await.unwrap_err(),
            ActorError::Stopped
        );
        let out = reg.send(id, redeem(500)).await.unwrap();
        assert_eq!(
            out.state.available, 4_500,
            "the crashed batch committed nothing"
        );
    }

    #[tokio::test]
    async fn a_failed_fence_reloads_and_decides_again() {
        let store = Arc::new(MemStore::default());
        let reg = registry(store.clone(), Duration::from_secs(60));
        let id = Uuid::now_v7();
        funded_card(&reg, id, 5_000).await;
        store.conflict_next_commit.store(true, Ordering::SeqCst);
        let out = reg.send(id, redeem(1_000)).await.unwrap();
        assert_eq!(out.state.available, 4_000);
        assert_eq!(out.events[0].seq, 4, "create, payment, issue, then this");
    }

    #[tokio::test]
    async fn refusals_commit_nothing_and_unknown_cards_are_not_found() {
        let store = Arc::new(MemStore::default());
        let reg = registry(store.clone(), Duration::from_secs(60));
        let err = reg.send(Uuid::now_v7(), redeem(1)).await.unwrap_err();
        assert_eq!(
            err,
            ActorError::Domain(crate::giftcard::DomainError::NotFound)
        );
        assert_eq!(store.commits.load(Ordering::SeqCst), 0);
    }
}

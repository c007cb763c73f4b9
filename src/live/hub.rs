//! The topic-keyed hub between the bus and the live clients of this node: an event reaches
//! only the websocket sessions and long-polls that follow its topic (and an access change
//! only its user's connections), so its cost grows with its own subscribers, not with
//! every client of the node.
//!
//! One task reads the bus and hands each event to the queues of its topic's followers.
//! A queue that is full is not waited on: its follower is marked as having lagged and
//! re-reads its topics' logs once it has drained what it has, so nothing is lost and a slow
//! client never slows the others.

use super::{BusSignal, LiveEvent};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

/// Signals queued for one follower before it counts as lagging.
const QUEUE: usize = 64;

/// What a follower receives.
#[derive(Debug, Clone)]
pub enum Signal {
    Event(Arc<LiveEvent>),
    /// Something may have been missed (the bus reconnected, or this follower lagged):
    /// re-read the logs of what it follows.
    Resync,
    /// Its user's access changed: check again what it may follow.
    AccessChanged,
}

struct Follower {
    tx: mpsc::Sender<Signal>,
    lagged: Arc<AtomicBool>,
    user: Uuid,
}

#[derive(Default)]
struct Inner {
    next: u64,
    followers: HashMap<u64, Follower>,
    topics: HashMap<String, HashSet<u64>>,
    users: HashMap<Uuid, HashSet<u64>>,
}

/// The node's hub; cheap to clone.
#[derive(Clone, Default)]
pub struct Hub {
    inner: Arc<RwLock<Inner>>,
}

impl Hub {
    /// A hub fed by `bus` (a receiver of the node's bus) for as long as the bus lives.
    pub fn start(mut bus: broadcast::Receiver<BusSignal>) -> Self {
        let hub = Self::default();
        let feeder = hub.clone();
        tokio::spawn(async move {
            loop {
                match bus.recv().await {
                    Ok(BusSignal::Event(e)) => feeder.dispatch(e),
                    Ok(BusSignal::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        feeder.everyone(Signal::Resync)
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        hub
    }

    /// Registers a follower for `user` (following nothing yet).
    pub fn register(&self, user: Uuid) -> Registration {
        let (tx, rx) = mpsc::channel(QUEUE);
        let lagged = Arc::new(AtomicBool::new(false));
        let mut inner = self.write();
        inner.next += 1;
        let id = inner.next;
        inner.followers.insert(
            id,
            Follower {
                tx,
                lagged: lagged.clone(),
                user,
            },
        );
        inner.users.entry(user).or_default().insert(id);
        Registration {
            hub: self.clone(),
            id,
            rx,
            lagged,
        }
    }

    /// Topics followed by at least one client of this node (for metrics and tests).
    pub fn topics(&self) -> usize {
        self.read().topics.len()
    }

    /// Clients of this node following `topic` (for metrics and tests).
    pub fn followers(&self, topic: &str) -> usize {
        self.read().topics.get(topic).map_or(0, HashSet::len)
    }

    fn dispatch(&self, event: Arc<LiveEvent>) {
        let inner = self.read();
        if let Some(user) = event
            .topic
            .strip_prefix("access:")
            .and_then(|u| Uuid::parse_str(u).ok())
        {
            if let Some(ids) = inner.users.get(&user) {
                for id in ids {
                    inner.send(*id, Signal::AccessChanged);
                }
            }
            return;
        }
        if let Some(ids) = inner.topics.get(&event.topic) {
            for id in ids {
                inner.send(*id, Signal::Event(event.clone()));
            }
        }
    }

    fn everyone(&self, signal: Signal) {
        let inner = self.read();
        for id in inner.followers.keys() {
            inner.send(*id, signal.clone());
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    /// Queues without waiting; a full queue marks its follower as lagging.
    fn send(&self, id: u64, signal: Signal) {
        if let Some(f) = self.followers.get(&id)
            && let Err(mpsc::error::TrySendError::Full(_)) = f.tx.try_send(signal)
        {
            f.lagged.store(true, Ordering::SeqCst);
        }
    }
}

/// One follower's place in the hub; leaving it (drop) unregisters.
pub struct Registration {
    hub: Hub,
    id: u64,
    rx: mpsc::Receiver<Signal>,
    lagged: Arc<AtomicBool>,
}

impl Registration {
    /// Starts receiving `topic`'s events (before reading its log, so nothing is missed).
    pub fn follow(&self, topic: &str) {
        self.hub
            .write()
            .topics
            .entry(topic.to_owned())
            .or_default()
            .insert(self.id);
    }

    pub fn unfollow(&self, topic: &str) {
        let mut inner = self.hub.write();
        if let Some(ids) = inner.topics.get_mut(topic) {
            ids.remove(&self.id);
            if ids.is_empty() {
                inner.topics.remove(topic);
            }
        }
    }

    /// The next signal; `None` when the hub is gone. A follower whose queue overflowed gets
    /// a `Resync` once it has drained it.
    pub async fn recv(&mut self) -> Option<Signal> {
        match self.rx.try_recv() {
            Ok(signal) => return Some(signal),
            Err(mpsc::error::TryRecvError::Disconnected) => return None,
            Err(mpsc::error::TryRecvError::Empty) => {}
        }
        // Drained: if something was dropped meanwhile, re-read before waiting. (The flag is
        // set only while the queue is full, so a follower waiting on an empty queue is
        // never behind.)
        if self.lagged.swap(false, Ordering::SeqCst) {
            return Some(Signal::Resync);
        }
        self.rx.recv().await
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut inner = self.hub.write();
        let Some(follower) = inner.followers.remove(&self.id) else {
            return;
        };
        if let Some(ids) = inner.users.get_mut(&follower.user) {
            ids.remove(&self.id);
            if ids.is_empty() {
                inner.users.remove(&follower.user);
            }
        }
        inner.topics.retain(|_, ids| {
            ids.remove(&self.id);
            !ids.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn event(topic: &str, seq: i64) -> LiveEvent {
        LiveEvent {
            topic: topic.into(),
            seq,
            kind: "k".into(),
            data: serde_json::json!({}),
            at: Utc::now(),
            donor_seq: None,
        }
    }

    async fn next(reg: &mut Registration) -> Signal {
        tokio::time::timeout(std::time::Duration::from_secs(2), reg.recv())
            .await
            .expect("a signal in time")
            .expect("hub alive")
    }

    #[tokio::test]
    async fn an_event_reaches_only_the_followers_of_its_topic() {
        let bus = super::super::LocalBus::default();
        let hub = Hub::start(super::super::EventBus::subscribe(&bus));
        let (u1, u2) = (Uuid::now_v7(), Uuid::now_v7());
        let mut a = hub.register(u1);
        let mut b = hub.register(u2);
        a.follow("card:a");
        b.follow("card:b");
        super::super::EventBus::publish(&bus, vec![event("card:a", 1), event("card:b", 7)]).await;
        match next(&mut a).await {
            Signal::Event(e) => assert_eq!((e.topic.as_str(), e.seq), ("card:a", 1)),
            other => panic!("{other:?}"),
        }
        match next(&mut b).await {
            Signal::Event(e) => assert_eq!((e.topic.as_str(), e.seq), ("card:b", 7)),
            other => panic!("{other:?}"),
        }
        // An access change reaches its user's followers only.
        super::super::EventBus::publish(&bus, vec![event(&format!("access:{u2}"), 0)]).await;
        assert!(matches!(next(&mut b).await, Signal::AccessChanged));
        assert!(a.rx.try_recv().is_err());
        a.unfollow("card:a");
        drop(b);
        assert_eq!(hub.topics(), 0);
        assert!(!hub.read().users.contains_key(&u2));
    }

    #[tokio::test]
    async fn a_follower_that_falls_behind_is_told_to_re_read_once_it_has_drained() {
        let bus = super::super::LocalBus::default();
        let hub = Hub::start(super::super::EventBus::subscribe(&bus));
        let mut slow = hub.register(Uuid::now_v7());
        slow.follow("slot:s");
        let events: Vec<LiveEvent> = (1..=(QUEUE as i64 + 10))
            .map(|i| event("slot:s", i))
            .collect();
        super::super::EventBus::publish(&bus, events).await;
        // Let the hub hand everything over.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let mut seen = 0;
        loop {
            match next(&mut slow).await {
                Signal::Event(_) => seen += 1,
                Signal::Resync => break,
                Signal::AccessChanged => panic!("no access change"),
            }
        }
        assert_eq!(seen, QUEUE, "the queue's worth, then a re-read");
    }
}

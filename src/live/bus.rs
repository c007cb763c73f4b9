//! The `EventBus` port and its two adapters: in-process (one node) and Redis pub/sub
//! (many nodes; RESP3 push messages with automatic resubscription).

use chrono::{DateTime, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Messages kept for a slow local subscriber before it lags (and re-reads the log).
const LOCAL_CAPACITY: usize = 4096;
/// The Redis channel all nodes publish to and listen on.
pub const REDIS_CHANNEL: &str = "fimy:events";

/// One event as subscribers see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveEvent {
    /// `card:{id}`, `user:{id}`, `partner:{id}:calendar` or `slot:{id}`.
    pub topic: String,
    pub seq: i64,
    pub kind: String,
    pub data: serde_json::Value,
    /// The server's commit time.
    pub at: DateTime<Utc>,
    /// On a card's topic, the event's number in the donor's view of the card (absent for
    /// events the donor does not see, and never sent to clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub donor_seq: Option<i64>,
}

/// What a subscriber receives.
#[derive(Debug, Clone)]
pub enum BusSignal {
    Event(Arc<LiveEvent>),
    /// Messages may have been lost (the bus reconnected): re-read the logs.
    Resync,
}

#[async_trait::async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Publishes events already committed. Best effort: a lost message is recovered from
    /// the log by subscribers.
    async fn publish(&self, events: Vec<LiveEvent>);
    /// Every message of this node from now on.
    fn subscribe(&self) -> broadcast::Receiver<BusSignal>;
}

/// The embedded default: one process, one broadcast channel.
pub struct LocalBus {
    tx: broadcast::Sender<BusSignal>,
}

impl Default for LocalBus {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(LOCAL_CAPACITY).0,
        }
    }
}

#[async_trait::async_trait]
impl EventBus for LocalBus {
    async fn publish(&self, events: Vec<LiveEvent>) {
        for e in events {
            let _ = self.tx.send(BusSignal::Event(Arc::new(e)));
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<BusSignal> {
        self.tx.subscribe()
    }
}

/// Redis pub/sub: publishes to [`REDIS_CHANNEL`]; a RESP3 connection with automatic
/// resubscription receives every node's events and hands them to local subscribers.
pub struct RedisBus {
    // Publishing connection; reconnects by itself.
    publisher: ConnectionManager,
    // Local fan-out of what the subscribing connection receives.
    local: broadcast::Sender<BusSignal>,
}

/// RESP3 is needed for push messages on a multiplexed connection.
fn resp3(url: &str) -> String {
    if url.contains("protocol=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&protocol=resp3")
    } else {
        format!("{url}?protocol=resp3")
    }
}

impl RedisBus {
    pub async fn connect(url: &str) -> redis::RedisResult<Self> {
        let client = redis::Client::open(resp3(url))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(std::time::Duration::from_secs(5)))
            .set_response_timeout(Some(std::time::Duration::from_secs(5)));
        let publisher = ConnectionManager::new_with_config(client.clone(), config.clone()).await?;
        let local = broadcast::channel(LOCAL_CAPACITY).0;
        let (push_tx, mut push_rx) = tokio::sync::mpsc::unbounded_channel::<redis::PushInfo>();
        let mut subscriber = ConnectionManager::new_with_config(
            client,
            config
                .set_push_sender(push_tx)
                .set_automatic_resubscription(),
        )
        .await?;
        subscriber.subscribe(REDIS_CHANNEL).await?;
        let fanout = local.clone();
        tokio::spawn(async move {
            // Keep the subscribing connection alive as long as pushes flow.
            let _subscriber = subscriber;
            while let Some(push) = push_rx.recv().await {
                match push.kind {
                    redis::PushKind::Message => {
                        let payload = push.data.get(1).and_then(|v| match v {
                            redis::Value::BulkString(b) => Some(b.clone()),
                            _ => None,
                        });
                        match payload.map(|p| serde_json::from_slice::<LiveEvent>(&p)) {
                            Some(Ok(e)) => {
                                let _ = fanout.send(BusSignal::Event(Arc::new(e)));
                            }
                            // Not the message nor serde's text, which may quote its data.
                            Some(Err(e)) => tracing::warn!(kind = ?e.classify(), line = e.line(),
                                column = e.column(), "unreadable bus message"),
                            None => tracing::warn!("bus message without a payload"),
                        }
                    }
                    redis::PushKind::Disconnection => {
                        tracing::warn!(
                            "event bus lost its Redis connection; subscribers re-read the logs"
                        );
                        let _ = fanout.send(BusSignal::Resync);
                    }
                    redis::PushKind::Subscribe => {
                        // (Re)subscribed: anything published while we were away is in the logs.
                        let _ = fanout.send(BusSignal::Resync);
                    }
                    _ => {}
                }
            }
        });
        Ok(Self { publisher, local })
    }
}

#[async_trait::async_trait]
impl EventBus for RedisBus {
    async fn publish(&self, events: Vec<LiveEvent>) {
        let mut conn = self.publisher.clone();
        for e in events {
            let Ok(payload) = serde_json::to_string(&e) else {
                continue;
            };
            let res: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                .arg(REDIS_CHANNEL)
                .arg(payload)
                .query_async(&mut conn)
                .await;
            if let Err(err) = res {
                // Subscribers recover it from the log (gap detection / resync).
                tracing::warn!(error = %err, topic = %e.topic, "event not published to Redis");
            }
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<BusSignal> {
        self.local.subscribe()
    }
}

/// Counts every committed event (the domain counters of `/metrics`), then passes it on.
pub struct MeteredBus {
    inner: Arc<dyn EventBus>,
    // `events_total{entity, kind}` in the metrics registry.
    events: prometheus::IntCounterVec,
}

impl MeteredBus {
    pub fn new(inner: Arc<dyn EventBus>, events: prometheus::IntCounterVec) -> Self {
        Self { inner, events }
    }
}

#[async_trait::async_trait]
impl EventBus for MeteredBus {
    async fn publish(&self, events: Vec<LiveEvent>) {
        for e in &events {
            let entity = e.topic.split(':').next().unwrap_or("other");
            self.events.with_label_values(&[entity, &e.kind]).inc();
        }
        self.inner.publish(events).await;
    }

    fn subscribe(&self) -> broadcast::Receiver<BusSignal> {
        self.inner.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_urls_ask_for_resp3() {
        assert_eq!(resp3("redis://h:6379"), "redis://h:6379?protocol=resp3");
        assert_eq!(resp3("redis://h/0?x=1"), "redis://h/0?x=1&protocol=resp3");
        assert_eq!(
            resp3("redis://h?protocol=resp3"),
            "redis://h?protocol=resp3"
        );
    }

    #[tokio::test]
    async fn the_local_bus_delivers_to_every_subscriber() {
        let bus = LocalBus::default();
        let (mut a, mut b) = (bus.subscribe(), bus.subscribe());
        let e = LiveEvent {
            topic: "card:x".into(),
            seq: 1,
            kind: "k".into(),
            data: serde_json::json!({}),
            at: Utc::now(),
            donor_seq: None,
        };
        bus.publish(vec![e.clone()]).await;
        for rx in [&mut a, &mut b] {
            match rx.recv().await.unwrap() {
                BusSignal::Event(got) => assert_eq!(*got, e),
                BusSignal::Resync => panic!("unexpected resync"),
            }
        }
    }
}

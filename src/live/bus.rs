//! The `EventBus` port and its two adapters: in-process (one node) and Redis pub/sub
//! (many nodes; a supervised subscription that survives Redis restarts).

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::broadcast;
use uuid::Uuid;

/// Messages kept for a slow local subscriber before it lags (and re-reads the log).
const LOCAL_CAPACITY: usize = 4096;
/// The bus topic that tells every node a user's access changed (a session ended, a staff
/// membership or device was removed). It has no log and cannot be subscribed to; open
/// connections of that user re-read who they serve and re-check what they follow.
pub fn access_topic(user: Uuid) -> String {
    format!("access:{user}")
}

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
    /// Whether other nodes' events reach this one: `None` when there are no other nodes.
    fn connected(&self) -> Option<bool> {
        None
    }
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

/// Redis pub/sub across nodes. Each node delivers its own events to its local subscribers
/// at once (so a Redis outage never silences a node's own actions) and publishes them to
/// [`REDIS_CHANNEL`], tagged with its node id so that it skips its own echo.
///
/// The subscribing connection is supervised: when it is lost (Redis restarted, the
/// connection killed, or a keep-alive `PING` unanswered), the node reconnects with a short
/// back-off and, once subscribed again, tells its subscribers to re-read the logs — what
/// other nodes committed meanwhile reaches them with no gap. The publishing connection is
/// re-opened on the first failure, and a node that could not publish asks every node to
/// re-read once it can again. [`EventBus::connected`] reports the subscription, which
/// readiness reflects.
pub struct RedisBus {
    client: redis::Client,
    /// This process's id on the channel.
    node: String,
    publisher: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    /// A publish failed: once publishing works again, every node is asked to re-read.
    publish_failed: AtomicBool,
    local: broadcast::Sender<BusSignal>,
    subscribed: Arc<AtomicBool>,
}

/// How long connecting to Redis may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a command (publish, keep-alive ping) may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(3);
/// How often the subscribing connection is checked with a `PING`.
const KEEPALIVE: Duration = Duration::from_secs(5);
/// First and longest wait between two reconnection attempts.
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// An event on the channel: the event itself plus the publishing node.
#[derive(Serialize)]
struct Outgoing<'a> {
    node: &'a str,
    #[serde(flatten)]
    event: &'a LiveEvent,
}

/// The control message a node sends after it could not publish: "re-read the logs".
#[derive(Serialize)]
struct ResyncRequest<'a> {
    node: &'a str,
    resync: bool,
}

/// What a message on the channel means to this node.
#[derive(Debug, PartialEq)]
enum Incoming {
    Event(LiveEvent),
    Resync,
    /// Our own message: already delivered locally.
    Own,
}

fn decode(payload: &[u8], node: &str) -> Result<Incoming, serde_json::Error> {
    let value: serde_json::Value = serde_json::from_slice(payload)?;
    if value.get("node").and_then(|n| n.as_str()) == Some(node) {
        return Ok(Incoming::Own);
    }
    if value.get("resync").and_then(|r| r.as_bool()) == Some(true) {
        return Ok(Incoming::Resync);
    }
    serde_json::from_value(value).map(Incoming::Event)
}

impl RedisBus {
    /// Sets the bus up and starts its subscriber; Redis need not be up yet (readiness says
    /// so until the node is subscribed). Fails only on a URL that cannot be used.
    pub async fn connect(url: &str) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let bus = Self {
            client: client.clone(),
            node: Uuid::now_v7().to_string(),
            publisher: tokio::sync::Mutex::new(None),
            publish_failed: AtomicBool::new(false),
            local: broadcast::channel(LOCAL_CAPACITY).0,
            subscribed: Arc::new(AtomicBool::new(false)),
        };
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(subscriber(
            client,
            bus.node.clone(),
            bus.local.clone(),
            bus.subscribed.clone(),
            ready_tx,
        ));
        // Give a reachable Redis the time to take the subscription before serving.
        let _ = tokio::time::timeout(CONNECT_TIMEOUT, ready_rx).await;
        Ok(bus)
    }

    /// Sends one payload, re-opening the connection once if it failed.
    /// Publishes `payloads` in order, in one round trip (a pipeline of `PUBLISH`es).
    async fn send(&self, payloads: &[String]) -> redis::RedisResult<()> {
        let mut pipe = redis::pipe();
        for p in payloads {
            pipe.cmd("PUBLISH").arg(REDIS_CHANNEL).arg(p).ignore();
        }
        let mut conn = self.publisher.lock().await;
        let mut last = None;
        for _ in 0..2 {
            if conn.is_none() {
                match open(&self.client).await {
                    Ok(c) => *conn = Some(c),
                    Err(e) => {
                        last = Some(e);
                        continue;
                    }
                }
            }
            let Some(c) = conn.as_mut() else { continue };
            let sent = tokio::time::timeout(COMMAND_TIMEOUT, pipe.query_async::<()>(c))
                .await
                .unwrap_or_else(|_| Err(timed_out()));
            match sent {
                Ok(()) => return Ok(()),
                Err(e) => {
                    *conn = None;
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(timed_out))
    }
}

fn timed_out() -> redis::RedisError {
    redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "Redis did not answer in time",
    ))
}

async fn open(client: &redis::Client) -> redis::RedisResult<MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// Keeps this node subscribed for as long as the process runs.
async fn subscriber(
    client: redis::Client,
    node: String,
    fanout: broadcast::Sender<BusSignal>,
    subscribed: Arc<AtomicBool>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut wait = RETRY_MIN;
    let mut warned = false;
    loop {
        match subscribe_once(&client, &node, &fanout, &subscribed, &mut ready).await {
            Ok(()) => {
                // Was subscribed, then lost it: retry at once, then back off.
                wait = RETRY_MIN;
                warned = false;
                tracing::warn!("event bus lost its Redis subscription; reconnecting");
            }
            Err(e) if !warned => {
                warned = true;
                tracing::warn!(error = %e, "event bus cannot subscribe to Redis; retrying");
            }
            Err(_) => {}
        }
        subscribed.store(false, Ordering::SeqCst);
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(RETRY_MAX);
    }
}

/// One subscribed life: `Ok` when a working subscription ends, `Err` if none was made.
async fn subscribe_once(
    client: &redis::Client,
    node: &str,
    fanout: &broadcast::Sender<BusSignal>,
    subscribed: &AtomicBool,
    ready: &mut Option<tokio::sync::oneshot::Sender<()>>,
) -> redis::RedisResult<()> {
    let pubsub = tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub())
        .await
        .unwrap_or_else(|_| Err(timed_out()))?;
    let (mut sink, mut stream) = pubsub.split();
    tokio::time::timeout(COMMAND_TIMEOUT, sink.subscribe(REDIS_CHANNEL))
        .await
        .unwrap_or_else(|_| Err(timed_out()))?;
    subscribed.store(true, Ordering::SeqCst);
    tracing::info!("event bus subscribed to Redis");
    // Anything published while this node was not listening is in the logs.
    let _ = fanout.send(BusSignal::Resync);
    if let Some(r) = ready.take() {
        let _ = r.send(());
    }
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    keepalive.tick().await;
    loop {
        tokio::select! {
            msg = stream.next() => {
                let Some(msg) = msg else { return Ok(()) };
                match decode(msg.get_payload_bytes(), node) {
                    Ok(Incoming::Event(e)) => {
                        let _ = fanout.send(BusSignal::Event(Arc::new(e)));
                    }
                    Ok(Incoming::Resync) => {
                        let _ = fanout.send(BusSignal::Resync);
                    }
                    Ok(Incoming::Own) => {}
                    // Not the message nor serde's text, which may quote its data.
                    Err(e) => tracing::warn!(kind = ?e.classify(), line = e.line(),
                        column = e.column(), "unreadable bus message"),
                }
            }
            _ = keepalive.tick() => {
                let pong = tokio::time::timeout(COMMAND_TIMEOUT, sink.ping::<redis::Value>()).await;
                if !matches!(pong, Ok(Ok(_))) {
                    return Ok(());
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl EventBus for RedisBus {
    async fn publish(&self, events: Vec<LiveEvent>) {
        let mut payloads = Vec::with_capacity(events.len());
        for e in events {
            if let Ok(p) = serde_json::to_string(&Outgoing {
                node: &self.node,
                event: &e,
            }) {
                payloads.push(p);
            }
            // This node's subscribers first, whatever Redis does.
            let _ = self.local.send(BusSignal::Event(Arc::new(e)));
        }
        // A commit's events go out in one round trip, in order.
        let failed = match payloads.is_empty() {
            true => false,
            false => match self.send(&payloads).await {
                Ok(()) => false,
                Err(err) => {
                    self.publish_failed.store(true, Ordering::SeqCst);
                    tracing::warn!(error = %err, events = payloads.len(),
                        "events not published to Redis; other nodes will re-read their logs");
                    true
                }
            },
        };
        if !failed && self.publish_failed.swap(false, Ordering::SeqCst) {
            // Events this node could not publish: every node re-reads its logs.
            let request = ResyncRequest {
                node: &self.node,
                resync: true,
            };
            let sent = match serde_json::to_string(&request) {
                Ok(p) => self.send(&[p]).await.is_ok(),
                Err(_) => false,
            };
            if !sent {
                self.publish_failed.store(true, Ordering::SeqCst);
            }
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<BusSignal> {
        self.local.subscribe()
    }

    fn connected(&self) -> Option<bool> {
        Some(self.subscribed.load(Ordering::SeqCst))
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

    fn connected(&self) -> Option<bool> {
        self.inner.connected()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> LiveEvent {
        LiveEvent {
            topic: "card:x".into(),
            seq: 3,
            kind: "k".into(),
            data: serde_json::json!({"a": 1}),
            at: Utc::now(),
            donor_seq: Some(2),
        }
    }

    #[test]
    fn messages_on_the_channel_say_who_sent_them() {
        let e = event();
        let wire = serde_json::to_vec(&Outgoing {
            node: "n1",
            event: &e,
        })
        .unwrap();
        assert_eq!(decode(&wire, "n1").unwrap(), Incoming::Own);
        assert_eq!(decode(&wire, "n2").unwrap(), Incoming::Event(e.clone()));
        // A message from a node that does not tag its events is still an event.
        let untagged = serde_json::to_vec(&e).unwrap();
        assert_eq!(decode(&untagged, "n1").unwrap(), Incoming::Event(e));
        let resync = serde_json::to_vec(&ResyncRequest {
            node: "n2",
            resync: true,
        })
        .unwrap();
        assert_eq!(decode(&resync, "n1").unwrap(), Incoming::Resync);
        assert!(decode(b"{\"topic\": 1}", "n1").is_err());
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

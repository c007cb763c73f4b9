//! `/ws`: one websocket per client. Messages from the client: `subscribe {topic, since?}`,
//! `unsubscribe {topic}`, `ping`. From the server: `event {topic, seq, kind, data, at}`,
//! `subscribed`, `unsubscribed`, `error {code, message, topic?}`, `pong`.
//!
//! A subscription lasts only as long as the right that allowed it: when a card changes
//! hands, a session is revoked, or a staff membership or device is removed, the
//! connection checks again at once and ends the subscription (`error` with code
//! `subscription_revoked` and the topic), moves it to the view now allowed (a new
//! `subscribed`), or closes the connection when its session ended.
//!
//! Each subscription remembers the last sequence number delivered; an event further
//! ahead (a gap), a lagging bus receiver or a bus reconnect makes the session re-read
//! the topic's log from there, so a client never misses an event and never sees one
//! twice. A reconnecting client passes `since` to pick up where it left off.

use super::LiveEvent;
use super::hub::{Registration, Signal};
use super::topics::{self, Topic, View};
use crate::auth::Principal;
use crate::error::ErrorCode;
use crate::state::State;
use actix_web::{HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often the server pings an idle client.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);
/// A client silent this long (no message, no pong) is disconnected.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Messages queued for a client before it counts as too slow and is disconnected.
pub const SEND_QUEUE: usize = 256;
/// Largest frame (and message) a client may send.
pub const MAX_FRAME: usize = 16 * 1024;
/// Subscriptions one connection may hold.
pub const MAX_SUBSCRIPTIONS: usize = 100;
/// How often (in heartbeats) the login session behind a connection is checked: a revoked
/// or expired session ends the connection within a minute.
pub const SESSION_CHECK_EVERY: u32 = 6;

/// Card events after which someone may see the card differently, or not at all.
const CHANGES_ACCESS: [&str; 2] = ["card_claimed", "card_transferred"];

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientMessage {
    Subscribe { topic: String, since: Option<i64> },
    Unsubscribe { topic: String },
    Ping,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerMessage<'a> {
    Event(&'a LiveEvent),
    Subscribed {
        topic: String,
        seq: i64,
    },
    Unsubscribed {
        topic: String,
    },
    Error {
        code: &'a str,
        message: String,
        /// The subscription the error is about, when it is about one.
        #[serde(skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
    },
    Pong,
}

/// What the writer task sends on the socket.
enum Outgoing {
    Text(String),
    Ping,
    Pong(bytes_like::Bytes),
}

mod bytes_like {
    pub use actix_web::web::Bytes;
}

struct Subscription {
    view: View,
    /// The last sequence number delivered (or skipped as not for this view), in the
    /// view's numbering.
    last: i64,
}

/// Upgrades an authenticated request to a websocket session.
pub async fn ws(
    state: State,
    req: HttpRequest,
    body: actix_web::web::Payload,
    who: Principal,
) -> Result<HttpResponse, actix_web::Error> {
    check_origin(&req)?;
    let (res, session, stream) = actix_ws::handle(&req, body)?;
    let stream = stream
        .max_frame_size(MAX_FRAME)
        .aggregate_continuations()
        .max_continuation_size(MAX_FRAME);
    let (out_tx, out_rx) = mpsc::channel::<Outgoing>(SEND_QUEUE);
    actix_web::rt::spawn(writer(session.clone(), out_rx));
    actix_web::rt::spawn(run(state, who, session, stream, out_tx));
    Ok(res)
}

/// A browser page from another site must not open a session with the user's cookie.
fn check_origin(req: &HttpRequest) -> Result<(), actix_web::Error> {
    let Some(origin) = req.headers().get("origin").and_then(|v| v.to_str().ok()) else {
        return Ok(()); // not a browser
    };
    let host = req.connection_info().host().to_owned();
    let same = url::Url::parse(origin)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_owned(),
            })
        })
        .is_some_and(|o| o == host);
    if same {
        Ok(())
    } else {
        Err(crate::error::ApiError::forbidden("websocket from another origin").into())
    }
}

async fn writer(mut session: actix_ws::Session, mut rx: mpsc::Receiver<Outgoing>) {
    while let Some(msg) = rx.recv().await {
        let sent = match msg {
            Outgoing::Text(t) => session.text(t).await,
            Outgoing::Ping => session.ping(b"").await,
            Outgoing::Pong(b) => session.pong(&b).await,
        };
        if sent.is_err() {
            break;
        }
    }
}

/// Why a session ends.
enum End {
    Gone,
    Close(CloseReason),
}

struct Session {
    state: State,
    who: Principal,
    out: mpsc::Sender<Outgoing>,
    subs: HashMap<Topic, Subscription>,
    /// What the hub hands this session: the events of the topics it follows.
    hub: Registration,
}

impl Session {
    /// Queues a message; a full queue means the client does not keep up.
    fn send(&self, msg: &ServerMessage<'_>) -> Result<(), End> {
        let text = serde_json::to_string(msg).unwrap_or_default();
        self.out
            .try_send(Outgoing::Text(text))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => End::Close(CloseReason {
                    code: CloseCode::Policy,
                    description: Some("slow consumer: too many messages waiting".into()),
                }),
                mpsc::error::TrySendError::Closed(_) => End::Gone,
            })
    }

    fn error(&self, code: &str, message: impl Into<String>) -> Result<(), End> {
        self.send(&ServerMessage::Error {
            code,
            message: message.into(),
            topic: None,
        })
    }

    /// Re-reads who this connection serves (their access may have changed): a session
    /// that ended closes the connection, and every subscription is checked again.
    /// With `all` false (the periodic check), subscriptions are checked again only when who
    /// the session serves changed.
    async fn recheck(&mut self, all: bool) -> Result<(), End> {
        let now = self.state.clock.now();
        match Principal::current(&self.state.db, self.who.session_id, now).await {
            Ok(Some(who)) if !all && who == self.who => return Ok(()),
            Ok(Some(who)) => self.who = who,
            Ok(None) => {
                return Err(End::Close(CloseReason {
                    code: CloseCode::Policy,
                    description: Some("session ended".into()),
                }));
            }
            // The database is away: keep serving; the next check retries.
            Err(_) => return Ok(()),
        }
        let topics: Vec<Topic> = self.subs.keys().copied().collect();
        for t in topics {
            self.reauthorize(t).await?;
        }
        Ok(())
    }

    /// Checks one subscription against the caller's access now: kept, changed to the view
    /// they now have (numbered afresh, announced by a new `subscribed`), or ended with an
    /// `error` of code `subscription_revoked`.
    async fn reauthorize(&mut self, topic: Topic) -> Result<(), End> {
        let Some(view) = self.subs.get(&topic).map(|s| s.view) else {
            return Ok(());
        };
        match topics::authorize(&self.state, &self.who, topic).await {
            Ok(now) if now == view => Ok(()),
            Ok(now) => {
                let Ok(head) = topics::head(&self.state, topic, now).await else {
                    return Ok(());
                };
                self.subs.insert(
                    topic,
                    Subscription {
                        view: now,
                        last: head,
                    },
                );
                self.send(&ServerMessage::Subscribed {
                    topic: topic.name(),
                    seq: head,
                })
            }
            Err(e) if e.code == ErrorCode::Forbidden => {
                self.subs.remove(&topic);
                self.hub.unfollow(&topic.name());
                self.send(&ServerMessage::Error {
                    code: "subscription_revoked",
                    message: "you may no longer follow this topic".into(),
                    topic: Some(topic.name()),
                })
            }
            // The database is away: keep it; the next check retries.
            Err(_) => Ok(()),
        }
    }

    /// Delivers one event to its subscription, re-reading the log first on a gap.
    async fn deliver(&mut self, event: &LiveEvent) -> Result<(), End> {
        let Ok(topic) = Topic::parse(&event.topic) else {
            return Ok(());
        };
        if !self.subs.contains_key(&topic) {
            return Ok(());
        }
        // A change of who holds the card: check the subscription before showing it.
        if CHANGES_ACCESS.contains(&event.kind.as_str()) {
            self.reauthorize(topic).await?;
        }
        let Some(sub) = self.subs.get(&topic) else {
            return Ok(());
        };
        // Numbered as this subscriber sees the topic (a donor's view of a card has its
        // own numbering); an event not in the view is skipped.
        let Some(shown) = topics::present(event, sub.view) else {
            return Ok(());
        };
        if shown.seq <= sub.last {
            return Ok(());
        }
        if shown.seq > sub.last + 1 {
            return self.catch_up(topic).await;
        }
        self.send(&ServerMessage::Event(&shown))?;
        if let Some(sub) = self.subs.get_mut(&topic) {
            sub.last = shown.seq;
        }
        Ok(())
    }

    /// Re-reads a topic's log from the last event delivered.
    async fn catch_up(&mut self, topic: Topic) -> Result<(), End> {
        loop {
            let Some(sub) = self.subs.get(&topic) else {
                return Ok(());
            };
            let (since, view) = (sub.last, sub.view);
            let events =
                match topics::replay(&self.state, topic, view, since, topics::REPLAY_LIMIT).await {
                    Ok(e) => e,
                    Err(e) => {
                        // The database is away: the next signal or event retries.
                        tracing::warn!(error = %e, topic = %topic.name(), "replay failed");
                        return Ok(());
                    }
                };
            let n = events.len();
            for e in &events {
                if let Some(shown) = topics::present(e, view) {
                    self.send(&ServerMessage::Event(&shown))?;
                }
                if let Some(sub) = self.subs.get_mut(&topic) {
                    sub.last = e.seq;
                }
            }
            if (n as u64) < topics::REPLAY_LIMIT {
                return Ok(());
            }
        }
    }

    async fn on_text(&mut self, text: &str) -> Result<(), End> {
        let msg: ClientMessage = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(e) => {
                return self.error(
                    "malformed_message",
                    format!("not a message this server understands: {e}"),
                );
            }
        };
        match msg {
            ClientMessage::Ping => self.send(&ServerMessage::Pong),
            ClientMessage::Unsubscribe { topic } => match Topic::parse(&topic) {
                Ok(t) => {
                    self.subs.remove(&t);
                    self.hub.unfollow(&t.name());
                    self.send(&ServerMessage::Unsubscribed { topic: t.name() })
                }
                Err(m) => self.error("invalid_topic", m),
            },
            ClientMessage::Subscribe { topic, since } => {
                let t = match Topic::parse(&topic) {
                    Ok(t) => t,
                    Err(m) => return self.error("invalid_topic", m),
                };
                if since.is_some_and(|s| s < 0) {
                    return self.error("invalid_since", "since must be 0 or more");
                }
                if !self.subs.contains_key(&t) && self.subs.len() >= MAX_SUBSCRIPTIONS {
                    return self.error(
                        "too_many_subscriptions",
                        format!("at most {MAX_SUBSCRIPTIONS} per connection"),
                    );
                }
                let view = match topics::authorize(&self.state, &self.who, t).await {
                    Ok(v) => v,
                    Err(e) => return self.error(e.code.as_str().as_str(), e.detail),
                };
                // Listen before reading the log, so nothing committed in between is missed.
                self.hub.follow(&t.name());
                let head = match topics::head(&self.state, t, view).await {
                    Ok(h) => h,
                    Err(e) => {
                        if !self.subs.contains_key(&t) {
                            self.hub.unfollow(&t.name());
                        }
                        return self.error("unavailable", e.detail);
                    }
                };
                // From `since`, but never from past the topic's real end.
                let last = since.map_or(head, |s| s.min(head));
                self.subs.insert(t, Subscription { view, last });
                self.catch_up(t).await?;
                let seq = self.subs.get(&t).map_or(last, |s| s.last);
                self.send(&ServerMessage::Subscribed {
                    topic: t.name(),
                    seq,
                })
            }
        }
    }
}

async fn run(
    state: State,
    who: Principal,
    session: actix_ws::Session,
    mut stream: actix_ws::AggregatedMessageStream,
    out: mpsc::Sender<Outgoing>,
) {
    state.metrics.ws_sessions.inc();
    let mut s = Session {
        hub: state.hub.register(who.user_id),
        state: state.clone(),
        who,
        out,
        subs: HashMap::new(),
    };
    let mut heard = Instant::now();
    let mut heartbeat = tokio::time::interval(HEARTBEAT_INTERVAL);
    let mut beats: u32 = 0;
    let end: End = loop {
        let step = tokio::select! {
            msg = stream.recv() => match msg {
                Some(Ok(AggregatedMessage::Text(t))) => {
                    heard = Instant::now();
                    s.on_text(&t).await
                }
                Some(Ok(AggregatedMessage::Binary(_))) => {
                    heard = Instant::now();
                    s.error("malformed_message", "send JSON in text frames")
                }
                Some(Ok(AggregatedMessage::Ping(b))) => {
                    heard = Instant::now();
                    s.out.try_send(Outgoing::Pong(b)).map_err(|_| End::Gone)
                }
                Some(Ok(AggregatedMessage::Pong(_))) => {
                    heard = Instant::now();
                    Ok(())
                }
                Some(Ok(AggregatedMessage::Close(_))) | None => Err(End::Gone),
                Some(Err(e)) => {
                    // A frame too large or a protocol violation: say why, then close.
                    let _ = s.error("protocol_error", e.to_string());
                    Err(End::Close(CloseReason { code: CloseCode::Size, description: Some(e.to_string()) }))
                }
            },
            signal = s.hub.recv() => match signal {
                Some(Signal::AccessChanged) => s.recheck(true).await,
                Some(Signal::Event(e)) => s.deliver(&e).await,
                Some(Signal::Resync) => {
                    // What was missed may include a change of access: check it first.
                    let mut r = s.recheck(true).await;
                    let topics: Vec<Topic> = s.subs.keys().copied().collect();
                    for t in topics {
                        if r.is_err() {
                            break;
                        }
                        r = s.catch_up(t).await;
                    }
                    r
                }
                None => Err(End::Gone),
            },
            _ = heartbeat.tick() => {
                beats = beats.wrapping_add(1);
                // Changes of access are announced on the bus; this catches any that were not.
                let checked = if beats.is_multiple_of(SESSION_CHECK_EVERY) {
                    s.recheck(false).await
                } else {
                    Ok(())
                };
                if let Err(end) = checked {
                    Err(end)
                } else if heard.elapsed() > CLIENT_TIMEOUT {
                    Err(End::Close(CloseReason { code: CloseCode::Away, description: Some("idle timeout".into()) }))
                } else {
                    s.out.try_send(Outgoing::Ping).map_err(|_| End::Gone)
                }
            }
        };
        if let Err(end) = step {
            break end;
        }
    };
    state.metrics.ws_sessions.dec();
    drop(s);
    if let End::Close(reason) = end {
        // A client that stopped reading may never take the close frame: don't wait on it.
        let _ = tokio::time::timeout(Duration::from_secs(1), session.close(Some(reason))).await;
    }
}

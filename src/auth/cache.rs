//! Who a session token stands for, kept in memory for a short while so that a busy client
//! (a tablet at the till) does not pay three reads per request.
//!
//! An entry is trusted for [`FRESH`] at most, and never past its session's expiry. Every
//! change of access is announced on the bus (`access:{user}`, see `AppState::access_changed`):
//! each node drops that user's entries at once, so a revoked session or a removed staff
//! member stops on every node immediately. When the bus may have lost a message (Redis
//! reconnected), the whole cache is dropped.

use super::Principal;
use crate::live::bus::BusSignal;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use uuid::Uuid;

/// How long a cached session is trusted without reading it again.
pub const FRESH: Duration = Duration::seconds(30);
/// Entries kept at most; past that, the cache starts afresh.
const CAPACITY: usize = 100_000;

#[derive(Clone)]
struct Entry {
    principal: Principal,
    session_expires: DateTime<Utc>,
    read_at: DateTime<Utc>,
}

/// Sessions by the hash of their token.
#[derive(Clone, Default)]
pub struct SessionCache {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

impl SessionCache {
    /// A cache that listens to `bus` for changes of access.
    pub fn start(mut bus: broadcast::Receiver<BusSignal>) -> Self {
        let cache = Self::default();
        let listener = cache.clone();
        tokio::spawn(async move {
            loop {
                match bus.recv().await {
                    Ok(BusSignal::Event(e)) => {
                        if let Some(user) = e
                            .topic
                            .strip_prefix("access:")
                            .and_then(|u| Uuid::parse_str(u).ok())
                        {
                            listener.forget_user(user);
                        }
                    }
                    Ok(BusSignal::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        listener.clear();
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        cache
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The principal for `token_hash` if it was read less than [`FRESH`] ago and its
    /// session has not expired.
    pub fn get(&self, token_hash: &str, now: DateTime<Utc>) -> Option<Principal> {
        let entries = self.lock();
        let e = entries.get(token_hash)?;
        (now < e.session_expires && now - e.read_at < FRESH && e.read_at <= now)
            .then(|| e.principal.clone())
    }

    pub fn put(
        &self,
        token_hash: String,
        principal: Principal,
        session_expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        let mut entries = self.lock();
        if entries.len() >= CAPACITY {
            entries.retain(|_, e| now < e.session_expires && now - e.read_at < FRESH);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            token_hash,
            Entry {
                principal,
                session_expires,
                read_at: now,
            },
        );
    }

    /// Drops every entry of `user` (their access changed).
    pub fn forget_user(&self, user: Uuid) {
        self.lock().retain(|_, e| e.principal.user_id != user);
    }

    pub fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actors::AccountKind;

    fn principal(user: Uuid) -> Principal {
        Principal {
            user_id: user,
            session_id: Uuid::now_v7(),
            kind: AccountKind::Customer,
            staff: None,
        }
    }

    #[test]
    fn an_entry_is_trusted_for_a_short_while_and_never_past_its_session() {
        let cache = SessionCache::default();
        let now = Utc::now();
        let user = Uuid::now_v7();
        cache.put(
            "a".into(),
            principal(user),
            now + Duration::seconds(60),
            now,
        );
        assert!(cache.get("a", now + Duration::seconds(29)).is_some());
        assert!(cache.get("a", now + FRESH).is_none(), "read again");
        cache.put("b".into(), principal(user), now + Duration::seconds(5), now);
        assert!(
            cache.get("b", now + Duration::seconds(6)).is_none(),
            "expired"
        );
        assert!(cache.get("c", now).is_none());
    }

    #[tokio::test]
    async fn a_change_of_access_on_the_bus_drops_the_users_entries() {
        use crate::live::bus::{EventBus, LiveEvent, LocalBus};
        let bus = LocalBus::default();
        let cache = SessionCache::start(bus.subscribe());
        let now = Utc::now();
        let (gone, kept) = (Uuid::now_v7(), Uuid::now_v7());
        cache.put("g".into(), principal(gone), now + Duration::hours(1), now);
        cache.put("k".into(), principal(kept), now + Duration::hours(1), now);
        bus.publish(vec![LiveEvent {
            topic: format!("access:{gone}"),
            seq: 0,
            kind: "access_changed".into(),
            data: serde_json::json!({}),
            at: now,
            donor_seq: None,
        }])
        .await;
        for _ in 0..100 {
            if cache.get("g", now).is_none() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(cache.get("g", now).is_none());
        assert!(cache.get("k", now).is_some());
    }
}

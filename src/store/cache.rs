//! Small in-process caches for what the hot paths would otherwise read on every request:
//! a venue's terms (commission and currency) and the card a till's code stands for.
//!
//! Neither is trusted for anything that could go wrong if it were stale: a partner's
//! commission and country are set when the partner is created and no endpoint changes
//! them (a future one must call [`TtlCache::forget`]; the entries also expire); a code's
//! card carries the code's version, which the card's actor checks against its own state
//! (`DomainError::CodeReplaced`), so a code replaced by a transfer spends nothing even
//! while an entry for it survives somewhere.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A bounded map whose entries expire `ttl` after they were put.
pub struct TtlCache<K, V> {
    entries: Arc<Mutex<HashMap<K, (V, Instant)>>>,
    ttl: Duration,
    capacity: usize,
}

impl<K, V> Clone for TtlCache<K, V> {
    fn clone(&self) -> Self {
        Self {
            entries: self.entries.clone(),
            ttl: self.ttl,
            capacity: self.capacity,
        }
    }
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            entries: Arc::new(Mutex::new(HashMap::new())),
            ttl,
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (V, Instant)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, key: &K) -> Option<V> {
        self.get_at(key, Instant::now())
    }

    fn get_at(&self, key: &K, now: Instant) -> Option<V> {
        let entries = self.lock();
        let (v, at) = entries.get(key)?;
        (now.saturating_duration_since(*at) < self.ttl).then(|| v.clone())
    }

    pub fn put(&self, key: K, value: V) {
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            let ttl = self.ttl;
            entries.retain(|_, (_, at)| at.elapsed() < ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (value, Instant::now()));
    }

    pub fn forget(&self, key: &K) {
        self.lock().remove(key);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a venue's spends need to know of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartnerTerms {
    pub commission_bps: u32,
    pub currency: actors::money::Currency,
}

/// The card a code stands for, and which of the card's codes it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardHandle {
    pub card_id: Uuid,
    pub code_version: u32,
}

/// The caches of one node.
#[derive(Clone)]
pub struct Caches {
    pub partner_terms: TtlCache<Uuid, PartnerTerms>,
    /// By the code's lookup hash (never the code itself).
    pub card_handles: TtlCache<String, CardHandle>,
}

impl Default for Caches {
    fn default() -> Self {
        Self {
            partner_terms: TtlCache::new(Duration::from_secs(60), 10_000),
            card_handles: TtlCache::new(Duration::from_secs(600), 100_000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_cache_stays_bounded() {
        let c: TtlCache<u32, u32> = TtlCache::new(Duration::from_secs(30), 3);
        c.put(1, 10);
        assert_eq!(c.get(&1), Some(10));
        let later = Instant::now() + Duration::from_secs(31);
        assert_eq!(c.get_at(&1, later), None, "expired");
        for k in 0..10 {
            c.put(k, k);
        }
        assert!(c.len() <= 3, "{}", c.len());
        c.forget(&9);
        assert_eq!(c.get(&9), None);
    }
}

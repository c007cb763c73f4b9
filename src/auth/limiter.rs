//! Login rate limiting, per account and per client address, over sliding windows.
//!
//! Counts live in this process's memory: with several nodes each enforces its own
//! limits, so an attacker spreading attempts over N nodes gets N times the budget. That
//! is a known, accepted bound until the limiter moves to Redis.

use crate::clock::SharedClock;
use chrono::{DateTime, Duration, Utc};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Failed logins allowed per account within [`ACCOUNT_WINDOW`].
pub const ACCOUNT_MAX_FAILURES: usize = 5;
pub const ACCOUNT_WINDOW: Duration = Duration::minutes(15);
/// Login attempts (failed or not) allowed per client address within [`IP_WINDOW`].
pub const IP_MAX_ATTEMPTS: usize = 20;
pub const IP_WINDOW: Duration = Duration::minutes(1);

/// How many failures per key, and attempts per client, a limiter allows.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_failures: usize,
    pub failure_window: Duration,
    pub max_attempts: usize,
    pub attempt_window: Duration,
}

impl Limits {
    /// Logins: 5 failures per account per 15 minutes, 20 attempts per address per minute.
    pub const LOGIN: Limits = Limits {
        max_failures: ACCOUNT_MAX_FAILURES,
        failure_window: ACCOUNT_WINDOW,
        max_attempts: IP_MAX_ATTEMPTS,
        attempt_window: IP_WINDOW,
    };
    /// Anonymous card-code lookups: a well-formed code that matches nothing is a guess;
    /// 5 guesses per address per 15 minutes, 30 lookups per address per minute.
    pub const CODE_LOOKUP: Limits = Limits {
        max_failures: 5,
        failure_window: Duration::minutes(15),
        max_attempts: 30,
        attempt_window: Duration::minutes(1),
    };
    /// Code lookups by a partner's staff at the till: busy, but guesses are still capped.
    pub const STAFF_CODE_LOOKUP: Limits = Limits {
        max_failures: 10,
        failure_window: Duration::minutes(15),
        max_attempts: 1_200,
        attempt_window: Duration::minutes(1),
    };
}
/// Above this many tracked keys, a call sweeps out the ones whose window has passed.
const SWEEP_THRESHOLD: usize = 10_000;

pub struct LoginLimiter {
    clock: SharedClock,
    limits: Limits,
    // One lock for both maps: a login touches both, and the critical section is tiny.
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    account_failures: HashMap<String, VecDeque<DateTime<Utc>>>,
    ip_attempts: HashMap<String, VecDeque<DateTime<Utc>>>,
}

/// Why a login is refused before the password is even checked.
#[derive(Debug, PartialEq, Eq)]
pub struct Limited {
    pub retry_after_secs: u64,
}

impl LoginLimiter {
    /// A limiter with the login limits.
    pub fn new(clock: SharedClock) -> Self {
        Self::with_limits(clock, Limits::LOGIN)
    }

    pub fn with_limits(clock: SharedClock, limits: Limits) -> Self {
        Self {
            clock,
            limits,
            state: Mutex::new(State::default()),
        }
    }

    /// Records an attempt from `ip` for `account`, or refuses it if either is over its
    /// limit. Call before checking the password.
    pub fn check(&self, account: &str, ip: &str) -> Result<(), Limited> {
        let now = self.clock.now();
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let l = self.limits;
        if st.account_failures.len() + st.ip_attempts.len() > SWEEP_THRESHOLD {
            st.account_failures
                .retain(|_, q| q.back().is_some_and(|t| now - *t < l.failure_window));
            st.ip_attempts
                .retain(|_, q| q.back().is_some_and(|t| now - *t < l.attempt_window));
        }
        let wait = |q: &mut VecDeque<DateTime<Utc>>, window: Duration, max: usize| {
            while q.front().is_some_and(|t| now - *t >= window) {
                q.pop_front();
            }
            (q.len() >= max).then(|| {
                let oldest = q.front().copied().unwrap_or(now);
                ((oldest + window) - now)
                    .num_seconds()
                    .max(1)
                    .unsigned_abs()
            })
        };
        let account_wait = st
            .account_failures
            .get_mut(account)
            .and_then(|q| wait(q, l.failure_window, l.max_failures));
        let ip_q = st.ip_attempts.entry(ip.to_owned()).or_default();
        let ip_wait = wait(ip_q, l.attempt_window, l.max_attempts);
        if let Some(secs) = account_wait.max(ip_wait) {
            return Err(Limited {
                retry_after_secs: secs,
            });
        }
        ip_q.push_back(now);
        Ok(())
    }

    pub fn record_failure(&self, account: &str) {
        let now = self.clock.now();
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.account_failures
            .entry(account.to_owned())
            .or_default()
            .push_back(now);
    }

    pub fn record_success(&self, account: &str) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.account_failures.remove(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Arc;

    fn limiter() -> (LoginLimiter, ManualClock) {
        let clock = ManualClock::new(Utc::now());
        (LoginLimiter::new(Arc::new(clock.clone())), clock)
    }

    #[test]
    fn an_account_is_locked_after_five_failures_until_the_window_passes() {
        let (l, clock) = limiter();
        for i in 0..ACCOUNT_MAX_FAILURES {
            l.check("a@x.io", &format!("10.0.0.{i}")).unwrap();
            l.record_failure("a@x.io");
        }
        let err = l.check("a@x.io", "10.0.0.99").unwrap_err();
        assert_eq!(err.retry_after_secs, 15 * 60);
        assert!(
            l.check("b@x.io", "10.0.0.99").is_ok(),
            "other accounts are unaffected"
        );
        clock.advance(ACCOUNT_WINDOW);
        assert!(l.check("a@x.io", "10.0.0.99").is_ok());
    }

    #[test]
    fn success_clears_an_accounts_failures() {
        let (l, _) = limiter();
        for _ in 0..ACCOUNT_MAX_FAILURES - 1 {
            l.record_failure("a@x.io");
        }
        l.record_success("a@x.io");
        l.record_failure("a@x.io");
        assert!(l.check("a@x.io", "ip").is_ok());
    }

    #[test]
    fn an_address_is_limited_across_accounts() {
        let (l, clock) = limiter();
        for i in 0..IP_MAX_ATTEMPTS {
            l.check(&format!("u{i}@x.io"), "1.2.3.4").unwrap();
        }
        assert!(l.check("new@x.io", "1.2.3.4").is_err());
        assert!(l.check("new@x.io", "5.6.7.8").is_ok());
        clock.advance(IP_WINDOW);
        assert!(l.check("new@x.io", "1.2.3.4").is_ok());
    }
}

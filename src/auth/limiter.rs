//! Rate limiting over sliding windows: [`LoginThrottle`] for logins, and the simpler
//! [`LoginLimiter`] (failures per key, attempts per client) for card-code lookups.
//!
//! Logins must keep password guessing out without letting a stranger lock the owner
//! out. So failures lock an account only *for the client that made them* — an address,
//! or a known device (a signed `fimy_device` cookie set by a successful login,
//! [`super::device`]): five failures from one address do not stop the owner on another
//! address or device. Guesses spread over many addresses are slowed down account-wide
//! by a back-off that grows with every failure, and that a known device is exempt from.
//!
//! Counts live in this process's memory: with several nodes each enforces its own
//! limits, so an attacker spreading attempts over N nodes gets N times the budget. That
//! is a known, accepted bound until the limiter moves to Redis.

use crate::clock::SharedClock;
use chrono::{DateTime, Duration, Utc};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Failed logins allowed per (account, client) within [`PAIR_WINDOW`]; a client is an
/// address, or a known device.
pub const PAIR_MAX_FAILURES: usize = 5;
pub const PAIR_WINDOW: Duration = Duration::minutes(15);
/// Login attempts (failed or not) allowed per client address within [`IP_WINDOW`].
pub const IP_MAX_ATTEMPTS: usize = 20;
pub const IP_WINDOW: Duration = Duration::minutes(1);
/// Failures on one account, from anywhere, within [`ACCOUNT_WINDOW`] before the
/// account-wide back-off starts. More than one address can make in that window (the
/// pair limit lets one address fail at most 20 times an hour), so a single stranger
/// never triggers it.
pub const ACCOUNT_BACKOFF_AFTER: usize = 30;
pub const ACCOUNT_WINDOW: Duration = Duration::hours(1);
/// The account-wide back-off: after the latest failure, an attempt from an unknown
/// device waits this long, doubled for every failure beyond [`ACCOUNT_BACKOFF_AFTER`]…
pub const ACCOUNT_BACKOFF_BASE: Duration = Duration::seconds(1);
/// …up to this.
pub const ACCOUNT_BACKOFF_CAP: Duration = Duration::minutes(15);

/// One login attempt, as the throttle sees it.
#[derive(Debug, Clone, Copy)]
pub struct LoginAttempt<'a> {
    /// The account tried (normalized email).
    pub account: &'a str,
    /// The client address.
    pub address: &'a str,
    /// The device id, when the request carries a valid device cookie for this account.
    pub device: Option<&'a str>,
}

impl LoginAttempt<'_> {
    /// Who made it: the known device, else the address.
    fn client(&self) -> String {
        match self.device {
            Some(d) => format!("device:{d}"),
            None => format!("ip:{}", self.address),
        }
    }
}

/// The login limits (see the module documentation).
pub struct LoginThrottle {
    clock: SharedClock,
    // One lock for the three maps: a login touches them together, briefly.
    state: Mutex<ThrottleState>,
}

#[derive(Default)]
struct ThrottleState {
    /// Failures per (account, client).
    pair_failures: HashMap<(String, String), VecDeque<DateTime<Utc>>>,
    /// Attempts per address from unknown devices.
    ip_attempts: HashMap<String, VecDeque<DateTime<Utc>>>,
    /// Failures per account, from any client (at most what the back-off needs).
    account_failures: HashMap<String, VecDeque<DateTime<Utc>>>,
}

/// Most failures kept per account: beyond this the back-off is at its cap anyway.
const ACCOUNT_KEPT: usize = ACCOUNT_BACKOFF_AFTER + 16;

/// Drops what is older than `window`; the wait (seconds) until `q` is under `max`.
fn window_wait(
    q: &mut VecDeque<DateTime<Utc>>,
    now: DateTime<Utc>,
    window: Duration,
    max: usize,
) -> Option<u64> {
    while q.front().is_some_and(|t| now - *t >= window) {
        q.pop_front();
    }
    (q.len() >= max).then(|| {
        let oldest = q.front().copied().unwrap_or(now);
        seconds_until(oldest + window, now)
    })
}

fn seconds_until(at: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    let ms = u64::try_from((at - now).num_milliseconds()).unwrap_or(0);
    ms.div_ceil(1000).max(1)
}

/// The account-wide back-off after `failures` recent failures, if any.
pub fn account_backoff(failures: usize) -> Option<Duration> {
    let beyond = failures.checked_sub(ACCOUNT_BACKOFF_AFTER)?;
    let doublings = u32::try_from(beyond.min(30)).unwrap_or(30);
    let ms = ACCOUNT_BACKOFF_BASE
        .num_milliseconds()
        .saturating_mul(1_i64 << doublings);
    Some(Duration::milliseconds(
        ms.min(ACCOUNT_BACKOFF_CAP.num_milliseconds()),
    ))
}

impl LoginThrottle {
    pub fn new(clock: SharedClock) -> Self {
        Self {
            clock,
            state: Mutex::new(ThrottleState::default()),
        }
    }

    /// Records the attempt, or refuses it when its client is over a limit. Call before
    /// checking the password.
    pub fn check(&self, attempt: &LoginAttempt<'_>) -> Result<(), Limited> {
        let now = self.clock.now();
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.pair_failures.len() + st.ip_attempts.len() + st.account_failures.len()
            > SWEEP_THRESHOLD
        {
            st.pair_failures
                .retain(|_, q| q.back().is_some_and(|t| now - *t < PAIR_WINDOW));
            st.ip_attempts
                .retain(|_, q| q.back().is_some_and(|t| now - *t < IP_WINDOW));
            st.account_failures
                .retain(|_, q| q.back().is_some_and(|t| now - *t < ACCOUNT_WINDOW));
        }
        let key = (attempt.account.to_owned(), attempt.client());
        let pair_wait = st
            .pair_failures
            .get_mut(&key)
            .and_then(|q| window_wait(q, now, PAIR_WINDOW, PAIR_MAX_FAILURES));
        // A known device is neither held back by strangers' failures on the account nor
        // by other logins from its address (a shared network).
        let (account_wait, ip_wait) = if attempt.device.is_some() {
            (None, None)
        } else {
            let account_wait = st.account_failures.get_mut(attempt.account).and_then(|q| {
                while q.front().is_some_and(|t| now - *t >= ACCOUNT_WINDOW) {
                    q.pop_front();
                }
                let until = *q.back()? + account_backoff(q.len())?;
                (until > now).then(|| seconds_until(until, now))
            });
            let ip_q = st
                .ip_attempts
                .entry(attempt.address.to_owned())
                .or_default();
            (
                account_wait,
                window_wait(ip_q, now, IP_WINDOW, IP_MAX_ATTEMPTS),
            )
        };
        if let Some(secs) = pair_wait.max(account_wait).max(ip_wait) {
            return Err(Limited {
                retry_after_secs: secs,
            });
        }
        if attempt.device.is_none() {
            st.ip_attempts
                .entry(attempt.address.to_owned())
                .or_default()
                .push_back(now);
        }
        Ok(())
    }

    /// A wrong password: counts for the (account, client) pair and for the account.
    pub fn record_failure(&self, attempt: &LoginAttempt<'_>) {
        let now = self.clock.now();
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.pair_failures
            .entry((attempt.account.to_owned(), attempt.client()))
            .or_default()
            .push_back(now);
        let q = st
            .account_failures
            .entry(attempt.account.to_owned())
            .or_default();
        q.push_back(now);
        while q.len() > ACCOUNT_KEPT {
            q.pop_front();
        }
    }

    /// The right password: the pair's failures are forgotten. The account's are not —
    /// the owner logging in says nothing about who else is guessing.
    pub fn record_success(&self, attempt: &LoginAttempt<'_>) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.pair_failures
            .remove(&(attempt.account.to_owned(), attempt.client()));
    }
}

/// How many failures per key, and attempts per client, a limiter allows.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_failures: usize,
    pub failure_window: Duration,
    pub max_attempts: usize,
    pub attempt_window: Duration,
}

impl Limits {
    /// Anonymous card-code lookups: a well-formed code that matches nothing is a guess;
    /// 5 guesses per address per 15 minutes, 30 lookups per address per minute.
    pub const CODE_LOOKUP: Limits = Limits {
        max_failures: 5,
        failure_window: Duration::minutes(15),
        max_attempts: 30,
        attempt_window: Duration::minutes(1),
    };
    /// Code lookups by a partner's staff at the till: only guesses count (10 per staff
    /// account per 15 minutes); a busy till is never capped (see `check_guesses`).
    pub const STAFF_CODE_LOOKUP: Limits = Limits {
        max_failures: 10,
        failure_window: Duration::minutes(15),
        max_attempts: usize::MAX,
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

    /// Refuses `account` once it has guessed too often (failures only: honest lookups are
    /// never counted, so a busy till is not slowed down). For staff, whose every lookup is
    /// signed in and who cannot guess without failing.
    pub fn check_guesses(&self, account: &str) -> Result<(), Limited> {
        let now = self.clock.now();
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let l = self.limits;
        let Some(q) = st.account_failures.get_mut(account) else {
            return Ok(());
        };
        while q.front().is_some_and(|t| now - *t >= l.failure_window) {
            q.pop_front();
        }
        if q.len() < l.max_failures {
            return Ok(());
        }
        let oldest = q.front().copied().unwrap_or(now);
        Err(Limited {
            retry_after_secs: ((oldest + l.failure_window) - now)
                .num_seconds()
                .max(1)
                .unsigned_abs(),
        })
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

    const ACCOUNT_MAX_FAILURES: usize = 5;
    const ACCOUNT_WINDOW: Duration = Duration::minutes(15);
    const LIMITS: Limits = Limits {
        max_failures: ACCOUNT_MAX_FAILURES,
        failure_window: ACCOUNT_WINDOW,
        max_attempts: IP_MAX_ATTEMPTS,
        attempt_window: IP_WINDOW,
    };

    fn limiter() -> (LoginLimiter, ManualClock) {
        let clock = ManualClock::new(Utc::now());
        (
            LoginLimiter::with_limits(Arc::new(clock.clone()), LIMITS),
            clock,
        )
    }

    fn throttle() -> (LoginThrottle, ManualClock) {
        let clock = ManualClock::new(Utc::now());
        (LoginThrottle::new(Arc::new(clock.clone())), clock)
    }

    fn from(address: &str) -> LoginAttempt<'_> {
        LoginAttempt {
            account: "owner@x.io",
            address,
            device: None,
        }
    }

    /// `n` failures on the owner's account from `address` (as many as get through).
    fn fail(t: &LoginThrottle, attempt: LoginAttempt<'_>, n: usize) -> usize {
        let mut through = 0;
        for _ in 0..n {
            if t.check(&attempt).is_ok() {
                t.record_failure(&attempt);
                through += 1;
            }
        }
        through
    }

    #[test]
    fn a_strangers_failures_lock_only_the_stranger() {
        let (t, clock) = throttle();
        assert_eq!(fail(&t, from("203.0.113.9"), 50), PAIR_MAX_FAILURES);
        let err = t.check(&from("203.0.113.9")).unwrap_err();
        assert_eq!(err.retry_after_secs, 15 * 60, "the stranger waits");
        assert!(t.check(&from("198.51.100.7")).is_ok(), "the owner does not");
        let device = LoginAttempt {
            device: Some("d1"),
            ..from("203.0.113.9")
        };
        assert!(
            t.check(&device).is_ok(),
            "nor a known device on that network"
        );
        clock.advance(PAIR_WINDOW);
        assert!(t.check(&from("203.0.113.9")).is_ok());
    }

    #[test]
    fn one_address_can_never_start_the_account_back_off() {
        let (t, clock) = throttle();
        let mut through = 0;
        for _ in 0..8 {
            through += fail(&t, from("203.0.113.9"), 10);
            clock.advance(Duration::minutes(15));
        }
        assert_eq!(through, 8 * PAIR_MAX_FAILURES);
        assert!(t.check(&from("198.51.100.7")).is_ok());
    }

    #[test]
    fn many_addresses_slow_the_account_down_but_not_a_known_device() {
        let (t, clock) = throttle();
        for i in 0..ACCOUNT_BACKOFF_AFTER / PAIR_MAX_FAILURES {
            let ip = format!("10.0.0.{i}");
            assert_eq!(fail(&t, from(&ip), PAIR_MAX_FAILURES), PAIR_MAX_FAILURES);
        }
        // At the threshold: the next unknown client waits a second after the last failure.
        let err = t.check(&from("192.0.2.1")).unwrap_err();
        assert_eq!(err.retry_after_secs, 1);
        let known = LoginAttempt {
            device: Some("d1"),
            ..from("192.0.2.1")
        };
        assert!(t.check(&known).is_ok());
        // Each further failure doubles the wait, up to the cap.
        for k in 1..=12 {
            clock.advance(account_backoff(ACCOUNT_BACKOFF_AFTER + k - 1).unwrap());
            let ip = format!("192.0.2.{}", 10 + k);
            assert_eq!(fail(&t, from(&ip), 1), 1, "failure {k}");
            let wait = t.check(&from("192.0.2.200")).unwrap_err().retry_after_secs;
            let expected = (1u64 << k).min(15 * 60);
            assert_eq!(wait, expected, "after {k} more");
        }
        assert!(t.check(&known).is_ok(), "the known device still gets in");
        clock.advance(ACCOUNT_WINDOW);
        assert!(t.check(&from("192.0.2.200")).is_ok(), "it all passes");
    }

    #[test]
    fn success_clears_the_pairs_failures_only() {
        let (t, _) = throttle();
        fail(&t, from("198.51.100.7"), PAIR_MAX_FAILURES - 1);
        t.record_success(&from("198.51.100.7"));
        assert_eq!(
            fail(&t, from("198.51.100.7"), PAIR_MAX_FAILURES),
            PAIR_MAX_FAILURES
        );
        assert!(t.check(&from("198.51.100.7")).is_err());
    }

    #[test]
    fn an_address_is_limited_across_accounts_unless_a_known_device() {
        let (t, clock) = throttle();
        for i in 0..IP_MAX_ATTEMPTS {
            let account = format!("u{i}@x.io");
            let a = LoginAttempt {
                account: &account,
                address: "1.2.3.4",
                device: None,
            };
            t.check(&a).unwrap();
        }
        assert!(t.check(&from("1.2.3.4")).is_err());
        let known = LoginAttempt {
            device: Some("d1"),
            ..from("1.2.3.4")
        };
        assert!(t.check(&known).is_ok());
        clock.advance(IP_WINDOW);
        assert!(t.check(&from("1.2.3.4")).is_ok());
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

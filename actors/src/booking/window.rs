//! When a booking can be validated at the venue: one window, for the QR scan and for the
//! tablet's check-in alike, from [`CHECK_IN_OPENS_BEFORE`] before the start to
//! [`CHECK_IN_CLOSES_AFTER`] after the end. Outside it the value stays on the card.

use chrono::{DateTime, Duration, Utc};

/// Validation opens this long before a booking's start…
pub const CHECK_IN_OPENS_BEFORE: Duration = Duration::hours(2);
/// …and closes this long after its end.
pub const CHECK_IN_CLOSES_AFTER: Duration = Duration::hours(2);

/// The validation window of one booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckInWindow {
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
}

/// Where `now` falls relative to a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowPosition {
    TooEarly,
    Open,
    Closed,
}

impl CheckInWindow {
    /// The window of a booking from `starts_at` to `ends_at`.
    pub fn of(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> Self {
        Self {
            opens_at: starts_at - CHECK_IN_OPENS_BEFORE,
            closes_at: ends_at + CHECK_IN_CLOSES_AFTER,
        }
    }

    /// Where `now` is: both bounds belong to the window.
    pub fn position(&self, now: DateTime<Utc>) -> WindowPosition {
        if now < self.opens_at {
            WindowPosition::TooEarly
        } else if now > self.closes_at {
            WindowPosition::Closed
        } else {
            WindowPosition::Open
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_window_opens_two_hours_before_the_start_and_closes_two_hours_after_the_end() {
        let w = CheckInWindow::of(at("2026-03-01T19:00:00Z"), at("2026-03-01T20:00:00Z"));
        assert_eq!(w.opens_at, at("2026-03-01T17:00:00Z"));
        assert_eq!(w.closes_at, at("2026-03-01T22:00:00Z"));
        assert_eq!(
            w.position(at("2026-02-27T19:00:00Z")),
            WindowPosition::TooEarly
        );
        assert_eq!(
            w.position(at("2026-03-01T16:59:59Z")),
            WindowPosition::TooEarly
        );
        assert_eq!(w.position(w.opens_at), WindowPosition::Open);
        assert_eq!(w.position(w.closes_at), WindowPosition::Open);
        assert_eq!(
            w.position(at("2026-03-01T22:00:01Z")),
            WindowPosition::Closed
        );
    }
}

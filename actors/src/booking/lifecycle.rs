//! A booking's lifecycle: its typed status, the moves between statuses and the rules that
//! allow them (the recipient's cancellation deadline, a no-show only after the start, the
//! check-in window), and the terms a card books on (its experience, party size, partner
//! and currency).
//!
//! ```text
//!   pending ──hold──▶ held ──confirm──▶ confirmed ──check in──▶ completed
//!      │               │                  │  ▲ └────no-show───▶ no_show
//!      │               │                  │  └─reschedule─┘
//!      ├─fail─▶ failed ├─expire─▶ expired │
//!      └───────────────┴─────cancel───────┴──▶ cancelled
//! ```
//!
//! Unlike a slot or a card, a booking has no actor of its own: it is a row moved by the
//! saga in `src/bookings.rs`, fenced by its version, across the slot, the card and the
//! partner's calendar, which are actors. So there is no event log to replay here, and
//! the aggregate is a typed transition function: [`decide`] says, from the booking as read
//! and a [`BookingCommand`], which status to write ([`Step::To`]), that nothing is left to
//! do ([`Step::Done`], a command repeated), or why not ([`BookingError`]); [`apply`] gives
//! the booking after a step. The saga writes the status it was told, and converts
//! [`BookingStatus`] to and from its stored string only where rows are read and written.

use crate::money::Currency;
use crate::{
    booking::window::{CheckInWindow, WindowPosition},
    giftcard::CardKind,
};
use chrono::{DateTime, Duration, Utc};
use std::fmt;
use uuid::Uuid;

/// Where a booking stands. Stored as [`BookingStatus::as_str`] (never rename one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BookingStatus {
    /// Written before the slot and the card are asked; lapses at its hold's expiry.
    Pending,
    /// The slot holds the places and the card the value, until the hold's expiry.
    Held,
    /// The recipient confirmed in time: the places are booked.
    Confirmed,
    /// Validated at the venue: the value is captured.
    Completed,
    /// The recipient did not come: the value is captured too.
    NoShow,
    /// By the recipient or by the partner; places and value are released.
    Cancelled,
    /// Not confirmed before its hold lapsed; places and value are released.
    Expired,
    /// The slot or the card refused while booking.
    Failed,
}

impl BookingStatus {
    pub const ALL: [Self; 8] = [
        Self::Pending,
        Self::Held,
        Self::Confirmed,
        Self::Completed,
        Self::NoShow,
        Self::Cancelled,
        Self::Expired,
        Self::Failed,
    ];
    /// Not yet confirmed, and lapsing at the hold's expiry.
    pub const UNCONFIRMED: [Self; 2] = [Self::Pending, Self::Held];
    /// Booked places: confirmed, and what a confirmed booking becomes at its time.
    pub const BOOKED: [Self; 3] = [Self::Confirmed, Self::Completed, Self::NoShow];

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Held => "held",
            Self::Confirmed => "confirmed",
            Self::Completed => "completed",
            Self::NoShow => "no_show",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::Failed => "failed",
        }
    }

    /// The status stored as `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Pending or held: its places are held, not booked.
    pub fn is_unconfirmed(self) -> bool {
        Self::UNCONFIRMED.contains(&self)
    }

    /// Confirmed, completed or no-show: its places were booked.
    pub fn is_booked(self) -> bool {
        Self::BOOKED.contains(&self)
    }
}

impl fmt::Display for BookingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the rules need of a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Booking {
    pub status: BookingStatus,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// What the saga asks of a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingCommand {
    /// The slot holds the places and the card the value.
    Hold,
    /// The slot or the card refused while booking.
    Fail,
    /// The recipient confirms their hold.
    Confirm,
    /// The hold lapsed (the sweep, or a confirmation that came too late).
    Expire,
    /// The recipient cancels, under the partner's deadline of `cancellation_hours`
    /// before the start for a confirmed booking.
    CancelByHolder { cancellation_hours: i32 },
    /// The partner cancels.
    CancelByPartner,
    /// A confirmed booking moves to another slot (and stays confirmed).
    Reschedule,
    /// The visit is validated at the venue (`now`: when it was validated).
    CheckIn,
    /// The recipient did not come.
    NoShow,
}

/// What a command asks of a booking that a status refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Confirm,
    Cancel,
    Move,
    Settle,
}

/// What [`decide`] allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Write this status (for a reschedule, the same one, on the new slot).
    To(BookingStatus),
    /// The command was already carried out: nothing to write.
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookingError {
    #[error("a {status} booking was booked already")]
    AlreadyBooked { status: BookingStatus },
    #[error("a {status} booking has no hold to lapse")]
    CannotExpire { status: BookingStatus },
    #[error("a {status} booking cannot be confirmed")]
    CannotConfirm { status: BookingStatus },
    #[error("a {status} booking cannot be cancelled")]
    CannotCancel { status: BookingStatus },
    #[error("only a confirmed booking can be moved")]
    CannotMove { status: BookingStatus },
    #[error("a {status} booking cannot be settled")]
    CannotSettle { status: BookingStatus },
    #[error("the hold lapsed before it was confirmed; book again")]
    HoldExpired,
    #[error("this partner takes cancellations until {hours} hours before the start ({deadline})")]
    CancellationDeadlinePassed { hours: i32, deadline: DateTime<Utc> },
    #[error("a no-show is marked after the start")]
    NoShowBeforeStart,
    /// The message says when, in the venue's time: the saga words it.
    #[error("outside the check-in window")]
    OutsideCheckInWindow {
        window: CheckInWindow,
        position: WindowPosition,
    },
    #[error("this card is for another experience")]
    WrongExperience,
    #[error("this card is for {party_size} people")]
    PartySizeFixed { party_size: u32 },
    #[error("this card is not valid at this partner")]
    WrongPartner,
    #[error("this card holds {card}; the experience is priced in {experience} (no conversion)")]
    CurrencyMismatch { card: Currency, experience: String },
    #[error("between 1 and {max} people")]
    PartySizeOutOfRange { max: i32 },
}

impl BookingError {
    /// The field of the request the error is about, if any.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::PartySizeFixed { .. } | Self::PartySizeOutOfRange { .. } => Some("party_size"),
            _ => None,
        }
    }
}

/// The last moment the recipient may cancel a confirmed booking starting at `starts_at`
/// at a partner taking cancellations until `hours` before the start.
pub fn cancellation_deadline(starts_at: DateTime<Utc>, hours: i32) -> DateTime<Utc> {
    starts_at - Duration::hours(i64::from(hours))
}

/// Refuses a validation at `at` outside the booking's check-in window.
pub fn within_check_in_window(b: &Booking, at: DateTime<Utc>) -> Result<(), BookingError> {
    let window = CheckInWindow::of(b.starts_at, b.ends_at);
    match window.position(at) {
        WindowPosition::Open => Ok(()),
        position => Err(BookingError::OutsideCheckInWindow { window, position }),
    }
}

/// Whether `command` may move booking `b` at `now`, and to which status.
pub fn decide(
    b: &Booking,
    command: &BookingCommand,
    now: DateTime<Utc>,
) -> Result<Step, BookingError> {
    use BookingStatus as S;
    let status = b.status;
    match *command {
        // Both come only from the booking just written as pending.
        BookingCommand::Hold | BookingCommand::Fail if status != S::Pending => {
            Err(BookingError::AlreadyBooked { status })
        }
        BookingCommand::Hold => Ok(Step::To(S::Held)),
        BookingCommand::Fail => Ok(Step::To(S::Failed)),
        BookingCommand::Confirm => match status {
            S::Held => Ok(Step::To(S::Confirmed)),
            S::Confirmed => Ok(Step::Done),
            // The sweep got there first.
            S::Expired => Err(BookingError::HoldExpired),
            _ => Err(BookingError::CannotConfirm { status }),
        },
        BookingCommand::Expire if status.is_unconfirmed() => Ok(Step::To(S::Expired)),
        BookingCommand::Expire => Err(BookingError::CannotExpire { status }),
        BookingCommand::CancelByHolder { cancellation_hours } => match status {
            S::Held => Ok(Step::To(S::Cancelled)),
            S::Confirmed => {
                let deadline = cancellation_deadline(b.starts_at, cancellation_hours);
                if now > deadline {
                    Err(BookingError::CancellationDeadlinePassed {
                        hours: cancellation_hours,
                        deadline,
                    })
                } else {
                    Ok(Step::To(S::Cancelled))
                }
            }
            _ => Err(BookingError::CannotCancel { status }),
        },
        BookingCommand::CancelByPartner => match status {
            S::Pending | S::Held | S::Confirmed => Ok(Step::To(S::Cancelled)),
            _ => Err(BookingError::CannotCancel { status }),
        },
        BookingCommand::Reschedule => match status {
            S::Confirmed => Ok(Step::To(S::Confirmed)),
            _ => Err(BookingError::CannotMove { status }),
        },
        BookingCommand::CheckIn => match status {
            S::Completed => Ok(Step::Done),
            S::Confirmed => {
                within_check_in_window(b, now)?;
                Ok(Step::To(S::Completed))
            }
            _ => Err(BookingError::CannotSettle { status }),
        },
        // The time first: even a repeated no-show is refused before the start.
        BookingCommand::NoShow if now < b.starts_at => Err(BookingError::NoShowBeforeStart),
        BookingCommand::NoShow => match status {
            S::NoShow => Ok(Step::Done),
            S::Confirmed => Ok(Step::To(S::NoShow)),
            _ => Err(BookingError::CannotSettle { status }),
        },
    }
}

/// The booking after `step`.
pub fn apply(b: Booking, step: Step) -> Booking {
    match step {
        Step::To(status) => Booking { status, ..b },
        Step::Done => b,
    }
}

/// What the rules need of the experience booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExperienceTerms<'a> {
    pub id: Uuid,
    pub partner_id: Uuid,
    /// As the experience's row stores it.
    pub currency: &'a str,
    /// Most people per booking.
    pub capacity: i32,
    /// Per person, in minor units of `currency`.
    pub price_minor: i64,
}

/// The party a card books `experience` for and the value it holds on the card, or why
/// the card cannot book it: an experience card books only its own experience, for its
/// own party, at its face value; a value card books at its partner (if it names one), in
/// the experience's currency, for 1 to the experience's capacity people (1 if not said),
/// at the experience's price per person.
pub fn terms(
    kind: &CardKind,
    card_currency: Currency,
    face_value: i64,
    experience: &ExperienceTerms<'_>,
    party_size: Option<u32>,
) -> Result<(u32, i64), BookingError> {
    match kind {
        CardKind::Experience {
            experience_id,
            party_size: own,
            ..
        } => {
            if *experience_id != experience.id {
                return Err(BookingError::WrongExperience);
            }
            if party_size.is_some_and(|p| p != *own) {
                return Err(BookingError::PartySizeFixed { party_size: *own });
            }
            Ok((*own, face_value))
        }
        CardKind::Value { partner_id } => {
            if partner_id.is_some_and(|p| p != experience.partner_id) {
                return Err(BookingError::WrongPartner);
            }
            if experience.currency != card_currency.code() {
                return Err(BookingError::CurrencyMismatch {
                    card: card_currency,
                    experience: experience.currency.to_owned(),
                });
            }
            let party = party_size.unwrap_or(1);
            if party == 0 || i64::from(party) > i64::from(experience.capacity) {
                return Err(BookingError::PartySizeOutOfRange {
                    max: experience.capacity,
                });
            }
            Ok((party, experience.price_minor * i64::from(party)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BookingStatus as S;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// A booking from 19:00 to 20:00 on 1 March.
    fn booking(status: BookingStatus) -> Booking {
        Booking {
            status,
            starts_at: at("2026-03-01T19:00:00Z"),
            ends_at: at("2026-03-01T20:00:00Z"),
        }
    }

    /// Well before the start (and any deadline).
    fn early() -> DateTime<Utc> {
        at("2026-02-20T12:00:00Z")
    }

    fn step(
        status: BookingStatus,
        command: BookingCommand,
        now: DateTime<Utc>,
    ) -> Result<Step, BookingError> {
        decide(&booking(status), &command, now)
    }

    /// The statuses `command` is allowed from (at `now`), whatever it leads to.
    fn allowed_from(command: BookingCommand, now: DateTime<Utc>) -> Vec<BookingStatus> {
        S::ALL
            .into_iter()
            .filter(|s| step(*s, command, now).is_ok())
            .collect()
    }

    #[test]
    fn every_status_reads_back_from_its_stored_form_and_nothing_else_does() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
            assert_eq!(s.to_string(), s.as_str());
        }
        let stored: Vec<_> = S::ALL.into_iter().map(S::as_str).collect();
        assert_eq!(
            stored,
            [
                "pending",
                "held",
                "confirmed",
                "completed",
                "no_show",
                "cancelled",
                "expired",
                "failed"
            ]
        );
        assert_eq!(S::parse("Confirmed"), None);
        assert_eq!(S::parse("moved"), None);
        assert_eq!(S::parse(""), None);
    }

    #[test]
    fn pending_and_held_are_unconfirmed_and_confirmed_completed_and_no_show_are_booked() {
        let unconfirmed: Vec<_> = S::ALL.into_iter().filter(|s| s.is_unconfirmed()).collect();
        let booked: Vec<_> = S::ALL.into_iter().filter(|s| s.is_booked()).collect();
        assert_eq!(unconfirmed, [S::Pending, S::Held]);
        assert_eq!(booked, [S::Confirmed, S::Completed, S::NoShow]);
    }

    #[test]
    fn a_pending_booking_becomes_held_or_failed_and_nothing_else_does() {
        assert_eq!(
            step(S::Pending, BookingCommand::Hold, early()),
            Ok(Step::To(S::Held))
        );
        assert_eq!(
            step(S::Pending, BookingCommand::Fail, early()),
            Ok(Step::To(S::Failed))
        );
        assert_eq!(allowed_from(BookingCommand::Hold, early()), [S::Pending]);
        assert_eq!(allowed_from(BookingCommand::Fail, early()), [S::Pending]);
    }

    #[test]
    fn only_a_held_booking_is_confirmed_and_confirming_twice_changes_nothing() {
        assert_eq!(
            step(S::Held, BookingCommand::Confirm, early()),
            Ok(Step::To(S::Confirmed))
        );
        assert_eq!(
            step(S::Confirmed, BookingCommand::Confirm, early()),
            Ok(Step::Done)
        );
        assert_eq!(
            allowed_from(BookingCommand::Confirm, early()),
            [S::Held, S::Confirmed]
        );
        assert_eq!(
            step(S::Cancelled, BookingCommand::Confirm, early()),
            Err(BookingError::CannotConfirm {
                status: S::Cancelled
            })
        );
        assert_eq!(
            BookingError::CannotConfirm { status: S::Pending }.to_string(),
            "a pending booking cannot be confirmed"
        );
    }

    #[test]
    fn confirming_a_lapsed_hold_says_it_expired() {
        let e = step(S::Expired, BookingCommand::Confirm, early()).unwrap_err();
        assert_eq!(e, BookingError::HoldExpired);
        assert_eq!(
            e.to_string(),
            "the hold lapsed before it was confirmed; book again"
        );
    }

    #[test]
    fn only_unconfirmed_bookings_expire() {
        assert_eq!(
            step(S::Held, BookingCommand::Expire, early()),
            Ok(Step::To(S::Expired))
        );
        assert_eq!(
            allowed_from(BookingCommand::Expire, early()),
            [S::Pending, S::Held]
        );
    }

    #[test]
    fn the_recipient_cancels_a_held_or_confirmed_booking_only() {
        let cancel = BookingCommand::CancelByHolder {
            cancellation_hours: 24,
        };
        assert_eq!(allowed_from(cancel, early()), [S::Held, S::Confirmed]);
        assert_eq!(
            step(S::Confirmed, cancel, early()),
            Ok(Step::To(S::Cancelled))
        );
        let e = step(S::Completed, cancel, early()).unwrap_err();
        assert_eq!(
            e,
            BookingError::CannotCancel {
                status: S::Completed
            }
        );
        assert_eq!(e.to_string(), "a completed booking cannot be cancelled");
    }

    #[test]
    fn the_recipient_cancels_a_confirmed_booking_until_the_partners_deadline_included() {
        let cancel = BookingCommand::CancelByHolder {
            cancellation_hours: 24,
        };
        let deadline = at("2026-02-28T19:00:00Z");
        assert_eq!(
            cancellation_deadline(booking(S::Confirmed).starts_at, 24),
            deadline
        );
        assert_eq!(
            step(S::Confirmed, cancel, deadline),
            Ok(Step::To(S::Cancelled))
        );
        let late = deadline + Duration::seconds(1);
        let e = step(S::Confirmed, cancel, late).unwrap_err();
        assert_eq!(
            e,
            BookingError::CancellationDeadlinePassed {
                hours: 24,
                deadline
            }
        );
        assert_eq!(
            e.to_string(),
            "this partner takes cancellations until 24 hours before the start (2026-02-28 19:00:00 UTC)"
        );
    }

    #[test]
    fn a_held_booking_is_cancelled_by_its_recipient_even_after_the_deadline() {
        let cancel = BookingCommand::CancelByHolder {
            cancellation_hours: 48,
        };
        assert_eq!(
            step(S::Held, cancel, at("2026-03-01T18:00:00Z")),
            Ok(Step::To(S::Cancelled))
        );
    }

    #[test]
    fn the_partner_cancels_a_pending_held_or_confirmed_booking_only() {
        assert_eq!(
            allowed_from(BookingCommand::CancelByPartner, at("2026-03-01T18:59:00Z")),
            [S::Pending, S::Held, S::Confirmed]
        );
        assert_eq!(
            step(S::Confirmed, BookingCommand::CancelByPartner, early()),
            Ok(Step::To(S::Cancelled))
        );
    }

    #[test]
    fn only_a_confirmed_booking_is_moved_and_it_stays_confirmed() {
        assert_eq!(
            step(S::Confirmed, BookingCommand::Reschedule, early()),
            Ok(Step::To(S::Confirmed))
        );
        assert_eq!(
            allowed_from(BookingCommand::Reschedule, early()),
            [S::Confirmed]
        );
        assert_eq!(
            step(S::Held, BookingCommand::Reschedule, early())
                .unwrap_err()
                .to_string(),
            "only a confirmed booking can be moved"
        );
    }

    #[test]
    fn a_confirmed_booking_is_checked_in_within_its_window_only() {
        let b = booking(S::Confirmed);
        let opens = at("2026-03-01T17:00:00Z");
        let closes = at("2026-03-01T22:00:00Z");
        assert_eq!(
            decide(&b, &BookingCommand::CheckIn, opens),
            Ok(Step::To(S::Completed))
        );
        assert_eq!(
            decide(&b, &BookingCommand::CheckIn, closes),
            Ok(Step::To(S::Completed))
        );
        let window = CheckInWindow::of(b.starts_at, b.ends_at);
        assert_eq!(
            decide(&b, &BookingCommand::CheckIn, opens - Duration::seconds(1)),
            Err(BookingError::OutsideCheckInWindow {
                window,
                position: WindowPosition::TooEarly
            })
        );
        assert_eq!(
            decide(&b, &BookingCommand::CheckIn, closes + Duration::seconds(1)),
            Err(BookingError::OutsideCheckInWindow {
                window,
                position: WindowPosition::Closed
            })
        );
        assert_eq!(within_check_in_window(&b, opens), Ok(()));
    }

    #[test]
    fn a_completed_booking_checked_in_again_changes_nothing_even_out_of_its_window() {
        assert_eq!(
            step(S::Completed, BookingCommand::CheckIn, early()),
            Ok(Step::Done)
        );
        let e = step(S::Held, BookingCommand::CheckIn, at("2026-03-01T19:00:00Z")).unwrap_err();
        assert_eq!(e.to_string(), "a held booking cannot be settled");
        assert_eq!(
            allowed_from(BookingCommand::CheckIn, at("2026-03-01T19:00:00Z")),
            [S::Confirmed, S::Completed]
        );
    }

    #[test]
    fn a_no_show_is_marked_only_from_the_start_of_a_confirmed_booking() {
        let start = at("2026-03-01T19:00:00Z");
        assert_eq!(
            step(S::Confirmed, BookingCommand::NoShow, start),
            Ok(Step::To(S::NoShow))
        );
        let e = step(
            S::Confirmed,
            BookingCommand::NoShow,
            start - Duration::seconds(1),
        )
        .unwrap_err();
        assert_eq!(e, BookingError::NoShowBeforeStart);
        assert_eq!(e.to_string(), "a no-show is marked after the start");
        assert_eq!(
            allowed_from(BookingCommand::NoShow, start),
            [S::Confirmed, S::NoShow]
        );
        assert_eq!(
            step(S::Cancelled, BookingCommand::NoShow, start),
            Err(BookingError::CannotSettle {
                status: S::Cancelled
            })
        );
    }

    #[test]
    fn a_repeated_no_show_changes_nothing_but_is_still_refused_before_the_start() {
        let start = at("2026-03-01T19:00:00Z");
        assert_eq!(
            step(S::NoShow, BookingCommand::NoShow, start),
            Ok(Step::Done)
        );
        assert_eq!(
            step(S::NoShow, BookingCommand::NoShow, early()),
            Err(BookingError::NoShowBeforeStart)
        );
    }

    #[test]
    fn cancelled_expired_and_failed_bookings_are_final() {
        let start = at("2026-03-01T19:00:00Z");
        let commands = [
            BookingCommand::Hold,
            BookingCommand::Fail,
            BookingCommand::Confirm,
            BookingCommand::Expire,
            BookingCommand::CancelByHolder {
                cancellation_hours: 0,
            },
            BookingCommand::CancelByPartner,
            BookingCommand::Reschedule,
            BookingCommand::CheckIn,
            BookingCommand::NoShow,
        ];
        for status in [S::Cancelled, S::Expired, S::Failed] {
            for c in commands {
                assert!(step(status, c, start).is_err(), "{status} accepted {c:?}");
            }
        }
    }

    #[test]
    fn applying_a_step_sets_its_status_and_a_done_step_keeps_the_booking() {
        let b = booking(S::Held);
        assert_eq!(apply(b, Step::To(S::Confirmed)).status, S::Confirmed);
        assert_eq!(apply(b, Step::To(S::Confirmed)).starts_at, b.starts_at);
        assert_eq!(apply(b, Step::Done), b);
    }

    fn experience(currency: &'static str) -> ExperienceTerms<'static> {
        ExperienceTerms {
            id: Uuid::from_u128(1),
            partner_id: Uuid::from_u128(2),
            currency,
            capacity: 4,
            price_minor: 5_000,
        }
    }

    fn experience_card(experience_id: Uuid, party_size: u32) -> CardKind {
        CardKind::Experience {
            experience_id,
            partner_id: Uuid::from_u128(2),
            party_size,
        }
    }

    #[test]
    fn an_experience_card_books_its_own_experience_for_its_party_at_its_face_value() {
        let e = experience("EUR");
        let card = experience_card(e.id, 2);
        assert_eq!(terms(&card, Currency::Eur, 9_000, &e, None), Ok((2, 9_000)));
        assert_eq!(
            terms(&card, Currency::Eur, 9_000, &e, Some(2)),
            Ok((2, 9_000))
        );
        let other = experience_card(Uuid::from_u128(9), 2);
        assert_eq!(
            terms(&other, Currency::Eur, 9_000, &e, None),
            Err(BookingError::WrongExperience)
        );
        let e3 = terms(&card, Currency::Eur, 9_000, &e, Some(3)).unwrap_err();
        assert_eq!(e3, BookingError::PartySizeFixed { party_size: 2 });
        assert_eq!(e3.to_string(), "this card is for 2 people");
        assert_eq!(e3.field(), Some("party_size"));
    }

    #[test]
    fn a_value_card_books_only_at_its_partner_when_it_names_one() {
        let e = experience("EUR");
        let anywhere = CardKind::Value { partner_id: None };
        let here = CardKind::Value {
            partner_id: Some(e.partner_id),
        };
        let elsewhere = CardKind::Value {
            partner_id: Some(Uuid::from_u128(7)),
        };
        assert!(terms(&anywhere, Currency::Eur, 100_000, &e, None).is_ok());
        assert!(terms(&here, Currency::Eur, 100_000, &e, None).is_ok());
        assert_eq!(
            terms(&elsewhere, Currency::Eur, 100_000, &e, None),
            Err(BookingError::WrongPartner)
        );
    }

    #[test]
    fn a_value_card_books_only_in_its_own_currency() {
        let card = CardKind::Value { partner_id: None };
        let e = terms(&card, Currency::Eur, 100_000, &experience("GBP"), None).unwrap_err();
        assert_eq!(
            e,
            BookingError::CurrencyMismatch {
                card: Currency::Eur,
                experience: "GBP".to_owned()
            }
        );
        assert_eq!(
            e.to_string(),
            "this card holds EUR; the experience is priced in GBP (no conversion)"
        );
        assert_eq!(e.field(), None);
    }

    #[test]
    fn a_value_card_books_one_to_capacity_people_at_the_price_per_person() {
        let card = CardKind::Value { partner_id: None };
        let e = experience("EUR");
        assert_eq!(
            terms(&card, Currency::Eur, 100_000, &e, None),
            Ok((1, 5_000))
        );
        assert_eq!(
            terms(&card, Currency::Eur, 100_000, &e, Some(4)),
            Ok((4, 20_000))
        );
        for refused in [0, 5] {
            let err = terms(&card, Currency::Eur, 100_000, &e, Some(refused)).unwrap_err();
            assert_eq!(err, BookingError::PartySizeOutOfRange { max: 4 });
            assert_eq!(err.to_string(), "between 1 and 4 people");
            assert_eq!(err.field(), Some("party_size"));
        }
    }
}

//! Bookings: availability rules turned into bookable slots in the partner's time zone,
//! the slot (capacity, holds with a time-to-live, confirmations, cancellations) and the
//! partner's calendar (its rules and the ordered log of its changes), and the booking's
//! own lifecycle (its status and the rules that move it).

pub mod availability;
pub mod calendar;
pub mod lifecycle;
pub mod slot;
pub mod window;

pub use availability::{AvailabilityRules, SlotTime};
pub use calendar::{Calendar, CalendarCommand, CalendarError, CalendarEvent, Calendars};
pub use lifecycle::{Booking, BookingCommand, BookingError, BookingStatus, ExperienceTerms, Step};
pub use slot::{Slot, SlotCommand, SlotError, SlotEvent, Slots};
pub use window::{CHECK_IN_CLOSES_AFTER, CHECK_IN_OPENS_BEFORE, CheckInWindow, WindowPosition};

/// How long a hold keeps its place while the recipient confirms.
pub const HOLD_TTL_MINUTES: i64 = 5;

/// The id of the slot of `experience` starting at `starts_at`: the same on every node,
/// so two nodes asked for the same slot address the same actor and the same row.
pub fn slot_id(experience: uuid::Uuid, starts_at: chrono::DateTime<chrono::Utc>) -> uuid::Uuid {
    uuid::Uuid::new_v5(
        &experience,
        format!("slot:{}", starts_at.timestamp()).as_bytes(),
    )
}

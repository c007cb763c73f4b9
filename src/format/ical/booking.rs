//! A booking as a calendar event: the one mapping behind the `.ics` attached to a booking's
//! email, the `.ics` endpoint and the partner's calendar feed. The recipient's event says
//! what and where; the partner's says who, how many and for how much.

use super::{Event, EventStatus};
use crate::format;
use actors::Locale;
use actors::booking::BookingStatus;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use entities::{booking, partner};

/// Whose calendar the event goes in.
#[derive(Debug, Clone, Copy)]
pub enum Audience<'a> {
    /// The person who booked: what, where, and to show the card on arrival.
    Recipient,
    /// The venue: who comes, how many, and the amount.
    Partner { customer: &'a str },
}

/// The venue's time zone (UTC, logged, for a zone the tz database does not know).
pub fn venue_zone(p: &partner::Model) -> Tz {
    p.timezone.parse().unwrap_or_else(|_| {
        tracing::warn!(partner = %p.id, timezone = %p.timezone, "unknown partner time zone");
        Tz::UTC
    })
}

/// Booking `b` (whose status is `status`) of the experience `title` at venue `p`, as
/// `audience` sees it in `lang`, stamped `now`.
pub fn event(
    b: &booking::Model,
    status: BookingStatus,
    p: Option<&partner::Model>,
    title: &str,
    audience: Audience<'_>,
    lang: Locale,
    now: DateTime<Utc>,
) -> Event {
    let venue = p.map_or("", |p| p.name.as_str());
    let people = format::people(lang, b.party_size);
    let (summary, description) = match audience {
        Audience::Recipient => (
            if venue.is_empty() {
                title.to_owned()
            } else {
                format!("{title} — {venue}")
            },
            match lang {
                Locale::Fr => format!(
                    "Réservation Fimy pour {people}.\nPrésentez votre carte cadeau à l'arrivée.\nRéférence : {}",
                    b.id
                ),
                Locale::En => format!(
                    "Fimy booking for {people}.\nShow your gift card on arrival.\nReference: {}",
                    b.id
                ),
            },
        ),
        Audience::Partner { customer } => {
            let amount = format::money(lang, b.amount, &b.currency);
            (
                format!("{title} — {customer} ({})", b.party_size),
                match lang {
                    Locale::Fr => format!(
                        "Client : {customer}\nPersonnes : {}\nMontant : {amount}\nRéférence : {}",
                        b.party_size, b.id
                    ),
                    Locale::En => format!(
                        "Customer: {customer}\nParty: {}\nAmount: {amount}\nReference: {}",
                        b.party_size, b.id
                    ),
                },
            )
        }
    };
    Event {
        uid: format!("{}@fimy", b.id),
        stamp: now,
        start: b.starts_at,
        end: b.ends_at,
        tz: p.map_or(Tz::UTC, venue_zone),
        summary,
        location: p.map_or_else(String::new, |p| format::place(&p.name, &p.address, &p.city)),
        description,
        status: EventStatus::of_booking(status),
        sequence: b.version,
        last_modified: Some(b.updated_at),
    }
}

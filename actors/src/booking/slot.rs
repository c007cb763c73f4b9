//! A bookable slot: capacity, and the holds on it. A hold keeps places for a booking
//! while its recipient confirms, and lapses by itself after its time-to-live; a
//! confirmed hold is a booked place. Overbooking is impossible by construction: a hold
//! is placed only if it fits, and every change goes through the slot's actor and its
//! version fence (plus a database check that held + booked never exceeds capacity).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotHold {
    pub party: u32,
    pub expires_at: DateTime<Utc>,
    pub confirmed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub id: Uuid,
    pub experience_id: Uuid,
    pub partner_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: u32,
    /// By booking id.
    pub holds: BTreeMap<Uuid, SlotHold>,
}

impl Slot {
    /// People in unconfirmed holds.
    pub fn held(&self) -> u32 {
        self.holds
            .values()
            .filter(|h| !h.confirmed)
            .map(|h| h.party)
            .sum()
    }

    /// People in confirmed bookings.
    pub fn booked(&self) -> u32 {
        self.holds
            .values()
            .filter(|h| h.confirmed)
            .map(|h| h.party)
            .sum()
    }

    pub fn free(&self) -> u32 {
        self.capacity.saturating_sub(self.held() + self.booked())
    }

    /// When the earliest unconfirmed hold lapses.
    pub fn next_expiry(&self) -> Option<DateTime<Utc>> {
        self.holds
            .values()
            .filter(|h| !h.confirmed)
            .map(|h| h.expires_at)
            .min()
    }

    fn lapsed(&self, now: DateTime<Utc>) -> Vec<SlotEvent> {
        self.holds
            .iter()
            .filter(|(_, h)| !h.confirmed && h.expires_at <= now)
            .map(|(id, h)| SlotEvent::HoldExpired {
                booking_id: *id,
                party: h.party,
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SlotCommand {
    /// Creates the slot the first time it is needed (a no-op afterwards).
    Open {
        experience_id: Uuid,
        partner_id: Uuid,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        capacity: u32,
    },
    /// Keeps `party` places for a booking until `expires_at`.
    Hold {
        booking_id: Uuid,
        party: u32,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    /// Turns a live hold into booked places.
    Confirm {
        booking_id: Uuid,
        now: DateTime<Utc>,
    },
    /// Holds and confirms at once (a booking moving here from another slot).
    Book {
        booking_id: Uuid,
        party: u32,
        now: DateTime<Utc>,
    },
    /// Frees a booking's places (cancelled, or its payment step failed).
    Release { booking_id: Uuid },
    /// Lets lapsed holds go.
    ExpireHolds { now: DateTime<Utc> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum SlotEvent {
    SlotOpened {
        experience_id: Uuid,
        partner_id: Uuid,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        capacity: u32,
    },
    HoldPlaced {
        booking_id: Uuid,
        party: u32,
        expires_at: DateTime<Utc>,
    },
    HoldConfirmed {
        booking_id: Uuid,
    },
    PlacesBooked {
        booking_id: Uuid,
        party: u32,
    },
    PlacesReleased {
        booking_id: Uuid,
        party: u32,
    },
    HoldExpired {
        booking_id: Uuid,
        party: u32,
    },
}

impl SlotEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SlotOpened { .. } => "slot_opened",
            Self::HoldPlaced { .. } => "hold_placed",
            Self::HoldConfirmed { .. } => "hold_confirmed",
            Self::PlacesBooked { .. } => "places_booked",
            Self::PlacesReleased { .. } => "places_released",
            Self::HoldExpired { .. } => "hold_expired",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    #[error("this slot does not exist")]
    NotFound,
    #[error("not enough places left in this slot ({free} free)")]
    Full { free: u32 },
    #[error("this slot has started")]
    Started,
    #[error("the hold lapsed before it was confirmed; book again")]
    HoldLapsed,
    #[error("this booking holds no place here")]
    UnknownBooking,
    #[error("the party must be at least one person")]
    EmptyParty,
}

fn place(slot: &Slot, party: u32, now: DateTime<Utc>) -> Result<Vec<SlotEvent>, SlotError> {
    if party == 0 {
        return Err(SlotError::EmptyParty);
    }
    if now >= slot.starts_at {
        return Err(SlotError::Started);
    }
    // Lapsed holds give their places back first, in the same commit.
    let lapsed = slot.lapsed(now);
    let freed: u32 = lapsed
        .iter()
        .map(|e| match e {
            SlotEvent::HoldExpired { party, .. } => *party,
            _ => 0,
        })
        .sum();
    let free = slot.free() + freed;
    if party > free {
        return Err(SlotError::Full { free });
    }
    Ok(lapsed)
}

pub fn decide(slot: Option<&Slot>, cmd: &SlotCommand) -> Result<Vec<SlotEvent>, SlotError> {
    let Some(slot) = slot else {
        return match cmd {
            SlotCommand::Open {
                experience_id,
                partner_id,
                starts_at,
                ends_at,
                capacity,
            } => Ok(vec![SlotEvent::SlotOpened {
                experience_id: *experience_id,
                partner_id: *partner_id,
                starts_at: *starts_at,
                ends_at: *ends_at,
                capacity: *capacity,
            }]),
            _ => Err(SlotError::NotFound),
        };
    };
    match cmd {
        SlotCommand::Open { .. } => Ok(vec![]),
        SlotCommand::Hold {
            booking_id,
            party,
            expires_at,
            now,
        } => {
            if slot.holds.contains_key(booking_id) {
                return Ok(vec![]); // the same hold asked twice
            }
            let mut events = place(slot, *party, *now)?;
            events.push(SlotEvent::HoldPlaced {
                booking_id: *booking_id,
                party: *party,
                expires_at: *expires_at,
            });
            Ok(events)
        }
        SlotCommand::Book {
            booking_id,
            party,
            now,
        } => {
            if slot.holds.get(booking_id).is_some_and(|h| h.confirmed) {
                return Ok(vec![]);
            }
            let mut events = place(slot, *party, *now)?;
            events.push(SlotEvent::PlacesBooked {
                booking_id: *booking_id,
                party: *party,
            });
            Ok(events)
        }
        SlotCommand::Confirm { booking_id, now } => match slot.holds.get(booking_id) {
            Some(h) if h.confirmed => Ok(vec![]),
            Some(h) if h.expires_at > *now => Ok(vec![SlotEvent::HoldConfirmed {
                booking_id: *booking_id,
            }]),
            Some(_) => Err(SlotError::HoldLapsed),
            None => Err(SlotError::UnknownBooking),
        },
        SlotCommand::Release { booking_id } => Ok(slot
            .holds
            .get(booking_id)
            .map(|h| SlotEvent::PlacesReleased {
                booking_id: *booking_id,
                party: h.party,
            })
            .into_iter()
            .collect()),
        SlotCommand::ExpireHolds { now } => Ok(slot.lapsed(*now)),
    }
}

pub fn apply(slot: Option<Slot>, id: Uuid, event: &SlotEvent) -> Option<Slot> {
    if let SlotEvent::SlotOpened {
        experience_id,
        partner_id,
        starts_at,
        ends_at,
        capacity,
    } = event
    {
        return Some(Slot {
            id,
            experience_id: *experience_id,
            partner_id: *partner_id,
            starts_at: *starts_at,
            ends_at: *ends_at,
            capacity: *capacity,
            holds: BTreeMap::new(),
        });
    }
    let mut s = slot?;
    match event {
        SlotEvent::SlotOpened { .. } => {}
        SlotEvent::HoldPlaced {
            booking_id,
            party,
            expires_at,
        } => {
            s.holds.insert(
                *booking_id,
                SlotHold {
                    party: *party,
                    expires_at: *expires_at,
                    confirmed: false,
                },
            );
        }
        SlotEvent::HoldConfirmed { booking_id } => {
            if let Some(h) = s.holds.get_mut(booking_id) {
                h.confirmed = true;
            }
        }
        SlotEvent::PlacesBooked { booking_id, party } => {
            s.holds.insert(
                *booking_id,
                SlotHold {
                    party: *party,
                    expires_at: s.starts_at,
                    confirmed: true,
                },
            );
        }
        SlotEvent::PlacesReleased { booking_id, .. }
        | SlotEvent::HoldExpired { booking_id, .. } => {
            s.holds.remove(booking_id);
        }
    }
    Some(s)
}

/// The slot as an entity kind of the actor runtime.
#[derive(Debug)]
pub struct Slots;

impl crate::runtime::Aggregate for Slots {
    type State = Slot;
    type Command = SlotCommand;
    type Event = SlotEvent;
    type Error = SlotError;
    type Side = ();

    fn decide(state: Option<&Slot>, command: &SlotCommand) -> Result<Vec<SlotEvent>, SlotError> {
        decide(state, command)
    }
    fn apply(state: Option<Slot>, id: Uuid, event: &SlotEvent) -> Option<Slot> {
        apply(state, id, event)
    }
    fn event_kind(event: &SlotEvent) -> &'static str {
        event.kind()
    }
    fn event_data(event: &SlotEvent) -> serde_json::Value {
        match serde_json::to_value(event) {
            Ok(serde_json::Value::Object(mut m)) => m.remove("data").unwrap_or_default(),
            _ => serde_json::Value::Null,
        }
    }
    fn not_found() -> SlotError {
        SlotError::NotFound
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn t(m: i64) -> DateTime<Utc> {
        "2026-06-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(m)
    }

    fn open(capacity: u32) -> Slot {
        let id = Uuid::now_v7();
        let events = decide(
            None,
            &SlotCommand::Open {
                experience_id: Uuid::now_v7(),
                partner_id: Uuid::now_v7(),
                starts_at: t(600),
                ends_at: t(660),
                capacity,
            },
        )
        .unwrap();
        events.iter().fold(None, |s, e| apply(s, id, e)).unwrap()
    }

    fn step(s: &Slot, cmd: SlotCommand) -> Result<Slot, SlotError> {
        let events = decide(Some(s), &cmd)?;
        Ok(events
            .iter()
            .try_fold(s.clone(), |x, e| apply(Some(x), s.id, e))
            .unwrap())
    }

    fn hold(id: Uuid, party: u32, now: i64) -> SlotCommand {
        SlotCommand::Hold {
            booking_id: id,
            party,
            expires_at: t(now + 5),
            now: t(now),
        }
    }

    #[test]
    fn holds_fit_the_capacity_or_are_refused() {
        let s = open(4);
        let s = step(&s, hold(Uuid::now_v7(), 3, 0)).unwrap();
        assert_eq!(
            step(&s, hold(Uuid::now_v7(), 2, 0)),
            Err(SlotError::Full { free: 1 })
        );
        let s = step(&s, hold(Uuid::now_v7(), 1, 0)).unwrap();
        assert_eq!((s.held(), s.free()), (4, 0));
    }

    #[test]
    fn a_lapsed_hold_frees_its_places_and_cannot_be_confirmed() {
        let s = open(2);
        let a = Uuid::now_v7();
        let s = step(&s, hold(a, 2, 0)).unwrap();
        assert_eq!(
            step(
                &s,
                SlotCommand::Confirm {
                    booking_id: a,
                    now: t(6)
                }
            ),
            Err(SlotError::HoldLapsed)
        );
        let b = Uuid::now_v7();
        let s = step(&s, hold(b, 2, 6)).unwrap();
        assert!(
            !s.holds.contains_key(&a),
            "the lapsed hold went in the same commit"
        );
        let s = step(
            &s,
            SlotCommand::Confirm {
                booking_id: b,
                now: t(7),
            },
        )
        .unwrap();
        assert_eq!((s.booked(), s.held(), s.next_expiry()), (2, 0, None));
    }

    #[test]
    fn releasing_and_booking_directly_keep_the_count_right() {
        let s = open(3);
        let a = Uuid::now_v7();
        let s = step(
            &s,
            SlotCommand::Book {
                booking_id: a,
                party: 3,
                now: t(0),
            },
        )
        .unwrap();
        assert_eq!(s.booked(), 3);
        assert!(matches!(
            step(
                &s,
                SlotCommand::Book {
                    booking_id: Uuid::now_v7(),
                    party: 1,
                    now: t(0)
                }
            ),
            Err(SlotError::Full { .. })
        ));
        let s = step(&s, SlotCommand::Release { booking_id: a }).unwrap();
        assert_eq!(s.free(), 3);
        assert_eq!(
            decide(Some(&s), &SlotCommand::Release { booking_id: a }).unwrap(),
            vec![]
        );
    }

    #[test]
    fn a_started_slot_takes_no_new_holds() {
        let s = open(3);
        assert_eq!(
            step(&s, hold(Uuid::now_v7(), 1, 600)),
            Err(SlotError::Started)
        );
    }
}

//! A partner's calendar: the availability rules of each of its experiences, and the
//! ordered log of every change to its bookings. Its actor gives every partner one
//! sequence of calendar events — what the partner's tablet replays and follows live.

use super::availability::AvailabilityRules;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Calendar {
    /// Availability rules by experience.
    pub rules: BTreeMap<Uuid, AvailabilityRules>,
}

/// A booking changed on this partner's calendar, with the slot's counts after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingChange {
    pub booking_id: Uuid,
    pub slot_id: Uuid,
    pub experience_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub party: u32,
    /// The booking's status after the change (`held`, `confirmed`, `cancelled`, …).
    pub status: String,
    pub free: u32,
    pub held: u32,
    pub booked: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CalendarCommand {
    SetRules {
        experience_id: Uuid,
        rules: AvailabilityRules,
    },
    RemoveRules {
        experience_id: Uuid,
    },
    Record(BookingChange),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum CalendarEvent {
    RulesSet {
        experience_id: Uuid,
        rules: AvailabilityRules,
    },
    RulesRemoved {
        experience_id: Uuid,
    },
    BookingChanged(BookingChange),
}

impl CalendarEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RulesSet { .. } => "rules_set",
            Self::RulesRemoved { .. } => "rules_removed",
            Self::BookingChanged(_) => "booking_changed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("invalid availability rules: {0}")]
    InvalidRules(String),
    #[error("this calendar does not exist")]
    NotFound,
}

pub fn decide(
    cal: Option<&Calendar>,
    cmd: &CalendarCommand,
) -> Result<Vec<CalendarEvent>, CalendarError> {
    let empty = Calendar::default();
    let cal = cal.unwrap_or(&empty);
    match cmd {
        CalendarCommand::SetRules {
            experience_id,
            rules,
        } => {
            rules
                .validate()
                .map_err(|e| CalendarError::InvalidRules(e.to_string()))?;
            if cal.rules.get(experience_id) == Some(rules) {
                return Ok(vec![]);
            }
            Ok(vec![CalendarEvent::RulesSet {
                experience_id: *experience_id,
                rules: rules.clone(),
            }])
        }
        CalendarCommand::RemoveRules { experience_id } => Ok(cal
            .rules
            .contains_key(experience_id)
            .then_some(CalendarEvent::RulesRemoved {
                experience_id: *experience_id,
            })
            .into_iter()
            .collect()),
        CalendarCommand::Record(change) => Ok(vec![CalendarEvent::BookingChanged(change.clone())]),
    }
}

pub fn apply(cal: Option<Calendar>, _id: Uuid, event: &CalendarEvent) -> Option<Calendar> {
    let mut c = cal.unwrap_or_default();
    match event {
        CalendarEvent::RulesSet {
            experience_id,
            rules,
        } => {
            c.rules.insert(*experience_id, rules.clone());
        }
        CalendarEvent::RulesRemoved { experience_id } => {
            c.rules.remove(experience_id);
        }
        CalendarEvent::BookingChanged(_) => {}
    }
    Some(c)
}

/// The partner calendar as an entity kind of the actor runtime (id: the partner's).
#[derive(Debug)]
pub struct Calendars;

impl crate::runtime::Aggregate for Calendars {
    type State = Calendar;
    type Command = CalendarCommand;
    type Event = CalendarEvent;
    type Error = CalendarError;
    type Side = ();

    fn decide(
        state: Option<&Calendar>,
        command: &CalendarCommand,
    ) -> Result<Vec<CalendarEvent>, CalendarError> {
        decide(state, command)
    }
    fn apply(state: Option<Calendar>, id: Uuid, event: &CalendarEvent) -> Option<Calendar> {
        apply(state, id, event)
    }
    fn event_kind(event: &CalendarEvent) -> &'static str {
        event.kind()
    }
    fn event_data(event: &CalendarEvent) -> serde_json::Value {
        match serde_json::to_value(event) {
            Ok(serde_json::Value::Object(mut m)) => m.remove("data").unwrap_or_default(),
            _ => serde_json::Value::Null,
        }
    }
    fn not_found() -> CalendarError {
        CalendarError::NotFound
    }
}

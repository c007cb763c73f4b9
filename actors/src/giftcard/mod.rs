//! The gift card: its state, the commands that may change it, the events that record
//! each change, and the pure rules between them (`decide`, `apply`). Money moves as
//! ledger postings derived from events (`ledger`), and each event is chained to the one
//! before it by a SHA-256 hash (the runtime's `chain`, re-exported here).

pub use crate::runtime::chain;
mod access;
mod decide;
pub mod ledger;
pub mod notify;
mod state;

pub use access::{Access, access};
pub use decide::{apply, check_contribution, check_value_amount, decide, replay};
pub use state::*;

/// The gift card as an entity kind of the actor runtime.
#[derive(Debug)]
pub struct GiftCards;

impl crate::runtime::Aggregate for GiftCards {
    type State = GiftCard;
    type Command = Command;
    type Event = Event;
    type Error = DomainError;
    /// A new code (on creation and transfer).
    type Side = crate::runtime::CodeMaterial;

    fn decide(state: Option<&GiftCard>, command: &Command) -> Result<Vec<Event>, DomainError> {
        decide(state, command)
    }

    fn apply(state: Option<GiftCard>, id: uuid::Uuid, event: &Event) -> Option<GiftCard> {
        apply(state, id, event)
    }

    fn event_kind(event: &Event) -> &'static str {
        event.kind()
    }

    fn event_data(event: &Event) -> serde_json::Value {
        event.data()
    }

    fn not_found() -> DomainError {
        DomainError::NotFound
    }
}

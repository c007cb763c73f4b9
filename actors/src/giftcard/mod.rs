//! The gift card: its state, the commands that may change it, the events that record
//! each change, and the pure rules between them (`decide`, `apply`). Money moves as
//! ledger postings derived from events (`ledger`), and each event is chained to the one
//! before it by a SHA-256 hash (`chain`).

pub mod chain;
mod decide;
pub mod ledger;
pub mod notify;
mod state;

pub use decide::{apply, decide, replay};
pub use state::*;

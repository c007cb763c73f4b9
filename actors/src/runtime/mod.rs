//! The actor runtime: one long-lived `GiftCardActor` per active card, activated on its
//! first message (state loaded through the [`CardStore`] port), passivated when idle,
//! spread over worker threads, and re-activated from the database after a crash.
//!
//! Why not actix's `Actor`: an actix actor handles one message at a time and exposes no
//! way to drain its mailbox, which group commit needs; and actix arbiters can only be
//! created inside a running actix `System`. This runtime is the same model — a mailbox
//! per entity on a fixed set of single-threaded executors — built on tokio.

mod actor;
mod ports;
mod registry;
mod workers;

pub use actor::{ActorError, Outcome};
pub use ports::{CardStore, CodeMaterial, Commit, Loaded, RecordedEvent, StoreError};
pub use registry::{Registry, RegistryConfig};

//! The actor runtime: one long-lived actor per active entity (a gift card, a bookable
//! slot, a partner's calendar), activated on its first message (state loaded through a
//! [`Store`] port), passivated when idle, spread over worker threads, and re-activated
//! from the database after a crash.
//!
//! An entity kind plugs in by implementing [`Aggregate`]: pure `decide`/`apply` over its
//! state. The runtime adds the rest: serialization per entity, group commit, the hash
//! chain over each entity's events, and the version fence.
//!
//! Why not actix's `Actor`: an actix actor handles one message at a time and exposes no
//! way to drain its mailbox, which group commit needs; and actix arbiters can only be
//! created inside a running actix `System`. This runtime is the same model — a mailbox
//! per entity on a fixed set of single-threaded executors — built on tokio.

mod actor;
pub mod chain;
mod ports;
mod registry;
mod workers;

pub use actor::{ActorError, Outcome};
pub use ports::{Aggregate, CodeMaterial, Commit, Loaded, RecordedEvent, Store, StoreError};
pub use registry::{Registry, RegistryConfig};
pub use workers::Workers;

/// The gift-card store port (kept under its own name for readability).
pub use ports::Store as CardStore;

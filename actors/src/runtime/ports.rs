//! What the runtime needs from an entity kind ([`Aggregate`]) and from the outside world
//! ([`Store`]), as traits.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// An entity kind: its state, commands, events, and the pure rules between them.
pub trait Aggregate: Send + Sync + 'static {
    type State: Clone + Send + Sync + 'static;
    type Command: Clone + Send + Sync + 'static;
    type Event: Clone + Send + Sync + 'static;
    type Error: Clone + std::fmt::Debug + std::fmt::Display + PartialEq + Send + Sync + 'static;
    /// Data a command may carry for the store only (a card's new code), never put in events.
    type Side: Clone + std::fmt::Debug + Send + Sync + 'static;

    /// What the command does to the state (`None`: the entity does not exist yet).
    fn decide(
        state: Option<&Self::State>,
        command: &Self::Command,
    ) -> Result<Vec<Self::Event>, Self::Error>;
    /// Folds one event into the state.
    fn apply(state: Option<Self::State>, id: Uuid, event: &Self::Event) -> Option<Self::State>;
    /// The event's stable name.
    fn event_kind(event: &Self::Event) -> &'static str;
    /// The event's data (without its kind) as JSON.
    fn event_data(event: &Self::Event) -> serde_json::Value;
    /// The error for a command that produced events but left no state (never expected).
    fn not_found() -> Self::Error;
}

/// An entity as stored: its state and where its event chain stands.
#[derive(Debug, Clone)]
pub struct Loaded<S> {
    pub state: S,
    /// The fence: a commit names the version it read.
    pub version: i64,
    pub last_seq: i64,
    pub last_hash: String,
}

/// An event with its place in the entity's chain.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent<E> {
    pub id: Uuid,
    pub entity_id: Uuid,
    pub seq: i64,
    pub event: E,
    /// The event's data as canonical JSON: exactly what is stored and hashed.
    pub data: String,
    pub at: DateTime<Utc>,
    pub prev_hash: String,
    pub hash: String,
}

/// A card code in the two forms the store keeps: the keyed lookup hash and the
/// encrypted copy for re-delivery. Opaque to the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeMaterial {
    pub lookup_hash: String,
    pub ciphertext: Vec<u8>,
}

/// Everything one group commit writes, in one transaction.
#[derive(Debug)]
pub struct Commit<'a, A: Aggregate> {
    pub id: Uuid,
    /// The version the batch was decided against; 0 when the entity is being created.
    pub expected_version: i64,
    /// The state after the batch.
    pub state: &'a A::State,
    pub events: &'a [RecordedEvent<A::Event>],
    /// Side data of the last command in the batch that carried some.
    pub side: Option<&'a A::Side>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Someone else committed first (the version moved on): reload and decide again.
    #[error("the entity changed concurrently")]
    Conflict,
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Other(String),
}

/// Persistence of one entity kind: state, events, and what derives from them.
#[async_trait::async_trait]
pub trait Store<A: Aggregate>: Send + Sync + 'static {
    async fn load(&self, id: Uuid) -> Result<Option<Loaded<A::State>>, StoreError>;
    /// Writes the batch atomically, fenced on `expected_version`; `Conflict` if it moved.
    async fn commit(&self, commit: Commit<'_, A>) -> Result<(), StoreError>;
}

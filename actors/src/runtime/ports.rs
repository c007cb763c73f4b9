//! What the actors need from the outside world, as traits the application implements.

use crate::giftcard::{Event, GiftCard};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A card as stored: its state and where its event chain stands.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub card: GiftCard,
    /// The fence: a commit names the version it read.
    pub version: i64,
    pub last_seq: i64,
    pub last_hash: String,
}

/// An event with its place in the card's chain.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub id: Uuid,
    pub card_id: Uuid,
    pub seq: i64,
    pub event: Event,
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
pub struct Commit<'a> {
    pub card_id: Uuid,
    /// The version the batch was decided against; 0 when the card is being created.
    pub expected_version: i64,
    /// The state after the batch.
    pub card: &'a GiftCard,
    pub events: &'a [RecordedEvent],
    /// A new code (on creation or transfer).
    pub code: Option<&'a CodeMaterial>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Someone else committed first (the version moved on): reload and decide again.
    #[error("the card changed concurrently")]
    Conflict,
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Other(String),
}

/// Persistence of cards, their events, ledger entries and notifications.
#[async_trait::async_trait]
pub trait CardStore: Send + Sync + 'static {
    async fn load(&self, id: Uuid) -> Result<Option<Loaded>, StoreError>;
    /// Writes the batch atomically, fenced on `expected_version`; `Conflict` if it moved.
    async fn commit(&self, commit: Commit<'_>) -> Result<(), StoreError>;
}

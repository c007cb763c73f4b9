//! The notification port: a `Channel` delivers outbox rows of its kind (email, Web Push,
//! refunds to the payment provider) and owns what it needs to (its database handle, its
//! mailer or push client, its provider); the outbox worker (`workers/outbox.rs`) claims rows and
//! hands each to its channel through `Channels`, knowing none of them by name. Adding a
//! channel (webhooks, say) is a `Channel` implementation, a variant of
//! `actors::notice::Channel` and one line in `startup.rs`.

use chrono::{DateTime, Utc};
use entities::outbox;
use std::sync::Arc;

/// Why a delivery attempt failed, and what the worker should do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Try again later (network error, 5xx, 429, SMTP 4xx): exponential back-off.
    #[error("temporary failure: {0}")]
    Retry(String),
    /// The destination is gone for good (push subscription 404/410, SMTP 5xx on the
    /// mailbox): drop the row (and the subscription), no retries.
    #[error("gone: {0}")]
    Gone(String),
    /// The row cannot be delivered as it is (bad data): dead-letter it at once.
    #[error("undeliverable: {0}")]
    Invalid(String),
}

/// The result of one attempt.
pub type Delivery = Result<(), DeliveryError>;

/// What a channel made of one row.
#[derive(Debug)]
pub enum Attempt {
    /// Tried: delivered or failed.
    Done(Delivery),
    /// Not yet (e.g. the booking is still held): try again then, without counting an
    /// attempt.
    Deferred(DateTime<Utc>),
    /// Nothing to send any more (the card was passed on, the booking lapsed…).
    Skipped(String),
}

/// One way notifications leave the platform.
#[async_trait::async_trait]
pub trait Channel: Send + Sync {
    /// The rows it delivers: those whose `channel` column names this.
    fn kind(&self) -> actors::notice::Channel;

    /// One attempt at delivering `row` (claimed by the caller).
    async fn deliver(&self, row: &outbox::Model) -> Attempt;
}

/// The channels this node delivers on.
#[derive(Clone, Default)]
pub struct Channels(Vec<Arc<dyn Channel>>);

impl std::fmt::Debug for Channels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|c| c.kind().as_str()))
            .finish()
    }
}

impl Channels {
    pub fn new(channels: Vec<Arc<dyn Channel>>) -> Self {
        Self(channels)
    }

    /// The channel for rows stored with `channel` as their channel, if this node has it.
    pub fn for_row(&self, channel: &str) -> Option<&dyn Channel> {
        let kind = actors::notice::Channel::parse(channel)?;
        self.0.iter().find(|c| c.kind() == kind).map(|c| c.as_ref())
    }

    /// The stored names of the channels this node delivers on (the rows it claims).
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|c| c.kind().as_str()).collect()
    }
}

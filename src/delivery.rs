//! What the outbox worker and the channels that deliver its rows (email, Web Push)
//! share: the outcome of one delivery attempt.

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

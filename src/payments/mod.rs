//! The payments port: what the application asks of a payment provider (start a payment,
//! refund it, check and read its webhooks), with two adapters — the embedded
//! [`sandbox::SandboxProvider`] (Stripe-like test cards) and [`stripe::StripeProvider`]
//! (Stripe PaymentIntents). Both announce outcomes through Stripe-shaped, Stripe-signed
//! webhooks, so the application has one path for payment results whichever provider runs.

pub mod sandbox;
pub mod stripe;
pub mod webhook_signature;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use sandbox::{SandboxEvent, SandboxProvider};
pub use stripe::{StripeConfig, StripeProvider};

/// The longest `Idempotency-Key` Stripe accepts.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// A payment provider. Implementations are shared between HTTP workers
/// (`Arc<dyn PaymentProvider>`).
#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync + 'static {
    /// `"sandbox"` or `"stripe"`.
    fn name(&self) -> &'static str;

    /// Starts a payment. `idempotency_key` is forwarded (Stripe: `Idempotency-Key` header):
    /// a retry with the same key returns the first answer instead of paying twice.
    async fn create_payment(&self, req: PaymentRequest) -> Result<PaymentIntent, PaymentError>;

    /// Refunds part or all of a succeeded payment.
    async fn refund(&self, req: RefundRequest) -> Result<RefundOutcome, PaymentError>;

    /// Checks a webhook's signature and parses it. Both providers use Stripe's scheme
    /// (`Stripe-Signature` header, see [`webhook_signature`]).
    fn verify_webhook(
        &self,
        payload: &[u8],
        signature_header: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<WebhookEvent, PaymentError>;
}

/// A payment to start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRequest {
    /// Amount in the currency's minor unit (cents), > 0.
    pub amount_minor: i64,
    /// ISO 4217 code, upper case (`EUR`, `CAD`).
    pub currency: String,
    /// Our purchase/contribution id, sent as `metadata[fimy_reference]` and echoed back in
    /// the webhooks.
    pub reference: Uuid,
    pub idempotency_key: String,
    pub method: PaymentMethod,
    pub description: String,
}

impl PaymentRequest {
    /// The checks both providers make before anything else.
    pub fn validate(&self) -> Result<(), PaymentError> {
        if self.amount_minor <= 0 {
            return Err(PaymentError::InvalidRequest(
                "amount_minor must be positive".into(),
            ));
        }
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(PaymentError::InvalidRequest(format!(
                "currency must be an upper-case ISO 4217 code, not {:?}",
                self.currency
            )));
        }
        validate_idempotency_key(&self.idempotency_key)
    }
}

/// How the payer pays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Sandbox: a Stripe-like test card number (spaces allowed).
    TestCard { number: String },
    /// Stripe: a PaymentMethod id (`pm_…`) created by Stripe.js on the client.
    Stripe { payment_method_id: String },
}

/// A payment as the provider sees it right after it was started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentIntent {
    /// The provider's id (`pi_…`), used for refunds and found again in the webhooks.
    pub id: String,
    pub status: IntentStatus,
    /// For the client to finish the payment (Stripe.js `handleNextAction`).
    pub client_secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum IntentStatus {
    Succeeded,
    /// The payer must authenticate (3-D Secure); send them to `next_action_url` when there
    /// is one. The outcome arrives by webhook.
    RequiresAction {
        next_action_url: Option<String>,
    },
    /// The outcome arrives by webhook.
    Processing,
    Failed {
        code: String,
        message: String,
    },
}

/// A refund to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    /// The payment's provider id (`pi_…`).
    pub payment_id: String,
    /// Amount to refund in minor units, > 0 and at most what is left of the payment.
    pub amount_minor: i64,
    /// Our refund/purchase id, sent as `metadata[fimy_reference]`.
    pub reference: Uuid,
    pub idempotency_key: String,
}

impl RefundRequest {
    /// The checks both providers make before anything else.
    pub fn validate(&self) -> Result<(), PaymentError> {
        if self.amount_minor <= 0 {
            return Err(PaymentError::InvalidRequest(
                "amount_minor must be positive".into(),
            ));
        }
        if self.payment_id.trim().is_empty() {
            return Err(PaymentError::InvalidRequest("payment_id is empty".into()));
        }
        validate_idempotency_key(&self.idempotency_key)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundOutcome {
    /// The provider's refund id (`re_…`).
    pub id: String,
    /// `succeeded`, `pending` or `failed`.
    pub status: String,
}

/// A verified webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// `evt_…`. Providers deliver at least once: receivers are idempotent on it.
    pub id: String,
    /// Unix seconds, when the provider created the event.
    pub created: i64,
    pub kind: WebhookKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WebhookKind {
    PaymentSucceeded {
        payment_id: String,
        /// `metadata.fimy_reference`; `None` when absent or not a UUID (a payment made
        /// outside Fimy on the same account).
        reference: Option<Uuid>,
        amount_minor: i64,
        /// ISO 4217, upper case.
        currency: String,
    },
    PaymentFailed {
        payment_id: String,
        reference: Option<Uuid>,
        code: String,
        message: String,
    },
    /// One refund succeeded. The same refund may be announced by more than one event
    /// (`charge.refunded` and `refund.updated`): receivers are idempotent on `refund_id`.
    RefundSucceeded {
        refund_id: String,
        payment_id: String,
        amount_minor: i64,
    },
    /// An event type we do not act on (its Stripe `type`).
    Other { kind: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// The card or bank said no (`card_declined`, `insufficient_funds`, …). Not retryable
    /// as is; the payer may try another method.
    #[error("payment declined ({code}): {message}")]
    Declined { code: String, message: String },
    /// The request is wrong (unknown card, bad amount, over-refund, …). Not retryable.
    #[error("invalid payment request: {0}")]
    InvalidRequest(String),
    /// A webhook whose signature header is missing, malformed, wrong or too old.
    #[error("webhook signature rejected: {0}")]
    BadSignature(String),
    /// Network failure, timeout, 5xx, rate limit: retry later with the same idempotency key.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// The provider answered something we cannot read.
    #[error("malformed payment provider data: {0}")]
    Malformed(String),
}

impl PaymentError {
    /// Whether the same request (same idempotency key) may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, PaymentError::Unavailable(_))
    }
}

fn validate_idempotency_key(key: &str) -> Result<(), PaymentError> {
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(PaymentError::InvalidRequest(format!(
            "idempotency_key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} bytes"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> PaymentRequest {
        PaymentRequest {
            amount_minor: 5000,
            currency: "EUR".into(),
            reference: Uuid::nil(),
            idempotency_key: "k1".into(),
            method: PaymentMethod::TestCard {
                number: "4242424242424242".into(),
            },
            description: "Gift card".into(),
        }
    }

    #[test]
    fn payment_request_validation() {
        assert_eq!(request().validate(), Ok(()));
        let mut r = request();
        r.amount_minor = 0;
        assert!(matches!(r.validate(), Err(PaymentError::InvalidRequest(_))));
        let mut r = request();
        r.currency = "eur".into();
        assert!(matches!(r.validate(), Err(PaymentError::InvalidRequest(_))));
        let mut r = request();
        r.idempotency_key = String::new();
        assert!(matches!(r.validate(), Err(PaymentError::InvalidRequest(_))));
        let mut r = request();
        r.idempotency_key = "x".repeat(256);
        assert!(matches!(r.validate(), Err(PaymentError::InvalidRequest(_))));
    }

    #[test]
    fn only_unavailable_is_retryable() {
        assert!(PaymentError::Unavailable("x".into()).is_retryable());
        assert!(!PaymentError::InvalidRequest("x".into()).is_retryable());
        assert!(
            !PaymentError::Declined {
                code: "card_declined".into(),
                message: String::new()
            }
            .is_retryable()
        );
    }

    #[test]
    fn webhook_kind_serializes_with_a_type_tag() {
        let kind = WebhookKind::Other {
            kind: "customer.created".into(),
        };
        let json = serde_json::to_value(&kind).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "other", "kind": "customer.created"})
        );
        assert_eq!(serde_json::from_value::<WebhookKind>(json).unwrap(), kind);
    }
}

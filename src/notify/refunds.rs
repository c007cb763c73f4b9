//! The refund channel: refunds an event records become outbox rows in the transaction
//! that records them, and the outbox worker sends each to the payment provider until it
//! takes it (idempotently: one key per refund line).

use crate::payments::RefundRequest;
use actors::giftcard::Event;
use actors::notice::{Audience, Channel, NoticeKind};
use serde::Serialize;
use uuid::Uuid;

/// The outbox channel that sends refunds to the payment provider.
pub const REFUND_CHANNEL: &str = Channel::Refund.as_str();

/// What a refund row carries to the provider.
#[derive(Debug, Serialize, serde::Deserialize)]
struct RefundPayload {
    card_id: Uuid,
    contribution_id: Uuid,
    /// The provider's payment id (`pi_…`).
    payment_id: String,
    amount_minor: i64,
    /// One per refund line, the same on every attempt: the provider refunds once.
    idempotency_key: String,
}

/// The outbox rows that send the refunds an event records (one per refund line), written
/// in the transaction that records the event: a refund is in the ledger if and only if
/// it is on its way to the provider. The worker retries them with back-off until the
/// provider takes them, dead-letters them after [`crate::workers::outbox::MAX_ATTEMPTS`], and an
/// admin sees and puts them back with the outbox endpoints.
pub fn refund_rows(
    card_id: Uuid,
    e: &actors::runtime::RecordedEvent<Event>,
) -> Vec<entities::outbox::ActiveModel> {
    let lines = match &e.event {
        Event::ValueRefunded { lines } => lines.clone(),
        Event::ContributionRefunded { line } => vec![line.clone()],
        _ => return Vec::new(),
    };
    lines
        .into_iter()
        .filter(|l| l.amount > 0)
        .map(|line| {
            let event_id = Uuid::new_v5(&e.id, line.contribution_id.as_bytes());
            let payload = RefundPayload {
                card_id,
                contribution_id: line.contribution_id,
                payment_id: line.payment_id.clone(),
                amount_minor: line.amount,
                idempotency_key: format!("fimy-refund-{event_id}"),
            };
            crate::notify::Outgoing {
                event_id,
                card_id: Some(card_id),
                audience: Audience::Provider,
                user_id: None,
                email: None,
                channel: Channel::Refund,
                kind: NoticeKind::Refund,
                payload: serde_json::to_string(&payload).unwrap_or_default(),
                at: e.at,
            }
            .row()
        })
        .collect()
}

/// Sends one refund row to the provider (the outbox's `refund` channel). Done when the
/// provider has taken the refund (`succeeded` or `pending` on its side); a provider that
/// is unavailable, or answers `failed`, is tried again; a request it refuses as invalid
/// is dead-lettered for an admin.
/// The refund channel: sends each refund row to the payment provider.
pub struct RefundChannel {
    pub payments: std::sync::Arc<dyn crate::payments::PaymentProvider>,
}

#[async_trait::async_trait]
impl crate::notify::delivery::Channel for RefundChannel {
    fn kind(&self) -> Channel {
        Channel::Refund
    }

    async fn deliver(&self, row: &entities::outbox::Model) -> crate::notify::delivery::Attempt {
        crate::notify::delivery::Attempt::Done(deliver_refund(self, row).await)
    }
}

pub async fn deliver_refund(
    state: &RefundChannel,
    row: &entities::outbox::Model,
) -> crate::notify::delivery::Delivery {
    use crate::notify::delivery::DeliveryError;
    let p: RefundPayload = serde_json::from_str(&row.payload)
        .map_err(|e| DeliveryError::Invalid(format!("unreadable refund row: {e}")))?;
    let request = RefundRequest {
        payment_id: p.payment_id,
        amount_minor: p.amount_minor,
        reference: p.contribution_id,
        idempotency_key: p.idempotency_key,
    };
    match state.payments.refund(request).await {
        Ok(outcome) if outcome.status == "failed" => Err(DeliveryError::Retry(format!(
            "the provider answered refund {} failed",
            outcome.id
        ))),
        Ok(outcome) => {
            tracing::info!(card = %p.card_id, refund = %outcome.id, status = %outcome.status,
                "refund taken by the payment provider");
            Ok(())
        }
        Err(e) if e.is_retryable() => Err(DeliveryError::Retry(e.to_string())),
        Err(e) => Err(DeliveryError::Invalid(e.to_string())),
    }
}

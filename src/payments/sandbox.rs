//! The embedded payment provider: behaves like Stripe's test mode with Stripe's test card
//! numbers, keeps its payments in memory, and announces every outcome Stripe would announce
//! (payment succeeded, payment failed, refund succeeded) as a Stripe-shaped event signed with
//! its own webhook secret — so the application receives sandbox outcomes through the same
//! webhook path as Stripe's.
//!
//! One behaviour is the sandbox's own, for testing what happens when a provider does not
//! take a refund: a payment with the card `4000 0000 0000 5126` succeeds, and the first
//! [`REFUND_FAILURES`] refund requests against it fail as an unavailable provider would
//! (HTTP 503, nothing refunded, nothing recorded under the idempotency key); the next one
//! succeeds. (Stripe documents this number as a card whose refunds fail.)

use crate::clock::{SharedClock, SystemClock};
use crate::payments::{
    IntentStatus, PaymentError, PaymentIntent, PaymentMethod, PaymentProvider, PaymentRequest,
    RefundOutcome, RefundRequest, WebhookEvent, stripe, webhook_signature,
};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc::UnboundedSender;
use uuid::Uuid;

/// One webhook delivery: the raw body and its `Stripe-Signature` header value. The
/// application feeds it into the function its webhook endpoint uses.
pub type SandboxEvent = (Vec<u8>, String);

/// The Stripe API version whose event shape the sandbox imitates.
pub const SANDBOX_API_VERSION: &str = "2024-06-20";

/// The test cards the sandbox knows, as Stripe documents them, with what they do.
pub const TEST_CARDS: &[(&str, &str)] = &[
    ("4242424242424242", "Visa: succeeds"),
    ("5555555555554444", "Mastercard: succeeds"),
    ("4000000000000002", "declined (card_declined)"),
    ("4000000000009995", "declined (insufficient_funds)"),
    ("4000002500003155", "requires authentication (3-D Secure)"),
    (
        "4000002760003184",
        "requires authentication (3-D Secure), always",
    ),
    (
        "4000000000005126",
        "succeeds; its first refund attempts fail (provider unavailable)",
    ),
];

/// How many refund requests against a `4000 0000 0000 5126` payment fail before one
/// succeeds.
pub const REFUND_FAILURES: u32 = 2;

/// Where the payer is sent to complete a sandbox 3-D Secure authentication.
pub fn authenticate_path(payment_id: &str) -> String {
    format!("/api/v1/payments/sandbox/{payment_id}/authenticate")
}

enum Card {
    Succeeds,
    /// Succeeds; refunds fail [`REFUND_FAILURES`] times first.
    RefundsFailFirst,
    Declined {
        decline_code: &'static str,
        message: &'static str,
    },
    RequiresAuthentication,
}

fn test_card(number: &str) -> Option<Card> {
    let digits: String = number.chars().filter(|c| *c != ' ').collect();
    match digits.as_str() {
        "4242424242424242" | "5555555555554444" => Some(Card::Succeeds),
        "4000000000005126" => Some(Card::RefundsFailFirst),
        "4000000000000002" => Some(Card::Declined {
            decline_code: "generic_decline",
            message: "Your card was declined.",
        }),
        "4000000000009995" => Some(Card::Declined {
            decline_code: "insufficient_funds",
            message: "Your card has insufficient funds.",
        }),
        "4000002500003155" | "4000002760003184" => Some(Card::RequiresAuthentication),
        _ => None,
    }
}

const AUTHENTICATION_FAILURE: &str = "payment_intent_authentication_failure";
const AUTHENTICATION_FAILURE_MESSAGE: &str = "The provided PaymentMethod has failed \
    authentication. You can provide payment_method_data or a new PaymentMethod to attempt \
    to fulfill this PaymentIntent again.";

/// The sandbox payment provider. See the module documentation. Its payments live in
/// process memory: a restart forgets them (their outcomes were already announced).
pub struct SandboxProvider {
    /// Where signed events go: the application drains it into its webhook receiver. An
    /// unbounded sender, because a payment must never wait on (or fail because of) the
    /// receiver; events are few and small.
    events: UnboundedSender<SandboxEvent>,
    /// `whsec_sandbox_…`, random per process: only this provider's events verify.
    webhook_secrets: Vec<String>,
    /// Stamps events (`created`, signature `t`), so they verify against the application's
    /// clock even when a test moves it.
    clock: SharedClock,
    /// Payments and idempotency records. A plain mutex: nothing awaits while holding it, and
    /// each operation (including sending its event) is one critical section, so a retry
    /// racing its first attempt sees that attempt's result and events leave in order.
    state: Mutex<State>,
    /// Events handed to the application and not yet handled by it (see
    /// [`SandboxProvider::webhooks_outstanding`]).
    outstanding: AtomicUsize,
}

impl std::fmt::Debug for SandboxProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxProvider")
            .field("webhook_secret", &"whsec_sandbox_***")
            // `try_lock`: formatting must never wait on (or deadlock with) a payment.
            .field(
                "payments",
                &self.state.try_lock().ok().map(|s| s.payments.len()),
            )
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    payments: HashMap<String, Payment>,
    /// By idempotency key: what was asked and what was answered, replayed on a retry.
    idempotency: HashMap<String, Recorded>,
}

struct Payment {
    amount_minor: i64,
    /// ISO 4217, upper case.
    currency: String,
    reference: Uuid,
    description: String,
    client_secret: String,
    status: Status,
    charge_id: Option<String>,
    refunded_minor: i64,
    /// Refund requests still to fail before one succeeds (see [`REFUND_FAILURES`]).
    refund_failures_left: u32,
    /// Newest first, as Stripe lists them.
    refunds: Vec<Refund>,
}

#[derive(Clone, PartialEq)]
enum Status {
    RequiresAction,
    Succeeded,
    Failed {
        code: &'static str,
        decline_code: Option<&'static str>,
        message: &'static str,
    },
}

struct Refund {
    id: String,
    amount_minor: i64,
    reference: Uuid,
}

struct Recorded {
    /// The request as first made; a retry must match it.
    request: String,
    response: Response,
}

#[derive(Clone)]
enum Response {
    Payment(Result<PaymentIntent, PaymentError>),
    Refund(RefundOutcome),
}

impl SandboxProvider {
    /// A sandbox stamping its events with the system clock.
    pub fn new(events: UnboundedSender<SandboxEvent>) -> Self {
        Self::with_clock(events, Arc::new(SystemClock))
    }

    /// A sandbox stamping its events with `clock` (the application's).
    pub fn with_clock(events: UnboundedSender<SandboxEvent>, clock: SharedClock) -> Self {
        let secret = format!("whsec_sandbox_{}", hex::encode(rand::random::<[u8; 24]>()));
        Self {
            events,
            webhook_secrets: vec![secret],
            clock,
            state: Mutex::new(State::default()),
            outstanding: AtomicUsize::new(0),
        }
    }

    /// Events announced and not yet handled: 0 once every payment outcome so far has
    /// reached the application (which calls [`SandboxProvider::webhook_handled`] after
    /// each, whatever came of it).
    pub fn webhooks_outstanding(&self) -> usize {
        self.outstanding.load(Ordering::SeqCst)
    }

    /// The application handled one announced event.
    pub fn webhook_handled(&self) {
        let _ = self
            .outstanding
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }

    /// The secret the sandbox signs its events with.
    pub fn webhook_secret(&self) -> &str {
        self.webhook_secrets.first().map_or("", String::as_str)
    }

    /// Completes the 3-D Secure step of a payment in `RequiresAction`: the payment
    /// succeeds, or fails with `payment_intent_authentication_failure`, and the outcome is
    /// announced by webhook. Repeating the same outcome returns the payment unchanged.
    pub fn authenticate(
        &self,
        payment_id: &str,
        succeed: bool,
    ) -> Result<PaymentIntent, PaymentError> {
        let mut state = self.lock();
        let Some(payment) = state.payments.get_mut(payment_id) else {
            return Err(no_such_payment(payment_id));
        };
        let outcome = if succeed {
            Status::Succeeded
        } else {
            authentication_failed()
        };
        if payment.status == outcome {
            return Ok(payment.intent(payment_id));
        }
        if payment.status != Status::RequiresAction {
            return Err(PaymentError::InvalidRequest(format!(
                "payment {payment_id} does not require authentication"
            )));
        }
        payment.status = outcome;
        if succeed {
            payment.charge_id = Some(new_id("ch_sandbox_"));
        }
        let intent = payment.intent(payment_id);
        let (kind, object) = payment.outcome_event(payment_id);
        self.emit(kind, object, None);
        tracing::info!(payment_id, succeed, "sandbox payment authenticated");
        Ok(intent)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Signs a Stripe-shaped event and hands it to the application.
    fn emit(&self, kind: &str, object: Value, idempotency_key: Option<&str>) {
        let now = self.clock.now().timestamp();
        let event = json!({
            "id": new_id("evt_sandbox_"),
            "object": "event",
            "api_version": SANDBOX_API_VERSION,
            "created": now,
            "data": { "object": object },
            "livemode": false,
            "pending_webhooks": 1,
            "request": { "id": null, "idempotency_key": idempotency_key },
            "type": kind,
        });
        let payload = match serde_json::to_vec(&event) {
            Ok(payload) => payload,
            Err(e) => {
                tracing::error!(error = %e, kind, "cannot encode a sandbox event");
                return;
            }
        };
        let header = webhook_signature::sign(&payload, self.webhook_secret(), now);
        self.outstanding.fetch_add(1, Ordering::SeqCst);
        if self.events.send((payload, header)).is_err() {
            self.webhook_handled();
            tracing::warn!(kind, "sandbox webhook receiver is gone; event dropped");
        }
    }

    /// Returns the recorded answer for a retried key, or refuses a key reused for another
    /// request, as Stripe does.
    fn replay(state: &State, key: &str, request: &str) -> Result<Option<Response>, PaymentError> {
        match state.idempotency.get(key) {
            None => Ok(None),
            Some(recorded) if recorded.request == request => Ok(Some(recorded.response.clone())),
            Some(_) => Err(PaymentError::InvalidRequest(format!(
                "Keys for idempotent requests can only be used with the same parameters they \
                 were first used with. Try using a key other than '{key}' if you meant to \
                 execute a different request."
            ))),
        }
    }
}

impl Payment {
    fn intent(&self, id: &str) -> PaymentIntent {
        let status = match &self.status {
            Status::Succeeded => IntentStatus::Succeeded,
            Status::RequiresAction => IntentStatus::RequiresAction {
                next_action_url: Some(authenticate_path(id)),
            },
            Status::Failed {
                code,
                decline_code,
                message,
            } => IntentStatus::Failed {
                code: decline_code
                    .filter(|d| *d != "generic_decline")
                    .unwrap_or(code)
                    .to_string(),
                message: (*message).to_string(),
            },
        };
        PaymentIntent {
            id: id.to_string(),
            status,
            client_secret: Some(self.client_secret.clone()),
        }
    }

    /// The PaymentIntent as Stripe would show it in an event.
    fn stripe_object(&self, id: &str) -> Value {
        let (status, last_payment_error, next_action) = match &self.status {
            Status::Succeeded => ("succeeded", Value::Null, Value::Null),
            Status::RequiresAction => (
                "requires_action",
                Value::Null,
                json!({
                    "type": "redirect_to_url",
                    "redirect_to_url": { "url": authenticate_path(id), "return_url": null },
                }),
            ),
            Status::Failed {
                code,
                decline_code,
                message,
            } => (
                "requires_payment_method",
                json!({
                    "type": if decline_code.is_some() { "card_error" } else { "invalid_request_error" },
                    "code": code,
                    "decline_code": decline_code,
                    "message": message,
                }),
                Value::Null,
            ),
        };
        let received = if self.status == Status::Succeeded {
            self.amount_minor
        } else {
            0
        };
        json!({
            "id": id,
            "object": "payment_intent",
            "amount": self.amount_minor,
            "amount_received": received,
            "capture_method": "automatic",
            "client_secret": self.client_secret,
            "currency": self.currency.to_ascii_lowercase(),
            "description": self.description,
            "last_payment_error": last_payment_error,
            "latest_charge": self.charge_id,
            "livemode": false,
            "metadata": { stripe::REFERENCE_METADATA_KEY: self.reference.hyphenated().to_string() },
            "next_action": next_action,
            "status": status,
        })
    }

    /// The event announcing a payment's final status.
    fn outcome_event(&self, id: &str) -> (&'static str, Value) {
        let kind = if self.status == Status::Succeeded {
            "payment_intent.succeeded"
        } else {
            "payment_intent.payment_failed"
        };
        (kind, self.stripe_object(id))
    }

    /// The charge as Stripe shows it in `charge.refunded`, refunds newest first.
    fn charge_object(&self, payment_id: &str) -> Value {
        let refunds: Vec<Value> = self
            .refunds
            .iter()
            .map(|r| {
                json!({
                    "id": r.id,
                    "object": "refund",
                    "amount": r.amount_minor,
                    "charge": self.charge_id,
                    "currency": self.currency.to_ascii_lowercase(),
                    "metadata": { stripe::REFERENCE_METADATA_KEY: r.reference.hyphenated().to_string() },
                    "payment_intent": payment_id,
                    "status": "succeeded",
                })
            })
            .collect();
        json!({
            "id": self.charge_id,
            "object": "charge",
            "amount": self.amount_minor,
            "amount_captured": self.amount_minor,
            "amount_refunded": self.refunded_minor,
            "currency": self.currency.to_ascii_lowercase(),
            "metadata": { stripe::REFERENCE_METADATA_KEY: self.reference.hyphenated().to_string() },
            "paid": true,
            "payment_intent": payment_id,
            "refunded": self.refunded_minor == self.amount_minor,
            "refunds": {
                "object": "list",
                "data": refunds,
                "has_more": false,
                "total_count": self.refunds.len(),
                "url": format!("/v1/charges/{}/refunds", self.charge_id.as_deref().unwrap_or_default()),
            },
            "status": "succeeded",
        })
    }
}

fn authentication_failed() -> Status {
    Status::Failed {
        code: AUTHENTICATION_FAILURE,
        decline_code: None,
        message: AUTHENTICATION_FAILURE_MESSAGE,
    }
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", Uuid::new_v4().simple())
}

fn no_such_payment(id: &str) -> PaymentError {
    PaymentError::InvalidRequest(format!("No such payment_intent: '{id}'"))
}

fn unknown_card() -> PaymentError {
    let cards: Vec<String> = TEST_CARDS
        .iter()
        .map(|(number, what)| format!("{number} ({what})"))
        .collect();
    PaymentError::InvalidRequest(format!("unknown test card; use {}", cards.join(", ")))
}

#[async_trait::async_trait]
impl PaymentProvider for SandboxProvider {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    async fn create_payment(&self, req: PaymentRequest) -> Result<PaymentIntent, PaymentError> {
        req.validate()?;
        let PaymentMethod::TestCard { number } = &req.method else {
            return Err(PaymentError::InvalidRequest(
                "the sandbox takes a test card number, not a Stripe PaymentMethod".into(),
            ));
        };
        let Some(card) = test_card(number) else {
            return Err(unknown_card());
        };
        let request = format!("create_payment {req:?}");
        let mut state = self.lock();
        if let Some(response) = Self::replay(&state, &req.idempotency_key, &request)? {
            return match response {
                Response::Payment(result) => result,
                Response::Refund(_) => Err(PaymentError::InvalidRequest(
                    "this idempotency key was used for a refund".into(),
                )),
            };
        }

        let id = new_id("pi_sandbox_");
        let refund_failures_left = match card {
            Card::RefundsFailFirst => REFUND_FAILURES,
            _ => 0,
        };
        let status = match card {
            Card::Succeeds | Card::RefundsFailFirst => Status::Succeeded,
            Card::Declined {
                decline_code,
                message,
            } => Status::Failed {
                code: "card_declined",
                decline_code: Some(decline_code),
                message,
            },
            Card::RequiresAuthentication => Status::RequiresAction,
        };
        let payment = Payment {
            amount_minor: req.amount_minor,
            currency: req.currency.clone(),
            reference: req.reference,
            description: req.description.clone(),
            client_secret: format!("{id}_secret_{}", hex::encode(rand::random::<[u8; 12]>())),
            charge_id: (status == Status::Succeeded).then(|| new_id("ch_sandbox_")),
            status,
            refunded_minor: 0,
            refund_failures_left,
            refunds: Vec::new(),
        };
        let intent = payment.intent(&id);
        // Stripe answers a declined confirmation with a 402 card error (the PaymentIntent
        // stays, in `requires_payment_method`) and announces it by webhook.
        let result = match &intent.status {
            IntentStatus::Failed { code, message } => Err(PaymentError::Declined {
                code: code.clone(),
                message: message.clone(),
            }),
            _ => Ok(intent),
        };
        if payment.status != Status::RequiresAction {
            let (kind, object) = payment.outcome_event(&id);
            self.emit(kind, object, Some(&req.idempotency_key));
        }
        tracing::info!(
            payment_id = %id,
            reference = %req.reference,
            amount = req.amount_minor,
            currency = %req.currency,
            ok = result.is_ok(),
            "sandbox payment"
        );
        state.payments.insert(id, payment);
        state.idempotency.insert(
            req.idempotency_key,
            Recorded {
                request,
                response: Response::Payment(result.clone()),
            },
        );
        result
    }

    async fn refund(&self, req: RefundRequest) -> Result<RefundOutcome, PaymentError> {
        req.validate()?;
        let request = format!("refund {req:?}");
        let mut state = self.lock();
        if let Some(response) = Self::replay(&state, &req.idempotency_key, &request)? {
            return match response {
                Response::Refund(outcome) => Ok(outcome),
                Response::Payment(_) => Err(PaymentError::InvalidRequest(
                    "this idempotency key was used for a payment".into(),
                )),
            };
        }
        let Some(payment) = state.payments.get_mut(&req.payment_id) else {
            return Err(no_such_payment(&req.payment_id));
        };
        if payment.status != Status::Succeeded {
            return Err(PaymentError::InvalidRequest(format!(
                "payment {} has not succeeded; only a succeeded payment can be refunded",
                req.payment_id
            )));
        }
        if payment.refund_failures_left > 0 {
            payment.refund_failures_left -= 1;
            tracing::info!(payment_id = %req.payment_id, "sandbox refund failed (test card)");
            return Err(PaymentError::Unavailable(
                "sandbox: this test card's refunds fail for now (HTTP 503)".into(),
            ));
        }
        let left = payment.amount_minor - payment.refunded_minor;
        if req.amount_minor > left {
            return Err(PaymentError::InvalidRequest(format!(
                "Refund amount ({} {}) is greater than unrefunded amount on charge ({} {})",
                req.amount_minor, payment.currency, left, payment.currency
            )));
        }
        let refund = Refund {
            id: new_id("re_sandbox_"),
            amount_minor: req.amount_minor,
            reference: req.reference,
        };
        let outcome = RefundOutcome {
            id: refund.id.clone(),
            status: "succeeded".into(),
        };
        payment.refunded_minor += req.amount_minor;
        payment.refunds.insert(0, refund);
        let charge = payment.charge_object(&req.payment_id);
        self.emit("charge.refunded", charge, Some(&req.idempotency_key));
        tracing::info!(
            payment_id = %req.payment_id,
            refund_id = %outcome.id,
            amount = req.amount_minor,
            "sandbox refund"
        );
        state.idempotency.insert(
            req.idempotency_key,
            Recorded {
                request,
                response: Response::Refund(outcome.clone()),
            },
        );
        Ok(outcome)
    }

    fn verify_webhook(
        &self,
        payload: &[u8],
        signature_header: &str,
        now: DateTime<Utc>,
    ) -> Result<WebhookEvent, PaymentError> {
        webhook_signature::verify(
            payload,
            signature_header,
            &self.webhook_secrets,
            webhook_signature::DEFAULT_TOLERANCE,
            now,
        )?;
        stripe::parse_event(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::payments::WebhookKind;
    use chrono::TimeZone;
    use tokio::sync::mpsc::{self, UnboundedReceiver};

    struct Fixture {
        sandbox: SandboxProvider,
        events: UnboundedReceiver<SandboxEvent>,
        clock: ManualClock,
    }

    impl Fixture {
        fn new() -> Self {
            let (tx, events) = mpsc::unbounded_channel();
            let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap());
            let sandbox = SandboxProvider::with_clock(tx, Arc::new(clock.clone()));
            Self {
                sandbox,
                events,
                clock,
            }
        }

        /// The next emitted event, verified and parsed the way the application will.
        fn next_event(&mut self) -> WebhookEvent {
            let (payload, header) = self.events.try_recv().expect("an event was emitted");
            self.sandbox
                .verify_webhook(&payload, &header, self.clock.now())
                .unwrap()
        }

        fn no_event(&mut self) {
            assert!(self.events.try_recv().is_err(), "unexpected event");
        }

        async fn pay(&self, card: &str, key: &str) -> Result<PaymentIntent, PaymentError> {
            self.sandbox.create_payment(request(card, key)).await
        }
    }

    fn reference() -> Uuid {
        Uuid::parse_str("0190f7a2-5b1c-7d3e-8f40-1234567890ab").unwrap()
    }

    fn request(card: &str, key: &str) -> PaymentRequest {
        PaymentRequest {
            amount_minor: 10_000,
            currency: "EUR".into(),
            reference: reference(),
            idempotency_key: key.into(),
            method: PaymentMethod::TestCard {
                number: card.into(),
            },
            description: "Dinner for two".into(),
        }
    }

    fn refund(payment_id: &str, amount: i64, key: &str) -> RefundRequest {
        RefundRequest {
            payment_id: payment_id.into(),
            amount_minor: amount,
            reference: reference(),
            idempotency_key: key.into(),
        }
    }

    fn is_sandbox_id(id: &str, prefix: &str) -> bool {
        id.strip_prefix(prefix)
            .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    #[tokio::test]
    async fn success_cards_succeed_and_announce_it() {
        let mut f = Fixture::new();
        for card in ["4242424242424242", "5555 5555 5555 4444"] {
            let intent = f.pay(card, card).await.unwrap();
            assert_eq!(intent.status, IntentStatus::Succeeded);
            assert!(is_sandbox_id(&intent.id, "pi_sandbox_"), "{}", intent.id);
            assert!(intent.client_secret.unwrap().starts_with(&intent.id));
            let event = f.next_event();
            assert!(is_sandbox_id(&event.id, "evt_sandbox_"), "{}", event.id);
            assert_eq!(event.created, f.clock.now().timestamp());
            assert_eq!(
                event.kind,
                WebhookKind::PaymentSucceeded {
                    payment_id: intent.id,
                    reference: Some(reference()),
                    amount_minor: 10_000,
                    currency: "EUR".into(),
                }
            );
            f.no_event();
        }
    }

    #[tokio::test]
    async fn declining_cards_decline_and_announce_it() {
        let mut f = Fixture::new();
        let cases = [
            (
                "4000000000000002",
                "card_declined",
                "Your card was declined.",
            ),
            (
                "4000 0000 0000 9995",
                "insufficient_funds",
                "Your card has insufficient funds.",
            ),
        ];
        for (card, code, message) in cases {
            let result = f.pay(card, card).await;
            assert_eq!(
                result,
                Err(PaymentError::Declined {
                    code: code.into(),
                    message: message.into()
                })
            );
            let WebhookKind::PaymentFailed {
                payment_id,
                reference: r,
                code: c,
                message: m,
            } = f.next_event().kind
            else {
                panic!("not a payment failure");
            };
            assert!(is_sandbox_id(&payment_id, "pi_sandbox_"));
            assert_eq!(
                (r, c.as_str(), m.as_str()),
                (Some(reference()), code, message)
            );
            // A declined payment cannot be refunded.
            assert!(matches!(
                f.sandbox.refund(refund(&payment_id, 100, "r")).await,
                Err(PaymentError::InvalidRequest(_))
            ));
        }
    }

    #[tokio::test]
    async fn unknown_cards_and_stripe_methods_are_invalid() {
        let mut f = Fixture::new();
        let Err(PaymentError::InvalidRequest(message)) = f.pay("4111111111111111", "k").await
        else {
            panic!("accepted an unknown card");
        };
        assert!(message.starts_with("unknown test card; use "), "{message}");
        assert!(message.contains("4242424242424242"), "{message}");
        let mut req = request("4242424242424242", "k");
        req.method = PaymentMethod::Stripe {
            payment_method_id: "pm_card_visa".into(),
        };
        assert!(matches!(
            f.sandbox.create_payment(req).await,
            Err(PaymentError::InvalidRequest(_))
        ));
        f.no_event();
        // Invalid requests are not recorded: the key stays usable.
        assert!(f.pay("4242424242424242", "k").await.is_ok());
    }

    #[tokio::test]
    async fn authentication_cards_wait_for_authenticate() {
        let mut f = Fixture::new();
        let intent = f.pay("4000002500003155", "a").await.unwrap();
        assert_eq!(
            intent.status,
            IntentStatus::RequiresAction {
                next_action_url: Some(format!(
                    "/api/v1/payments/sandbox/{}/authenticate",
                    intent.id
                ))
            }
        );
        f.no_event();
        // Not refundable before it succeeds.
        assert!(
            f.sandbox
                .refund(refund(&intent.id, 100, "r"))
                .await
                .is_err()
        );

        let done = f.sandbox.authenticate(&intent.id, true).unwrap();
        assert_eq!(done.status, IntentStatus::Succeeded);
        assert!(matches!(
            f.next_event().kind,
            WebhookKind::PaymentSucceeded { payment_id, amount_minor: 10_000, .. } if payment_id == intent.id
        ));
        // A second click changes nothing and announces nothing.
        assert_eq!(f.sandbox.authenticate(&intent.id, true).unwrap(), done);
        f.no_event();
        assert!(matches!(
            f.sandbox.authenticate(&intent.id, false),
            Err(PaymentError::InvalidRequest(_))
        ));
        f.sandbox
            .refund(refund(&intent.id, 100, "r"))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn failed_authentication_fails_the_payment() {
        let mut f = Fixture::new();
        let intent = f.pay("4000 0027 6000 3184", "a").await.unwrap();
        assert!(matches!(intent.status, IntentStatus::RequiresAction { .. }));
        let failed = f.sandbox.authenticate(&intent.id, false).unwrap();
        assert!(matches!(
            failed.status,
            IntentStatus::Failed { ref code, .. } if code == "payment_intent_authentication_failure"
        ));
        assert!(matches!(
            f.next_event().kind,
            WebhookKind::PaymentFailed { payment_id, code, .. }
                if payment_id == intent.id && code == "payment_intent_authentication_failure"
        ));
        assert!(f.sandbox.authenticate(&intent.id, true).is_err());
        assert!(matches!(
            f.sandbox.authenticate("pi_sandbox_nope", true),
            Err(PaymentError::InvalidRequest(_))
        ));
        f.no_event();
    }

    #[tokio::test]
    async fn the_refund_failure_card_fails_its_first_refunds_then_refunds_once() {
        let mut f = Fixture::new();
        let intent = f.pay("4000 0000 0000 5126", "p").await.unwrap();
        f.next_event();
        for _ in 0..REFUND_FAILURES {
            let r = f.sandbox.refund(refund(&intent.id, 3000, "r1")).await;
            assert!(matches!(&r, Err(e) if e.is_retryable()), "{r:?}");
            f.no_event();
        }
        let first = f
            .sandbox
            .refund(refund(&intent.id, 3000, "r1"))
            .await
            .unwrap();
        assert_eq!(first.status, "succeeded");
        f.next_event();
        // A retry with the same key is the same refund, not a second one.
        let again = f
            .sandbox
            .refund(refund(&intent.id, 3000, "r1"))
            .await
            .unwrap();
        assert_eq!(again, first);
        let over = f.sandbox.refund(refund(&intent.id, 7001, "r2")).await;
        assert!(matches!(over, Err(PaymentError::InvalidRequest(_))));
    }

    #[tokio::test]
    async fn refunds_up_to_the_captured_amount() {
        let mut f = Fixture::new();
        let intent = f.pay("4242424242424242", "p").await.unwrap();
        f.next_event();

        let first = f
            .sandbox
            .refund(refund(&intent.id, 3000, "r1"))
            .await
            .unwrap();
        assert_eq!(first.status, "succeeded");
        assert!(is_sandbox_id(&first.id, "re_sandbox_"));
        assert_eq!(
            f.next_event().kind,
            WebhookKind::RefundSucceeded {
                refund_id: first.id.clone(),
                payment_id: intent.id.clone(),
                amount_minor: 3000,
            }
        );

        let over = f.sandbox.refund(refund(&intent.id, 7001, "r2")).await;
        assert!(
            matches!(&over, Err(PaymentError::InvalidRequest(m)) if m.contains("greater than")),
            "{over:?}"
        );
        f.no_event();

        let rest = f
            .sandbox
            .refund(refund(&intent.id, 7000, "r3"))
            .await
            .unwrap();
        assert_ne!(rest.id, first.id);
        assert_eq!(
            f.next_event().kind,
            WebhookKind::RefundSucceeded {
                refund_id: rest.id,
                payment_id: intent.id.clone(),
                amount_minor: 7000,
            }
        );
        assert!(f.sandbox.refund(refund(&intent.id, 1, "r4")).await.is_err());
        assert!(matches!(
            f.sandbox.refund(refund("pi_sandbox_unknown", 1, "r5")).await,
            Err(PaymentError::InvalidRequest(m)) if m.contains("No such payment_intent")
        ));
        assert!(f.sandbox.refund(refund(&intent.id, 0, "r6")).await.is_err());
        f.no_event();
    }

    #[tokio::test]
    async fn the_same_idempotency_key_returns_the_same_answer() {
        let mut f = Fixture::new();
        let first = f.pay("4242424242424242", "same").await.unwrap();
        let again = f.pay("4242 4242 4242 4242", "same").await;
        // The card is written differently: another request, as far as Stripe is concerned.
        assert!(matches!(again, Err(PaymentError::InvalidRequest(_))));
        assert_eq!(f.pay("4242424242424242", "same").await.unwrap(), first);
        f.next_event();
        f.no_event();

        let mut other_amount = request("4242424242424242", "same");
        other_amount.amount_minor = 1;
        assert!(matches!(
            f.sandbox.create_payment(other_amount).await,
            Err(PaymentError::InvalidRequest(m)) if m.contains("same parameters")
        ));

        // A decline is replayed too, without a second event.
        let declined = f.pay("4000000000000002", "declined").await;
        f.next_event();
        assert_eq!(f.pay("4000000000000002", "declined").await, declined);
        f.no_event();

        // Refunds: a retry returns the same refund and refunds once.
        let r = f
            .sandbox
            .refund(refund(&first.id, 10_000, "refund"))
            .await
            .unwrap();
        f.next_event();
        assert_eq!(
            f.sandbox
                .refund(refund(&first.id, 10_000, "refund"))
                .await
                .unwrap(),
            r
        );
        f.no_event();
        // A key cannot serve a payment and a refund.
        assert!(
            f.sandbox
                .refund(refund(&first.id, 1, "same"))
                .await
                .is_err()
        );
        assert!(f.pay("4242424242424242", "refund").await.is_err());
    }

    #[tokio::test]
    async fn events_verify_only_with_this_sandbox_and_in_time() {
        let mut f = Fixture::new();
        assert!(f.sandbox.webhook_secret().starts_with("whsec_sandbox_"));
        f.pay("4242424242424242", "p").await.unwrap();
        let (payload, header) = f.events.try_recv().unwrap();

        // The payload is the Stripe shape, signed with the sandbox's own secret.
        let json: Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(json["object"], "event");
        assert_eq!(json["type"], "payment_intent.succeeded");
        assert_eq!(json["data"]["object"]["currency"], "eur");
        assert_eq!(
            json["data"]["object"]["metadata"]["fimy_reference"],
            reference().to_string()
        );
        webhook_signature::verify(
            &payload,
            &header,
            &[f.sandbox.webhook_secret().to_string()],
            webhook_signature::DEFAULT_TOLERANCE,
            f.clock.now(),
        )
        .unwrap();

        let (tx, _rx) = mpsc::unbounded_channel();
        let other = SandboxProvider::with_clock(tx, Arc::new(f.clock.clone()));
        assert_ne!(other.webhook_secret(), f.sandbox.webhook_secret());
        assert!(matches!(
            other.verify_webhook(&payload, &header, f.clock.now()),
            Err(PaymentError::BadSignature(_))
        ));
        let mut tampered = payload.clone();
        tampered.extend_from_slice(b" ");
        assert!(
            f.sandbox
                .verify_webhook(&tampered, &header, f.clock.now())
                .is_err()
        );

        f.clock.advance(chrono::Duration::minutes(6));
        assert!(matches!(
            f.sandbox.verify_webhook(&payload, &header, f.clock.now()),
            Err(PaymentError::BadSignature(_))
        ));
    }

    #[tokio::test]
    async fn a_dropped_receiver_does_not_fail_payments() {
        let (tx, rx) = mpsc::unbounded_channel();
        drop(rx);
        let sandbox = SandboxProvider::new(tx);
        assert_eq!(sandbox.name(), "sandbox");
        let intent = sandbox
            .create_payment(request("4242424242424242", "k"))
            .await
            .unwrap();
        assert_eq!(intent.status, IntentStatus::Succeeded);
        assert!(!format!("{sandbox:?}").contains(sandbox.webhook_secret()));
    }
}

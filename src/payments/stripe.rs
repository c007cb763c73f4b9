//! The Stripe adapter of the payments port: PaymentIntents and Refunds over Stripe's REST
//! API (form-encoded, Bearer secret key, `Idempotency-Key`), and Stripe webhook events.
//! The event parser here ([`parse_event`]) is also the one the sandbox's events go through.

use crate::payments::{
    IntentStatus, PaymentError, PaymentIntent, PaymentMethod, PaymentProvider, PaymentRequest,
    RefundOutcome, RefundRequest, WebhookEvent, WebhookKind, webhook_signature,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;
use url::Url;
use uuid::Uuid;

/// Stripe's API.
pub const DEFAULT_BASE_URL: &str = "https://api.stripe.com";

/// The whole-request time limit for a call to Stripe.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// The metadata key carrying our purchase/contribution id.
pub const REFERENCE_METADATA_KEY: &str = "fimy_reference";

/// Stripe account settings. `Debug` shows neither the secret key nor the webhook secrets.
#[derive(Clone)]
pub struct StripeConfig {
    /// `sk_live_…` / `sk_test_…` (or a restricted `rk_…` key).
    pub secret_key: String,
    /// The webhook endpoint's signing secrets (`whsec_…`); more than one while rotating.
    pub webhook_secrets: Vec<String>,
    /// [`DEFAULT_BASE_URL`] unless testing against a stand-in.
    pub base_url: Url,
    /// How old (or how far ahead) a webhook's signed timestamp may be.
    pub tolerance: Duration,
}

impl StripeConfig {
    /// A configuration for Stripe's own API with the default webhook tolerance.
    pub fn new(secret_key: impl Into<String>, webhook_secrets: Vec<String>) -> Self {
        Self {
            secret_key: secret_key.into(),
            webhook_secrets,
            base_url: default_base_url(),
            tolerance: webhook_signature::DEFAULT_TOLERANCE,
        }
    }
}

/// [`DEFAULT_BASE_URL`] as a [`Url`].
pub fn default_base_url() -> Url {
    match Url::parse(DEFAULT_BASE_URL) {
        Ok(url) => url,
        Err(_) => unreachable!("DEFAULT_BASE_URL is a valid URL"),
    }
}

impl fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only the key's kind (live or test) is shown, never a character of the key itself.
        let key_kind = ["sk_live_", "sk_test_", "rk_live_", "rk_test_"]
            .into_iter()
            .find(|prefix| self.secret_key.starts_with(prefix))
            .unwrap_or("");
        f.debug_struct("StripeConfig")
            .field("secret_key", &format_args!("{key_kind}***"))
            .field(
                "webhook_secrets",
                &format_args!("[{} × whsec_***]", self.webhook_secrets.len()),
            )
            .field("base_url", &self.base_url.as_str())
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

/// Payments through Stripe.
#[derive(Debug)]
pub struct StripeProvider {
    config: StripeConfig,
    http: reqwest::Client,
}

impl StripeProvider {
    pub fn new(config: StripeConfig) -> Result<Self, PaymentError> {
        if config.secret_key.trim().is_empty() {
            return Err(PaymentError::InvalidRequest(
                "the Stripe secret key is empty".into(),
            ));
        }
        if config.webhook_secrets.iter().all(|s| s.is_empty()) {
            return Err(PaymentError::InvalidRequest(
                "no Stripe webhook secret configured".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("fimy/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PaymentError::Unavailable(format!("cannot build HTTP client: {e}")))?;
        Ok(Self { config, http })
    }

    fn endpoint(&self, path: &str) -> String {
        format!(
            "{}/{path}",
            self.config.base_url.as_str().trim_end_matches('/')
        )
    }

    /// POSTs a form to Stripe and reads a 2xx answer as `T`, or maps the failure.
    async fn post_form<T: DeserializeOwned>(
        &self,
        path: &str,
        idempotency_key: &str,
        form: &[(&str, String)],
    ) -> Result<T, PaymentError> {
        let response = self
            .http
            .post(self.endpoint(path))
            .bearer_auth(&self.config.secret_key)
            .header("Idempotency-Key", idempotency_key)
            .form(form)
            .send()
            .await
            .map_err(|e| network_error(path, &e))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| network_error(path, &e))?;
        if (200..300).contains(&status) {
            serde_json::from_slice(&body).map_err(|e| {
                PaymentError::Malformed(format!("Stripe {path} answer is not understood: {e}"))
            })
        } else {
            let error = map_error_response(status, &body);
            if matches!(status, 401 | 403) {
                tracing::error!(
                    status,
                    path,
                    "Stripe refused our credentials; check the secret key"
                );
            } else if error.is_retryable() {
                tracing::warn!(status, path, %error, "Stripe unavailable");
            }
            Err(error)
        }
    }
}

#[async_trait::async_trait]
impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        "stripe"
    }

    #[tracing::instrument(skip_all, fields(reference = %req.reference, amount = req.amount_minor, currency = %req.currency))]
    async fn create_payment(&self, req: PaymentRequest) -> Result<PaymentIntent, PaymentError> {
        req.validate()?;
        let PaymentMethod::Stripe { payment_method_id } = &req.method else {
            return Err(PaymentError::InvalidRequest(
                "Stripe takes a PaymentMethod id (pm_…) from Stripe.js, not a card number".into(),
            ));
        };
        let form = [
            ("amount", req.amount_minor.to_string()),
            ("currency", req.currency.to_ascii_lowercase()),
            ("payment_method", payment_method_id.clone()),
            ("confirm", "true".to_string()),
            ("automatic_payment_methods[enabled]", "true".to_string()),
            (
                "automatic_payment_methods[allow_redirects]",
                "never".to_string(),
            ),
            (
                "metadata[fimy_reference]",
                req.reference.hyphenated().to_string(),
            ),
            ("description", req.description.clone()),
        ];
        let intent: PaymentIntentObject = self
            .post_form("v1/payment_intents", &req.idempotency_key, &form)
            .await?;
        let intent = intent.into_intent()?;
        tracing::info!(payment_id = %intent.id, status = ?intent.status, "Stripe payment started");
        Ok(intent)
    }

    #[tracing::instrument(skip_all, fields(payment_id = %req.payment_id, amount = req.amount_minor))]
    async fn refund(&self, req: RefundRequest) -> Result<RefundOutcome, PaymentError> {
        req.validate()?;
        let form = [
            ("payment_intent", req.payment_id.clone()),
            ("amount", req.amount_minor.to_string()),
            (
                "metadata[fimy_reference]",
                req.reference.hyphenated().to_string(),
            ),
        ];
        let refund: RefundObject = self
            .post_form("v1/refunds", &req.idempotency_key, &form)
            .await?;
        let outcome = RefundOutcome {
            status: refund_status(refund.status.as_deref()).to_string(),
            id: refund.id,
        };
        tracing::info!(refund_id = %outcome.id, status = %outcome.status, "Stripe refund made");
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
            &self.config.webhook_secrets,
            self.config.tolerance,
            now,
        )?;
        parse_event(payload)
    }
}

fn network_error(path: &str, e: &reqwest::Error) -> PaymentError {
    let mut message = format!("calling Stripe {path}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    PaymentError::Unavailable(message)
}

/// Maps a non-2xx Stripe answer: card errors (HTTP 402) are declines, 409 (a concurrent
/// request with the same idempotency key), 429 and 5xx are retryable, other 4xx are our
/// mistakes.
fn map_error_response(status: u16, body: &[u8]) -> PaymentError {
    let error = serde_json::from_slice::<ErrorEnvelope>(body)
        .map(|e| e.error)
        .unwrap_or_default();
    let message = error
        .message
        .clone()
        .unwrap_or_else(|| format!("Stripe answered HTTP {status}"));
    if status == 402 || error.kind.as_deref() == Some("card_error") {
        return PaymentError::Declined {
            code: failure_code(&error, "card_declined"),
            message,
        };
    }
    match status {
        409 | 429 | 500..=599 => PaymentError::Unavailable(message),
        400..=499 => PaymentError::InvalidRequest(message),
        _ => PaymentError::Malformed(format!("unexpected HTTP {status} from Stripe: {message}")),
    }
}

/// One failure code for both providers: Stripe's `decline_code` when it says more than
/// `generic_decline` (`insufficient_funds`, `lost_card`, …), else its `code`
/// (`card_declined`, `expired_card`, `payment_intent_authentication_failure`, …).
fn failure_code(error: &StripeError, fallback: &str) -> String {
    error
        .decline_code
        .as_deref()
        .filter(|d| !d.is_empty() && *d != "generic_decline")
        .or(error.code.as_deref())
        .unwrap_or(fallback)
        .to_string()
}

/// Stripe's refund statuses in our three words.
fn refund_status(status: Option<&str>) -> &'static str {
    match status {
        Some("succeeded") => "succeeded",
        Some("failed" | "canceled") => "failed",
        // `pending`, `requires_action` and anything new: the outcome follows by webhook.
        _ => "pending",
    }
}

#[derive(Debug, Default, Deserialize)]
struct ErrorEnvelope {
    #[serde(default)]
    error: StripeError,
}

#[derive(Debug, Default, Clone, Deserialize)]
struct StripeError {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
    decline_code: Option<String>,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PaymentIntentObject {
    id: String,
    status: String,
    #[serde(default)]
    amount: i64,
    amount_received: Option<i64>,
    currency: Option<String>,
    client_secret: Option<String>,
    next_action: Option<NextAction>,
    last_payment_error: Option<StripeError>,
    metadata: Option<HashMap<String, serde_json::Value>>,
}

#[derive(Debug, Deserialize)]
struct NextAction {
    redirect_to_url: Option<RedirectToUrl>,
}

#[derive(Debug, Deserialize)]
struct RedirectToUrl {
    url: Option<String>,
}

impl PaymentIntentObject {
    fn into_intent(self) -> Result<PaymentIntent, PaymentError> {
        let status = match self.status.as_str() {
            "succeeded" => IntentStatus::Succeeded,
            "requires_action" => IntentStatus::RequiresAction {
                next_action_url: self
                    .next_action
                    .and_then(|a| a.redirect_to_url)
                    .and_then(|r| r.url),
            },
            "processing" => IntentStatus::Processing,
            "requires_payment_method" => {
                let error = self.last_payment_error.unwrap_or_default();
                IntentStatus::Failed {
                    code: failure_code(&error, "payment_failed"),
                    message: error.message.unwrap_or_default(),
                }
            }
            "canceled" => IntentStatus::Failed {
                code: "canceled".into(),
                message: "The payment was canceled.".into(),
            },
            other => {
                return Err(PaymentError::Malformed(format!(
                    "unexpected PaymentIntent status {other:?} for {}",
                    self.id
                )));
            }
        };
        Ok(PaymentIntent {
            id: self.id,
            status,
            client_secret: self.client_secret,
        })
    }

    fn reference(&self) -> Option<Uuid> {
        reference_of(self.metadata.as_ref())
    }
}

fn reference_of(metadata: Option<&HashMap<String, serde_json::Value>>) -> Option<Uuid> {
    metadata?
        .get(REFERENCE_METADATA_KEY)?
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
}

#[derive(Debug, Deserialize)]
struct RefundObject {
    id: String,
    status: Option<String>,
    #[serde(default)]
    amount: i64,
    payment_intent: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChargeObject {
    payment_intent: Option<String>,
    refunds: Option<RefundList>,
}

#[derive(Debug, Deserialize)]
struct RefundList {
    #[serde(default)]
    data: Vec<RefundObject>,
}

#[derive(Debug, Deserialize)]
struct EventEnvelope {
    id: String,
    created: i64,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Debug, Deserialize)]
struct EventData {
    object: serde_json::Value,
}

/// Reads a Stripe event (already verified): `payment_intent.succeeded`,
/// `payment_intent.payment_failed`, refunds that succeeded (`charge.refunded`, and
/// `refund.created`/`refund.updated`/`charge.refund.updated` with status `succeeded`);
/// anything else is [`WebhookKind::Other`].
pub fn parse_event(payload: &[u8]) -> Result<WebhookEvent, PaymentError> {
    let event: EventEnvelope = serde_json::from_slice(payload)
        .map_err(|e| PaymentError::Malformed(format!("not a Stripe event: {e}")))?;
    let kind = match event.kind.as_str() {
        "payment_intent.succeeded" => {
            let pi: PaymentIntentObject = object(&event)?;
            let reference = pi.reference();
            WebhookKind::PaymentSucceeded {
                amount_minor: pi.amount_received.filter(|a| *a > 0).unwrap_or(pi.amount),
                currency: pi.currency.unwrap_or_default().to_ascii_uppercase(),
                payment_id: pi.id,
                reference,
            }
        }
        "payment_intent.payment_failed" => {
            let pi: PaymentIntentObject = object(&event)?;
            let reference = pi.reference();
            let error = pi.last_payment_error.unwrap_or_default();
            WebhookKind::PaymentFailed {
                code: failure_code(&error, "payment_failed"),
                message: error.message.unwrap_or_default(),
                payment_id: pi.id,
                reference,
            }
        }
        "charge.refunded" => {
            let charge: ChargeObject = object(&event)?;
            // The list is newest first: the refund that caused this event. Accounts on API
            // versions that no longer include `refunds` learn of it by `refund.*` events.
            let refund = charge
                .refunds
                .and_then(|l| l.data.into_iter().find(is_succeeded));
            match refund {
                Some(refund) => match refund.payment_intent.or(charge.payment_intent) {
                    Some(payment_id) => WebhookKind::RefundSucceeded {
                        refund_id: refund.id,
                        payment_id,
                        amount_minor: refund.amount,
                    },
                    None => other(&event),
                },
                None => other(&event),
            }
        }
        "refund.created" | "refund.updated" | "charge.refund.updated" => {
            let refund: RefundObject = object(&event)?;
            match (is_succeeded(&refund), refund.payment_intent) {
                (true, Some(payment_id)) => WebhookKind::RefundSucceeded {
                    refund_id: refund.id,
                    payment_id,
                    amount_minor: refund.amount,
                },
                _ => other(&event),
            }
        }
        _ => other(&event),
    };
    Ok(WebhookEvent {
        id: event.id,
        created: event.created,
        kind,
    })
}

fn is_succeeded(refund: &RefundObject) -> bool {
    refund.status.as_deref() == Some("succeeded")
}

fn other(event: &EventEnvelope) -> WebhookKind {
    WebhookKind::Other {
        kind: event.kind.clone(),
    }
}

fn object<T: DeserializeOwned>(event: &EventEnvelope) -> Result<T, PaymentError> {
    T::deserialize(&event.data.object)
        .map_err(|e| PaymentError::Malformed(format!("{} event {}: {e}", event.kind, event.id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::webhook_signature::sign;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    /// What the stand-in Stripe received.
    #[derive(Debug)]
    struct Captured {
        method: String,
        path: String,
        headers: HashMap<String, String>,
        form: HashMap<String, String>,
    }

    impl Captured {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).map(String::as_str)
        }
        fn field(&self, name: &str) -> Option<&str> {
            self.form.get(name).map(String::as_str)
        }
    }

    /// A stand-in for Stripe's API on 127.0.0.1:0 answering every request with `status` and
    /// `body`, and reporting each request it got.
    async fn fake_stripe(
        status: u16,
        body: &'static str,
    ) -> (Url, mpsc::UnboundedReceiver<Captured>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let header_end = loop {
                        let n = socket.read(&mut chunk).await.unwrap();
                        assert!(n > 0, "connection closed mid-request");
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8(buf[..header_end].to_vec()).unwrap();
                    let mut lines = head.split("\r\n");
                    let mut request_line = lines.next().unwrap().split(' ');
                    let method = request_line.next().unwrap().to_string();
                    let path = request_line.next().unwrap().to_string();
                    let headers: HashMap<String, String> = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                        .collect();
                    let length: usize = headers
                        .get("content-length")
                        .map(|v| v.parse().unwrap())
                        .unwrap_or(0);
                    while buf.len() < header_end + length {
                        let n = socket.read(&mut chunk).await.unwrap();
                        assert!(n > 0, "connection closed mid-body");
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let form = url::form_urlencoded::parse(&buf[header_end..header_end + length])
                        .into_owned()
                        .collect();
                    tx.send(Captured {
                        method,
                        path,
                        headers,
                        form,
                    })
                    .unwrap();
                    let response = format!(
                        "HTTP/1.1 {status} Canned\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    socket.write_all(response.as_bytes()).await.unwrap();
                    socket.shutdown().await.unwrap();
                });
            }
        });
        (Url::parse(&format!("http://{addr}")).unwrap(), rx)
    }

    fn provider(base_url: Url) -> StripeProvider {
        StripeProvider::new(StripeConfig {
            base_url,
            ..StripeConfig::new("sk_test_123", vec!["whsec_abc".into()])
        })
        .unwrap()
    }

    fn reference() -> Uuid {
        Uuid::parse_str("0190f7a2-5b1c-7d3e-8f40-1234567890ab").unwrap()
    }

    fn payment() -> PaymentRequest {
        PaymentRequest {
            amount_minor: 12_500,
            currency: "EUR".into(),
            reference: reference(),
            idempotency_key: "purchase-42-attempt-1".into(),
            method: PaymentMethod::Stripe {
                payment_method_id: "pm_1PgXyZ".into(),
            },
            description: "Fimy gift card: Spa day for two".into(),
        }
    }

    async fn create_with(status: u16, body: &'static str) -> Result<PaymentIntent, PaymentError> {
        let (url, _rx) = fake_stripe(status, body).await;
        provider(url).create_payment(payment()).await
    }

    const SUCCEEDED: &str = r#"{
        "id": "pi_3PgXyZ", "object": "payment_intent", "amount": 12500,
        "amount_received": 12500, "currency": "eur", "status": "succeeded",
        "client_secret": "pi_3PgXyZ_secret_abc", "next_action": null,
        "last_payment_error": null, "metadata": {"fimy_reference": "0190f7a2-5b1c-7d3e-8f40-1234567890ab"}
    }"#;

    #[tokio::test]
    async fn create_payment_posts_the_stripe_form() {
        let (url, mut rx) = fake_stripe(200, SUCCEEDED).await;
        let intent = provider(url).create_payment(payment()).await.unwrap();
        assert_eq!(
            intent,
            PaymentIntent {
                id: "pi_3PgXyZ".into(),
                status: IntentStatus::Succeeded,
                client_secret: Some("pi_3PgXyZ_secret_abc".into()),
            }
        );
        let sent = rx.recv().await.unwrap();
        assert_eq!(sent.method, "POST");
        assert_eq!(sent.path, "/v1/payment_intents");
        assert_eq!(sent.header("authorization"), Some("Bearer sk_test_123"));
        assert_eq!(
            sent.header("idempotency-key"),
            Some("purchase-42-attempt-1")
        );
        assert_eq!(
            sent.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        let expected = [
            ("amount", "12500"),
            ("currency", "eur"),
            ("payment_method", "pm_1PgXyZ"),
            ("confirm", "true"),
            ("automatic_payment_methods[enabled]", "true"),
            ("automatic_payment_methods[allow_redirects]", "never"),
            (
                "metadata[fimy_reference]",
                "0190f7a2-5b1c-7d3e-8f40-1234567890ab",
            ),
            ("description", "Fimy gift card: Spa day for two"),
        ];
        for (name, value) in expected {
            assert_eq!(sent.field(name), Some(value), "field {name}");
        }
        assert_eq!(sent.form.len(), expected.len());
    }

    #[tokio::test]
    async fn base_url_with_a_path_prefix_is_kept() {
        let (url, mut rx) = fake_stripe(200, SUCCEEDED).await;
        let url = url.join("/stripe-proxy/").unwrap();
        provider(url).create_payment(payment()).await.unwrap();
        assert_eq!(
            rx.recv().await.unwrap().path,
            "/stripe-proxy/v1/payment_intents"
        );
    }

    #[tokio::test]
    async fn requires_action_carries_the_redirect_url() {
        let intent = create_with(
            200,
            r#"{"id": "pi_3DS", "status": "requires_action", "amount": 12500,
                "client_secret": "pi_3DS_secret_x",
                "next_action": {"type": "redirect_to_url",
                    "redirect_to_url": {"url": "https://hooks.stripe.com/3d_secure_2/hosted?x=1",
                                        "return_url": "https://fimy.example/return"}}}"#,
        )
        .await
        .unwrap();
        assert_eq!(
            intent.status,
            IntentStatus::RequiresAction {
                next_action_url: Some("https://hooks.stripe.com/3d_secure_2/hosted?x=1".into())
            }
        );
        assert_eq!(intent.client_secret.as_deref(), Some("pi_3DS_secret_x"));
    }

    #[tokio::test]
    async fn requires_action_for_stripe_js_has_no_url() {
        let intent = create_with(
            200,
            r#"{"id": "pi_3DS", "status": "requires_action", "amount": 12500,
                "client_secret": "pi_3DS_secret_x",
                "next_action": {"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect"}}}"#,
        )
        .await
        .unwrap();
        assert_eq!(
            intent.status,
            IntentStatus::RequiresAction {
                next_action_url: None
            }
        );
    }

    #[tokio::test]
    async fn processing_and_failed_statuses() {
        let intent = create_with(200, r#"{"id": "pi_p", "status": "processing"}"#)
            .await
            .unwrap();
        assert_eq!(intent.status, IntentStatus::Processing);

        let intent = create_with(
            200,
            r#"{"id": "pi_f", "status": "requires_payment_method",
                "last_payment_error": {"type": "card_error", "code": "payment_intent_authentication_failure",
                    "message": "The provided PaymentMethod has failed authentication."}}"#,
        )
        .await
        .unwrap();
        assert_eq!(
            intent.status,
            IntentStatus::Failed {
                code: "payment_intent_authentication_failure".into(),
                message: "The provided PaymentMethod has failed authentication.".into()
            }
        );

        let result = create_with(200, r#"{"id": "pi_x", "status": "requires_capture"}"#).await;
        assert!(matches!(result, Err(PaymentError::Malformed(_))));
        let result = create_with(200, "<html>not json</html>").await;
        assert!(matches!(result, Err(PaymentError::Malformed(_))));
    }

    #[tokio::test]
    async fn card_error_402_is_a_decline() {
        let result = create_with(
            402,
            r#"{"error": {"type": "card_error", "code": "card_declined",
                "decline_code": "insufficient_funds", "message": "Your card has insufficient funds.",
                "payment_intent": {"id": "pi_d", "status": "requires_payment_method"}}}"#,
        )
        .await;
        assert_eq!(
            result,
            Err(PaymentError::Declined {
                code: "insufficient_funds".into(),
                message: "Your card has insufficient funds.".into()
            })
        );
        let result = create_with(
            402,
            r#"{"error": {"type": "card_error", "code": "card_declined",
                "decline_code": "generic_decline", "message": "Your card was declined."}}"#,
        )
        .await;
        assert_eq!(
            result,
            Err(PaymentError::Declined {
                code: "card_declined".into(),
                message: "Your card was declined.".into()
            })
        );
    }

    #[tokio::test]
    async fn other_4xx_is_an_invalid_request_with_stripe_message() {
        let result = create_with(
            400,
            r#"{"error": {"type": "invalid_request_error", "code": "resource_missing",
                "param": "payment_method", "message": "No such PaymentMethod: 'pm_1PgXyZ'"}}"#,
        )
        .await;
        assert_eq!(
            result,
            Err(PaymentError::InvalidRequest(
                "No such PaymentMethod: 'pm_1PgXyZ'".into()
            ))
        );
        let result = create_with(
            401,
            r#"{"error": {"type": "invalid_request_error",
            "message": "Invalid API Key provided: sk_test_***123"}}"#,
        )
        .await;
        assert!(matches!(result, Err(PaymentError::InvalidRequest(_))));
    }

    #[tokio::test]
    async fn server_errors_and_rate_limits_are_unavailable() {
        let result = create_with(
            500,
            r#"{"error": {"type": "api_error", "message": "An unknown error occurred"}}"#,
        )
        .await;
        assert_eq!(
            result,
            Err(PaymentError::Unavailable(
                "An unknown error occurred".into()
            ))
        );
        assert!(result.unwrap_err().is_retryable());
        let result = create_with(503, "").await;
        assert!(matches!(result, Err(PaymentError::Unavailable(_))));
        let result = create_with(
            429,
            r#"{"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"}}"#,
        )
        .await;
        assert!(matches!(result, Err(PaymentError::Unavailable(_))));
    }

    #[tokio::test]
    async fn network_failure_is_unavailable() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let url = Url::parse(&format!("http://{addr}")).unwrap();
        let result = provider(url).create_payment(payment()).await;
        assert!(
            matches!(result, Err(PaymentError::Unavailable(_))),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn test_cards_and_bad_requests_are_refused_before_calling_stripe() {
        let (url, mut rx) = fake_stripe(200, SUCCEEDED).await;
        let stripe = provider(url);
        let mut req = payment();
        req.method = PaymentMethod::TestCard {
            number: "4242424242424242".into(),
        };
        assert!(matches!(
            stripe.create_payment(req).await,
            Err(PaymentError::InvalidRequest(_))
        ));
        let mut req = payment();
        req.amount_minor = -1;
        assert!(matches!(
            stripe.create_payment(req).await,
            Err(PaymentError::InvalidRequest(_))
        ));
        assert!(rx.try_recv().is_err(), "Stripe was called");
    }

    #[tokio::test]
    async fn refund_posts_the_stripe_form() {
        let (url, mut rx) = fake_stripe(
            200,
            r#"{"id": "re_3PgXyZ", "object": "refund", "amount": 2500, "currency": "eur",
                "payment_intent": "pi_3PgXyZ", "status": "succeeded"}"#,
        )
        .await;
        let outcome = provider(url)
            .refund(RefundRequest {
                payment_id: "pi_3PgXyZ".into(),
                amount_minor: 2500,
                reference: reference(),
                idempotency_key: "refund-7".into(),
            })
            .await
            .unwrap();
        assert_eq!(
            outcome,
            RefundOutcome {
                id: "re_3PgXyZ".into(),
                status: "succeeded".into()
            }
        );
        let sent = rx.recv().await.unwrap();
        assert_eq!(sent.path, "/v1/refunds");
        assert_eq!(sent.header("authorization"), Some("Bearer sk_test_123"));
        assert_eq!(sent.header("idempotency-key"), Some("refund-7"));
        assert_eq!(sent.field("payment_intent"), Some("pi_3PgXyZ"));
        assert_eq!(sent.field("amount"), Some("2500"));
        assert_eq!(
            sent.field("metadata[fimy_reference]"),
            Some("0190f7a2-5b1c-7d3e-8f40-1234567890ab")
        );
    }

    #[tokio::test]
    async fn refund_errors_and_statuses() {
        let (url, _rx) = fake_stripe(
            400,
            r#"{"error": {"type": "invalid_request_error", "code": "amount_too_large",
                "message": "Refund amount (€150.00) is greater than unrefunded amount on charge (€125.00)"}}"#,
        )
        .await;
        let request = RefundRequest {
            payment_id: "pi_3PgXyZ".into(),
            amount_minor: 15_000,
            reference: reference(),
            idempotency_key: "refund-8".into(),
        };
        assert!(matches!(
            provider(url).refund(request.clone()).await,
            Err(PaymentError::InvalidRequest(m)) if m.contains("greater than")
        ));
        let (url, _rx) = fake_stripe(200, r#"{"id": "re_p", "status": "requires_action"}"#).await;
        assert_eq!(
            provider(url).refund(request).await.unwrap().status,
            "pending"
        );
        assert_eq!(refund_status(Some("canceled")), "failed");
        assert_eq!(refund_status(Some("failed")), "failed");
        assert_eq!(refund_status(Some("pending")), "pending");
    }

    #[test]
    fn config_debug_redacts_secrets() {
        let config = StripeConfig::new(
            "sk_live_51H8verysecretvalue",
            vec!["whsec_topsecret".into(), "whsec_oldsecret".into()],
        );
        let shown = format!("{config:?}");
        assert!(!shown.contains("verysecret"), "{shown}");
        assert!(!shown.contains("topsecret"), "{shown}");
        assert!(!shown.contains("oldsecret"), "{shown}");
        assert!(shown.contains("sk_live_***"), "{shown}");
        assert!(shown.contains("api.stripe.com"), "{shown}");
        let shown = format!("{:?}", provider(default_base_url()));
        assert!(!shown.contains("sk_test_123"), "{shown}");
    }

    #[test]
    fn new_refuses_an_empty_configuration() {
        assert!(StripeProvider::new(StripeConfig::new("", vec!["whsec_x".into()])).is_err());
        assert!(StripeProvider::new(StripeConfig::new("sk_test_1", vec![])).is_err());
        assert_eq!(provider(default_base_url()).name(), "stripe");
    }

    // Trimmed from real Stripe event deliveries (API version 2024-06-20).
    const EVENT_SUCCEEDED: &str = r#"{
      "id": "evt_3PgXyZ2eZvKYlo2C0pGkSUCd",
      "object": "event",
      "api_version": "2024-06-20",
      "created": 1721900000,
      "data": {
        "object": {
          "id": "pi_3PgXyZ2eZvKYlo2C0sJ3bGQ5",
          "object": "payment_intent",
          "amount": 12500,
          "amount_capturable": 0,
          "amount_received": 12500,
          "capture_method": "automatic",
          "client_secret": "pi_3PgXyZ2eZvKYlo2C0sJ3bGQ5_secret_Qx",
          "confirmation_method": "automatic",
          "created": 1721899990,
          "currency": "eur",
          "description": "Fimy gift card: Spa day for two",
          "last_payment_error": null,
          "latest_charge": "ch_3PgXyZ2eZvKYlo2C0bHqNf0A",
          "livemode": false,
          "metadata": {"fimy_reference": "0190f7a2-5b1c-7d3e-8f40-1234567890ab"},
          "next_action": null,
          "payment_method": "pm_1PgXyZ2eZvKYlo2CxZ0aVY3s",
          "payment_method_types": ["card"],
          "status": "succeeded"
        }
      },
      "livemode": false,
      "pending_webhooks": 1,
      "request": {"id": "req_Y8cN1Nw6T2ayXJ", "idempotency_key": "purchase-42-attempt-1"},
      "type": "payment_intent.succeeded"
    }"#;

    const EVENT_FAILED: &str = r#"{
      "id": "evt_3PgXz02eZvKYlo2C1Aq2rB2L",
      "object": "event",
      "api_version": "2024-06-20",
      "created": 1721900100,
      "data": {
        "object": {
          "id": "pi_3PgXz02eZvKYlo2C1wEr5u0D",
          "object": "payment_intent",
          "amount": 8000,
          "amount_received": 0,
          "currency": "cad",
          "last_payment_error": {
            "charge": "ch_3PgXz02eZvKYlo2C1nP8s4aA",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "doc_url": "https://stripe.com/docs/error-codes/card-declined",
            "message": "Your card has insufficient funds.",
            "type": "card_error"
          },
          "metadata": {"fimy_reference": "0190f7a2-5b1c-7d3e-8f40-1234567890ab"},
          "status": "requires_payment_method"
        }
      },
      "livemode": false,
      "pending_webhooks": 1,
      "request": {"id": "req_a", "idempotency_key": "k"},
      "type": "payment_intent.payment_failed"
    }"#;

    const EVENT_CHARGE_REFUNDED: &str = r#"{
      "id": "evt_3PgXyZ2eZvKYlo2C0Rfd1",
      "object": "event",
      "api_version": "2022-08-01",
      "created": 1721903600,
      "data": {
        "object": {
          "id": "ch_3PgXyZ2eZvKYlo2C0bHqNf0A",
          "object": "charge",
          "amount": 12500,
          "amount_captured": 12500,
          "amount_refunded": 5000,
          "currency": "eur",
          "payment_intent": "pi_3PgXyZ2eZvKYlo2C0sJ3bGQ5",
          "refunded": false,
          "refunds": {
            "object": "list",
            "data": [
              {"id": "re_3PgXyZ2eZvKYlo2C0new", "object": "refund", "amount": 3000,
               "charge": "ch_3PgXyZ2eZvKYlo2C0bHqNf0A", "currency": "eur",
               "payment_intent": "pi_3PgXyZ2eZvKYlo2C0sJ3bGQ5", "status": "succeeded"},
              {"id": "re_3PgXyZ2eZvKYlo2C0old", "object": "refund", "amount": 2000,
               "charge": "ch_3PgXyZ2eZvKYlo2C0bHqNf0A", "currency": "eur",
               "payment_intent": "pi_3PgXyZ2eZvKYlo2C0sJ3bGQ5", "status": "succeeded"}
            ],
            "has_more": false,
            "total_count": 2,
            "url": "/v1/charges/ch_3PgXyZ2eZvKYlo2C0bHqNf0A/refunds"
          },
          "status": "succeeded"
        }
      },
      "livemode": false,
      "pending_webhooks": 1,
      "request": {"id": "req_b", "idempotency_key": "refund-7"},
      "type": "charge.refunded"
    }"#;

    const EVENT_REFUND_UPDATED: &str = r#"{
      "id": "evt_3PgXyZ2eZvKYlo2C0Ref2",
      "object": "event",
      "api_version": "2024-06-20",
      "created": 1721903700,
      "data": {
        "object": {
          "id": "re_3PgXyZ2eZvKYlo2C0new",
          "object": "refund",
          "amount": 3000,
          "charge": "ch_3PgXyZ2eZvKYlo2C0bHqNf0A",
          "created": 1721903600,
          "currency": "eur",
          "metadata": {"fimy_reference": "0190f7a2-5b1c-7d3e-8f40-1234567890ab"},
          "payment_intent": "pi_3PgXyZ2eZvKYlo2C0sJ3bGQ5",
          "reason": null,
          "status": "succeeded"
        },
        "previous_attributes": {"status": "pending"}
      },
      "livemode": false,
      "pending_webhooks": 1,
      "request": {"id": null, "idempotency_key": null},
      "type": "refund.updated"
    }"#;

    fn verified(payload: &str) -> Result<WebhookEvent, PaymentError> {
        let now = Utc::now();
        let header = sign(payload.as_bytes(), "whsec_abc", now.timestamp());
        provider(default_base_url()).verify_webhook(payload.as_bytes(), &header, now)
    }

    #[test]
    fn webhook_payment_succeeded() {
        assert_eq!(
            verified(EVENT_SUCCEEDED).unwrap(),
            WebhookEvent {
                id: "evt_3PgXyZ2eZvKYlo2C0pGkSUCd".into(),
                created: 1_721_900_000,
                kind: WebhookKind::PaymentSucceeded {
                    payment_id: "pi_3PgXyZ2eZvKYlo2C0sJ3bGQ5".into(),
                    reference: Some(reference()),
                    amount_minor: 12_500,
                    currency: "EUR".into(),
                }
            }
        );
    }

    #[test]
    fn webhook_payment_failed() {
        assert_eq!(
            verified(EVENT_FAILED).unwrap().kind,
            WebhookKind::PaymentFailed {
                payment_id: "pi_3PgXz02eZvKYlo2C1wEr5u0D".into(),
                reference: Some(reference()),
                code: "insufficient_funds".into(),
                message: "Your card has insufficient funds.".into(),
            }
        );
    }

    #[test]
    fn webhook_refunds() {
        let expected = WebhookKind::RefundSucceeded {
            refund_id: "re_3PgXyZ2eZvKYlo2C0new".into(),
            payment_id: "pi_3PgXyZ2eZvKYlo2C0sJ3bGQ5".into(),
            amount_minor: 3000,
        };
        assert_eq!(verified(EVENT_CHARGE_REFUNDED).unwrap().kind, expected);
        assert_eq!(verified(EVENT_REFUND_UPDATED).unwrap().kind, expected);
        // A refund still pending is not announced as succeeded.
        let pending =
            EVENT_REFUND_UPDATED.replace(r#""status": "succeeded""#, r#""status": "pending""#);
        assert_eq!(
            verified(&pending).unwrap().kind,
            WebhookKind::Other {
                kind: "refund.updated".into()
            }
        );
        // Newer API versions leave `refunds` out of the charge.
        let without_list = r#"{"id": "evt_1", "created": 1, "type": "charge.refunded",
            "data": {"object": {"id": "ch_1", "object": "charge", "payment_intent": "pi_1"}}}"#;
        assert_eq!(
            verified(without_list).unwrap().kind,
            WebhookKind::Other {
                kind: "charge.refunded".into()
            }
        );
    }

    #[test]
    fn webhook_other_and_missing_reference() {
        let event = r#"{"id": "evt_c", "object": "event", "created": 1721900000,
            "type": "customer.created", "data": {"object": {"id": "cus_1", "object": "customer"}}}"#;
        assert_eq!(
            verified(event).unwrap().kind,
            WebhookKind::Other {
                kind: "customer.created".into()
            }
        );
        let foreign = EVENT_SUCCEEDED.replace(
            r#""metadata": {"fimy_reference": "0190f7a2-5b1c-7d3e-8f40-1234567890ab"}"#,
            r#""metadata": {}"#,
        );
        assert!(matches!(
            verified(&foreign).unwrap().kind,
            WebhookKind::PaymentSucceeded {
                reference: None,
                ..
            }
        ));
    }

    #[test]
    fn webhook_bad_signature_or_body() {
        let now = Utc::now();
        let stripe = provider(default_base_url());
        let header = sign(EVENT_SUCCEEDED.as_bytes(), "whsec_wrong", now.timestamp());
        assert!(matches!(
            stripe.verify_webhook(EVENT_SUCCEEDED.as_bytes(), &header, now),
            Err(PaymentError::BadSignature(_))
        ));
        assert!(matches!(
            verified("not json"),
            Err(PaymentError::Malformed(_))
        ));
        let no_id = r#"{"created": 1, "type": "payment_intent.succeeded",
            "data": {"object": {"status": "succeeded"}}}"#;
        assert!(matches!(verified(no_id), Err(PaymentError::Malformed(_))));
        let object_without_id = r#"{"id": "evt_1", "created": 1, "type": "payment_intent.succeeded",
            "data": {"object": {"status": "succeeded"}}}"#;
        assert!(matches!(
            verified(object_without_id),
            Err(PaymentError::Malformed(_))
        ));
    }
}

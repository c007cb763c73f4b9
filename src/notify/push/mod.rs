//! Web Push: notifications sent to users' browsers through their push services.
//!
//! - [`vapid`]: the server's P-256 key pair (RFC 8292), generated on first start and kept.
//! - Subscriptions (`push_subscriptions`) are what browsers hand over after
//!   `PushManager.subscribe()`; the HTTP side is in [`crate::http::push`].
//! - [`deliver`] sends one outbox row (channel `push`) to every subscription of its user:
//!   a short JSON message in the user's language, encrypted for each browser (RFC 8291,
//!   `aes128gcm`) and signed with VAPID. Dead subscriptions (404/410) are removed.
//!
//! Messages say what happened to a card and nothing more: never an amount or a venue.
//! They carry the event id (and the `Topic` header is derived from it) so that a message
//! delivered twice — the outbox delivers at least once — is recognised by the receiver.

pub mod policy;
pub mod vapid;

use crate::clock::SharedClock;
use crate::notify::delivery::Attempt;
use crate::notify::delivery::{Delivery, DeliveryError};
use actors::Locale;
use actors::notice::{Audience, NoticeKind};
use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use entities::{notification_preference, outbox, push_subscription, user};
pub use policy::PushHosts;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::time::Duration;
use url::Url;
use uuid::Uuid;
pub use vapid::VapidKey;

/// How long one push request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a push service keeps a message for a browser that is offline (seconds).
pub const TTL_SECS: u32 = 2 * 24 * 3600;
/// The longest endpoint URL accepted.
pub const MAX_ENDPOINT_LEN: usize = 2048;
/// Length of the `Topic` header (RFC 8030 allows at most 32 base64url characters).
const TOPIC_LEN: usize = 22;

/// The Web Push channel: sends each row to its user's subscribed browsers.
pub struct PushChannel {
    pub db: sea_orm::DatabaseConnection,
    pub clock: SharedClock,
    /// Where a notification's click leads.
    pub public_url: Url,
    pub push: std::sync::Arc<PushService>,
}

#[async_trait::async_trait]
impl crate::notify::delivery::Channel for PushChannel {
    fn kind(&self) -> actors::notice::Channel {
        actors::notice::Channel::Push
    }

    async fn deliver(&self, row: &outbox::Model) -> Attempt {
        Attempt::Done(deliver(self, row).await)
    }
}

/// The process-wide push sender: the VAPID key, the contact it signs with, the hosts it
/// may reach and one HTTP client.
pub struct PushService {
    pub vapid: VapidKey,
    /// The JWT `sub`: `FIMY_VAPID_SUBJECT`, or a `mailto:` at the public host
    /// ([`default_subject`]).
    pub subject: String,
    /// The push services endpoints may point at (`push_allow_hosts`).
    pub hosts: PushHosts,
    /// Resolves through [`policy::PublicResolver`]: it never connects to a non-public
    /// address that the allow-list does not name.
    client: reqwest::Client,
}

impl std::fmt::Debug for PushService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushService")
            .field("vapid", &self.vapid)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// What the push sender is made from (`Config::push_settings`).
#[derive(Debug, Clone)]
pub struct PushSettings<'a> {
    /// Where the VAPID key is kept when none is configured.
    pub data_dir: &'a std::path::Path,
    pub vapid_private_key: Option<&'a str>,
    pub vapid_subject: Option<String>,
    /// The address emails come from, for the default VAPID contact.
    pub email_from: Option<&'a str>,
    pub public_url: &'a Url,
    pub allow_hosts: PushHosts,
}

impl PushService {
    /// Loads (or creates) the VAPID key and builds the HTTP client.
    pub fn new(settings: PushSettings<'_>) -> anyhow::Result<Self> {
        let vapid = VapidKey::load_or_create(settings.data_dir, settings.vapid_private_key)?;
        let subject = settings
            .vapid_subject
            .clone()
            .unwrap_or_else(|| default_subject(settings.email_from, settings.public_url));
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(REQUEST_TIMEOUT)
            // Push services answer directly; following a redirect could lead anywhere.
            .redirect(reqwest::redirect::Policy::none())
            // Every connection's addresses are checked against the allow-list; a proxy
            // would hide them (and is not needed to reach a push service).
            .no_proxy()
            .dns_resolver(policy::PublicResolver::shared(settings.allow_hosts.clone()))
            .user_agent(concat!("fimy/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow::anyhow!("Failed to build the push HTTP client: {e}"))?;
        Ok(Self {
            vapid,
            subject,
            hosts: settings.allow_hosts,
            client,
        })
    }
}

/// The VAPID contact when none is configured: RFC 8292 asks for a `mailto:` or an
/// `https:` URI, so not the public URL (often `http://` in development) but the address
/// emails come from (`email_from`), or `webpush@` the public URL's host.
pub fn default_subject(email_from: Option<&str>, public_url: &Url) -> String {
    if let Some(address) = email_from.and_then(|f| f.parse::<lettre::message::Mailbox>().ok()) {
        return format!("mailto:{}", address.email);
    }
    let host = match public_url.host() {
        Some(url::Host::Domain(d)) => d.to_owned(),
        // An address literal (RFC 5321): `webpush@[127.0.0.1]`.
        Some(url::Host::Ipv4(ip)) => format!("[{ip}]"),
        Some(url::Host::Ipv6(ip)) => format!("[IPv6:{ip}]"),
        None => "localhost".to_owned(),
    };
    format!("mailto:webpush@{host}")
}

// ---------------------------------------------------------------- subscription checks

/// Why a subscription is refused: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSubscription {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> InvalidSubscription {
    InvalidSubscription {
        field,
        message: message.into(),
    }
}

/// A push endpoint: an `https://` URL at a host of the allow-list ([`PushHosts`]; plain
/// `http://` only to this machine, listed explicitly, for development and tests),
/// without credentials, at most [`MAX_ENDPOINT_LEN`] long. An address in the URL must be
/// allowed itself; names are resolved apart ([`check_endpoint`], and on connection).
pub fn parse_endpoint(raw: &str, hosts: &PushHosts) -> Result<Url, InvalidSubscription> {
    const FIELD: &str = "endpoint";
    if raw.len() > MAX_ENDPOINT_LEN {
        return Err(invalid(
            FIELD,
            format!("must be at most {MAX_ENDPOINT_LEN} characters"),
        ));
    }
    let url = Url::parse(raw).map_err(|e| invalid(FIELD, format!("is not a URL ({e})")))?;
    let Some(host) = url.host().filter(|h| !matches!(h, url::Host::Domain(""))) else {
        return Err(invalid(FIELD, "has no host"));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(FIELD, "must not carry credentials"));
    }
    match url.scheme() {
        "https" => {}
        "http" if hosts.allows_plain_http(&host) => {}
        _ => return Err(invalid(FIELD, "must be an https:// URL")),
    }
    if !hosts.allows_host(&host) {
        return Err(invalid(
            FIELD,
            format!("is not at a known push service ({host} is not in push_allow_hosts)"),
        ));
    }
    Ok(url)
}

/// [`parse_endpoint`], then the name's addresses: an endpoint whose host resolves to an
/// address that is not public (and not listed) is refused. A lookup that fails refuses
/// nothing here; every connection checks again.
pub async fn check_endpoint(raw: &str, hosts: &PushHosts) -> Result<Url, InvalidSubscription> {
    let url = parse_endpoint(raw, hosts)?;
    if let (Some(url::Host::Domain(name)), Some(port)) = (url.host(), url.port_or_known_default()) {
        let refused = policy::refused_addresses(hosts, name, port).await;
        if let Some(ip) = refused.first() {
            return Err(invalid(
                "endpoint",
                format!("resolves to {ip}, which is not a public address"),
            ));
        }
    }
    Ok(url)
}

fn decode_b64url(value: &str) -> Option<Vec<u8>> {
    let value = value.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(value)
        .ok()
        .or_else(|| URL_SAFE.decode(value).ok())
}

/// The browser's public key: base64url of a 65-byte uncompressed P-256 point.
pub fn parse_p256dh(raw: &str) -> Result<p256::PublicKey, InvalidSubscription> {
    const FIELD: &str = "keys.p256dh";
    let bytes = decode_b64url(raw).ok_or_else(|| invalid(FIELD, "is not base64url"))?;
    if bytes.len() != 65 || bytes[0] != 0x04 {
        return Err(invalid(
            FIELD,
            "must be a 65-byte uncompressed P-256 point in base64url",
        ));
    }
    p256::PublicKey::from_sec1_bytes(&bytes)
        .map_err(|_| invalid(FIELD, "is not a point on the P-256 curve"))
}

/// The authentication secret: base64url of 16 bytes.
pub fn parse_auth(raw: &str) -> Result<[u8; 16], InvalidSubscription> {
    const FIELD: &str = "keys.auth";
    decode_b64url(raw)
        .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| invalid(FIELD, "must be 16 bytes in base64url"))
}

/// The canonical (unpadded base64url) form a key is stored in.
pub fn encode_key(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

// ---------------------------------------------------------------- messages

/// What a browser receives (decrypted), for its service worker to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushMessage {
    pub title: String,
    pub body: String,
    /// Where a click on the notification leads.
    pub url: String,
    /// The outbox kind (`card_opened`, `card_booked`, …).
    pub kind: String,
    pub card_id: Option<Uuid>,
    /// The event announced: a receiver that saw it already ignores the message.
    pub event_id: Uuid,
}

/// The title and body of a notice, in French or English. Donors hear what happened to
/// their gift, never an amount or a place.
pub fn texts(
    kind: Option<NoticeKind>,
    audience: Option<Audience>,
    lang: Locale,
) -> (&'static str, &'static str) {
    let donor = audience == Some(Audience::Donor);
    match (kind, donor, lang) {
        (Some(NoticeKind::CardDelivered), _, Locale::Fr) => (
            "Votre cadeau a été remis",
            "Le destinataire a reçu votre carte cadeau.",
        ),
        (Some(NoticeKind::CardDelivered), _, Locale::En) => (
            "Your gift was delivered",
            "The recipient has received your gift card.",
        ),
        (Some(NoticeKind::CardOpened), _, Locale::Fr) => (
            "Votre cadeau a été ouvert",
            "Le destinataire vient de découvrir votre carte cadeau.",
        ),
        (Some(NoticeKind::CardOpened), _, Locale::En) => (
            "Your gift was opened",
            "The recipient has just opened your gift card.",
        ),
        (Some(NoticeKind::CardBooked), _, Locale::Fr) => (
            "Votre cadeau a été réservé",
            "Le destinataire a réservé son expérience.",
        ),
        (Some(NoticeKind::CardBooked), _, Locale::En) => (
            "Your gift was booked",
            "The recipient has booked their experience.",
        ),
        (Some(NoticeKind::CardUsed), true, Locale::Fr) => (
            "Votre cadeau a été utilisé",
            "Le destinataire a profité de son expérience.",
        ),
        (Some(NoticeKind::CardUsed), true, Locale::En) => (
            "Your gift was used",
            "The recipient has enjoyed their experience.",
        ),
        (Some(NoticeKind::CardUsed), false, Locale::Fr) => (
            "Carte cadeau utilisée",
            "Votre carte cadeau vient d'être utilisée.",
        ),
        (Some(NoticeKind::CardUsed), false, Locale::En) => {
            ("Gift card used", "Your gift card has just been used.")
        }
        (Some(NoticeKind::BookingConfirmed), _, Locale::Fr) => (
            "Réservation confirmée",
            "Votre réservation est confirmée. Retrouvez les détails dans l'application.",
        ),
        (Some(NoticeKind::BookingConfirmed), _, Locale::En) => (
            "Booking confirmed",
            "Your booking is confirmed. See the details in the app.",
        ),
        (Some(NoticeKind::ValidationRequested), _, Locale::Fr) => (
            "Validation demandée",
            "Le partenaire attend votre confirmation pour valider votre réservation.",
        ),
        (Some(NoticeKind::ValidationRequested), _, Locale::En) => (
            "Validation requested",
            "The venue is waiting for you to confirm your booking.",
        ),
        (Some(NoticeKind::GiftReceived), _, Locale::Fr) => (
            "Vous avez reçu un cadeau",
            "Une carte cadeau vous attend : ouvrez-la pour la découvrir.",
        ),
        (Some(NoticeKind::GiftReceived), _, Locale::En) => (
            "You received a gift",
            "A gift card is waiting for you: open it to find out more.",
        ),
        (_, _, Locale::Fr) => (
            "Du nouveau sur votre carte cadeau",
            "Ouvrez l'application pour en savoir plus.",
        ),
        (_, _, Locale::En) => (
            "News about your gift card",
            "Open the app to find out more.",
        ),
    }
}

/// The message for an outbox row, in the user's language.
pub fn message_for(row: &outbox::Model, lang: Locale, public_url: &Url) -> PushMessage {
    let (kind, audience) = (NoticeKind::parse(&row.kind), Audience::parse(&row.audience));
    let (title, body) = texts(kind, audience, lang);
    let card_id = row.card_id.or_else(|| {
        serde_json::from_str::<serde_json::Value>(&row.payload)
            .ok()
            .and_then(|v| v.get("card_id")?.as_str()?.parse().ok())
    });
    // The page of the web app where this person follows the card.
    let page = match audience {
        Some(Audience::Donor) => "wallet",
        Some(Audience::Recipient) => "gift",
        _ => "",
    };
    let mut url = public_url.join(page).unwrap_or_else(|_| public_url.clone());
    if let Some(id) = card_id {
        url.query_pairs_mut().append_pair("card", &id.to_string());
    }
    PushMessage {
        title: title.to_owned(),
        body: body.to_owned(),
        url: url.to_string(),
        kind: row.kind.clone(),
        card_id,
        event_id: row.event_id,
    }
}

/// The `Topic` header of an event's messages: a short hash of its id. A push service
/// replaces a message still waiting for the browser by a newer one with the same topic,
/// so a redelivery does not pile up.
pub fn topic(event_id: Uuid) -> String {
    let digest = Sha256::digest(event_id.as_bytes());
    let mut topic = URL_SAFE_NO_PAD.encode(digest);
    topic.truncate(TOPIC_LEN);
    topic
}

fn urgency(kind: &str) -> &'static str {
    match NoticeKind::parse(kind) {
        Some(NoticeKind::BookingConfirmed | NoticeKind::ValidationRequested) => "high",
        _ => "normal",
    }
}

// ---------------------------------------------------------------- delivery

/// What became of one subscription's message.
#[derive(Debug)]
enum Outcome {
    Sent,
    Gone(String),
    Retry(String),
    Invalid(String),
}

fn db_retry(e: sea_orm::DbErr) -> DeliveryError {
    DeliveryError::Retry(format!("database: {e}"))
}

/// Sends an outbox row (channel `push`) to every subscription of its user.
///
/// `Ok` when there is nothing to send (no subscriptions, push turned off) or when at
/// least one browser took the message and none asked to retry; `Retry` when a push
/// service was unreachable, overloaded (429, 5xx) or the database failed — the browsers
/// that got it already will see it again, with the same event id and topic; `Gone` when
/// every subscription is dead (404/410; they are deleted); `Invalid` when the row names
/// no user or the push services refused the request (another 4xx).
pub async fn deliver(state: &PushChannel, row: &outbox::Model) -> Delivery {
    let Some(user_id) = row.user_id else {
        return Err(DeliveryError::Invalid(
            "a push notice needs a user_id".to_owned(),
        ));
    };
    let subscriptions = push_subscription::Entity::find()
        .filter(push_subscription::Column::UserId.eq(user_id))
        .all(&state.db)
        .await
        .map_err(db_retry)?;
    if subscriptions.is_empty() {
        return Ok(());
    }
    let wants_push = notification_preference::Entity::find_by_id(user_id)
        .one(&state.db)
        .await
        .map_err(db_retry)?
        .is_none_or(|p| p.push);
    if !wants_push {
        return Ok(());
    }
    let locale = user::Entity::find_by_id(user_id)
        .one(&state.db)
        .await
        .map_err(db_retry)?
        .map(|u| Locale::of(&u.locale))
        .unwrap_or_default();
    let message = message_for(row, locale, &state.public_url);
    let plaintext = serde_json::to_vec(&message)
        .map_err(|e| DeliveryError::Invalid(format!("cannot encode the message: {e}")))?;
    let now = state.clock.now();
    let sends = subscriptions
        .iter()
        .map(|s| send_one(state, s, &plaintext, row, now));
    let outcomes = futures_util::future::join_all(sends).await;

    let (mut sent, mut gone, mut retry, mut refused) = (0, Vec::new(), Vec::new(), Vec::new());
    for (subscription, outcome) in subscriptions.iter().zip(outcomes) {
        match outcome {
            Outcome::Sent => sent += 1,
            Outcome::Gone(why) => {
                tracing::info!(subscription = %subscription.id, %why,
                    "push subscription gone; removing it");
                let res = push_subscription::Entity::delete_by_id(subscription.id)
                    .exec(&state.db)
                    .await;
                if let Err(e) = res {
                    tracing::warn!(error = %e, "failed to remove a dead push subscription");
                }
                gone.push(why);
            }
            Outcome::Retry(why) => retry.push(why),
            Outcome::Invalid(why) => {
                tracing::warn!(subscription = %subscription.id, %why, "push refused");
                refused.push(why);
            }
        }
    }
    if !retry.is_empty() {
        Err(DeliveryError::Retry(retry.join("; ")))
    } else if sent > 0 {
        Ok(())
    } else if !refused.is_empty() {
        Err(DeliveryError::Invalid(refused.join("; ")))
    } else {
        Err(DeliveryError::Gone(gone.join("; ")))
    }
}

/// Encrypts, signs and POSTs the message to one subscription.
async fn send_one(
    state: &PushChannel,
    subscription: &push_subscription::Model,
    plaintext: &[u8],
    row: &outbox::Model,
    now: DateTime<Utc>,
) -> Outcome {
    let push = &state.push;
    // A row that no longer parses (or whose host is no longer allowed) can never be
    // delivered: treat it as gone.
    let endpoint = match parse_endpoint(&subscription.endpoint, &push.hosts) {
        Ok(url) => url,
        Err(e) => return Outcome::Gone(format!("stored endpoint unusable: {}", e.message)),
    };
    let keys = parse_p256dh(&subscription.p256dh)
        .and_then(|p| parse_auth(&subscription.auth).map(|a| (p, a)));
    let (ua_public, auth) = match keys {
        Ok(keys) => keys,
        Err(e) => return Outcome::Gone(format!("stored keys unusable: {}", e.message)),
    };
    let auth = web_push_native::Auth::clone_from_slice(&auth);
    let body = match web_push_native::encrypt(plaintext.to_vec(), &ua_public, &auth) {
        Ok(body) => body,
        Err(e) => return Outcome::Invalid(format!("encryption failed: {e}")),
    };
    let authorization = push.vapid.authorization(&endpoint, &push.subject, now);
    let origin = vapid::origin(&endpoint);
    let res = push
        .client
        .post(endpoint)
        .header(reqwest::header::AUTHORIZATION, authorization)
        .header(reqwest::header::CONTENT_ENCODING, "aes128gcm")
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .header("TTL", TTL_SECS.to_string())
        .header("Urgency", urgency(&row.kind))
        .header("Topic", topic(row.event_id))
        .body(body)
        .send()
        .await;
    let res = match res {
        Ok(res) => res,
        // Its name now resolves to an internal address (DNS rebinding, or a stale
        // record): never connected to, and the subscription goes.
        Err(e) if policy::NonPublicAddress::in_chain(&e).is_some() => {
            let why = policy::NonPublicAddress::in_chain(&e)
                .map(ToString::to_string)
                .unwrap_or_default();
            tracing::warn!(subscription = %subscription.id, %why, "push endpoint refused");
            return Outcome::Gone(format!("{origin}: {why}"));
        }
        // Without the URL: a push endpoint is a capability, not something to store or log.
        Err(e) => return Outcome::Retry(format!("{origin}: {}", e.without_url())),
    };
    let status = res.status();
    match status.as_u16() {
        200..=299 => {
            tracing::debug!(%origin, status = status.as_u16(), "push sent");
            Outcome::Sent
        }
        404 | 410 => Outcome::Gone(format!("{origin} answered {status}")),
        408 | 429 | 500..=599 => Outcome::Retry(format!("{origin} answered {status}")),
        _ => {
            let detail = res.text().await.unwrap_or_default();
            let detail: String = detail.chars().take(200).collect();
            Outcome::Invalid(format!("{origin} answered {status}: {detail}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_https_at_an_allowed_host() {
        let default = PushHosts::default();
        let dev = PushHosts::parse("push.example.com, 127.0.0.1, localhost").unwrap();
        assert!(parse_endpoint("https://fcm.googleapis.com/fcm/send/abc", &default).is_ok());
        for internal in [
            "https://169.254.169.254/latest/meta-data/",
            "https://127.0.0.1:8443/push",
            "https://[::1]/push",
            "https://10.0.0.7/push",
            "https://2130706433/push",
            "http://127.0.0.1:3000/push/1",
            "https://push.example.com/x",
        ] {
            assert!(parse_endpoint(internal, &default).is_err(), "{internal}");
        }
        assert!(parse_endpoint("http://127.0.0.1:3000/push/1", &dev).is_ok());
        assert!(parse_endpoint("http://localhost/push", &dev).is_ok());
        assert!(parse_endpoint("https://push.example.com/x", &dev).is_ok());
        assert!(parse_endpoint("http://push.example.com/x", &dev).is_err());
        assert!(parse_endpoint("ftp://push.example.com/x", &dev).is_err());
        assert!(parse_endpoint("https://user:pw@push.example.com/x", &dev).is_err());
        assert!(parse_endpoint("not a url", &dev).is_err());
        let long = format!("https://push.example.com/{}", "a".repeat(MAX_ENDPOINT_LEN));
        assert!(parse_endpoint(&long, &dev).is_err());
    }

    #[test]
    fn keys_are_checked() {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let point = secret.public_key().to_encoded_point(false);
        assert!(parse_p256dh(&encode_key(point.as_bytes())).is_ok());
        let compressed = secret.public_key().to_encoded_point(true);
        assert!(parse_p256dh(&encode_key(compressed.as_bytes())).is_err());
        let mut off_curve = point.as_bytes().to_vec();
        off_curve[64] ^= 1;
        assert!(parse_p256dh(&encode_key(&off_curve)).is_err());
        assert!(parse_auth(&encode_key(&[7u8; 16])).is_ok());
        assert!(parse_auth("AAAAAAAAAAAAAAAAAAAAAA==").is_ok());
        assert!(parse_auth(&encode_key(&[7u8; 15])).is_err());
        assert!(parse_auth("%%%").is_err());
    }

    #[test]
    fn messages_follow_the_locale_and_the_topic_is_short() {
        for (kind, audience) in [
            ("card_delivered", "donor"),
            ("card_opened", "donor"),
            ("card_booked", "donor"),
            ("card_used", "donor"),
            ("card_used", "recipient"),
            ("booking_confirmed", "recipient"),
            ("gift_received", "recipient"),
            ("something_new", "donor"),
        ] {
            let (kind, audience) = (NoticeKind::parse(kind), Audience::parse(audience));
            let (fr, _) = texts(kind, audience, Locale::Fr);
            let (en, _) = texts(kind, audience, Locale::En);
            assert_ne!(fr, en, "{kind:?}");
        }
        assert_eq!(
            texts(
                Some(NoticeKind::CardOpened),
                Some(Audience::Donor),
                Locale::En
            )
            .0,
            "Your gift was opened"
        );
        assert_eq!(
            texts(
                Some(NoticeKind::CardOpened),
                Some(Audience::Donor),
                Locale::Fr
            )
            .0,
            "Votre cadeau a été ouvert"
        );
        let id = Uuid::now_v7();
        let t = topic(id);
        assert_eq!(t.len(), TOPIC_LEN);
        assert_eq!(t, topic(id));
        assert!(
            t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;
    use std::collections::HashMap;

    fn load(env: &[(&str, &str)]) -> Result<crate::config::Config, crate::config::ConfigError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        crate::config::Config::load_from(None, |k| env.get(k).cloned())
    }

    #[test]
    fn the_configured_key_and_subject_are_used() {
        let dir = std::env::temp_dir().join(format!("fimy-push-{}", Uuid::new_v4()));
        let scalar = {
            // The scalar of a fresh key, as an operator would put it in the environment.
            let probe = VapidKey::load_or_create(&dir, None).unwrap();
            let text = std::fs::read_to_string(dir.join(vapid::KEY_FILE)).unwrap();
            assert_eq!(
                VapidKey::from_base64(&text).unwrap().public_key(),
                probe.public_key()
            );
            text.trim().to_owned()
        };
        let other = dir.join("other");
        let config = load(&[
            ("FIMY_DATA_DIR", other.to_str().unwrap()),
            ("FIMY_VAPID_PRIVATE_KEY", &scalar),
            ("FIMY_VAPID_SUBJECT", "mailto:ops@example.com"),
        ])
        .unwrap();
        let push = PushService::new(config.push_settings()).unwrap();
        assert_eq!(
            push.vapid.public_key(),
            VapidKey::from_base64(&scalar).unwrap().public_key()
        );
        assert_eq!(push.subject, "mailto:ops@example.com");
        assert!(!other.join(vapid::KEY_FILE).exists());
        assert!(
            !format!("{config:?}").contains(&scalar),
            "the key is never printed"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_values_name_their_key() {
        for (var, value) in [
            ("FIMY_VAPID_PRIVATE_KEY", "short"),
            (
                "FIMY_VAPID_PRIVATE_KEY",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            ),
            ("FIMY_VAPID_SUBJECT", "ops@example.com"),
            ("FIMY_VAPID_SUBJECT", "http://example.com"),
            ("FIMY_VAPID_SUBJECT", "http://127.0.0.1:8080"),
            ("FIMY_PUSH_ALLOW_HOSTS", ""),
            ("FIMY_PUSH_ALLOW_HOSTS", "https://fcm.googleapis.com/"),
            ("FIMY_PUSH_ALLOW_HOSTS", "fcm.googleapis.com, *."),
        ] {
            let err = load(&[(var, value)]).unwrap_err();
            assert_eq!(err.key, var, "{var}={value}: {err}");
        }
        let dir = std::env::temp_dir().join(format!("fimy-push-{}", Uuid::new_v4()));
        let config = load(&[("FIMY_DATA_DIR", dir.to_str().unwrap())]).unwrap();
        assert_eq!(config.push_allow_hosts, PushHosts::default());
        let push = PushService::new(config.push_settings()).unwrap();
        assert_eq!(
            push.subject, "mailto:webpush@[127.0.0.1]",
            "a mailto: at the public host, never the http:// public URL"
        );
        for (public, from, subject) in [
            ("https://fimy.example/", None, "mailto:webpush@fimy.example"),
            (
                "http://127.0.0.1:8080/",
                Some("Fimy <hello@fimy.example>"),
                "mailto:hello@fimy.example",
            ),
        ] {
            let mut env = vec![
                ("FIMY_DATA_DIR", dir.to_str().unwrap()),
                ("FIMY_PUBLIC_URL", public),
            ];
            if let Some(from) = from {
                env.push(("FIMY_EMAIL_FROM", from));
            }
            let config = load(&env).unwrap();
            assert_eq!(
                default_subject(config.email_from.as_deref(), &config.public_url),
                subject
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! Email, the outbox's `email` channel: gathers what a notification row is about (the
//! card, its event, the booking, the addressee's language), renders it in French or
//! English ([`templates`]), and hands it to the [`Mailer`] — SMTP when `SMTP_URL` is set,
//! otherwise `.eml` files in `<data_dir>/outbox/`.
//!
//! - The addressee is `row.email`, or the account's address for rows naming a user; the
//!   language is the account's `locale` (found by id, or by address for a recipient who
//!   has an account but has not claimed the card yet), French otherwise.
//! - The gift email carries the card's code, decrypted from `gift_cards.code_ciphertext`
//!   at send time and kept nowhere else. A gift email whose card has since been passed on
//!   to someone else is skipped rather than sent with the new holder's code.
//! - A `booking_confirmed` email waits (without using up attempts) while the booking is
//!   only held, is skipped when the booking lapsed or was cancelled, and carries the
//!   booking as an iCalendar attachment once confirmed.
//! - Every message has `Message-ID: <event id>.<audience>@<domain>` and
//!   `X-Fimy-Event-Id`/`X-Fimy-Audience` headers: delivery is at least once and receivers
//!   deduplicate on them.
//! - SMTP replies map onto [`DeliveryError`]: 4xx, timeouts and network errors are
//!   retried; a permanent 5xx is `Gone`, except authentication failures (our
//!   configuration, not the mailbox), which are retried.
//!
//! `smtp://host` to a loopback address speaks plain SMTP; to any other host it requires
//! STARTTLS (port 587 by default) unless `?tls=opportunistic` or `?tls=none` says
//! otherwise; `smtps://` is TLS from the first byte (port 465). Certificates are checked
//! against the system's roots (rustls).

pub mod templates;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::format;
use crate::notify::delivery::Attempt;
use crate::notify::delivery::{Delivery, DeliveryError};
use actors::Locale;
use actors::booking::BookingStatus;
use actors::giftcard::{CardKind, Event, GiftCard, Status};
use actors::notice::{Audience, NoticeKind};
use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Duration, Utc};
use entities::{booking, card_event, experience, gift_card, outbox, partner, user};
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use templates::{BookingFacts, Envelope, Facts};
use url::{Host, Url};
use uuid::Uuid;

/// How long one SMTP command may take.
const SMTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// How long a `booking_confirmed` email waits before looking at a held booking again.
const BOOKING_RECHECK: Duration = Duration::seconds(15);
/// A booking still not confirmed this long after its notification was written is given
/// up on.
const BOOKING_WAIT_LIMIT: Duration = Duration::hours(1);

/// Where emails go.
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in this directory.
    Files(PathBuf),
}

/// Sends rendered messages over SMTP or writes them as `.eml` files.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    /// The right-hand side of our `Message-ID`s.
    id_domain: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let transport = match &self.transport {
            Transport::Smtp(_) => "smtp".to_owned(),
            Transport::Files(dir) => format!("files in {}", dir.display()),
        };
        f.debug_struct("Mailer")
            .field("transport", &transport)
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl Mailer {
    /// The mailer the configuration asks for: SMTP with `smtp_url`, `.eml` files in
    /// `<data_dir>/outbox/` without.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let public_host = config
            .public_url
            .host()
            .and_then(|h| match h {
                Host::Domain(d) if d.contains('.') => Some(d.to_owned()),
                _ => None,
            })
            .unwrap_or_else(|| "localhost".to_owned());
        let from: Mailbox = match &config.email_from {
            Some(raw) => raw
                .parse()
                .map_err(|e| anyhow!("email_from {raw:?} is not an address: {e}"))?,
            None => format!("Fimy <no-reply@{public_host}>")
                .parse()
                .map_err(|e| anyhow!("cannot make a sender address at {public_host}: {e}"))?,
        };
        let id_domain = from.email.domain().to_owned();
        let transport = match &config.smtp_url {
            Some(url) => Transport::Smtp(smtp_transport(url.expose(), &public_host)?),
            None => {
                let dir = config.data_dir.join("outbox");
                private_dir(&dir).with_context(|| format!("Failed to create {}", dir.display()))?;
                Transport::Files(dir)
            }
        };
        Ok(Self {
            transport,
            from,
            id_domain,
        })
    }

    /// Whether messages go out over SMTP (rather than into `.eml` files).
    pub fn uses_smtp(&self) -> bool {
        matches!(self.transport, Transport::Smtp(_))
    }

    /// Sends one message; `row_id` and `now` name its file when writing files.
    pub async fn send(&self, message: Message, row_id: Uuid, now: DateTime<Utc>) -> Delivery {
        match &self.transport {
            Transport::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(smtp_error),
            Transport::Files(dir) => {
                let name = format!("{}-{row_id}.eml", now.format("%Y%m%dT%H%M%S%.3fZ"));
                let (dir, bytes) = (dir.clone(), message.formatted());
                tokio::task::spawn_blocking(move || write_atomically(&dir, &name, &bytes))
                    .await
                    .map_err(|e| DeliveryError::Retry(format!("file writer failed: {e}")))?
                    .map_err(|e| DeliveryError::Retry(format!("cannot write the .eml file: {e}")))
            }
        }
    }
}

/// Writes `dir/name` so that it appears whole or not at all: a temporary file, synced,
/// then renamed. The directory and the file are private to the owner (a gift email holds
/// the card's code).
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    private_dir(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, dir.join(name))
}

/// Creates `dir` (and its parents) if needed, the last one readable by its owner only.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// How a message is protected on the way to the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsMode {
    None,
    Opportunistic,
    Required,
    Wrapper,
}

/// Where and how to reach the relay, from `SMTP_URL`.
#[derive(Debug, PartialEq, Eq)]
struct Relay {
    host: String,
    port: u16,
    mode: TlsMode,
}

fn relay(url: &Url) -> anyhow::Result<Relay> {
    // smtp:// is not a "special" scheme, so an IPv4 address comes back as a domain.
    let (host, loopback) = match url.host() {
        Some(Host::Domain(d)) => (
            d.to_owned(),
            d.parse::<std::net::IpAddr>()
                .map(|ip| ip.is_loopback())
                .unwrap_or_else(|_| {
                    d.eq_ignore_ascii_case("localhost")
                        || d.to_ascii_lowercase().ends_with(".localhost")
                }),
        ),
        Some(Host::Ipv4(ip)) => (ip.to_string(), ip.is_loopback()),
        Some(Host::Ipv6(ip)) => (ip.to_string(), ip.is_loopback()),
        None => bail!("SMTP_URL has no host"),
    };
    let tls_param = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let mode = match (url.scheme(), tls_param.as_deref()) {
        ("smtps", None | Some("wrapper")) => TlsMode::Wrapper,
        ("smtp", None) if loopback => TlsMode::None,
        ("smtp", None | Some("required")) => TlsMode::Required,
        ("smtp", Some("opportunistic")) => TlsMode::Opportunistic,
        ("smtp", Some("none")) => TlsMode::None,
        (scheme, tls) => bail!(
            "SMTP_URL: {scheme}:// with tls={tls:?} is not supported (smtp:// takes \
             tls=required, opportunistic or none; smtps:// is always TLS)"
        ),
    };
    let port = url.port().unwrap_or(match mode {
        TlsMode::Wrapper => 465,
        TlsMode::Required | TlsMode::Opportunistic => 587,
        TlsMode::None => 25,
    });
    Ok(Relay { host, port, mode })
}

fn smtp_transport(raw: &str, hello: &str) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let url = Url::parse(raw).context("SMTP_URL is not a URL")?;
    let Relay { host, port, mode } = relay(&url)?;
    let params = || TlsParameters::new(host.clone()).context("SMTP_URL: TLS set-up failed");
    let tls = match mode {
        TlsMode::None => Tls::None,
        TlsMode::Opportunistic => Tls::Opportunistic(params()?),
        TlsMode::Required => Tls::Required(params()?),
        TlsMode::Wrapper => Tls::Wrapper(params()?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .tls(tls)
        .timeout(Some(SMTP_TIMEOUT));
    if hello != "localhost" {
        builder = builder.hello_name(ClientId::Domain(hello.to_owned()));
    }
    if !url.username().is_empty() {
        builder = builder.credentials(Credentials::new(
            percent_decode(url.username())?,
            percent_decode(url.password().unwrap_or_default())?,
        ));
    }
    Ok(builder.build())
}

/// `%XX` sequences back to bytes (the user and password of a URL), as UTF-8.
fn percent_decode(s: &str) -> anyhow::Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).context("SMTP_URL: the user or password is not UTF-8")
}

/// What an SMTP failure means for the row.
fn smtp_error(e: lettre::transport::smtp::Error) -> DeliveryError {
    let message = format!("SMTP: {e}");
    if !e.is_permanent() {
        return DeliveryError::Retry(message);
    }
    match e.status().map(u16::from) {
        // Authentication refused: our configuration, not the mailbox. Retried, then dead
        // (and retried by an admin once fixed).
        Some(530 | 534 | 535 | 538) => DeliveryError::Retry(message),
        _ => DeliveryError::Gone(message),
    }
}

// ---------------------------------------------------------------- headers

macro_rules! text_header {
    ($name:ident, $header:literal) => {
        #[derive(Debug, Clone)]
        struct $name(String);

        impl Header for $name {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($header)
            }

            fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok(Self(s.to_owned()))
            }

            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}

text_header!(EventIdHeader, "X-Fimy-Event-Id");
text_header!(AudienceHeader, "X-Fimy-Audience");
text_header!(KindHeader, "X-Fimy-Kind");
text_header!(AutoSubmitted, "Auto-Submitted");
text_header!(ContentLanguage, "Content-Language");

// ---------------------------------------------------------------- composing

/// What to do with a row once its facts are gathered.
enum Composed {
    Ready(Box<Message>),
    Defer(DateTime<Utc>),
    Skip(String),
}

/// The email channel: writes each row's email in its addressee's language and sends it
/// with the mailer.
pub struct EmailChannel {
    pub db: DatabaseConnection,
    pub clock: SharedClock,
    /// Where the emails' links point.
    pub public_url: Url,
    pub mailer: Arc<Mailer>,
    /// Decrypts the card's code for the gift email.
    pub secrets: crate::secrets::SecretKey,
}

#[async_trait::async_trait]
impl crate::notify::delivery::Channel for EmailChannel {
    fn kind(&self) -> actors::notice::Channel {
        actors::notice::Channel::Email
    }

    async fn deliver(&self, row: &outbox::Model) -> Attempt {
        deliver(self, row).await
    }
}

/// Delivers one outbox row of the `email` channel.
pub async fn deliver(state: &EmailChannel, row: &outbox::Model) -> Attempt {
    match compose(state, row).await {
        Ok(Composed::Ready(message)) => {
            let sent = state.mailer.send(*message, row.id, state.clock.now()).await;
            Attempt::Done(sent)
        }
        Ok(Composed::Defer(until)) => Attempt::Deferred(until),
        Ok(Composed::Skip(reason)) => Attempt::Skipped(reason),
        Err(e) => Attempt::Done(Err(e)),
    }
}

fn db(e: DbErr) -> DeliveryError {
    DeliveryError::Retry(format!("database: {e}"))
}

fn invalid(msg: impl Into<String>) -> DeliveryError {
    DeliveryError::Invalid(msg.into())
}

/// The payload written with the row: `{card_id, event, seq}` (reminders may add a
/// `booking_id`).
#[derive(Debug, Default, serde::Deserialize)]
struct Payload {
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    booking_id: Option<Uuid>,
}

/// The account a row is addressed to: by id, or else by the row's address.
pub async fn addressee(
    db: &DatabaseConnection,
    row: &outbox::Model,
) -> Result<Option<user::Model>, DbErr> {
    if let Some(id) = row.user_id {
        return user::Entity::find_by_id(id).one(db).await;
    }
    match &row.email {
        Some(email) => {
            user::Entity::find()
                .filter(user::Column::Email.eq(email.trim().to_lowercase()))
                .one(db)
                .await
        }
        None => Ok(None),
    }
}

struct Card {
    row: gift_card::Model,
    state: GiftCard,
}

async fn load_card(state: &EmailChannel, row: &outbox::Model) -> Result<Card, DeliveryError> {
    let id = row
        .card_id
        .ok_or_else(|| invalid(format!("a {} notification needs a card", row.kind)))?;
    let card = gift_card::Entity::find_by_id(id)
        .one(&state.db)
        .await
        .map_err(db)?
        .ok_or_else(|| invalid(format!("card {id} does not exist")))?;
    let decoded = crate::store::cards::decode(&card).map_err(|e| invalid(e.to_string()))?;
    Ok(Card {
        row: card,
        state: decoded,
    })
}

/// The event the row announces, when it is a card event.
async fn load_event(
    state: &EmailChannel,
    row: &outbox::Model,
) -> Result<Option<Event>, DeliveryError> {
    let Some(e) = card_event::Entity::find_by_id(row.event_id)
        .one(&state.db)
        .await
        .map_err(db)?
    else {
        return Ok(None);
    };
    let data = serde_json::from_str(&e.data).map_err(|err| invalid(err.to_string()))?;
    Event::from_parts(&e.kind, data)
        .map(Some)
        .map_err(|err| invalid(format!("event {} is unreadable: {err}", e.id)))
}

/// What a receipt covers: the spends among the card's events `seq` to `last_seq` of its
/// payload (several, when spends were merged into one receipt), as the total, the
/// venues (each once) and how many spends.
async fn spends(
    state: &EmailChannel,
    row: &outbox::Model,
) -> Result<(i64, Vec<Uuid>, usize), DeliveryError> {
    let Some((first, last)) = crate::store::cards::receipt_range(&row.payload) else {
        return Ok((0, Vec::new(), 0));
    };
    let card = row
        .card_id
        .ok_or_else(|| invalid("a receipt needs its card"))?;
    let events = card_event::Entity::find()
        .filter(card_event::Column::CardId.eq(card))
        .filter(card_event::Column::Seq.between(first, last))
        .all(&state.db)
        .await
        .map_err(db)?;
    let (mut total, mut venues, mut count) = (0i64, Vec::new(), 0usize);
    for e in events {
        let data = serde_json::from_str(&e.data).map_err(|err| invalid(err.to_string()))?;
        let event = Event::from_parts(&e.kind, data)
            .map_err(|err| invalid(format!("event {} is unreadable: {err}", e.id)))?;
        if let Event::AmountRedeemed {
            amount, partner_id, ..
        }
        | Event::AuthorizationCaptured {
            amount, partner_id, ..
        } = event
        {
            total += amount;
            count += 1;
            if !venues.contains(&partner_id) {
                venues.push(partner_id);
            }
        }
    }
    Ok((total, venues, count))
}

async fn partner_name(state: &EmailChannel, id: Uuid) -> Result<Option<String>, DeliveryError> {
    Ok(partner::Entity::find_by_id(id)
        .one(&state.db)
        .await
        .map_err(db)?
        .map(|p| p.name))
}

async fn booking_facts(
    state: &EmailChannel,
    b: &booking::Model,
    lang: Locale,
) -> Result<(BookingFacts, Option<partner::Model>, String), DeliveryError> {
    let title = experience::Entity::find_by_id(b.experience_id)
        .one(&state.db)
        .await
        .map_err(db)?
        .map(|e| e.title)
        .unwrap_or_default();
    let p = partner::Entity::find_by_id(b.partner_id)
        .one(&state.db)
        .await
        .map_err(db)?;
    let tz: chrono_tz::Tz = p
        .as_ref()
        .and_then(|p| p.timezone.parse().ok())
        .unwrap_or(chrono_tz::UTC);
    let address = p
        .as_ref()
        .map(|p| {
            [p.address.as_str(), p.city.as_str()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let facts = BookingFacts {
        title: title.clone(),
        venue: p.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
        address,
        when: format::date_time(lang, &b.starts_at.with_timezone(&tz)),
        party_size: b.party_size,
    };
    Ok((facts, p, title))
}

/// The booking as an `.ics` file for the person who booked.
fn booking_ics(
    b: &booking::Model,
    status: BookingStatus,
    p: Option<&partner::Model>,
    title: &str,
    lang: Locale,
    now: DateTime<Utc>,
) -> String {
    let event = crate::format::ical::booking::event(
        b,
        status,
        p,
        title,
        crate::format::ical::booking::Audience::Recipient,
        lang,
        now,
    );
    crate::format::ical::Calendar {
        events: vec![event],
        ..Default::default()
    }
    .to_ics()
}

async fn compose(state: &EmailChannel, row: &outbox::Model) -> Result<Composed, DeliveryError> {
    let payload: Payload = serde_json::from_str(&row.payload).unwrap_or_default();
    let account = addressee(&state.db, row).await.map_err(db)?;
    let address = row
        .email
        .clone()
        .or_else(|| account.as_ref().map(|u| u.email.clone()))
        .ok_or_else(|| invalid("no address to send to"))?;
    let lang = account
        .as_ref()
        .map_or(Locale::Fr, |u| Locale::of(&u.locale));
    let now = state.clock.now();
    let app_url = state.public_url.to_string();
    let money = |amount: i64, card: &GiftCard| format::money(lang, amount, card.currency.code());
    let mut greet_name = account.as_ref().map(|u| u.display_name.clone());
    let mut ics = None;

    let kind = NoticeKind::parse(&row.kind)
        .ok_or_else(|| invalid(format!("no email template for {:?}", row.kind)))?;
    let audience = Audience::parse(&row.audience);
    let facts = match kind {
        NoticeKind::GiftReceived => {
            let card = load_card(state, row).await?;
            let holder = card.state.recipient.email.trim().to_lowercase();
            if holder != address.trim().to_lowercase() {
                return Ok(Composed::Skip(
                    "the card has been passed on to someone else since".to_owned(),
                ));
            }
            if matches!(card.state.status, Status::Refunded | Status::Expired) {
                return Ok(Composed::Skip(format!(
                    "the card is {} now",
                    card.state.status.as_str()
                )));
            }
            let code = state
                .secrets
                .decrypt_code(&card.row.code_ciphertext)
                .map_err(|e| invalid(format!("the card's code: {e}")))?
                .to_string();
            let transferred = payload.event.as_deref() == Some("card_transferred");
            let from = if transferred {
                None
            } else {
                user::Entity::find_by_id(card.state.purchaser_id)
                    .one(&state.db)
                    .await
                    .map_err(db)?
                    .map(|u| u.display_name)
            };
            let what = match &card.state.kind {
                CardKind::Value { .. } => Some(money(card.state.face_value, &card.state)),
                CardKind::Experience {
                    experience_id,
                    partner_id,
                    ..
                } => {
                    let title = experience::Entity::find_by_id(*experience_id)
                        .one(&state.db)
                        .await
                        .map_err(db)?
                        .map(|e| e.title);
                    let venue = partner_name(state, *partner_id).await?;
                    match (title, venue, lang) {
                        (Some(t), Some(v), Locale::Fr) => Some(format!("{t} chez {v}")),
                        (Some(t), Some(v), Locale::En) => Some(format!("{t} at {v}")),
                        (Some(t), None, _) => Some(t),
                        _ => None,
                    }
                }
            };
            // The gift's page (server-rendered: it works in any mail client's browser).
            let mut link = state
                .public_url
                .join("gift")
                .unwrap_or_else(|_| state.public_url.clone());
            link.query_pairs_mut().append_pair("code", &code);
            greet_name = Some(card.state.recipient.name.clone());
            Facts::GiftReceived {
                from,
                message: if transferred {
                    None
                } else {
                    card.state.message.clone()
                },
                what,
                code,
                link: link.to_string(),
                expires_on: format::date(lang, &card.state.expires_at),
            }
        }
        NoticeKind::CardDelivered
        | NoticeKind::CardOpened
        | NoticeKind::CardBooked
        | NoticeKind::CardUsed
            if audience == Some(Audience::Donor) =>
        {
            let card = load_card(state, row).await?;
            let recipient = card.state.recipient.name.clone();
            match kind {
                NoticeKind::CardDelivered => Facts::CardDelivered { recipient },
                NoticeKind::CardOpened => Facts::CardOpened { recipient },
                NoticeKind::CardBooked => Facts::CardBooked { recipient },
                _ => Facts::CardUsedDonor { recipient },
            }
        }
        NoticeKind::CardUsed => {
            let card = load_card(state, row).await?;
            let (spent, venues, count) = spends(state, row).await?;
            let venue = match venues.as_slice() {
                [one] => partner_name(state, *one).await?,
                _ => None,
            };
            let amount = (count > 0).then(|| money(spent, &card.state));
            let remaining = (matches!(card.state.kind, CardKind::Value { .. })
                && card.state.available > 0)
                .then(|| money(card.state.available, &card.state));
            if audience == Some(Audience::Recipient) {
                greet_name.get_or_insert(card.state.recipient.name.clone());
            }
            Facts::CardUsed {
                amount,
                venue,
                remaining,
                spends: count,
            }
        }
        NoticeKind::BookingConfirmed | NoticeKind::BookingReminder => {
            let card = load_card(state, row).await?;
            greet_name.get_or_insert(card.state.recipient.name.clone());
            let booking_id = match payload.booking_id {
                Some(id) => Some(id),
                None => match load_event(state, row).await? {
                    Some(
                        Event::CardBooked {
                            booking_id: hold_id,
                        }
                        | Event::ValueAuthorized { hold_id, .. },
                    ) => Some(hold_id),
                    _ => None,
                },
            };
            let b = match booking_id {
                Some(id) => booking::Entity::find_by_id(id)
                    .one(&state.db)
                    .await
                    .map_err(db)?,
                None => None,
            };
            let booking = match &b {
                Some(b) => match crate::app::bookings::status_of(b)
                    .map_err(|_| invalid(format!("booking {} has status {:?}", b.id, b.status)))?
                {
                    s if s.is_unconfirmed() && kind == NoticeKind::BookingConfirmed => {
                        if now - row.created_at > BOOKING_WAIT_LIMIT {
                            return Ok(Composed::Skip(
                                "the booking was never confirmed".to_owned(),
                            ));
                        }
                        return Ok(Composed::Defer(now + BOOKING_RECHECK));
                    }
                    s if s.is_booked() => {
                        let (facts, p, title) = booking_facts(state, b, lang).await?;
                        ics = Some(booking_ics(b, s, p.as_ref(), &title, lang, now));
                        Some(facts)
                    }
                    other => {
                        return Ok(Composed::Skip(format!("the booking is {other}")));
                    }
                },
                // A hold made without a booking (by the partner, at the venue).
                None if kind == NoticeKind::BookingConfirmed => None,
                None => return Err(invalid("a booking reminder needs its booking")),
            };
            if kind == NoticeKind::BookingConfirmed {
                Facts::BookingConfirmed {
                    booking,
                    ics: ics.is_some(),
                }
            } else {
                Facts::BookingReminder {
                    booking,
                    ics: ics.is_some(),
                }
            }
        }
        NoticeKind::ExpiryExtended => {
            let card = load_card(state, row).await?;
            greet_name.get_or_insert(card.state.recipient.name.clone());
            let to = match load_event(state, row).await? {
                Some(Event::ExpiryExtended { to, .. }) => to,
                _ => card.state.expires_at,
            };
            Facts::ExpiryExtended {
                expires_on: format::date(lang, &to),
            }
        }
        NoticeKind::ExpiryReminder => {
            let card = load_card(state, row).await?;
            greet_name.get_or_insert(card.state.recipient.name.clone());
            let remaining = (matches!(card.state.kind, CardKind::Value { .. })
                && card.state.available > 0)
                .then(|| money(card.state.available, &card.state));
            Facts::ExpiryReminder {
                expires_on: format::date(lang, &card.state.expires_at),
                remaining,
            }
        }
        NoticeKind::RefundIssued => {
            let card = load_card(state, row).await?;
            let amount = match load_event(state, row).await? {
                Some(Event::ValueRefunded { lines }) => {
                    let mine: i64 = lines
                        .iter()
                        .filter(|l| Some(l.payer_id) == row.user_id)
                        .map(|l| l.amount)
                        .sum();
                    (mine > 0).then(|| money(mine, &card.state))
                }
                Some(Event::ContributionRefunded { line }) => Some(money(line.amount, &card.state)),
                _ => None,
            };
            Facts::RefundIssued { amount }
        }
        // The donor's lifecycle is the donor's; a push-only or provider row has no email.
        NoticeKind::CardDelivered
        | NoticeKind::CardOpened
        | NoticeKind::CardBooked
        | NoticeKind::ValidationRequested
        | NoticeKind::Refund => {
            return Err(invalid(format!(
                "no email template for {:?} to {:?}",
                row.kind, row.audience
            )));
        }
    };

    let env = Envelope {
        lang,
        name: greet_name.as_deref(),
        app_url: &app_url,
    };
    let mail = templates::render(&env, &facts);
    let to_address = address
        .trim()
        .parse()
        .map_err(|e| invalid(format!("{address:?} is not an email address: {e}")))?;
    let to = Mailbox::new(
        greet_name
            .as_deref()
            .map(templates::one_line)
            .filter(|n| !n.is_empty()),
        to_address,
    );
    let alternative = MultiPart::alternative_plain_html(mail.text, mail.html);
    let body = match ics {
        Some(ics) => MultiPart::mixed().multipart(alternative).singlepart(
            Attachment::new("fimy-booking.ics".to_owned()).body(
                ics,
                ContentType::parse("text/calendar; charset=utf-8; method=PUBLISH")
                    .map_err(|e| invalid(e.to_string()))?,
            ),
        ),
        None => alternative,
    };
    let message = Message::builder()
        .from(state.mailer.from.clone())
        .to(to)
        .subject(mail.subject)
        .date(now.into())
        .message_id(Some(format!(
            "<{}.{}@{}>",
            row.event_id, row.audience, state.mailer.id_domain
        )))
        .header(EventIdHeader(row.event_id.to_string()))
        .header(AudienceHeader(row.audience.clone()))
        .header(KindHeader(row.kind.clone()))
        .header(AutoSubmitted("auto-generated".to_owned()))
        .header(ContentLanguage(lang.as_str().to_owned()))
        .multipart(body)
        .map_err(|e| invalid(format!("the message cannot be built: {e}")))?;
    Ok(Composed::Ready(Box::new(message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_of_credentials() {
        assert_eq!(percent_decode("p%40ss%3Aw%2Frd").unwrap(), "p@ss:w/rd");
        assert_eq!(percent_decode("plain").unwrap(), "plain");
        assert_eq!(percent_decode("bad%zz").unwrap(), "bad%zz");
    }

    // The pooled transport starts its reaper task on the runtime.
    #[tokio::test]
    async fn smtp_urls_choose_tls_sensibly() {
        let r = |s: &str| relay(&Url::parse(s).unwrap()).map(|r| (r.host, r.port, r.mode));
        let loopback = [
            "smtp://127.0.0.1:2525",
            "smtp://localhost:2525",
            "smtp://[::1]:2525",
        ];
        for url in loopback {
            assert_eq!(r(url).unwrap().2, TlsMode::None, "{url}");
            assert_eq!(r(url).unwrap().1, 2525);
        }
        assert_eq!(
            r("smtp://u:p@mail.example.com").unwrap(),
            ("mail.example.com".to_owned(), 587, TlsMode::Required)
        );
        assert_eq!(r("smtp://10.0.0.5").unwrap().2, TlsMode::Required);
        assert_eq!(
            r("smtp://mail.example.com?tls=opportunistic").unwrap().2,
            TlsMode::Opportunistic
        );
        assert_eq!(
            r("smtp://mail.example.com:25?tls=none").unwrap(),
            ("mail.example.com".to_owned(), 25, TlsMode::None)
        );
        assert_eq!(
            r("smtps://mail.example.com").unwrap(),
            ("mail.example.com".to_owned(), 465, TlsMode::Wrapper)
        );
        assert_eq!(
            r("smtp://127.0.0.1?tls=required").unwrap().2,
            TlsMode::Required
        );
        assert!(smtp_transport("smtp://127.0.0.1:2525", "localhost").is_ok());
        assert!(smtp_transport("smtp://u:p@mail.example.com", "fimy.example").is_ok());
        assert!(smtp_transport("smtps://u:p@mail.example.com", "fimy.example").is_ok());
        assert!(smtp_transport("smtp://mail.example.com?tls=none", "fimy.example").is_ok());
        assert!(smtp_transport("smtp://mail.example.com?tls=bogus", "fimy.example").is_err());
        assert!(smtp_transport("smtps://mail.example.com?tls=none", "fimy.example").is_err());
    }

    #[test]
    fn eml_files_appear_whole() {
        let dir = tempfile::tempdir().unwrap();
        write_atomically(dir.path(), "a.eml", b"hello").unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["a.eml"]);
        assert_eq!(std::fs::read(dir.path().join("a.eml")).unwrap(), b"hello");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("a.eml"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            let sub = dir.path().join("outbox");
            write_atomically(&sub, "b.eml", b"x").unwrap();
            let mode = std::fs::metadata(&sub).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }
}

//! Gathering what a row is about (the card, its event, the booking, the addressee and
//! their language) and writing its email, with the headers receivers deduplicate on.

use super::templates::{self, BookingFacts, Envelope, Facts};
use crate::format;
use crate::notify::delivery::DeliveryError;
use actors::Locale;
use actors::booking::BookingStatus;
use actors::giftcard::{CardKind, Event, GiftCard, Status};
use actors::notice::{Audience, NoticeKind};
use chrono::{DateTime, Duration, Utc};
use entities::{booking, card_event, experience, gift_card, outbox, partner, user};
use lettre::Message;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::EmailChannel;

/// How long a `booking_confirmed` email waits before looking at a held booking again.
const BOOKING_RECHECK: Duration = Duration::seconds(15);
/// A booking still not confirmed this long after its notification was written is given
/// up on.
const BOOKING_WAIT_LIMIT: Duration = Duration::hours(1);

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

/// What to do with a row once its facts are gathered.
pub(super) enum Composed {
    Ready(Box<Message>),
    Defer(DateTime<Utc>),
    Skip(String),
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

pub(super) async fn compose(
    state: &EmailChannel,
    row: &outbox::Model,
) -> Result<Composed, DeliveryError> {
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

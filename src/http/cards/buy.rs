//! Buying a card, and group gifts' contributions (paid, refunded).

use super::{Access, CardView, MAX_MESSAGE_CHARS, THEMES, access, bad, card_view, load, load_for};
use crate::app::giftcards::{self, PaymentView};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::payments::PaymentMethod;
use crate::state::State;
use actix_web::{HttpResponse, web};
use actix_web::{delete, post};
use actors::giftcard::{CardKind, Command, NewCard};
use actors::{Currency, DisplayName, Email, MessageText};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use entities::{experience, partner};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// How the payer pays.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum PaymentInput {
    /// Sandbox: Stripe's test card numbers (4242 4242 4242 4242 succeeds,
    /// 4000 0000 0000 0002 is declined, 4000 0025 0000 3155 needs authentication,
    /// 4000 0000 0000 5126 succeeds but its first refund attempts fail).
    TestCard { number: String },
    /// Stripe: a PaymentMethod id from Stripe.js.
    Stripe { payment_method_id: String },
}

impl PaymentInput {
    fn into_method(self, state: &State) -> ApiResult<PaymentMethod> {
        match (self, state.sandbox.is_some()) {
            (Self::TestCard { number }, true) => Ok(PaymentMethod::TestCard { number }),
            (Self::Stripe { payment_method_id }, false) => {
                Ok(PaymentMethod::Stripe { payment_method_id })
            }
            _ => Err(ApiError::new(
                ErrorCode::InvalidField,
                format!(
                    "this installation takes payments through {}",
                    state.payments.name()
                ),
            )
            .field("payment")),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseRequest {
    /// `experience` (one experience for `party_size` people) or `value` (an amount).
    pub kind: String,
    pub experience_id: Option<Uuid>,
    /// Experience cards: how many people (default 1).
    pub party_size: Option<u32>,
    /// Value cards: the amount (for a group gift, the buyer's own contribution).
    pub amount_minor: Option<i64>,
    /// Value cards: ISO 4217.
    pub currency: Option<String>,
    /// Value cards: usable only at this partner.
    pub partner_id: Option<Uuid>,
    pub recipient_name: String,
    pub recipient_email: String,
    pub message: Option<String>,
    /// One of the card designs (default `classic`).
    pub theme: Option<String>,
    /// When to deliver: RFC 3339 (`2026-12-24T08:00:00+01:00`), or a local time
    /// (`2026-12-24T08:00`) read in `recipient_timezone`. Default: at once.
    pub deliver_at: Option<String>,
    /// IANA time zone of the recipient (e.g. `Europe/Paris`).
    pub recipient_timezone: Option<String>,
    /// Others can chip in before delivery (value cards only).
    #[serde(default)]
    pub group: bool,
    pub payment: PaymentInput,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PurchaseResponse {
    pub card: CardView,
    pub payment: PaymentView,
}

fn parse_deliver_at(raw: &str, tz: Option<&str>) -> ApiResult<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Ok(at.with_timezone(&Utc));
    }
    let local = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| bad("deliver_at", "use RFC 3339 or a local YYYY-MM-DDTHH:MM"))?;
    let tz: chrono_tz::Tz = tz
        .ok_or_else(|| {
            bad(
                "recipient_timezone",
                "a local deliver_at needs the recipient's time zone",
            )
        })?
        .parse()
        .map_err(|_| {
            bad(
                "recipient_timezone",
                "not an IANA time zone (e.g. Europe/Paris)",
            )
        })?;
    // In a DST gap the local time does not exist: take the first instant after it.
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        chrono::LocalResult::Ambiguous(first, _) => Ok(first.with_timezone(&Utc)),
        chrono::LocalResult::None => tz
            .from_local_datetime(&(local + chrono::Duration::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| bad("deliver_at", "this local time does not exist")),
    }
}

/// Buys a gift card and starts its payment. The card is issued when the payment
/// succeeds (by the provider's webhook) and delivered then, or at `deliver_at`.
#[utoipa::path(tag = "cards", request_body = PurchaseRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replay protection")),
    responses((status = 201, body = PurchaseResponse), (status = 402, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/cards")]
pub async fn purchase(
    state: State,
    who: Principal,
    body: web::Json<PurchaseRequest>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let recipient_email =
        Email::parse(&b.recipient_email).map_err(|e| bad("recipient_email", e.message))?;
    let recipient_name = DisplayName::parse(&b.recipient_name)
        .map_err(|e| bad("recipient_name", e.message))?
        .as_str()
        .to_owned();
    // An empty (or blank) message is no message.
    let message = match b.message.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(m) => Some(
            MessageText::parse("message", m, MAX_MESSAGE_CHARS)
                .map_err(|e| bad("message", e.message))?
                .into_string(),
        ),
    };
    let theme = b.theme.unwrap_or_else(|| "classic".to_owned());
    if !THEMES.contains(&theme.as_str()) {
        return Err(bad("theme", format!("one of {}", THEMES.join(", "))));
    }
    let now = state.clock.now();
    let deliver_at = b
        .deliver_at
        .as_deref()
        .map(|d| parse_deliver_at(d, b.recipient_timezone.as_deref()))
        .transpose()?;
    if deliver_at.is_some_and(|d| d > now + chrono::Duration::days(365)) {
        return Err(bad("deliver_at", "at most one year ahead"));
    }
    let (kind, currency, face_value) = match b.kind.as_str() {
        "experience" => {
            let id = b
                .experience_id
                .ok_or_else(|| bad("experience_id", "an experience card names its experience"))?;
            if b.amount_minor.is_some() || b.currency.is_some() || b.partner_id.is_some() {
                return Err(bad(
                    "amount_minor",
                    "an experience card's price is the experience's",
                ));
            }
            let exp = experience::Entity::find_by_id(id)
                .one(&state.db)
                .await?
                .filter(|e| e.published)
                .ok_or_else(|| bad("experience_id", "no such published experience"))?;
            let party = b.party_size.unwrap_or(1);
            if party == 0 || i64::from(party) > i64::from(exp.capacity) {
                return Err(bad(
                    "party_size",
                    format!("between 1 and {} for this experience", exp.capacity),
                ));
            }
            let currency = Currency::parse(&exp.currency).map_err(ApiError::internal)?;
            (
                CardKind::Experience {
                    experience_id: exp.id,
                    partner_id: exp.partner_id,
                    party_size: party,
                },
                currency,
                exp.price_minor * i64::from(party),
            )
        }
        "value" => {
            let amount = b
                .amount_minor
                .ok_or_else(|| bad("amount_minor", "a value card needs an amount"))?;
            actors::giftcard::check_value_amount(amount)?;
            let currency = Currency::parse(b.currency.as_deref().unwrap_or_default())
                .map_err(|e| bad("currency", e.message))?;
            if let Some(p) = b.partner_id
                && partner::Entity::find_by_id(p)
                    .one(&state.db)
                    .await?
                    .is_none()
            {
                return Err(bad("partner_id", "no such partner"));
            }
            (
                CardKind::Value {
                    partner_id: b.partner_id,
                },
                currency,
                amount,
            )
        }
        _ => return Err(bad("kind", "\"experience\" or \"value\"")),
    };
    if b.group && matches!(kind, CardKind::Experience { .. }) {
        return Err(bad("group", "group gifts are value cards"));
    }
    let method = b.payment.into_method(&state)?;
    let outcome = giftcards::create(
        &state,
        NewCard {
            kind,
            currency,
            face_value,
            group: b.group,
            purchaser_id: who.user_id,
            recipient_name,
            recipient_email: recipient_email.as_str().to_owned(),
            message,
            theme,
            deliver_at,
        },
    )
    .await?;
    let payment =
        giftcards::start_payment(&state, &outcome.state, who.user_id, face_value, method).await?;
    Ok(HttpResponse::Created().json(PurchaseResponse {
        card: card_view(&outcome.state, Access::Donor),
        payment,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContributionRequest {
    pub amount_minor: i64,
    pub payment: PaymentInput,
}

/// Chips in to a group gift before it is delivered. Any logged-in user with the card's
/// id may contribute (the organizer shares it).
#[utoipa::path(tag = "cards",
    request_body = ContributionRequest, params(("id" = Uuid, Path)),
    responses((status = 201, body = PaymentView), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/cards/{id}/contributions")]
pub async fn contribute(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
    body: web::Json<ContributionRequest>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let card = load(&state, id.into_inner()).await?;
    // Only a group gift's id is shared with strangers: of anyone else's card, a stranger
    // learns nothing, not even that it exists.
    if !card.group && access(Some(&who), &card).is_none() {
        return Err(ApiError::not_found("card"));
    }
    actors::giftcard::check_contribution(&card, b.amount_minor)?;
    let method = b.payment.into_method(&state)?;
    let payment =
        giftcards::start_payment(&state, &card, who.user_id, b.amount_minor, method).await?;
    Ok(HttpResponse::Created().json(payment))
}

/// Gives a group contribution back to its payer (the payer or an admin), before delivery.
#[utoipa::path(tag = "cards",
    params(("id" = Uuid, Path), ("contribution_id" = Uuid, Path)),
    responses((status = 200, body = CardView), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[delete("/cards/{id}/contributions/{contribution_id}")]
pub async fn refund_contribution(
    state: State,
    who: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<CardView>> {
    let (id, contribution_id) = path.into_inner();
    let (card, access) = load_for(&state, &who, id).await?;
    let own = card
        .contributions
        .iter()
        .any(|c| c.id == contribution_id && c.payer_id == who.user_id);
    if !own && access != Access::Admin {
        return Err(ApiError::new(
            ErrorCode::UnknownContribution,
            "no such contribution of yours",
        ));
    }
    let outcome = state
        .registry
        .send(id, Command::RefundContribution { contribution_id })
        .await?;
    Ok(web::Json(card_view(&outcome.state, access)))
}

//! Gift cards over HTTP: purchase, group contributions, opening and claiming by code,
//! the wallet, transfer, extension, refund, history, and what partners and admins do
//! with cards (redeem, authorize/capture/release, block).

use crate::auth::principal::client_ip;
use crate::auth::{MaybePrincipal, Principal};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::giftcards::{self, Lookup, PaymentView};
use crate::http::routing::route;
use crate::payments::PaymentMethod;
use crate::state::State;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web::{delete, get, post};
use actors::giftcard::{CardKind, Command, Event, GiftCard, NewCard, Refunder, Status};
use actors::{Currency, DisplayName, Email, MessageText, StaffRole};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use entities::{card_event, experience, gift_card, partner};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

/// The card designs on offer.
pub const THEMES: &[&str] = &[
    "classic",
    "birthday",
    "love",
    "thank_you",
    "christmas",
    "celebration",
    "zen",
    "adventure",
];
const MAX_MESSAGE_CHARS: usize = 1000;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(purchase)
        .service(open_by_code)
        .service(claim)
        .service(get_card)
        .service(card_events)
        .service(contribute)
        .service(refund_contribution)
        .service(transfer)
        .service(extend)
        .service(refund)
        .service(wallet)
        .service(card_balance)
        .service(redeem)
        .service(authorize)
        // Not a route macro: `settle` takes a `capture` flag in this module (see `routing::route`).
        .service(route(__path_capture, capture))
        .service(release)
        .service(block)
        .service(unblock);
}

// ---------------------------------------------------------------- views and access

pub use actors::giftcard::Access;

/// What the caller may see of `card` (the domain's rule: `actors::giftcard::access`).
pub fn access(who: Option<&Principal>, card: &GiftCard) -> Option<Access> {
    who.and_then(|w| actors::giftcard::access(w.user_id, w.is_admin(), card))
}

/// A gift card as one of its people sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardView {
    pub id: Uuid,
    /// `experience` or `value`.
    pub kind: String,
    /// `pending_payment`, `issued`, `delivered`, `opened`, `partly_used`, `used`,
    /// `expired`, `refunded` or `blocked`.
    pub status: String,
    pub currency: String,
    /// What the card is worth when paid.
    pub face_value_minor: i64,
    pub recipient_name: String,
    pub theme: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub group: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliver_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opened_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    /// What the caller is to this card: `donor`, `holder` or `admin`.
    #[schema(value_type = String, example = "holder")]
    pub access: Access,
    /// Holder and admin only: spendable value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_minor: Option<i64>,
    /// Holder and admin only: value held for bookings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_minor: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experience_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub party_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed: Option<bool>,
}

pub fn card_view(card: &GiftCard, access: Access) -> CardView {
    let insider = access != Access::Donor;
    let (kind, experience_id, party_size) = match &card.kind {
        CardKind::Experience {
            experience_id,
            party_size,
            ..
        } => ("experience", Some(*experience_id), Some(*party_size)),
        CardKind::Value { .. } => ("value", None, None),
    };
    CardView {
        id: card.id,
        kind: kind.to_owned(),
        status: card.status.as_str().to_owned(),
        currency: card.currency.code().to_owned(),
        face_value_minor: card.face_value,
        recipient_name: card.recipient.name.clone(),
        theme: card.theme.clone(),
        message: card.message.clone(),
        group: card.group,
        deliver_at: card.deliver_at,
        delivered_at: card.delivered_at,
        opened_at: card.opened_at,
        expires_at: card.expires_at,
        access,
        available_minor: insider.then_some(card.available),
        held_minor: insider.then_some(card.held),
        partner_id: card.kind.partner(),
        experience_id,
        party_size,
        extended: insider.then_some(card.extended),
        claimed: insider.then_some(card.recipient.user_id.is_some()),
    }
}

async fn load(state: &State, id: Uuid) -> ApiResult<GiftCard> {
    let row = gift_card::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("card"))?;
    crate::store::cards::decode(&row).map_err(ApiError::internal)
}

/// Loads a card the caller may see, with how they relate to it. Cards they may not see
/// are "not found", so ids reveal nothing.
pub async fn load_for(state: &State, who: &Principal, id: Uuid) -> ApiResult<(GiftCard, Access)> {
    let card = load(state, id).await?;
    let access = access(Some(who), &card).ok_or_else(|| ApiError::not_found("card"))?;
    Ok((card, access))
}

// ---------------------------------------------------------------- purchase

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

fn bad(field: &str, detail: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidField, detail).field(field)
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

// ---------------------------------------------------------------- by code

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The card's code, as printed (`XXXX-XXXX-XXXX-XXXX-C`; case, spaces and dashes free).
    pub code: String,
}

/// Opens a card with its code (the recipient's first view marks it opened and tells the
/// donor). Rate-limited per client address; a wrong code and a code of no card get the
/// same answer.
#[utoipa::path(tag = "cards", request_body = CodeRequest,
    responses((status = 200, body = crate::http::attachments::OpenedCard), (status = 404, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem), (status = 429, body = crate::error::Problem)),
    security((), ("bearer" = []), ("cookie" = [])))]
#[post("/cards/open")]
pub async fn open_by_code(
    state: State,
    req: HttpRequest,
    who: MaybePrincipal,
    body: web::Json<CodeRequest>,
) -> ApiResult<web::Json<crate::http::attachments::OpenedCard>> {
    let ip = client_ip(&req, state.config.trust_forwarded_for);
    let viewer = who.0.as_ref().map(|w| w.user_id);
    open_with_code(&state, &ip, viewer, &body.code)
        .await
        .map(web::Json)
}

/// Opens the card of `code` for someone at `client_ip` (rate-limited like every anonymous
/// code lookup): marks it opened and tells the donor, unless `viewer` is the donor. What
/// `POST /cards/open` answers and what the server-rendered reveal shows.
pub async fn open_with_code(
    state: &crate::state::AppState,
    client_ip: &str,
    viewer: Option<Uuid>,
    code: &str,
) -> ApiResult<crate::http::attachments::OpenedCard> {
    let row = giftcards::find_by_code(state, code, Lookup::Anonymous { client_ip }).await?;
    let card = if viewer == Some(row.purchaser_id) {
        // The donor looking at the code they printed does not "open" the gift.
        crate::store::cards::decode(&row).map_err(ApiError::internal)?
    } else {
        let now = state.clock.now();
        state
            .registry
            .send(row.id, Command::Open { now })
            .await?
            .state
    };
    crate::http::attachments::with_attachments(state, card_view(&card, Access::Holder))
        .await
        .map(|j| j.into_inner())
}

/// Claims a card into the logged-in account, so it shows in their wallet.
#[utoipa::path(tag = "cards", request_body = CodeRequest,
    responses((status = 200, body = CardView), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/cards/claim")]
pub async fn claim(
    state: State,
    req: HttpRequest,
    who: Principal,
    body: web::Json<CodeRequest>,
) -> ApiResult<web::Json<CardView>> {
    let ip = client_ip(&req, state.config.trust_forwarded_for);
    let row =
        giftcards::find_by_code(&state, &body.code, Lookup::Anonymous { client_ip: &ip }).await?;
    let now = state.clock.now();
    if row.purchaser_id != who.user_id {
        state.registry.send(row.id, Command::Open { now }).await?;
    }
    let outcome = state
        .registry
        .send(
            row.id,
            Command::Claim {
                user_id: who.user_id,
            },
        )
        .await?;
    Ok(web::Json(card_view(&outcome.state, Access::Holder)))
}

// ---------------------------------------------------------------- reading

/// One card, as the caller may see it.
#[utoipa::path(tag = "cards", params(("id" = Uuid, Path)),
    responses((status = 200, body = CardView), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/cards/{id}")]
pub async fn get_card(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<CardView>> {
    let (card, access) = load_for(&state, &who, id.into_inner()).await?;
    Ok(web::Json(card_view(&card, access)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsParams {
    /// Only events after this sequence number (default 0: from the start).
    pub since: Option<i64>,
    /// 1 to 100, default 100.
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CardEventView {
    /// The event's number: in the card's log, or for its donor in the donor's own view
    /// (1, 2, 3… over the events they see).
    pub seq: i64,
    pub kind: String,
    pub at: DateTime<Utc>,
    /// The event's data (holders and admins only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CardEventsPage {
    pub items: Vec<CardEventView>,
    /// Pass as `since` for what comes next.
    pub last_seq: i64,
}

/// A card's history in order. Donors see its lifecycle only (no amounts or places),
/// numbered in their own view: `seq` and `last_seq` count the events they see.
#[utoipa::path(tag = "cards",
    params(("id" = Uuid, Path), EventsParams),
    responses((status = 200, body = CardEventsPage), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/cards/{id}/events")]
pub async fn card_events(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
    params: web::Query<EventsParams>,
) -> ApiResult<web::Json<CardEventsPage>> {
    let id = id.into_inner();
    let (_, access) = load_for(&state, &who, id).await?;
    let since = params.since.unwrap_or(0).max(0);
    let limit = params.limit.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return Err(
            ApiError::new(ErrorCode::InvalidQuery, "limit must be between 1 and 100")
                .field("limit"),
        );
    }
    // A donor reads the lifecycle alone, numbered in their own view (`donor_seq`): the
    // spending events are neither shown nor counted.
    let donor = access == Access::Donor;
    let seq_col = if donor {
        card_event::Column::DonorSeq
    } else {
        card_event::Column::Seq
    };
    let rows = card_event::Entity::find()
        .filter(card_event::Column::CardId.eq(id))
        .filter(seq_col.gt(since))
        .order_by_asc(seq_col)
        .limit(limit)
        .all(&state.db)
        .await?;
    let seq_of = |r: &card_event::Model| {
        if donor {
            r.donor_seq.unwrap_or(0)
        } else {
            r.seq
        }
    };
    let last_seq = rows.last().map_or(since, seq_of);
    let items = rows
        .into_iter()
        .filter_map(|r| {
            let event = actors::giftcard::Event::from_parts(
                &r.kind,
                serde_json::from_str(&r.data).unwrap_or_default(),
            )
            .ok()?;
            (!donor || event.visible_to_donor()).then(|| CardEventView {
                seq: seq_of(&r),
                kind: r.kind,
                at: r.at,
                data: (!donor).then(|| event.data()),
            })
        })
        .collect();
    Ok(web::Json(CardEventsPage { items, last_seq }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Wallet {
    /// Cards the user gave (donor view).
    pub given: Vec<CardView>,
    /// Cards the user holds (claimed).
    pub received: Vec<CardView>,
}

/// The cards the user gave and received.
#[utoipa::path(tag = "cards",
    responses((status = 200, body = Wallet)), security(("bearer" = []), ("cookie" = [])))]
#[get("/wallet")]
pub async fn wallet(state: State, who: Principal) -> ApiResult<web::Json<Wallet>> {
    wallet_of(&state, &who).await.map(web::Json)
}

/// What `GET /wallet` answers `who`: also the donor page's first view (`webapp`).
pub(crate) async fn wallet_of(state: &State, who: &Principal) -> ApiResult<Wallet> {
    let decode = |rows: Vec<gift_card::Model>, access: Access| -> ApiResult<Vec<CardView>> {
        rows.iter()
            .map(|r| {
                crate::store::cards::decode(r)
                    .map(|c| card_view(&c, access))
                    .map_err(ApiError::internal)
            })
            .collect()
    };
    let given = gift_card::Entity::find()
        .filter(gift_card::Column::PurchaserId.eq(who.user_id))
        .order_by_desc(gift_card::Column::CreatedAt)
        .limit(200)
        .all(&state.db)
        .await?;
    let given = without_abandoned_purchases(state, given).await?;
    let received = gift_card::Entity::find()
        .filter(gift_card::Column::RecipientUserId.eq(who.user_id))
        .order_by_desc(gift_card::Column::CreatedAt)
        .limit(200)
        .all(&state.db)
        .await?;
    Ok(Wallet {
        given: decode(given, Access::Donor)?,
        received: decode(received, Access::Holder)?,
    })
}

/// How long an unfinished payment (waiting for 3-D Secure, or for the provider's word)
/// keeps its unpaid card in the donor's wallet.
pub const PAYMENT_LAPSE: chrono::Duration = chrono::Duration::hours(1);

/// The cards without the purchases that will not be paid: a card still `pending_payment`
/// stays only while a payment into it is under way (started less than [`PAYMENT_LAPSE`]
/// ago and neither failed nor declined). A declined or lapsed purchase leaves the wallet;
/// the card row stays (cards are never deleted) and is paid if a late payment succeeds.
async fn without_abandoned_purchases(
    state: &State,
    cards: Vec<gift_card::Model>,
) -> ApiResult<Vec<gift_card::Model>> {
    let unpaid: Vec<Uuid> = cards
        .iter()
        .filter(|c| c.status == Status::PendingPayment.as_str())
        .map(|c| c.id)
        .collect();
    if unpaid.is_empty() {
        return Ok(cards);
    }
    let since = state.clock.now() - PAYMENT_LAPSE;
    let live: std::collections::HashSet<Uuid> = entities::payment::Entity::find()
        .filter(entities::payment::Column::CardId.is_in(unpaid))
        .filter(entities::payment::Column::Status.is_in([
            "pending",
            "processing",
            "requires_action",
        ]))
        .filter(entities::payment::Column::CreatedAt.gt(since))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|p| p.card_id)
        .collect();
    Ok(cards
        .into_iter()
        .filter(|c| c.status != Status::PendingPayment.as_str() || live.contains(&c.id))
        .collect())
}

// ---------------------------------------------------------------- holder and donor actions

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    pub recipient_name: String,
    pub recipient_email: String,
}

/// Passes the card to someone else: a new code is sent to them and the old one stops
/// working. For the card's holder (claimed) or an admin; no bookings may be pending.
#[utoipa::path(tag = "cards",
    request_body = TransferRequest, params(("id" = Uuid, Path)),
    responses((status = 200, body = CardView), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/cards/{id}/transfer")]
pub async fn transfer(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
    body: web::Json<TransferRequest>,
) -> ApiResult<web::Json<CardView>> {
    let id = id.into_inner();
    let (_, access) = load_for(&state, &who, id).await?;
    if access == Access::Donor {
        return Err(ApiError::forbidden("only the card's holder can pass it on"));
    }
    let email =
        Email::parse(&body.recipient_email).map_err(|e| bad("recipient_email", e.message))?;
    let name = DisplayName::parse(&body.recipient_name)
        .map_err(|e| bad("recipient_name", e.message))?
        .as_str()
        .to_owned();
    let (_, material) = giftcards::new_code(&state);
    let outcome = state
        .registry
        .send_with(
            id,
            Command::Transfer {
                name,
                email: email.as_str().to_owned(),
            },
            Some(material),
        )
        .await?;
    Ok(web::Json(card_view(&outcome.state, access)))
}

/// Uses the card's one free extension (within 30 days of expiry; adds 90 days).
#[utoipa::path(tag = "cards", params(("id" = Uuid, Path)),
    responses((status = 200, body = CardView), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/cards/{id}/extend")]
pub async fn extend(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<CardView>> {
    let id = id.into_inner();
    let (_, access) = load_for(&state, &who, id).await?;
    let now = state.clock.now();
    let outcome = state.registry.send(id, Command::Extend { now }).await?;
    Ok(web::Json(card_view(&outcome.state, access)))
}

/// Refunds the card's unused value to its payer(s), pro rata. The donor may do so until
/// the recipient opens it; an admin at any time.
#[utoipa::path(tag = "cards", params(("id" = Uuid, Path)),
    responses((status = 200, body = CardView), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/cards/{id}/refund")]
pub async fn refund(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<CardView>> {
    let id = id.into_inner();
    let (card, access) = load_for(&state, &who, id).await?;
    // Who asks decides the window (the card's actor applies it on the card as it is
    // when the refund runs); a contributor or the holder may not ask.
    let by = match access {
        Access::Admin => Refunder::Support,
        Access::Donor if card.purchaser_id == who.user_id => Refunder::Donor,
        Access::Donor | Access::Holder => {
            return Err(actors::giftcard::DomainError::RefundWindowClosed.into());
        }
    };
    let outcome = state.registry.send(id, Command::Refund { by }).await?;
    Ok(web::Json(card_view(&outcome.state, access)))
}

// ---------------------------------------------------------------- at the partner

/// The venue's commission and the currency its till charges in (its country's).
async fn commission_bps(
    state: &State,
    who: &Principal,
    partner_id: Uuid,
) -> ApiResult<(u32, Currency)> {
    who.require_partner(
        partner_id,
        &[StaffRole::Owner, StaffRole::Staff, StaffRole::Tablet],
    )?;
    if let Some(t) = state.caches.partner_terms.get(&partner_id) {
        return Ok((t.commission_bps, t.currency));
    }
    let p = partner::Entity::find_by_id(partner_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("partner"))?;
    let currency = Currency::of_country(&p.country).ok_or_else(|| {
        ApiError::new(
            ErrorCode::CurrencyMismatch,
            format!(
                "this venue's country ({}) has no currency gift cards are sold in",
                p.country
            ),
        )
    })?;
    let terms = crate::cache::PartnerTerms {
        commission_bps: u32::try_from(p.commission_bps).map_err(ApiError::internal)?,
        currency,
    };
    state.caches.partner_terms.put(partner_id, terms);
    Ok((terms.commission_bps, terms.currency))
}

/// Sends a spend presented with `code` to the card's actor; a code replaced since it was
/// cached is forgotten and answered like an unknown one.
async fn spend_with_code(
    state: &State,
    code: &str,
    handle: crate::cache::CardHandle,
    command: Command,
) -> ApiResult<actors::runtime::Outcome<actors::giftcard::GiftCards>> {
    match state.registry.send(handle.card_id, command).await {
        Err(actors::runtime::ActorError::Domain(actors::giftcard::DomainError::CodeReplaced)) => {
            giftcards::forget_code(state, code);
            Err(ApiError::new(
                ErrorCode::NotFound,
                "no card matches this code",
            ))
        }
        other => Ok(other?),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpendRequest {
    pub code: String,
    pub amount_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SpendResponse {
    pub card_id: Uuid,
    /// For authorizations: the hold to capture or release later.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_id: Option<Uuid>,
    pub amount_minor: i64,
    pub currency: String,
    /// What is left to spend on the card.
    pub available_minor: i64,
}

/// A card as the venue's staff see it before spending from it: what is left, in which
/// currency. Nothing about who gave it, to whom, or where else it was used.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardBalance {
    pub card_id: Uuid,
    /// `experience` or `value`: only value cards are spent by amount.
    pub kind: String,
    /// e.g. `delivered`, `partly_used`, `used`, `expired`, `blocked`.
    pub status: String,
    pub currency: String,
    /// What is left to spend on the card.
    pub available_minor: i64,
    pub expires_at: DateTime<Utc>,
}

/// Reads a card's balance by its code at the venue (partner staff and tablets), so that
/// the amount is typed in the card's currency and checked against what is left. The same
/// rate limit on code look-ups as a redemption. A card that is only valid at another
/// venue answers 403 `wrong_partner`, as spending from it would.
#[utoipa::path(tag = "partners",
    request_body = CodeRequest, params(("id" = Uuid, Path)),
    responses((status = 200, body = CardBalance), (status = 404, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem), (status = 429, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/partners/{id}/card-balance")]
pub async fn card_balance(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
    body: web::Json<CodeRequest>,
) -> ApiResult<web::Json<CardBalance>> {
    let partner_id = id.into_inner();
    commission_bps(&state, &who, partner_id).await?;
    let row = giftcards::find_by_code(
        &state,
        &body.code,
        Lookup::Staff {
            user_id: who.user_id,
        },
    )
    .await?;
    let card = load(&state, row.id).await?;
    if card.kind.partner().is_some_and(|p| p != partner_id) {
        // Another venue's card: its balance is none of this one's business.
        return Err(actors::giftcard::DomainError::WrongPartner.into());
    }
    Ok(web::Json(CardBalance {
        card_id: card.id,
        kind: match card.kind {
            CardKind::Experience { .. } => "experience",
            CardKind::Value { .. } => "value",
        }
        .to_owned(),
        status: card.status.as_str().to_owned(),
        currency: card.currency.code().to_owned(),
        available_minor: card.available,
        expires_at: card.expires_at,
    }))
}

/// Spends value from a value card at the venue (partner staff and tablets).
#[utoipa::path(tag = "partners",
    request_body = SpendRequest, params(("id" = Uuid, Path)),
    responses((status = 201, body = SpendResponse), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/partners/{id}/redemptions")]
pub async fn redeem(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
    body: web::Json<SpendRequest>,
) -> ApiResult<HttpResponse> {
    let partner_id = id.into_inner();
    let (bps, currency) = commission_bps(&state, &who, partner_id).await?;
    let handle = giftcards::handle_for_code(&state, &body.code, who.user_id).await?;
    let now = state.clock.now();
    let command = Command::Redeem {
        code_version: Some(handle.code_version),
        amount: body.amount_minor,
        currency,
        partner_id,
        commission_bps: bps,
        reference: Uuid::now_v7(),
        now,
    };
    let outcome = spend_with_code(&state, &body.code, handle, command).await?;
    Ok(HttpResponse::Created().json(SpendResponse {
        card_id: handle.card_id,
        hold_id: None,
        amount_minor: body.amount_minor,
        currency: outcome.state.currency.code().to_owned(),
        available_minor: outcome.state.available,
    }))
}

/// Holds value on a card for a later capture (partner staff and tablets).
#[utoipa::path(tag = "partners",
    request_body = SpendRequest, params(("id" = Uuid, Path)),
    responses((status = 201, body = SpendResponse), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/partners/{id}/authorizations")]
pub async fn authorize(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
    body: web::Json<SpendRequest>,
) -> ApiResult<HttpResponse> {
    let partner_id = id.into_inner();
    let (bps, currency) = commission_bps(&state, &who, partner_id).await?;
    let handle = giftcards::handle_for_code(&state, &body.code, who.user_id).await?;
    let hold_id = Uuid::now_v7();
    let now = state.clock.now();
    let command = Command::Authorize {
        code_version: Some(handle.code_version),
        hold_id,
        amount: body.amount_minor,
        currency,
        partner_id,
        commission_bps: bps,
        now,
    };
    let outcome = spend_with_code(&state, &body.code, handle, command).await?;
    Ok(HttpResponse::Created().json(SpendResponse {
        card_id: handle.card_id,
        hold_id: Some(hold_id),
        amount_minor: body.amount_minor,
        currency: outcome.state.currency.code().to_owned(),
        available_minor: outcome.state.available,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    pub card_id: Uuid,
}

async fn settle(
    state: &State,
    who: &Principal,
    partner_id: Uuid,
    hold_id: Uuid,
    card_id: Uuid,
    capture: bool,
) -> ApiResult<SpendResponse> {
    commission_bps(state, who, partner_id).await?;
    // The card's actor refuses another partner's hold (as unknown); the amount is the
    // hold's as the actor settled it.
    let command = if capture {
        Command::Capture {
            hold_id,
            partner_id,
        }
    } else {
        Command::Release {
            hold_id,
            partner_id,
        }
    };
    let outcome = state.registry.send(card_id, command).await?;
    let amount = outcome
        .events
        .iter()
        .find_map(|e| match &e.event {
            Event::AuthorizationCaptured { amount, .. }
            | Event::AuthorizationReleased { amount, .. } => Some(*amount),
            _ => None,
        })
        .ok_or_else(|| ApiError::internal("a settled hold recorded no amount"))?;
    Ok(SpendResponse {
        card_id,
        hold_id: Some(hold_id),
        amount_minor: amount,
        currency: outcome.state.currency.code().to_owned(),
        available_minor: outcome.state.available,
    })
}

/// Captures a hold: the value is spent at the venue.
#[utoipa::path(post, path = "/partners/{id}/authorizations/{hold_id}/capture", tag = "partners",
    request_body = HoldRequest, params(("id" = Uuid, Path), ("hold_id" = Uuid, Path)),
    responses((status = 200, body = SpendResponse), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
pub async fn capture(
    state: State,
    who: Principal,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<HoldRequest>,
) -> ApiResult<web::Json<SpendResponse>> {
    let (partner_id, hold_id) = path.into_inner();
    Ok(web::Json(
        settle(&state, &who, partner_id, hold_id, body.card_id, true).await?,
    ))
}

/// Releases a hold: the value goes back to the card.
#[utoipa::path(tag = "partners",
    request_body = HoldRequest, params(("id" = Uuid, Path), ("hold_id" = Uuid, Path)),
    responses((status = 200, body = SpendResponse), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/partners/{id}/authorizations/{hold_id}/release")]
pub async fn release(
    state: State,
    who: Principal,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<HoldRequest>,
) -> ApiResult<web::Json<SpendResponse>> {
    let (partner_id, hold_id) = path.into_inner();
    Ok(web::Json(
        settle(&state, &who, partner_id, hold_id, body.card_id, false).await?,
    ))
}

// ---------------------------------------------------------------- admin

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    pub reason: String,
}

/// Freezes a card (admins): nothing can be done with it until it is unblocked.
#[utoipa::path(tag = "admin",
    request_body = BlockRequest, params(("id" = Uuid, Path)),
    responses((status = 200, body = CardView), (status = 403, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/admin/cards/{id}/block")]
pub async fn block(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
    body: web::Json<BlockRequest>,
) -> ApiResult<web::Json<CardView>> {
    who.require_admin()?;
    let reason = body.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(bad("reason", "must have between 1 and 500 characters"));
    }
    let outcome = state
        .registry
        .send(id.into_inner(), Command::Block { reason })
        .await?;
    Ok(web::Json(card_view(&outcome.state, Access::Admin)))
}

/// Unfreezes a card (admins): it returns to the status it had.
#[utoipa::path(tag = "admin",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = CardView), (status = 403, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/admin/cards/{id}/unblock")]
pub async fn unblock(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<CardView>> {
    who.require_admin()?;
    let outcome = state
        .registry
        .send(id.into_inner(), Command::Unblock)
        .await?;
    Ok(web::Json(card_view(&outcome.state, Access::Admin)))
}

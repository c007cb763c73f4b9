//! What partners do with cards at the venue: the balance, redemptions, and holds
//! (authorize, then capture or release).

use super::{CodeRequest, load};
use crate::app::giftcards::{self, Lookup};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::state::State;
use actix_web::post;
use actix_web::{HttpResponse, web};
use actors::giftcard::{CardKind, Command, Event};
use actors::{Currency, StaffRole};
use chrono::{DateTime, Utc};
use entities::partner;
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

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
    let terms = crate::store::cache::PartnerTerms {
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
    handle: crate::store::cache::CardHandle,
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

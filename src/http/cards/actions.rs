//! What the holder and the donor do with a card: transfer, extend, refund.

use super::{Access, CardView, bad, card_view, load_for};
use crate::app::giftcards::{self};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::State;
use actix_web::post;
use actix_web::web;
use actors::giftcard::{Command, Refunder};
use actors::{DisplayName, Email};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

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

//! What admins do with cards: block and unblock.

use super::{Access, CardView, bad, card_view};
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::State;
use actix_web::post;
use actix_web::web;
use actors::giftcard::Command;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

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

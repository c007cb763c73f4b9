//! Opening a card with its code (the reveal) and claiming it into an account.

use super::{Access, CardView, card_view};
use crate::app::giftcards::{self, Lookup};
use crate::auth::principal::client_ip;
use crate::auth::{MaybePrincipal, Principal};
use crate::error::{ApiError, ApiResult};
use crate::state::State;
use actix_web::post;
use actix_web::{HttpRequest, web};
use actors::giftcard::Command;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

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

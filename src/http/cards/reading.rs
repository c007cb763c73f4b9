//! Reading cards: one card, its history, and the wallet of given and received cards.

use super::{Access, CardView, card_view, load_for};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::state::State;
use actix_web::get;
use actix_web::web;
use actors::giftcard::Status;
use chrono::{DateTime, Utc};
use entities::{card_event, gift_card};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

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

//! Administration: what only an admin may see — the accounts (searchable), one card as
//! stored (its chain of events, its ledger lines, what the audit finds on it), looked up
//! by id or by code, and an audit run over everything (`fimy audit verify` over HTTP).

use crate::app::audit::{self, Finding};
use crate::app::giftcards::{self, Lookup};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::http::accounts::UserView;
use crate::http::cards::{Access, CardView, CodeRequest, card_view};
use crate::http::pagination::{self, Cursor, Page};
use crate::state::State;
use actix_web::web;
use actix_web::{get, post};
use chrono::{DateTime, Utc};
use entities::{partner_staff, user};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

/// Longest search text for accounts.
const MAX_QUERY_CHARS: usize = 100;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_users)
        .service(lookup_card)
        .service(get_card)
        .service(run_audit);
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserParams {
    /// Only accounts whose email or display name contains this text (case-insensitive,
    /// 1 to 100 characters).
    pub q: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// `%`, `_` and the escape character itself match literally.
fn like_pattern(text: &str) -> LikeExpr {
    let mut escaped = String::with_capacity(text.len() + 2);
    escaped.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    LikeExpr::new(escaped).escape('\\')
}

/// Every account, oldest first; with `q`, those whose email or name contains it.
#[utoipa::path(tag = "admin", params(UserParams),
    responses((status = 200, body = Page<UserView>), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/admin/users")]
pub async fn list_users(
    state: State,
    who: Principal,
    params: web::Query<UserParams>,
) -> ApiResult<web::Json<Page<UserView>>> {
    who.require_admin()?;
    let limit = pagination::limit(params.limit)?;
    let mut q = user::Entity::find().order_by_asc(user::Column::Id);
    if let Some(text) = params.q.as_deref().map(str::trim) {
        if text.is_empty() || text.chars().count() > MAX_QUERY_CHARS {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                format!("q must have between 1 and {MAX_QUERY_CHARS} characters"),
            )
            .field("q"));
        }
        let text = text.to_lowercase();
        q = q.filter(
            Condition::any()
                .add(Expr::col(user::Column::Email).like(like_pattern(&text)))
                .add(Func::lower(Expr::col(user::Column::DisplayName)).like(like_pattern(&text))),
        );
    }
    if let Some(c) = params.cursor.as_deref() {
        q = q.filter(user::Column::Id.gt(Cursor::decode(c, "id")?.id));
    }
    let rows = q.limit(limit + 1).all(&state.db).await?;
    let (rows, next_cursor) = pagination::split_page(rows, limit, |u| pagination::id_cursor(u.id));
    let mut staff: HashMap<_, _> = partner_staff::Entity::find()
        .filter(partner_staff::Column::UserId.is_in(rows.iter().map(|u| u.id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|s| (s.user_id, s))
        .collect();
    let items = rows
        .into_iter()
        .map(|u| {
            let s = staff.remove(&u.id);
            UserView::new(u, s)
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(web::Json(Page { items, next_cursor }))
}

// ---------------------------------------------------------------- one card, as stored

/// One event of a card's hash chain, exactly as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainEventView {
    pub id: Uuid,
    /// 1, 2, 3… in the card's log.
    pub seq: i64,
    pub kind: String,
    pub at: DateTime<Utc>,
    /// The event's data (`null` if it cannot be read; the findings say so).
    pub data: serde_json::Value,
    /// The hash of the event before (the genesis value for the first).
    pub prev_hash: String,
    pub hash: String,
}

/// One line of the double-entry ledger (the lines of a transaction sum to zero).
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerLineView {
    pub id: Uuid,
    pub txn_id: Uuid,
    /// The event the line posts.
    pub event_id: Option<Uuid>,
    /// e.g. `card:{id}`, `platform:cash`, `partner_payable:{id}`.
    pub account: String,
    pub currency: String,
    /// Minor units; debit positive, credit negative.
    pub amount_minor: i64,
    pub at: DateTime<Utc>,
}

/// A disagreement the audit found.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingView {
    /// `card`, `slot`, `calendar` or `ledger`.
    pub kind: String,
    /// The entity: a card, a slot, or the partner whose calendar it is.
    pub id: Option<Uuid>,
    /// The event where the chain first breaks, when it is about an event.
    pub seq: Option<i64>,
    pub problem: String,
    /// The whole finding in one line, as `fimy audit verify` prints it.
    pub text: String,
}

impl From<&Finding> for FindingView {
    fn from(f: &Finding) -> Self {
        Self {
            kind: f.kind.as_str().to_owned(),
            id: f.id,
            seq: f.seq,
            problem: f.problem.clone(),
            text: f.to_string(),
        }
    }
}

/// A card as an administrator sees it: its view, who it belongs to, its chain of events
/// and ledger lines as stored, and what the audit finds on them.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminCardView {
    pub id: Uuid,
    /// `pending_payment`, `issued`, `delivered`, `opened`, `partly_used`, `used`,
    /// `expired`, `refunded` or `blocked` (the stored column).
    pub status: String,
    /// The card as its holder sees it, with the admin's extras (absent when its stored
    /// state cannot be read; the findings say so).
    pub card: Option<CardView>,
    pub purchaser_id: Uuid,
    /// Where the gift was sent.
    pub recipient_email: String,
    /// The account that claimed it, if one did.
    pub recipient_user_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub events: Vec<ChainEventView>,
    pub ledger: Vec<LedgerLineView>,
    /// The audit of this card: its chain, its replayed state and its ledger (empty when
    /// all agree).
    pub findings: Vec<FindingView>,
}

async fn admin_card(state: &State, id: Uuid) -> ApiResult<AdminCardView> {
    let record = audit::verify_card(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("card"))?;
    let decoded = crate::store::cards::decode(&record.card).ok();
    let row = record.card;
    Ok(AdminCardView {
        id: row.id,
        status: row.status,
        card: decoded.as_ref().map(|c| card_view(c, Access::Admin)),
        recipient_email: row.recipient_email,
        recipient_user_id: row.recipient_user_id,
        purchaser_id: row.purchaser_id,
        created_at: row.created_at,
        events: record
            .events
            .into_iter()
            .map(|e| ChainEventView {
                id: e.id,
                seq: e.seq,
                kind: e.kind,
                at: e.at,
                data: serde_json::from_str(&e.data).unwrap_or(serde_json::Value::Null),
                prev_hash: e.prev_hash,
                hash: e.hash,
            })
            .collect(),
        ledger: record
            .entries
            .into_iter()
            .map(|l| LedgerLineView {
                id: l.id,
                txn_id: l.txn_id,
                event_id: l.event_id,
                account: l.account,
                currency: l.currency,
                amount_minor: l.amount,
                at: l.at,
            })
            .collect(),
        findings: record.findings.iter().map(FindingView::from).collect(),
    })
}

/// One card as stored: its chain of events with their hashes, its ledger lines, and what
/// the audit finds on them (admins only).
#[utoipa::path(tag = "admin",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AdminCardView), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/admin/cards/{id}")]
pub async fn get_card(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<AdminCardView>> {
    who.require_admin()?;
    Ok(web::Json(admin_card(&state, id.into_inner()).await?))
}

/// Finds a card by its code and shows it as `GET /admin/cards/{id}` does (admins only).
/// The code travels in the body, never in a URL; unknown codes count against the admin's
/// lookup budget, as a venue's do.
#[utoipa::path(tag = "admin",
    request_body = CodeRequest,
    responses((status = 200, body = AdminCardView), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
              (status = 429, body = crate::error::Problem, description = "See Retry-After")),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/admin/cards/lookup")]
pub async fn lookup_card(
    state: State,
    who: Principal,
    body: web::Json<CodeRequest>,
) -> ApiResult<web::Json<AdminCardView>> {
    who.require_admin()?;
    let row = giftcards::find_by_code(
        &state,
        &body.code,
        Lookup::Admin {
            user_id: who.user_id,
        },
    )
    .await?;
    Ok(web::Json(admin_card(&state, row.id).await?))
}

// ---------------------------------------------------------------- audit

/// What an audit run checked and found.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditReport {
    pub cards: usize,
    pub slots: usize,
    pub calendars: usize,
    pub events: usize,
    pub ledger_entries: usize,
    /// No findings: every chain, projection and balance agrees with its history.
    pub consistent: bool,
    pub findings: Vec<FindingView>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

/// Runs the audit (`fimy audit verify`): recomputes every hash chain — cards, slots,
/// partner calendars — and every card balance from the ledger, and names each entity and
/// event where the stored data disagrees (admins only). It reads everything, in pages.
#[utoipa::path(tag = "admin",
    responses((status = 200, body = AuditReport), (status = 403, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/admin/audit")]
pub async fn run_audit(state: State, who: Principal) -> ApiResult<web::Json<AuditReport>> {
    who.require_admin()?;
    let started_at = state.clock.now();
    let report = audit::verify(&state.db).await?;
    Ok(web::Json(AuditReport {
        cards: report.cards,
        slots: report.slots,
        calendars: report.calendars,
        events: report.events,
        ledger_entries: report.ledger_entries,
        consistent: report.findings.is_empty(),
        findings: report.findings.iter().map(FindingView::from).collect(),
        started_at,
        finished_at: state.clock.now(),
    }))
}

//! Notifications over HTTP: a user's choice of channels
//! (`GET`/`PUT /me/notification-preferences`), and for admins the outbox — what was sent,
//! what waits, what failed for good (`GET /admin/outbox?status=dead`) — and putting a
//! dead letter back in the queue (`POST /admin/outbox/{id}/retry`).

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::http::pagination::{self, Cursor, Page};
use crate::state::State;
use actix_web::web;
use actix_web::{get, post, put};
use chrono::{DateTime, Utc};
use entities::{notification_preference, outbox};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_preferences)
        .service(put_preferences)
        .service(list_outbox)
        .service(retry_outbox);
}

/// Which channels a user gets notifications on. The gift email (the card and its code)
/// is always sent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationPreferences {
    /// Emails about cards: delivered, opened, booked, used, refunds, reminders.
    pub email: bool,
    /// Web Push notifications.
    pub push: bool,
}

/// The logged-in user's notification preferences (both on until changed).
#[utoipa::path(tag = "accounts",
    responses((status = 200, body = NotificationPreferences), (status = 401, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/me/notification-preferences")]
pub async fn get_preferences(
    state: State,
    who: Principal,
) -> ApiResult<web::Json<NotificationPreferences>> {
    let row = notification_preference::Entity::find_by_id(who.user_id)
        .one(&state.db)
        .await?;
    Ok(web::Json(match row {
        Some(p) => NotificationPreferences {
            email: p.email,
            push: p.push,
        },
        None => NotificationPreferences {
            email: true,
            push: true,
        },
    }))
}

/// Sets the logged-in user's notification preferences.
#[utoipa::path(tag = "accounts",
    request_body = NotificationPreferences,
    responses((status = 200, body = NotificationPreferences), (status = 401, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[put("/me/notification-preferences")]
pub async fn put_preferences(
    state: State,
    who: Principal,
    body: web::Json<NotificationPreferences>,
) -> ApiResult<web::Json<NotificationPreferences>> {
    let prefs = body.into_inner();
    let row = notification_preference::ActiveModel {
        user_id: Set(who.user_id),
        email: Set(prefs.email),
        push: Set(prefs.push),
        updated_at: Set(state.clock.now()),
    };
    notification_preference::Entity::insert(row)
        .on_conflict(
            OnConflict::column(notification_preference::Column::UserId)
                .update_columns([
                    notification_preference::Column::Email,
                    notification_preference::Column::Push,
                    notification_preference::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&state.db)
        .await?;
    Ok(web::Json(prefs))
}

/// One notification of the outbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxView {
    pub id: Uuid,
    /// The event announced (what receivers deduplicate on).
    pub event_id: Uuid,
    pub card_id: Option<Uuid>,
    /// `donor`, `recipient` or `payer`.
    pub audience: String,
    pub user_id: Option<Uuid>,
    pub email: Option<String>,
    /// `email` or `push`.
    pub channel: String,
    /// e.g. `gift_received`, `card_opened`.
    pub kind: String,
    /// `pending`, `sending`, `sent`, `dead`, `gone` or `skipped`.
    pub status: String,
    pub attempts: i32,
    /// When it is (or was last) due; while `sending`, the end of the sender's lease.
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<outbox::Model> for OutboxView {
    fn from(r: outbox::Model) -> Self {
        Self {
            id: r.id,
            event_id: r.event_id,
            card_id: r.card_id,
            audience: r.audience,
            user_id: r.user_id,
            email: r.email,
            channel: r.channel,
            kind: r.kind,
            status: r.status,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            last_error: r.last_error,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OutboxParams {
    /// Only rows with this status (`pending`, `sending`, `sent`, `dead`, `gone`,
    /// `skipped`); all by default.
    pub status: Option<String>,
    /// 1–100, default 20.
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// The notification outbox, newest first (admins only).
#[utoipa::path(tag = "admin", params(OutboxParams),
    responses((status = 200, body = Page<OutboxView>), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/admin/outbox")]
pub async fn list_outbox(
    state: State,
    who: Principal,
    params: web::Query<OutboxParams>,
) -> ApiResult<web::Json<Page<OutboxView>>> {
    who.require_admin()?;
    let limit = pagination::limit(params.limit)?;
    let mut q = outbox::Entity::find().order_by_desc(outbox::Column::Id);
    if let Some(s) = params.status.as_deref() {
        if !crate::workers::outbox::STATUSES.contains(&s) {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                format!(
                    "status must be one of {}",
                    crate::workers::outbox::STATUSES.join(", ")
                ),
            )
            .field("status"));
        }
        q = q.filter(outbox::Column::Status.eq(s));
    }
    if let Some(c) = params.cursor.as_deref() {
        q = q.filter(outbox::Column::Id.lt(Cursor::decode(c, "id_desc")?.id));
    }
    let rows = q.limit(limit + 1).all(&state.db).await?;
    let (rows, next_cursor) = pagination::split_page(rows, limit, |r| Cursor {
        o: "id_desc".into(),
        k: None,
        id: r.id,
    });
    Ok(web::Json(Page {
        items: rows.into_iter().map(OutboxView::from).collect(),
        next_cursor,
    }))
}

/// Puts a dead (or gone) notification back in the queue with a fresh budget of
/// attempts; `attempts` keeps the real count of failed tries (admins only).
#[utoipa::path(tag = "admin",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = OutboxView), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/admin/outbox/{id}/retry")]
pub async fn retry_outbox(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<OutboxView>> {
    who.require_admin()?;
    match crate::workers::outbox::retry(&state, id.into_inner()).await? {
        Ok(Some(row)) => Ok(web::Json(row.into())),
        Ok(None) => Err(ApiError::not_found("notification")),
        Err(status) => Err(ApiError::new(
            ErrorCode::NotificationNotRetryable,
            format!("a {status} notification cannot be retried; only dead or gone ones"),
        )),
    }
}

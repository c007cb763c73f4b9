//! Validation at the venue over HTTP: the recipient's rotating QR code, the partner's
//! scan, and the recipient's confirmation.

use crate::app::validations::{self, QR_ROTATION_SECS};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorCode, OrInternal};
use crate::http::routing::route;
use crate::state::State;
use actix_web::{HttpResponse, web};
use actix_web::{get, post};
use actors::StaffRole;
use actors::booking::BookingStatus;
use chrono::{DateTime, Utc};
use entities::{booking, validation};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(qr)
        .service(scan)
        .service(get_one)
        // Not a route macro: `answer` takes a `confirm` flag in this module (see `routing::route`).
        .service(route(__path_confirm, confirm))
        .service(decline);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QrCode {
    /// What the QR code encodes.
    pub token: String,
    /// After this, show the next one (`GET` again).
    pub valid_until: DateTime<Utc>,
    pub rotates_every_secs: i64,
    /// The token as a QR code: an SVG image, for the phone to show.
    pub svg: String,
}

/// The token drawn as a QR code (an SVG document).
fn qr_svg(token: &str) -> ApiResult<String> {
    use qrcode::render::svg;
    let code =
        qrcode::QrCode::with_error_correction_level(token, qrcode::EcLevel::M).or_internal()?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build())
}

/// The booking's QR code for the venue, changing every 30 seconds (its holder only).
#[utoipa::path(tag = "bookings", params(("id" = Uuid, Path)),
    responses((status = 200, body = QrCode), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/bookings/{id}/qr")]
pub async fn qr(state: State, who: Principal, id: web::Path<Uuid>) -> ApiResult<web::Json<QrCode>> {
    let b = booking::Entity::find_by_id(id.into_inner())
        .one(&state.db)
        .await?
        .filter(|b| b.holder_user_id == who.user_id)
        .ok_or_else(|| ApiError::not_found("booking"))?;
    let status = crate::app::bookings::status_of(&b)?;
    if status != BookingStatus::Confirmed {
        return Err(ApiError::new(
            ErrorCode::BookingStateConflict,
            format!("a {status} booking has no code"),
        ));
    }
    let (token, valid_until) = validations::token(&state, b.id);
    Ok(web::Json(QrCode {
        svg: qr_svg(&token)?,
        token,
        valid_until,
        rotates_every_secs: QR_ROTATION_SECS,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationView {
    pub id: Uuid,
    pub booking_id: Uuid,
    /// `pending`, `confirmed`, `declined` or `expired`.
    pub status: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
}

impl From<validation::Model> for ValidationView {
    fn from(v: validation::Model) -> Self {
        Self {
            id: v.id,
            booking_id: v.booking_id,
            status: v.status,
            expires_at: v.expires_at,
            created_at: v.created_at,
            decided_at: v.decided_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// The token read from the recipient's QR code.
    pub token: String,
}

/// Step one (staff and tablets): a scanned code opens a validation request, pushed to the
/// recipient to confirm. Scanning the same code again returns the same request. Only in
/// the booking's check-in window (from 2 hours before its start to 2 hours after its
/// end); outside it, 409 `outside_check_in_window` says when it opens or closed.
#[utoipa::path(tag = "partners",
    request_body = ScanRequest, params(("id" = Uuid, Path)),
    responses((status = 201, body = ValidationView), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/partners/{id}/validations")]
pub async fn scan(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
    body: web::Json<ScanRequest>,
) -> ApiResult<HttpResponse> {
    let partner_id = id.into_inner();
    who.require_partner(
        partner_id,
        &[StaffRole::Owner, StaffRole::Staff, StaffRole::Tablet],
    )?;
    let v = validations::request(&state, partner_id, who.user_id, &body.token).await?;
    Ok(HttpResponse::Created().json(ValidationView::from(v)))
}

/// Who may see a request: the booking's holder and the partner's staff.
async fn visible(state: &State, who: &Principal, id: Uuid) -> ApiResult<(validation::Model, bool)> {
    let v = validation::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("validation"))?;
    let b = booking::Entity::find_by_id(v.booking_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("validation"))?;
    let holder = b.holder_user_id == who.user_id;
    let staff = who
        .require_partner(
            v.partner_id,
            &[StaffRole::Owner, StaffRole::Staff, StaffRole::Tablet],
        )
        .is_ok();
    if holder || staff {
        Ok((v, holder))
    } else {
        Err(ApiError::not_found("validation"))
    }
}

/// A validation request (its recipient and the partner's staff).
#[utoipa::path(tag = "bookings", params(("id" = Uuid, Path)),
    responses((status = 200, body = ValidationView), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/validations/{id}")]
pub async fn get_one(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<ValidationView>> {
    Ok(web::Json(
        visible(&state, &who, id.into_inner()).await?.0.into(),
    ))
}

async fn answer(
    state: State,
    who: Principal,
    id: Uuid,
    confirm: bool,
) -> ApiResult<web::Json<ValidationView>> {
    let (v, holder) = visible(&state, &who, id).await?;
    if !holder {
        return Err(ApiError::forbidden(
            "only the booking's holder answers a validation request",
        ));
    }
    Ok(web::Json(
        validations::decide(&state, &v, confirm).await?.into(),
    ))
}

/// Step two (the recipient): confirms; the booking's value is captured.
#[utoipa::path(post, path = "/validations/{id}/confirm", tag = "bookings", params(("id" = Uuid, Path)),
    responses((status = 200, body = ValidationView), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
pub async fn confirm(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<ValidationView>> {
    answer(state, who, id.into_inner(), true).await
}

/// The recipient declines a request they did not expect.
#[utoipa::path(tag = "bookings", params(("id" = Uuid, Path)),
    responses((status = 200, body = ValidationView), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/validations/{id}/decline")]
pub async fn decline(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<ValidationView>> {
    answer(state, who, id.into_inner(), false).await
}

//! Payment webhooks (Stripe, or the sandbox's, signed the same way) and the sandbox's
//! 3-D Secure step.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::http::routing::Resource;
use crate::state::State;
use actix_web::post;
use actix_web::{HttpRequest, HttpResponse, web};
use entities::payment;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

/// Largest webhook body accepted.
const WEBHOOK_LIMIT: usize = 512 * 1024;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(
        Resource::of(__path_webhook, webhook).app_data(web::PayloadConfig::new(WEBHOOK_LIMIT)),
    )
    .service(sandbox_authenticate);
}

/// Receives the payment provider's events (signed with `Stripe-Signature`).
#[utoipa::path(post, path = "/payments/webhook", tag = "payments",
    request_body(content = String, content_type = "application/json"),
    responses((status = 200), (status = 400, body = crate::error::Problem)))]
pub async fn webhook(state: State, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let signature = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidSignature,
                "the Stripe-Signature header is missing",
            )
        })?;
    crate::app::giftcards::receive_webhook(&state, &body, signature).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"received": true})))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthenticateRequest {
    /// Whether the payer passes the (simulated) 3-D Secure challenge.
    pub succeed: bool,
}

/// Sandbox only: completes the 3-D Secure step of a payment that required it.
#[utoipa::path(tag = "payments",
    request_body = AuthenticateRequest, params(("payment_id" = String, Path)),
    responses((status = 200), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/payments/sandbox/{payment_id}/authenticate")]
pub async fn sandbox_authenticate(
    state: State,
    who: Principal,
    payment_id: web::Path<String>,
    body: web::Json<AuthenticateRequest>,
) -> ApiResult<HttpResponse> {
    let sandbox = state
        .sandbox
        .as_ref()
        .ok_or_else(|| ApiError::not_found("sandbox payment"))?;
    let row = payment::Entity::find()
        .filter(payment::Column::Provider.eq("sandbox"))
        .filter(payment::Column::ProviderPaymentId.eq(payment_id.as_str()))
        .filter(payment::Column::PayerId.eq(who.user_id))
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("sandbox payment"))?;
    let intent = sandbox
        .authenticate(&payment_id, body.succeed)
        .map_err(|e| ApiError::new(ErrorCode::CardStateConflict, e.to_string()))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"payment": row.id, "intent": intent})))
}

//! Web Push over HTTP: the server's VAPID public key (what browsers pass to
//! `PushManager.subscribe()` as `applicationServerKey`), and saving or removing the
//! logged-in user's browser subscriptions. Sending is [`crate::notify::push::deliver`].

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::http::routing::Resource;
use crate::notify::push::{self, InvalidSubscription};
use crate::state::State;
use actix_web::get;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use entities::push_subscription;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

/// Most subscriptions kept per user; subscribing one more drops the oldest.
pub const MAX_SUBSCRIPTIONS_PER_USER: usize = 20;
/// The part of the `User-Agent` kept with a subscription.
const USER_AGENT_LEN: usize = 512;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(vapid_public_key)
        .service(Resource::of(__path_subscribe, subscribe).and(__path_unsubscribe, unsubscribe));
}

/// The server's VAPID public key.
#[derive(Debug, Serialize, ToSchema)]
pub struct VapidPublicKey {
    /// base64url (no padding) of the 65-byte uncompressed P-256 point.
    #[schema(
        example = "BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U"
    )]
    pub key: String,
}

/// The browser's keys, as `PushSubscription.toJSON().keys` gives them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionKeys {
    /// base64url of the browser's 65-byte uncompressed P-256 public key.
    pub p256dh: String,
    /// base64url of the 16-byte authentication secret.
    pub auth: String,
}

/// A browser subscription: what `PushSubscription.toJSON()` returns can be sent as is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    /// The push service URL: `https://` at a host of `push_allow_hosts` (by default the
    /// browsers' push services), never an internal address.
    pub endpoint: String,
    pub keys: SubscriptionKeys,
    /// Ignored (sent by `toJSON()`).
    #[serde(default, rename = "expirationTime")]
    #[schema(value_type = Option<i64>)]
    pub expiration_time: Option<serde_json::Value>,
}

/// Which subscription to remove.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionRef {
    pub endpoint: String,
}

/// A saved subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    pub id: Uuid,
    pub endpoint: String,
    pub created_at: DateTime<Utc>,
}

fn field_error(e: InvalidSubscription) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidField,
        format!("{} {}", e.field, e.message),
    )
    .field(e.field)
}

/// The VAPID public key to subscribe with.
#[utoipa::path(tag = "push",
    responses((status = 200, body = VapidPublicKey)))]
#[get("/push/vapid-public-key")]
pub async fn vapid_public_key(state: State) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(VapidPublicKey {
            key: state.push.vapid.public_key().to_owned(),
        })
}

/// Saves a browser subscription for the logged-in user (201). Subscribing an endpoint
/// that is saved already updates it (200), and moves it to this user if another had it:
/// the browser now belongs to whoever subscribed last.
#[utoipa::path(post, path = "/push/subscriptions", tag = "push",
    request_body = NewSubscription,
    responses((status = 201, body = SubscriptionView), (status = 200, body = SubscriptionView),
              (status = 401, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
pub async fn subscribe(
    state: State,
    who: Principal,
    req: HttpRequest,
    body: web::Json<NewSubscription>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    push::check_endpoint(&body.endpoint, &state.push.hosts)
        .await
        .map_err(field_error)?;
    let p256dh = push::parse_p256dh(&body.keys.p256dh).map_err(field_error)?;
    let auth = push::parse_auth(&body.keys.auth).map_err(field_error)?;
    // Kept as the browser gave it, so that removing it by the same string matches.
    let endpoint = body.endpoint;
    let p256dh = {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        push::encode_key(p256dh.to_encoded_point(false).as_bytes())
    };
    let auth = push::encode_key(&auth);
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(USER_AGENT_LEN).collect::<String>());
    let now = state.clock.now();

    let existed = push_subscription::Entity::find()
        .filter(push_subscription::Column::Endpoint.eq(&endpoint))
        .one(&state.db)
        .await?
        .is_some();
    push_subscription::Entity::insert(push_subscription::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(who.user_id),
        endpoint: Set(endpoint.clone()),
        p256dh: Set(p256dh),
        auth: Set(auth),
        user_agent: Set(user_agent),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(push_subscription::Column::Endpoint)
            .update_columns([
                push_subscription::Column::UserId,
                push_subscription::Column::P256dh,
                push_subscription::Column::Auth,
                push_subscription::Column::UserAgent,
            ])
            .to_owned(),
    )
    .exec_without_returning(&state.db)
    .await?;
    let row = push_subscription::Entity::find()
        .filter(push_subscription::Column::Endpoint.eq(&endpoint))
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::internal("a saved push subscription vanished"))?;

    // Keep the newest few: a user does not have dozens of browsers.
    let ids: Vec<Uuid> = push_subscription::Entity::find()
        .select_only()
        .column(push_subscription::Column::Id)
        .filter(push_subscription::Column::UserId.eq(who.user_id))
        .order_by_desc(push_subscription::Column::CreatedAt)
        .order_by_desc(push_subscription::Column::Id)
        .into_tuple()
        .all(&state.db)
        .await?;
    let stale: Vec<Uuid> = ids.into_iter().skip(MAX_SUBSCRIPTIONS_PER_USER).collect();
    if !stale.is_empty() {
        push_subscription::Entity::delete_many()
            .filter(push_subscription::Column::Id.is_in(stale))
            .exec(&state.db)
            .await?;
    }

    let view = SubscriptionView {
        id: row.id,
        endpoint: row.endpoint,
        created_at: row.created_at,
    };
    Ok(if existed {
        HttpResponse::Ok().json(view)
    } else {
        HttpResponse::Created().json(view)
    })
}

/// Removes one of the logged-in user's subscriptions (204); 404 when the user has no
/// subscription with this endpoint.
#[utoipa::path(delete, path = "/push/subscriptions", tag = "push",
    request_body = SubscriptionRef,
    responses((status = 204), (status = 401, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
pub async fn unsubscribe(
    state: State,
    who: Principal,
    body: web::Json<SubscriptionRef>,
) -> ApiResult<HttpResponse> {
    let res = push_subscription::Entity::delete_many()
        .filter(push_subscription::Column::Endpoint.eq(&body.endpoint))
        .filter(push_subscription::Column::UserId.eq(who.user_id))
        .exec(&state.db)
        .await?;
    if res.rows_affected == 0 {
        return Err(ApiError::not_found("push subscription"));
    }
    Ok(HttpResponse::NoContent().finish())
}

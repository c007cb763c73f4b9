//! Accounts: register, log in and out, the current user and their sessions.

use crate::auth::limiter::LoginAttempt;
use crate::auth::principal::client_ip;
use crate::auth::{
    CSRF_COOKIE, Principal, SESSION_COOKIE, device, password, random_token, session,
};
use crate::error::{ApiError, ApiResult, ErrorCode, OrInternal};
use crate::state::State;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web::{delete, get, patch, post};
use actors::{AccountKind, DisplayName, Email, Locale, Password, StaffRole};
use chrono::{DateTime, Utc};
use entities::{partner_staff, session as session_entity, user};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, SqlErr};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(register)
        .service(login)
        .service(device_login)
        .service(logout)
        .service(me)
        .service(update_me)
        .service(list_sessions)
        .service(revoke_session);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(example = "zoe@example.com")]
    pub email: String,
    /// 10 to 128 characters.
    pub password: String,
    #[schema(example = "Zoé")]
    pub display_name: String,
    /// `fr` (default) or `en`.
    #[serde(default)]
    pub locale: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffView {
    pub partner_id: Uuid,
    /// `owner`, `staff` or `tablet`.
    #[schema(value_type = String, example = "owner")]
    pub role: StaffRole,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    /// `customer`, `partner_staff` or `admin`.
    #[schema(value_type = String, example = "customer")]
    pub kind: AccountKind,
    #[schema(value_type = String, example = "fr")]
    pub locale: Locale,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff: Option<StaffView>,
    pub created_at: DateTime<Utc>,
}

impl UserView {
    pub fn new(u: user::Model, staff: Option<partner_staff::Model>) -> ApiResult<Self> {
        Ok(Self {
            id: u.id,
            kind: AccountKind::parse(&u.kind).or_internal()?,
            locale: Locale::parse(&u.locale).unwrap_or_default(),
            email: u.email,
            display_name: u.display_name,
            staff: match staff {
                Some(s) => Some(StaffView {
                    partner_id: s.partner_id,
                    role: StaffRole::parse(&s.role).or_internal()?,
                }),
                None => None,
            },
            created_at: u.created_at,
        })
    }
}

/// A new session. `token` goes in `Authorization: Bearer …`; browsers also get it as
/// an HttpOnly cookie, and echo `csrf_token` in `X-CSRF-Token` on writes.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    pub token: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
    pub user: UserView,
}

fn session_response(
    state: &State,
    req: &HttpRequest,
    status: actix_web::http::StatusCode,
    new: session::NewSession,
    user: UserView,
) -> HttpResponse {
    let secure = req.connection_info().scheme() == "https";
    let csrf = random_token();
    let max_age = CookieDuration::seconds(
        (new.session.expires_at - new.session.created_at)
            .num_seconds()
            .max(0),
    );
    let session_cookie = Cookie::build(SESSION_COOKIE, new.token.clone())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .finish();
    let csrf_cookie = Cookie::build(CSRF_COOKIE, csrf.clone())
        .path("/")
        .http_only(false)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(max_age)
        .finish();
    // This device is known for this account from now on (see `auth::device`).
    let device_value = device::remember(
        &state.secrets,
        req.cookie(device::DEVICE_COOKIE)
            .as_ref()
            .map(|c| c.value()),
        &user.email.to_lowercase(),
        state.clock.now(),
    );
    let device_cookie = Cookie::build(device::DEVICE_COOKIE, device_value)
        .path(device::DEVICE_COOKIE_PATH)
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::seconds(device::DEVICE_TTL.num_seconds()))
        .finish();
    HttpResponse::build(status)
        .cookie(session_cookie)
        .cookie(csrf_cookie)
        .cookie(device_cookie)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(SessionResponse {
            token: new.token,
            csrf_token: csrf,
            expires_at: new.session.expires_at,
            user,
        })
}

fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Creates a customer account and logs it in.
#[utoipa::path(tag = "accounts",
    request_body = RegisterRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replay protection")),
    responses((status = 201, body = SessionResponse), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
#[post("/auth/register")]
#[tracing::instrument(skip_all)]
pub async fn register(
    state: State,
    req: HttpRequest,
    body: web::Json<RegisterRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let email = Email::parse(&body.email)?;
    let pw = Password::parse(&body.password)?;
    let display_name = DisplayName::parse(&body.display_name)?;
    let locale = match body.locale.as_deref() {
        Some(l) => Locale::parse(l)?,
        None => Locale::default(),
    };
    let hash = password::hash(pw).await.or_internal()?;
    let now = state.clock.now();
    let created = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.as_str().to_owned()),
        password_hash: Set(hash),
        display_name: Set(display_name.as_str().to_owned()),
        kind: Set(AccountKind::Customer.as_str().to_owned()),
        locale: Set(locale.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await
    .map_err(|e| match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => ApiError::new(
            ErrorCode::EmailTaken,
            "an account with this email exists already; log in instead",
        )
        .field("email"),
        _ => e.into(),
    })?;
    let new = session::create(
        &state.db,
        created.id,
        now,
        state.config.session_ttl,
        user_agent(&req),
    )
    .await?;
    let view = UserView::new(created, None)?;
    Ok(session_response(
        &state,
        &req,
        actix_web::http::StatusCode::CREATED,
        new,
        view,
    ))
}

/// Logs in with email and password. Failures lock the account for the address (or known
/// device) that made them, not for its owner elsewhere; see the README for the limits.
#[utoipa::path(tag = "accounts",
    request_body = LoginRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replay protection")),
    responses((status = 200, body = SessionResponse), (status = 401, body = crate::error::Problem),
              (status = 429, body = crate::error::Problem, description = "See Retry-After")))]
#[post("/auth/login")]
#[tracing::instrument(skip_all)]
pub async fn login(
    state: State,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let account = body.email.trim().to_lowercase();
    if account.is_empty() || account.len() > Email::MAX_LEN || body.password.len() > 1024 {
        return Err(ApiError::new(
            ErrorCode::InvalidCredentials,
            "wrong email or password",
        ));
    }
    let ip = client_ip(&req, state.config.trust_forwarded_for);
    let known_device = device::recognise(
        &state.secrets,
        req.cookie(device::DEVICE_COOKIE)
            .as_ref()
            .map(|c| c.value()),
        &account,
        state.clock.now(),
    );
    let attempt = LoginAttempt {
        account: &account,
        address: &ip,
        device: known_device.as_deref(),
    };
    if let Err(limited) = state.login_limiter.check(&attempt) {
        state
            .metrics
            .logins
            .with_label_values(&["rate_limited"])
            .inc();
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            "too many login attempts; wait before trying again",
        )
        .retry_after(limited.retry_after_secs));
    }
    let found = user::Entity::find()
        .filter(user::Column::Email.eq(&account))
        .one(&state.db)
        .await?;
    let ok = password::verify(
        body.password,
        found.as_ref().map(|u| u.password_hash.clone()),
    )
    .await
    .or_internal()?;
    let Some(user) = found.filter(|_| ok) else {
        state.login_limiter.record_failure(&attempt);
        state.metrics.logins.with_label_values(&["failure"]).inc();
        return Err(ApiError::new(
            ErrorCode::InvalidCredentials,
            "wrong email or password",
        ));
    };
    state.login_limiter.record_success(&attempt);
    state.metrics.logins.with_label_values(&["success"]).inc();
    let staff = partner_staff::Entity::find()
        .filter(partner_staff::Column::UserId.eq(user.id))
        .one(&state.db)
        .await?;
    let now = state.clock.now();
    let new = session::create(
        &state.db,
        user.id,
        now,
        state.config.session_ttl,
        user_agent(&req),
    )
    .await?;
    let view = UserView::new(user, staff)?;
    Ok(session_response(
        &state,
        &req,
        actix_web::http::StatusCode::OK,
        new,
        view,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceLoginRequest {
    /// The token shown once when the device was created (`POST /partners/{id}/devices`).
    pub token: String,
}

/// Puts a tablet device's token into this browser: the answer sets the session and CSRF
/// cookies for the device's own session (no new session is made), so the web app's tablet
/// page works with it. Only a live token of a tablet device is accepted; any other token,
/// a revoked one included, gets the same 401. Tokens are 256 random bits, so there is
/// nothing to guess.
#[utoipa::path(tag = "accounts",
    request_body = DeviceLoginRequest,
    responses((status = 200, body = SessionResponse), (status = 401, body = crate::error::Problem)))]
#[post("/auth/device")]
#[tracing::instrument(skip_all)]
pub async fn device_login(
    state: State,
    req: HttpRequest,
    body: web::Json<DeviceLoginRequest>,
) -> ApiResult<HttpResponse> {
    let refused = || ApiError::new(ErrorCode::InvalidCredentials, "not a valid device token");
    let token = body.token.trim();
    if token.is_empty() || token.len() > 256 {
        return Err(refused());
    }
    let found = session::resolve(&state.db, token, state.clock.now())
        .await?
        .filter(|f| {
            f.staff
                .as_ref()
                .is_some_and(|s| s.role == StaffRole::Tablet.as_str())
        })
        .ok_or_else(refused)?;
    let view = UserView::new(found.user, found.staff)?;
    Ok(session_response(
        &state,
        &req,
        actix_web::http::StatusCode::OK,
        session::NewSession {
            token: token.to_owned(),
            session: found.session,
        },
        view,
    ))
}

/// Ends the current session and clears the cookies.
#[utoipa::path(tag = "accounts",
    responses((status = 204), (status = 401, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/auth/logout")]
pub async fn logout(state: State, who: Principal) -> ApiResult<HttpResponse> {
    session::revoke(&state.db, who.user_id, who.session_id).await?;
    state.access_changed(who.user_id).await;
    let mut gone_session = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    gone_session.make_removal();
    let mut gone_csrf = Cookie::build(CSRF_COOKIE, "").path("/").finish();
    gone_csrf.make_removal();
    Ok(HttpResponse::NoContent()
        .cookie(gone_session)
        .cookie(gone_csrf)
        .finish())
}

pub(crate) async fn load_me(state: &State, who: &Principal) -> ApiResult<UserView> {
    let user = user::Entity::find_by_id(who.user_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    let staff = partner_staff::Entity::find()
        .filter(partner_staff::Column::UserId.eq(user.id))
        .one(&state.db)
        .await?;
    UserView::new(user, staff)
}

/// The logged-in user.
#[utoipa::path(tag = "accounts",
    responses((status = 200, body = UserView), (status = 401, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/me")]
pub async fn me(state: State, who: Principal) -> ApiResult<web::Json<UserView>> {
    Ok(web::Json(load_me(&state, &who).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    pub display_name: Option<String>,
    /// `fr` or `en`.
    pub locale: Option<String>,
}

/// Changes the logged-in user's display name or language.
#[utoipa::path(tag = "accounts", request_body = UpdateMeRequest,
    responses((status = 200, body = UserView), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[patch("/me")]
pub async fn update_me(
    state: State,
    who: Principal,
    body: web::Json<UpdateMeRequest>,
) -> ApiResult<web::Json<UserView>> {
    let body = body.into_inner();
    let mut change = user::ActiveModel {
        id: Set(who.user_id),
        updated_at: Set(state.clock.now()),
        ..Default::default()
    };
    if let Some(name) = body.display_name {
        change.display_name = Set(DisplayName::parse(&name)?.as_str().to_owned());
    }
    if let Some(locale) = body.locale {
        change.locale = Set(Locale::parse(&locale)?.as_str().to_owned());
    }
    change.update(&state.db).await?;
    Ok(web::Json(load_me(&state, &who).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    /// Whether this is the session making the request.
    pub current: bool,
}

/// The logged-in user's live sessions.
#[utoipa::path(tag = "accounts",
    responses((status = 200, body = Vec<SessionView>)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/me/sessions")]
pub async fn list_sessions(state: State, who: Principal) -> ApiResult<web::Json<Vec<SessionView>>> {
    let rows = session_entity::Entity::find()
        .filter(session_entity::Column::UserId.eq(who.user_id))
        .filter(session_entity::Column::ExpiresAt.gt(state.clock.now()))
        .order_by_desc(session_entity::Column::CreatedAt)
        .all(&state.db)
        .await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|s| SessionView {
                current: s.id == who.session_id,
                id: s.id,
                created_at: s.created_at,
                expires_at: s.expires_at,
                user_agent: s.user_agent,
            })
            .collect(),
    ))
}

/// Ends one of the logged-in user's sessions (another device, say).
#[utoipa::path(tag = "accounts",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[delete("/me/sessions/{id}")]
pub async fn revoke_session(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    if session::revoke(&state.db, who.user_id, id.into_inner()).await? {
        state.access_changed(who.user_id).await;
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found("session"))
    }
}

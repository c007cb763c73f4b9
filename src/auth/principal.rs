//! The authenticated caller, extracted from `Authorization: Bearer …` or from the
//! session cookie (in which case writes must carry the CSRF header).

use super::{CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, constant_time_eq, session};
use crate::error::{ApiError, ErrorCode, OrInternal};
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, web};
use actors::{AccountKind, StaffRole};
use futures_util::future::LocalBoxFuture;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaffMembership {
    pub partner_id: Uuid,
    pub role: StaffRole,
}

/// A logged-in user. Taking it as a handler argument makes the endpoint require login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub kind: AccountKind,
    pub staff: Option<StaffMembership>,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.kind == AccountKind::Admin
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden("this requires an administrator"))
        }
    }

    /// Allows admins, and staff of `partner_id` whose role is one of `roles`.
    pub fn require_partner(&self, partner_id: Uuid, roles: &[StaffRole]) -> Result<(), ApiError> {
        if self.is_admin() {
            return Ok(());
        }
        match self.staff {
            Some(m) if m.partner_id == partner_id && roles.contains(&m.role) => Ok(()),
            _ => Err(ApiError::forbidden(
                "you are not staff of this partner with a role allowed here",
            )),
        }
    }
}

/// Where the credential came from.
enum Credential {
    Bearer(String),
    Cookie(String),
}

fn credential(req: &HttpRequest) -> Result<Option<Credential>, ApiError> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 256)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::Unauthenticated,
                    "the Authorization header must be `Bearer <token>`",
                )
            })?;
        return Ok(Some(Credential::Bearer(token.to_owned())));
    }
    Ok(req
        .cookie(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|t| !t.is_empty() && t.len() <= 256)
        .map(Credential::Cookie))
}

/// The scope an idempotency key lives in: a hash of the caller's credential, or `anon`.
pub fn credential_scope(req: &HttpRequest) -> String {
    match credential(req) {
        Ok(Some(Credential::Bearer(t) | Credential::Cookie(t))) => {
            format!("s:{}", &super::token_hash(&t)[..32])
        }
        _ => "anon".to_owned(),
    }
}

fn check_csrf(req: &HttpRequest) -> Result<(), ApiError> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let header = req.headers().get(CSRF_HEADER).map(|v| v.as_bytes());
    let cookie = req.cookie(CSRF_COOKIE);
    match (header, cookie) {
        (Some(h), Some(c)) if !h.is_empty() && constant_time_eq(h, c.value().as_bytes()) => Ok(()),
        _ => Err(ApiError::new(
            ErrorCode::CsrfTokenMissing,
            "a write authenticated by cookie must send the fimy_csrf cookie's value in X-CSRF-Token",
        )),
    }
}

async fn resolve(req: HttpRequest) -> Result<Option<Principal>, ApiError> {
    let Some(cred) = credential(&req)? else {
        return Ok(None);
    };
    let token = match cred {
        Credential::Bearer(t) => t,
        Credential::Cookie(t) => {
            check_csrf(&req)?;
            t
        }
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("application state missing"))?;
    let now = state.clock.now();
    let hash = super::token_hash(&token);
    if let Some(principal) = state.sessions.get(&hash, now) {
        return Ok(Some(principal));
    }
    let Some(found) = session::resolve(&state.db, &token, now).await? else {
        return Err(ApiError::new(
            ErrorCode::Unauthenticated,
            "the session has expired or was revoked; log in again",
        ));
    };
    let expires = found.session.expires_at;
    let principal = Principal::from_session(found)?;
    state.sessions.put(hash, principal.clone(), expires, now);
    Ok(Some(principal))
}

impl Principal {
    fn from_session(found: session::Resolved) -> Result<Self, ApiError> {
        let kind = AccountKind::parse(&found.user.kind).or_internal()?;
        let staff = match found.staff {
            Some(s) => Some(StaffMembership {
                partner_id: s.partner_id,
                role: StaffRole::parse(&s.role).or_internal()?,
            }),
            None => None,
        };
        Ok(Principal {
            user_id: found.user.id,
            session_id: found.session.id,
            kind,
            staff,
        })
    }

    /// Who this session serves now: `None` once it was revoked or expired. A long-lived
    /// connection calls it when its user's access may have changed.
    pub async fn current(
        db: &impl sea_orm::ConnectionTrait,
        session_id: Uuid,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Self>, ApiError> {
        match session::resolve_id(db, session_id, now).await? {
            Some(found) => Self::from_session(found).map(Some),
            None => Ok(None),
        }
    }
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            resolve(req).await?.ok_or_else(|| {
                ApiError::new(
                    ErrorCode::Unauthenticated,
                    "log in and send `Authorization: Bearer <token>` or the session cookie",
                )
            })
        })
    }
}

/// The caller if logged in; `None` for anonymous requests. A credential that is sent but
/// invalid is still an error, so a client learns its session ended.
pub struct MaybePrincipal(pub Option<Principal>);

impl FromRequest for MaybePrincipal {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { resolve(req).await.map(MaybePrincipal) })
    }
}

/// The client's address: the peer, or the first `X-Forwarded-For` hop when configured
/// to sit behind a trusted proxy.
pub fn client_ip(req: &HttpRequest, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for
        && let Some(ip) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| v.parse::<std::net::IpAddr>().is_ok())
    {
        return ip.to_owned();
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

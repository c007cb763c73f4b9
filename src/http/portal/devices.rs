//! The venue's tablet devices: create (the token is shown once), list, revoke.

use super::{DEVICE_EMAIL_DOMAIN, DEVICE_SESSION_TTL, MANAGERS, OWNERS, bad, find_partner};
use crate::auth::{Principal, password, random_token, session};
use crate::error::{ApiError, ApiResult, OrInternal};
use crate::state::State;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use actix_web::{delete, get, post};
use actors::{AccountKind, DisplayName, Password, StaffRole};
use chrono::{DateTime, Utc};
use entities::user;
use entities::{partner_staff, session as session_entity};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// What the staff call it, e.g. "Front desk tablet".
    #[schema(example = "Front desk tablet")]
    pub name: String,
}

/// A device just created. The token is shown this once: put it on the tablet.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceCreated {
    pub device_id: Uuid,
    pub name: String,
    /// For `Authorization: Bearer …` on the tablet; never shown again.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    pub device_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// When the device's latest live session expires; absent when it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_expires_at: Option<DateTime<Utc>>,
}

/// Creates a tablet device for the venue (owner only) and returns its token, once.
/// The device can see the calendar and validate cards; it manages nothing.
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path)),
    request_body = NewDevice,
    responses((status = 201, body = DeviceCreated), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/partners/{id}/devices")]
#[tracing::instrument(skip_all, fields(partner = %id))]
pub async fn create_device(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
    body: web::Json<NewDevice>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    who.require_partner(id, OWNERS)?;
    let name = DisplayName::parse(&body.name).map_err(|e| bad("name", e.message))?;
    find_partner(&state.db, id).await?;
    // A password nobody knows: the device only ever uses its session token.
    let unusable = password::hash(Password::parse(&random_token())?)
        .await
        .or_internal()?;
    let now = state.clock.now();
    let device_id = Uuid::now_v7();
    let tx = state.db.begin().await?;
    user::ActiveModel {
        id: Set(device_id),
        email: Set(format!(
            "device-{}@{DEVICE_EMAIL_DOMAIN}",
            device_id.simple()
        )),
        password_hash: Set(unusable),
        display_name: Set(name.as_str().to_owned()),
        kind: Set(AccountKind::PartnerStaff.as_str().to_owned()),
        locale: Set(actors::Locale::default().as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&tx)
    .await?;
    partner_staff::ActiveModel {
        id: Set(Uuid::now_v7()),
        partner_id: Set(id),
        user_id: Set(device_id),
        role: Set(StaffRole::Tablet.as_str().to_owned()),
        created_at: Set(now),
    }
    .insert(&tx)
    .await?;
    let new = session::create(
        &tx,
        device_id,
        now,
        DEVICE_SESSION_TTL,
        Some(format!("tablet device: {}", name.as_str())),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(device = %device_id, "tablet device created");
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(DeviceCreated {
            device_id,
            name: name.as_str().to_owned(),
            token: new.token,
            expires_at: new.session.expires_at,
        }))
}

/// The venue's tablet devices (never their tokens). Owner or staff.
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<DeviceView>), (status = 403, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/partners/{id}/devices")]
pub async fn list_devices(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<Vec<DeviceView>>> {
    let id = id.into_inner();
    who.require_partner(id, MANAGERS)?;
    let members = partner_staff::Entity::find()
        .filter(partner_staff::Column::PartnerId.eq(id))
        .filter(partner_staff::Column::Role.eq(StaffRole::Tablet.as_str()))
        .order_by_asc(partner_staff::Column::CreatedAt)
        .all(&state.db)
        .await?;
    let ids: Vec<Uuid> = members.iter().map(|m| m.user_id).collect();
    let users: std::collections::HashMap<Uuid, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(ids.clone()))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let mut expiry: std::collections::HashMap<Uuid, DateTime<Utc>> = Default::default();
    let sessions = session_entity::Entity::find()
        .filter(session_entity::Column::UserId.is_in(ids))
        .filter(session_entity::Column::ExpiresAt.gt(state.clock.now()))
        .all(&state.db)
        .await?;
    for s in sessions {
        let e = expiry.entry(s.user_id).or_insert(s.expires_at);
        *e = (*e).max(s.expires_at);
    }
    Ok(web::Json(
        members
            .into_iter()
            .filter_map(|m| {
                let u = users.get(&m.user_id)?;
                Some(DeviceView {
                    device_id: u.id,
                    name: u.display_name.clone(),
                    created_at: m.created_at,
                    session_expires_at: expiry.get(&u.id).copied(),
                })
            })
            .collect(),
    ))
}

/// Revokes a tablet device (owner only): its sessions are deleted, so its token stops
/// working at once, and it leaves the staff. The account row is kept, inert, so that
/// what the device did stays attributed.
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path), ("device_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[delete("/partners/{id}/devices/{device_id}")]
#[tracing::instrument(skip_all, fields(partner = %path.0, device = %path.1))]
pub async fn revoke_device(
    state: State,
    who: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (id, device_id) = path.into_inner();
    who.require_partner(id, OWNERS)?;
    let tx = state.db.begin().await?;
    let member = partner_staff::Entity::find()
        .filter(partner_staff::Column::PartnerId.eq(id))
        .filter(partner_staff::Column::UserId.eq(device_id))
        .filter(partner_staff::Column::Role.eq(StaffRole::Tablet.as_str()))
        .one(&tx)
        .await?
        .ok_or_else(|| ApiError::not_found("device"))?;
    session_entity::Entity::delete_many()
        .filter(session_entity::Column::UserId.eq(device_id))
        .exec(&tx)
        .await?;
    partner_staff::Entity::delete_by_id(member.id)
        .exec(&tx)
        .await?;
    tx.commit().await?;
    state.access_changed(device_id).await;
    tracing::info!("tablet device revoked");
    Ok(HttpResponse::NoContent().finish())
}

//! The venue's staff: invite by the email of an existing account, remove.

use super::{OWNERS, bad, lock_partner};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::http::catalogue::StaffMemberView;
use crate::state::State;
use actix_web::{HttpResponse, web};
use actix_web::{delete, post};
use actors::{AccountKind, Email, StaffRole};
use entities::user;
use entities::{partner_staff, session as session_entity};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set, SqlErr,
    TransactionTrait,
};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteStaff {
    /// The email of an existing customer account.
    #[schema(example = "camille@example.com")]
    pub email: String,
    /// `staff` or `owner`. Tablets are added as devices.
    #[schema(example = "staff")]
    pub role: String,
}

/// Adds a registered customer to the partner's staff (owner only). The account becomes a
/// `partner_staff` account at once. The invitee must have registered first.
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path),
           ("Idempotency-Key" = Option<String>, Header, description = "Replay protection")),
    request_body = InviteStaff,
    responses((status = 201, body = StaffMemberView), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem, description = "No account with this email"),
              (status = 409, body = crate::error::Problem, description = "Already staff, or not a customer account"),
              (status = 422, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/partners/{id}/staff")]
#[tracing::instrument(skip_all, fields(partner = %id))]
pub async fn invite_staff(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
    body: web::Json<InviteStaff>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    who.require_partner(id, OWNERS)?;
    let b = body.into_inner();
    let email = Email::parse(&b.email)?;
    let role = match StaffRole::parse(b.role.trim()) {
        Ok(r @ (StaffRole::Owner | StaffRole::Staff)) => r,
        Ok(StaffRole::Tablet) => {
            return Err(bad(
                "role",
                "tablets are devices: create one with POST /api/v1/partners/{id}/devices",
            ));
        }
        Err(_) => return Err(bad("role", "must be staff or owner")),
    };
    let now = state.clock.now();
    let tx = state.db.begin().await?;
    lock_partner(&tx, id).await?;
    let invitee = user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(&tx)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                "no account has this email: ask them to register first, then invite them again",
            )
            .field("email")
        })?;
    let already = || {
        ApiError::new(
            ErrorCode::AlreadyStaff,
            "this account is on a partner's staff already, or is not a customer account",
        )
        .field("email")
    };
    // Fenced on the kind, so two owners inviting the same person cannot both win.
    let res = user::Entity::update_many()
        .set(user::ActiveModel {
            kind: Set(AccountKind::PartnerStaff.as_str().to_owned()),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(user::Column::Id.eq(invitee.id))
        .filter(user::Column::Kind.eq(AccountKind::Customer.as_str()))
        .exec(&tx)
        .await?;
    if res.rows_affected != 1 {
        return Err(already());
    }
    let member = partner_staff::ActiveModel {
        id: Set(Uuid::now_v7()),
        partner_id: Set(id),
        user_id: Set(invitee.id),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now),
    }
    .insert(&tx)
    .await
    .map_err(|e| match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => already(),
        _ => e.into(),
    })?;
    tx.commit().await?;
    state.access_changed(invitee.id).await;
    tracing::info!(user = %invitee.id, role = role.as_str(), "staff member added");
    Ok(HttpResponse::Created().json(StaffMemberView {
        user_id: invitee.id,
        display_name: invitee.display_name,
        email: invitee.email,
        role,
        since: member.created_at,
    }))
}

/// Removes someone from the partner's staff (owner only): their sessions end at once and
/// their account becomes a customer account again. The last owner cannot be removed.
/// Tablet devices are revoked with `DELETE …/devices/{device_id}` instead.
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem, description = "The last owner")),
    security(("bearer" = []), ("cookie" = [])))]
#[delete("/partners/{id}/staff/{user_id}")]
#[tracing::instrument(skip_all, fields(partner = %path.0, user = %path.1))]
pub async fn remove_staff(
    state: State,
    who: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (id, user_id) = path.into_inner();
    who.require_partner(id, OWNERS)?;
    let tx = state.db.begin().await?;
    lock_partner(&tx, id).await?;
    let member = partner_staff::Entity::find()
        .filter(partner_staff::Column::PartnerId.eq(id))
        .filter(partner_staff::Column::UserId.eq(user_id))
        .one(&tx)
        .await?
        .filter(|m| m.role != StaffRole::Tablet.as_str())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                "no such staff member at this partner (tablets are removed under /devices)",
            )
        })?;
    if member.role == StaffRole::Owner.as_str() {
        let owners = partner_staff::Entity::find()
            .filter(partner_staff::Column::PartnerId.eq(id))
            .filter(partner_staff::Column::Role.eq(StaffRole::Owner.as_str()))
            .count(&tx)
            .await?;
        if owners <= 1 {
            return Err(ApiError::new(
                ErrorCode::LastOwner,
                "this is the partner's only owner: add another owner first",
            ));
        }
    }
    partner_staff::Entity::delete_by_id(member.id)
        .exec(&tx)
        .await?;
    session_entity::Entity::delete_many()
        .filter(session_entity::Column::UserId.eq(user_id))
        .exec(&tx)
        .await?;
    user::Entity::update_many()
        .set(user::ActiveModel {
            kind: Set(AccountKind::Customer.as_str().to_owned()),
            updated_at: Set(state.clock.now()),
            ..Default::default()
        })
        .filter(user::Column::Id.eq(user_id))
        .filter(user::Column::Kind.eq(AccountKind::PartnerStaff.as_str()))
        .exec(&tx)
        .await?;
    tx.commit().await?;
    state.access_changed(user_id).await;
    tracing::info!("staff member removed");
    Ok(HttpResponse::NoContent().finish())
}

//! Sessions: opaque random tokens, stored as their SHA-256, valid until they expire or
//! are revoked.

use super::{random_token, token_hash};
use chrono::{DateTime, Utc};
use entities::{partner_staff, session, user};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

/// A session just created: the token is shown to the client once and never again.
pub struct NewSession {
    pub token: String,
    pub session: session::Model,
}

#[tracing::instrument(skip(db, user_agent), fields(%user_id))]
pub async fn create(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    now: DateTime<Utc>,
    ttl: std::time::Duration,
    user_agent: Option<String>,
) -> Result<NewSession, sea_orm::DbErr> {
    let token = random_token();
    let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(30));
    let session = session::ActiveModel {
        id: Set(Uuid::now_v7()),
        token_hash: Set(token_hash(&token)),
        user_id: Set(user_id),
        user_agent: Set(user_agent.map(|ua| ua.chars().take(255).collect())),
        created_at: Set(now),
        expires_at: Set(now + ttl),
    }
    .insert(db)
    .await?;
    Ok(NewSession { token, session })
}

/// The live session a token stands for, with its user and staff membership.
pub struct Resolved {
    pub session: session::Model,
    pub user: user::Model,
    pub staff: Option<partner_staff::Model>,
}

#[tracing::instrument(skip_all)]
pub async fn resolve(
    db: &impl ConnectionTrait,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<Resolved>, sea_orm::DbErr> {
    let Some(session) = session::Entity::find()
        .filter(session::Column::TokenHash.eq(token_hash(token)))
        .filter(session::Column::ExpiresAt.gt(now))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    with_user(db, session).await
}

/// The live session with this id, as [`resolve`] finds it by token (long-lived connections
/// re-read who they serve).
pub async fn resolve_id(
    db: &impl ConnectionTrait,
    session_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Resolved>, sea_orm::DbErr> {
    let Some(session) = session::Entity::find_by_id(session_id)
        .filter(session::Column::ExpiresAt.gt(now))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    with_user(db, session).await
}

async fn with_user(
    db: &impl ConnectionTrait,
    session: session::Model,
) -> Result<Option<Resolved>, sea_orm::DbErr> {
    let Some(user) = user::Entity::find_by_id(session.user_id).one(db).await? else {
        return Ok(None);
    };
    let staff = partner_staff::Entity::find()
        .filter(partner_staff::Column::UserId.eq(user.id))
        .one(db)
        .await?;
    Ok(Some(Resolved {
        session,
        user,
        staff,
    }))
}

/// Ends one session of one user. Returns whether there was such a session.
pub async fn revoke(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    session_id: Uuid,
) -> Result<bool, sea_orm::DbErr> {
    let res = session::Entity::delete_many()
        .filter(session::Column::Id.eq(session_id))
        .filter(session::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Whether a session still exists and has not expired (long-lived connections re-check).
pub async fn is_live(
    db: &impl ConnectionTrait,
    session_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, sea_orm::DbErr> {
    Ok(session::Entity::find_by_id(session_id)
        .filter(session::Column::ExpiresAt.gt(now))
        .one(db)
        .await?
        .is_some())
}

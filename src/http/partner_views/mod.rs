//! What partners and recipients see around a booking, besides the booking itself:
//!
//! - `GET /bookings/{id}/ics`: the booking as an iCalendar file, for its holder, the
//!   partner's staff (owner, staff, tablet) and admins; 404 for anyone else.
//! - A partner's calendar feed: `POST /partners/{id}/calendar-feed` (owner or staff)
//!   makes a secret URL `…/api/v1/calendar-feeds/{partner_id}/{token}.ics` that calendar
//!   applications subscribe to without logging in. Only the token's SHA-256 is stored;
//!   making a new one revokes the previous URL, `DELETE` revokes it outright. The feed
//!   holds the partner's confirmed, completed and no-show bookings from 30 days ago to
//!   365 days ahead, and the ones cancelled in the last 30 days (as `STATUS:CANCELLED`,
//!   so that subscribers drop them). An unknown partner, a wrong token and a revoked one
//!   all get the same 404.
//! - `GET /partners/{id}/dashboard` (owner, staff, tablet): the next 20 confirmed
//!   bookings, today's arrivals (confirmed bookings starting today in the partner's time
//!   zone) and returning customers (two or more confirmed or completed bookings here).
//!   Customers appear by display name only: never an email, nor anything about their
//!   other cards or partners.
//! - `GET|POST /bookings/{id}/messages`: the thread between the booking's holder
//!   (`recipient`) and the partner's owner and staff (`partner`). Tablets and admins may
//!   read it, not write; anyone else gets 404. The list is oldest first and
//!   cursor-paginated (`limit` 1–100, default 20, `cursor`).

mod calendar;
mod messages;
mod overview;

pub use calendar::*;
pub use messages::*;
pub use overview::*;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actors::StaffRole;
use entities::{booking, experience, partner, user};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use std::collections::HashMap;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

const ALL_STAFF: &[StaffRole] = &[StaffRole::Owner, StaffRole::Staff, StaffRole::Tablet];
const MANAGERS: &[StaffRole] = &[StaffRole::Owner, StaffRole::Staff];

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(booking_ics)
        .service(list_messages)
        .service(post_message)
        .service(create_feed)
        .service(revoke_feed)
        .service(dashboard)
        .service(calendar_feed);
}

/// How the caller relates to a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Holder,
    Staff(StaffRole),
    Admin,
}

impl Access {
    fn of(b: &booking::Model, who: &Principal) -> Option<Self> {
        if b.holder_user_id == who.user_id {
            return Some(Self::Holder);
        }
        match who.staff {
            Some(m) if m.partner_id == b.partner_id => Some(Self::Staff(m.role)),
            _ if who.is_admin() => Some(Self::Admin),
            _ => None,
        }
    }
}

/// The booking, if the caller may see it; 404 otherwise (whether or not it exists).
async fn visible_booking(
    state: &AppState,
    who: &Principal,
    id: Uuid,
) -> ApiResult<(booking::Model, Access)> {
    let b = booking::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("booking"))?;
    let access = Access::of(&b, who).ok_or_else(|| ApiError::not_found("booking"))?;
    Ok((b, access))
}

async fn find_partner(state: &AppState, id: Uuid) -> ApiResult<partner::Model> {
    partner::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("partner"))
}

/// Display names of these users.
async fn display_names(
    state: &AppState,
    ids: impl IntoIterator<Item = Uuid>,
) -> ApiResult<HashMap<Uuid, String>> {
    let mut ids: Vec<Uuid> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, String)> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::DisplayName)
        .filter(user::Column::Id.is_in(ids))
        .into_tuple()
        .all(&state.db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Titles of these experiences.
async fn experience_titles(
    state: &AppState,
    ids: impl IntoIterator<Item = Uuid>,
) -> ApiResult<HashMap<Uuid, String>> {
    let mut ids: Vec<Uuid> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, String)> = experience::Entity::find()
        .select_only()
        .column(experience::Column::Id)
        .column(experience::Column::Title)
        .filter(experience::Column::Id.is_in(ids))
        .into_tuple()
        .all(&state.db)
        .await?;
    Ok(rows.into_iter().collect())
}

//! The partner's dashboard: upcoming bookings, today's arrivals, returning customers.

use super::{ALL_STAFF, display_names, experience_titles, find_partner};
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::format::ical::booking::venue_zone as partner_tz;
use crate::state::{AppState, State};
use actix_web::get;
use actix_web::web;
use actors::booking::BookingStatus;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use entities::booking;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;
use uuid::Uuid;
/// Bookings in the dashboard's `upcoming` list.
const UPCOMING: u64 = 20;
/// Customers in the dashboard's `returning_customers` list, at most.
const RETURNING: u64 = 50;

/// A booking as the partner sees it: who (display name only), what, when.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerBookingView {
    pub id: Uuid,
    pub experience_id: Uuid,
    pub experience_title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub party_size: i32,
    pub status: String,
    /// The holder's display name.
    pub customer: String,
    /// Value authorized on the card, minor units of `currency`.
    pub amount: i64,
    pub currency: String,
}

/// A customer who came back.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReturningCustomer {
    /// Display name.
    pub customer: String,
    /// Confirmed and completed bookings at this partner.
    pub bookings: i64,
    /// Start of the latest of those bookings that has begun; absent if all are ahead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_visit: Option<DateTime<Utc>>,
}

/// The partner's day at a glance.
#[derive(Debug, Serialize, ToSchema)]
pub struct Dashboard {
    pub partner_id: Uuid,
    /// The partner's IANA time zone, in which `date` is reckoned.
    pub timezone: String,
    /// Today, in the partner's time zone.
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    /// The next 20 confirmed bookings starting from now, soonest first.
    pub upcoming: Vec<PartnerBookingView>,
    /// Today's arrivals: confirmed bookings starting today (local), earliest first,
    /// including those whose time has passed but that are not checked in yet.
    pub today: Vec<PartnerBookingView>,
    /// Customers with at least two confirmed or completed bookings here, most bookings
    /// first (at most 50).
    pub returning_customers: Vec<ReturningCustomer>,
}

/// The first instant of `date` in `tz` (midnight, or the first local time that exists
/// when a transition skips midnight).
fn start_of_day(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    (0..24)
        .filter_map(|h| date.and_hms_opt(h, 0, 0))
        .find_map(|t| tz.from_local_datetime(&t).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| date.and_time(chrono::NaiveTime::MIN).and_utc())
}

async fn partner_views(
    state: &AppState,
    rows: Vec<booking::Model>,
) -> ApiResult<Vec<PartnerBookingView>> {
    let titles = experience_titles(state, rows.iter().map(|b| b.experience_id)).await?;
    let names = display_names(state, rows.iter().map(|b| b.holder_user_id)).await?;
    Ok(rows
        .into_iter()
        .map(|b| PartnerBookingView {
            id: b.id,
            experience_id: b.experience_id,
            experience_title: titles.get(&b.experience_id).cloned().unwrap_or_default(),
            starts_at: b.starts_at,
            ends_at: b.ends_at,
            party_size: b.party_size,
            status: b.status,
            customer: names.get(&b.holder_user_id).cloned().unwrap_or_default(),
            amount: b.amount,
            currency: b.currency,
        })
        .collect())
}

/// The partner's dashboard: upcoming bookings, today's arrivals, returning customers.
/// Owner, staff and tablet (and admins).
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Dashboard),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/partners/{id}/dashboard")]
pub async fn dashboard(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<Dashboard>> {
    let id = id.into_inner();
    who.require_partner(id, ALL_STAFF)?;
    let p = find_partner(&state, id).await?;
    let tz = partner_tz(&p);
    let now = state.clock.now();
    let date = now.with_timezone(&tz).date_naive();
    let day_start = start_of_day(tz, date);
    let day_end = date
        .succ_opt()
        .map_or(day_start + Duration::days(1), |d| start_of_day(tz, d));

    let upcoming = booking::Entity::find()
        .filter(booking::Column::PartnerId.eq(id))
        .filter(booking::Column::Status.eq(BookingStatus::Confirmed.as_str()))
        .filter(booking::Column::StartsAt.gte(now))
        .order_by_asc(booking::Column::StartsAt)
        .order_by_asc(booking::Column::Id)
        .limit(UPCOMING)
        .all(&state.db)
        .await?;
    let today = booking::Entity::find()
        .filter(booking::Column::PartnerId.eq(id))
        .filter(booking::Column::Status.eq(BookingStatus::Confirmed.as_str()))
        .filter(booking::Column::StartsAt.gte(day_start))
        .filter(booking::Column::StartsAt.lt(day_end))
        .order_by_asc(booking::Column::StartsAt)
        .order_by_asc(booking::Column::Id)
        .all(&state.db)
        .await?;

    let counted = [BookingStatus::Confirmed, BookingStatus::Completed].map(BookingStatus::as_str);
    let count = Expr::col(booking::Column::Id).count();
    let regulars: Vec<(Uuid, i64)> = booking::Entity::find()
        .select_only()
        .column(booking::Column::HolderUserId)
        .column_as(count.clone(), "n")
        .filter(booking::Column::PartnerId.eq(id))
        .filter(booking::Column::Status.is_in(counted))
        .group_by(booking::Column::HolderUserId)
        .having(count.clone().gte(2))
        .order_by(count, Order::Desc)
        .order_by_asc(booking::Column::HolderUserId)
        .limit(RETURNING)
        .into_tuple()
        .all(&state.db)
        .await?;
    let holders: Vec<Uuid> = regulars.iter().map(|(h, _)| *h).collect();
    let last_visits: HashMap<Uuid, Option<DateTime<Utc>>> = if holders.is_empty() {
        HashMap::new()
    } else {
        booking::Entity::find()
            .select_only()
            .column(booking::Column::HolderUserId)
            .column_as(Expr::col(booking::Column::StartsAt).max(), "last")
            .filter(booking::Column::PartnerId.eq(id))
            .filter(booking::Column::Status.is_in(counted))
            .filter(booking::Column::StartsAt.lte(now))
            .filter(booking::Column::HolderUserId.is_in(holders.clone()))
            .group_by(booking::Column::HolderUserId)
            .into_tuple::<(Uuid, Option<DateTime<Utc>>)>()
            .all(&state.db)
            .await?
            .into_iter()
            .collect()
    };
    let names = display_names(&state, holders).await?;
    let returning_customers = regulars
        .into_iter()
        .map(|(holder, n)| ReturningCustomer {
            customer: names.get(&holder).cloned().unwrap_or_default(),
            bookings: n,
            last_visit: last_visits.get(&holder).copied().flatten(),
        })
        .collect();

    Ok(web::Json(Dashboard {
        partner_id: id,
        timezone: tz.name().to_owned(),
        date,
        upcoming: partner_views(&state, upcoming).await?,
        today: partner_views(&state, today).await?,
        returning_customers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_of_day_follows_the_zone() {
        let d = NaiveDate::from_ymd_opt(2026, 7, 10).unwrap();
        assert_eq!(
            start_of_day(chrono_tz::America::Toronto, d).to_rfc3339(),
            "2026-07-10T04:00:00+00:00"
        );
        // Santiago springs forward at midnight: 6 September 2026 begins at 01:00.
        let d = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        assert_eq!(
            start_of_day(chrono_tz::America::Santiago, d).to_rfc3339(),
            "2026-09-06T04:00:00+00:00"
        );
    }
}

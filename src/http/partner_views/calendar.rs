//! The booking as an iCalendar file, and the partner's secret calendar feed.

use super::{Access, MANAGERS, display_names, experience_titles, find_partner, visible_booking};
use crate::auth::{Principal, constant_time_eq, random_token, token_hash};
use crate::error::{ApiError, ApiResult};
use crate::format::ical;
use crate::format::ical::booking::Audience;
use crate::state::{AppState, State};
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use actix_web::{delete, get, post};
use actors::Locale;
use actors::booking::BookingStatus;
use chrono::Duration;
use entities::{booking, partner, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;
/// The feed covers bookings that started at most this long ago…
const FEED_PAST: Duration = Duration::days(30);
/// …and those starting within this long.
const FEED_AHEAD: Duration = Duration::days(365);
/// Most events in one feed (a safety bound, far above a venue's year).
const FEED_MAX_EVENTS: u64 = 20_000;
/// How often subscribers are asked to refresh the feed.
const FEED_REFRESH: Duration = Duration::hours(1);

fn calendar_response(body: String, disposition: String, cache: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, disposition))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(body)
}

/// A booking as an iCalendar file (`text/calendar`): one event at the venue's local
/// time with its `VTIMEZONE`. For the booking's holder, the partner's staff (owner,
/// staff, tablet) and admins; 404 for anyone else.
#[utoipa::path(tag = "bookings",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "An iCalendar file (RFC 5545)", content_type = "text/calendar",
            body = String, headers(("Content-Disposition" = String,
                description = "attachment; filename=\"fimy-booking-<id>.ics\""))),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/bookings/{id}/ics")]
pub async fn booking_ics(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let (b, access) = visible_booking(&state, &who, id.into_inner()).await?;
    let p = find_partner(&state, b.partner_id).await?;
    let title = experience_titles(&state, [b.experience_id])
        .await?
        .remove(&b.experience_id)
        .unwrap_or_default();
    let caller = user::Entity::find_by_id(who.user_id).one(&state.db).await?;
    let lang = Locale::of(caller.as_ref().map_or("fr", |u| u.locale.as_str()));
    let customer;
    let audience = if access == Access::Holder {
        Audience::Recipient
    } else {
        customer = display_names(&state, [b.holder_user_id])
            .await?
            .remove(&b.holder_user_id)
            .unwrap_or_default();
        Audience::Partner {
            customer: &customer,
        }
    };
    let now = state.clock.now();
    let status = crate::app::bookings::status_of(&b)?;
    let event = ical::booking::event(&b, status, Some(&p), &title, audience, lang, now);
    let body = ical::Calendar {
        events: vec![event],
        ..Default::default()
    }
    .to_ics();
    Ok(calendar_response(
        body,
        format!("attachment; filename=\"fimy-booking-{}.ics\"", b.id),
        "private, no-store",
    ))
}

/// Where a partner's calendar feed can be subscribed to.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarFeed {
    /// The secret feed URL: anyone holding it can read the partner's bookings (times,
    /// experiences, customers' display names). Shown once; not retrievable later.
    pub url: String,
    /// The same with the `webcal:` scheme, which opens a subscription in most calendar
    /// applications.
    pub webcal_url: String,
}

fn feed_url(state: &AppState, partner_id: Uuid, token: &str) -> CalendarFeed {
    let mut base = state.config.public_url.as_str().to_owned();
    if !base.ends_with('/') {
        base.push('/');
    }
    let url = format!("{base}api/v1/calendar-feeds/{partner_id}/{token}.ics");
    let webcal_url = match url.split_once("://") {
        Some((_, rest)) => format!("webcal://{rest}"),
        None => url.clone(),
    };
    CalendarFeed { url, webcal_url }
}

/// Makes a new secret calendar-feed URL for the partner, replacing (and so revoking) any
/// previous one. Owner or staff (or an admin).
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path)),
    responses((status = 201, body = CalendarFeed),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/partners/{id}/calendar-feed")]
pub async fn create_feed(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    who.require_partner(id, MANAGERS)?;
    let p = find_partner(&state, id).await?;
    let token = random_token();
    let mut row: partner::ActiveModel = p.into();
    row.calendar_feed_token_hash = Set(Some(token_hash(&token)));
    row.updated_at = Set(state.clock.now());
    row.update(&state.db).await?;
    tracing::info!(partner = %id, by = %who.user_id, "calendar feed URL (re)generated");
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(feed_url(&state, id, &token)))
}

/// Revokes the partner's calendar-feed URL (nothing to revoke is fine too). Owner or
/// staff (or an admin).
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "The feed URL no longer works"),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[delete("/partners/{id}/calendar-feed")]
pub async fn revoke_feed(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    who.require_partner(id, MANAGERS)?;
    let p = find_partner(&state, id).await?;
    if p.calendar_feed_token_hash.is_some() {
        let mut row: partner::ActiveModel = p.into();
        row.calendar_feed_token_hash = Set(None);
        row.updated_at = Set(state.clock.now());
        row.update(&state.db).await?;
        tracing::info!(partner = %id, by = %who.user_id, "calendar feed URL revoked");
    }
    Ok(HttpResponse::NoContent().finish())
}

/// A partner's bookings as a subscribable iCalendar feed. No login: the secret token in
/// the URL is the credential. Confirmed, completed and no-show bookings from 30 days ago
/// to 365 days ahead, plus those cancelled in the last 30 days (`STATUS:CANCELLED`).
/// Unknown partner, wrong token and revoked token all answer 404.
#[utoipa::path(tag = "partners",
    params(("partner_id" = Uuid, Path), ("token" = String, Path, description = "The feed's secret")),
    responses(
        (status = 200, description = "An iCalendar feed (RFC 5545)", content_type = "text/calendar",
            body = String),
        (status = 404, body = crate::error::Problem)))]
#[get("/calendar-feeds/{partner_id}/{token}.ics")]
pub async fn calendar_feed(
    state: State,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (partner_id, token) = path.into_inner();
    let not_found = || ApiError::not_found("calendar feed");
    let partner_id = Uuid::parse_str(&partner_id).map_err(|_| not_found())?;
    if token.is_empty() || token.len() > 128 {
        return Err(not_found());
    }
    let p = partner::Entity::find_by_id(partner_id)
        .one(&state.db)
        .await?
        .ok_or_else(not_found)?;
    let presented = token_hash(&token);
    let valid = p
        .calendar_feed_token_hash
        .as_deref()
        .is_some_and(|stored| constant_time_eq(stored.as_bytes(), presented.as_bytes()));
    if !valid {
        return Err(not_found());
    }

    let now = state.clock.now();
    let (from, to) = (now - FEED_PAST, now + FEED_AHEAD);
    let rows = booking::Entity::find()
        .filter(booking::Column::PartnerId.eq(p.id))
        .filter(booking::Column::StartsAt.gte(from))
        .filter(booking::Column::StartsAt.lte(to))
        .filter(
            Condition::any()
                .add(
                    booking::Column::Status.is_in(BookingStatus::BOOKED.map(BookingStatus::as_str)),
                )
                .add(
                    Condition::all()
                        .add(booking::Column::Status.eq(BookingStatus::Cancelled.as_str()))
                        .add(booking::Column::UpdatedAt.gte(now - FEED_PAST)),
                ),
        )
        .order_by_asc(booking::Column::StartsAt)
        .order_by_asc(booking::Column::Id)
        .limit(FEED_MAX_EVENTS)
        .all(&state.db)
        .await?;
    let titles = experience_titles(&state, rows.iter().map(|b| b.experience_id)).await?;
    let names = display_names(&state, rows.iter().map(|b| b.holder_user_id)).await?;
    let events = rows
        .iter()
        .map(|b| {
            let title = titles.get(&b.experience_id).map_or("", String::as_str);
            let customer = names.get(&b.holder_user_id).map_or("", String::as_str);
            let status = crate::app::bookings::status_of(b)?;
            Ok(ical::booking::event(
                b,
                status,
                Some(&p),
                title,
                Audience::Partner { customer },
                Locale::Fr,
                now,
            ))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let body = ical::Calendar {
        name: Some(format!("Fimy — {}", p.name)),
        refresh_interval: Some(FEED_REFRESH),
        events,
    }
    .to_ics();
    Ok(calendar_response(
        body,
        format!("inline; filename=\"fimy-{}.ics\"", p.slug),
        "private, max-age=300",
    ))
}

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

use crate::auth::{Principal, constant_time_eq, random_token, token_hash};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::format::ical;
use crate::format::ical::booking::{Audience, venue_zone as partner_tz};
use crate::http::pagination::{self, Cursor, Page};
use crate::state::{AppState, State};
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use actix_web::{delete, get, post};
use actors::Locale;
use actors::StaffRole;
use actors::booking::BookingStatus;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use entities::{booking, booking_message, experience, partner, user};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

/// The feed covers bookings that started at most this long ago…
const FEED_PAST: Duration = Duration::days(30);
/// …and those starting within this long.
const FEED_AHEAD: Duration = Duration::days(365);
/// Most events in one feed (a safety bound, far above a venue's year).
const FEED_MAX_EVENTS: u64 = 20_000;
/// How often subscribers are asked to refresh the feed.
const FEED_REFRESH: Duration = Duration::hours(1);
/// Bookings in the dashboard's `upcoming` list.
const UPCOMING: u64 = 20;
/// Customers in the dashboard's `returning_customers` list, at most.
const RETURNING: u64 = 50;
/// Longest message, in characters (after trimming).
pub const MAX_MESSAGE_CHARS: usize = 2000;

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

// ---------------------------------------------------------------- access

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

// ---------------------------------------------------------------- iCalendar

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

// ---------------------------------------------------------------- calendar feed

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

// ---------------------------------------------------------------- dashboard

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

// ---------------------------------------------------------------- messages

/// A message about a booking.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub id: Uuid,
    pub booking_id: Uuid,
    /// `recipient` (the booking's holder) or `partner` (the venue's owner or staff).
    pub author_role: String,
    /// The holder's display name, or the venue's name for the partner's messages.
    pub author_name: String,
    /// Whether the caller wrote it.
    pub mine: bool,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// 1 to 2000 characters once trimmed; line breaks allowed, no other control
    /// characters.
    pub body: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MessageParams {
    /// Page size, 1–100 (default 20).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

const MESSAGE_ORDER: &str = "messages";

/// A message body as stored: CRLF and CR made LF, trimmed, 1..=2000 characters, no
/// control, format or invisible characters but line feeds ([`actors::text`]).
pub fn clean_body(raw: &str) -> ApiResult<String> {
    actors::MessageText::parse("body", raw, MAX_MESSAGE_CHARS)
        .map(actors::MessageText::into_string)
        .map_err(|e| ApiError::new(ErrorCode::InvalidField, e.message).field("body"))
}

struct Authors {
    holder_name: String,
    partner_name: String,
}

async fn authors(state: &AppState, b: &booking::Model) -> ApiResult<Authors> {
    let holder_name = display_names(state, [b.holder_user_id])
        .await?
        .remove(&b.holder_user_id)
        .unwrap_or_default();
    let partner_name = partner::Entity::find_by_id(b.partner_id)
        .one(&state.db)
        .await?
        .map(|p| p.name)
        .unwrap_or_default();
    Ok(Authors {
        holder_name,
        partner_name,
    })
}

fn message_view(m: booking_message::Model, authors: &Authors, who: &Principal) -> MessageView {
    let author_name = if m.author_role == "recipient" {
        authors.holder_name.clone()
    } else {
        authors.partner_name.clone()
    };
    MessageView {
        id: m.id,
        booking_id: m.booking_id,
        mine: m.author_user_id == who.user_id,
        author_role: m.author_role,
        author_name,
        body: m.body,
        created_at: m.created_at,
    }
}

/// The booking's messages, oldest first, cursor-paginated. The holder, the partner's
/// staff (owner, staff, tablet) and admins; 404 for anyone else.
#[utoipa::path(tag = "bookings",
    params(("id" = Uuid, Path), MessageParams),
    responses((status = 200, body = Page<MessageView>),
        (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/bookings/{id}/messages")]
pub async fn list_messages(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
    params: web::Query<MessageParams>,
) -> ApiResult<web::Json<Page<MessageView>>> {
    let (b, _) = visible_booking(&state, &who, id.into_inner()).await?;
    let limit = pagination::limit(params.limit)?;
    let mut q = booking_message::Entity::find().filter(booking_message::Column::BookingId.eq(b.id));
    if let Some(raw) = params.cursor.as_deref() {
        let c = Cursor::decode(raw, MESSAGE_ORDER)?;
        let at =
            c.k.as_ref()
                .and_then(|k| k.as_str())
                .and_then(|k| DateTime::parse_from_rfc3339(k).ok())
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::InvalidCursor,
                        "the cursor is not one this list returned",
                    )
                    .field("cursor")
                })?;
        q = q.filter(
            Condition::any()
                .add(booking_message::Column::CreatedAt.gt(at))
                .add(
                    Condition::all()
                        .add(booking_message::Column::CreatedAt.eq(at))
                        .add(booking_message::Column::Id.gt(c.id)),
                ),
        );
    }
    let rows = q
        .order_by_asc(booking_message::Column::CreatedAt)
        .order_by_asc(booking_message::Column::Id)
        .limit(limit + 1)
        .all(&state.db)
        .await?;
    let (rows, next_cursor) = pagination::split_page(rows, limit, |m| Cursor {
        o: MESSAGE_ORDER.to_owned(),
        k: Some(serde_json::Value::String(
            m.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        )),
        id: m.id,
    });
    let authors = authors(&state, &b).await?;
    Ok(web::Json(Page {
        items: rows
            .into_iter()
            .map(|m| message_view(m, &authors, &who))
            .collect(),
        next_cursor,
    }))
}

/// Writes a message about the booking: its holder (as `recipient`) or the partner's
/// owner or staff (as `partner`). Tablets and admins may read the thread but not write
/// (403); anyone else gets 404.
#[utoipa::path(tag = "bookings",
    params(("id" = Uuid, Path)),
    request_body = NewMessage,
    responses((status = 201, body = MessageView),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/bookings/{id}/messages")]
pub async fn post_message(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
    body: web::Json<NewMessage>,
) -> ApiResult<HttpResponse> {
    let (b, access) = visible_booking(&state, &who, id.into_inner()).await?;
    let role = match access {
        Access::Holder => "recipient",
        Access::Staff(StaffRole::Owner | StaffRole::Staff) => "partner",
        Access::Staff(StaffRole::Tablet) | Access::Admin => {
            return Err(ApiError::forbidden(
                "only the booking's holder and the partner's owner and staff write messages",
            ));
        }
    };
    let text = clean_body(&body.body)?;
    let row = booking_message::ActiveModel {
        id: Set(Uuid::now_v7()),
        booking_id: Set(b.id),
        author_user_id: Set(who.user_id),
        author_role: Set(role.to_owned()),
        body: Set(text),
        created_at: Set(state.clock.now()),
    }
    .insert(&state.db)
    .await?;
    let authors = authors(&state, &b).await?;
    Ok(HttpResponse::Created().json(message_view(row, &authors, &who)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_bodies_are_trimmed_and_checked() {
        assert_eq!(
            clean_body("  bonjour\r\nà 19 h ?  ").unwrap(),
            "bonjour\nà 19 h ?"
        );
        assert!(clean_body(" \n\t ").is_err());
        assert!(clean_body("a\u{0}b").is_err());
        assert!(clean_body("a\tb").is_err());
        assert!(clean_body(&"é".repeat(MAX_MESSAGE_CHARS)).is_ok());
        assert!(clean_body(&"é".repeat(MAX_MESSAGE_CHARS + 1)).is_err());
    }

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

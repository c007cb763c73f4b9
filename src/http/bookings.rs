//! Bookings over HTTP: slot availability, availability rules, booking with a gift card,
//! confirm / cancel / reschedule, the partner's calendar and its change log, and the
//! partner's actions on a booking (cancel, check-in, no-show).

use crate::app::bookings::{self, BookRequest, SlotAvailability};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::http::routing::route;
use crate::state::State;
use actix_web::{HttpResponse, web};
use actix_web::{get, post, put};
use actors::StaffRole;
use actors::booking::AvailabilityRules;
use chrono::{DateTime, Duration, Utc};
use entities::{booking, calendar_event, experience};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

/// The widest window one availability or calendar query may ask for.
const MAX_WINDOW_DAYS: i64 = 62;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg // Not a route macro: handlers bind `slots` in this module (see `routing::route`).
        .service(route(__path_slots, slots))
        .service(put_rules)
        .service(get_rules)
        .service(preview_rules)
        .service(create)
        .service(mine)
        .service(get_one)
        .service(route(__path_confirm, confirm))
        .service(cancel)
        .service(reschedule)
        .service(calendar)
        .service(calendar_events)
        .service(partner_cancel)
        .service(check_in)
        .service(no_show);
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WindowParams {
    /// Start of the window (RFC 3339); default now.
    pub from: Option<DateTime<Utc>>,
    /// End of the window; default 7 days after `from`; at most 62 days after it.
    pub to: Option<DateTime<Utc>>,
}

fn window(state: &State, p: &WindowParams) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
    let from = p.from.unwrap_or_else(|| state.clock.now());
    let to = p.to.unwrap_or(from + Duration::days(7));
    if to <= from || to - from > Duration::days(MAX_WINDOW_DAYS) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!("`to` must be after `from`, by at most {MAX_WINDOW_DAYS} days"),
        )
        .field("to"));
    }
    Ok((from, to))
}

async fn published(state: &State, id: Uuid) -> ApiResult<experience::Model> {
    experience::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|e| e.published)
        .ok_or_else(|| ApiError::not_found("experience"))
}

/// The bookable slots of an experience, with the places left in each.
#[utoipa::path(get, path = "/experiences/{id}/slots", tag = "bookings",
    params(("id" = Uuid, Path), WindowParams),
    responses((status = 200, body = Vec<SlotAvailability>), (status = 404, body = crate::error::Problem)))]
pub async fn slots(
    state: State,
    id: web::Path<Uuid>,
    params: web::Query<WindowParams>,
) -> ApiResult<web::Json<Vec<SlotAvailability>>> {
    let exp = published(&state, id.into_inner()).await?;
    let (from, to) = window(&state, &params)?;
    Ok(web::Json(
        bookings::availability(&state, &exp, from, to).await?,
    ))
}

async fn own_experience(
    state: &State,
    who: &Principal,
    partner_id: Uuid,
    experience_id: Uuid,
) -> ApiResult<experience::Model> {
    who.require_partner(partner_id, &[StaffRole::Owner, StaffRole::Staff])?;
    experience::Entity::find_by_id(experience_id)
        .one(&state.db)
        .await?
        .filter(|e| e.partner_id == partner_id)
        .ok_or_else(|| ApiError::not_found("experience"))
}

/// Sets when an experience can be booked (owner and staff). The time zone is the
/// partner's, whatever the body says.
#[utoipa::path(tag = "partners",
    request_body = RulesInput, params(("id" = Uuid, Path), ("experience_id" = Uuid, Path)),
    responses((status = 200, body = RulesDoc), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[put("/partners/{id}/experiences/{experience_id}/availability")]
pub async fn put_rules(
    state: State,
    who: Principal,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<RulesInput>,
) -> ApiResult<web::Json<AvailabilityRules>> {
    let (partner_id, experience_id) = path.into_inner();
    let exp = own_experience(&state, &who, partner_id, experience_id).await?;
    let rules = rules_from(body.into_inner(), &exp);
    Ok(web::Json(bookings::set_rules(&state, &exp, rules).await?))
}

/// The rules a partner sent, with their defaults (the time zone is set from the partner).
fn rules_from(b: RulesInput, exp: &experience::Model) -> AvailabilityRules {
    AvailabilityRules {
        timezone: String::new(),
        weekly: b.weekly,
        exceptions: b.exceptions,
        capacity: b.capacity,
        slot_minutes: b
            .slot_minutes
            .unwrap_or_else(|| u32::try_from(exp.duration_minutes).unwrap_or(60)),
        buffer_minutes: b.buffer_minutes.unwrap_or(0),
        min_notice_minutes: b.min_notice_minutes.unwrap_or(60),
        horizon_days: b.horizon_days.unwrap_or(90),
    }
}

/// Most slots one preview lists (the earliest).
const PREVIEW_MAX_SLOTS: usize = 500;

/// A slot the previewed rules would open.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotPreview {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// What previewed rules would open, before they are saved.
#[derive(Debug, Serialize, ToSchema)]
pub struct RulesPreview {
    /// The rules as they would be stored (defaults filled in, the partner's time zone).
    #[schema(value_type = RulesDoc)]
    pub rules: AvailabilityRules,
    /// The slots they open in the window, as seen now (minimum notice and horizon
    /// applied); at most 500, the earliest.
    pub slots: Vec<SlotPreview>,
}

/// The slots availability rules would open for an experience, without saving them (owner
/// and staff): the same checks and the same slot times as `PUT …/availability` and the
/// slot lists. The window defaults to the next 7 days; at most 62.
#[utoipa::path(tag = "partners",
    request_body = RulesInput,
    params(("id" = Uuid, Path), ("experience_id" = Uuid, Path), WindowParams),
    responses((status = 200, body = RulesPreview), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/partners/{id}/experiences/{experience_id}/availability/preview")]
pub async fn preview_rules(
    state: State,
    who: Principal,
    path: web::Path<(Uuid, Uuid)>,
    params: web::Query<WindowParams>,
    body: web::Json<RulesInput>,
) -> ApiResult<web::Json<RulesPreview>> {
    let (partner_id, experience_id) = path.into_inner();
    let exp = own_experience(&state, &who, partner_id, experience_id).await?;
    let (from, to) = window(&state, &params)?;
    let rules = rules_from(body.into_inner(), &exp);
    let (rules, slots) =
        bookings::preview_rules(&state, &exp, rules, from, to, PREVIEW_MAX_SLOTS).await?;
    Ok(web::Json(RulesPreview {
        rules,
        slots: slots
            .into_iter()
            .map(|s| SlotPreview {
                starts_at: s.starts_at,
                ends_at: s.ends_at,
            })
            .collect(),
    }))
}

/// Opening hours on one weekday (the schema of `actors::booking::availability::WeeklyWindow`).
#[derive(ToSchema)]
#[schema(as = WeeklyWindow)]
#[allow(dead_code)]
struct WeeklyWindowDoc {
    /// `mon`, `tue`, `wed`, `thu`, `fri`, `sat` or `sun`.
    #[schema(example = "fri")]
    weekday: String,
    /// Local time `HH:MM`.
    #[schema(example = "10:00")]
    start: String,
    /// Local time `HH:MM` (`24:00` for midnight).
    #[schema(example = "18:00")]
    end: String,
}

/// Local opening hours within one date.
#[derive(ToSchema)]
#[schema(as = TimeWindow)]
#[allow(dead_code)]
struct TimeWindowDoc {
    #[schema(example = "12:00")]
    start: String,
    #[schema(example = "16:00")]
    end: String,
}

/// A date whose hours differ from the weekly ones.
#[derive(ToSchema)]
#[schema(as = DateException)]
#[allow(dead_code)]
struct DateExceptionDoc {
    /// Local date `YYYY-MM-DD`.
    #[schema(example = "2026-12-25")]
    date: String,
    /// Closed all day (default false).
    closed: Option<bool>,
    /// Replaces the weekly hours of that date when not closed.
    windows: Option<Vec<TimeWindowDoc>>,
}

/// An experience's availability rules as stored (times are local to `timezone`).
#[derive(ToSchema)]
#[schema(as = AvailabilityRules)]
#[allow(dead_code)]
struct RulesDoc {
    /// The partner's IANA time zone.
    #[schema(example = "America/Toronto")]
    timezone: String,
    weekly: Vec<WeeklyWindowDoc>,
    exceptions: Vec<DateExceptionDoc>,
    capacity: u32,
    slot_minutes: u32,
    buffer_minutes: u32,
    min_notice_minutes: u32,
    horizon_days: u32,
}

/// Availability rules as a partner sends them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesInput {
    /// Weekly opening hours, local times.
    #[schema(value_type = Vec<WeeklyWindowDoc>)]
    pub weekly: Vec<actors::booking::availability::WeeklyWindow>,
    /// Dates that are closed or have other hours.
    #[serde(default)]
    #[schema(value_type = Vec<DateExceptionDoc>)]
    pub exceptions: Vec<actors::booking::availability::DateException>,
    /// People per slot.
    pub capacity: u32,
    /// Default: the experience's duration.
    pub slot_minutes: Option<u32>,
    pub buffer_minutes: Option<u32>,
    /// Default 60.
    pub min_notice_minutes: Option<u32>,
    /// Default 90.
    pub horizon_days: Option<u32>,
}

/// An experience's availability rules (owner and staff).
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path), ("experience_id" = Uuid, Path)),
    responses((status = 200, body = RulesDoc), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/partners/{id}/experiences/{experience_id}/availability")]
pub async fn get_rules(
    state: State,
    who: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<AvailabilityRules>> {
    let (partner_id, experience_id) = path.into_inner();
    let exp = own_experience(&state, &who, partner_id, experience_id).await?;
    bookings::rules_for(&state, &exp)
        .await?
        .map(web::Json)
        .ok_or_else(|| ApiError::not_found("availability rules"))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    /// A card you hold (claimed).
    pub card_id: Uuid,
    pub experience_id: Uuid,
    /// A slot start from `GET /experiences/{id}/slots`.
    pub starts_at: DateTime<Utc>,
    /// Value cards: how many people (default 1). Experience cards book their own party.
    pub party_size: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BookingView {
    pub id: Uuid,
    pub card_id: Uuid,
    pub experience_id: Uuid,
    pub partner_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub party_size: i32,
    pub amount_minor: i64,
    pub currency: String,
    /// `held` (confirm before `hold_expires_at`), `confirmed`, `cancelled`, `expired`,
    /// `failed`, `completed`, `no_show`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_expires_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<String>,
}

impl From<booking::Model> for BookingView {
    fn from(b: booking::Model) -> Self {
        Self {
            id: b.id,
            card_id: b.card_id,
            experience_id: b.experience_id,
            partner_id: b.partner_id,
            starts_at: b.starts_at,
            ends_at: b.ends_at,
            party_size: b.party_size,
            amount_minor: b.amount,
            currency: b.currency,
            status: b.status,
            hold_expires_at: b.hold_expires_at,
            cancelled_by: b.cancelled_by,
        }
    }
}

/// Books a slot with a gift card: places are held and the card's value authorized for
/// five minutes; confirm within them.
#[utoipa::path(tag = "bookings", request_body = BookingRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replay protection")),
    responses((status = 201, body = BookingView), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/bookings")]
pub async fn create(
    state: State,
    who: Principal,
    body: web::Json<BookingRequest>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let booked = bookings::book(
        &state,
        who.user_id,
        BookRequest {
            card_id: b.card_id,
            experience_id: b.experience_id,
            starts_at: b.starts_at,
            party_size: b.party_size,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(BookingView::from(booked)))
}

/// Your bookings, soonest first.
#[utoipa::path(tag = "bookings",
    responses((status = 200, body = Vec<BookingView>)), security(("bearer" = []), ("cookie" = [])))]
#[get("/bookings")]
pub async fn mine(state: State, who: Principal) -> ApiResult<web::Json<Vec<BookingView>>> {
    let rows = booking::Entity::find()
        .filter(booking::Column::HolderUserId.eq(who.user_id))
        .order_by_asc(booking::Column::StartsAt)
        .limit(500)
        .all(&state.db)
        .await?;
    Ok(web::Json(rows.into_iter().map(BookingView::from).collect()))
}

/// A booking the caller holds (or, for the partner's staff and admins, any of theirs).
async fn visible(state: &State, who: &Principal, id: Uuid) -> ApiResult<booking::Model> {
    let b = booking::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("booking"))?;
    let staff = who
        .require_partner(
            b.partner_id,
            &[StaffRole::Owner, StaffRole::Staff, StaffRole::Tablet],
        )
        .is_ok();
    if b.holder_user_id == who.user_id || staff {
        Ok(b)
    } else {
        Err(ApiError::not_found("booking"))
    }
}

async fn held_by(state: &State, who: &Principal, id: Uuid) -> ApiResult<booking::Model> {
    let b = visible(state, who, id).await?;
    if b.holder_user_id != who.user_id {
        return Err(ApiError::forbidden("only the booking's holder can do this"));
    }
    Ok(b)
}

/// One booking.
#[utoipa::path(tag = "bookings", params(("id" = Uuid, Path)),
    responses((status = 200, body = BookingView), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/bookings/{id}")]
pub async fn get_one(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<BookingView>> {
    Ok(web::Json(
        visible(&state, &who, id.into_inner()).await?.into(),
    ))
}

/// Confirms a held booking before its hold lapses.
#[utoipa::path(post, path = "/bookings/{id}/confirm", tag = "bookings", params(("id" = Uuid, Path)),
    responses((status = 200, body = BookingView), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
pub async fn confirm(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<BookingView>> {
    let b = held_by(&state, &who, id.into_inner()).await?;
    Ok(web::Json(bookings::confirm(&state, &b).await?.into()))
}

/// Cancels a booking, until the partner's deadline; the value returns to the card.
#[utoipa::path(tag = "bookings", params(("id" = Uuid, Path)),
    responses((status = 200, body = BookingView), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/bookings/{id}/cancel")]
pub async fn cancel(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<BookingView>> {
    let b = held_by(&state, &who, id.into_inner()).await?;
    Ok(web::Json(
        bookings::cancel_by_holder(&state, &b).await?.into(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleRequest {
    pub starts_at: DateTime<Utc>,
}

/// Moves a confirmed booking to another slot (held before the old one is released).
#[utoipa::path(tag = "bookings",
    request_body = RescheduleRequest, params(("id" = Uuid, Path)),
    responses((status = 200, body = BookingView), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/bookings/{id}/reschedule")]
pub async fn reschedule(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
    body: web::Json<RescheduleRequest>,
) -> ApiResult<web::Json<BookingView>> {
    let b = held_by(&state, &who, id.into_inner()).await?;
    Ok(web::Json(
        bookings::reschedule(&state, &b, body.starts_at)
            .await?
            .into(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarSlot {
    #[serde(flatten)]
    pub slot: SlotAvailability,
    pub experience_id: Uuid,
    pub experience_title: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarView {
    pub partner_id: Uuid,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub slots: Vec<CalendarSlot>,
    pub bookings: Vec<BookingView>,
    /// The calendar's change sequence this view includes (follow with `/calendar/events`).
    pub last_seq: i64,
}

/// The partner's calendar (day or week): each slot's free / held / booked places and the
/// bookings (owner, staff and tablets).
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path), WindowParams),
    responses((status = 200, body = CalendarView), (status = 403, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/partners/{id}/calendar")]
pub async fn calendar(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
    params: web::Query<WindowParams>,
) -> ApiResult<web::Json<CalendarView>> {
    Ok(web::Json(
        calendar_view(&state, &who, id.into_inner(), &params).await?,
    ))
}

/// The partner's calendar over `params`'s window, for its owner, staff and tablets.
pub(crate) async fn calendar_view(
    state: &State,
    who: &Principal,
    partner_id: Uuid,
    params: &WindowParams,
) -> ApiResult<CalendarView> {
    who.require_partner(
        partner_id,
        &[StaffRole::Owner, StaffRole::Staff, StaffRole::Tablet],
    )?;
    let (from, to) = window(state, params)?;
    let exps = experience::Entity::find()
        .filter(experience::Column::PartnerId.eq(partner_id))
        .all(&state.db)
        .await?;
    let titles: std::collections::HashMap<Uuid, String> =
        exps.iter().map(|e| (e.id, e.title.clone())).collect();
    // The log position is read with the rules: the view is at least this fresh.
    let (offered, last_seq) =
        bookings::partner_availability(state, partner_id, &exps, from, to).await?;
    let slots = offered
        .into_iter()
        .map(|(experience_id, slot)| CalendarSlot {
            slot,
            experience_id,
            experience_title: titles.get(&experience_id).cloned().unwrap_or_default(),
        })
        .collect();
    let list = bookings::partner_bookings(state, partner_id, from, to).await?;
    Ok(CalendarView {
        partner_id,
        from,
        to,
        slots,
        bookings: list.into_iter().map(BookingView::from).collect(),
        last_seq,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SinceParams {
    /// Events after this sequence number (default 0).
    pub since: Option<i64>,
    /// 1 to 500, default 100.
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarEventView {
    pub seq: i64,
    pub kind: String,
    pub at: DateTime<Utc>,
    pub data: serde_json::Value,
}

/// The partner calendar's change log in order, from `since` (owner, staff, tablets).
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path), SinceParams),
    responses((status = 200, body = Vec<CalendarEventView>)), security(("bearer" = []), ("cookie" = [])))]
#[get("/partners/{id}/calendar/events")]
pub async fn calendar_events(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
    params: web::Query<SinceParams>,
) -> ApiResult<web::Json<Vec<CalendarEventView>>> {
    let partner_id = id.into_inner();
    who.require_partner(
        partner_id,
        &[StaffRole::Owner, StaffRole::Staff, StaffRole::Tablet],
    )?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(
            ApiError::new(ErrorCode::InvalidQuery, "limit must be between 1 and 500")
                .field("limit"),
        );
    }
    let rows = calendar_event::Entity::find()
        .filter(calendar_event::Column::PartnerId.eq(partner_id))
        .filter(calendar_event::Column::Seq.gt(params.since.unwrap_or(0)))
        .order_by_asc(calendar_event::Column::Seq)
        .limit(limit)
        .all(&state.db)
        .await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|r| CalendarEventView {
                seq: r.seq,
                kind: r.kind,
                at: r.at,
                data: serde_json::from_str(&r.data).unwrap_or_default(),
            })
            .collect(),
    ))
}

async fn partners_booking(
    state: &State,
    who: &Principal,
    partner_id: Uuid,
    booking_id: Uuid,
    roles: &[StaffRole],
) -> ApiResult<booking::Model> {
    who.require_partner(partner_id, roles)?;
    booking::Entity::find_by_id(booking_id)
        .one(&state.db)
        .await?
        .filter(|b| b.partner_id == partner_id)
        .ok_or_else(|| ApiError::not_found("booking"))
}

/// The partner cancels a booking; the recipient's value returns to their card.
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path), ("booking_id" = Uuid, Path)),
    responses((status = 200, body = BookingView), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/partners/{id}/bookings/{booking_id}/cancel")]
pub async fn partner_cancel(
    state: State,
    who: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<BookingView>> {
    let (p, b) = path.into_inner();
    let b = partners_booking(&state, &who, p, b, &[StaffRole::Owner, StaffRole::Staff]).await?;
    Ok(web::Json(
        bookings::cancel_by_partner(&state, &b).await?.into(),
    ))
}

/// The visit happened: the card's value is captured (staff and tablets). Only in the
/// booking's check-in window, the same as the QR scan's (from 2 hours before its start to
/// 2 hours after its end); outside it, 409 `outside_check_in_window` says when it opens.
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path), ("booking_id" = Uuid, Path)),
    responses((status = 200, body = BookingView), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/partners/{id}/bookings/{booking_id}/check-in")]
pub async fn check_in(
    state: State,
    who: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<BookingView>> {
    let (p, b) = path.into_inner();
    let b = partners_booking(
        &state,
        &who,
        p,
        b,
        &[StaffRole::Owner, StaffRole::Staff, StaffRole::Tablet],
    )
    .await?;
    Ok(web::Json(bookings::check_in(&state, &b).await?.into()))
}

/// The recipient did not come (after the start): the value is captured.
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path), ("booking_id" = Uuid, Path)),
    responses((status = 200, body = BookingView), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/partners/{id}/bookings/{booking_id}/no-show")]
pub async fn no_show(
    state: State,
    who: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<BookingView>> {
    let (p, b) = path.into_inner();
    let b = partners_booking(&state, &who, p, b, &[StaffRole::Owner, StaffRole::Staff]).await?;
    Ok(web::Json(bookings::no_show(&state, &b).await?.into()))
}

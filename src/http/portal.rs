//! The partner portal: a partner's owner and staff manage their venue's profile, its
//! experiences, its staff and its tablet devices.
//!
//! Who may do what (checked here, on the server, for every endpoint; admins may do
//! everything):
//!
//! | what | owner | staff | tablet |
//! |---|---|---|---|
//! | read the full profile, list experiences (published or not) and devices | yes | yes | no |
//! | create, edit, publish and unpublish experiences | yes | yes | no |
//! | edit the profile, invite and remove staff, create and revoke devices | yes | no | no |
//!
//! Staff are invited by the email of an account that exists already (people register
//! first); the account must be a plain customer that is on no partner's staff. Removing
//! someone from the staff ends all their sessions and makes them a customer again.
//!
//! A tablet device is an account of its own (`device-<id>@devices.fimy.invalid`, a
//! reserved domain, with a random password nobody knows) holding the `tablet` role and
//! one long session whose token is shown once, when the device is created. Revoking a
//! device deletes its sessions (its token stops working at once) and its staff
//! membership; the account row itself is kept, inert (no session, no membership, no
//! usable password), so that whatever the device did stays attributed to it.

use crate::auth::{Principal, password, random_token, session};
use crate::catalogue::{self, Hit};
use crate::error::{ApiError, ApiResult, ErrorCode, OrInternal};
use crate::http::catalogue::{ExperienceView, StaffMemberView};
use crate::http::catalogue::{PartnerView, partner_view};
use crate::http::pagination::{self, Cursor, Page};
use crate::http::photos::Owner;
use crate::state::State;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use actix_web::{delete, get, patch, post};
use actors::catalogue::{self as vocab, GeoPoint};
use actors::{AccountKind, Currency, DisplayName, Email, Money, Password, StaffRole};
use chrono::{DateTime, Utc};
use entities::user;
use entities::{experience, experience_tag, partner, partner_staff, session as session_entity};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, SqlErr, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(update_profile)
        .service(get_profile)
        .service(list_experiences)
        .service(create_experience)
        .service(update_experience)
        .service(publish_experience)
        .service(unpublish_experience)
        .service(invite_staff)
        .service(remove_staff)
        .service(create_device)
        .service(list_devices)
        .service(revoke_device);
}

/// Roles that manage the venue's content.
pub(crate) const MANAGERS: &[StaffRole] = &[StaffRole::Owner, StaffRole::Staff];
/// Roles that manage the venue itself (profile, people, devices).
pub(crate) const OWNERS: &[StaffRole] = &[StaffRole::Owner];

/// Most photos on a profile or an experience.
pub const MAX_PHOTOS: usize = 10;
/// Most opening-hours entries (four opening periods a day).
pub const MAX_OPENING_HOURS: usize = 28;
/// Longest cancellation notice a partner may ask for (30 days).
pub const MAX_CANCELLATION_HOURS: i64 = 720;
/// How long a tablet device's session lasts.
pub const DEVICE_SESSION_TTL: std::time::Duration =
    std::time::Duration::from_secs(365 * 24 * 60 * 60);
/// The reserved domain of device accounts' emails (`.invalid` never resolves).
pub const DEVICE_EMAIL_DOMAIN: &str = "devices.fimy.invalid";

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn bad(field: impl Into<String>, detail: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidField, detail).field(field)
}

/// A trimmed text of `min..=max` characters without control characters (line breaks
/// and tabs allowed when `multiline`).
fn text(field: &str, raw: &str, min: usize, max: usize, multiline: bool) -> ApiResult<String> {
    let v = raw.trim();
    let n = v.chars().count();
    if n < min || n > max {
        return Err(bad(
            field,
            if min > 0 {
                format!("must be {min} to {max} characters")
            } else {
                format!("must be at most {max} characters")
            },
        ));
    }
    let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if v.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(bad(field, "must not contain control characters"));
    }
    if v.chars()
        .any(|c| !c.is_control() && !actors::text::is_allowed(c, multiline))
    {
        return Err(bad(
            field,
            "must not contain format or invisible characters",
        ));
    }
    Ok(v.to_owned())
}

/// At most [`MAX_PHOTOS`] `https` URLs, as the JSON array stored: the list of an
/// experience being created (photos are uploaded to it once it exists).
fn photos(field: &str, list: &[String]) -> ApiResult<serde_json::Value> {
    crate::http::photos::checked_list(field, list, &[])
}

fn timezone(raw: &str) -> ApiResult<String> {
    raw.trim()
        .parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| bad("timezone", "not an IANA time zone (e.g. Europe/Paris)"))
}

fn cancellation_hours(raw: i64) -> ApiResult<i32> {
    if !(0..=MAX_CANCELLATION_HOURS).contains(&raw) {
        return Err(bad(
            "cancellation_hours",
            format!("must be between 0 and {MAX_CANCELLATION_HOURS}"),
        ));
    }
    i32::try_from(raw).map_err(|_| bad("cancellation_hours", "out of range"))
}

/// One opening period of a weekday, in the partner's time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    /// `mon`, `tue`, `wed`, `thu`, `fri`, `sat` or `sun`.
    #[schema(example = "tue")]
    pub weekday: String,
    /// `HH:MM`, 24-hour clock.
    #[schema(example = "10:00")]
    pub open: String,
    /// `HH:MM`, after `open`; `24:00` for midnight. A period past midnight is two
    /// entries (`fri 18:00–24:00`, `sat 00:00–02:00`).
    #[schema(example = "22:00")]
    pub close: String,
}

/// Minutes since midnight of an `HH:MM` time (`24:00` only when `end_of_day`).
fn minutes(raw: &str, end_of_day: bool) -> Option<u32> {
    let (h, m) = raw.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) if end_of_day => Some(24 * 60),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

/// Checks opening hours (known weekdays, `HH:MM` times, open before close, no
/// overlapping periods on one day) and returns them ordered by weekday and time.
pub fn check_opening_hours(list: &[OpeningHours]) -> ApiResult<Vec<OpeningHours>> {
    if list.len() > MAX_OPENING_HOURS {
        return Err(bad(
            "opening_hours",
            format!("at most {MAX_OPENING_HOURS} periods"),
        ));
    }
    let mut periods = Vec::with_capacity(list.len());
    for (i, p) in list.iter().enumerate() {
        let f = |name: &str| format!("opening_hours[{i}].{name}");
        let day = WEEKDAYS
            .iter()
            .position(|d| *d == p.weekday)
            .ok_or_else(|| {
                bad(
                    f("weekday"),
                    format!("must be one of {}", WEEKDAYS.join(", ")),
                )
            })?;
        let open = minutes(&p.open, false)
            .ok_or_else(|| bad(f("open"), "must be HH:MM (00:00 to 23:59)"))?;
        let close = minutes(&p.close, true)
            .ok_or_else(|| bad(f("close"), "must be HH:MM (00:00 to 24:00)"))?;
        if close <= open {
            return Err(bad(
                f("close"),
                "must be after open (split a period past midnight in two)",
            ));
        }
        periods.push((day, open, close, i, p));
    }
    periods.sort_by_key(|&(day, open, ..)| (day, open));
    for w in periods.windows(2) {
        if let [(d1, _, c1, _, _), (d2, o2, _, i2, _)] = w
            && d1 == d2
            && o2 < c1
        {
            return Err(bad(
                format!("opening_hours[{i2}]"),
                "overlaps another period of the same day",
            ));
        }
    }
    Ok(periods
        .into_iter()
        .map(|(day, open, close, _, _)| OpeningHours {
            weekday: WEEKDAYS[day].to_owned(),
            open: format!("{:02}:{:02}", open / 60, open % 60),
            close: format!("{:02}:{:02}", close / 60, close % 60),
        })
        .collect())
}

/// The stored opening hours, read leniently: an unreadable value shows as none.
fn stored_opening_hours(p: &partner::Model) -> Vec<OpeningHours> {
    serde_json::from_str(&p.opening_hours).unwrap_or_else(|e| {
        tracing::warn!(partner = %p.id, error = %e, "unreadable opening hours");
        Vec::new()
    })
}

/// A partner as its own staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerProfileView {
    /// What everyone sees, with the commission (staff see it).
    #[serde(flatten)]
    pub partner: PartnerView,
    pub opening_hours: Vec<OpeningHours>,
    /// Bookings may be cancelled by their holder until this many hours before they start.
    pub cancellation_hours: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<partner::Model> for PartnerProfileView {
    fn from(p: partner::Model) -> Self {
        Self {
            opening_hours: stored_opening_hours(&p),
            cancellation_hours: p.cancellation_hours,
            created_at: p.created_at,
            updated_at: p.updated_at,
            partner: partner_view(p, true),
        }
    }
}

async fn find_partner(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<partner::Model> {
    partner::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("partner"))
}

/// Reads the partner row inside `tx` with a row lock (PostgreSQL; SQLite has a single
/// writer connection), so that changes to one partner's staff serialize.
async fn lock_partner(tx: &impl ConnectionTrait, id: Uuid) -> ApiResult<partner::Model> {
    partner::Entity::find_by_id(id)
        .lock_exclusive()
        .one(tx)
        .await?
        .ok_or_else(|| ApiError::not_found("partner"))
}

/// The partner's full profile, commission included: for its owner and staff, and admins.
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = PartnerProfileView), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/partners/{id}/profile")]
pub async fn get_profile(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<PartnerProfileView>> {
    let id = id.into_inner();
    who.require_partner(id, MANAGERS)?;
    Ok(web::Json(find_partner(&state.db, id).await?.into()))
}

/// A change to a partner's profile; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// 1 to 120 characters.
    pub name: Option<String>,
    /// At most 5,000 characters.
    pub description: Option<String>,
    /// 1 to 200 characters.
    pub address: Option<String>,
    /// 1 to 100 characters.
    pub city: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// IANA time zone, e.g. `Europe/Paris`.
    pub timezone: Option<String>,
    /// Replaces the list: its uploaded photos (`/api/v1/photos/…`) in a new order, all of
    /// them, and `https` URLs; at most 10.
    pub photos: Option<Vec<String>>,
    /// Replaces the opening hours.
    pub opening_hours: Option<Vec<OpeningHours>>,
    /// 0 to 720.
    pub cancellation_hours: Option<i64>,
}

/// Changes the partner's profile (owner only). Name, city and address are searchable,
/// so a change to them reindexes the partner's experiences.
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path)),
    request_body = ProfilePatch,
    responses((status = 200, body = PartnerProfileView), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[patch("/partners/{id}")]
#[tracing::instrument(skip_all, fields(partner = %id))]
pub async fn update_profile(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
    body: web::Json<ProfilePatch>,
) -> ApiResult<web::Json<PartnerProfileView>> {
    let id = id.into_inner();
    who.require_partner(id, OWNERS)?;
    let b = body.into_inner();
    let tx = state.db.begin().await?;
    let current = lock_partner(&tx, id).await?;
    let mut am = partner::ActiveModel {
        id: Set(id),
        updated_at: Set(state.clock.now()),
        ..Default::default()
    };
    let mut searchable = false;
    if let Some(v) = &b.name {
        let v = text("name", v, 1, 120, false)?;
        searchable |= v != current.name;
        am.name = Set(v);
    }
    if let Some(v) = &b.description {
        am.description = Set(text("description", v, 0, 5000, true)?);
    }
    if let Some(v) = &b.address {
        let v = text("address", v, 1, 200, false)?;
        searchable |= v != current.address;
        am.address = Set(v);
    }
    if let Some(v) = &b.city {
        let v = text("city", v, 1, 100, false)?;
        searchable |= v != current.city;
        am.city = Set(v);
    }
    if b.latitude.is_some() || b.longitude.is_some() {
        let lat = b.latitude.unwrap_or(current.latitude);
        let lon = b.longitude.unwrap_or(current.longitude);
        let p = GeoPoint::parse(lat, lon).map_err(|e| {
            let field = if e.field == "lat" {
                "latitude"
            } else {
                "longitude"
            };
            bad(field, e.message)
        })?;
        am.latitude = Set(p.lat());
        am.longitude = Set(p.lon());
    }
    if let Some(v) = &b.timezone {
        am.timezone = Set(timezone(v)?);
    }
    if let Some(v) = &b.photos {
        let owner = Owner::Profile { partner: id };
        am.photos = Set(crate::http::photos::replace(&tx, owner, "photos", v).await?);
    }
    if let Some(v) = &b.opening_hours {
        let checked = check_opening_hours(v)?;
        am.opening_hours = Set(serde_json::to_string(&checked).or_internal()?);
    }
    if let Some(v) = b.cancellation_hours {
        am.cancellation_hours = Set(cancellation_hours(v)?);
    }
    let updated = am.update(&tx).await?;
    if searchable {
        let ids: Vec<Uuid> = experience::Entity::find()
            .select_only()
            .column(experience::Column::Id)
            .filter(experience::Column::PartnerId.eq(id))
            .into_tuple()
            .all(&tx)
            .await?;
        for eid in ids {
            catalogue::reindex(&tx, eid).await?;
        }
    }
    tx.commit().await?;
    Ok(web::Json(updated.into()))
}

// ---------------------------------------------------------------------------------------
// Experiences

/// A new experience.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExperience {
    /// 1 to 120 characters.
    pub title: String,
    /// At most 5,000 characters.
    #[serde(default)]
    pub description: String,
    /// `restaurant`, `spa`, `hotel`, `activity` or `shop`; default: the partner's.
    pub category: Option<String>,
    /// Price per person in minor units, above 0.
    pub price_minor: i64,
    /// ISO 4217: `EUR`, `CAD`, `USD`, `GBP` or `CHF`.
    pub currency: String,
    /// 5 to 4,320 (three days).
    pub duration_minutes: i64,
    /// People per booking, 1 to 500.
    pub capacity: i64,
    /// At most 2,000 characters.
    #[serde(default)]
    pub conditions: String,
    /// At most 10 `https` URLs.
    #[serde(default)]
    pub photos: Vec<String>,
    /// e.g. `birthday`, `christmas`, `valentines`.
    #[serde(default)]
    pub occasions: Vec<String>,
    /// `winter`, `spring`, `summer`, `autumn` or `all_year`.
    #[serde(default)]
    pub seasons: Vec<String>,
    /// Default false: a new experience is a draft until published.
    #[serde(default)]
    pub published: bool,
}

/// A change to an experience; absent fields stay as they are. `occasions` and `seasons`,
/// when given, replace the experience's tags of that kind.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperiencePatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub price_minor: Option<i64>,
    pub currency: Option<String>,
    pub duration_minutes: Option<i64>,
    pub capacity: Option<i64>,
    pub conditions: Option<String>,
    pub photos: Option<Vec<String>>,
    pub occasions: Option<Vec<String>>,
    pub seasons: Option<Vec<String>>,
    pub published: Option<bool>,
}

fn int_in(field: &str, raw: i64, min: i64, max: i64) -> ApiResult<i32> {
    if !(min..=max).contains(&raw) {
        return Err(bad(field, format!("must be between {min} and {max}")));
    }
    i32::try_from(raw).map_err(|_| bad(field, "out of range"))
}

/// Checked vocabulary tags, without duplicates, in order.
fn tags(
    field: &str,
    raw: &[String],
    check: fn(&str) -> Result<&'static str, actors::InvalidValue>,
) -> ApiResult<Vec<&'static str>> {
    let mut seen = BTreeSet::new();
    for (i, t) in raw.iter().enumerate() {
        let slug = check(t.trim()).map_err(|e| bad(format!("{field}[{i}]"), e.message))?;
        seen.insert(slug);
    }
    Ok(seen.into_iter().collect())
}

fn price(raw: i64, currency: Currency) -> ApiResult<i64> {
    Ok(Money::price(raw, currency)?.amount_minor)
}

/// Replaces the experience's tags of one kind.
async fn replace_tags(
    tx: &impl ConnectionTrait,
    experience_id: Uuid,
    kind: &str,
    list: &[&'static str],
) -> ApiResult<()> {
    experience_tag::Entity::delete_many()
        .filter(experience_tag::Column::ExperienceId.eq(experience_id))
        .filter(experience_tag::Column::Kind.eq(kind))
        .exec(tx)
        .await?;
    for tag in list {
        experience_tag::ActiveModel {
            experience_id: Set(experience_id),
            kind: Set(kind.to_owned()),
            tag: Set((*tag).to_owned()),
        }
        .insert(tx)
        .await?;
    }
    Ok(())
}

async fn experience_view(
    db: &impl ConnectionTrait,
    exp: experience::Model,
    partner: partner::Model,
) -> ApiResult<ExperienceView> {
    let (occasions, seasons) = catalogue::tags_of(db, vec![exp.id])
        .await?
        .remove(&exp.id)
        .unwrap_or_default();
    Ok(ExperienceView::from(Hit {
        experience: exp,
        partner,
        occasions,
        seasons,
        score: None,
        distance_km: None,
    }))
}

/// The experience `eid` of partner `id`; 404 when it belongs to another partner.
async fn find_experience(
    db: &impl ConnectionTrait,
    id: Uuid,
    eid: Uuid,
) -> ApiResult<experience::Model> {
    experience::Entity::find_by_id(eid)
        .filter(experience::Column::PartnerId.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("experience"))
}

/// Adds an experience (a draft unless `published` is true). Owner or staff.
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path),
           ("Idempotency-Key" = Option<String>, Header, description = "Replay protection")),
    request_body = NewExperience,
    responses((status = 201, body = ExperienceView), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/partners/{id}/experiences")]
#[tracing::instrument(skip_all, fields(partner = %id))]
pub async fn create_experience(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
    body: web::Json<NewExperience>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    who.require_partner(id, MANAGERS)?;
    let b = body.into_inner();
    let partner = find_partner(&state.db, id).await?;
    let title = text("title", &b.title, 1, 120, false)?;
    let description = text("description", &b.description, 0, 5000, true)?;
    let category = match &b.category {
        Some(c) => vocab::category(c.trim())?,
        None => vocab::category(&partner.category)?,
    };
    let currency = Currency::parse(b.currency.trim())?;
    let price_minor = price(b.price_minor, currency)?;
    let duration = int_in("duration_minutes", b.duration_minutes, 5, 4320)?;
    let capacity = int_in("capacity", b.capacity, 1, 500)?;
    let conditions = text("conditions", &b.conditions, 0, 2000, true)?;
    let photos = photos("photos", &b.photos)?;
    let occasions = tags("occasions", &b.occasions, vocab::occasion)?;
    let seasons = tags("seasons", &b.seasons, vocab::season)?;
    let now = state.clock.now();
    let eid = Uuid::now_v7();
    let tx = state.db.begin().await?;
    let exp = experience::ActiveModel {
        id: Set(eid),
        partner_id: Set(id),
        title: Set(title),
        description: Set(description),
        category: Set(category.to_owned()),
        price_minor: Set(price_minor),
        currency: Set(currency.code().to_owned()),
        duration_minutes: Set(duration),
        capacity: Set(capacity),
        conditions: Set(conditions),
        photos: Set(photos),
        published: Set(b.published),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&tx)
    .await?;
    replace_tags(&tx, eid, "occasion", &occasions).await?;
    replace_tags(&tx, eid, "season", &seasons).await?;
    catalogue::reindex(&tx, eid).await?;
    let view = experience_view(&tx, exp, partner).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/experiences/{eid}")))
        .json(view))
}

/// Changes an experience of the partner. Owner or staff.
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path), ("eid" = Uuid, Path)),
    request_body = ExperiencePatch,
    responses((status = 200, body = ExperienceView), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[patch("/partners/{id}/experiences/{eid}")]
#[tracing::instrument(skip_all, fields(partner = %path.0, experience = %path.1))]
pub async fn update_experience(
    state: State,
    who: Principal,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<ExperiencePatch>,
) -> ApiResult<web::Json<ExperienceView>> {
    let (id, eid) = path.into_inner();
    who.require_partner(id, MANAGERS)?;
    let b = body.into_inner();
    let tx = state.db.begin().await?;
    let partner = find_partner(&tx, id).await?;
    let current = find_experience(&tx, id, eid).await?;
    let mut am = current.clone().into_active_model();
    if let Some(v) = &b.title {
        am.title = Set(text("title", v, 1, 120, false)?);
    }
    if let Some(v) = &b.description {
        am.description = Set(text("description", v, 0, 5000, true)?);
    }
    if let Some(v) = &b.category {
        am.category = Set(vocab::category(v.trim())?.to_owned());
    }
    if b.price_minor.is_some() || b.currency.is_some() {
        let currency = Currency::parse(b.currency.as_deref().unwrap_or(&current.currency).trim())?;
        am.currency = Set(currency.code().to_owned());
        am.price_minor = Set(price(
            b.price_minor.unwrap_or(current.price_minor),
            currency,
        )?);
    }
    if let Some(v) = b.duration_minutes {
        am.duration_minutes = Set(int_in("duration_minutes", v, 5, 4320)?);
    }
    if let Some(v) = b.capacity {
        am.capacity = Set(int_in("capacity", v, 1, 500)?);
    }
    if let Some(v) = &b.conditions {
        am.conditions = Set(text("conditions", v, 0, 2000, true)?);
    }
    if let Some(v) = &b.photos {
        let owner = Owner::Experience {
            partner: id,
            experience: eid,
        };
        am.photos = Set(crate::http::photos::replace(&tx, owner, "photos", v).await?);
    }
    let occasions = b
        .occasions
        .as_deref()
        .map(|o| tags("occasions", o, vocab::occasion))
        .transpose()?;
    let seasons = b
        .seasons
        .as_deref()
        .map(|s| tags("seasons", s, vocab::season))
        .transpose()?;
    if let Some(v) = b.published {
        am.published = Set(v);
    }
    am.updated_at = Set(state.clock.now());
    let exp = am.update(&tx).await?;
    if let Some(o) = occasions {
        replace_tags(&tx, eid, "occasion", &o).await?;
    }
    if let Some(s) = seasons {
        replace_tags(&tx, eid, "season", &s).await?;
    }
    catalogue::reindex(&tx, eid).await?;
    let view = experience_view(&tx, exp, partner).await?;
    tx.commit().await?;
    Ok(web::Json(view))
}

async fn set_published(
    state: State,
    who: Principal,
    id: Uuid,
    eid: Uuid,
    published: bool,
) -> ApiResult<web::Json<ExperienceView>> {
    who.require_partner(id, MANAGERS)?;
    let tx = state.db.begin().await?;
    let partner = find_partner(&tx, id).await?;
    let mut am = find_experience(&tx, id, eid).await?.into_active_model();
    am.published = Set(published);
    am.updated_at = Set(state.clock.now());
    let exp = am.update(&tx).await?;
    catalogue::reindex(&tx, eid).await?;
    let view = experience_view(&tx, exp, partner).await?;
    tx.commit().await?;
    Ok(web::Json(view))
}

/// Publishes an experience: it shows in the public catalogue. Owner or staff.
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path), ("eid" = Uuid, Path)),
    responses((status = 200, body = ExperienceView), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/partners/{id}/experiences/{eid}/publish")]
pub async fn publish_experience(
    state: State,
    who: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<ExperienceView>> {
    let (id, eid) = path.into_inner();
    set_published(state, who, id, eid, true).await
}

/// Withdraws an experience from the public catalogue (cards already sold stay valid).
/// Owner or staff.
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path), ("eid" = Uuid, Path)),
    responses((status = 200, body = ExperienceView), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[post("/partners/{id}/experiences/{eid}/unpublish")]
pub async fn unpublish_experience(
    state: State,
    who: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<ExperienceView>> {
    let (id, eid) = path.into_inner();
    set_published(state, who, id, eid, false).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExperienceListParams {
    /// Only published (`true`) or only unpublished (`false`) experiences; default: all.
    pub published: Option<bool>,
    /// 1 to 100, default 20.
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// The partner's experiences, drafts included, in the order they were added. Owner or
/// staff.
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path), ExperienceListParams),
    responses((status = 200, body = Page<ExperienceView>), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/partners/{id}/experiences")]
pub async fn list_experiences(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
    params: web::Query<ExperienceListParams>,
) -> ApiResult<web::Json<Page<ExperienceView>>> {
    let id = id.into_inner();
    who.require_partner(id, MANAGERS)?;
    let limit = pagination::limit(params.limit)?;
    let partner = find_partner(&state.db, id).await?;
    let mut q = experience::Entity::find()
        .filter(experience::Column::PartnerId.eq(id))
        .order_by_asc(experience::Column::Id);
    if let Some(p) = params.published {
        q = q.filter(experience::Column::Published.eq(p));
    }
    if let Some(c) = params.cursor.as_deref() {
        q = q.filter(experience::Column::Id.gt(Cursor::decode(c, "id")?.id));
    }
    let rows = q.limit(limit + 1).all(&state.db).await?;
    let (rows, next_cursor) = pagination::split_page(rows, limit, |e| pagination::id_cursor(e.id));
    let mut tags = catalogue::tags_of(&state.db, rows.iter().map(|e| e.id).collect()).await?;
    let items = rows
        .into_iter()
        .map(|e| {
            let (occasions, seasons) = tags.remove(&e.id).unwrap_or_default();
            ExperienceView::from(Hit {
                experience: e,
                partner: partner.clone(),
                occasions,
                seasons,
                score: None,
                distance_km: None,
            })
        })
        .collect();
    Ok(web::Json(Page { items, next_cursor }))
}

// ---------------------------------------------------------------------------------------
// Staff

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
    crate::live::access_changed(&state, invitee.id).await;
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
    crate::live::access_changed(&state, user_id).await;
    tracing::info!("staff member removed");
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------------------------------
// Tablet devices

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
    crate::live::access_changed(&state, device_id).await;
    tracing::info!("tablet device revoked");
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oh(weekday: &str, open: &str, close: &str) -> OpeningHours {
        OpeningHours {
            weekday: weekday.into(),
            open: open.into(),
            close: close.into(),
        }
    }

    #[test]
    fn opening_hours_are_checked_and_ordered() {
        let ok = check_opening_hours(&[
            oh("tue", "18:00", "24:00"),
            oh("mon", "09:00", "12:00"),
            oh("tue", "09:00", "12:00"),
        ])
        .unwrap();
        assert_eq!(
            ok,
            vec![
                oh("mon", "09:00", "12:00"),
                oh("tue", "09:00", "12:00"),
                oh("tue", "18:00", "24:00")
            ]
        );
        let field = |r: ApiResult<Vec<OpeningHours>>| r.unwrap_err().field.unwrap();
        assert_eq!(
            field(check_opening_hours(&[oh("lun", "09:00", "12:00")])),
            "opening_hours[0].weekday"
        );
        assert_eq!(
            field(check_opening_hours(&[oh("mon", "9:00", "12:00")])),
            "opening_hours[0].open"
        );
        assert_eq!(
            field(check_opening_hours(&[oh("mon", "24:00", "24:00")])),
            "opening_hours[0].open"
        );
        assert_eq!(
            field(check_opening_hours(&[oh("mon", "12:00", "09:00")])),
            "opening_hours[0].close"
        );
        assert_eq!(
            field(check_opening_hours(&[
                oh("mon", "09:00", "13:00"),
                oh("mon", "12:00", "14:00")
            ])),
            "opening_hours[1]"
        );
        assert!(
            check_opening_hours(&[oh("mon", "09:00", "12:00"), oh("mon", "12:00", "14:00")])
                .is_ok()
        );
    }

    #[test]
    fn photos_must_be_https_urls() {
        assert!(photos("photos", &["https://img.example.com/a.jpg".into()]).is_ok());
        for bad_url in [
            "http://x.example/a.jpg",
            "/static/a.jpg",
            "https://u:p@x.example/",
        ] {
            assert_eq!(
                photos("photos", &[bad_url.into()])
                    .unwrap_err()
                    .field
                    .unwrap(),
                "photos[0]"
            );
        }
        let many: Vec<String> = (0..11).map(|i| format!("https://x.example/{i}")).collect();
        assert_eq!(
            photos("photos", &many).unwrap_err().field.unwrap(),
            "photos"
        );
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(timezone("Europe/Paris").unwrap(), "Europe/Paris");
        assert!(timezone("Mars/Olympus").is_err());
    }
}

//! The venue's profile: its details, opening hours and terms.

use super::photos::{self, Owner};
use super::{
    MANAGERS, MAX_OPENING_HOURS, OWNERS, WEEKDAYS, bad, cancellation_hours, find_partner,
    lock_partner, text, timezone,
};
use crate::app::catalogue::{self};
use crate::auth::Principal;
use crate::error::{ApiResult, OrInternal};
use crate::http::catalogue::{PartnerView, partner_view};
use crate::state::State;
use actix_web::web;
use actix_web::{get, patch};
use actors::catalogue::GeoPoint;
use chrono::{DateTime, Utc};
use entities::{experience, partner};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

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
        am.photos = Set(photos::replace(&tx, owner, "photos", v).await?);
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
    fn time_zones_are_iana_names() {
        assert_eq!(timezone("Europe/Paris").unwrap(), "Europe/Paris");
        assert!(timezone("Mars/Olympus").is_err());
    }
}

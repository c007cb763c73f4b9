//! The public catalogue: experience search and detail, partner list and detail, and a
//! partner's staff list (for that partner's staff and admins only).

use crate::app::catalogue::{self, Hit, Search, SortOrder, compare};
use crate::auth::{MaybePrincipal, Principal};
use crate::error::{ApiError, ApiResult, ErrorCode, OrInternal};
use crate::http::pagination::{self, Cursor, Page};
use crate::state::{AppState, State};
use actix_web::get;
use actix_web::web;
use actors::catalogue::{self as vocab, GeoPoint};
use actors::{Currency, StaffRole};
use chrono::{DateTime, Utc};
use entities::{experience, partner, partner_staff, user};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(search_experiences)
        .service(get_experience)
        .service(list_partners)
        .service(get_partner)
        .service(list_staff);
}

/// Longest accepted text query.
const MAX_QUERY_CHARS: usize = 200;
/// Largest search radius.
const MAX_RADIUS_KM: f64 = 20_000.0;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words to look for in titles, occasions, venues and descriptions (accents optional).
    pub q: Option<String>,
    /// `restaurant`, `spa`, `hotel`, `activity` or `shop`.
    pub category: Option<String>,
    /// Lowest price per person, minor units.
    pub min_price: Option<i64>,
    /// Highest price per person, minor units.
    pub max_price: Option<i64>,
    /// ISO 4217 code; prices are only comparable within one currency.
    pub currency: Option<String>,
    /// Latitude of the point to measure distance from.
    pub lat: Option<f64>,
    /// Longitude of the point to measure distance from.
    pub lon: Option<f64>,
    /// Only experiences within this many km of `lat`/`lon`.
    pub radius_km: Option<f64>,
    /// e.g. `birthday`, `christmas`, `valentines`.
    pub occasion: Option<String>,
    /// `winter`, `spring`, `summer`, `autumn` or `all_year`.
    pub season: Option<String>,
    pub partner_id: Option<Uuid>,
    /// Default: `relevance` with `q`, otherwise `distance` with `lat`/`lon`, otherwise `newest`.
    pub sort: Option<SortOrder>,
    /// 1 to 100, default 20.
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerSummary {
    pub id: Uuid,
    pub name: String,
    pub category: String,
    pub city: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExperienceView {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    pub category: String,
    pub price_minor: i64,
    pub currency: String,
    pub duration_minutes: i32,
    pub capacity: i32,
    pub conditions: String,
    /// Photo URLs (on this host or https).
    #[schema(value_type = Vec<String>)]
    pub photos: serde_json::Value,
    pub occasions: Vec<String>,
    pub seasons: Vec<String>,
    pub published: bool,
    pub partner: PartnerSummary,
    /// Present when the search gave `lat`/`lon`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
    /// Present for text searches; higher is better.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relevance: Option<f64>,
    pub created_at: DateTime<Utc>,
}

impl From<Hit> for ExperienceView {
    fn from(h: Hit) -> Self {
        let e = h.experience;
        Self {
            id: e.id,
            title: e.title,
            description: e.description,
            category: e.category,
            price_minor: e.price_minor,
            currency: e.currency,
            duration_minutes: e.duration_minutes,
            capacity: e.capacity,
            conditions: e.conditions,
            photos: e.photos,
            occasions: h.occasions,
            seasons: h.seasons,
            published: e.published,
            partner: PartnerSummary {
                id: h.partner.id,
                name: h.partner.name,
                category: h.partner.category,
                city: h.partner.city,
            },
            distance_km: h.distance_km.map(|d| (d * 100.0).round() / 100.0),
            relevance: h.score,
            created_at: e.created_at,
        }
    }
}

fn invalid(field: &str, detail: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidQuery, detail).field(field)
}

fn check_search(p: &SearchParams) -> ApiResult<(Search, SortOrder)> {
    let text = match p.q.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(q) if q.chars().count() > MAX_QUERY_CHARS => {
            return Err(invalid(
                "q",
                format!("at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        Some(q) => Some(q.to_owned()),
    };
    let to_query = |e: actors::InvalidValue| invalid(e.field, e.message);
    let category = p
        .category
        .as_deref()
        .map(vocab::category)
        .transpose()
        .map_err(to_query)?;
    let occasion = p
        .occasion
        .as_deref()
        .map(vocab::occasion)
        .transpose()
        .map_err(to_query)?;
    let season = p
        .season
        .as_deref()
        .map(vocab::season)
        .transpose()
        .map_err(to_query)?;
    let currency = p
        .currency
        .as_deref()
        .map(Currency::parse)
        .transpose()
        .map_err(to_query)?
        .map(Currency::code);
    for (field, v) in [("min_price", p.min_price), ("max_price", p.max_price)] {
        if v.is_some_and(|v| v < 0) {
            return Err(invalid(field, "must not be negative"));
        }
    }
    if let (Some(min), Some(max)) = (p.min_price, p.max_price)
        && min > max
    {
        return Err(invalid("min_price", "must not be above max_price"));
    }
    let near = match (p.lat, p.lon) {
        (Some(lat), Some(lon)) => Some(GeoPoint::parse(lat, lon).map_err(to_query)?),
        (None, None) => None,
        _ => return Err(invalid("lat", "lat and lon go together")),
    };
    if let Some(r) = p.radius_km {
        if near.is_none() {
            return Err(invalid("radius_km", "needs lat and lon"));
        }
        if !r.is_finite() || r <= 0.0 || r > MAX_RADIUS_KM {
            return Err(invalid(
                "radius_km",
                format!("must be above 0 and at most {MAX_RADIUS_KM}"),
            ));
        }
    }
    let order = match p.sort {
        Some(SortOrder::Relevance) if text.is_none() => {
            return Err(invalid("sort", "relevance needs a text query q"));
        }
        Some(SortOrder::Distance) if near.is_none() => {
            return Err(invalid("sort", "distance needs lat and lon"));
        }
        Some(o) => o,
        None if text.is_some() => SortOrder::Relevance,
        None if near.is_some() => SortOrder::Distance,
        None => SortOrder::Newest,
    };
    Ok((
        Search {
            text,
            category,
            min_price: p.min_price,
            max_price: p.max_price,
            currency,
            near,
            radius_km: p.radius_km,
            occasion,
            season,
            partner_id: p.partner_id,
        },
        order,
    ))
}

/// Searches published experiences.
#[utoipa::path(tag = "catalogue", params(SearchParams),
    responses((status = 200, body = Page<ExperienceView>), (status = 400, body = crate::error::Problem)))]
#[get("/experiences")]
pub async fn search_experiences(
    state: State,
    params: web::Query<SearchParams>,
) -> ApiResult<web::Json<Page<ExperienceView>>> {
    search_page(&state, params.into_inner())
        .await
        .map(web::Json)
}

/// One page of a catalogue search: what the search endpoint answers, and what the
/// server-rendered catalogue lists.
pub async fn search_page(
    state: &AppState,
    params: SearchParams,
) -> ApiResult<Page<ExperienceView>> {
    let limit = pagination::limit(params.limit)?;
    let (search, order) = check_search(&params)?;
    let cursor = params
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, order.as_str()))
        .transpose()?;
    let after: Option<(Option<f64>, Uuid)> = cursor
        .as_ref()
        .map(|c| (c.k.as_ref().and_then(serde_json::Value::as_f64), c.id));
    let hits = catalogue::search(&state.db, &search, order).await?;
    let page: Vec<Hit> = hits
        .into_iter()
        .filter(|h| {
            after.is_none_or(|a| {
                compare(order, (h.key(order), h.experience.id), a) == Ordering::Greater
            })
        })
        .take(usize::try_from(limit + 1).unwrap_or(usize::MAX))
        .collect();
    let (page, next_cursor) = pagination::split_page(page, limit, |h| Cursor {
        o: order.as_str().to_owned(),
        k: h.key(order).map(serde_json::Value::from),
        id: h.experience.id,
    });
    Ok(Page {
        items: page.into_iter().map(ExperienceView::from).collect(),
        next_cursor,
    })
}

/// One experience. Unpublished ones are visible only to their partner's staff and admins.
#[utoipa::path(tag = "catalogue",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ExperienceView), (status = 404, body = crate::error::Problem)),
    security((), ("bearer" = []), ("cookie" = [])))]
#[get("/experiences/{id}")]
pub async fn get_experience(
    state: State,
    who: MaybePrincipal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<ExperienceView>> {
    experience_view(&state, who.0.as_ref(), id.into_inner())
        .await
        .map(web::Json)
}

/// One experience as `who` may see it (unpublished ones: their partner's staff and admins
/// only; "not found" for everyone else).
pub async fn experience_view(
    state: &AppState,
    who: Option<&Principal>,
    id: Uuid,
) -> ApiResult<ExperienceView> {
    let exp = experience::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("experience"))?;
    if !exp.published {
        let allowed = who.is_some_and(|p| {
            p.require_partner(exp.partner_id, &[StaffRole::Owner, StaffRole::Staff])
                .is_ok()
        });
        if !allowed {
            return Err(ApiError::not_found("experience"));
        }
    }
    let partner = partner::Entity::find_by_id(exp.partner_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::internal("experience without partner"))?;
    let (occasions, seasons) = catalogue::tags_of(&state.db, vec![id])
        .await?
        .remove(&id)
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

#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerView {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub address: String,
    pub city: String,
    pub country: String,
    pub latitude: f64,
    pub longitude: f64,
    pub timezone: String,
    /// Recipients may cancel a confirmed booking until this many hours before its start.
    pub cancellation_hours: i32,
    /// Photo URLs (on this host or https).
    #[schema(value_type = Vec<String>)]
    pub photos: serde_json::Value,
    /// Platform commission in basis points; shown to the partner's staff and admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commission_bps: Option<i32>,
}

pub fn partner_view(p: partner::Model, show_commission: bool) -> PartnerView {
    PartnerView {
        id: p.id,
        slug: p.slug,
        name: p.name,
        description: p.description,
        category: p.category,
        address: p.address,
        city: p.city,
        country: p.country,
        latitude: p.latitude,
        longitude: p.longitude,
        timezone: p.timezone,
        cancellation_hours: p.cancellation_hours,
        photos: p.photos,
        commission_bps: show_commission.then_some(p.commission_bps),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1 to 100, default 20.
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// Partners, in the order they joined.
#[utoipa::path(tag = "catalogue", params(ListParams),
    responses((status = 200, body = Page<PartnerView>)))]
#[get("/partners")]
pub async fn list_partners(
    state: State,
    params: web::Query<ListParams>,
) -> ApiResult<web::Json<Page<PartnerView>>> {
    let limit = pagination::limit(params.limit)?;
    let mut q = partner::Entity::find().order_by_asc(partner::Column::Id);
    if let Some(c) = params.cursor.as_deref() {
        q = q.filter(partner::Column::Id.gt(Cursor::decode(c, "id")?.id));
    }
    let rows = q.limit(limit + 1).all(&state.db).await?;
    let (rows, next_cursor) = pagination::split_page(rows, limit, |p| pagination::id_cursor(p.id));
    Ok(web::Json(Page {
        items: rows.into_iter().map(|p| partner_view(p, false)).collect(),
        next_cursor,
    }))
}

/// One partner.
#[utoipa::path(tag = "catalogue",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = PartnerView), (status = 404, body = crate::error::Problem)),
    security((), ("bearer" = []), ("cookie" = [])))]
#[get("/partners/{id}")]
pub async fn get_partner(
    state: State,
    who: MaybePrincipal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<PartnerView>> {
    Ok(web::Json(partner_of(&state, &who, id.into_inner()).await?))
}

/// A partner as `who` may see it (its staff see more).
pub(crate) async fn partner_of(
    state: &State,
    who: &MaybePrincipal,
    id: Uuid,
) -> ApiResult<PartnerView> {
    let p = partner::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("partner"))?;
    let insider = who.0.as_ref().is_some_and(|w| {
        w.require_partner(id, &[StaffRole::Owner, StaffRole::Staff])
            .is_ok()
    });
    Ok(partner_view(p, insider))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffMemberView {
    pub user_id: Uuid,
    pub display_name: String,
    pub email: String,
    #[schema(value_type = String, example = "owner")]
    pub role: StaffRole,
    pub since: DateTime<Utc>,
}

/// A partner's staff: visible to that partner's owner and staff, and to admins.
#[utoipa::path(tag = "partners",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<StaffMemberView>), (status = 403, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/partners/{id}/staff")]
pub async fn list_staff(
    state: State,
    who: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<Vec<StaffMemberView>>> {
    let id = id.into_inner();
    who.require_partner(id, &[StaffRole::Owner, StaffRole::Staff])?;
    let members = partner_staff::Entity::find()
        .filter(partner_staff::Column::PartnerId.eq(id))
        .order_by_asc(partner_staff::Column::CreatedAt)
        .all(&state.db)
        .await?;
    let users: std::collections::HashMap<Uuid, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(members.iter().map(|m| m.user_id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let mut out = Vec::with_capacity(members.len());
    for m in members {
        let Some(u) = users.get(&m.user_id) else {
            continue;
        };
        out.push(StaffMemberView {
            user_id: u.id,
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            role: StaffRole::parse(&m.role).or_internal()?,
            since: m.created_at,
        });
    }
    Ok(web::Json(out))
}

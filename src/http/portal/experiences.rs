//! The venue's experiences: create, edit, publish and unpublish.

use super::photos::{self, Owner};
use super::{MANAGERS, bad, find_partner, photo_list, text};
use crate::app::catalogue::{self, Hit};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::http::catalogue::ExperienceView;
use crate::http::pagination::{self, Cursor, Page};
use crate::state::State;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use actix_web::{get, patch, post};
use actors::catalogue::{self as vocab};
use actors::{Currency, Money};
use entities::{experience, experience_tag, partner};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::Deserialize;
use std::collections::BTreeSet;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

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
    let photos = photo_list("photos", &b.photos)?;
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
        am.photos = Set(photos::replace(&tx, owner, "photos", v).await?);
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

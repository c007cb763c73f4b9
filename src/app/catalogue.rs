//! The catalogue: the full-text index of experiences and the search over it
//! (text relevance, category, price, distance, occasion, season).
//!
//! Text matching is the database's own full-text engine (SQLite FTS5 with bm25,
//! PostgreSQL tsvector with ts_rank); structured filters are SQL; distance is an
//! indexed bounding box in SQL refined by the exact great-circle distance here. At most
//! [`CANDIDATE_CAP`] matching experiences are ranked per query — ample for a catalogue of
//! venues, and the bound that keeps one query's cost fixed.

use actors::catalogue::{GeoPoint, fold, labels, query_terms};
use entities::{experience, experience_tag, partner};
use sea_orm::ExprTrait;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement, Value,
};
use std::cmp::Ordering;
use std::collections::HashMap;
use uuid::Uuid;

/// Most experiences ranked for one query.
pub const CANDIDATE_CAP: u64 = 2000;
/// Most words of a query used for matching.
const MAX_TERMS: usize = 8;
/// The season slug of experiences offered whatever the season.
const ALL_YEAR: &str = "all_year";

/// Rewrites the search row of one experience from its current title, description,
/// category, tags and venue. Call after any of them changes.
#[tracing::instrument(skip(db))]
pub async fn reindex(db: &impl ConnectionTrait, experience_id: Uuid) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let Some(exp) = experience::Entity::find_by_id(experience_id)
        .one(db)
        .await?
    else {
        return Ok(());
    };
    let partner = partner::Entity::find_by_id(exp.partner_id).one(db).await?;
    let tags = experience_tag::Entity::find()
        .filter(experience_tag::Column::ExperienceId.eq(experience_id))
        .all(db)
        .await?;
    let title = fold(&exp.title);
    let mut tag_text = labels(&exp.category);
    for t in &tags {
        tag_text.push(' ');
        tag_text.push_str(&labels(&t.tag));
    }
    let tag_text = fold(&tag_text);
    let venue = partner
        .map(|p| fold(&format!("{} {} {}", p.name, p.city, p.address)))
        .unwrap_or_default();
    let description = fold(&format!("{} {}", exp.description, exp.conditions));
    let id = experience_id.to_string();
    match backend {
        DbBackend::Postgres => {
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                "INSERT INTO experience_search (experience_id, document) VALUES ($1::uuid, \
                 setweight(to_tsvector('simple', $2), 'A') || setweight(to_tsvector('simple', $3), 'B') || \
                 setweight(to_tsvector('simple', $4), 'C') || setweight(to_tsvector('simple', $5), 'D')) \
                 ON CONFLICT (experience_id) DO UPDATE SET document = EXCLUDED.document",
                [id.into(), title.into(), tag_text.into(), venue.into(), description.into()],
            ))
            .await?;
        }
        _ => {
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                "DELETE FROM experience_search WHERE experience_id = ?",
                [id.clone().into()],
            ))
            .await?;
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                "INSERT INTO experience_search (experience_id, title, tags, venue, description) \
                 VALUES (?, ?, ?, ?, ?)",
                [
                    id.into(),
                    title.into(),
                    tag_text.into(),
                    venue.into(),
                    description.into(),
                ],
            ))
            .await?;
        }
    }
    Ok(())
}

/// Experiences whose text matches every word of `query` (as a prefix), with a relevance
/// score where higher is better.
async fn text_matches(db: &impl ConnectionTrait, query: &str) -> Result<HashMap<Uuid, f64>, DbErr> {
    let terms = query_terms(query, MAX_TERMS);
    if terms.is_empty() {
        return Ok(HashMap::new());
    }
    let backend = db.get_database_backend();
    let stmt = match backend {
        DbBackend::Postgres => {
            let tsquery = terms
                .iter()
                .map(|t| format!("{t}:*"))
                .collect::<Vec<_>>()
                .join(" & ");
            Statement::from_sql_and_values(
                backend,
                "SELECT experience_id::text AS id, \
                 ts_rank('{0.1, 0.3, 0.6, 1.0}', document, to_tsquery('simple', $1))::float8 AS score \
                 FROM experience_search WHERE document @@ to_tsquery('simple', $1) \
                 ORDER BY score DESC LIMIT $2",
                [tsquery.into(), Value::from(CANDIDATE_CAP as i64)],
            )
        }
        _ => {
            let fts = terms
                .iter()
                .map(|t| format!("\"{t}\"*"))
                .collect::<Vec<_>>()
                .join(" AND ");
            // bm25 weights per column: experience_id, title, tags, venue, description.
            Statement::from_sql_and_values(
                backend,
                "SELECT experience_id AS id, -bm25(experience_search, 0.0, 10.0, 5.0, 3.0, 1.0) AS score \
                 FROM experience_search WHERE experience_search MATCH ? \
                 ORDER BY score DESC LIMIT ?",
                [fts.into(), Value::from(CANDIDATE_CAP as i64)],
            )
        }
    };
    let rows = db.query_all_raw(stmt).await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in rows {
        let id: String = row.try_get("", "id")?;
        let score: f64 = row.try_get("", "score")?;
        if let Ok(id) = Uuid::parse_str(&id) {
            out.insert(id, score);
        }
    }
    Ok(out)
}

/// How results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Best text match first (needs `q`).
    Relevance,
    PriceAsc,
    PriceDesc,
    /// Nearest first (needs `lat` and `lon`).
    Distance,
    /// Most recently added first.
    Newest,
}

impl SortOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Relevance => "relevance",
            Self::PriceAsc => "price_asc",
            Self::PriceDesc => "price_desc",
            Self::Distance => "distance",
            Self::Newest => "newest",
        }
    }
}

/// A checked search.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub text: Option<String>,
    pub category: Option<&'static str>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub currency: Option<&'static str>,
    pub near: Option<GeoPoint>,
    pub radius_km: Option<f64>,
    pub occasion: Option<&'static str>,
    pub season: Option<&'static str>,
    pub partner_id: Option<Uuid>,
}

/// One result with what it was ranked by.
#[derive(Debug, Clone)]
pub struct Hit {
    pub experience: experience::Model,
    pub partner: partner::Model,
    pub occasions: Vec<String>,
    pub seasons: Vec<String>,
    pub score: Option<f64>,
    pub distance_km: Option<f64>,
}

impl Hit {
    /// The sort key under `order` (for cursors).
    pub fn key(&self, order: SortOrder) -> Option<f64> {
        match order {
            SortOrder::Relevance => self.score,
            SortOrder::PriceAsc | SortOrder::PriceDesc => Some(self.experience.price_minor as f64),
            SortOrder::Distance => self.distance_km,
            SortOrder::Newest => None,
        }
    }
}

/// Orders two hits under `order`; ties broken by id so the order is total.
pub fn compare(order: SortOrder, a: (Option<f64>, Uuid), b: (Option<f64>, Uuid)) -> Ordering {
    let (ka, kb) = (a.0.unwrap_or(0.0), b.0.unwrap_or(0.0));
    let by_key = match order {
        SortOrder::Relevance | SortOrder::PriceDesc => kb.total_cmp(&ka),
        SortOrder::PriceAsc | SortOrder::Distance => ka.total_cmp(&kb),
        SortOrder::Newest => Ordering::Equal,
    };
    match order {
        SortOrder::Newest => b.1.cmp(&a.1),
        _ => by_key.then(a.1.cmp(&b.1)),
    }
}

/// Runs a search and returns every candidate, ranked under `order`. The search itself is
/// not logged: its text and position say what someone looks for and where they are.
#[tracing::instrument(skip(db, s))]
pub async fn search(
    db: &impl ConnectionTrait,
    s: &Search,
    order: SortOrder,
) -> Result<Vec<Hit>, DbErr> {
    let scores = match &s.text {
        Some(text) => {
            let m = text_matches(db, text).await?;
            if m.is_empty() {
                return Ok(Vec::new());
            }
            Some(m)
        }
        None => None,
    };

    let mut partner_filter: Option<HashMap<Uuid, partner::Model>> = None;
    if let (Some(p), Some(r)) = (s.near, s.radius_km) {
        let (min_lat, max_lat, min_lon, max_lon) = p.bounding_box(r);
        let partners = partner::Entity::find()
            .filter(partner::Column::Latitude.between(min_lat, max_lat))
            .filter(partner::Column::Longitude.between(min_lon, max_lon))
            .all(db)
            .await?;
        let within: HashMap<Uuid, partner::Model> = partners
            .into_iter()
            .filter(|pm| {
                GeoPoint::parse(pm.latitude, pm.longitude).is_ok_and(|pt| p.distance_km(pt) <= r)
            })
            .map(|pm| (pm.id, pm))
            .collect();
        if within.is_empty() {
            return Ok(Vec::new());
        }
        partner_filter = Some(within);
    }

    let mut q = experience::Entity::find().filter(experience::Column::Published.eq(true));
    if let Some(c) = s.category {
        q = q.filter(experience::Column::Category.eq(c));
    }
    if let Some(min) = s.min_price {
        q = q.filter(experience::Column::PriceMinor.gte(min));
    }
    if let Some(max) = s.max_price {
        q = q.filter(experience::Column::PriceMinor.lte(max));
    }
    if let Some(cur) = s.currency {
        q = q.filter(experience::Column::Currency.eq(cur));
    }
    if let Some(pid) = s.partner_id {
        q = q.filter(experience::Column::PartnerId.eq(pid));
    }
    // An experience offered all year is offered in every season too.
    let season = s.season.map(|t| {
        if t == ALL_YEAR {
            vec![t]
        } else {
            vec![t, ALL_YEAR]
        }
    });
    for (kind, tags) in [
        ("occasion", s.occasion.map(|t| vec![t])),
        ("season", season),
    ] {
        if let Some(tags) = tags {
            q = q.filter(
                experience::Column::Id.in_subquery(
                    Query::select()
                        .column(experience_tag::Column::ExperienceId)
                        .from(experience_tag::Entity)
                        .and_where(Expr::col(experience_tag::Column::Kind).eq(kind))
                        .and_where(Expr::col(experience_tag::Column::Tag).is_in(tags))
                        .to_owned(),
                ),
            );
        }
    }
    if let Some(scores) = &scores {
        q = q.filter(experience::Column::Id.is_in(scores.keys().copied()));
    }
    if let Some(partners) = &partner_filter {
        q = q.filter(experience::Column::PartnerId.is_in(partners.keys().copied()));
    }
    let experiences = q
        .order_by_desc(experience::Column::Id)
        .limit(CANDIDATE_CAP)
        .all(db)
        .await?;
    if experiences.is_empty() {
        return Ok(Vec::new());
    }

    let partners = match partner_filter {
        Some(p) => p,
        None => {
            let ids: Vec<Uuid> = experiences.iter().map(|e| e.partner_id).collect();
            partner::Entity::find()
                .filter(partner::Column::Id.is_in(ids))
                .all(db)
                .await?
                .into_iter()
                .map(|p| (p.id, p))
                .collect()
        }
    };
    let mut tags = tags_of(db, experiences.iter().map(|e| e.id).collect()).await?;

    let mut hits: Vec<Hit> = experiences
        .into_iter()
        .filter_map(|e| {
            let partner = partners.get(&e.partner_id)?.clone();
            let distance_km = s.near.and_then(|p| {
                GeoPoint::parse(partner.latitude, partner.longitude)
                    .ok()
                    .map(|pt| p.distance_km(pt))
            });
            let (occasions, seasons) = tags.remove(&e.id).unwrap_or_default();
            Some(Hit {
                score: scores.as_ref().and_then(|m| m.get(&e.id).copied()),
                distance_km,
                occasions,
                seasons,
                partner,
                experience: e,
            })
        })
        .collect();
    hits.sort_by(|a, b| {
        compare(
            order,
            (a.key(order), a.experience.id),
            (b.key(order), b.experience.id),
        )
    });
    Ok(hits)
}

/// Occasion and season tags of some experiences.
pub async fn tags_of(
    db: &impl ConnectionTrait,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, (Vec<String>, Vec<String>)>, DbErr> {
    let rows = experience_tag::Entity::find()
        .filter(experience_tag::Column::ExperienceId.is_in(ids))
        .order_by_asc(experience_tag::Column::Tag)
        .all(db)
        .await?;
    let mut out: HashMap<Uuid, (Vec<String>, Vec<String>)> = HashMap::new();
    for t in rows {
        let entry = out.entry(t.experience_id).or_default();
        if t.kind == "occasion" {
            entry.0.push(t.tag);
        } else {
            entry.1.push(t.tag);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_total_and_point_the_right_way() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(
            compare(SortOrder::PriceAsc, (Some(1.0), b), (Some(2.0), a)),
            Ordering::Less
        );
        assert_eq!(
            compare(SortOrder::PriceDesc, (Some(1.0), a), (Some(2.0), b)),
            Ordering::Greater
        );
        assert_eq!(
            compare(SortOrder::Relevance, (Some(5.0), b), (Some(1.0), a)),
            Ordering::Less
        );
        assert_eq!(
            compare(SortOrder::Distance, (Some(1.0), a), (Some(1.0), b)),
            Ordering::Less
        );
        assert_eq!(
            compare(SortOrder::Newest, (None, a), (None, b)),
            Ordering::Greater
        );
    }
}

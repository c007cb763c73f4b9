//! Administration: what only an admin may see.

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::http::accounts::UserView;
use crate::http::catalogue::ListParams;
use crate::http::pagination::{self, Cursor, Page};
use crate::state::State;
use actix_web::web;
use entities::{partner_staff, user};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::HashMap;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/users", web::get().to(list_users));
}

/// Every account, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", params(ListParams),
    responses((status = 200, body = Page<UserView>), (status = 403, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
pub async fn list_users(
    state: State,
    who: Principal,
    params: web::Query<ListParams>,
) -> ApiResult<web::Json<Page<UserView>>> {
    who.require_admin()?;
    let limit = pagination::limit(params.limit)?;
    let mut q = user::Entity::find().order_by_asc(user::Column::Id);
    if let Some(c) = params.cursor.as_deref() {
        q = q.filter(user::Column::Id.gt(Cursor::decode(c, "id")?.id));
    }
    let rows = q.limit(limit + 1).all(&state.db).await?;
    let (rows, next_cursor) = pagination::split_page(rows, limit, |u| pagination::id_cursor(u.id));
    let mut staff: HashMap<_, _> = partner_staff::Entity::find()
        .filter(partner_staff::Column::UserId.is_in(rows.iter().map(|u| u.id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|s| (s.user_id, s))
        .collect();
    let items = rows
        .into_iter()
        .map(|u| {
            let s = staff.remove(&u.id);
            UserView::new(u, s)
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(web::Json(Page { items, next_cursor }))
}

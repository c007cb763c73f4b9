//! The messages between a booking's holder and the partner.

use super::{Access, display_names, visible_booking};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::http::pagination::{self, Cursor, Page};
use crate::state::{AppState, State};
use actix_web::{HttpResponse, web};
use actix_web::{get, post};
use actors::StaffRole;
use chrono::{DateTime, Utc};
use entities::{booking, booking_message, partner};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
/// Longest message, in characters (after trimming).
pub const MAX_MESSAGE_CHARS: usize = 2000;

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
}

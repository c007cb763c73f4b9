//! Cursor pagination: a page of items and an opaque cursor for the next one.
//!
//! A cursor is base64url JSON of the last item's sort key and id, tagged with the
//! query it belongs to, so the next page starts strictly after it even when rows are
//! added in between.

use crate::error::{ApiError, ErrorCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub const DEFAULT_LIMIT: u64 = 20;
pub const MAX_LIMIT: u64 = 100;

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Where a page starts: after the item with this sort key and id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// Which ordering the cursor was made for (e.g. `price_asc`).
    pub o: String,
    /// The sort key of the last item (absent for id order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<serde_json::Value>,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Decodes a cursor and checks it was made for `ordering`.
    pub fn decode(raw: &str, ordering: &str) -> Result<Self, ApiError> {
        let bad = || {
            ApiError::new(
                ErrorCode::InvalidCursor,
                "the cursor is not one this list returned",
            )
            .field("cursor")
        };
        if raw.len() > 512 {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        if cursor.o != ordering {
            return Err(bad());
        }
        Ok(cursor)
    }
}

/// Cuts `rows` (fetched with one extra) to `limit`, and makes the cursor of the next page
/// from the last row kept when the extra row shows there is one.
pub fn split_page<T>(
    mut rows: Vec<T>,
    limit: u64,
    cursor_of: impl Fn(&T) -> Cursor,
) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = more
        .then(|| rows.last())
        .flatten()
        .map(|r| cursor_of(r).encode());
    (rows, next)
}

/// The cursor of a list ordered by id alone.
pub fn id_cursor(id: Uuid) -> Cursor {
    Cursor {
        o: "id".into(),
        k: None,
        id,
    }
}

/// Checks a requested page size.
pub fn limit(requested: Option<u64>) -> Result<u64, ApiError> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!("limit must be between 1 and {MAX_LIMIT}"),
        )
        .field("limit")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_ordering() {
        let c = Cursor {
            o: "price_asc".into(),
            k: Some(serde_json::json!(4500)),
            id: Uuid::now_v7(),
        };
        let raw = c.encode();
        assert_eq!(Cursor::decode(&raw, "price_asc").unwrap(), c);
        assert!(Cursor::decode(&raw, "price_desc").is_err());
        assert!(Cursor::decode("not-a-cursor", "price_asc").is_err());
    }
}

//! Topics: what a subscriber may follow, who may follow it, how its events are shown to
//! them, and how to re-read them from the event logs (`since`).

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::live::bus::LiveEvent;
use crate::state::AppState;
use actors::StaffRole;
use actors::giftcard::{Access, access, kind_visible_to_donor};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query};
use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

/// Most events re-read from a log in one go.
pub const REPLAY_LIMIT: u64 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    Card(Uuid),
    User(Uuid),
    Calendar(Uuid),
    Slot(Uuid),
}

impl Topic {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "unknown topic {raw:?}: use card:{{id}}, user:{{id}}, partner:{{id}}:calendar or slot:{{id}}"
            )
        };
        let id = |s: &str| Uuid::parse_str(s).map_err(|_| bad());
        if raw.len() > 128 {
            return Err(bad());
        }
        if let Some(rest) = raw.strip_prefix("card:") {
            return Ok(Self::Card(id(rest)?));
        }
        if let Some(rest) = raw.strip_prefix("user:") {
            return Ok(Self::User(id(rest)?));
        }
        if let Some(rest) = raw.strip_prefix("slot:") {
            return Ok(Self::Slot(id(rest)?));
        }
        if let Some(rest) = raw
            .strip_prefix("partner:")
            .and_then(|r| r.strip_suffix(":calendar"))
        {
            return Ok(Self::Calendar(id(rest)?));
        }
        Err(bad())
    }

    pub fn name(&self) -> String {
        match self {
            Self::Card(id) => format!("card:{id}"),
            Self::User(id) => format!("user:{id}"),
            Self::Calendar(id) => format!("partner:{id}:calendar"),
            Self::Slot(id) => format!("slot:{id}"),
        }
    }

    /// The event table, its owner column and the owner id.
    fn log(&self) -> (&'static str, &'static str, Uuid) {
        match self {
            Self::Card(id) => ("card_events", "card_id", *id),
            Self::User(id) => ("user_events", "user_id", *id),
            Self::Calendar(id) => ("calendar_events", "partner_id", *id),
            Self::Slot(id) => ("slot_events", "slot_id", *id),
        }
    }
}

/// How a subscriber sees a topic's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Full,
    /// A donor following a card: the lifecycle only, without data.
    Donor,
    /// Anyone following a slot: places, never who holds them.
    Public,
}

/// Whether `who` may follow `topic`, and how. Topics they may not follow are refused the
/// same way whether or not they exist.
pub async fn authorize(state: &AppState, who: &Principal, topic: Topic) -> ApiResult<View> {
    let refused = || ApiError::new(ErrorCode::Forbidden, "you may not follow this topic");
    match topic {
        Topic::User(id) => (who.user_id == id || who.is_admin())
            .then_some(View::Full)
            .ok_or_else(refused),
        Topic::Calendar(partner) => {
            who.require_partner(
                partner,
                &[StaffRole::Owner, StaffRole::Staff, StaffRole::Tablet],
            )
            .map_err(|_| refused())?;
            Ok(View::Full)
        }
        Topic::Slot(_) => Ok(View::Public),
        Topic::Card(id) => {
            let row = entities::gift_card::Entity::find_by_id(id)
                .one(&state.db)
                .await?
                .ok_or_else(refused)?;
            let card = crate::store::cards::decode(&row).map_err(ApiError::internal)?;
            match access(who.user_id, who.is_admin(), &card) {
                Some(Access::Donor) => Ok(View::Donor),
                Some(_) => Ok(View::Full),
                None => Err(refused()),
            }
        }
    }
}

/// The event as `view` shows it, or nothing if it is not for them. A donor sees the
/// card's lifecycle numbered in their own view (`donor_seq`), without data; everyone
/// else sees the topic's own numbering.
pub fn present(event: &LiveEvent, view: View) -> Option<LiveEvent> {
    match view {
        View::Full => Some(LiveEvent {
            donor_seq: None,
            ..event.clone()
        }),
        View::Donor => {
            let seq = event.donor_seq?;
            kind_visible_to_donor(&event.kind).then(|| LiveEvent {
                seq,
                data: serde_json::json!({}),
                donor_seq: None,
                ..event.clone()
            })
        }
        View::Public => {
            let mut e = event.clone();
            e.donor_seq = None;
            if let Some(map) = e.data.as_object_mut() {
                map.remove("booking_id");
            }
            Some(e)
        }
    }
}

/// The column a view numbers a topic's log by: the donor's own numbering on a card.
fn seq_column(topic: Topic, view: View) -> &'static str {
    match (topic, view) {
        (Topic::Card(_), View::Donor) => "donor_seq",
        _ => "seq",
    }
}

/// The topic's events after `since` in `view`'s numbering, in order, from its log. For a
/// donor's view of a card these are the lifecycle events alone, with `seq` (and
/// `donor_seq`) their number in that view.
pub async fn replay(
    state: &AppState,
    topic: Topic,
    view: View,
    since: i64,
    limit: u64,
) -> ApiResult<Vec<LiveEvent>> {
    let (table, owner, id) = topic.log();
    let seq = seq_column(topic, view);
    let q = Query::select()
        .expr_as(Expr::col(Alias::new(seq)), Alias::new("seq"))
        .columns([Alias::new("kind"), Alias::new("data"), Alias::new("at")])
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new(owner)).eq(id))
        .and_where(Expr::col(Alias::new(seq)).gt(since))
        .order_by(Alias::new(seq), Order::Asc)
        .limit(limit)
        .to_owned();
    let rows = state.db.query_all(&q).await?;
    let name = topic.name();
    let donor = seq == "donor_seq";
    rows.into_iter()
        .map(|r| {
            let data: String = r.try_get("", "data")?;
            let seq: i64 = r.try_get("", "seq")?;
            Ok(LiveEvent {
                topic: name.clone(),
                seq,
                kind: r.try_get("", "kind")?,
                data: serde_json::from_str(&data).unwrap_or_default(),
                at: r.try_get("", "at")?,
                donor_seq: donor.then_some(seq),
            })
        })
        .collect::<Result<Vec<_>, sea_orm::DbErr>>()
        .map_err(ApiError::from)
}

/// The topic's latest sequence number in `view`'s numbering (0 for none).
pub async fn head(state: &AppState, topic: Topic, view: View) -> ApiResult<i64> {
    let (table, owner, id) = topic.log();
    let q = Query::select()
        .expr_as(
            Expr::col(Alias::new(seq_column(topic, view))).max(),
            Alias::new("head"),
        )
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new(owner)).eq(id))
        .to_owned();
    let row = state.db.query_one(&q).await?;
    Ok(row
        .and_then(|r| r.try_get::<Option<i64>>("", "head").ok().flatten())
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card_event(kind: &str, seq: i64, donor_seq: Option<i64>) -> LiveEvent {
        LiveEvent {
            topic: "card:x".into(),
            seq,
            kind: kind.into(),
            data: serde_json::json!({"amount": 500}),
            at: chrono::Utc::now(),
            donor_seq,
        }
    }

    #[test]
    fn a_donor_sees_the_lifecycle_in_their_own_numbering_without_data() {
        let used = card_event("card_used", 9, Some(7));
        let shown = present(&used, View::Donor).unwrap();
        assert_eq!((shown.seq, shown.donor_seq), (7, None));
        assert_eq!(shown.data, serde_json::json!({}));
        assert!(present(&card_event("amount_redeemed", 8, None), View::Donor).is_none());
        // An event carrying no donor number is not part of the view, whatever its kind.
        assert!(present(&card_event("card_opened", 5, None), View::Donor).is_none());
        let full = present(&used, View::Full).unwrap();
        assert_eq!(
            (full.seq, full.donor_seq),
            (9, None),
            "never sent to clients"
        );
    }

    #[test]
    fn topics_round_trip_and_bad_ones_are_refused() {
        let id = Uuid::now_v7();
        for t in [
            Topic::Card(id),
            Topic::User(id),
            Topic::Calendar(id),
            Topic::Slot(id),
        ] {
            assert_eq!(Topic::parse(&t.name()).unwrap(), t);
        }
        for bad in [
            "card:",
            "card:xyz",
            "partner:abc",
            &format!("partner:{id}"),
            "nope",
            &"x".repeat(200),
        ] {
            assert!(Topic::parse(bad).is_err(), "{bad}");
        }
    }
}

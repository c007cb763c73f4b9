//! The REST fallback for clients without websockets: `GET /api/v1/events?topic&since`
//! answers at once when the topic has events after `since`, and otherwise waits (long
//! poll) for the next one, up to a bound. Same topics and authorization as `/ws`.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::live::topics::{self, Topic};
use crate::live::{BusSignal, LiveEvent};
use crate::state::State;
use actix_web::web;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::broadcast;
use utoipa::{IntoParams, ToSchema};

/// How long a poll waits by default, and at most.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(25);
pub const MAX_WAIT: Duration = Duration::from_secs(30);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/events", web::get().to(poll));
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PollParams {
    /// `card:{id}`, `user:{id}`, `partner:{id}:calendar` or `slot:{id}`.
    pub topic: String,
    /// The last sequence number you have (0: from the start).
    pub since: Option<i64>,
    /// How long to wait for an event, in milliseconds (default 25000, at most 30000).
    pub wait_ms: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PollResponse {
    pub topic: String,
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<LiveEvent>,
    /// Pass as `since` next time.
    pub last_seq: i64,
}

/// Events of a topic after `since`, waiting for the next one if there are none yet.
#[utoipa::path(get, path = "/api/v1/events", tag = "live", params(PollParams),
    responses((status = 200, body = PollResponse), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
pub async fn poll(
    state: State,
    who: Principal,
    params: web::Query<PollParams>,
) -> ApiResult<web::Json<PollResponse>> {
    let topic = Topic::parse(&params.topic)
        .map_err(|m| ApiError::new(ErrorCode::InvalidQuery, m).field("topic"))?;
    let since = params.since.unwrap_or(0);
    if since < 0 {
        return Err(
            ApiError::new(ErrorCode::InvalidQuery, "since must be 0 or more").field("since"),
        );
    }
    let wait = params
        .wait_ms
        .map_or(DEFAULT_WAIT, Duration::from_millis)
        .min(MAX_WAIT);
    let view = topics::authorize(&state, &who, topic).await?;
    // Listen before reading, so nothing committed in between is missed.
    let mut bus = state.bus.subscribe();
    let mut events = topics::replay(&state, topic, view, since, topics::REPLAY_LIMIT).await?;
    if events.is_empty() {
        let name = topic.name();
        let woke = tokio::time::timeout(wait, async {
            loop {
                match bus.recv().await {
                    Ok(BusSignal::Event(e))
                        if e.topic == name && topics::present(&e, view).is_some() =>
                    {
                        return;
                    }
                    Ok(BusSignal::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => return,
                    Err(broadcast::error::RecvError::Closed) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        if woke.is_ok() {
            events = topics::replay(&state, topic, view, since, topics::REPLAY_LIMIT).await?;
        }
    }
    let last_seq = events.last().map_or(since, |e| e.seq);
    Ok(web::Json(PollResponse {
        topic: topic.name(),
        events: events
            .iter()
            .filter_map(|e| topics::present(e, view))
            .collect(),
        last_seq,
    }))
}

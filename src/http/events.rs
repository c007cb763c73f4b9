//! The REST fallback for clients without websockets: `GET /api/v1/events?topic&since`
//! answers at once when the topic has events after `since`, and otherwise waits (long
//! poll) for the next one, up to a bound. Same topics and authorization as `/ws`.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::live::bus::LiveEvent;
use crate::live::hub::Signal;
use crate::live::topics::{self, Topic};
use crate::state::State;
use actix_web::get;
use actix_web::web;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

/// How long a poll waits by default, and at most.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(25);
pub const MAX_WAIT: Duration = Duration::from_secs(30);

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(poll);
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
#[utoipa::path(tag = "live", params(PollParams),
    responses((status = 200, body = PollResponse), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/events")]
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
    let mut hub = state.hub.register(who.user_id);
    hub.follow(&topic.name());
    let mut events = topics::replay(&state, topic, view, since, topics::REPLAY_LIMIT).await?;
    // Where the topic really is: a `since` past its end (a client's mistake, or a log that
    // was reset) is answered at once with the real position, never echoed back.
    if events.is_empty() {
        let head = topics::head(&state, topic, view).await?;
        if since > head {
            return Ok(web::Json(PollResponse {
                topic: topic.name(),
                events: Vec::new(),
                last_seq: head,
            }));
        }
        let deadline = tokio::time::Instant::now() + wait;
        // Wait for an event of this topic in this view, or a re-read signal (the bus may
        // have missed something); a re-read that finds nothing new waits on.
        while events.is_empty() {
            let signal = match tokio::time::timeout_at(deadline, hub.recv()).await {
                Ok(signal) => signal,
                Err(_) => break,
            };
            let look = match signal {
                Some(Signal::Event(e)) => topics::present(&e, view).is_some(),
                Some(Signal::Resync | Signal::AccessChanged) => true,
                None => break,
            };
            if look {
                events = topics::replay(&state, topic, view, since, topics::REPLAY_LIMIT).await?;
            }
        }
        // The right to follow the topic may have ended while waiting (the card changed
        // hands, the session was revoked): check it again before answering.
        if !events.is_empty() {
            let who = Principal::current(&state.db, who.session_id, state.clock.now())
                .await?
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::Unauthenticated,
                        "the session has expired or was revoked; log in again",
                    )
                })?;
            if topics::authorize(&state, &who, topic).await? != view {
                return Ok(web::Json(PollResponse {
                    topic: topic.name(),
                    events: Vec::new(),
                    last_seq: since,
                }));
            }
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

//! Liveness, readiness and metrics for operators and orchestrators.

use crate::state::State;
use actix_web::HttpResponse;
use actix_web::get;
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

/// How long a readiness check waits on one dependency.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(live).service(ready).service(metrics);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// Each dependency checked, with `ok` or what failed.
    pub checks: std::collections::BTreeMap<&'static str, String>,
}

/// The process is up.
#[utoipa::path(tag = "operations",
    responses((status = 200, body = Health)))]
#[get("/health/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        checks: Default::default(),
    })
}

/// The database (and Redis, when configured) answer and, on Redis, this node is subscribed
/// to the event bus; 503 when one of them is not so.
#[utoipa::path(tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
#[get("/health/ready")]
pub async fn ready(state: State) -> HttpResponse {
    let mut checks = std::collections::BTreeMap::new();
    let db = match tokio::time::timeout(CHECK_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => "error: timed out".to_owned(),
    };
    checks.insert("database", db);
    if let Some(client) = &state.redis {
        let redis = match tokio::time::timeout(CHECK_TIMEOUT, ping_redis(client)).await {
            Ok(Ok(())) => "ok".to_owned(),
            Ok(Err(e)) => format!("error: {e}"),
            Err(_) => "error: timed out".to_owned(),
        };
        checks.insert("redis", redis);
    }
    // Answering a ping is not enough: this node must be subscribed to the other nodes' events.
    if let Some(subscribed) = state.bus.connected() {
        let bus = if subscribed {
            "ok"
        } else {
            "error: not subscribed to the event bus (reconnecting)"
        };
        checks.insert("event_bus", bus.to_owned());
    }
    let ok = checks.values().all(|v| v == "ok");
    let body = Health {
        status: if ok { "ok" } else { "unavailable" },
        checks,
    };
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        tracing::warn!(checks = ?body.checks, "not ready");
        HttpResponse::ServiceUnavailable()
            .insert_header(("retry-after", "5"))
            .json(body)
    }
}

async fn ping_redis(client: &redis::Client) -> redis::RedisResult<()> {
    let mut conn = client.get_multiplexed_async_connection().await?;
    redis::cmd("PING").query_async::<String>(&mut conn).await?;
    Ok(())
}

/// Prometheus text exposition.
#[utoipa::path(tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: State) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render(&state.db))
}

//! Prometheus metrics: HTTP requests by route, the database pool, and domain counters.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use sea_orm::DatabaseConnection;

pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    db_pool: IntGaugeVec,
    db_pool_max: IntGauge,
    /// Logins by outcome: `success`, `failure`, `rate_limited`.
    pub logins: IntCounterVec,
    /// Open websocket sessions.
    pub ws_sessions: IntGauge,
    /// Committed domain events by entity (`card`, `slot`, `partner`, `user`) and kind:
    /// cards issued, opened, used; holds placed; bookings changed; …
    pub events: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("fimy".to_owned()), None)?;
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, route and status",
            ),
            &["method", "route", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by method and route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )?;
        let db_pool = IntGaugeVec::new(
            Opts::new("db_pool_connections", "Database pool connections by state"),
            &["state"],
        )?;
        let db_pool_max = IntGauge::new("db_pool_max_connections", "Database pool size limit")?;
        let logins = IntCounterVec::new(
            Opts::new("logins_total", "Login attempts by outcome"),
            &["outcome"],
        )?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(db_pool.clone()))?;
        registry.register(Box::new(db_pool_max.clone()))?;
        registry.register(Box::new(logins.clone()))?;
        let ws_sessions = IntGauge::new("ws_sessions", "Open websocket sessions")?;
        registry.register(Box::new(ws_sessions.clone()))?;
        let events = IntCounterVec::new(
            Opts::new("events_total", "Committed domain events by entity and kind"),
            &["entity", "kind"],
        )?;
        registry.register(Box::new(events.clone()))?;
        Ok(Self {
            registry,
            http_requests,
            http_duration,
            db_pool,
            db_pool_max,
            logins,
            ws_sessions,
            events,
        })
    }

    /// The text exposition, with pool gauges read at scrape time.
    pub fn render(&self, db: &DatabaseConnection) -> String {
        let (size, idle, max) = match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => {
                let p = db.get_postgres_connection_pool();
                (p.size(), p.num_idle(), p.options().get_max_connections())
            }
            _ => {
                let p = db.get_sqlite_connection_pool();
                (p.size(), p.num_idle(), p.options().get_max_connections())
            }
        };
        let idle = i64::try_from(idle).unwrap_or(i64::MAX);
        self.db_pool.with_label_values(&["idle"]).set(idle);
        self.db_pool
            .with_label_values(&["in_use"])
            .set(i64::from(size) - idle);
        self.db_pool_max.set(i64::from(max));
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "failed to encode metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

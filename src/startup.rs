//! Building the application: connect, migrate, load demo data, bind, and serve until a
//! signal (SIGTERM, Ctrl-C) asks for a graceful stop.

use crate::auth::LoginLimiter;
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::error::{ApiError, ErrorCode};
use crate::http;
use crate::metrics::Metrics;
use crate::seed::{self, DemoAccount};
use crate::state::AppState;
use actix_web::dev::Server;
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// How often expired sessions and idempotency records are purged.
const JANITOR_INTERVAL: Duration = Duration::from_secs(3600);
/// How long in-flight requests get to finish after a stop signal.
const SHUTDOWN_GRACE_SECS: u64 = 10;

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    /// The demo accounts, when demo data is loaded (printed at start).
    pub demo_accounts: Vec<DemoAccount>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// As [`Application::build`] with a chosen clock (tests pass a manual one).
    pub async fn build_with_clock(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "Failed to create the data dir {}",
                config.data_dir.display()
            )
        })?;
        let db = crate::db::connect(&config).await?;
        crate::db::migrate(&db).await?;
        let demo_accounts = if config.demo_data {
            seed::ensure_demo(&db, &config.data_dir, clock.now()).await?
        } else {
            Vec::new()
        };
        let redis = config
            .redis_url
            .as_ref()
            .map(|u| redis::Client::open(u.expose()))
            .transpose()
            .context("Failed to set up the Redis client (REDIS_URL)")?;
        let listener = TcpListener::bind(config.listen)
            .with_context(|| format!("Failed to listen on {}", config.listen))?;
        let port = listener.local_addr()?.port();
        let workers = config.workers;
        let state = web::Data::new(AppState {
            db,
            login_limiter: LoginLimiter::new(clock.clone()),
            clock,
            metrics: Metrics::new().context("Failed to set up metrics")?,
            redis,
            config,
        });
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .wrap(ErrorHandlers::new().default_handler(http::middleware::problemize))
                .wrap(from_fn(http::middleware::observe))
                .configure(http::configure)
                .default_service(web::to(|| async {
                    Err::<actix_web::HttpResponse, _>(ApiError::new(
                        ErrorCode::NotFound,
                        "no such resource",
                    ))
                }))
        })
        .listen(listener)?
        .workers(workers)
        .shutdown_timeout(SHUTDOWN_GRACE_SECS)
        .run();
        Ok(Self {
            port,
            server,
            state,
            demo_accounts,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until the server stops (on SIGTERM or Ctrl-C it drains in-flight requests
    /// first), running periodic housekeeping alongside.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let state = self.state.clone();
        let janitor = async move {
            let mut tick = tokio::time::interval(JANITOR_INTERVAL);
            loop {
                tick.tick().await;
                housekeeping(&state).await;
            }
        };
        tokio::select! {
            res = self.server => res,
            () = janitor => Ok(()),
        }
    }
}

/// Purges expired sessions and idempotency records.
async fn housekeeping(state: &AppState) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    match http::idempotency::purge_expired(state).await {
        Ok(n) if n > 0 => tracing::info!(purged = n, "expired idempotency records purged"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "failed to purge idempotency records"),
    }
    let res = entities::session::Entity::delete_many()
        .filter(entities::session::Column::ExpiresAt.lte(state.clock.now()))
        .exec(&state.db)
        .await;
    if let Err(e) = res {
        tracing::warn!(error = %e, "failed to purge expired sessions");
    }
}

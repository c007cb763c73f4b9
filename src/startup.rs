//! Building the application: connect, migrate, load demo data, bind, and serve until a
//! signal (SIGTERM, Ctrl-C) asks for a graceful stop.

use crate::auth::limiter::Limits;
use crate::auth::{LoginLimiter, LoginThrottle};
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::error::{ApiError, ErrorCode};
use crate::http;
use crate::metrics::Metrics;
use crate::payments::{
    PaymentProvider, SandboxEvent, SandboxProvider, StripeConfig, StripeProvider,
};
use crate::seed::{self, DemoAccount};
use crate::state::AppState;
use crate::store::SqlCardStore;
use actix_web::dev::Server;
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use actors::runtime::{Registry, RegistryConfig, Workers};
use anyhow::Context;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

/// How often expired sessions and idempotency records are purged.
const JANITOR_INTERVAL: Duration = Duration::from_secs(3600);
/// Deliveries of one sandbox webhook before giving up.
const SANDBOX_WEBHOOK_ATTEMPTS: u32 = 8;
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
        crate::datadir::ensure(&config.data_dir).with_context(|| {
            format!(
                "Failed to create the data dir {} (private, mode 700)",
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
        let secrets = crate::secrets::SecretKey::load_or_create(
            &config.data_dir,
            config.secret_key.as_ref().map(|s| s.expose()),
        )?;
        let actor_threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let workers =
            Arc::new(Workers::start(actor_threads).context("Failed to start the actor threads")?);
        let actor_config = RegistryConfig {
            idle: config.actor_idle,
            ..RegistryConfig::default()
        };
        let raw_bus: Arc<dyn crate::live::EventBus> = match &config.redis_url {
            Some(url) => Arc::new(
                crate::live::RedisBus::connect(url.expose())
                    .await
                    .with_context(|| {
                        format!("Failed to connect the event bus to Redis ({url:?})")
                    })?,
            ),
            None => Arc::new(crate::live::LocalBus::default()),
        };
        let metrics = Metrics::new().context("Failed to set up metrics")?;
        let bus: Arc<dyn crate::live::EventBus> = Arc::new(crate::live::MeteredBus::new(
            raw_bus,
            metrics.events.clone(),
        ));
        let registry = Registry::new(
            Arc::new(SqlCardStore::new(db.clone(), bus.clone())),
            clock.clone(),
            actor_config.clone(),
            workers.clone(),
        );
        let slots = Registry::new(
            Arc::new(crate::store::snapshots::slot_store(db.clone(), bus.clone())),
            clock.clone(),
            actor_config.clone(),
            workers.clone(),
        );
        let calendars = Registry::new(
            Arc::new(crate::store::snapshots::calendar_store(
                db.clone(),
                bus.clone(),
            )),
            clock.clone(),
            actor_config,
            workers,
        );
        let push = crate::push::PushService::new(&config)?;
        let mailer = crate::email::Mailer::from_config(&config)
            .context("Failed to set up email (SMTP_URL)")?;
        let (sandbox_events, sandbox_rx) = tokio::sync::mpsc::unbounded_channel();
        let (payments, sandbox): (Arc<dyn PaymentProvider>, _) = match &config.stripe {
            Some(s) => {
                let mut cfg = StripeConfig::new(
                    s.secret_key.expose(),
                    s.webhook_secrets
                        .iter()
                        .map(|w| w.expose().to_owned())
                        .collect(),
                );
                cfg.base_url = s.api_base.clone();
                let stripe = StripeProvider::new(cfg)
                    .map_err(|e| anyhow::anyhow!("Failed to set up Stripe: {e}"))?;
                (Arc::new(stripe), None)
            }
            None => {
                let sandbox = Arc::new(SandboxProvider::with_clock(sandbox_events, clock.clone()));
                (sandbox.clone() as Arc<dyn PaymentProvider>, Some(sandbox))
            }
        };
        let listener = TcpListener::bind(config.listen)
            .with_context(|| format!("Failed to listen on {}", config.listen))?;
        let port = listener.local_addr()?.port();
        let mut config = config;
        if config.public_url.port() == Some(0) {
            // Listening on port 0: links must carry the port actually bound.
            let _ = config.public_url.set_port(Some(port));
        }
        let workers = config.workers;
        let state = web::Data::new(AppState {
            db,
            login_limiter: LoginThrottle::new(clock.clone()),
            clock: clock.clone(),
            metrics,
            redis,
            code_limiter: LoginLimiter::with_limits(clock.clone(), Limits::CODE_LOOKUP),
            staff_code_limiter: LoginLimiter::with_limits(clock.clone(), Limits::STAFF_CODE_LOOKUP),
            hub: crate::live::hub::Hub::start(bus.subscribe()),
            sessions: crate::auth::cache::SessionCache::start(bus.subscribe()),
            caches: crate::cache::Caches::default(),
            bus,
            registry,
            slots,
            calendars,
            push,
            mailer,
            secrets,
            payments,
            sandbox,
            config,
        });
        spawn_sandbox_webhooks(state.clone(), sandbox_rx);
        let mut demo_accounts = demo_accounts;
        if state.config.demo_data {
            seed::ensure_demo_availability(&state).await?;
            let cards = seed::ensure_demo_cards(&state).await?;
            if !cards.is_empty() {
                seed::remember(&state.config.data_dir, &cards)?;
                demo_accounts.extend(cards);
            }
        }
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            let (app, openapi) = App::new()
                .into_utoipa_app()
                .openapi(http::docs::ApiDoc::openapi())
                .configure(http::configure)
                .split_for_parts();
            app.app_data(app_state.clone())
                .app_data(http::docs::Document::new(openapi))
                .wrap(ErrorHandlers::new().default_handler(http::middleware::problemize))
                .wrap(from_fn(http::middleware::observe))
                .default_service(web::to(|| async {
                    Err::<actix_web::HttpResponse, _>(ApiError::new(
                        ErrorCode::NotFound,
                        "no such resource",
                    ))
                }))
        })
        // Live events are small frames written one after another: without TCP_NODELAY,
        // Nagle holds each frame behind the previous one's delayed ACK (up to ~40 ms).
        .on_connect(|conn, _| {
            if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = tcp.set_nodelay(true);
            }
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
        let state = self.state.clone();
        let scheduler = async move {
            let mut tick = tokio::time::interval(state.config.scheduler_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match crate::bookings::sweep(&state).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(expired = n, "lapsed booking holds released"),
                    Err(e) => tracing::warn!(error = %e, "booking sweep failed"),
                }
                match crate::reminders::run(&state).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(reminders = n, "reminders queued"),
                    Err(e) => tracing::warn!(error = %e, "reminders failed"),
                }
                match crate::giftcards::run_due(&state).await {
                    Ok((0, 0)) => {}
                    Ok((delivered, expired)) => {
                        tracing::info!(delivered, expired, "scheduled card work done")
                    }
                    Err(e) => tracing::warn!(error = %e, "scheduled card work failed"),
                }
            }
        };
        let outbox = crate::outbox::run(self.state.clone());
        tokio::select! {
            res = self.server => res,
            () = janitor => Ok(()),
            () = scheduler => Ok(()),
            () = outbox => Ok(()),
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

/// The sandbox announces payment outcomes as signed webhooks; they go through the same
/// function as webhooks arriving over HTTP.
fn spawn_sandbox_webhooks(
    state: web::Data<AppState>,
    mut events: tokio::sync::mpsc::UnboundedReceiver<SandboxEvent>,
) {
    tokio::spawn(async move {
        while let Some((payload, signature)) = events.recv().await {
            // Like Stripe, retry a failed delivery with back-off.
            let mut delay = Duration::from_millis(100);
            for attempt in 1..=SANDBOX_WEBHOOK_ATTEMPTS {
                match crate::giftcards::receive_webhook(&state, &payload, &signature).await {
                    Ok(()) => break,
                    Err(e) if attempt == SANDBOX_WEBHOOK_ATTEMPTS => {
                        tracing::error!(error = %e, "sandbox webhook failed for good")
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, attempt, "sandbox webhook failed; retrying");
                        tokio::time::sleep(delay).await;
                        delay *= 2;
                    }
                }
            }
        }
    });
}

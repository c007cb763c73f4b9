//! Building the application: connect, migrate, load demo data, bind, and serve until the
//! shutdown signal (fired by SIGTERM, Ctrl-C or a test) asks for a graceful stop.

use crate::app::seed::{self, DemoAccount};
use crate::auth::limiter::Limits;
use crate::auth::{LoginLimiter, LoginThrottle};
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::error::{ApiError, ErrorCode};
use crate::http;
use crate::metrics::Metrics;
use crate::payments::{PaymentProvider, SandboxProvider, StripeConfig, StripeProvider};
use crate::state::AppState;
use crate::store::SqlCardStore;
use actix_web::dev::Server;
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use actors::runtime::{Registry, RegistryConfig, Workers};
use anyhow::Context;
use std::net::TcpListener;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    /// The one shutdown signal every part of the node listens to.
    shutdown: CancellationToken,
    /// The actor threads (stopped last).
    actors: Arc<Workers>,
    /// The task handing the sandbox's webhooks to the application.
    sandbox_webhooks: tokio::task::JoinHandle<()>,
    /// SIGTERM and Ctrl-C, listened for from the moment the node is built (a signal that
    /// arrives before it serves still stops it gracefully).
    signals: Signals,
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
        let db = crate::store::db::connect(&config).await?;
        crate::store::db::migrate(&db).await?;
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
        let raw_bus: Arc<dyn crate::live::bus::EventBus> = match &config.redis_url {
            Some(url) => Arc::new(
                crate::live::bus::RedisBus::connect(url.expose())
                    .await
                    .with_context(|| {
                        format!("Failed to connect the event bus to Redis ({url:?})")
                    })?,
            ),
            None => Arc::new(crate::live::bus::LocalBus::default()),
        };
        let metrics = Metrics::new().context("Failed to set up metrics")?;
        let bus: Arc<dyn crate::live::bus::EventBus> = Arc::new(crate::live::bus::MeteredBus::new(
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
            workers.clone(),
        );
        let actors = workers;
        let push = Arc::new(crate::notify::push::PushService::new(
            config.push_settings(),
        )?);
        let mailer = Arc::new(
            crate::notify::email::Mailer::from_config(&config)
                .context("Failed to set up email (SMTP_URL)")?,
        );
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
        let channels = crate::notify::delivery::Channels::new(vec![
            Arc::new(crate::notify::email::EmailChannel {
                db: db.clone(),
                clock: clock.clone(),
                public_url: config.public_url.clone(),
                mailer,
                secrets: secrets.clone(),
            }),
            Arc::new(crate::notify::push::PushChannel {
                db: db.clone(),
                clock: clock.clone(),
                public_url: config.public_url.clone(),
                push: push.clone(),
            }),
            Arc::new(crate::notify::refunds::RefundChannel {
                payments: payments.clone(),
            }),
        ]);
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
            caches: crate::store::cache::Caches::default(),
            bus,
            registry,
            slots,
            calendars,
            push,
            channels,
            secrets,
            payments,
            sandbox,
            config,
        });
        let shutdown = CancellationToken::new();
        let sandbox_webhooks =
            crate::workers::spawn_sandbox_webhooks(state.clone(), sandbox_rx, shutdown.clone());
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
        let grace_secs = state.config.shutdown_grace.as_millis().div_ceil(1000);
        let grace_secs = u64::try_from(grace_secs).unwrap_or(u64::MAX);
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
        // Signals fire the shutdown token (see `run_until_stopped`), which stops the server.
        .disable_signals()
        .shutdown_timeout(grace_secs)
        .run();
        Ok(Self {
            port,
            server,
            state,
            shutdown,
            actors,
            sandbox_webhooks,
            signals: Signals::listen(),
            demo_accounts,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// The node's one shutdown signal. Firing it stops the node as SIGTERM or Ctrl-C
    /// does: see [`Application::run_until_stopped`].
    pub fn shutdown_signal(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves, with the background work alongside, until the shutdown signal fires (on
    /// SIGTERM or Ctrl-C, or when [`Application::shutdown_signal`] is cancelled). Then the
    /// server takes no new connection and drains the requests in flight, the background
    /// loops finish their pass (the outbox hands back a row it cannot deliver within
    /// `shutdown_grace`), and, once nothing can send them a command any more, the actor
    /// threads are stopped. Returns when all of it has ended.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let shutdown = self.shutdown.clone();
        let signals = tokio::spawn(stop_on_signal(self.signals, shutdown.clone()));
        let handle = self.server.handle();
        let stopper = {
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                shutdown.cancelled().await;
                tracing::info!("stopping: draining requests and background work");
                handle.stop(true).await;
            })
        };
        let mut background = crate::workers::Background::start(self.state.clone(), &shutdown);
        background.adopt("sandbox webhooks", self.sandbox_webhooks);
        let served = self.server.await;
        // The server may also have ended by itself (an I/O error): stop everything else.
        shutdown.cancel();
        signals.abort();
        let _ = stopper.await;
        background.join().await;
        self.actors.stop().await;
        served
    }
}

/// The process's stop signals, registered when made: from then on SIGTERM and SIGINT
/// are ours to handle, not the default action that kills the process.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let register = |kind: SignalKind, name: &str| {
                signal(kind)
                    .map_err(|e| tracing::warn!(error = %e, "cannot listen for {name}"))
                    .ok()
            };
            Self {
                term: register(SignalKind::terminate(), "SIGTERM"),
                interrupt: register(SignalKind::interrupt(), "Ctrl-C"),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }
}

/// Waits for one of `signal`, or forever when it could not be listened for.
#[cfg(unix)]
async fn received(signal: Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(mut s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// Fires `shutdown` on SIGTERM or Ctrl-C (SIGINT).
async fn stop_on_signal(signals: Signals, shutdown: CancellationToken) {
    #[cfg(unix)]
    let (term, ctrl_c) = (received(signals.term), received(signals.interrupt));
    #[cfg(not(unix))]
    let (term, ctrl_c) = {
        let _ = signals;
        (std::future::pending::<()>(), async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received"),
        () = term => tracing::info!("SIGTERM received"),
        () = shutdown.cancelled() => return,
    }
    shutdown.cancel();
}

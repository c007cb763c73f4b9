//! `spawn_app()`: each test gets its own application on a random port with its own
//! database (a SQLite file in a temp dir, or a fresh PostgreSQL database when
//! `FIMY_TEST_DATABASE_URL` is set) and a clock it controls.

use fimy::app::seed::DemoAccount;
use fimy::clock::ManualClock;
use fimy::config::Config;
use fimy::startup::Application;
use fimy::state::AppState;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

pub struct TestApp {
    pub address: String,
    pub clock: ManualClock,
    pub state: actix_web::web::Data<AppState>,
    pub demo: Vec<DemoAccount>,
    pub client: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    /// The PostgreSQL database, when running on one (a second instance can share it).
    pub database_url: Option<String>,
    /// The master key (instances sharing a database must share it).
    pub secret_key: String,
    /// The application serving, until [`TestApp::stop`] (or the end of the test).
    running: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// Fires the application's shutdown signal when the `TestApp` goes.
    stop_on_drop: StopOnDrop,
    _pg: Option<PgDatabase>,
}

/// Fires the shutdown signal when dropped (a guard, so fields can still be moved out of a
/// `TestApp`).
struct StopOnDrop(tokio_util::sync::CancellationToken);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

#[derive(Default)]
pub struct Options {
    pub demo_data: bool,
    /// Reuse this data dir (and its SQLite file) instead of a fresh one.
    pub data_dir: Option<tempfile::TempDir>,
    /// Run against this existing database (another instance's) instead of a fresh one.
    pub database_url: Option<String>,
    /// Use this master key (another instance's).
    pub secret_key: Option<String>,
    /// Send emails to this SMTP server (`SMTP_URL`) instead of writing `.eml` files.
    pub smtp_url: Option<String>,
    /// More settings, as environment variables (applied last).
    pub env: Vec<(&'static str, String)>,
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Options::default()).await
}

pub async fn spawn_demo_app() -> TestApp {
    spawn_with(Options {
        demo_data: true,
        ..Default::default()
    })
    .await
}

pub async fn spawn_with(opts: Options) -> TestApp {
    let data_dir = opts
        .data_dir
        .unwrap_or_else(|| tempfile::tempdir().expect("temp dir"));
    let pg = match (&opts.database_url, std::env::var("FIMY_TEST_DATABASE_URL")) {
        (None, Ok(url)) if !url.is_empty() => Some(PgDatabase::create(&url).await),
        _ => None,
    };
    let database_url = opts
        .database_url
        .clone()
        .or_else(|| pg.as_ref().map(|p| p.url.clone()));
    let secret_key = opts.secret_key.clone().unwrap_or_else(|| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
    });
    let mut env: HashMap<&str, String> = HashMap::new();
    env.insert("FIMY_LISTEN", "127.0.0.1:0".into());
    env.insert("FIMY_DATA_DIR", data_dir.path().display().to_string());
    env.insert("FIMY_DEMO_DATA", opts.demo_data.to_string());
    env.insert("FIMY_WORKERS", "2".into());
    env.insert("FIMY_SCHEDULER_INTERVAL_MS", "100".into());
    if let Some(url) = &database_url {
        env.insert("DATABASE_URL", url.clone());
    }
    env.insert("FIMY_SECRET_KEY", secret_key.clone());
    env.insert("FIMY_OUTBOX_INTERVAL_MS", "100".into());
    if let Some(url) = &opts.smtp_url {
        env.insert("SMTP_URL", url.clone());
    }
    if let Ok(redis) = std::env::var("FIMY_TEST_REDIS_URL")
        && !redis.is_empty()
    {
        env.insert("REDIS_URL", redis);
    }
    for (var, value) in &opts.env {
        env.insert(var, value.clone());
    }
    let config = Config::load_from(None, |k| env.get(k).cloned()).expect("test config");
    let clock = ManualClock::new(chrono::Utc::now());
    let app = Application::build_with_clock(config, Arc::new(clock.clone()))
        .await
        .expect("the application builds");
    let port = app.port();
    let state = app.state();
    let demo = app.demo_accounts.clone();
    let shutdown = app.shutdown_signal();
    let running = tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        clock,
        state,
        demo,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        data_dir,
        database_url,
        secret_key,
        running: Some(running),
        stop_on_drop: StopOnDrop(shutdown),
        _pg: pg,
    }
}

/// Waits until `check` gives `Some` (polled every 25 ms) and returns it; fails the test,
/// naming `what`, if it has not within `within`. The one place tests wait for something
/// another task does; work the application would do on a timer is driven instead (see
/// [`TestApp::drive_outbox`], [`TestApp::drive_scheduler`], [`TestApp::settle`]).
pub async fn eventually<T, F, Fut>(what: &str, within: std::time::Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    match within_time(within, check).await {
        Some(found) => found,
        None => panic!("{what}: not within {within:?}"),
    }
}

/// As [`eventually`], but `None` after `within` (for a caller with more to say).
pub async fn within_time<T, F, Fut>(within: std::time::Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return Some(found);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// How long [`eventually`] waits unless told otherwise.
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

impl TestApp {
    /// One attempt at `row` on the node's Web Push channel, as the outbox worker makes it.
    pub async fn push_once(
        &self,
        row: &entities::outbox::Model,
    ) -> fimy::notify::delivery::Delivery {
        let channel = self
            .state
            .channels
            .for_row("push")
            .expect("the node delivers Web Push");
        match channel.deliver(row).await {
            fimy::notify::delivery::Attempt::Done(result) => result,
            other => panic!("a push is sent or fails, never {other:?}"),
        }
    }

    /// Fires the application's shutdown signal and waits until it has stopped (server
    /// drained, background work finished or handed back, actor threads ended).
    pub async fn stop(&mut self) {
        self.stop_on_drop.0.cancel();
        if let Some(running) = self.running.take() {
            running
                .await
                .expect("the application task")
                .expect("the application stops cleanly");
        }
    }

    /// Waits until every payment outcome the sandbox announced has been handled.
    pub async fn settle_webhooks(&self) {
        if let Some(sandbox) = self.state.sandbox.clone() {
            eventually("the sandbox's webhooks are handled", PATIENCE, || {
                let sandbox = sandbox.clone();
                async move { (sandbox.webhooks_outstanding() == 0).then_some(()) }
            })
            .await;
        }
    }

    /// Runs outbox passes at the clock's time until no row is due, then waits for the rows
    /// another worker (this node's own loop, another node) is sending; afterwards every
    /// row due now has had its delivery attempt. Returns what this call's passes did.
    pub async fn drive_outbox(&self) -> fimy::workers::outbox::Tally {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let tally = fimy::workers::outbox::run_until_idle(&self.state)
            .await
            .expect("outbox passes");
        let db = self.state.db.clone();
        eventually("no outbox row is being sent", PATIENCE, || {
            let db = db.clone();
            async move {
                let sending = entities::outbox::Entity::find()
                    .filter(entities::outbox::Column::Status.eq("sending"))
                    .count(&db)
                    .await
                    .expect("db");
                (sending == 0).then_some(())
            }
        })
        .await;
        tally
    }

    /// One scheduler pass at the clock's time (booking sweep, reminders, scheduled card
    /// deliveries and expiries), as the application's timer runs it.
    pub async fn drive_scheduler(&self) -> fimy::workers::SchedulerTally {
        fimy::workers::scheduler_pass(&self.state).await
    }

    /// Everything due now done: the sandbox's webhooks handled, a scheduler pass, and
    /// the outbox driven until idle.
    pub async fn settle(&self) {
        self.settle_webhooks().await;
        self.drive_scheduler().await;
        self.drive_outbox().await;
    }

    /// The port the application listens on.
    pub fn port(&self) -> u16 {
        self.address
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path)
            .send()
            .await
            .expect("request")
    }

    pub async fn get_as(&self, token: &str, path: &str) -> Response {
        self.request(Method::GET, path)
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// Registers a customer and returns their bearer token.
    pub async fn register(&self, email: &str) -> String {
        let res = self
            .post_json(
                "/api/v1/auth/register",
                &json!({"email": email, "password": "correct horse battery", "display_name": "Test"}),
            )
            .await;
        assert_eq!(res.status(), 201, "registering {email}");
        let body: Value = res.json().await.expect("json");
        body["token"].as_str().expect("token").to_owned()
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/v1/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// The partner a staff account (owner, staff, tablet) belongs to.
    pub async fn partner_of(&self, token: &str) -> String {
        let me: Value = self
            .get_as(token, "/api/v1/me")
            .await
            .json()
            .await
            .expect("json");
        me["staff"]["partner_id"]
            .as_str()
            .expect("a staff account")
            .to_owned()
    }

    /// Logs in again (after the clock moved past a session's life) and returns the token.
    pub async fn relogin(&self, email: &str) -> String {
        let res = self.login(email, "correct horse battery").await;
        assert_eq!(res.status(), 200, "login {email}");
        let body: Value = res.json().await.expect("json");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Logs a demo account in (by role: donor, recipient, partner owner, partner tablet,
    /// admin) and returns its token.
    pub async fn demo_token(&self, role: &str) -> String {
        let a = self
            .demo
            .iter()
            .find(|a| a.role == role)
            .unwrap_or_else(|| panic!("no demo account {role}"));
        let res = self.login(&a.email, &a.password).await;
        assert_eq!(res.status(), 200, "demo login {role}");
        let body: Value = res.json().await.expect("json");
        body["token"].as_str().expect("token").to_owned()
    }
}

pub const TEST_CARD_OK: &str = "4242 4242 4242 4242";
pub const TEST_CARD_DECLINED: &str = "4000 0000 0000 0002";
pub const TEST_CARD_3DS: &str = "4000 0025 0000 3155";

impl TestApp {
    pub async fn post_as(&self, token: &str, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// Buys a value card for `amount` EUR cents and returns the purchase response.
    pub async fn buy_value_card(&self, donor: &str, amount: i64, extra: Value) -> Value {
        let mut body = json!({
            "kind": "value", "amount_minor": amount, "currency": "EUR",
            "recipient_name": "Rémi", "recipient_email": "remi@example.com",
            "payment": {"method": "test_card", "number": TEST_CARD_OK},
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let res = self.post_as(donor, "/api/v1/cards", &body).await;
        assert_eq!(res.status(), 201, "purchase");
        res.json().await.expect("json")
    }

    /// Polls a card (as `token`) until its status is `status`; returns its view.
    pub async fn wait_for_status(&self, token: &str, card: &str, status: &str) -> Value {
        let what = format!("card {card} reaches {status}");
        eventually(&what, PATIENCE, || async {
            let view: Value = self
                .get_as(token, &format!("/api/v1/cards/{card}"))
                .await
                .json()
                .await
                .expect("json");
            (view["status"] == status).then_some(view)
        })
        .await
    }

    /// A paid, delivered value card: (card id, its code).
    pub async fn delivered_card(&self, donor: &str, amount: i64) -> (String, String) {
        let bought = self.buy_value_card(donor, amount, json!({})).await;
        let id = bought["card"]["id"].as_str().expect("id").to_owned();
        self.wait_for_status(donor, &id, "delivered").await;
        let code = self.code_of(&id).await;
        (id, code)
    }

    /// A paid, delivered CAD value card (spendable at the demo's Montréal venues): (card
    /// id, its code).
    pub async fn delivered_cad_card(&self, donor: &str, amount: i64) -> (String, String) {
        let bought = self
            .buy_value_card(donor, amount, json!({"currency": "CAD"}))
            .await;
        let id = bought["card"]["id"].as_str().expect("id").to_owned();
        self.wait_for_status(donor, &id, "delivered").await;
        let code = self.code_of(&id).await;
        (id, code)
    }

    /// The card's current code, as the recipient's email carries it.
    pub async fn code_of(&self, card: &str) -> String {
        use sea_orm::EntityTrait;
        let id = uuid::Uuid::parse_str(card).expect("uuid");
        let row = entities::gift_card::Entity::find_by_id(id)
            .one(&self.state.db)
            .await
            .expect("db")
            .expect("card");
        self.state
            .secrets
            .decrypt_code(&row.code_ciphertext)
            .expect("decrypt")
            .to_string()
    }

    /// Runs the audit and asserts it finds nothing.
    pub async fn assert_audit_clean(&self) {
        let report = fimy::app::audit::verify(&self.state.db)
            .await
            .expect("audit");
        assert!(report.findings.is_empty(), "{:#?}", report.findings);
    }
}

/// Asserts a problem+json response with the given status and code; returns the body.
pub async fn assert_problem(res: Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "status for expected {code}");
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        ct.starts_with("application/problem+json"),
        "content-type {ct}"
    );
    let body: Value = res.json().await.expect("problem body");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert_eq!(body["type"], format!("urn:fimy:problem:{code}"));
    body
}

/// A PostgreSQL database made for one test and dropped after it.
pub struct PgDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl PgDatabase {
    async fn create(base: &str) -> Self {
        use sea_orm::{ConnectionTrait, Database};
        let name = format!("fimy_test_{}", uuid::Uuid::new_v4().simple());
        let mut url = url::Url::parse(base).expect("FIMY_TEST_DATABASE_URL is a URL");
        let admin_url = url.to_string();
        let admin = Database::connect(&admin_url)
            .await
            .expect("connect to PostgreSQL");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create test database");
        let _ = admin.close().await;
        url.set_path(&format!("/{name}"));
        Self {
            url: url.to_string(),
            admin_url,
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs outside async; a short-lived runtime on its own thread does the I/O.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    use sea_orm::{ConnectionTrait, Database};
                    if let Ok(db) = Database::connect(&admin_url).await {
                        let _ = db
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            ))
                            .await;
                        let _ = db.close().await;
                    }
                });
            }
        })
        .join();
    }
}

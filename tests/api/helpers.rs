//! `spawn_app()`: each test gets its own application on a random port with its own
//! database (a SQLite file in a temp dir, or a fresh PostgreSQL database when
//! `FIMY_TEST_DATABASE_URL` is set) and a clock it controls.

use fimy::clock::ManualClock;
use fimy::config::Config;
use fimy::seed::DemoAccount;
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
    _pg: Option<PgDatabase>,
}

#[derive(Default)]
pub struct Options {
    pub demo_data: bool,
    /// Reuse this data dir (and its SQLite file) instead of a fresh one.
    pub data_dir: Option<tempfile::TempDir>,
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
    let pg = match std::env::var("FIMY_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(PgDatabase::create(&url).await),
        _ => None,
    };
    let mut env: HashMap<&str, String> = HashMap::new();
    env.insert("FIMY_LISTEN", "127.0.0.1:0".into());
    env.insert("FIMY_DATA_DIR", data_dir.path().display().to_string());
    env.insert("FIMY_DEMO_DATA", opts.demo_data.to_string());
    env.insert("FIMY_WORKERS", "2".into());
    if let Some(pg) = &pg {
        env.insert("DATABASE_URL", pg.url.clone());
    }
    if let Ok(redis) = std::env::var("FIMY_TEST_REDIS_URL")
        && !redis.is_empty()
    {
        env.insert("REDIS_URL", redis);
    }
    let config = Config::load_from(None, |k| env.get(k).cloned()).expect("test config");
    let clock = ManualClock::new(chrono::Utc::now());
    let app = Application::build_with_clock(config, Arc::new(clock.clone()))
        .await
        .expect("the application builds");
    let port = app.port();
    let state = app.state();
    let demo = app.demo_accounts.clone();
    tokio::spawn(app.run_until_stopped());
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
        _pg: pg,
    }
}

impl TestApp {
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

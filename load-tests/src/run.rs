//! The scenarios: workers, the shared request budget, and the report of a run.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use reqwest::{Client, StatusCode, Url};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::memory::{self, MemoryReport, Sampler};
use crate::stats::{Stats, Summary, round3, transport_error_kind};

/// Everything a run needs, resolved from the command line.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub base_url: Url,
    pub concurrency: usize,
    pub duration: Duration,
    pub max_requests: u64,
    pub request_timeout: Duration,
    pub server_pid: Option<u32>,
}

/// Parses `--base-url`, refusing anything but a loopback host unless `allow_remote`:
/// this tool is meant for a server on this machine.
pub fn parse_base_url(raw: &str, allow_remote: bool) -> anyhow::Result<Url> {
    let url = Url::parse(raw).with_context(|| format!("--base-url {raw:?} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!(
            "--base-url must be http:// or https://, not {}",
            url.scheme()
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        bail!("--base-url must not have a query or fragment");
    }
    let host = url
        .host_str()
        .ok_or_else(|| anyhow!("--base-url has no host"))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback && !allow_remote {
        bail!(
            "--base-url host {host} is not loopback; pass --allow-remote to load a server elsewhere"
        );
    }
    Ok(url)
}

/// `base` + `path` (which starts with `/`), keeping any path prefix of `base`.
fn endpoint(base: &Url, path: &str) -> anyhow::Result<Url> {
    let joined = format!("{}{path}", base.as_str().trim_end_matches('/'));
    Url::parse(&joined).with_context(|| format!("bad URL {joined}"))
}

/// Requests left in a run: stops at the deadline or after `max` requests, whichever first.
#[derive(Debug)]
pub struct Budget {
    deadline: Instant,
    max: u64,
    issued: AtomicU64,
}

impl Budget {
    pub fn new(duration: Duration, max: u64) -> Self {
        Self {
            deadline: Instant::now() + duration,
            max,
            issued: AtomicU64::new(0),
        }
    }

    /// Claims one request; `false` once the run is over.
    pub fn take(&self) -> bool {
        Instant::now() < self.deadline && self.issued.fetch_add(1, Ordering::Relaxed) < self.max
    }

    pub fn stopped_by(&self) -> &'static str {
        if self.issued.load(Ordering::Relaxed) >= self.max {
            "max_requests"
        } else {
            "duration"
        }
    }
}

/// The outcome of one subcommand.
#[derive(Debug)]
pub struct Report {
    pub scenario: &'static str,
    pub endpoint: &'static str,
    pub base_url: Url,
    pub concurrency: usize,
    pub duration: Duration,
    pub max_requests: u64,
    pub stopped_by: &'static str,
    /// Workers were still busy when the hard time limit hit and were cancelled.
    pub cancelled: bool,
    /// Account creation before the measured phase (`login` only).
    pub setup: Option<Summary>,
    pub main: Summary,
    /// Over the whole run, setup included.
    pub memory: Option<MemoryReport>,
    /// Server RSS when the measured phase started (`login` only).
    pub rss_after_setup_mib: Option<f64>,
}

impl Report {
    pub fn to_json(&self) -> Value {
        let mut out = json!({
            "scenario": self.scenario,
            "endpoint": self.endpoint,
            "base_url": self.base_url.as_str(),
            "concurrency": self.concurrency,
            "duration_secs": self.duration.as_secs_f64(),
            "max_requests": self.max_requests,
            "stopped_by": self.stopped_by,
            "cancelled": self.cancelled,
        });
        if let (Some(obj), Value::Object(main)) = (out.as_object_mut(), self.main.to_json()) {
            obj.extend(main);
            if let Some(setup) = &self.setup {
                obj.insert("setup".into(), setup.to_json());
            }
            obj.insert(
                "memory".into(),
                self.memory.as_ref().map_or(Value::Null, |m| {
                    let mut v = m.to_json();
                    if let (Some(o), Some(rss)) = (v.as_object_mut(), self.rss_after_setup_mib) {
                        o.insert("rss_after_setup_mib".into(), json!(round3(rss)));
                    }
                    v
                }),
            );
        }
        out
    }

    pub fn to_text(&self) -> String {
        let mut lines = vec![format!(
            "{} — {} against {} ({} workers, up to {} s or {} requests; stopped by {}{})",
            self.scenario,
            self.endpoint,
            self.base_url,
            self.concurrency,
            self.duration.as_secs(),
            self.max_requests,
            self.stopped_by,
            if self.cancelled {
                ", stragglers cancelled"
            } else {
                ""
            }
        )];
        if let Some(setup) = &self.setup {
            lines.push("  setup (POST /api/v1/auth/register, one per worker):".into());
            lines.extend(setup.text_lines("    "));
            lines.push("  measured:".into());
            lines.extend(self.main.text_lines("    "));
        } else {
            lines.extend(self.main.text_lines("  "));
        }
        if let Some(m) = &self.memory {
            lines.push(m.text_line("  "));
            if let Some(rss) = self.rss_after_setup_mib {
                lines.push(format!(
                    "  server RSS   {rss:.1} MiB when the measured phase started"
                ));
            }
        }
        lines.join("\n")
    }
}

fn client(cfg: &RunConfig) -> anyhow::Result<Client> {
    Client::builder()
        .timeout(cfg.request_timeout)
        .connect_timeout(cfg.request_timeout.min(Duration::from_secs(3)))
        .pool_max_idle_per_host(cfg.concurrency)
        .user_agent(concat!("fimy-load-tests/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")
}

/// Runs workers to completion, or cancels them `grace` after the run's deadline.
/// Returns their merged stats and whether any had to be cancelled.
pub async fn join_workers(mut set: JoinSet<Stats>, hard_limit: Duration) -> (Stats, bool) {
    let mut total = Stats::default();
    let collected = tokio::time::timeout(hard_limit, async {
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(stats) => total.merge(stats),
                Err(_) => total.record_error("worker_panicked"),
            }
        }
    })
    .await;
    let cancelled = collected.is_err();
    set.abort_all();
    (total, cancelled)
}

fn hard_limit(cfg: &RunConfig) -> Duration {
    cfg.duration + cfg.request_timeout + Duration::from_secs(5)
}

fn start_sampler(cfg: &RunConfig, limit: Duration) -> anyhow::Result<Option<Sampler>> {
    cfg.server_pid
        .map(|pid| Sampler::start(pid, limit))
        .transpose()
}

async fn finish_sampler(sampler: Option<Sampler>) -> anyhow::Result<Option<MemoryReport>> {
    match sampler {
        Some(s) => Ok(Some(s.finish().await?)),
        None => Ok(None),
    }
}

/// Catalogue searches, rotated per request. Some pages are small so that `next_cursor`
/// is set even on the demo catalogue.
const CATALOGUE_QUERIES: &[&[(&str, &str)]] = &[
    &[("q", "spa")],
    &[("category", "restaurant")],
    &[("lat", "45.5019"), ("lon", "-73.5674"), ("radius_km", "5")],
    &[("q", "creme brulee")],
    &[("sort", "price_asc"), ("limit", "3")],
    &[("category", "spa"), ("sort", "price_asc")],
    &[
        ("lat", "48.8566"),
        ("lon", "2.3522"),
        ("radius_km", "5"),
        ("limit", "2"),
    ],
    &[("q", "escalade")],
    &[("category", "hotel")],
    &[("q", "hotel"), ("limit", "2")],
    &[("category", "activity"), ("sort", "price_asc")],
    &[
        ("q", "spa"),
        ("lat", "48.8566"),
        ("lon", "2.3522"),
        ("radius_km", "5"),
    ],
    &[
        ("category", "restaurant"),
        ("lat", "45.5019"),
        ("lon", "-73.5674"),
        ("radius_km", "5"),
    ],
    &[("limit", "4")],
];

/// Every this many searches a worker follows the page's `next_cursor`, once.
const FOLLOW_CURSOR_EVERY: usize = 3;

/// One GET; returns the page's `next_cursor` when `want_cursor` and it has one.
async fn catalogue_page(
    client: &Client,
    url: &Url,
    query: &[(&str, &str)],
    cursor: Option<&str>,
    want_cursor: bool,
    stats: &mut Stats,
) -> Option<String> {
    let started = Instant::now();
    let mut req = client.get(url.clone()).query(query);
    if let Some(c) = cursor {
        req = req.query(&[("cursor", c)]);
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            stats.record_error(transport_error_kind(&e));
            return None;
        }
    };
    let status = resp.status();
    let body = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => {
            stats.record_error(transport_error_kind(&e));
            return None;
        }
    };
    let latency = started.elapsed();
    if status != StatusCode::OK {
        stats.record_error(format!("http_{}", status.as_u16()));
        return None;
    }
    if !want_cursor {
        stats.record_ok(latency);
        return None;
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(page) if page.get("items").is_some_and(Value::is_array) => {
            stats.record_ok(latency);
            page.get("next_cursor")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }
        _ => {
            stats.record_error("bad_body");
            None
        }
    }
}

async fn catalogue_worker(client: Client, url: Url, worker: usize, budget: Arc<Budget>) -> Stats {
    let mut stats = Stats::default();
    let mut n = 0usize;
    while budget.take() {
        // Workers start at different places in the rotation.
        let query = CATALOGUE_QUERIES[(worker + n) % CATALOGUE_QUERIES.len()];
        let follow = n % FOLLOW_CURSOR_EVERY == FOLLOW_CURSOR_EVERY - 1;
        let next = catalogue_page(&client, &url, query, None, follow, &mut stats).await;
        if let Some(cursor) = next
            && budget.take()
        {
            catalogue_page(&client, &url, query, Some(&cursor), false, &mut stats).await;
        }
        n += 1;
    }
    stats
}

/// `catalogue`: concurrent searches over GET /api/v1/experiences.
pub async fn catalogue(cfg: &RunConfig) -> anyhow::Result<Report> {
    let client = client(cfg)?;
    let url = endpoint(&cfg.base_url, "/api/v1/experiences")?;
    let sampler = start_sampler(cfg, hard_limit(cfg))?;
    let budget = Arc::new(Budget::new(cfg.duration, cfg.max_requests));
    let started = Instant::now();
    let mut set = JoinSet::new();
    for worker in 0..cfg.concurrency {
        set.spawn(catalogue_worker(
            client.clone(),
            url.clone(),
            worker,
            budget.clone(),
        ));
    }
    let (stats, cancelled) = join_workers(set, hard_limit(cfg)).await;
    let main = Summary::new(stats, started.elapsed());
    Ok(Report {
        scenario: "catalogue",
        endpoint: "GET /api/v1/experiences",
        base_url: cfg.base_url.clone(),
        concurrency: cfg.concurrency,
        duration: cfg.duration,
        max_requests: cfg.max_requests,
        stopped_by: budget.stopped_by(),
        cancelled,
        setup: None,
        main,
        memory: finish_sampler(sampler).await?,
        rss_after_setup_mib: None,
    })
}

/// Distinguishes this run's accounts from earlier runs' (emails are unique).
fn run_id() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{millis}-{}", std::process::id())
}

/// Registers one fresh customer account and returns its session token.
async fn register(
    client: &Client,
    url: &Url,
    run: &str,
    worker: usize,
    stats: &mut Stats,
) -> Option<String> {
    let body = json!({
        "email": format!("load-{run}-{worker}@loadtest.example.com"),
        "password": format!("load-test-password-{run}"),
        "display_name": format!("Load test {worker}"),
    });
    let started = Instant::now();
    let resp = match client.post(url.clone()).json(&body).send().await {
        Ok(r) => r,
        Err(e) => {
            stats.record_error(transport_error_kind(&e));
            return None;
        }
    };
    let status = resp.status();
    let body = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => {
            stats.record_error(transport_error_kind(&e));
            return None;
        }
    };
    let latency = started.elapsed();
    if !status.is_success() {
        stats.record_error(format!("http_{}", status.as_u16()));
        return None;
    }
    let token = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("token").and_then(Value::as_str).map(str::to_owned));
    match token {
        Some(t) => {
            stats.record_ok(latency);
            Some(t)
        }
        None => {
            stats.record_error("bad_body");
            None
        }
    }
}

async fn me_worker(client: Client, url: Url, token: String, budget: Arc<Budget>) -> Stats {
    let mut stats = Stats::default();
    let auth = format!("Bearer {token}");
    while budget.take() {
        let started = Instant::now();
        let resp = match client
            .get(url.clone())
            .header(reqwest::header::AUTHORIZATION, &auth)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                stats.record_error(transport_error_kind(&e));
                continue;
            }
        };
        let status = resp.status();
        match resp.bytes().await {
            Err(e) => stats.record_error(transport_error_kind(&e)),
            Ok(_) if status == StatusCode::OK => stats.record_ok(started.elapsed()),
            Ok(_) => stats.record_error(format!("http_{}", status.as_u16())),
        }
    }
    stats
}

/// `login`: one fresh account per worker, then authenticated GET /api/v1/me.
pub async fn login(cfg: &RunConfig) -> anyhow::Result<Report> {
    let client = client(cfg)?;
    let register_url = endpoint(&cfg.base_url, "/api/v1/auth/register")?;
    let me_url = endpoint(&cfg.base_url, "/api/v1/me")?;
    let setup_limit = cfg.request_timeout * 3;
    let sampler = start_sampler(cfg, setup_limit + hard_limit(cfg))?;

    // Setup: all registrations at once (each one is an Argon2 hash on the server).
    let run = run_id();
    let setup_started = Instant::now();
    let mut set = JoinSet::new();
    for worker in 0..cfg.concurrency {
        let (client, url, run) = (client.clone(), register_url.clone(), run.clone());
        set.spawn(async move {
            let mut stats = Stats::default();
            let token = register(&client, &url, &run, worker, &mut stats).await;
            (stats, token)
        });
    }
    let mut setup_stats = Stats::default();
    let mut tokens = Vec::new();
    let _ = tokio::time::timeout(setup_limit, async {
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((stats, token)) => {
                    setup_stats.merge(stats);
                    tokens.extend(token);
                }
                Err(_) => setup_stats.record_error("worker_panicked"),
            }
        }
    })
    .await;
    set.abort_all();
    let setup = Summary::new(setup_stats, setup_started.elapsed());
    let rss_after_setup_mib = cfg
        .server_pid
        .and_then(|pid| memory::read_status(pid).ok())
        .map(|m| m.rss_kib as f64 / 1024.0);

    // Measured: authenticated reads, one worker per account that could be created.
    let budget = Arc::new(Budget::new(cfg.duration, cfg.max_requests));
    let started = Instant::now();
    let workers = tokens.len();
    let mut set = JoinSet::new();
    for token in tokens {
        set.spawn(me_worker(
            client.clone(),
            me_url.clone(),
            token,
            budget.clone(),
        ));
    }
    let (stats, cancelled) = if workers == 0 {
        (Stats::default(), false)
    } else {
        join_workers(set, hard_limit(cfg)).await
    };
    let main = Summary::new(stats, started.elapsed());
    Ok(Report {
        scenario: "login",
        endpoint: "GET /api/v1/me (Authorization: Bearer)",
        base_url: cfg.base_url.clone(),
        // Fewer workers read when some registrations failed: see the setup's `ok`.
        concurrency: cfg.concurrency,
        duration: cfg.duration,
        max_requests: cfg.max_requests,
        stopped_by: if workers == 0 {
            "no_accounts"
        } else {
            budget.stopped_by()
        },
        cancelled,
        setup: Some(setup),
        main,
        memory: finish_sampler(sampler).await?,
        rss_after_setup_mib,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    #[test]
    fn base_url_must_be_loopback_unless_allowed() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:8080/",
            "http://[::1]:8080",
            "http://127.0.0.2/prefix",
        ] {
            assert!(parse_base_url(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com",
            "http://10.0.0.1:8080",
            "ftp://127.0.0.1",
            "not a url",
            "http://127.0.0.1/?x=1",
        ] {
            assert!(parse_base_url(bad, false).is_err(), "{bad}");
        }
        assert!(parse_base_url("http://example.com", true).is_ok());
    }

    #[test]
    fn endpoints_keep_the_base_path() -> anyhow::Result<()> {
        let base = parse_base_url("http://127.0.0.1:8080/", false)?;
        assert_eq!(
            endpoint(&base, "/api/v1/me")?.as_str(),
            "http://127.0.0.1:8080/api/v1/me"
        );
        let base = parse_base_url("http://127.0.0.1:8080/fimy/", false)?;
        assert_eq!(
            endpoint(&base, "/api/v1/me")?.as_str(),
            "http://127.0.0.1:8080/fimy/api/v1/me"
        );
        Ok(())
    }

    #[test]
    fn budget_stops_at_max() {
        let b = Budget::new(Duration::from_secs(60), 3);
        assert!(b.take() && b.take() && b.take());
        assert!(!b.take());
        assert_eq!(b.stopped_by(), "max_requests");
        let b = Budget::new(Duration::ZERO, 3);
        assert!(!b.take());
        assert_eq!(b.stopped_by(), "duration");
    }

    /// A tiny keep-alive HTTP/1.1 server imitating the three endpoints used.
    struct Mock {
        base: Url,
        seen: Arc<AtomicU64>,
        cursors: Arc<AtomicU64>,
    }

    async fn mock_server() -> anyhow::Result<Mock> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base = Url::parse(&format!("http://{}/", listener.local_addr()?))?;
        let seen = Arc::new(AtomicU64::new(0));
        let cursors = Arc::new(AtomicU64::new(0));
        let (s, c) = (seen.clone(), cursors.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, s.clone(), c.clone()));
            }
        });
        Ok(Mock {
            base,
            seen,
            cursors,
        })
    }

    async fn serve(
        mut stream: TcpStream,
        seen: Arc<AtomicU64>,
        cursors: Arc<AtomicU64>,
    ) -> anyhow::Result<()> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let head_end = loop {
                if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break p + 4;
                }
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(());
                }
                buf.extend_from_slice(&chunk[..n]);
            };
            let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
            let header = |name: &str| {
                head.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                })
            };
            let len: usize = header("content-length").map_or(Ok(0), |v| v.parse())?;
            while buf.len() < head_end + len {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let body: Vec<u8> = buf.drain(..head_end + len).skip(head_end).collect();
            seen.fetch_add(1, Ordering::Relaxed);

            let mut words = head.split_whitespace();
            let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            let (status, reply) = match (method, target.split('?').next().unwrap_or("")) {
                ("POST", "/api/v1/auth/register") => {
                    let v: Value = serde_json::from_slice(&body)?;
                    let email = v["email"].as_str().unwrap_or("");
                    if v["password"].is_string() && v["display_name"].is_string() {
                        ("201 Created", json!({ "token": format!("tok-{email}") }))
                    } else {
                        ("422 Unprocessable Entity", json!({}))
                    }
                }
                ("GET", "/api/v1/me") => match header("authorization") {
                    Some(a) if a.starts_with("Bearer tok-load-") => {
                        ("200 OK", json!({ "id": "u" }))
                    }
                    _ => ("401 Unauthorized", json!({})),
                },
                ("GET", "/api/v1/experiences") if target.contains("cursor=") => {
                    cursors.fetch_add(1, Ordering::Relaxed);
                    ("200 OK", json!({ "items": [], "next_cursor": null }))
                }
                ("GET", "/api/v1/experiences") => {
                    ("200 OK", json!({ "items": [{}], "next_cursor": "c2" }))
                }
                _ => ("404 Not Found", json!({})),
            };
            let reply = reply.to_string();
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{reply}",
                reply.len()
            );
            stream.write_all(response.as_bytes()).await?;
        }
    }

    fn config(base: Url, duration: Duration, max_requests: u64) -> RunConfig {
        RunConfig {
            base_url: base,
            concurrency: 4,
            duration,
            max_requests,
            request_timeout: Duration::from_secs(2),
            server_pid: Some(std::process::id()),
        }
    }

    #[tokio::test]
    async fn catalogue_stops_at_max_requests() -> anyhow::Result<()> {
        let mock = mock_server().await?;
        let cfg = config(mock.base.clone(), Duration::from_secs(8), 300);
        let report = catalogue(&cfg).await?;
        assert_eq!(report.main.requests, 300);
        assert_eq!(report.main.ok, 300, "{:?}", report.main.errors);
        assert_eq!(mock.seen.load(Ordering::Relaxed), 300);
        assert!(mock.cursors.load(Ordering::Relaxed) > 0);
        assert_eq!(report.stopped_by, "max_requests");
        assert!(!report.cancelled);
        assert!(report.memory.is_some());
        let json = report.to_json();
        assert_eq!(json["requests"], 300);
        assert!(json["latency_ms"]["p99"].is_number());
        assert!(json["memory"]["peak_rss_mib"].is_number());
        Ok(())
    }

    #[tokio::test]
    async fn catalogue_stops_at_deadline() -> anyhow::Result<()> {
        let mock = mock_server().await?;
        let cfg = config(mock.base.clone(), Duration::from_millis(500), u64::MAX);
        let started = Instant::now();
        let report = catalogue(&cfg).await?;
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(report.stopped_by, "duration");
        assert!(report.main.requests > 0);
        assert_eq!(report.main.requests, mock.seen.load(Ordering::Relaxed));
        Ok(())
    }

    #[tokio::test]
    async fn login_registers_then_reads_me() -> anyhow::Result<()> {
        let mock = mock_server().await?;
        let cfg = config(mock.base.clone(), Duration::from_secs(8), 100);
        let report = login(&cfg).await?;
        let setup = report.setup.as_ref().map(|s| (s.requests, s.ok));
        assert_eq!(setup, Some((4, 4)));
        assert_eq!(report.main.requests, 100);
        assert_eq!(report.main.ok, 100, "{:?}", report.main.errors);
        assert_eq!(mock.seen.load(Ordering::Relaxed), 104);
        assert!(report.to_text().contains("measured:"));
        Ok(())
    }

    #[tokio::test]
    async fn transport_errors_are_counted_and_the_run_ends() -> anyhow::Result<()> {
        // Bind then drop, so the port is (almost certainly) closed.
        let port = TcpListener::bind("127.0.0.1:0").await?.local_addr()?.port();
        let base = Url::parse(&format!("http://127.0.0.1:{port}"))?;
        let mut cfg = config(base, Duration::from_secs(2), 20);
        cfg.server_pid = None;
        let report = catalogue(&cfg).await?;
        assert_eq!(report.main.requests, 20);
        assert_eq!(report.main.ok, 0);
        assert_eq!(report.main.errors.get("transport_connect"), Some(&20));
        assert!(report.main.latency_ms.is_none());
        let login = login(&cfg).await?;
        assert_eq!(login.stopped_by, "no_accounts");
        assert_eq!(login.main.requests, 0);
        Ok(())
    }
}

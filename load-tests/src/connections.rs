//! `connections`: C idle websockets (authenticated, no subscription), opened from several
//! local addresses (127.0.0.2, 127.0.0.3, … — each has its own ~28k ephemeral ports), held
//! open a while, with the server's RSS before, during and after: memory per connection.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::api::{self, Api};
use crate::memory::read_status;
use crate::phase::Report;
use crate::progress::{Counters, Progress};
use crate::stats::{Latency, Stats, round3};
use crate::svg::{BLUE, Chart, Panel, Series};
use crate::ws::{self, Target};

#[derive(Debug, Clone)]
pub struct Config {
    pub api: Api,
    pub connections: usize,
    /// Connections per local address before moving to the next.
    pub per_address: usize,
    /// Handshakes in flight at once.
    pub open_concurrency: usize,
    /// How long all connections stay open, idle, once opened.
    pub hold: Duration,
    pub server_pid: u32,
    pub svg: Option<PathBuf>,
    pub run: String,
}

/// `Max open files` (soft) of a process, from `/proc/<pid>/limits`.
fn open_files_limit(pid: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    Ok(read_status(pid)?.rss_kib)
}

pub async fn run(cfg: &Config) -> anyhow::Result<Report> {
    let api = &cfg.api;
    let target = Target::of(&api.base)?;
    let token = api
        .register(&format!("connections-{}@loadtest.example.com", cfg.run))
        .await?;
    // One websocket first: the server's per-connection machinery is warm before "before".
    let warm = ws::open(&target, None, &token)
        .await
        .map_err(|k| anyhow!("opening a first websocket: {k}"))?;
    drop(warm);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut report = Report::default();
    let limits = (
        open_files_limit("self"),
        open_files_limit(&cfg.server_pid.to_string()),
    );
    for (who, lim) in [("this generator", limits.0), ("the server", limits.1)] {
        if let Some(l) = lim
            && (l as usize) < cfg.connections + 100
        {
            report.lines.push(format!(
                "  note: {who} may open {l} files; raise `ulimit -n` for {} connections",
                cfg.connections
            ));
        }
    }
    let before = rss_kib(cfg.server_pid)?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let counters = Arc::new(Counters::default());
    let progress = Progress::start(
        "connections (open)".into(),
        Duration::from_secs(30),
        counters.clone(),
    );
    let permits = Arc::new(Semaphore::new(cfg.open_concurrency.max(1)));
    let (open_tx, mut open_rx) = tokio::sync::mpsc::unbounded_channel::<Result<Duration, String>>();
    let mut holders = JoinSet::new();
    let started = Instant::now();
    for i in 0..cfg.connections {
        let permit = permits.clone().acquire_owned().await.context("semaphore")?;
        let (target, token, tx, mut stop, counters) = (
            target.clone(),
            token.clone(),
            open_tx.clone(),
            stop_rx.clone(),
            counters.clone(),
        );
        let local = api::loopback(u32::try_from(i / cfg.per_address.max(1)).unwrap_or(0));
        holders.spawn(async move {
            let t = Instant::now();
            let opened = ws::open(&target, Some(local), &token).await;
            drop(permit);
            let mut sock = match opened {
                Ok(s) => {
                    counters.ok();
                    let _ = tx.send(Ok(t.elapsed()));
                    drop(tx);
                    s
                }
                Err(kind) => {
                    counters.error();
                    let _ = tx.send(Err(kind));
                    return false;
                }
            };
            // Idle: answer the server's pings (the library does on read) until told to stop.
            loop {
                tokio::select! {
                    _ = stop.changed() => return true,
                    m = sock.next() => match m {
                        Some(Ok(_)) => {}
                        _ => return false,
                    },
                }
            }
        });
    }
    drop(open_tx);
    // Collect the handshakes, sampling the server's memory as connections accumulate.
    let mut stats = Stats::default();
    let mut curve = vec![(0.0, before as f64 / 1024.0)];
    let step = (cfg.connections / 20).max(1);
    let mut done = 0usize;
    // Each connection reports once (its task keeps running, idle, afterwards).
    while done < cfg.connections {
        let Some(r) = open_rx.recv().await else {
            break;
        };
        done += 1;
        match r {
            Ok(d) => stats.record_ok(d),
            Err(kind) => stats.record_error(kind),
        }
        if done.is_multiple_of(step)
            && let Ok(r) = rss_kib(cfg.server_pid)
        {
            curve.push((stats.ok as f64, r as f64 / 1024.0));
        }
    }
    let open_secs = started.elapsed().as_secs_f64();
    progress.finish().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all_open = rss_kib(cfg.server_pid)?;
    tokio::time::sleep(cfg.hold).await;
    let held = rss_kib(cfg.server_pid)?;
    curve.push((stats.ok as f64, held as f64 / 1024.0));
    // Still open after the hold? (the server pings every 10 s and drops silent clients)
    let _ = stop_tx.send(true);
    let mut still_open = 0usize;
    while let Some(r) = holders.join_next().await {
        if matches!(r, Ok(true)) {
            still_open += 1;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let closed = rss_kib(cfg.server_pid)?;

    let opened = stats.ok;
    let per_conn_kib = if opened > 0 {
        (held as f64 - before as f64) / opened as f64
    } else {
        0.0
    };
    let addresses = cfg.connections.div_ceil(cfg.per_address.max(1));
    report.measured = opened > 0;
    report.lines.insert(
        0,
        format!(
            "connections — {} idle websockets to {} from {addresses} local address(es) (127.0.0.2 on, {} each), held {} s",
            cfg.connections,
            target.url,
            cfg.per_address,
            cfg.hold.as_secs()
        ),
    );
    report.lines.push(format!(
        "  opened       {opened} in {open_secs:.2} s ({:.0}/s), failed {}{}",
        opened as f64 / open_secs.max(1e-9),
        stats.error_count(),
        if stats.errors.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                stats
                    .errors
                    .iter()
                    .map(|(k, n)| format!("{k}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    ));
    if let Some(l) = Latency::from_hist(&stats.hist) {
        report.lines.push(format!("  handshake ms {}", l.text()));
    }
    report.lines.push(format!(
        "  server RSS   before {:.1} MiB, all open {:.1} MiB, after {} s idle {:.1} MiB, after closing {:.1} MiB",
        before as f64 / 1024.0,
        all_open as f64 / 1024.0,
        cfg.hold.as_secs(),
        held as f64 / 1024.0,
        closed as f64 / 1024.0
    ));
    report.lines.push(format!(
        "  per connection {per_conn_kib:.1} KiB of server RSS ((after idle − before) / opened)"
    ));
    report.check(
        "all_opened_and_held",
        opened as usize == cfg.connections && still_open == cfg.connections,
        format!(
            "{opened} of {} opened, {still_open} still open after the hold",
            cfg.connections
        ),
    );
    let errors: BTreeMap<String, u64> = stats.errors.clone();
    report.json.insert("scenario".into(), json!("connections"));
    report
        .json
        .insert("connections".into(), json!(cfg.connections));
    report.json.insert("opened".into(), json!(opened));
    report
        .json
        .insert("still_open_after_hold".into(), json!(still_open));
    report.json.insert("errors_by_kind".into(), json!(errors));
    report.json.insert("addresses".into(), json!(addresses));
    report
        .json
        .insert("open_secs".into(), json!(round3(open_secs)));
    report.json.insert(
        "handshake_ms".into(),
        json!(Latency::from_hist(&stats.hist).map(Latency::to_json)),
    );
    report.json.insert(
        "server_rss_kib".into(),
        json!({"before": before, "all_open": all_open, "after_hold": held, "after_close": closed}),
    );
    report
        .json
        .insert("per_connection_kib".into(), json!(round3(per_conn_kib)));
    Chart {
        title: format!(
            "connections: server RSS against idle websockets ({per_conn_kib:.1} KiB each)"
        ),
        x_label: "websockets open".into(),
        panels: vec![Panel {
            y_label: "server RSS, MiB".into(),
            series: vec![Series {
                name: "RSS".into(),
                color: BLUE,
                points: curve,
            }],
        }],
    }
    .write(cfg.svg.as_deref())?;
    Ok(report)
}

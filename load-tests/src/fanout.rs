//! `fanout`: K websocket subscribers follow ONE card's topic while tablets redeem on it at
//! a paced rate (one or more steps); each event's latency is its arrival time minus its
//! `at` (the server's commit time, same machine clock). Afterwards every subscriber must
//! have seen the same events, numbered without a gap.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use crate::api::{self, Api, DataDir, Outcome};
use crate::phase::{PhaseConfig, Report};
use crate::progress::{Counters, Progress};
use crate::stats::{Latency, Stats, histogram, round3};
use crate::svg::{BLUE, Chart, GREEN, Panel, RED, Series};
use crate::ws::{self, Target};

#[derive(Debug, Clone)]
pub struct Config {
    pub api: Api,
    pub data: DataDir,
    /// `workers` = producers (tablets), `duration` = length of each step.
    pub phase: PhaseConfig,
    pub subscribers: usize,
    /// Offered redemptions per second, one step each.
    pub rates: Vec<f64>,
    pub svg: Option<PathBuf>,
    pub run: String,
}

/// One event as a subscriber saw it.
#[derive(Debug, Clone, Copy)]
struct Seen {
    seq: i64,
    at: DateTime<Utc>,
    latency_us: u64,
}

/// What one subscriber saw over the run.
#[derive(Debug, Default)]
struct Subscriber {
    seen: Vec<Seen>,
    errors: Vec<String>,
}

async fn subscribe_all(
    target: &Target,
    token: &str,
    topic: &str,
    k: usize,
) -> anyhow::Result<Vec<ws::Ws>> {
    let mut out = Vec::with_capacity(k);
    for i in 0..k {
        let local = api::loopback(u32::try_from(i / 20_000).unwrap_or(0));
        let mut sock = ws::open(target, Some(local), token)
            .await
            .map_err(|kind| anyhow!("opening subscriber {i}: {kind}"))?;
        sock.send(ws::subscribe(topic))
            .await
            .context("subscribing")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = tokio::time::timeout(left, sock.next())
                .await
                .map_err(|_| anyhow!("subscriber {i}: no `subscribed` within 10 s"))?;
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                    match v["type"].as_str() {
                        Some("subscribed") => break,
                        Some("error") => bail!("subscriber {i}: {v}"),
                        _ => {}
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => bail!("subscriber {i}: {e}"),
                None => bail!("subscriber {i}: closed before subscribing"),
            }
        }
        out.push(sock);
    }
    Ok(out)
}

async fn listen(
    mut sock: ws::Ws,
    topic: String,
    mut stop: watch::Receiver<bool>,
    counters: Arc<Counters>,
) -> Subscriber {
    let mut me = Subscriber::default();
    loop {
        let msg = tokio::select! {
            _ = stop.changed() => break,
            m = sock.next() => m,
        };
        let text = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(_))) | None => {
                me.errors.push("closed_by_server".into());
                break;
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) => {
                me.errors.push("ws_error".into());
                break;
            }
        };
        let arrived = Utc::now();
        let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else {
            me.errors.push("bad_message".into());
            continue;
        };
        match v["type"].as_str() {
            Some("event") if v["topic"] == topic.as_str() => {
                let at = v["at"]
                    .as_str()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok());
                let (Some(at), Some(seq)) = (at, v["seq"].as_i64()) else {
                    me.errors.push("bad_event".into());
                    continue;
                };
                let at = at.with_timezone(&Utc);
                let latency_us =
                    u64::try_from((arrived - at).num_microseconds().unwrap_or(0)).unwrap_or(0);
                me.seen.push(Seen {
                    seq,
                    at,
                    latency_us,
                });
                counters.ok();
            }
            Some("error") => me.errors.push(format!(
                "server_error_{}",
                v["code"].as_str().unwrap_or("?")
            )),
            _ => {}
        }
    }
    let _ = sock.close(None).await;
    me
}

/// One paced step of redemptions; returns (sent ok, errors by kind, start, end).
async fn produce(
    api: &Api,
    tablets: &Arc<Vec<String>>,
    path: &str,
    body: &Arc<Value>,
    rate: f64,
    duration: Duration,
) -> (Stats, DateTime<Utc>, DateTime<Utc>) {
    let producers = tablets.len();
    let start_utc = Utc::now();
    let start = tokio::time::Instant::now();
    let total = (rate * duration.as_secs_f64()).round() as u64;
    let mut set = JoinSet::new();
    for p in 0..producers {
        let (api, tablets, path, body) =
            (api.clone(), tablets.clone(), path.to_owned(), body.clone());
        set.spawn(async move {
            let mut stats = Stats::default();
            let mut n = p as u64;
            while n < total {
                let due = start + Duration::from_secs_f64(n as f64 / rate);
                tokio::time::sleep_until(due).await;
                if start.elapsed() > duration + Duration::from_secs(2) {
                    stats.record_error("behind_schedule");
                    break;
                }
                let t = Instant::now();
                match api
                    .call(
                        Method::POST,
                        &path,
                        Some(&tablets[p]),
                        Some(&body),
                        StatusCode::CREATED,
                    )
                    .await
                {
                    Outcome::Ok(_) => stats.record_ok(t.elapsed()),
                    other => stats.record_error(other.kind()),
                }
                n += producers as u64;
            }
            stats
        });
    }
    let mut all = Stats::default();
    while let Some(r) = set.join_next().await {
        match r {
            Ok(s) => all.merge(s),
            Err(_) => all.record_error("producer_panicked"),
        }
    }
    (all, start_utc, Utc::now())
}

struct Step {
    rate: f64,
    produced: Stats,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    elapsed: f64,
}

pub async fn run(cfg: &Config) -> anyhow::Result<Report> {
    let api = &cfg.api;
    let target = Target::of(&api.base)?;
    let owner = cfg.data.demo_login(api, "partner owner").await?;
    let partner = api.partner_of(&owner).await?;
    let currency = api::partner_currency(api, &partner).await?;
    let producers = cfg.phase.workers.max(1);
    let tablets = Arc::new(api.devices(&owner, &partner, producers, &cfg.run).await?);
    let email = format!("fanout-{}@loadtest.example.com", cfg.run);
    let holder = api::holder(api, &cfg.data, &email, 500_000, &currency, api::loopback(0)).await?;
    let topic = format!("card:{}", holder.card);
    let socks = subscribe_all(&target, &holder.token, &topic, cfg.subscribers).await?;
    let rss_subscribed = cfg
        .phase
        .server_pid
        .and_then(|pid| crate::memory::read_status(pid).ok())
        .map(|m| m.rss_kib);

    let (stop_tx, stop_rx) = watch::channel(false);
    let counters = Arc::new(Counters::default());
    let mut listeners = JoinSet::new();
    for s in socks {
        listeners.spawn(listen(s, topic.clone(), stop_rx.clone(), counters.clone()));
    }
    let planned = cfg.phase.duration * u32::try_from(cfg.rates.len()).unwrap_or(1);
    let progress = Progress::start("fanout (events received)".into(), planned, counters.clone());
    let path = format!("/api/v1/partners/{partner}/redemptions");
    let body = Arc::new(json!({"code": holder.code, "amount_minor": 1}));
    let mut steps = Vec::new();
    for &rate in &cfg.rates {
        let t = Instant::now();
        let (produced, start, end) =
            produce(api, &tablets, &path, &body, rate, cfg.phase.duration).await;
        steps.push(Step {
            rate,
            produced,
            start,
            end,
            elapsed: t.elapsed().as_secs_f64(),
        });
    }
    // Let the last events arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stop_tx.send(true);
    let mut subs = Vec::new();
    while let Some(r) = listeners.join_next().await {
        subs.push(r.unwrap_or_default());
    }
    progress.finish().await;

    // Per step: latencies of the events committed within it, over all subscribers.
    let mut report = Report::default();
    report.lines.push(format!(
        "fanout — {} subscribers on {topic}, redemptions by {producers} tablets at {} events/s offered, {} s per step",
        cfg.subscribers,
        cfg.rates.iter().map(|r| format!("{r}")).collect::<Vec<_>>().join(", "),
        cfg.phase.duration.as_secs()
    ));
    let origin = steps.first().map_or_else(Utc::now, |s| s.start);
    let mut per_second: Vec<Histogram<u64>> = Vec::new();
    let mut step_json = Vec::new();
    let mut vs_rate = (Vec::new(), Vec::new());
    let mut any = false;
    for step in &steps {
        let mut h = histogram();
        for s in &subs {
            for e in s
                .seen
                .iter()
                .filter(|e| e.at >= step.start && e.at <= step.end)
            {
                h.saturating_record(e.latency_us.max(1));
            }
        }
        let ok = step.produced.ok;
        let achieved = ok as f64 / step.elapsed.max(1e-9);
        let lat = Latency::from_hist(&h);
        any |= lat.is_some();
        report.lines.push(format!(
            "  step {:>6.0}/s offered: {ok} redemptions ({achieved:.1}/s achieved){}; {} deliveries, latency ms {}",
            step.rate,
            if step.produced.errors.is_empty() {
                String::new()
            } else {
                format!(
                    ", errors {}",
                    step.produced
                        .errors
                        .iter()
                        .map(|(k, n)| format!("{k}: {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            h.len(),
            lat.map_or("none".into(), Latency::text)
        ));
        if let Some(l) = lat {
            vs_rate.0.push((achieved, l.p50));
            vs_rate.1.push((achieved, l.p99));
        }
        step_json.push(json!({
            "offered_per_sec": step.rate,
            "redemptions": ok,
            "achieved_per_sec": round3(achieved),
            "producer_errors": step.produced.errors,
            "deliveries": h.len(),
            "latency_ms": lat.map(Latency::to_json),
        }));
    }
    for s in &subs {
        for e in &s.seen {
            let i = usize::try_from((e.at - origin).num_seconds().max(0)).unwrap_or(0);
            while per_second.len() <= i {
                per_second.push(histogram());
            }
            per_second[i].saturating_record(e.latency_us.max(1));
        }
    }
    report.measured = any;
    if let Some(rss) = rss_subscribed {
        report.lines.push(format!(
            "  server RSS   {:.1} MiB with the {} subscribers connected",
            rss as f64 / 1024.0,
            cfg.subscribers
        ));
    }

    // Every subscriber saw the same events, consecutively numbered.
    let counts: Vec<usize> = subs.iter().map(|s| s.seen.len()).collect();
    let gaps: usize = subs
        .iter()
        .map(|s| {
            s.seen
                .windows(2)
                .filter(|w| w[1].seq != w[0].seq + 1)
                .count()
        })
        .sum();
    let errors: Vec<String> = subs.iter().flat_map(|s| s.errors.iter().cloned()).collect();
    let redemptions: u64 = steps.iter().map(|s| s.produced.ok).sum();
    let (min, max) = (
        counts.iter().min().copied().unwrap_or(0),
        counts.iter().max().copied().unwrap_or(0),
    );
    report.check(
        "every_subscriber_saw_every_event",
        subs.len() == cfg.subscribers && min == max && gaps == 0 && errors.is_empty() && min as u64 >= redemptions,
        format!(
            "{} subscribers saw {min}–{max} events each ({redemptions} redemptions), {gaps} gaps in the numbering{}",
            subs.len(),
            if errors.is_empty() { String::new() } else { format!(", errors: {}", errors.join(", ")) }
        ),
    );
    report.json.insert("scenario".into(), json!("fanout"));
    report
        .json
        .insert("subscribers".into(), json!(cfg.subscribers));
    report.json.insert("producers".into(), json!(producers));
    report.json.insert("steps".into(), Value::Array(step_json));
    report
        .json
        .insert("events_per_subscriber".into(), json!(max));
    report
        .json
        .insert("server_rss_subscribed_kib".into(), json!(rss_subscribed));

    let chart = if steps.len() > 1 {
        Chart {
            title: format!(
                "fanout: commit → websocket, {} subscribers",
                cfg.subscribers
            ),
            x_label: "redemptions per second achieved (each an event to every subscriber)".into(),
            panels: vec![Panel {
                y_label: "latency, ms".into(),
                series: vec![
                    Series {
                        name: "p50".into(),
                        color: BLUE,
                        points: vs_rate.0,
                    },
                    Series {
                        name: "p99".into(),
                        color: RED,
                        points: vs_rate.1,
                    },
                ],
            }],
        }
    } else {
        let mut p50 = Vec::new();
        let mut p99 = Vec::new();
        let mut rate = Vec::new();
        for (i, h) in per_second.iter().enumerate() {
            let x = i as f64 + 0.5;
            if let Some(l) = Latency::from_hist(h) {
                p50.push((x, l.p50));
                p99.push((x, l.p99));
            }
            rate.push((x, h.len() as f64));
        }
        Chart {
            title: format!(
                "fanout: commit → websocket, {} subscribers",
                cfg.subscribers
            ),
            x_label: "seconds (by the event's commit time)".into(),
            panels: vec![
                Panel {
                    y_label: "latency, ms".into(),
                    series: vec![
                        Series {
                            name: "p50".into(),
                            color: BLUE,
                            points: p50,
                        },
                        Series {
                            name: "p99".into(),
                            color: RED,
                            points: p99,
                        },
                    ],
                },
                Panel {
                    y_label: "deliveries / s".into(),
                    series: vec![Series {
                        name: "all subscribers".into(),
                        color: GREEN,
                        points: rate,
                    }],
                },
            ],
        }
    };
    chart.write(cfg.svg.as_deref())?;
    Ok(report)
}

//! `booking-storm`: many holders book places across many small slots at once — a hold
//! (`POST /api/v1/bookings`), then its confirmation (`POST /api/v1/bookings/{id}/confirm`)
//! — and afterwards no slot may be overbooked: per slot, held + booked ≤ capacity (as the
//! server reports it), and the bookings confirmed by this run fit in its capacity.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Duration as Days, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::api::{self, Api, DataDir, Holder, Outcome};
use crate::phase::{self, PhaseConfig, Report};
use crate::svg::{BLUE, Chart, GREEN, Panel, RED, Series};

#[derive(Debug, Clone)]
pub struct Config {
    pub api: Api,
    pub data: DataDir,
    pub phase: PhaseConfig,
    /// Slots booked across.
    pub slots: usize,
    /// Places per slot.
    pub capacity: u32,
    /// Length of a slot, minutes.
    pub slot_minutes: u32,
    /// Customers holding a card each (the workers share them round-robin).
    pub holders: usize,
    pub svg: Option<PathBuf>,
    pub run: String,
}

/// A slot as `GET /api/v1/experiences/{id}/slots` shows it.
#[derive(Debug, Clone)]
struct SlotView {
    starts_at: String,
    capacity: u64,
    free: u64,
    held: u64,
    booked: u64,
}

fn slot_view(v: &Value) -> Option<SlotView> {
    Some(SlotView {
        starts_at: v.get("starts_at")?.as_str()?.to_owned(),
        capacity: v.get("capacity")?.as_u64()?,
        free: v.get("free")?.as_u64()?,
        held: v.get("held")?.as_u64()?,
        booked: v.get("booked")?.as_u64()?,
    })
}

fn enc(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

/// Every slot of the experience from `from` for `days` days (windows of at most 60 days).
async fn slots(
    api: &Api,
    exp: &str,
    from: DateTime<Utc>,
    days: i64,
) -> anyhow::Result<Vec<SlotView>> {
    let mut all = Vec::new();
    let mut start = from;
    let end = from + Days::days(days);
    while start < end {
        let to = (start + Days::days(60)).min(end);
        let page = api
            .must(
                Method::GET,
                &format!(
                    "/api/v1/experiences/{exp}/slots?from={}&to={}",
                    enc(&start.to_rfc3339()),
                    enc(&to.to_rfc3339())
                ),
                None,
                None,
                StatusCode::OK,
            )
            .await?;
        let list = page
            .as_array()
            .ok_or_else(|| anyhow!("slots: not a list"))?;
        for v in list {
            all.push(slot_view(v).ok_or_else(|| anyhow!("slots: unexpected item {v}"))?);
        }
        start = to;
    }
    Ok(all)
}

/// A small deterministic generator, so that runs pick slots alike.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

pub async fn run(cfg: &Config) -> anyhow::Result<Report> {
    let api = &cfg.api;
    let setup_started = Instant::now();
    let owner = cfg.data.demo_login(api, "partner owner").await?;
    let partner = api.partner_of(&owner).await?;
    let currency = api::partner_currency(api, &partner).await?;
    let list = api
        .must(
            Method::GET,
            &format!("/api/v1/experiences?partner_id={partner}&sort=price_asc&limit=1"),
            None,
            None,
            StatusCode::OK,
        )
        .await?;
    let exp = list
        .pointer("/items/0/id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("the demo venue has no experience"))?;
    let price = list
        .pointer("/items/0/price_minor")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let weekly: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"}))
        .collect();
    api.must(
        Method::PUT,
        &format!("/api/v1/partners/{partner}/experiences/{exp}/availability"),
        Some(&owner),
        Some(&json!({
            "weekly": weekly, "capacity": cfg.capacity, "slot_minutes": cfg.slot_minutes,
            "min_notice_minutes": 0, "horizon_days": 730,
        })),
        StatusCode::OK,
    )
    .await
    .context("opening the experience around the clock")?;
    // Slots from tomorrow on (not ones about to start), with room left.
    let from = Utc::now() + Days::days(1);
    let per_day = (24 * 60 / cfg.slot_minutes.max(1)) as usize;
    let days = i64::try_from(cfg.slots.div_ceil(per_day.max(1)) * 2 + 1)
        .unwrap_or(700)
        .min(700);
    let offered: Vec<String> = slots(api, &exp, from, days)
        .await?
        .into_iter()
        .filter(|s| s.free > 0)
        .take(cfg.slots)
        .map(|s| s.starts_at)
        .collect();
    if offered.is_empty() {
        bail!("no free slot in the next {days} days");
    }
    // Enough value on each card for its share of every place, within the sandbox's limit.
    let places = offered.len() as i64 * i64::from(cfg.capacity);
    let per_holder = places / cfg.holders.max(1) as i64 + 3;
    let value = (price.max(1) * per_holder).clamp(500, 500_000);
    let holders = make_holders(cfg, value, &currency).await?;
    let setup_secs = setup_started.elapsed().as_secs_f64();

    let holders = Arc::new(holders);
    let offered = Arc::new(offered);
    let confirmed: Arc<Mutex<HashMap<usize, u64>>> = Arc::default();
    let (exp_id, api2) = (exp.clone(), api.clone());
    let result = phase::run(&cfg.phase, |i, budget, counters, mut stats| {
        let (api, holders, offered, confirmed, exp) = (
            api2.clone(),
            holders.clone(),
            offered.clone(),
            confirmed.clone(),
            exp_id.clone(),
        );
        async move {
            let h = &holders[i % holders.len()];
            let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1));
            while budget.take() {
                let k = rng.next(offered.len());
                let started = Instant::now();
                let body = json!({"card_id": h.card, "experience_id": exp,
                    "starts_at": offered[k], "party_size": 1});
                let held = api
                    .call(
                        Method::POST,
                        "/api/v1/bookings",
                        Some(&h.token),
                        Some(&body),
                        StatusCode::CREATED,
                    )
                    .await;
                let id = match held {
                    Outcome::Ok(v) => match v.get("id").and_then(Value::as_str) {
                        Some(id) => id.to_owned(),
                        None => {
                            stats.record_error("hold_bad_body");
                            counters.error();
                            continue;
                        }
                    },
                    other => {
                        stats.record_error(format!("hold_{}", other.kind()));
                        counters.error();
                        continue;
                    }
                };
                let done = api
                    .call(
                        Method::POST,
                        &format!("/api/v1/bookings/{id}/confirm"),
                        Some(&h.token),
                        None,
                        StatusCode::OK,
                    )
                    .await;
                match done {
                    Outcome::Ok(_) => {
                        stats.record_ok(started.elapsed());
                        counters.ok();
                        if let Ok(mut c) = confirmed.lock() {
                            *c.entry(k).or_default() += 1;
                        }
                    }
                    other => {
                        stats.record_error(format!("confirm_{}", other.kind()));
                        counters.error();
                    }
                }
            }
            stats
        }
    })
    .await?;

    // The server's view of every slot booked, afterwards.
    let after = slots(api, &exp, from, days).await?;
    let by_start: HashMap<&str, &SlotView> =
        after.iter().map(|s| (s.starts_at.as_str(), s)).collect();
    let mut over = Vec::new();
    let mut missing = 0usize;
    let mut booked_total = 0u64;
    let confirmed = confirmed.lock().map(|c| c.clone()).unwrap_or_default();
    for (k, start) in offered.iter().enumerate() {
        let Some(s) = by_start.get(start.as_str()) else {
            missing += 1;
            continue;
        };
        booked_total += s.booked;
        let mine = confirmed.get(&k).copied().unwrap_or(0);
        if s.held + s.booked > s.capacity
            || s.free + s.held + s.booked != s.capacity
            || mine > s.capacity
            || mine > s.booked
        {
            over.push(format!(
                "{start}: capacity {} free {} held {} booked {} (this run confirmed {mine})",
                s.capacity, s.free, s.held, s.booked
            ));
        }
    }
    let attempts = result.summary.requests;
    let mut report = Report {
        measured: result.summary.ok > 0,
        ..Report::default()
    };
    report.lines.push(format!(
        "booking-storm — hold + confirm of 1 place across {} slots of {} places ({} min), {} clients, {} holders, {} s (set-up {setup_secs:.1} s)",
        offered.len(),
        cfg.capacity,
        cfg.slot_minutes,
        cfg.phase.workers,
        holders.len(),
        cfg.phase.duration.as_secs()
    ));
    report.lines.push(format!(
        "  attempts     {attempts} ({:.1}/s); a success is a booking held and confirmed, latency of both requests together",
        attempts as f64 / result.summary.elapsed.as_secs_f64().max(1e-9)
    ));
    report.lines.extend(result.text_lines("  "));
    report.check(
        "never_overbooked",
        over.is_empty() && missing == 0,
        if over.is_empty() && missing == 0 {
            format!(
                "{} slots: held + booked ≤ capacity and free + held + booked = capacity on each; {booked_total} places booked in all, {} by this run",
                offered.len(),
                result.summary.ok
            )
        } else {
            format!(
                "{} slots wrong, {missing} no longer listed: {}",
                over.len(),
                over.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
            )
        },
    );
    report
        .json
        .insert("scenario".into(), json!("booking-storm"));
    report
        .json
        .insert("concurrency".into(), json!(cfg.phase.workers));
    report.json.insert("slots".into(), json!(offered.len()));
    report.json.insert("capacity".into(), json!(cfg.capacity));
    report.json.insert("holders".into(), json!(holders.len()));
    report.json.insert("attempts".into(), json!(attempts));
    report
        .json
        .insert("setup_secs".into(), json!(crate::stats::round3(setup_secs)));
    report.json.insert("bookings".into(), result.to_json());

    let (p50, p99, rate) = phase::series(&result.timeline);
    let refused: Vec<(f64, f64)> = result
        .timeline
        .iter()
        .map(|t| (t.second + 0.5, t.errors as f64))
        .collect();
    Chart {
        title: format!(
            "booking-storm: {} clients, {} slots of {}",
            cfg.phase.workers,
            offered.len(),
            cfg.capacity
        ),
        x_label: "seconds since the phase started".into(),
        panels: vec![
            Panel {
                y_label: "hold + confirm, ms".into(),
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
                y_label: "per second".into(),
                series: vec![
                    Series {
                        name: "confirmed".into(),
                        color: GREEN,
                        points: rate,
                    },
                    Series {
                        name: "refused".into(),
                        color: RED,
                        points: refused,
                    },
                ],
            },
        ],
    }
    .write(cfg.svg.as_deref())?;
    Ok(report)
}

/// The holders, set up a few at a time (each is a registration, a purchase, an email
/// and a claim).
async fn make_holders(cfg: &Config, value: i64, currency: &str) -> anyhow::Result<Vec<Holder>> {
    let mut out = Vec::with_capacity(cfg.holders);
    let mut set = JoinSet::new();
    let mut next = 0usize;
    while out.len() < cfg.holders {
        while set.len() < 8 && next < cfg.holders {
            let (api, data) = (cfg.api.clone(), cfg.data.clone());
            let email = format!("storm-{}-{next}@loadtest.example.com", cfg.run);
            let currency = currency.to_owned();
            // Claims are anonymous code look-ups, 30 a minute per address: spread them.
            let from = api::loopback(u32::try_from(next / 20).unwrap_or(0));
            set.spawn(
                async move { api::holder(&api, &data, &email, value, &currency, from).await },
            );
            next += 1;
        }
        match set.join_next().await {
            Some(Ok(h)) => out.push(h.context("setting up a holder")?),
            Some(Err(e)) => bail!("holder set-up panicked: {e}"),
            None => break,
        }
    }
    Ok(out)
}

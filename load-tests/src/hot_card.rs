//! `hot-card`: N tablets of one venue redeem small amounts on ONE value card at once;
//! afterwards the card's balance must equal its value minus the redemptions that were
//! answered 201, and never go below zero. `--baseline` then runs the naive design on
//! PostgreSQL in the same run, with the same concurrency (see [`crate::baseline`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, anyhow};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api::{self, Api, DataDir, Outcome};
use crate::baseline;
use crate::phase::{self, PhaseConfig, Report};
use crate::svg::{BLUE, Chart, GREEN, ORANGE, Panel, RED, Series};

#[derive(Debug, Clone)]
pub struct Config {
    pub api: Api,
    pub data: DataDir,
    pub phase: PhaseConfig,
    /// Tablet devices created for the venue, shared round-robin by the workers.
    pub tablets: usize,
    /// Minor units per redemption.
    pub amount: i64,
    /// The card's value, minor units.
    pub card_value: i64,
    /// PostgreSQL for the naive design, when `--baseline`.
    pub baseline: Option<String>,
    pub svg: Option<PathBuf>,
    pub run: String,
}

pub async fn run(cfg: &Config) -> anyhow::Result<Report> {
    let api = &cfg.api;
    let setup_started = Instant::now();
    let owner = cfg.data.demo_login(api, "partner owner").await?;
    let partner = api.partner_of(&owner).await?;
    let currency = api::partner_currency(api, &partner).await?;
    let tablets = api.devices(&owner, &partner, cfg.tablets, &cfg.run).await?;
    let email = format!("hot-card-{}@loadtest.example.com", cfg.run);
    let holder = api::holder(
        api,
        &cfg.data,
        &email,
        cfg.card_value,
        &currency,
        api::loopback(0),
    )
    .await
    .context("setting up the card")?;
    let initial = available(api, &holder.token, &holder.card).await?;
    let setup_secs = setup_started.elapsed().as_secs_f64();

    let tablets = Arc::new(tablets);
    let path = format!("/api/v1/partners/{partner}/redemptions");
    let body = Arc::new(json!({"code": holder.code, "amount_minor": cfg.amount}));
    let min_seen = Arc::new(AtomicI64::new(i64::MAX));
    let unknown = Arc::new(AtomicU64::new(0));
    let app = phase::run(&cfg.phase, |i, budget, counters, mut stats| {
        let (api, tablets, path, body) = (api.clone(), tablets.clone(), path.clone(), body.clone());
        let (min_seen, unknown) = (min_seen.clone(), unknown.clone());
        async move {
            let token = &tablets[i % tablets.len()];
            while budget.take() {
                let started = Instant::now();
                let out = api
                    .call(
                        Method::POST,
                        &path,
                        Some(token),
                        Some(&body),
                        StatusCode::CREATED,
                    )
                    .await;
                match out {
                    Outcome::Ok(v) => {
                        stats.record_ok(started.elapsed());
                        counters.ok();
                        if let Some(left) = v.get("available_minor").and_then(Value::as_i64) {
                            min_seen.fetch_min(left, Ordering::Relaxed);
                        }
                    }
                    other => {
                        if matches!(other, Outcome::Transport(_)) {
                            unknown.fetch_add(1, Ordering::Relaxed);
                        }
                        stats.record_error(other.kind());
                        counters.error();
                    }
                }
            }
            stats
        }
    })
    .await?;
    // Requests cancelled at the hard limit may still be applied: give them a moment.
    if app.cancelled {
        tokio::time::sleep(cfg.phase.request_timeout).await;
    }
    let after = api.card(&holder.token, &holder.card).await?;
    let left = after
        .get("available_minor")
        .and_then(Value::as_i64)
        .ok_or_else(|| anyhow!("the card view has no available_minor"))?;
    let held = after.get("held_minor").and_then(Value::as_i64).unwrap_or(0);

    let mut report = Report {
        measured: app.summary.ok > 0,
        ..Report::default()
    };
    report.lines.push(format!(
        "hot-card — POST /api/v1/partners/{{id}}/redemptions of {} on ONE card of {initial} {currency} minor units, {} clients over {} tablets, {} s (set-up {setup_secs:.1} s)",
        cfg.amount,
        cfg.phase.workers,
        cfg.tablets,
        cfg.phase.duration.as_secs()
    ));
    report.lines.push("  the application:".into());
    report.lines.extend(app.text_lines("    "));
    let redeemed = i64::try_from(app.summary.ok).unwrap_or(i64::MAX) * cfg.amount;
    let unknown = i64::try_from(unknown.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
    let gap = initial - redeemed - left;
    report.check(
        "never_overspent",
        left >= 0 && held >= 0 && min_seen.load(Ordering::Relaxed) >= 0,
        format!(
            "balance {left} (held {held}), lowest balance answered {}",
            match min_seen.load(Ordering::Relaxed) {
                i64::MAX => "none".to_owned(),
                m => m.to_string(),
            }
        ),
    );
    report.check(
        "balance_matches_redemptions",
        gap >= 0 && gap <= unknown * cfg.amount && held == 0,
        format!(
            "{initial} − {} × {} answered 201 = {} ; the card says {left}{}",
            app.summary.ok,
            cfg.amount,
            initial - redeemed,
            if unknown > 0 {
                format!(
                    " ({unknown} requests without an answer may account for up to {})",
                    unknown * cfg.amount
                )
            } else {
                String::new()
            }
        ),
    );
    report.json.insert("scenario".into(), json!("hot-card"));
    report
        .json
        .insert("concurrency".into(), json!(cfg.phase.workers));
    report.json.insert("tablets".into(), json!(cfg.tablets));
    report.json.insert("amount_minor".into(), json!(cfg.amount));
    report
        .json
        .insert("card_initial_minor".into(), json!(initial));
    report.json.insert("card_final_minor".into(), json!(left));
    report
        .json
        .insert("setup_secs".into(), json!(crate::stats::round3(setup_secs)));
    report.json.insert("app".into(), app.to_json());

    let (a50, a99, arate) = phase::series(&app.timeline);
    let mut latency = vec![
        Series {
            name: "app p50".into(),
            color: BLUE,
            points: a50,
        },
        Series {
            name: "app p99".into(),
            color: RED,
            points: a99,
        },
    ];
    let mut rate = vec![Series {
        name: "app".into(),
        color: BLUE,
        points: arate,
    }];

    if let Some(url) = &cfg.baseline {
        let mut bcfg = cfg.phase.clone();
        bcfg.label = "baseline".into();
        // The server takes no part: its memory is not sampled.
        bcfg.server_pid = None;
        let base = baseline::run(url, &bcfg, initial, cfg.amount, &cfg.run).await?;
        report.measured &= base.phase.summary.ok > 0;
        report.lines.push(format!(
            "  the naive design on {} (per request: BEGIN, SELECT … FOR UPDATE, UPDATE balance, 2 ledger lines, 1 event, COMMIT):",
            base.database
        ));
        report.lines.extend(base.phase.text_lines("    "));
        let ratio = if base.phase.ok_rate() > 0.0 {
            app.ok_rate() / base.phase.ok_rate()
        } else {
            0.0
        };
        report.lines.push(format!(
            "  ratio        {ratio:.2}× the naive design ({:.1} vs {:.1} redemptions/s)",
            app.ok_rate(),
            base.phase.ok_rate()
        ));
        report.check(
            "baseline_consistent",
            base.consistent,
            base.consistency.clone(),
        );
        report.json.insert("baseline".into(), base.phase.to_json());
        report
            .json
            .insert("ratio".into(), json!(crate::stats::round3(ratio)));
        let (b50, b99, brate) = phase::series(&base.phase.timeline);
        latency.push(Series {
            name: "naive p50".into(),
            color: GREEN,
            points: b50,
        });
        latency.push(Series {
            name: "naive p99".into(),
            color: ORANGE,
            points: b99,
        });
        rate.push(Series {
            name: "naive".into(),
            color: GREEN,
            points: brate,
        });
    }
    Chart {
        title: format!("hot-card: {} clients on one card", cfg.phase.workers),
        x_label: "seconds since the phase started".into(),
        panels: vec![
            Panel {
                y_label: "latency, ms".into(),
                series: latency,
            },
            Panel {
                y_label: "redemptions / s".into(),
                series: rate,
            },
        ],
    }
    .write(cfg.svg.as_deref())?;
    Ok(report)
}

async fn available(api: &Api, token: &str, card: &str) -> anyhow::Result<i64> {
    api.card(token, card)
        .await?
        .get("available_minor")
        .and_then(Value::as_i64)
        .ok_or_else(|| anyhow!("the card view has no available_minor"))
}

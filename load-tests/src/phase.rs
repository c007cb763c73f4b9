//! Running one measured phase of the newer scenarios (workers sharing a budget, a
//! progress line, the server's memory sampled), and the report they print.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::memory::{MemoryReport, Sampler};
use crate::progress::{Counters, Progress};
use crate::run::{Budget, join_workers};
use crate::stats::{Stats, Summary, TimePoint};

/// A finished phase.
#[derive(Debug)]
pub struct Phase {
    pub summary: Summary,
    pub timeline: Vec<TimePoint>,
    pub stopped_by: &'static str,
    pub cancelled: bool,
    pub memory: Option<MemoryReport>,
}

impl Phase {
    /// Successful operations per second.
    pub fn ok_rate(&self) -> f64 {
        let secs = self.summary.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.summary.ok as f64 / secs
        } else {
            0.0
        }
    }

    pub fn to_json(&self) -> Value {
        let mut v = self.summary.to_json();
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "ok_per_sec".into(),
                json!(crate::stats::round3(self.ok_rate())),
            );
            o.insert("stopped_by".into(), json!(self.stopped_by));
            o.insert("cancelled".into(), json!(self.cancelled));
            o.insert(
                "memory".into(),
                self.memory
                    .as_ref()
                    .map_or(Value::Null, MemoryReport::to_json),
            );
        }
        v
    }

    pub fn text_lines(&self, indent: &str) -> Vec<String> {
        let mut lines = self.summary.text_lines(indent);
        lines.insert(
            2,
            format!(
                "{indent}succeeded    {:.1}/s (stopped by {}{})",
                self.ok_rate(),
                self.stopped_by,
                if self.cancelled {
                    ", stragglers cancelled"
                } else {
                    ""
                }
            ),
        );
        if let Some(m) = &self.memory {
            lines.push(m.text_line(indent));
        }
        lines
    }
}

/// What a phase needs to know.
#[derive(Debug, Clone)]
pub struct PhaseConfig {
    pub label: String,
    pub workers: usize,
    pub duration: Duration,
    pub max_requests: u64,
    pub request_timeout: Duration,
    pub server_pid: Option<u32>,
}

/// Runs `workers` copies of `worker(index, budget, counters, stats)` until the budget is
/// spent; each returns its stats (made with [`Stats::timed`] from the phase's origin).
pub async fn run<F, Fut>(cfg: &PhaseConfig, worker: F) -> anyhow::Result<Phase>
where
    F: Fn(usize, Arc<Budget>, Arc<Counters>, Stats) -> Fut,
    Fut: Future<Output = Stats> + Send + 'static,
{
    let hard_limit = cfg.duration + cfg.request_timeout + Duration::from_secs(5);
    let sampler = cfg
        .server_pid
        .map(|pid| Sampler::start(pid, hard_limit))
        .transpose()?;
    let counters = Arc::new(Counters::default());
    let progress = Progress::start(cfg.label.clone(), cfg.duration, counters.clone());
    let budget = Arc::new(Budget::new(cfg.duration, cfg.max_requests));
    let origin = Instant::now();
    let mut set = JoinSet::new();
    for i in 0..cfg.workers {
        set.spawn(worker(
            i,
            budget.clone(),
            counters.clone(),
            Stats::timed(origin),
        ));
    }
    let (stats, cancelled) = join_workers(set, hard_limit).await;
    let elapsed = origin.elapsed();
    progress.finish().await;
    let memory = match sampler {
        Some(s) => Some(s.finish().await?),
        None => None,
    };
    Ok(Phase {
        timeline: stats.timeline(),
        summary: Summary::new(stats, elapsed),
        stopped_by: budget.stopped_by(),
        cancelled,
        memory,
    })
}

/// An invariant checked after a run.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

/// The report of one of the newer scenarios.
#[derive(Debug, Default)]
pub struct Report {
    pub lines: Vec<String>,
    pub json: serde_json::Map<String, Value>,
    pub checks: Vec<Check>,
    /// Something was measured (at least one success).
    pub measured: bool,
}

impl Report {
    pub fn check(&mut self, name: &'static str, passed: bool, detail: String) {
        self.checks.push(Check {
            name,
            passed,
            detail,
        });
    }

    pub fn failed(&self) -> bool {
        !self.measured || self.checks.iter().any(|c| !c.passed)
    }

    pub fn to_text(&self) -> String {
        let mut lines = self.lines.clone();
        if !self.checks.is_empty() {
            lines.push("  checks:".into());
            for c in &self.checks {
                lines.push(format!(
                    "    {} {}: {}",
                    if c.passed { "PASS" } else { "FAIL" },
                    c.name,
                    c.detail
                ));
            }
        }
        if !self.measured {
            lines.push("  FAIL nothing succeeded: no figure measured".into());
        }
        lines.join("\n")
    }

    pub fn to_json(&self) -> Value {
        let mut o = self.json.clone();
        o.insert(
            "checks".into(),
            Value::Array(
                self.checks
                    .iter()
                    .map(|c| json!({"name": c.name, "passed": c.passed, "detail": c.detail}))
                    .collect(),
            ),
        );
        o.insert("passed".into(), json!(!self.failed()));
        Value::Object(o)
    }
}

/// Points of a chart line.
pub type Points = Vec<(f64, f64)>;

/// The per-second series of a phase for a chart: (p50, p99, successes/s).
pub fn series(timeline: &[TimePoint]) -> (Points, Points, Points) {
    let mut p50 = Vec::new();
    let mut p99 = Vec::new();
    let mut rate = Vec::new();
    for t in timeline {
        let x = t.second + 0.5;
        if let Some(l) = t.latency_ms {
            p50.push((x, l.p50));
            p99.push((x, l.p99));
        }
        rate.push((x, t.ok as f64));
    }
    (p50, p99, rate)
}

//! Counting requests and errors, latency percentiles (HDR histograms), and the summary
//! of one phase.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// Latencies are recorded in microseconds, from 1 µs to this, at 3 significant digits.
const HIGHEST_US: u64 = 3_600_000_000;

/// An empty latency histogram (microseconds, 3 significant digits: 0.1% resolution).
pub fn histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, HIGHEST_US, 3) {
        Ok(h) => h,
        // The bounds are constants that hdrhistogram accepts.
        Err(_) => unreachable!("valid histogram bounds"),
    }
}

fn micros(latency: Duration) -> u64 {
    u64::try_from(latency.as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// What one worker (or, merged, one phase) saw.
#[derive(Debug)]
pub struct Stats {
    /// Latency of every successful request, microseconds.
    pub hist: Histogram<u64>,
    /// Requests answered with the expected status and a readable body.
    pub ok: u64,
    /// Failed requests by kind: `http_<status>[_<problem code>]`, `transport_<what>` or
    /// `bad_body`.
    pub errors: BTreeMap<String, u64>,
    /// When set, successes are also kept per second since this instant (for charts).
    origin: Option<Instant>,
    /// Successful latencies per whole second since `origin`.
    pub per_second: Vec<Histogram<u64>>,
    /// Errors per whole second since `origin`.
    pub errors_per_second: Vec<u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            hist: histogram(),
            ok: 0,
            errors: BTreeMap::new(),
            origin: None,
            per_second: Vec::new(),
            errors_per_second: Vec::new(),
        }
    }
}

impl Stats {
    /// Stats that also keep a per-second timeline from `origin`.
    pub fn timed(origin: Instant) -> Self {
        Self {
            origin: Some(origin),
            ..Self::default()
        }
    }

    fn second(&self) -> Option<usize> {
        self.origin
            .map(|o| usize::try_from(o.elapsed().as_secs()).unwrap_or(usize::MAX))
    }

    pub fn record_ok(&mut self, latency: Duration) {
        self.ok += 1;
        let us = micros(latency);
        self.hist.saturating_record(us);
        if let Some(s) = self.second() {
            while self.per_second.len() <= s {
                self.per_second.push(histogram());
            }
            self.per_second[s].saturating_record(us);
        }
    }

    pub fn record_error(&mut self, kind: impl Into<String>) {
        *self.errors.entry(kind.into()).or_default() += 1;
        if let Some(s) = self.second() {
            if self.errors_per_second.len() <= s {
                self.errors_per_second.resize(s + 1, 0);
            }
            self.errors_per_second[s] += 1;
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn total(&self) -> u64 {
        self.ok + self.error_count()
    }

    pub fn merge(&mut self, other: Stats) {
        self.ok += other.ok;
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.hist.add(&other.hist);
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
        for (i, h) in other.per_second.into_iter().enumerate() {
            while self.per_second.len() <= i {
                self.per_second.push(histogram());
            }
            let _ = self.per_second[i].add(&h);
        }
        if self.errors_per_second.len() < other.errors_per_second.len() {
            self.errors_per_second
                .resize(other.errors_per_second.len(), 0);
        }
        for (i, n) in other.errors_per_second.into_iter().enumerate() {
            self.errors_per_second[i] += n;
        }
    }

    /// One point per second of the timeline: (second, successes, p50 ms, p99 ms).
    pub fn timeline(&self) -> Vec<TimePoint> {
        self.per_second
            .iter()
            .enumerate()
            .map(|(i, h)| TimePoint {
                second: i as f64,
                ok: h.len(),
                errors: self.errors_per_second.get(i).copied().unwrap_or(0),
                latency_ms: Latency::from_hist(h),
            })
            .collect()
    }
}

/// One second of a run, for charts.
#[derive(Debug, Clone, Copy)]
pub struct TimePoint {
    pub second: f64,
    pub ok: u64,
    pub errors: u64,
    pub latency_ms: Option<Latency>,
}

/// The kind of a failed HTTP exchange, for [`Stats::errors`].
pub fn transport_error_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "transport_timeout"
    } else if e.is_connect() {
        "transport_connect"
    } else if e.is_body() || e.is_decode() {
        "transport_body"
    } else {
        "transport_other"
    }
}

/// Latency figures in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    /// From a histogram of microseconds; `None` when it is empty.
    pub fn from_hist(h: &Histogram<u64>) -> Option<Self> {
        if h.is_empty() {
            return None;
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Some(Self {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        })
    }

    pub fn to_json(self) -> Value {
        json!({
            "p50": round3(self.p50),
            "p90": round3(self.p90),
            "p99": round3(self.p99),
            "max": round3(self.max),
            "mean": round3(self.mean),
        })
    }

    pub fn text(self) -> String {
        format!(
            "p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}  (mean {:.2})",
            self.p50, self.p90, self.p99, self.max, self.mean
        )
    }
}

/// The figures reported for one phase of a run.
#[derive(Debug, Clone)]
pub struct Summary {
    pub requests: u64,
    pub ok: u64,
    pub errors: BTreeMap<String, u64>,
    pub elapsed: Duration,
    pub throughput_rps: f64,
    pub latency_ms: Option<Latency>,
}

impl Summary {
    pub fn new(stats: Stats, elapsed: Duration) -> Self {
        let requests = stats.total();
        let secs = elapsed.as_secs_f64();
        Self {
            requests,
            ok: stats.ok,
            throughput_rps: if secs > 0.0 {
                requests as f64 / secs
            } else {
                0.0
            },
            latency_ms: Latency::from_hist(&stats.hist),
            errors: stats.errors,
            elapsed,
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "requests": self.requests,
            "ok": self.ok,
            "errors": self.error_count(),
            "errors_by_kind": self.errors,
            "elapsed_secs": round3(self.elapsed.as_secs_f64()),
            "throughput_rps": round3(self.throughput_rps),
            "latency_ms": self.latency_ms.map(Latency::to_json),
        })
    }

    /// Human-readable lines, each starting with `indent`.
    pub fn text_lines(&self, indent: &str) -> Vec<String> {
        let mut lines = vec![
            format!(
                "{indent}requests     {} in {:.2} s (ok {}, errors {})",
                self.requests,
                self.elapsed.as_secs_f64(),
                self.ok,
                self.error_count()
            ),
            format!("{indent}throughput   {:.1} req/s", self.throughput_rps),
        ];
        if !self.errors.is_empty() {
            let kinds: Vec<String> = self
                .errors
                .iter()
                .map(|(kind, n)| format!("{kind}: {n}"))
                .collect();
            lines.push(format!("{indent}errors       {}", kinds.join(", ")));
        }
        lines.push(match self.latency_ms {
            Some(l) => format!(
                "{indent}latency ms   p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}  (mean {:.2}, successful requests)",
                l.p50, l.p90, l.p99, l.max, l.mean
            ),
            None => format!("{indent}latency ms   no successful requests"),
        });
        lines
    }
}

/// Rounds to three decimals, to keep the JSON report readable.
pub fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= b.abs() * 0.001 + 1e-9
    }

    #[test]
    fn empty_histogram_has_no_latency() {
        assert_eq!(Latency::from_hist(&histogram()), None);
        assert!(Stats::default().timeline().is_empty());
    }

    #[test]
    fn one_value_is_every_percentile() {
        let mut s = Stats::default();
        s.record_ok(Duration::from_micros(700));
        let l = Latency::from_hist(&s.hist).map(|l| (l.p50, l.p99, l.max));
        assert_eq!(l, Some((0.7, 0.7, 0.7)));
    }

    #[test]
    fn percentiles_are_within_a_thousandth() {
        let mut s = Stats::default();
        for i in 1..=1000u64 {
            s.record_ok(Duration::from_micros(i * 100));
        }
        let l = Latency::from_hist(&s.hist);
        let Some(l) = l else {
            panic!("no latency");
        };
        assert!(close(l.p50, 50.0), "{l:?}");
        assert!(close(l.p90, 90.0), "{l:?}");
        assert!(close(l.p99, 99.0), "{l:?}");
        assert!(close(l.max, 100.0), "{l:?}");
        assert!(close(l.mean, 50.05), "{l:?}");
    }

    #[test]
    fn merged_stats_add_up() {
        let mut a = Stats::default();
        a.record_ok(Duration::from_millis(2));
        a.record_error("http_500");
        let mut b = Stats::default();
        b.record_ok(Duration::from_millis(1));
        b.record_error("http_500");
        b.record_error("transport_timeout");
        a.merge(b);
        assert_eq!(a.ok, 2);
        assert_eq!(a.total(), 5);
        assert_eq!(a.errors.get("http_500"), Some(&2));
        assert_eq!(a.errors.get("transport_timeout"), Some(&1));

        let s = Summary::new(a, Duration::from_secs(2));
        assert_eq!(s.requests, 5);
        assert!((s.throughput_rps - 2.5).abs() < 1e-9);
        let l = s.latency_ms.map(|l| (l.p50, l.max));
        assert_eq!(l, Some((1.0, 2.0)));
    }

    #[test]
    fn timed_stats_keep_seconds_and_merge_them() {
        let origin = Instant::now();
        let mut a = Stats::timed(origin);
        a.record_ok(Duration::from_millis(3));
        a.record_error("http_409");
        let mut b = Stats::timed(origin);
        b.record_ok(Duration::from_millis(5));
        a.merge(b);
        let t = a.timeline();
        assert_eq!(t.len(), 1);
        assert_eq!((t[0].ok, t[0].errors), (2, 1));
        assert!(t[0].latency_ms.is_some_and(|l| close(l.max, 5.0)));
    }
}

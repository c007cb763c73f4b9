//! Counting requests and errors, latency percentiles, and the summary of one phase.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

/// What one worker (or, merged, one phase) saw.
#[derive(Debug, Default)]
pub struct Stats {
    /// Latency of every successful request, microseconds.
    pub latencies_us: Vec<u64>,
    /// Requests answered with the expected status and a readable body.
    pub ok: u64,
    /// Failed requests by kind: `http_<status>`, `transport_<what>` or `bad_body`.
    pub errors: BTreeMap<String, u64>,
}

impl Stats {
    pub fn record_ok(&mut self, latency: Duration) {
        self.ok += 1;
        self.latencies_us
            .push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    pub fn record_error(&mut self, kind: impl Into<String>) {
        *self.errors.entry(kind.into()).or_default() += 1;
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn total(&self) -> u64 {
        self.ok + self.error_count()
    }

    pub fn merge(&mut self, other: Stats) {
        self.ok += other.ok;
        self.latencies_us.extend(other.latencies_us);
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
    }
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

/// The `p`th percentile (0–100) of ascending `sorted`, by the nearest-rank method:
/// the smallest value such that at least `p`% of the values are at or below it.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let p = p.clamp(0.0, 100.0);
    // Nearest rank is ceil(p/100 * n), at least 1; `n` is far below 2^52 here.
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    sorted.get(rank.clamp(1, n) - 1).copied()
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
    /// From ascending microsecond latencies; `None` when there are none.
    pub fn from_sorted_us(sorted: &[u64]) -> Option<Self> {
        let ms = |us: u64| us as f64 / 1000.0;
        let max = *sorted.last()?;
        let sum: u128 = sorted.iter().map(|&v| u128::from(v)).sum();
        Some(Self {
            p50: ms(percentile(sorted, 50.0)?),
            p90: ms(percentile(sorted, 90.0)?),
            p99: ms(percentile(sorted, 99.0)?),
            max: ms(max),
            mean: sum as f64 / sorted.len() as f64 / 1000.0,
        })
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
    pub fn new(mut stats: Stats, elapsed: Duration) -> Self {
        stats.latencies_us.sort_unstable();
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
            latency_ms: Latency::from_sorted_us(&stats.latencies_us),
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
            "latency_ms": self.latency_ms.map(|l| json!({
                "p50": round3(l.p50),
                "p90": round3(l.p90),
                "p99": round3(l.p99),
                "max": round3(l.max),
                "mean": round3(l.mean),
            })),
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

    #[test]
    fn percentile_of_nothing_is_none() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(Latency::from_sorted_us(&[]), None);
    }

    #[test]
    fn percentile_of_one_value_is_that_value() {
        for p in [0.0, 1.0, 50.0, 99.0, 100.0] {
            assert_eq!(percentile(&[7], p), Some(7));
        }
    }

    #[test]
    fn percentile_uses_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 90.0), Some(90));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 99.5), Some(100));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&v, 0.0), Some(1));

        let v = [10, 20, 30, 40];
        assert_eq!(percentile(&v, 50.0), Some(20));
        assert_eq!(percentile(&v, 51.0), Some(30));
        assert_eq!(percentile(&v, 75.0), Some(30));
        assert_eq!(percentile(&v, 90.0), Some(40));
    }

    #[test]
    fn percentile_clamps_out_of_range_p() {
        let v = [1, 2, 3];
        assert_eq!(percentile(&v, -5.0), Some(1));
        assert_eq!(percentile(&v, 250.0), Some(3));
    }

    #[test]
    fn latency_is_in_milliseconds() {
        let mut us: Vec<u64> = (1..=1000).map(|i| i * 100).collect();
        us.sort_unstable();
        let l = Latency::from_sorted_us(&us);
        assert_eq!(
            l,
            Some(Latency {
                p50: 50.0,
                p90: 90.0,
                p99: 99.0,
                max: 100.0,
                mean: 50.05,
            })
        );
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
}

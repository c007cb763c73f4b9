//! Sampling a process's memory from `/proc/<pid>/status` during a run.

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::stats::round3;

/// How often the sampler reads `/proc/<pid>/status`.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// The memory lines of one `/proc/<pid>/status` read, KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcMemory {
    /// `VmRSS`: resident set size now.
    pub rss_kib: u64,
    /// `VmHWM`: peak resident set size since the process started.
    pub hwm_kib: u64,
}

/// Reads `VmRSS` and `VmHWM` from the text of `/proc/<pid>/status`. `None` when either
/// is missing or malformed (kernel threads, for one, have neither).
pub fn parse_status(text: &str) -> Option<ProcMemory> {
    let mut rss = None;
    let mut hwm = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key.trim() {
            "VmRSS" => rss = Some(parse_kib(value)?),
            "VmHWM" => hwm = Some(parse_kib(value)?),
            _ => {}
        }
    }
    Some(ProcMemory {
        rss_kib: rss?,
        hwm_kib: hwm?,
    })
}

/// `"   12345 kB"` → 12345.
fn parse_kib(value: &str) -> Option<u64> {
    let mut parts = value.split_whitespace();
    let n = parts.next()?.parse().ok()?;
    match (parts.next(), parts.next()) {
        (Some(unit), None) if unit.eq_ignore_ascii_case("kB") => Some(n),
        _ => None,
    }
}

pub fn read_status(pid: u32) -> anyhow::Result<ProcMemory> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_status(&text).ok_or_else(|| anyhow!("no VmRSS/VmHWM in {path}"))
}

/// Start, peak and end memory of the sampled process, MiB.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryReport {
    pub pid: u32,
    pub samples: usize,
    pub start_rss_mib: f64,
    /// Highest `VmRSS` among the samples.
    pub peak_rss_mib: f64,
    pub end_rss_mib: f64,
    /// `VmHWM` at the last sample: the kernel's peak since the process started, which
    /// also catches spikes between samples (and before the run).
    pub hwm_mib: f64,
    /// The process could no longer be read before the run ended (it exited?).
    pub lost: bool,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Summarises samples in the order they were taken; `None` without samples.
pub fn summarize(pid: u32, samples: &[ProcMemory], lost: bool) -> Option<MemoryReport> {
    let first = samples.first()?;
    let last = samples.last()?;
    let peak = samples.iter().map(|s| s.rss_kib).max()?;
    Some(MemoryReport {
        pid,
        samples: samples.len(),
        start_rss_mib: mib(first.rss_kib),
        peak_rss_mib: mib(peak),
        end_rss_mib: mib(last.rss_kib),
        hwm_mib: mib(last.hwm_kib),
        lost,
    })
}

impl MemoryReport {
    pub fn to_json(&self) -> Value {
        json!({
            "pid": self.pid,
            "samples": self.samples,
            "sample_interval_ms": SAMPLE_EVERY.as_millis(),
            "start_rss_mib": round3(self.start_rss_mib),
            "peak_rss_mib": round3(self.peak_rss_mib),
            "end_rss_mib": round3(self.end_rss_mib),
            "vm_hwm_mib": round3(self.hwm_mib),
            "lost": self.lost,
        })
    }

    pub fn text_line(&self, indent: &str) -> String {
        format!(
            "{indent}server RSS   start {:.1} MiB, peak {:.1} MiB, end {:.1} MiB (VmHWM {:.1} MiB; pid {}, {} samples every {} ms{})",
            self.start_rss_mib,
            self.peak_rss_mib,
            self.end_rss_mib,
            self.hwm_mib,
            self.pid,
            self.samples,
            SAMPLE_EVERY.as_millis(),
            if self.lost {
                "; process vanished during the run"
            } else {
                ""
            }
        )
    }
}

/// A background task reading a process's memory every [`SAMPLE_EVERY`].
pub struct Sampler {
    pid: u32,
    stop: oneshot::Sender<()>,
    task: JoinHandle<(Vec<ProcMemory>, bool)>,
}

impl Sampler {
    /// Takes a first sample now (failing if the process cannot be read), then keeps
    /// sampling until [`Sampler::finish`] or, at the latest, `limit` from now.
    pub fn start(pid: u32, limit: Duration) -> anyhow::Result<Self> {
        let first = read_status(pid).context("--server-pid: cannot sample its memory")?;
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut samples = vec![first];
            let mut lost = false;
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await; // the first tick is immediate; the first sample is taken
            while started.elapsed() < limit {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => {}
                }
                match read_status(pid) {
                    Ok(s) => samples.push(s),
                    Err(_) => {
                        lost = true;
                        break;
                    }
                }
            }
            (samples, lost)
        });
        Ok(Self { pid, stop, task })
    }

    /// Stops sampling, takes a last sample and summarises.
    pub async fn finish(self) -> anyhow::Result<MemoryReport> {
        // The task may have stopped by itself already; then nobody listens.
        let _ = self.stop.send(());
        let (mut samples, mut lost) = self.task.await.context("memory sampler panicked")?;
        if !lost {
            match read_status(self.pid) {
                Ok(s) => samples.push(s),
                Err(_) => lost = true,
            }
        }
        summarize(self.pid, &samples, lost).ok_or_else(|| anyhow!("no memory samples"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tfimy\n\
        Umask:\t0022\n\
        State:\tS (sleeping)\n\
        Pid:\t4242\n\
        VmPeak:\t  912344 kB\n\
        VmSize:\t  912340 kB\n\
        VmLck:\t       0 kB\n\
        VmHWM:\t   61440 kB\n\
        VmRSS:\t   51200 kB\n\
        RssAnon:\t   40000 kB\n\
        Threads:\t5\n";

    #[test]
    fn parses_rss_and_hwm() {
        assert_eq!(
            parse_status(STATUS),
            Some(ProcMemory {
                rss_kib: 51_200,
                hwm_kib: 61_440
            })
        );
    }

    #[test]
    fn kernel_threads_have_no_memory_lines() {
        let text = "Name:\tkthreadd\nState:\tS (sleeping)\nPid:\t2\nThreads:\t1\n";
        assert_eq!(parse_status(text), None);
    }

    #[test]
    fn malformed_values_are_rejected() {
        assert_eq!(parse_status("VmRSS:\tlots kB\nVmHWM:\t1 kB\n"), None);
        assert_eq!(parse_status("VmRSS:\t12 MB\nVmHWM:\t1 kB\n"), None);
        assert_eq!(parse_status("VmRSS:\t12\nVmHWM:\t1 kB\n"), None);
        assert_eq!(parse_status("VmRSS:\t12 kB\n"), None);
        assert_eq!(parse_kib("  7 kB"), Some(7));
    }

    #[test]
    fn reads_own_status() -> anyhow::Result<()> {
        let me = read_status(std::process::id())?;
        assert!(me.rss_kib > 0);
        assert!(me.hwm_kib >= me.rss_kib);
        Ok(())
    }

    #[test]
    fn summary_has_start_peak_and_end() {
        let s = |rss_kib, hwm_kib| ProcMemory { rss_kib, hwm_kib };
        let samples = [s(1024, 2048), s(4096, 4096), s(3072, 5120)];
        assert_eq!(
            summarize(7, &samples, false),
            Some(MemoryReport {
                pid: 7,
                samples: 3,
                start_rss_mib: 1.0,
                peak_rss_mib: 4.0,
                end_rss_mib: 3.0,
                hwm_mib: 5.0,
                lost: false,
            })
        );
        assert_eq!(summarize(7, &[], true), None);
    }

    #[tokio::test]
    async fn samples_own_process_until_stopped() -> anyhow::Result<()> {
        let sampler = Sampler::start(std::process::id(), Duration::from_secs(5))?;
        tokio::time::sleep(Duration::from_millis(600)).await;
        let report = sampler.finish().await?;
        assert!(report.samples >= 3, "{report:?}");
        assert!(!report.lost);
        assert!(report.peak_rss_mib >= report.start_rss_mib);
        Ok(())
    }
}

//! A progress line on stderr while a phase runs: elapsed time, successes, errors and the
//! current rate. On a terminal it is redrawn in place twice a second; otherwise (CI logs)
//! one line is printed every five seconds.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Counters the workers bump; read by the progress line.
#[derive(Debug, Default)]
pub struct Counters {
    pub ok: AtomicU64,
    pub errors: AtomicU64,
}

impl Counters {
    pub fn ok(&self) {
        self.ok.fetch_add(1, Ordering::Relaxed);
    }

    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }
}

pub struct Progress {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Progress {
    /// Starts drawing `label` with `counters` against a phase of `planned` length.
    pub fn start(label: String, planned: Duration, counters: Arc<Counters>) -> Self {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let tty = std::io::stderr().is_terminal();
            let every = if tty {
                Duration::from_millis(500)
            } else {
                Duration::from_secs(5)
            };
            let started = Instant::now();
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            let mut last = (Instant::now(), 0u64);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => {}
                }
                let ok = counters.ok.load(Ordering::Relaxed);
                let errors = counters.errors.load(Ordering::Relaxed);
                let now = Instant::now();
                let rate = (ok - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
                last = (now, ok);
                let line = bar(&label, started.elapsed(), planned, ok, errors, rate);
                let mut err = std::io::stderr().lock();
                let _ = if tty {
                    write!(err, "\r{line}\x1b[K")
                } else {
                    writeln!(err, "{line}")
                };
                let _ = err.flush();
            }
            if tty {
                let _ = write!(std::io::stderr(), "\r\x1b[K");
            }
        });
        Self { stop, task }
    }

    pub async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// `label [#####.....] 5.0/10 s  1234 ok  5 errors  620/s`
fn bar(
    label: &str,
    elapsed: Duration,
    planned: Duration,
    ok: u64,
    errors: u64,
    rate: f64,
) -> String {
    const WIDTH: usize = 24;
    let frac = if planned.is_zero() {
        1.0
    } else {
        (elapsed.as_secs_f64() / planned.as_secs_f64()).clamp(0.0, 1.0)
    };
    let filled = (frac * WIDTH as f64).round() as usize;
    format!(
        "{label} [{}{}] {:.1}/{} s  {ok} ok  {errors} errors  {rate:.0}/s",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        elapsed.as_secs_f64(),
        planned.as_secs(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_fills_with_time() {
        let b = bar(
            "x",
            Duration::from_secs(5),
            Duration::from_secs(10),
            7,
            1,
            3.0,
        );
        assert!(
            b.starts_with("x [############............] 5.0/10 s  7 ok  1 errors  3/s"),
            "{b}"
        );
        let b = bar(
            "x",
            Duration::from_secs(20),
            Duration::from_secs(10),
            0,
            0,
            0.0,
        );
        assert!(b.contains(&"#".repeat(24)), "{b}");
    }
}

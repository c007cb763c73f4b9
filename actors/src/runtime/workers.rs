//! A fixed set of worker threads, each running a single-threaded tokio runtime, onto
//! which actors are spread (the role actix calls arbiters).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::mpsc;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

pub struct Workers {
    // One queue per thread: a job sent here runs on that thread's runtime.
    queues: Vec<mpsc::UnboundedSender<Job>>,
    next: AtomicUsize,
}

impl Workers {
    pub fn start(threads: usize) -> std::io::Result<Self> {
        let mut queues = Vec::new();
        for i in 0..threads.max(1) {
            let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            std::thread::Builder::new()
                .name(format!("fimy-actors-{i}"))
                .spawn(move || {
                    rt.block_on(async move {
                        while let Some(job) = rx.recv().await {
                            // A panicking actor ends its own task only; tokio catches it.
                            tokio::spawn(job);
                        }
                    });
                })?;
            queues.push(tx);
        }
        Ok(Self {
            queues,
            next: AtomicUsize::new(0),
        })
    }

    /// Runs `job` on the next worker, round robin. Returns false if workers are gone.
    pub fn spawn(&self, job: impl Future<Output = ()> + Send + 'static) -> bool {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.queues.len();
        self.queues[i].send(Box::pin(job)).is_ok()
    }
}

//! A fixed set of worker threads, each running a single-threaded tokio runtime, onto
//! which actors are spread (the role actix calls arbiters).
//!
//! [`Workers::stop`] sends every thread a stop message: it takes no more jobs, drops the
//! actors it runs (their state is in the store: each command is committed before it is
//! answered) and exits. The application stops them last, once nothing sends commands any
//! more.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{mpsc, oneshot};

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

enum Message {
    Run(Job),
    Stop,
}

pub struct Workers {
    // One queue per thread: a job sent here runs on that thread's runtime.
    queues: Vec<mpsc::UnboundedSender<Message>>,
    next: AtomicUsize,
    /// One per thread, fired as the thread ends (taken by the first `stop`).
    exited: Mutex<Vec<oneshot::Receiver<()>>>,
}

impl Workers {
    pub fn start(threads: usize) -> std::io::Result<Self> {
        let mut queues = Vec::new();
        let mut exited = Vec::new();
        for i in 0..threads.max(1) {
            let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
            let (done, exit) = oneshot::channel();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            std::thread::Builder::new()
                .name(format!("fimy-actors-{i}"))
                .spawn(move || {
                    rt.block_on(async move {
                        while let Some(Message::Run(job)) = rx.recv().await {
                            // A panicking actor ends its own task only; tokio catches it.
                            tokio::spawn(job);
                        }
                        // Stopped (or every sender is gone): no job is taken any more.
                        rx.close();
                    });
                    // Dropping the runtime drops the actors' tasks, then the thread ends.
                    drop(rt);
                    let _ = done.send(());
                })?;
            queues.push(tx);
            exited.push(exit);
        }
        Ok(Self {
            queues,
            next: AtomicUsize::new(0),
            exited: Mutex::new(exited),
        })
    }

    /// Runs `job` on the next worker, round robin. Returns false if workers are gone.
    pub fn spawn(&self, job: impl Future<Output = ()> + Send + 'static) -> bool {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.queues.len();
        self.queues[i].send(Message::Run(Box::pin(job))).is_ok()
    }

    /// Tells every thread to stop and waits until they all have ended. Afterwards
    /// [`Workers::spawn`] returns false. Calling it again returns at once.
    pub async fn stop(&self) {
        for queue in &self.queues {
            let _ = queue.send(Message::Stop);
        }
        let exited = std::mem::take(&mut *self.exited.lock().unwrap_or_else(|p| p.into_inner()));
        for exit in exited {
            // An error means the thread ended without saying so (it panicked): ended too.
            let _ = exit.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    #[tokio::test]
    async fn stopped_workers_end_their_threads_and_take_no_more_jobs() {
        let workers = Workers::start(3).unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = mpsc::unbounded_channel();
        for _ in 0..6 {
            let (ran, tx) = (ran.clone(), tx.clone());
            assert!(workers.spawn(async move {
                ran.fetch_add(1, Ordering::SeqCst);
                let _ = tx.send(std::thread::current().name().map(str::to_owned));
            }));
        }
        for _ in 0..6 {
            let name = rx.recv().await.unwrap().unwrap();
            assert!(name.starts_with("fimy-actors-"), "{name}");
        }
        // A long-lived job (an actor waiting for messages) does not keep its thread alive.
        let dropped = Arc::new(AtomicBool::new(false));
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let flag = Flag(dropped.clone());
        assert!(workers.spawn(async move {
            let _flag = flag;
            std::future::pending::<()>().await;
        }));
        workers.stop().await;
        assert!(
            dropped.load(Ordering::SeqCst),
            "the waiting job was dropped"
        );
        assert_eq!(ran.load(Ordering::SeqCst), 6);
        assert!(!workers.spawn(async {}), "no job is taken after stop");
        workers.stop().await;
    }
}

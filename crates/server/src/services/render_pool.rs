//! The render pool: CPU-bound work (drawing maps, reading and resampling pyramids, encoding)
//! runs on its own threads, never on the event loops, behind a bounded queue.
//!
//! When every thread is busy and the queue is full, a new job is refused at once ([`Busy`]),
//! and the request is answered 503 with `Retry-After`: under overload, latency stays bounded
//! for the requests accepted instead of growing for all of them.
//!
//! A job whose client has left is cancelled: not started when it is still queued, stopped
//! where it asks [`Cancel::is_cancelled`] (between layers, every few hundred features) when it
//! runs. The client has left when the request's future was dropped (HTTP/2 reset, timeout) or
//! when its connection says so (see `crate::connection`). Cancelled jobs are logged and
//! counted (`tuilerie_renders_cancelled_total`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::connection::Link;
use crate::metrics::RenderMetrics;

/// The pool is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// A job panicked (a bug): reported as an internal error, the pool keeps running.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a render job panicked: {0}")]
pub struct JobPanicked(pub String);

/// Why a job gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// Refused: the queue is full.
    Busy(Busy),
    /// The job panicked.
    Panicked(JobPanicked),
    /// The client left before the job ended: nobody waits for the result.
    Cancelled,
}

/// Whether the client of a job is still there.
#[derive(Debug)]
pub struct Cancel {
    dropped: Arc<AtomicBool>,
    link: Option<Arc<Link>>,
    seen: AtomicBool,
}

impl Cancel {
    /// A job nobody cancels (command-line work: seeding).
    pub fn never() -> Cancel {
        Cancel {
            dropped: Arc::new(AtomicBool::new(false)),
            link: None,
            seen: AtomicBool::new(false),
        }
    }

    /// Whether the job should stop: its client has left.
    pub fn is_cancelled(&self) -> bool {
        let cancelled = self.dropped.load(Ordering::Acquire)
            || self.link.as_ref().is_some_and(|link| link.client_gone());
        if cancelled {
            self.seen.store(true, Ordering::Release);
        }
        cancelled
    }

    fn was_cancelled(&self) -> bool {
        self.seen.load(Ordering::Acquire)
    }
}

/// Sets the flag when the waiting future is dropped before the job answered.
struct DropFlag(Option<Arc<AtomicBool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        if let Some(flag) = self.0.take() {
            flag.store(true, Ordering::Release);
        }
    }
}

/// Threads plus a bound on the jobs admitted (running + waiting).
#[derive(Debug)]
pub struct RenderPool {
    pool: rayon::ThreadPool,
    admitted: Arc<AtomicUsize>,
    capacity: usize,
    metrics: RenderMetrics,
}

impl RenderPool {
    /// A pool of `threads` threads (0: one per CPU) admitting `threads + queue` jobs.
    pub fn new(
        threads: usize,
        queue: usize,
        metrics: RenderMetrics,
    ) -> Result<RenderPool, rayon::ThreadPoolBuildError> {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
        } else {
            threads
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("render-{i}"))
            .build()?;
        Ok(RenderPool {
            pool,
            admitted: Arc::new(AtomicUsize::new(0)),
            capacity: threads + queue,
            metrics,
        })
    }

    #[cfg(test)]
    /// Jobs admitted now (running or waiting).
    pub fn admitted(&self) -> usize {
        self.admitted.load(Ordering::Relaxed)
    }

    /// Runs `job` on the pool and waits for its result without blocking the event loop. The
    /// job is given its [`Cancel`] to ask, in long loops, whether to stop.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Cancel) -> T + Send + 'static,
    ) -> Result<T, JobError> {
        let previous = self.admitted.fetch_add(1, Ordering::AcqRel);
        if previous >= self.capacity {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(JobError::Busy(Busy));
        }
        self.metrics.admitted.inc();
        let dropped = Arc::new(AtomicBool::new(false));
        let mut flag = DropFlag(Some(Arc::clone(&dropped)));
        let cancel = Cancel {
            dropped,
            link: Link::current(),
            seen: AtomicBool::new(false),
        };
        let (send, receive) = tokio::sync::oneshot::channel();
        let admitted = Arc::clone(&self.admitted);
        let metrics = self.metrics.clone();
        self.pool.spawn(move || {
            let result = if cancel.is_cancelled() {
                Ok(None)
            } else {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&cancel))).map(Some)
            };
            let result = match result {
                Ok(_) if cancel.was_cancelled() => {
                    metrics.cancelled.inc();
                    tracing::info!("render cancelled: its client closed the connection");
                    Err(JobError::Cancelled)
                }
                Ok(Some(value)) => Ok(value),
                Ok(None) => Err(JobError::Cancelled),
                Err(panic) => {
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".to_owned());
                    Err(JobError::Panicked(JobPanicked(message)))
                }
            };
            metrics.admitted.dec();
            admitted.fetch_sub(1, Ordering::AcqRel);
            // The requester may have gone (timeout, closed connection): nothing to do then.
            let _ = send.send(result);
        });
        let answer = receive.await;
        flag.0 = None;
        match answer {
            Ok(result) => result,
            Err(_) => Err(JobError::Panicked(JobPanicked(
                "the job ended without answering".to_owned(),
            ))),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[tokio::test]
    async fn runs_jobs_and_reports_panics() {
        let pool = RenderPool::new(1, 1, RenderMetrics::default()).unwrap();
        assert_eq!(pool.run(|_| 40 + 2).await, Ok(42));
        let panicked = pool.run(|_| -> u32 { panic!("boom") }).await;
        assert_eq!(
            panicked,
            Err(JobError::Panicked(JobPanicked("boom".to_owned())))
        );
        // Still serving.
        assert_eq!(pool.run(|_| 1).await, Ok(1));
        assert_eq!(pool.admitted(), 0);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let pool = Arc::new(RenderPool::new(1, 1, RenderMetrics::default()).unwrap());
        let (release, wait) = mpsc::channel::<()>();
        let wait = Arc::new(std::sync::Mutex::new(wait));
        // One running, one waiting: the pool is full.
        let mut held = Vec::new();
        for _ in 0..2 {
            let pool = Arc::clone(&pool);
            let wait = Arc::clone(&wait);
            held.push(tokio::spawn(async move {
                pool.run(move |_| {
                    let _ = wait.lock().unwrap().recv_timeout(Duration::from_secs(10));
                })
                .await
            }));
        }
        while pool.admitted() < 2 {
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.run(|_| ()).await, Err(JobError::Busy(Busy)));
        release.send(()).unwrap();
        release.send(()).unwrap();
        for h in held {
            assert_eq!(h.await.unwrap(), Ok(()));
        }
        assert_eq!(pool.run(|_| 7).await, Ok(7));
    }

    #[tokio::test]
    async fn a_queued_job_whose_requester_left_never_runs() {
        let pool = Arc::new(RenderPool::new(1, 4, RenderMetrics::default()).unwrap());
        let (release, wait) = mpsc::channel::<()>();
        let blocker = {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move {
                pool.run(move |_| {
                    let _ = wait.recv_timeout(Duration::from_secs(10));
                })
                .await
            })
        };
        while pool.admitted() < 1 {
            tokio::task::yield_now().await;
        }
        let ran = Arc::new(AtomicBool::new(false));
        let waiting = {
            let pool = Arc::clone(&pool);
            let ran = Arc::clone(&ran);
            tokio::spawn(async move { pool.run(move |_| ran.store(true, Ordering::SeqCst)).await })
        };
        while pool.admitted() < 2 {
            tokio::task::yield_now().await;
        }
        waiting.abort();
        let _ = waiting.await;
        release.send(()).unwrap();
        assert_eq!(blocker.await.unwrap(), Ok(()));
        while pool.admitted() > 0 {
            tokio::task::yield_now().await;
        }
        assert!(!ran.load(Ordering::SeqCst));
        assert_eq!(pool.metrics.cancelled.get(), 1);
        assert_eq!(pool.metrics.admitted.get(), 0);
    }
}

//! The render pool: CPU-bound work (drawing maps, reading and resampling pyramids, encoding)
//! runs on its own threads, never on the event loops, behind a bounded queue.
//!
//! When every thread is busy and the queue is full, a new job is refused at once ([`Busy`]),
//! and the request is answered 503 with `Retry-After`: under overload, latency stays bounded
//! for the requests accepted instead of growing for all of them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

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
}

/// Threads plus a bound on the jobs admitted (running + waiting).
#[derive(Debug)]
pub struct RenderPool {
    pool: rayon::ThreadPool,
    admitted: Arc<AtomicUsize>,
    capacity: usize,
}

impl RenderPool {
    /// A pool of `threads` threads (0: one per CPU) admitting `threads + queue` jobs.
    pub fn new(threads: usize, queue: usize) -> Result<RenderPool, rayon::ThreadPoolBuildError> {
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
        })
    }

    #[cfg(test)]
    /// Jobs admitted now (running or waiting).
    pub fn admitted(&self) -> usize {
        self.admitted.load(Ordering::Relaxed)
    }

    /// Runs `job` on the pool and waits for its result without blocking the event loop.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, JobError> {
        let previous = self.admitted.fetch_add(1, Ordering::AcqRel);
        if previous >= self.capacity {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(JobError::Busy(Busy));
        }
        let (send, receive) = tokio::sync::oneshot::channel();
        let admitted = Arc::clone(&self.admitted);
        self.pool.spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            admitted.fetch_sub(1, Ordering::AcqRel);
            let result = result.map_err(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_owned());
                JobPanicked(message)
            });
            // The requester may have gone (timeout, closed connection): nothing to do then.
            let _ = send.send(result);
        });
        match receive.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(panicked)) => Err(JobError::Panicked(panicked)),
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
        let pool = RenderPool::new(1, 1).unwrap();
        assert_eq!(pool.run(|| 40 + 2).await, Ok(42));
        let panicked = pool.run(|| -> u32 { panic!("boom") }).await;
        assert_eq!(
            panicked,
            Err(JobError::Panicked(JobPanicked("boom".to_owned())))
        );
        // Still serving.
        assert_eq!(pool.run(|| 1).await, Ok(1));
        assert_eq!(pool.admitted(), 0);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let pool = Arc::new(RenderPool::new(1, 1).unwrap());
        let (release, wait) = mpsc::channel::<()>();
        let wait = Arc::new(std::sync::Mutex::new(wait));
        // One running, one waiting: the pool is full.
        let mut held = Vec::new();
        for _ in 0..2 {
            let pool = Arc::clone(&pool);
            let wait = Arc::clone(&wait);
            held.push(tokio::spawn(async move {
                pool.run(move || {
                    let _ = wait.lock().unwrap().recv_timeout(Duration::from_secs(10));
                })
                .await
            }));
        }
        while pool.admitted() < 2 {
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.run(|| ()).await, Err(JobError::Busy(Busy)));
        release.send(()).unwrap();
        release.send(()).unwrap();
        for h in held {
            assert_eq!(h.await.unwrap(), Ok(()));
        }
        assert_eq!(pool.run(|| 7).await, Ok(7));
    }
}

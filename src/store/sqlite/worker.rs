//! The threads that own the SQLite connections, and [`SqliteFuture`], the answer they send
//! back.
//!
//! Every statement runs on a connection's own thread, so no blocking call ever runs on the
//! async runtime. Between jobs the writer's thread writes the pending last-use times in one
//! transaction every `flush_interval`, and once more when the store is dropped.
//!
//! The queue in front of each thread is bounded: a job that finds it full is answered
//! [`StoreError::Unavailable`] at once. A lookup may also be given a time limit, after which
//! its caller gets [`StoreError::Timeout`] (the job still runs, and its answer is dropped), so
//! a slow or stuck connection never makes the layer hang.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, TrySendError};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;
use tokio::time::Sleep;

use super::rows;
use crate::store::{StoreError, UsageLog};

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The answer of a SQLite store: resolves when the store's thread has run the statement.
///
/// `'static`, `Send` and `Unpin`, as [`KeyStore::Future`](crate::KeyStore::Future) requires.
/// If the thread is gone, or its queue is full, the answer is [`StoreError::Unavailable`]; a
/// lookup not answered within the store's
/// [`lookup_timeout`](super::SqliteKeyStoreBuilder::lookup_timeout) is
/// [`StoreError::Timeout`]. The time limit runs on Tokio's timer: outside a Tokio runtime
/// there is none, and inside one the runtime needs its time driver (`enable_time`, which
/// `#[tokio::main]` and `enable_all` turn on).
#[must_use = "futures do nothing unless polled"]
pub struct SqliteFuture<T> {
    state: State<T>,
}

enum State<T> {
    Waiting {
        answer: oneshot::Receiver<Result<T, StoreError>>,
        limit: Option<Limit>,
    },
    Failed(Option<StoreError>),
}

/// A lookup's time limit: its timer starts when the lookup is first polled.
struct Limit {
    after: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl Limit {
    /// Whether the time is up (the timer is armed on the first call, inside a runtime).
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        if self.timer.is_none() && tokio::runtime::Handle::try_current().is_ok() {
            self.timer = Some(Box::pin(tokio::time::sleep(self.after)));
        }
        self.timer
            .as_mut()
            .is_some_and(|timer| timer.as_mut().poll(cx).is_ready())
    }
}

fn worker_gone() -> StoreError {
    StoreError::Unavailable("the SQLite store's thread has stopped".into())
}

fn queue_full() -> StoreError {
    StoreError::Unavailable("the SQLite store's queue is full".into())
}

impl<T> Future for SqliteFuture<T> {
    type Output = Result<T, StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            State::Waiting { answer, limit } => {
                if let Poll::Ready(answer) = Pin::new(answer).poll(cx) {
                    return Poll::Ready(answer.unwrap_or_else(|_| Err(worker_gone())));
                }
                let Some(after) = limit
                    .as_mut()
                    .and_then(|limit| limit.expired(cx).then_some(limit.after))
                else {
                    return Poll::Pending;
                };
                self.state = State::Failed(None);
                Poll::Ready(Err(StoreError::Timeout(after)))
            }
            State::Failed(error) => Poll::Ready(Err(error.take().unwrap_or_else(worker_gone))),
        }
    }
}

impl<T> std::fmt::Debug for SqliteFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteFuture").finish_non_exhaustive()
    }
}

/// The connection's thread: jobs go in through a channel; dropping this ends the thread after
/// a last flush, and waits for it.
pub(super) struct Worker {
    jobs: Option<mpsc::SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the thread, which opens the connection with `open` and answers the returned
    /// future once it is ready (or could not be opened).
    ///
    /// At most `queue` jobs wait for the thread (at least one). With `usage`, the thread also
    /// writes the pending last-use times every `flush_interval` and when it stops.
    pub(super) fn spawn(
        name: &str,
        open: impl FnOnce() -> Result<Connection, StoreError> + Send + 'static,
        queue: usize,
        usage: Option<(Arc<UsageLog>, Duration)>,
    ) -> (Self, SqliteFuture<()>) {
        let (jobs, inbox) = mpsc::sync_channel::<Job>(queue.max(1));
        let (ready, opened) = oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || match open() {
                Ok(conn) => {
                    let _ = ready.send(Ok(()));
                    match usage {
                        Some((usage, every)) => run_flushing(conn, &inbox, &usage, every),
                        None => run(conn, &inbox),
                    }
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                }
            });
        match spawned {
            Ok(thread) => (
                Self {
                    jobs: Some(jobs),
                    thread: Some(thread),
                },
                SqliteFuture {
                    state: State::Waiting {
                        answer: opened,
                        limit: None,
                    },
                },
            ),
            Err(e) => (
                Self {
                    jobs: None,
                    thread: None,
                },
                SqliteFuture {
                    state: State::Failed(Some(StoreError::Unavailable(Box::new(e)))),
                },
            ),
        }
    }

    /// Runs `job` on the connection's thread.
    pub(super) fn call<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> SqliteFuture<T> {
        self.call_within(None, job)
    }

    /// Runs `job` on the connection's thread; its caller waits at most `limit` for the answer.
    pub(super) fn call_within<T: Send + 'static>(
        &self,
        limit: Option<Duration>,
        job: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> SqliteFuture<T> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = reply.send(job(conn));
        });
        let state = match self.jobs.as_ref().map(|jobs| jobs.try_send(job)) {
            Some(Ok(())) => State::Waiting {
                answer,
                limit: limit.map(|after| Limit { after, timer: None }),
            },
            Some(Err(TrySendError::Full(_))) => State::Failed(Some(queue_full())),
            _ => State::Failed(None),
        };
        SqliteFuture { state }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the channel tells the thread to flush and stop; waiting for it means a store
        // reopened on the same file sees every recorded use.
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs one job; a job that panics drops its reply, so its caller gets `Unavailable` and the
/// thread goes on serving the others.
fn run_job(job: Job, conn: &mut Connection) {
    let _ = catch_unwind(AssertUnwindSafe(|| job(conn)));
}

fn run(mut conn: Connection, inbox: &mpsc::Receiver<Job>) {
    while let Ok(job) = inbox.recv() {
        run_job(job, &mut conn);
    }
}

fn run_flushing(
    mut conn: Connection,
    inbox: &mpsc::Receiver<Job>,
    usage: &UsageLog,
    flush_interval: Duration,
) {
    let mut next_flush = Instant::now() + flush_interval;
    loop {
        let wait = next_flush.saturating_duration_since(Instant::now());
        match inbox.recv_timeout(wait) {
            Ok(job) => run_job(job, &mut conn),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                let _ = flush(&mut conn, usage);
                return;
            }
        }
        if Instant::now() >= next_flush {
            let _ = flush(&mut conn, usage);
            next_flush = Instant::now() + flush_interval;
        }
    }
}

/// Writes the pending last-use times in one transaction, skipping rows written within the
/// last-use interval, and returns how many rows it wrote. On failure the uses go back into the
/// log for the next attempt.
pub(super) fn flush(conn: &mut Connection, usage: &UsageLog) -> Result<usize, StoreError> {
    let uses = usage.drain();
    if uses.is_empty() {
        return Ok(0);
    }
    match rows::write_last_used(conn, &uses, usage.interval_micros()) {
        Ok((written, known)) => {
            usage.written(&known);
            Ok(written)
        }
        Err(e) => {
            tracing::warn!(error = %e, keys = uses.len(), "keygate: could not record key uses; will retry");
            for (id, at) in &uses {
                usage.record(id, *at);
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_memory() -> Result<Connection, StoreError> {
        Connection::open_in_memory().map_err(rows::unavailable)
    }

    #[tokio::test]
    async fn a_job_that_panics_answers_unavailable_and_the_thread_serves_the_next() {
        let (worker, opened) = Worker::spawn("test", in_memory, 8, None);
        opened.await.unwrap();
        let panicked = worker
            .call(|_conn| -> Result<(), StoreError> { panic!("a bug in a job") })
            .await;
        assert!(panicked.unwrap_err().is_unavailable());
        let answer = worker
            .call(|conn| {
                conn.query_row("SELECT 41 + 1", [], |row| row.get::<_, i64>(0))
                    .map_err(rows::unavailable)
            })
            .await;
        assert_eq!(answer.unwrap(), 42);
    }

    #[tokio::test]
    async fn a_connection_that_cannot_open_is_reported_by_the_open_future() {
        let (worker, opened) = Worker::spawn(
            "test",
            || Err(StoreError::Unavailable("no such file".into())),
            8,
            None,
        );
        assert!(
            opened
                .await
                .unwrap_err()
                .to_string()
                .contains("no such file")
        );
        let later = worker.call(|_conn| Ok(())).await;
        assert!(later.unwrap_err().is_unavailable());
    }

    /// A worker whose thread is stuck in a job until `release` is dropped.
    async fn stuck(queue: usize) -> (Worker, std::sync::mpsc::Sender<()>) {
        let (worker, opened) = Worker::spawn("test", in_memory, queue, None);
        opened.await.unwrap();
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let (started, running) = oneshot::channel();
        let _stuck = worker.call(move |_conn| {
            let _ = started.send(());
            let _ = wait.recv();
            Ok(())
        });
        running.await.unwrap();
        (worker, release)
    }

    #[tokio::test]
    async fn a_job_that_finds_the_queue_full_is_unavailable_at_once() {
        let (worker, release) = stuck(2).await;
        let queued: Vec<_> = (0..2).map(|_| worker.call(|_conn| Ok(()))).collect();
        let refused = worker.call(|_conn| Ok(())).await.unwrap_err();
        assert!(refused.to_string().contains("queue is full"), "{refused}");
        drop(release);
        for job in queued {
            job.await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_lookup_stuck_behind_a_slow_job_times_out() {
        let (worker, release) = stuck(8).await;
        let limit = Duration::from_millis(100);
        let answer = tokio::time::timeout(
            Duration::from_secs(10),
            worker.call_within(Some(limit), |_conn| Ok(())),
        )
        .await
        .expect("an answer, not a hang");
        assert!(matches!(answer, Err(StoreError::Timeout(after)) if after == limit));
        drop(release);
    }
}

//! [`SqliteKeyStoreBuilder`]: where the database is and how the store behaves.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::schema;
use super::worker::Worker;
use super::{Shared, SqliteKeyStore};
use crate::clock::{Clock, SystemClock};
use crate::key::KeyPrefix;
use crate::store::{Definitions, StoreError, UsageLog};

/// Default time between two writes of the batched last-use times.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Default interval within which a key's last use is written at most once, by every store
/// sharing the file.
pub const DEFAULT_LAST_USE_INTERVAL: Duration = Duration::from_secs(300);

/// Default time a statement waits for another process's write lock before failing.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// Default number of jobs that may wait for a connection's thread.
pub const DEFAULT_QUEUE_CAPACITY: usize = 1024;

/// Default time a lookup waits for its answer.
pub const DEFAULT_LOOKUP_TIMEOUT: Duration = Duration::from_secs(1);

/// Configures and opens a [`SqliteKeyStore`].
///
/// ```no_run
/// use std::time::Duration;
/// use keygate::store::sqlite::SqliteKeyStore;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = SqliteKeyStore::builder("keys.db")
///     .prefix("acme".parse().unwrap())
///     .flush_interval(Duration::from_secs(5))
///     .open()
///     .await?;
/// # Ok::<_, keygate::StoreError>(())
/// # });
/// ```
pub struct SqliteKeyStoreBuilder {
    path: PathBuf,
    prefix: KeyPrefix,
    flush_interval: Duration,
    last_use_interval: Duration,
    busy_timeout: Duration,
    clock: Arc<dyn Clock>,
    queue_capacity: usize,
    lookup_timeout: Duration,
}

impl SqliteKeyStoreBuilder {
    pub(super) fn new(path: PathBuf) -> Self {
        Self {
            path,
            prefix: KeyPrefix::default(),
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            last_use_interval: DEFAULT_LAST_USE_INTERVAL,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            clock: Arc::new(SystemClock::new()),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            lookup_timeout: DEFAULT_LOOKUP_TIMEOUT,
        }
    }

    /// How many jobs may wait for each connection's thread (default
    /// [`DEFAULT_QUEUE_CAPACITY`], at least 1). A lookup or change that finds the queue full
    /// is answered [`StoreError::Unavailable`] at once (503 from the layer), instead of
    /// queueing without bound behind a flood.
    pub fn queue_capacity(mut self, jobs: usize) -> Self {
        self.queue_capacity = jobs.max(1);
        self
    }

    /// How long a lookup waits for its answer before it is [`StoreError::Timeout`] (503 from
    /// the layer; default [`DEFAULT_LOOKUP_TIMEOUT`]). Runs on Tokio's timer, so the runtime
    /// needs its time driver (`#[tokio::main]` has it).
    pub fn lookup_timeout(mut self, timeout: Duration) -> Self {
        self.lookup_timeout = timeout;
        self
    }

    /// The prefix of the keys the store issues (default `kg`). Give the layer the same one.
    pub fn prefix(mut self, prefix: KeyPrefix) -> Self {
        self.prefix = prefix;
        self
    }

    /// How often the recorded last-use times are written, in one transaction
    /// (default [`DEFAULT_FLUSH_INTERVAL`]). Between writes, uses are only in memory.
    pub fn flush_interval(mut self, every: Duration) -> Self {
        self.flush_interval = every.max(Duration::from_millis(1));
        self
    }

    /// Writes a key's last use at most once per `interval` (default
    /// [`DEFAULT_LAST_USE_INTERVAL`], 5 min; zero writes every flush), across every store and
    /// process sharing the file, so that row writes grow with the keys in use, not with
    /// requests.
    ///
    /// `touch` skips a key whose last use this store wrote, or found written, within the
    /// interval, and the flush writes a row only if its `last_used_at` is older than the
    /// interval before the new use. So `last_used_at` is accurate to the interval: it holds
    /// the first use of each interval.
    pub fn last_use_interval(mut self, interval: Duration) -> Self {
        self.last_use_interval = interval;
        self
    }

    /// How long a statement waits for another connection's write lock before the store
    /// answers [`StoreError::Unavailable`] (default [`DEFAULT_BUSY_TIMEOUT`]).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// The clock for creation, revocation, expiry checks and grace periods (a
    /// [`ManualClock`](crate::clock::ManualClock) in tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Opens (or creates) the database and applies the schema migrations it lacks.
    ///
    /// The connection lives on a thread of its own, so this and every later call only wait
    /// for an answer and never block the async runtime.
    pub async fn open(self) -> Result<SqliteKeyStore, StoreError> {
        let usage = Arc::new(UsageLog::new(self.last_use_interval));
        let (path, busy_timeout, clock) = (self.path, self.busy_timeout, Arc::clone(&self.clock));
        let in_memory = path.as_os_str().is_empty() || path.as_os_str() == ":memory:";
        let writer_path = path.clone();
        let (writer, opened) = Worker::spawn(
            "keygate-sqlite-writer",
            move || {
                let mut conn = connect(&writer_path, OpenFlags::SQLITE_OPEN_CREATE)?;
                schema::configure(&conn, busy_timeout)?;
                schema::migrate(&mut conn, clock.now())?;
                Ok(conn)
            },
            self.queue_capacity,
            Some((Arc::clone(&usage), self.flush_interval)),
        );
        opened.await?;
        // Lookups get a connection of their own, so they never queue behind a write waiting
        // for another process's lock. (An in-memory database exists only on its connection.)
        let reader = if in_memory {
            None
        } else {
            let (reader, opened) = Worker::spawn(
                "keygate-sqlite-reader",
                move || {
                    let conn = connect(&path, OpenFlags::empty())?;
                    schema::configure(&conn, busy_timeout)?;
                    conn.pragma_update(None, "query_only", true)
                        .map_err(super::rows::unavailable)?;
                    Ok(conn)
                },
                self.queue_capacity,
                None,
            );
            opened.await?;
            Some(reader)
        };
        Ok(SqliteKeyStore {
            inner: Arc::new(Shared {
                reader,
                writer,
                usage,
                prefix: self.prefix,
                clock: self.clock,
                lookup_timeout: self.lookup_timeout,
                definitions: Arc::new(Definitions::new()),
            }),
        })
    }
}

fn connect(path: &Path, extra: OpenFlags) -> Result<Connection, StoreError> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | extra,
    )
    .map_err(|e| {
        StoreError::Unavailable(
            format!("cannot open the SQLite database {}: {e}", path.display()).into(),
        )
    })
}

impl fmt::Debug for SqliteKeyStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteKeyStoreBuilder")
            .field("path", &self.path)
            .field("prefix", &self.prefix)
            .field("flush_interval", &self.flush_interval)
            .field("last_use_interval", &self.last_use_interval)
            .field("busy_timeout", &self.busy_timeout)
            .finish_non_exhaustive()
    }
}

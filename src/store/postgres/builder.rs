//! [`PostgresKeyStoreBuilder`]: connection settings, timeouts and the last-use flush and write
//! intervals.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use super::PostgresKeyStore;
use crate::clock::{Clock, SystemClock};
use crate::key::KeyPrefix;
use crate::store::StoreError;

/// Default number of pooled connections.
pub const DEFAULT_POOL_SIZE: usize = 16;
/// Default bound on every database call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default interval between two writes of last-use times.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Default interval within which a key's last use is written at most once, across every
/// instance sharing the database.
pub const DEFAULT_LAST_USE_INTERVAL: Duration = Duration::from_secs(300);
/// Longest timeout, flush or last-use interval; longer settings are cut to it.
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Configures a [`PostgresKeyStore`]; made by [`PostgresKeyStore::builder`].
#[must_use]
pub struct PostgresKeyStoreBuilder {
    pub(super) config: Result<tokio_postgres::Config, String>,
    pub(super) listen_config: Option<Result<tokio_postgres::Config, String>>,
    pub(super) pool_size: usize,
    pub(super) timeout: Duration,
    pub(super) flush_interval: Duration,
    pub(super) last_use_interval: Duration,
    pub(super) prefix: KeyPrefix,
    pub(super) clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for PostgresKeyStoreBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection settings may hold a password: not shown.
        f.debug_struct("PostgresKeyStoreBuilder")
            .field("pool_size", &self.pool_size)
            .field("timeout", &self.timeout)
            .field("flush_interval", &self.flush_interval)
            .field("last_use_interval", &self.last_use_interval)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl PostgresKeyStoreBuilder {
    pub(super) fn new(url: &str) -> Self {
        Self::with_config(parse(url))
    }

    pub(super) fn with_config(config: Result<tokio_postgres::Config, String>) -> Self {
        Self {
            config,
            listen_config: None,
            pool_size: DEFAULT_POOL_SIZE,
            timeout: DEFAULT_TIMEOUT,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            last_use_interval: DEFAULT_LAST_USE_INTERVAL,
            prefix: KeyPrefix::default(),
            clock: Arc::new(SystemClock::new()),
        }
    }

    /// The most connections the pool opens (default 16). The invalidation listener, when
    /// used, holds one more.
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// The bound on every database call, waiting for a pooled connection included (default
    /// 2 s, at most a day). A call that takes longer fails with [`StoreError::Timeout`]: the
    /// layer answers 503 `auth_unavailable` rather than keeping the request waiting.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.min(MAX_DURATION);
        self
    }

    /// How often last-use times collected by `touch` are written, in one statement (default
    /// 1 s; between 1 ms and a day).
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval.clamp(Duration::from_millis(1), MAX_DURATION);
        self
    }

    /// Writes a key's last use at most once per `interval` (default 5 min, at most a day; zero
    /// writes every flush), across every instance sharing the database, so that row writes
    /// grow with the number of keys in use, not with requests.
    ///
    /// `touch` skips a key whose last use this instance wrote, or found written, within the
    /// interval; the flush writes a row only if its `last_used_at` is older than the interval
    /// before the new use. So `last_used_at` is accurate to the interval: it holds the first
    /// use of each interval, and a key used since shows a time up to `interval` (plus a flush
    /// interval) old. Last-use writes never notify the invalidation channel.
    pub fn last_use_interval(mut self, interval: Duration) -> Self {
        self.last_use_interval = interval.min(MAX_DURATION);
        self
    }

    /// Where the invalidation listener connects, when it must not go where the pool goes:
    /// behind a pooler that does not carry `LISTEN` (PgBouncer in transaction mode), point it
    /// at the database itself. Default: the pool's settings.
    pub fn listen_url(mut self, url: &str) -> Self {
        self.listen_config = Some(parse(url));
        self
    }

    /// The prefix of the keys this store issues (default `kg`).
    pub fn prefix(mut self, prefix: KeyPrefix) -> Self {
        self.prefix = prefix;
        self
    }

    /// The clock for creation, revocation, expiry and last-use times.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Builds the store. Connects lazily: a database that is down now makes lookups fail
    /// (503), not this call. Must run inside a tokio runtime, which runs the last-use flush
    /// and, once asked for, the invalidation listener.
    ///
    /// Fails with [`StoreError::Invalid`] for a malformed connection string or outside a
    /// runtime. Does not create the tables: call [`PostgresKeyStore::migrate`] for that.
    pub fn build(self) -> Result<PostgresKeyStore, StoreError> {
        let config = self.config.map_err(StoreError::Invalid)?;
        let listen_config = match self.listen_config {
            Some(listen) => listen.map_err(StoreError::Invalid)?,
            None => config.clone(),
        };
        let [config, listen_config] =
            [config, listen_config].map(|config| with_defaults(config, self.timeout));
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            StoreError::Invalid("a PostgresKeyStore must be built inside a tokio runtime".into())
        })?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(self.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.timeout))
            .create_timeout(Some(self.timeout))
            .recycle_timeout(Some(self.timeout))
            .build()
            .map_err(|e| StoreError::Invalid(format!("cannot build the connection pool: {e}")))?;
        Ok(PostgresKeyStore::start(
            pool,
            listen_config,
            runtime,
            self.timeout,
            self.flush_interval,
            self.last_use_interval,
            self.prefix,
            self.clock,
        ))
    }
}

fn parse(url: &str) -> Result<tokio_postgres::Config, String> {
    tokio_postgres::Config::from_str(url)
        .map_err(|e| format!("invalid PostgreSQL connection string: {e}"))
}

/// Bounds connecting by `timeout` and names the application, unless the settings say
/// otherwise.
fn with_defaults(mut config: tokio_postgres::Config, timeout: Duration) -> tokio_postgres::Config {
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(timeout);
    }
    if config.get_application_name().is_none() {
        config.application_name("keygate");
    }
    config
}

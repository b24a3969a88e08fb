//! [`RedisUsageLimiterBuilder`]: the settings of a [`RedisUsageLimiter`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ::redis::{IntoConnectionInfo, RedisResult};

use super::RedisUsageLimiter;
use crate::clock::{Clock, SystemClock};
use crate::key::KeyPrefix;
use crate::limit::redis::RedisConnection;
use crate::limit::redis::RedisRateLimiter;

/// Configures a [`RedisUsageLimiter`].
///
/// | setting | default |
/// |---|---|
/// | [`namespace`](Self::namespace) | `keygate:usage:` |
/// | [`key_prefix`](Self::key_prefix) | `kg`, the crate's default key prefix |
/// | [`timeout`](Self::timeout) | 100 ms per call |
/// | [`clock`](Self::clock) | the system clock (wall time, for calendar periods) |
///
/// then [`connect`](Self::connect) to a URL, `connect_cluster` to a Redis Cluster (feature
/// `redis-cluster`), or [`build`](Self::build) on a `ConnectionManager` or cluster connection
/// of your own.
#[derive(Clone)]
pub struct RedisUsageLimiterBuilder {
    pub(super) namespace: String,
    pub(super) key_prefix: KeyPrefix,
    pub(super) timeout: Duration,
    pub(super) clock: Arc<dyn Clock>,
}

impl RedisUsageLimiterBuilder {
    pub(super) fn new() -> Self {
        Self {
            namespace: String::from("keygate:usage:"),
            key_prefix: KeyPrefix::default(),
            timeout: Duration::from_millis(100),
            clock: Arc::new(SystemClock::new()),
        }
    }

    /// The prefix of every Redis key of this limiter. Instances that must share counters use
    /// the same namespace. Keep `{` and `}` out of it: they would change the
    /// [hash tag](RedisUsageLimiter#redis-keys) every key of a request shares.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The prefix of the API keys this limiter counts (`acme` for `acme_…` keys): part of
    /// every Redis key name, so services with different key prefixes never share counters.
    pub fn key_prefix(mut self, prefix: KeyPrefix) -> Self {
        self.key_prefix = prefix;
        self
    }

    /// How long a call may take, round trip and reconnection included, before it fails with
    /// [`LimiterError::Timeout`](crate::LimiterError::Timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The clock whose wall time places requests in calendar periods (a
    /// [`ManualClock`](crate::clock::ManualClock) in tests of period ends and refills). Rates
    /// use the Redis server's clock whatever this is.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Connects to the server at `url` and returns the limiter; fails when the server cannot
    /// be reached. The connection is made as
    /// [`RedisRateLimiterBuilder::connect`](crate::limit::redis::RedisRateLimiterBuilder::connect)
    /// makes it: a `ConnectionManager` that reconnects by itself.
    pub async fn connect(self, url: impl IntoConnectionInfo) -> RedisResult<RedisUsageLimiter> {
        // The rate limiter's connection set-up (connect timeout, back-off), not a copy of it.
        let rate = RedisRateLimiter::builder()
            .deny_cache(false)
            .connect(url)
            .await?;
        Ok(self.build(rate.shared.conn.clone()))
    }

    /// Connects to the Redis Cluster whose nodes include `urls` and returns the limiter, as
    /// [`RedisRateLimiterBuilder::connect_cluster`](crate::limit::redis::RedisRateLimiterBuilder::connect_cluster)
    /// does, each call bounded by the [`timeout`](Self::timeout) set before this call. Every
    /// counter of one request shares a hash slot: see [Redis keys](RedisUsageLimiter#redis-keys).
    #[cfg(feature = "redis-cluster")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis-cluster")))]
    pub async fn connect_cluster<T: IntoConnectionInfo>(
        self,
        urls: impl IntoIterator<Item = T>,
    ) -> RedisResult<RedisUsageLimiter> {
        let cluster = crate::limit::redis::connection::cluster(urls, self.timeout).await?;
        Ok(self.build(cluster))
    }

    /// The limiter, on a connection of your own (TLS, Sentinel-resolved address, a lazy
    /// connection for a service that must start while Redis is down): a redis-rs
    /// `ConnectionManager`, or a `cluster_async::ClusterConnection` (feature `redis-cluster`).
    pub fn build(self, connection: impl Into<RedisConnection>) -> RedisUsageLimiter {
        RedisUsageLimiter::from_parts(self, connection.into())
    }
}

impl fmt::Debug for RedisUsageLimiterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisUsageLimiterBuilder")
            .field("namespace", &self.namespace)
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

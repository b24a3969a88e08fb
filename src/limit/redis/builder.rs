//! [`RedisRateLimiterBuilder`]: the settings of a [`RedisRateLimiter`].

use std::time::Duration;

use ::redis::{IntoConnectionInfo, RedisResult};

use super::{RedisConnection, RedisRateLimiter, RedisUsageLimiter, connection};
use crate::key::KeyPrefix;
use crate::limit::deny_cache::DenyCache;

/// Configures a [`RedisRateLimiter`].
///
/// | setting | default |
/// |---|---|
/// | [`namespace`](Self::namespace) | `keygate:rl:` |
/// | [`key_prefix`](Self::key_prefix) | `kg`, the crate's default key prefix |
/// | [`timeout`](Self::timeout) | 100 ms per check |
/// | [`deny_cache`](Self::deny_cache) | on |
/// | [`deny_cache_capacity`](Self::deny_cache_capacity) | 10,000 refused keys |
///
/// then [`connect`](Self::connect) to a URL, `connect_cluster` to a Redis Cluster (feature
/// `redis-cluster`), or [`build`](Self::build) on a `ConnectionManager` or cluster connection
/// of your own (TLS, Sentinel-resolved address, other reconnect settings).
#[derive(Debug, Clone)]
pub struct RedisRateLimiterBuilder {
    namespace: String,
    key_prefix: KeyPrefix,
    timeout: Duration,
    deny_cache: bool,
    deny_cache_capacity: usize,
}

impl RedisRateLimiterBuilder {
    pub(super) fn new() -> Self {
        Self {
            namespace: String::from("keygate:rl:"),
            key_prefix: KeyPrefix::default(),
            timeout: Duration::from_millis(100),
            deny_cache: true,
            deny_cache_capacity: 10_000,
        }
    }

    /// The prefix of every Redis key of this limiter; the key prefix and id follow it. Instances that must
    /// share limits use the same namespace.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The prefix of the API keys this limiter counts (`acme` for `acme_…` keys): set it to
    /// the prefix the layer's keys use. It is part of every Redis key name
    /// (`<namespace><prefix>_<key id>`), so services with different key prefixes never share
    /// limits for equal key ids, even on one Redis server and namespace.
    pub fn key_prefix(mut self, prefix: KeyPrefix) -> Self {
        self.key_prefix = prefix;
        self
    }

    /// How long a check may take, round trip and reconnection included, before it fails with
    /// [`LimiterError::Timeout`](crate::LimiterError::Timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether a key just refused is refused locally until its retry time, without asking Redis.
    pub fn deny_cache(mut self, enabled: bool) -> Self {
        self.deny_cache = enabled;
        self
    }

    /// The most refused keys the deny cache holds (rounded up to a multiple of 64). When it is
    /// full, further refusals are not cached: those keys keep asking Redis.
    pub fn deny_cache_capacity(mut self, capacity: usize) -> Self {
        self.deny_cache_capacity = capacity;
        self
    }

    /// Connects to the server at `url` (e.g. `redis://127.0.0.1:6379/`, `rediss://` with a TLS
    /// feature of `redis` enabled) and returns the limiter; fails when the server cannot be
    /// reached.
    ///
    /// The connection is a `ConnectionManager`: one multiplexed connection shared by every
    /// check, re-established in the background when it breaks (connection attempts time out
    /// after 1 s, retried with exponential back-off capped at 1 s).
    ///
    /// A service that must start while Redis is down (and fail open or closed until it is up)
    /// passes [`build`](Self::build) a manager made with `ConnectionManager::new_lazy_with_config`,
    /// which connects on first use.
    pub async fn connect(self, url: impl IntoConnectionInfo) -> RedisResult<RedisRateLimiter> {
        Ok(self.build(connection::single(url).await?))
    }

    /// Connects to the Redis Cluster whose nodes include `urls` (e.g.
    /// `["redis://10.0.0.1:6379/", "redis://10.0.0.2:6379/"]`: any reachable node is enough,
    /// the client learns the others) and returns the limiter; fails when no node answers.
    ///
    /// The connection is redis-rs' `cluster_async::ClusterConnection`: it follows `MOVED` and
    /// `ASK` redirections and refreshes its slot map by itself. Each node's answer and each
    /// whole call are bounded by the [`timeout`](Self::timeout) set before this call; a dead
    /// master or a `CLUSTERDOWN` cluster fails the checks of its slots with
    /// [`LimiterError`](crate::LimiterError), answered as the layer's
    /// [`FailurePolicy`](crate::FailurePolicy) says, until the cluster serves them again. See
    /// [Redis Cluster](super#redis-cluster).
    #[cfg(feature = "redis-cluster")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis-cluster")))]
    pub async fn connect_cluster<T: IntoConnectionInfo>(
        self,
        urls: impl IntoIterator<Item = T>,
    ) -> RedisResult<RedisRateLimiter> {
        let cluster = connection::cluster(urls, self.timeout).await?;
        Ok(self.build(cluster))
    }

    /// The limiter, on a connection of your own: a redis-rs `ConnectionManager`, or a
    /// `cluster_async::ClusterConnection` (feature `redis-cluster`).
    pub fn build(self, connection: impl Into<RedisConnection>) -> RedisRateLimiter {
        let manager = connection.into();
        let deny_cache = self
            .deny_cache
            .then(|| DenyCache::new(self.deny_cache_capacity));
        let usage = RedisUsageLimiter::builder()
            .namespace(format!("{}usage:", self.namespace))
            .key_prefix(self.key_prefix.clone())
            .timeout(self.timeout)
            .build(manager.clone());
        let namespace_len = self.namespace.len();
        let mut key_base = self.namespace;
        key_base.push_str(self.key_prefix.as_str());
        key_base.push('_');
        RedisRateLimiter::from_parts(
            manager,
            key_base,
            namespace_len,
            self.timeout,
            deny_cache,
            usage,
        )
    }
}

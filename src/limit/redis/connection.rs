//! [`RedisConnection`]: where the Redis limiters send their scripts, one server or (feature
//! `redis-cluster`) a Redis Cluster.

use std::fmt;
use std::time::Duration;

use ::redis::aio::{ConnectionLike, ConnectionManager};
use ::redis::{Cmd, Pipeline, RedisFuture, Value};

/// The connection of a [`RedisRateLimiter`](super::RedisRateLimiter) or a
/// [`RedisUsageLimiter`](super::RedisUsageLimiter): a redis-rs `ConnectionManager` to one
/// server, or, with the feature `redis-cluster`, a redis-rs `cluster_async::ClusterConnection`
/// to a Redis Cluster. Both builders' `build` take either, converted with `into()`.
///
/// Every script a limiter runs touches keys of one hash slot (see
/// [Redis Cluster](super#redis-cluster)), so on a cluster each call goes to the master that
/// owns the slot; the cluster client follows `MOVED` and `ASK` redirections by itself.
#[derive(Clone)]
pub struct RedisConnection {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Single(ConnectionManager),
    #[cfg(feature = "redis-cluster")]
    Cluster(::redis::cluster_async::ClusterConnection),
}

impl RedisConnection {
    /// Whether this is a connection to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        match self.inner {
            Inner::Single(_) => false,
            #[cfg(feature = "redis-cluster")]
            Inner::Cluster(_) => true,
        }
    }
}

impl From<ConnectionManager> for RedisConnection {
    fn from(manager: ConnectionManager) -> Self {
        Self {
            inner: Inner::Single(manager),
        }
    }
}

#[cfg(feature = "redis-cluster")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis-cluster")))]
impl From<::redis::cluster_async::ClusterConnection> for RedisConnection {
    fn from(cluster: ::redis::cluster_async::ClusterConnection) -> Self {
        Self {
            inner: Inner::Cluster(cluster),
        }
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match &mut self.inner {
            Inner::Single(manager) => manager.req_packed_command(cmd),
            #[cfg(feature = "redis-cluster")]
            Inner::Cluster(cluster) => cluster.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.inner {
            Inner::Single(manager) => manager.req_packed_commands(pipeline, offset, count),
            #[cfg(feature = "redis-cluster")]
            Inner::Cluster(cluster) => cluster.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match &self.inner {
            Inner::Single(manager) => manager.get_db(),
            #[cfg(feature = "redis-cluster")]
            Inner::Cluster(cluster) => cluster.get_db(),
        }
    }
}

impl fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.is_cluster() {
            "Cluster"
        } else {
            "Single"
        };
        f.debug_struct("RedisConnection")
            .field("kind", &kind)
            .finish()
    }
}

/// How long a connection attempt to one server or one cluster node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A `ConnectionManager` to the server at `url`: one multiplexed connection, re-established in
/// the background when it breaks (attempts time out after 1 s, retried with exponential
/// back-off capped at 1 s).
pub(super) async fn single(
    url: impl ::redis::IntoConnectionInfo,
) -> ::redis::RedisResult<RedisConnection> {
    use ::redis::aio::ConnectionManagerConfig;
    let client = ::redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_max_delay(Duration::from_secs(1));
    Ok(ConnectionManager::new_with_config(client, config)
        .await?
        .into())
}

/// A cluster connection through the nodes at `urls` (any of them; the client learns the
/// others and the slot map from the first that answers). Each node's answer and each whole
/// call (redirections and retries included) are bounded by `timeout`, the limiter's own, so
/// that a call never keeps retrying in the background after the limiter gave up on it.
#[cfg(feature = "redis-cluster")]
pub(super) async fn cluster<T: ::redis::IntoConnectionInfo>(
    urls: impl IntoIterator<Item = T>,
    timeout: Duration,
) -> ::redis::RedisResult<RedisConnection> {
    let client = ::redis::cluster::ClusterClient::builder(urls)
        .connection_timeout(CONNECT_TIMEOUT)
        .response_timeout(timeout)
        .overall_response_timeout(Some(timeout))
        .build()?;
    Ok(client.get_async_connection().await?.into())
}

//! What the Redis Cluster test crates share: the cluster's node URLs
//! (`KEYGATE_TEST_REDIS_CLUSTER_URLS`, comma-separated, as `scripts/services.sh start` prints
//! them), limiters on it, the master that owns a Redis key, and stopping and restarting one
//! master (by `scripts/services.sh`).

#![allow(dead_code)]

use std::process::Command;
use std::time::Duration;

use keygate::clock::ManualClock;
use keygate::limit::redis::{RedisRateLimiter, RedisUsageLimiter};
use redis::aio::MultiplexedConnection;

/// The URLs of the cluster's masters (`None`: skipped, or a failure when
/// `KEYGATE_REQUIRE_BACKENDS=1`).
pub fn cluster_urls() -> Option<Vec<String>> {
    let urls = crate::conformance::backend_url("KEYGATE_TEST_REDIS_CLUSTER_URLS")?;
    Some(urls.split(',').map(str::to_owned).collect())
}

/// A rate limiter on the cluster, in `namespace`, with `timeout` and no deny cache (every
/// check asks the cluster).
pub async fn rate_limiter(urls: &[String], namespace: &str, timeout: Duration) -> RedisRateLimiter {
    RedisRateLimiter::builder()
        .namespace(namespace)
        .timeout(timeout)
        .deny_cache(false)
        .connect_cluster(urls.iter().map(String::as_str))
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the cluster at {urls:?}: {e}"))
}

/// A usage limiter on the cluster, in `namespace`, on `clock`'s wall time.
pub async fn usage_limiter(
    urls: &[String],
    namespace: &str,
    clock: &ManualClock,
) -> RedisUsageLimiter {
    RedisUsageLimiter::builder()
        .namespace(namespace)
        .timeout(Duration::from_secs(2))
        .clock(clock.clone())
        .connect_cluster(urls.iter().map(String::as_str))
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the cluster at {urls:?}: {e}"))
}

/// A plain connection to one node (no redirections followed).
pub async fn node(url: &str) -> MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// The URL of the master that owns `key`'s slot: the one node that answers for it rather
/// than redirecting.
pub async fn owner(urls: &[String], key: &str) -> String {
    for url in urls {
        let exists: redis::RedisResult<i64> = redis::cmd("EXISTS")
            .arg(key)
            .query_async(&mut node(url).await)
            .await;
        if exists.is_ok() {
            return url.clone();
        }
    }
    panic!("no node of {urls:?} serves {key}");
}

/// The port in a node's URL.
pub fn port(url: &str) -> u16 {
    let info = redis::Client::open(url)
        .unwrap()
        .get_connection_info()
        .clone();
    let redis::ConnectionAddr::Tcp(_, port) = info.addr() else {
        panic!("a cluster node needs a TCP address, not {:?}", info.addr());
    };
    *port
}

const SERVICES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/services.sh");

/// `scripts/services.sh <action> <port>` for the node at `url` of the cluster of `urls`.
pub fn services(urls: &[String], url: &str, action: &str) -> bool {
    let ports: Vec<String> = urls.iter().map(|u| port(u).to_string()).collect();
    Command::new(SERVICES)
        .arg(action)
        .arg(port(url).to_string())
        .env("KEYGATE_REDIS_CLUSTER_PORTS", ports.join(","))
        .status()
        .is_ok_and(|status| status.success())
}

/// Restarts a stopped master, with its cluster config, when dropped, even when the test panics.
pub struct RestartNode {
    pub urls: Vec<String>,
    pub url: String,
}

impl Drop for RestartNode {
    fn drop(&mut self) {
        let _ = services(&self.urls, &self.url, "start-cluster-node");
    }
}

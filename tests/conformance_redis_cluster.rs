//! The limiter conformance suite against `RedisRateLimiter` on a real 3-master Redis Cluster
//! (`KEYGATE_TEST_REDIS_CLUSTER_URLS`), each test in a namespace of its own.

mod conformance;
mod redis_cluster_common;

use std::time::Duration;

use keygate::key::KeyId;
use keygate::limit::redis::RedisRateLimiter;

async fn limiter() -> Option<RedisRateLimiter> {
    let urls = redis_cluster_common::cluster_urls()?;
    let namespace = format!("keygate-test:{}:", KeyId::random().unwrap());
    let timeout = Duration::from_secs(2);
    Some(redis_cluster_common::rate_limiter(&urls, &namespace, timeout).await)
}

mod limiter {
    use super::*;
    limiter_conformance!(limiter());
}

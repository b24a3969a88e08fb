//! The limiter conformance suite against `RedisRateLimiter` on a real redis-server
//! (`KEYGATE_TEST_REDIS_URL`), each test in a namespace of its own.

mod conformance;

use keygate::key::KeyId;
use keygate::limit::redis::RedisRateLimiter;

async fn limiter() -> Option<RedisRateLimiter> {
    let url = conformance::backend_url("KEYGATE_TEST_REDIS_URL")?;
    let namespace = format!("keygate-test:{}:", KeyId::random().unwrap());
    let limiter = RedisRateLimiter::builder()
        .namespace(namespace)
        .connect(url.as_str())
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    Some(limiter)
}

mod limiter {
    use super::*;
    limiter_conformance!(limiter());
}

//! `RateLimiter::refund` on `RedisRateLimiter`, against a real redis-server
//! (`KEYGATE_TEST_REDIS_URL`): a unit given back can be spent again, never beyond the burst,
//! a key never seen is left alone, a cached refusal is lifted, and the caller never waits.

mod conformance;

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use keygate::key::KeyId;
use keygate::limit::redis::RedisRateLimiter;
use keygate::{Quota, RateLimiter};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;

fn per_hour(n: u32) -> Quota {
    Quota::per_hour(NonZeroU32::new(n).unwrap())
}

/// A limiter in a namespace of its own (deny cache as given), and a plain connection for
/// looking at what it leaves in Redis.
async fn limiter(deny_cache: bool) -> Option<(RedisRateLimiter, MultiplexedConnection)> {
    let url = conformance::backend_url("KEYGATE_TEST_REDIS_URL")?;
    let inspector = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let limiter = RedisRateLimiter::builder()
        .namespace(format!("keygate-test:{}:", KeyId::random().unwrap()))
        .deny_cache(deny_cache)
        .connect(url.as_str())
        .await
        .unwrap();
    Some((limiter, inspector))
}

async fn allowed(limiter: &RedisRateLimiter, id: &KeyId, quota: &Quota) -> bool {
    limiter.check(id, quota).await.unwrap().allowed
}

/// Waits (at most 2 s) until the key's stored state differs from `before`.
async fn state_changes(redis: &mut MultiplexedConnection, key: &str, before: Option<String>) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let now: Option<String> = redis.get(key).await.unwrap();
        if now != before {
            return;
        }
        assert!(Instant::now() < deadline, "the refund never reached Redis");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn refund_and_wait(
    limiter: &RedisRateLimiter,
    redis: &mut MultiplexedConnection,
    id: &KeyId,
    quota: &Quota,
) {
    let key = limiter.redis_key(id);
    let before: Option<String> = redis.get(&key).await.unwrap();
    limiter.refund(id, quota);
    state_changes(redis, &key, before).await;
}

#[tokio::test]
async fn a_refunded_unit_can_be_spent_again() {
    let Some((limiter, mut redis)) = limiter(false).await else {
        return;
    };
    let (id, quota) = (KeyId::random().unwrap(), per_hour(2));
    assert!(allowed(&limiter, &id, &quota).await);
    assert!(allowed(&limiter, &id, &quota).await);
    assert!(!allowed(&limiter, &id, &quota).await);
    refund_and_wait(&limiter, &mut redis, &id, &quota).await;
    assert!(allowed(&limiter, &id, &quota).await);
    assert!(!allowed(&limiter, &id, &quota).await);
}

#[tokio::test]
async fn refunds_never_give_more_than_the_burst() {
    let Some((limiter, mut redis)) = limiter(false).await else {
        return;
    };
    let (id, quota) = (KeyId::random().unwrap(), per_hour(2));
    assert!(allowed(&limiter, &id, &quota).await);
    // The one unit spent comes back and the key is deleted: a full bucket.
    refund_and_wait(&limiter, &mut redis, &id, &quota).await;
    let exists: bool = redis.exists(limiter.redis_key(&id)).await.unwrap();
    assert!(!exists);
    // Further refunds find nothing to give back.
    limiter.refund(&id, &quota);
    limiter.refund(&id, &quota);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(allowed(&limiter, &id, &quota).await);
    assert!(allowed(&limiter, &id, &quota).await);
    assert!(!allowed(&limiter, &id, &quota).await);
}

#[tokio::test]
async fn a_refund_for_a_key_never_seen_leaves_nothing_in_redis() {
    let Some((limiter, mut redis)) = limiter(false).await else {
        return;
    };
    let (id, quota) = (KeyId::random().unwrap(), per_hour(1));
    limiter.refund(&id, &quota);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let exists: bool = redis.exists(limiter.redis_key(&id)).await.unwrap();
    assert!(!exists);
    assert!(allowed(&limiter, &id, &quota).await);
    assert!(!allowed(&limiter, &id, &quota).await);
}

#[tokio::test]
async fn a_refund_lifts_the_refusal_held_in_the_deny_cache() {
    let Some((limiter, _redis)) = limiter(true).await else {
        return;
    };
    let (id, quota) = (KeyId::random().unwrap(), per_hour(1));
    assert!(allowed(&limiter, &id, &quota).await);
    assert!(!allowed(&limiter, &id, &quota).await);
    assert_eq!(limiter.cached_refusals(), 1);
    limiter.refund(&id, &quota);
    let deadline = Instant::now() + Duration::from_secs(2);
    while limiter.cached_refusals() != 0 {
        assert!(
            Instant::now() < deadline,
            "the cached refusal was never lifted"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(allowed(&limiter, &id, &quota).await);
}

#[tokio::test]
async fn a_refund_with_redis_unreachable_returns_at_once_and_changes_nothing_here() {
    let Some(url) = conformance::backend_url("KEYGATE_TEST_REDIS_URL") else {
        return;
    };
    let _ = url;
    // A port nothing listens on: the lazy manager connects on first use, and fails.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = listener.local_addr().unwrap();
    drop(listener);
    let client = redis::Client::open(format!("redis://{dead}/")).unwrap();
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_millis(50)))
        .set_number_of_retries(0);
    let manager = redis::aio::ConnectionManager::new_lazy_with_config(client, config).unwrap();
    let limiter = RedisRateLimiter::builder()
        .timeout(Duration::from_millis(100))
        .build(manager);
    let (id, quota) = (KeyId::random().unwrap(), per_hour(1));
    let started = Instant::now();
    limiter.refund(&id, &quota);
    assert!(
        started.elapsed() < Duration::from_millis(50),
        "the caller waited"
    );
    // Outside any runtime too: nothing to spawn on, so nothing happens.
    let outside = limiter.clone();
    std::thread::spawn(move || outside.refund(&id, &quota))
        .join()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(limiter.cached_refusals(), 0);
}

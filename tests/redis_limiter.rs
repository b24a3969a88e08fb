//! `RedisRateLimiter` against a real redis-server (`KEYGATE_TEST_REDIS_URL`): the script, the
//! key's lifetime, the deny cache, and one limit shared by two instances of a service.

mod common;
mod conformance;
mod shared_limit;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use keygate::key::KeyId;
use keygate::limit::gcra;
use keygate::limit::redis::RedisRateLimiter;
use keygate::{Quota, RateLimiter};
use proptest::prelude::*;
use redis::AsyncCommands;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SCRIPT: &str = include_str!("../src/limit/gcra.lua");

fn quota(burst: u32, interval: Duration) -> Quota {
    Quota::new(burst, interval).unwrap()
}

fn fresh_namespace() -> String {
    format!("keygate-test:{}:", KeyId::random().unwrap())
}

fn fresh() -> KeyId {
    KeyId::random().unwrap()
}

async fn limiter_at(url: &str) -> RedisRateLimiter {
    RedisRateLimiter::builder()
        .namespace(fresh_namespace())
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

/// A limiter, and a plain connection for looking at what it leaves in Redis.
async fn limiter_and_inspector() -> Option<(RedisRateLimiter, redis::aio::MultiplexedConnection)> {
    let url = conformance::backend_url("KEYGATE_TEST_REDIS_URL")?;
    let inspector = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    Some((limiter_at(&url).await, inspector))
}

#[tokio::test]
async fn the_script_is_reloaded_after_the_server_forgets_it() {
    let Some((limiter, mut redis)) = limiter_and_inspector().await else {
        return;
    };
    let hash = redis::Script::new(SCRIPT).get_hash().to_owned();
    let (id, q) = (fresh(), quota(2, Duration::from_secs(60)));

    assert!(limiter.check(&id, &q).await.unwrap().allowed);
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut redis)
        .await
        .unwrap();
    let after_flush = limiter.check(&id, &q).await.unwrap();
    assert!(after_flush.allowed);
    assert_eq!(after_flush.remaining, 0);
    assert!(!limiter.check(&id, &q).await.unwrap().allowed);
    let cached: Vec<bool> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(&hash)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(cached, [true]);
}

/// `ceil(reset / 1 ms)`: the TTL the script sets.
fn ttl_millis(reset: Duration) -> i64 {
    i64::try_from(reset.as_micros().div_ceil(1_000)).unwrap()
}

#[tokio::test]
async fn the_keys_ttl_is_its_reset_time() {
    let Some((limiter, mut redis)) = limiter_and_inspector().await else {
        return;
    };
    let (id, q) = (fresh(), quota(2, Duration::from_secs(30)));
    let key = limiter.redis_key(&id);
    // Generous: the time between the check and PTTL, however slow the machine.
    let slack = 5_000;

    for _ in 0..2 {
        let decision = limiter.check(&id, &q).await.unwrap();
        assert!(decision.allowed);
        let pttl: i64 = redis.pttl(&key).await.unwrap();
        let expected = ttl_millis(decision.reset);
        assert!(
            pttl <= expected && pttl > expected - slack,
            "PTTL {pttl} ms, reset {:?}",
            decision.reset
        );
    }
    // A refusal does not move the state, so it does not extend the key's life either.
    let before: i64 = redis.pttl(&key).await.unwrap();
    assert!(!limiter.check(&id, &q).await.unwrap().allowed);
    let after: i64 = redis.pttl(&key).await.unwrap();
    assert!(after <= before, "PTTL {before} ms, then {after} ms");
}

#[tokio::test]
async fn an_idle_key_expires_from_redis_on_its_own() {
    let Some((limiter, mut redis)) = limiter_and_inspector().await else {
        return;
    };
    let (id, q) = (fresh(), quota(1, Duration::from_millis(300)));
    let key = limiter.redis_key(&id);

    assert!(limiter.check(&id, &q).await.unwrap().allowed);
    let pttl: i64 = redis.pttl(&key).await.unwrap();
    assert!(pttl == -2 || (0..=300).contains(&pttl), "PTTL {pttl} ms");
    for _ in 0..100 {
        let exists: bool = redis.exists(&key).await.unwrap();
        if !exists {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{key} still exists 10 s after its bucket filled again");
}

/// A TCP proxy in front of Redis that counts the bytes sent to Redis: zero bytes means no
/// command reached the server.
struct CountingProxy {
    url: String,
    bytes_to_redis: Arc<AtomicU64>,
}

impl CountingProxy {
    async fn start(redis_url: &str) -> Self {
        let info = redis::Client::open(redis_url)
            .unwrap()
            .get_connection_info()
            .clone();
        let target = match info.addr() {
            redis::ConnectionAddr::Tcp(host, port) => format!("{host}:{port}"),
            other => panic!("the proxy needs a TCP address, not {other:?}"),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let bytes_to_redis = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&bytes_to_redis);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&target).await else {
                    continue;
                };
                tokio::spawn(relay(client, server, Arc::clone(&counter)));
            }
        });
        Self {
            url: format!("redis://{addr}/"),
            bytes_to_redis,
        }
    }

    fn bytes_to_redis(&self) -> u64 {
        self.bytes_to_redis.load(Ordering::SeqCst)
    }
}

async fn relay(client: TcpStream, server: TcpStream, counter: Arc<AtomicU64>) {
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    let upstream = async {
        let mut buf = [0_u8; 4096];
        loop {
            match client_rx.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    counter.fetch_add(n as u64, Ordering::SeqCst);
                    if server_tx.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
    };
    let downstream = tokio::io::copy(&mut server_rx, &mut client_tx);
    let _ = tokio::join!(upstream, downstream);
}

/// A limiter that reaches Redis through a [`CountingProxy`].
async fn proxied_limiter(deny_cache: bool) -> Option<(CountingProxy, RedisRateLimiter)> {
    let url = conformance::backend_url("KEYGATE_TEST_REDIS_URL")?;
    let proxy = CountingProxy::start(&url).await;
    let limiter = RedisRateLimiter::builder()
        .namespace(fresh_namespace())
        .deny_cache(deny_cache)
        .connect(proxy.url.as_str())
        .await
        .unwrap();
    Some((proxy, limiter))
}

#[tokio::test]
async fn a_refused_key_is_refused_again_without_asking_redis() {
    let Some((proxy, limiter)) = proxied_limiter(true).await else {
        return;
    };
    let (id, q) = (fresh(), quota(1, Duration::from_secs(60)));

    assert!(limiter.check(&id, &q).await.unwrap().allowed);
    let first = limiter.check(&id, &q).await.unwrap();
    assert!(!first.allowed);
    let sent = proxy.bytes_to_redis();
    tokio::time::sleep(Duration::from_millis(20)).await;
    for _ in 0..20 {
        let again = limiter.check(&id, &q).await.unwrap();
        assert!(!again.allowed);
        assert_eq!(again.remaining, 0);
        assert!(
            again.retry_after < first.retry_after,
            "{again:?} after {first:?}"
        );
        assert!(again.reset < first.reset, "{again:?} after {first:?}");
    }
    assert_eq!(
        proxy.bytes_to_redis(),
        sent,
        "a cached refusal reached Redis"
    );
    assert_eq!(limiter.cached_refusals(), 1);

    // The counter does see traffic: another key is asked about.
    assert!(limiter.check(&fresh(), &q).await.unwrap().allowed);
    assert!(proxy.bytes_to_redis() > sent);
}

#[tokio::test]
async fn without_the_deny_cache_every_refusal_asks_redis() {
    let Some((proxy, limiter)) = proxied_limiter(false).await else {
        return;
    };
    let (id, q) = (fresh(), quota(1, Duration::from_secs(60)));

    limiter.check(&id, &q).await.unwrap();
    assert!(!limiter.check(&id, &q).await.unwrap().allowed);
    let sent = proxy.bytes_to_redis();
    assert!(!limiter.check(&id, &q).await.unwrap().allowed);
    assert!(proxy.bytes_to_redis() > sent);
    assert_eq!(limiter.cached_refusals(), 0);
}

#[tokio::test]
async fn a_cached_refusal_ends_at_the_real_retry_time() {
    let Some(url) = conformance::backend_url("KEYGATE_TEST_REDIS_URL") else {
        return;
    };
    let limiter = limiter_at(&url).await;
    let (id, q) = (fresh(), quota(1, Duration::from_millis(400)));

    assert!(limiter.check(&id, &q).await.unwrap().allowed);
    let refused = limiter.check(&id, &q).await.unwrap();
    assert!(!refused.allowed);
    // Loopback round trips take microseconds; 200 ms of margin covers a loaded machine.
    tokio::time::sleep(refused.retry_after + Duration::from_millis(200)).await;
    assert!(limiter.check(&id, &q).await.unwrap().allowed);
}

#[tokio::test]
async fn two_instances_of_a_service_enforce_one_combined_limit() {
    let Some(url) = conformance::backend_url("KEYGATE_TEST_REDIS_URL") else {
        return;
    };
    let namespace = fresh_namespace();
    let in_namespace = || {
        RedisRateLimiter::builder()
            .namespace(namespace.as_str())
            .connect(url.as_str())
    };
    let (a, b) = (in_namespace().await.unwrap(), in_namespace().await.unwrap());
    shared_limit::two_instances_enforce_one_combined_limit(a, b).await;
}

/// The script with `TIME` replaced by `ARGV[3]` seconds and `ARGV[4]` microseconds.
fn script_on_given_time() -> String {
    assert_eq!(SCRIPT.matches("redis.call('TIME')").count(), 1);
    SCRIPT.replace("redis.call('TIME')", "{ARGV[3], ARGV[4]}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The Lua arithmetic, on a real server, gives exactly the decisions of `gcra::decide`
    /// for intervals in whole microseconds, whatever the arrival pattern.
    #[test]
    fn the_script_decides_exactly_as_the_reference(
        burst in 1_u32..12,
        interval_micros in 1_000_000_u64..100_000_000,
        gaps in proptest::collection::vec(0_u64..60_000_000, 1..40),
    ) {
        let Some(url) = conformance::backend_url("KEYGATE_TEST_REDIS_URL") else {
            return Ok(());
        };
        let mut redis = redis::Client::open(url.as_str()).unwrap().get_connection().unwrap();
        let script = redis::Script::new(&script_on_given_time());
        let key = format!("{}reference", fresh_namespace());
        let q = quota(burst, Duration::from_micros(interval_micros));
        let window = interval_micros * u64::from(burst);
        let mut now = 1_800_000_000_000_000_u64;
        let mut tat = 0;
        for gap in gaps {
            now += gap;
            let reply: [i64; 4] = script
                .key(&key)
                .arg(interval_micros)
                .arg(window)
                .arg(now / 1_000_000)
                .arg(now % 1_000_000)
                .invoke(&mut redis)
                .unwrap();
            let (next, expected) = gcra::decide(tat, now * 1_000, &q);
            tat = next;
            let micros = |d: Duration| i64::try_from(d.as_nanos() / 1_000).unwrap();
            prop_assert_eq!(
                reply,
                [
                    i64::from(expected.allowed),
                    i64::from(expected.remaining),
                    micros(expected.retry_after),
                    micros(expected.reset),
                ]
            );
        }
        let _: () = redis::cmd("DEL").arg(&key).query(&mut redis).unwrap();
    }
}

#[tokio::test]
async fn limiters_for_different_key_prefixes_do_not_share_state_for_equal_ids() {
    let Some(url) = conformance::backend_url("KEYGATE_TEST_REDIS_URL") else {
        return;
    };
    let namespace = fresh_namespace();
    let on = |prefix: &str| {
        RedisRateLimiter::builder()
            .namespace(namespace.clone())
            .key_prefix(prefix.parse().unwrap())
            .deny_cache(false)
            .connect(url.as_str())
    };
    let (acme, kg) = (on("acme").await.unwrap(), on("kg").await.unwrap());
    let id = fresh();
    let one = quota(1, Duration::from_secs(60));
    assert!(acme.check(&id, &one).await.unwrap().allowed);
    assert!(!acme.check(&id, &one).await.unwrap().allowed);
    assert!(kg.check(&id, &one).await.unwrap().allowed);
    assert_ne!(acme.redis_key(&id), kg.redis_key(&id));
    assert_eq!(kg.redis_key(&id), format!("{namespace}kg_{}", id.as_str()));
}

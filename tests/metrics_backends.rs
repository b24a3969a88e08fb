//! The backends' metrics (feature `metrics`): the caching store's lookups and stale serves,
//! the Redis limiter's errors and deny-cache hits against a real redis-server
//! (`KEYGATE_TEST_REDIS_URL`), and the PostgreSQL listener's gauge against a real database
//! (`KEYGATE_TEST_POSTGRES_URL`). Counters are read back from a recorder local to each test
//! (see `metrics_common`); the gauge from a Prometheus recorder's page, scraped at each step,
//! as an operator sees it.

mod common;
mod conformance;
mod metrics_common;
mod postgres_common;
mod redis_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::DownStore;
use keygate::clock::ManualClock;
use keygate::key::KeyId;
use keygate::limit::redis::RedisRateLimiter;
use keygate::metrics::{
    CACHE_LOOKUPS_TOTAL, CACHE_STALE_SERVED_TOTAL, DENY_CACHE_HITS_TOTAL,
    POSTGRES_LISTENER_CONNECTED, POSTGRES_LISTENER_RECONNECTS_TOTAL, REDIS_ERRORS_TOTAL,
};
use keygate::store::BoxLookup;
use keygate::store::cache::CachedKeyStore;
use keygate::{KeyManager, KeyStore, MemoryKeyStore, NewKey, Quota, RateLimiter};
use metrics_common::{Labels, labels, recorded, recorded_with};
use metrics_exporter_prometheus::PrometheusBuilder;
use redis::AsyncCommands;
use redis_common::{RestartRedis, fresh_namespace};

/// The in-memory store, failing (as an unreachable database would) while `down` is set.
#[derive(Clone)]
struct Flaky {
    inner: MemoryKeyStore,
    down: Arc<AtomicBool>,
}

impl KeyStore for Flaky {
    type Future = BoxLookup;

    fn get(&self, id: &KeyId) -> BoxLookup {
        if self.down.load(Ordering::SeqCst) {
            return Box::pin(DownStore.get(id));
        }
        Box::pin(self.inner.get(id))
    }
}

/// A key in `store`; its id.
async fn key_in(store: &MemoryKeyStore) -> KeyId {
    let new = NewKey::new("ci-pipeline".parse().unwrap(), "read:all".parse().unwrap());
    store.create(new).await.unwrap().info.id
}

/// `keygate_cache_lookups_total`'s series, in label order: hit, miss, negative.
fn lookups(hit: u64, miss: u64, negative: u64) -> Vec<(Labels, u64)> {
    [("hit", hit), ("miss", miss), ("negative", negative)]
        .into_iter()
        .map(|(result, n)| (labels(&[("result", result)]), n))
        .collect()
}

#[test]
fn each_cache_lookup_is_counted_once_as_a_hit_a_miss_or_a_negative_hit() {
    let metrics = recorded(|| async {
        let inner = MemoryKeyStore::new();
        let id = key_in(&inner).await;
        let cache = CachedKeyStore::new(inner);
        let unknown = KeyId::random().unwrap();
        assert!(cache.get(&id).await.unwrap().is_some());
        for _ in 0..3 {
            assert!(cache.get(&id).await.unwrap().is_some());
        }
        assert!(cache.get(&unknown).await.unwrap().is_none());
        for _ in 0..2 {
            assert!(cache.get(&unknown).await.unwrap().is_none());
        }
    });
    assert_eq!(metrics.counts(CACHE_LOOKUPS_TOTAL), lookups(3, 2, 2));
    assert_eq!(metrics.counts(CACHE_STALE_SERVED_TOTAL), []);
}

#[test]
fn a_record_served_stale_while_the_store_fails_is_counted() {
    let metrics = recorded(|| async {
        let store = Flaky {
            inner: MemoryKeyStore::new(),
            down: Arc::new(AtomicBool::new(false)),
        };
        let id = key_in(&store.inner).await;
        let clock = ManualClock::new();
        let cache = CachedKeyStore::builder(store.clone())
            .ttl(Duration::from_secs(30))
            .clock(clock.clone())
            .build()
            .unwrap();
        assert!(cache.get(&id).await.unwrap().is_some());
        clock.advance(Duration::from_secs(31));
        store.down.store(true, Ordering::SeqCst);
        assert!(cache.get(&id).await.unwrap().is_some(), "served stale");
        // Not cached at all: nothing stale to serve.
        assert!(cache.get(&KeyId::random().unwrap()).await.is_err());
    });
    assert_eq!(metrics.counts(CACHE_LOOKUPS_TOTAL), lookups(0, 3, 0));
    assert_eq!(metrics.counts(CACHE_STALE_SERVED_TOTAL), [(vec![], 1)]);
}

/// A Redis limiter on the test server with a namespace of its own and a 100 ms timeout.
async fn redis_limiter(url: &str) -> RedisRateLimiter {
    RedisRateLimiter::builder()
        .namespace(fresh_namespace())
        .timeout(Duration::from_millis(100))
        .connect(url)
        .await
        .unwrap()
}

/// One request an hour: the second check is refused.
fn hourly() -> Quota {
    Quota::new(1, Duration::from_secs(3600)).unwrap()
}

#[test]
fn checks_refused_from_the_deny_cache_are_counted_and_redis_refusals_are_not() {
    let (metrics, ran) = recorded_with(|| async {
        let Some((_server, url)) = redis_common::server().await else {
            return false;
        };
        let limiter = redis_limiter(&url).await;
        let id = KeyId::random().unwrap();
        assert!(limiter.check(&id, &hourly()).await.unwrap().allowed);
        // Refused by Redis, and remembered: the next three are refused locally.
        for _ in 0..4 {
            assert!(!limiter.check(&id, &hourly()).await.unwrap().allowed);
        }
        true
    });
    if !ran {
        return; // No Redis: skipped, with the reason printed.
    }
    assert_eq!(metrics.counts(DENY_CACHE_HITS_TOTAL), [(vec![], 3)]);
    assert_eq!(metrics.counts(REDIS_ERRORS_TOTAL), []);
}

/// `keygate_redis_errors_total`'s series, in label order, with `n` errors of `kind`.
fn errors(kind: &str, n: u64) -> Vec<(Labels, u64)> {
    ["connection", "other", "script", "timeout"]
        .into_iter()
        .map(|k| (labels(&[("kind", k)]), if k == kind { n } else { 0 }))
        .collect()
}

#[test]
fn a_script_error_answered_by_redis_is_counted_as_kind_script() {
    let (metrics, ran) = recorded_with(|| async {
        let Some((_server, url)) = redis_common::server().await else {
            return false;
        };
        let limiter = redis_limiter(&url).await;
        let id = KeyId::random().unwrap();
        // A list where the script expects a string: Redis answers WRONGTYPE.
        let mut conn = redis::Client::open(url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let _: () = conn.rpush(limiter.redis_key(&id), "x").await.unwrap();
        for _ in 0..2 {
            assert!(limiter.check(&id, &hourly()).await.is_err());
        }
        let _: () = conn.del(limiter.redis_key(&id)).await.unwrap();
        true
    });
    if !ran {
        return;
    }
    assert_eq!(metrics.counts(REDIS_ERRORS_TOTAL), errors("script", 2));
}

#[test]
fn each_failed_check_against_a_stopped_redis_is_counted_once_by_kind() {
    let (metrics, failures) = recorded_with(|| async {
        let mut failures = Vec::new();
        let Some(url) = conformance::backend_url("KEYGATE_TEST_REDIS_URL") else {
            return failures;
        };
        // Stopping the server: no other test of this binary may use it meanwhile.
        let _alone = redis_common::SERVER.write().await;
        let limiter = redis_limiter(&url).await;
        let id = KeyId::random().unwrap();
        assert!(limiter.check(&id, &hourly()).await.unwrap().allowed);
        let _restart = RestartRedis(url.clone());
        assert!(
            redis_common::services(&url, "stop-redis")
                .unwrap()
                .success()
        );
        for _ in 0..3 {
            failures.push(limiter.check(&id, &hourly()).await.unwrap_err());
        }
        failures
    });
    if failures.is_empty() {
        return;
    }
    // Which kind depends on how the dead connection answers (refused, reset, or silent);
    // every failure is counted once, under the kind its error says.
    let kind = |e: &keygate::LimiterError| match e {
        keygate::LimiterError::Timeout(_) => "timeout",
        _ => "connection",
    };
    let mut expected = errors("", 0);
    for failure in &failures {
        let at = expected
            .iter()
            .position(|(l, _)| l[0].1 == kind(failure))
            .unwrap();
        expected[at].1 += 1;
    }
    assert_eq!(metrics.counts(REDIS_ERRORS_TOTAL), expected, "{failures:?}");
}

/// The value of the unlabelled series `name` on a Prometheus page (`None`: not on it).
fn sample(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .filter_map(|line| line.split_once(' '))
        .find(|(series, _)| *series == name)
        .and_then(|(_, value)| value.parse().ok())
}

#[test]
fn the_listener_gauge_is_1_while_listening_and_0_once_its_connection_is_killed() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let page = recorder.handle();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let Some(role) = postgres_common::ListenerRole::create().await else {
                return;
            };
            let builder = postgres_common::builder().unwrap();
            let store = builder.listen_url(&role.url).build().unwrap();
            store.migrate().await.unwrap();
            let _invalidations = store.invalidations();
            postgres_common::until_listening(&store).await;
            let connected = || sample(&page.render(), POSTGRES_LISTENER_CONNECTED);
            let reconnects = || sample(&page.render(), POSTGRES_LISTENER_RECONNECTS_TOTAL);
            assert_eq!(connected(), Some(1.0));

            role.cut_off().await;
            poll_until(|| !store.is_listening()).await;
            assert_eq!(connected(), Some(0.0));
            assert_eq!(reconnects(), Some(0.0));

            role.let_in().await;
            postgres_common::until_listening(&store).await;
            assert_eq!(connected(), Some(1.0));
            assert_eq!(reconnects(), Some(1.0));
            drop(store);
            role.drop_role().await;
        });
    });
}

/// Waits (at most 10 s) until `done`.
async fn poll_until(done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "not within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

//! Redis stopped in the middle of a run, then restarted: the layer answers at once (503 when
//! failing closed, a pass when failing open), and recovers by itself.
//!
//! Stopping the server disturbs every test that uses it, so this file holds one test, whose
//! drop guard restarts Redis whatever happens.

mod common;
mod conformance;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Answer, Svc, echo, get, send, with_key};
use http::StatusCode;
use keygate::key::KeyId;
use keygate::limit::redis::{RedisRateLimiter, RedisRateLimiterBuilder};
use keygate::{ApiKeyLayer, FailurePolicy, KeyManager, MemoryKeyStore, NewKey, Quota};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tower::util::BoxCloneService;
use tower::{ServiceBuilder, service_fn};

const SERVICES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/services.sh");

fn services(action: &str) {
    let status = Command::new(SERVICES).arg(action).status().unwrap();
    assert!(status.success(), "scripts/services.sh {action} failed");
}

/// Restarts Redis when dropped, even when the test panics.
struct RestartRedis;

impl Drop for RestartRedis {
    fn drop(&mut self) {
        let _ = Command::new(SERVICES).arg("start-redis").status();
    }
}

fn limiter() -> RedisRateLimiterBuilder {
    RedisRateLimiter::builder()
        .namespace(format!("keygate-test:{}:", KeyId::random().unwrap()))
        .timeout(Duration::from_millis(100))
}

fn service(store: MemoryKeyStore, limiter: RedisRateLimiter, policy: FailurePolicy) -> Svc {
    let layer = ApiKeyLayer::builder(store, limiter)
        .on_limiter_failure(policy)
        .build();
    BoxCloneService::new(ServiceBuilder::new().layer(layer).service(service_fn(echo)))
}

/// Sends one request; returns the answer and how long it took.
async fn timed(svc: &Svc, key: &str) -> (Answer, Duration) {
    let started = Instant::now();
    let answer = send(svc, with_key(get("/v1/records"), key)).await;
    (answer, started.elapsed())
}

/// Whether the limiter decided (the rate-limit headers are only written after a decision).
fn decided(answer: &Answer) -> bool {
    answer.headers.contains_key("ratelimit")
}

/// Polls until `svc` answers 200 with a limiter decision again; panics after 30 s.
async fn until_recovered(svc: &Svc, key: &str, name: &str) {
    for _ in 0..300 {
        let (answer, _) = timed(svc, key).await;
        if answer.status == StatusCode::OK && decided(&answer) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the {name} service did not recover within 30 s of Redis restarting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_fails_closed_or_open_at_once_and_recovers_by_itself() {
    let Some(url) = conformance::backend_url("KEYGATE_TEST_REDIS_URL") else {
        return;
    };
    let store = MemoryKeyStore::new();
    let created = store
        .create(
            NewKey::new(
                "production-backend".parse().unwrap(),
                "admin".parse().unwrap(),
            )
            .quota(Quota::new(10_000, Duration::from_millis(1)).unwrap()),
        )
        .await
        .unwrap();
    let key = created.plaintext.expose_secret().to_owned();
    let closed = service(
        store.clone(),
        limiter().connect(url.as_str()).await.unwrap(),
        FailurePolicy::FailClosed,
    );
    let open = service(
        store.clone(),
        limiter().connect(url.as_str()).await.unwrap(),
        FailurePolicy::FailOpen,
    );
    for svc in [&closed, &open] {
        let (answer, _) = timed(svc, &key).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert!(decided(&answer));
    }

    let guard = RestartRedis;
    services("stop-redis");

    // A bound, not a speed claim: the 100 ms timeout must keep every answer far from a hang.
    let bound = Duration::from_secs(2);
    for _ in 0..5 {
        let (answer, took) = timed(&closed, &key).await;
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            answer.body
        );
        assert_eq!(answer.code(), "auth_unavailable");
        assert!(answer.header("retry-after").parse::<u64>().unwrap() >= 1);
        assert!(took < bound, "fail-closed answer took {took:?}");

        let (answer, took) = timed(&open, &key).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert!(!decided(&answer), "no decision can have been made");
        assert!(took < bound, "fail-open answer took {took:?}");
    }

    // A service started while Redis is down, on a connection made lazily.
    let lazy = ConnectionManager::new_lazy_with_config(
        redis::Client::open(url.as_str()).unwrap(),
        ConnectionManagerConfig::new(),
    )
    .unwrap();
    let late = service(store, limiter().build(lazy), FailurePolicy::FailClosed);

    // Long enough for the connection's reconnect attempts to run out: it must still recover.
    let outage = Instant::now();
    while outage.elapsed() < Duration::from_secs(5) {
        for svc in [&closed, &late] {
            let (answer, took) = timed(svc, &key).await;
            assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
            assert!(took < bound, "fail-closed answer took {took:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    services("start-redis");
    until_recovered(&closed, &key, "fail-closed").await;
    until_recovered(&open, &key, "fail-open").await;
    until_recovered(&late, &key, "late-started").await;
    drop(guard);
}

//! One master of the Redis Cluster stopped in the middle of a run, then restarted with its
//! cluster config: the layer answers within a bound (503 when failing closed, a pass when
//! failing open), never hangs, and recovers by itself.
//!
//! Stopping a master disturbs every test that uses the cluster, so this file holds one test,
//! whose drop guard restarts the master whatever happens.

mod common;
mod conformance;
mod redis_cluster_common;

use std::time::{Duration, Instant};

use common::{Answer, Svc, echo, get, send, with_key};
use http::StatusCode;
use keygate::limit::redis::RedisRateLimiter;
use keygate::{ApiKeyLayer, FailurePolicy, KeyManager, MemoryKeyStore, NewKey, Quota};
use redis_cluster_common::{RestartNode, cluster_urls, owner, rate_limiter, services};
use tower::util::BoxCloneService;
use tower::{ServiceBuilder, service_fn};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_going_away_fails_closed_or_open_within_a_bound_and_recovers_by_itself() {
    let Some(urls) = cluster_urls() else {
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
    let namespace = format!("keygate-test:{}:", created.info.id);
    let limiter = || rate_limiter(&urls, &namespace, Duration::from_millis(100));
    let closed = service(store.clone(), limiter().await, FailurePolicy::FailClosed);
    let open = service(store, limiter().await, FailurePolicy::FailOpen);
    for svc in [&closed, &open] {
        let (answer, _) = timed(svc, &key).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert!(decided(&answer));
    }

    // The master that holds this key's bucket.
    let bucket = limiter().await.redis_key(&created.info.id);
    let victim = owner(&urls, &bucket).await;
    let _guard = RestartNode {
        urls: urls.clone(),
        url: victim.clone(),
    };
    assert!(services(&urls, &victim, "stop-cluster-node"));

    // First the dead master's connection, then (after the 1 s node timeout) `CLUSTERDOWN`:
    // a bound, not a speed claim, that the 100 ms timeout keeps every answer from a hang.
    let bound = Duration::from_secs(2);
    let until = Instant::now() + Duration::from_millis(2_500);
    while Instant::now() < until {
        let (answer, took) = timed(&closed, &key).await;
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            answer.body
        );
        assert_eq!(answer.code(), "auth_unavailable");
        assert!(took < bound, "fail-closed answer took {took:?}");

        let (answer, took) = timed(&open, &key).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert!(!decided(&answer), "no decision can have been made");
        assert!(took < bound, "fail-open answer took {took:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert!(services(&urls, &victim, "start-cluster-node"));
    let recovered_by = Instant::now() + Duration::from_secs(30);
    for (svc, name) in [(&closed, "fail-closed"), (&open, "fail-open")] {
        loop {
            let (answer, took) = timed(svc, &key).await;
            assert!(took < bound, "{name} answer took {took:?} while recovering");
            if answer.status == StatusCode::OK && decided(&answer) {
                break;
            }
            assert!(
                Instant::now() < recovered_by,
                "the {name} service did not recover within 30 s of the master restarting"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

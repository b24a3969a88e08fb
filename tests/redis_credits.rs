//! Credits through the admin API on `RedisRateLimiter`, against a real redis-server
//! (`KEYGATE_TEST_REDIS_URL`; skipped with the reason printed, or failing under
//! `KEYGATE_REQUIRE_BACKENDS=1`): the balances shown are those the layer's requests spend in
//! Redis, the operator's top-up lands there, and a stopped Redis is a 503 in bounded time.

#![cfg(all(feature = "axum", feature = "redis"))]

mod conformance;
mod credits;
mod redis_common;
mod wire;

use std::time::{Duration, Instant};

use credits::{App, serve};
use keygate::key::KeyId;
use keygate::limit::redis::RedisRateLimiter;
use redis_common::{RestartRedis, services};
use tokio::sync::RwLock;

/// The fault test stops the server: it runs alone, the others together.
static SERVER: RwLock<()> = RwLock::const_new(());

/// A limiter on its own namespace, with a 100 ms timeout; `None` when no Redis is configured.
async fn limiter() -> Option<(String, RedisRateLimiter)> {
    let url = conformance::backend_url("KEYGATE_TEST_REDIS_URL")?;
    let limiter = RedisRateLimiter::builder()
        .namespace(format!("keygate-test:{}:", KeyId::random().unwrap()))
        .timeout(Duration::from_millis(100))
        .connect(url.as_str())
        .await
        .unwrap();
    Some((url, limiter))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_ledger_shows_and_tops_up_what_the_layers_requests_spend() {
    let _shared = SERVER.read().await;
    let Some((_, limiter)) = limiter().await else {
        return;
    };
    let app: App = serve(limiter.clone(), true).await;
    assert_eq!(app.bot_balance(&app.acme).await, 3);
    assert_eq!(app.request(&app.acme.bot).await, 200);
    assert_eq!(app.bot_balance(&app.acme).await, 2);

    let topped = app.operator_top_up(&app.acme, r#"{"add": 10}"#).await;
    assert_eq!(topped.status, 200, "{}", topped.body);
    assert_eq!(topped.json()["credits"][0]["balance"], 12);
    // The counter the limiter spends from holds the new balance.
    let plan = credits::prepaid();
    let id: KeyId = app.acme.bot_id.parse().unwrap();
    let stored = limiter
        .usage()
        .credits(&id, &app.acme.workspace, &plan.limits()[0])
        .await
        .unwrap();
    assert_eq!(stored, Some(12));
    assert_eq!(app.request(&app.acme.bot).await, 200);
    assert_eq!(app.bot_balance(&app.acme).await, 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_redis_is_a_503_in_bounded_time_and_the_routes_recover() {
    let _alone = SERVER.write().await;
    let Some((url, limiter)) = limiter().await else {
        return;
    };
    let app = serve(limiter, true).await;
    assert_eq!(app.bot_balance(&app.acme).await, 3);
    let read = format!("/admin/keys/{}/credits", app.acme.bot_id);

    let guard = RestartRedis(url.clone());
    assert!(services(&url, "stop-redis").unwrap().success());
    // A bound, not a speed claim: the 100 ms timeout must keep every answer far from a hang.
    let bound = Duration::from_secs(2);
    for _ in 0..3 {
        let started = Instant::now();
        let shown = app.call("GET", &read, &app.acme.admin, "").await;
        shown.assert_problem(503, "store_unavailable");
        assert_eq!(shown.header("retry-after"), Some("1"));
        assert!(started.elapsed() < bound, "took {:?}", started.elapsed());

        let started = Instant::now();
        let topped = app.operator_top_up(&app.acme, r#"{"add": 5}"#).await;
        topped.assert_problem(503, "store_unavailable");
        assert!(started.elapsed() < bound, "took {:?}", started.elapsed());
    }

    assert!(services(&url, "start-redis").unwrap().success());
    for _ in 0..300 {
        let shown = app.call("GET", &read, &app.acme.admin, "").await;
        if shown.status == 200 {
            // The test server keeps nothing across a restart: the counter starts again.
            assert_eq!(shown.json()["credits"][0]["balance"], 3);
            drop(guard);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the credits routes did not recover within 30 s of Redis restarting");
}

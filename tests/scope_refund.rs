//! A 403 from `RequireScopeLayer` spends no quota: the layer gives the unit its limiter
//! counted back ([`RateLimiter::refund`](keygate::RateLimiter::refund)), and under a plan
//! the route's cost on every limit
//! ([`RateLimiter::refund_usage`](keygate::RateLimiter::refund_usage)), over a real socket.

mod wire;

use std::num::NonZeroU32;

use axum::Router;
use axum::routing::get;
use keygate::plan::{Limit, Period, Plan, Sharing};
use keygate::policy::RoutePolicy;
use keygate::{
    ApiKeyLayer, KeyManager, MemoryKeyStore, MemoryRateLimiter, NewKey, PlanManager, Quota,
    RequireScopeLayer, Scope,
};

/// `/v1/records` for anyone, `/v1/admin/keys` behind a `RequireScopeLayer` for `admin`.
fn records_and_admin() -> Router {
    Router::new()
        .route("/v1/records", get(|| async { "records" }))
        .route(
            "/v1/admin/keys",
            get(|| async { "keys" }).route_layer(RequireScopeLayer::new(Scope::Admin)),
        )
}

#[tokio::test]
async fn route_layer_403s_spend_no_quota() {
    let store = MemoryKeyStore::new();
    let two_an_hour = Quota::per_hour(NonZeroU32::new(2).unwrap());
    let created = store
        .create(NewKey::new("ci".parse().unwrap(), "read:all".parse().unwrap()).quota(two_an_hour))
        .await
        .unwrap();
    let reader = created.plaintext.expose_secret().to_owned();
    let layer = ApiKeyLayer::builder(store.clone(), MemoryRateLimiter::new()).build();
    let app = records_and_admin().layer(layer);
    let addr = wire::serve_axum(app).await;
    for _ in 0..2 {
        let refused = wire::send(addr, wire::request("GET", "/v1/admin/keys", Some(&reader))).await;
        assert_eq!(refused.status(), 403);
        assert_eq!(wire::problem_code(&refused), "insufficient_scope");
    }
    for n in 0..2 {
        let ok = wire::send(addr, wire::request("GET", "/v1/records", Some(&reader))).await;
        assert_eq!(ok.status(), 200, "request {n} after two 403s");
    }
    let over = wire::send(addr, wire::request("GET", "/v1/records", Some(&reader))).await;
    assert_eq!(over.status(), 429);
    assert_eq!(wire::problem_code(&over), "rate_limited");
}

#[tokio::test]
async fn route_layer_403s_spend_nothing_on_any_limit_of_a_plan() {
    fn name<T: std::str::FromStr<Err: std::fmt::Debug>>(s: &str) -> T {
        s.parse().unwrap()
    }
    let store = MemoryKeyStore::new();
    let plan = Plan::new(
        name("pro"),
        vec![
            Limit::rate(name("burst"), Quota::per_hour(NonZeroU32::new(4).unwrap())),
            Limit::quota(name("daily"), 4, Period::Day).shared_by(Sharing::Workspace),
            Limit::credits(name("credits"), 4, None),
        ],
    )
    .unwrap();
    store.put_plan(plan).await.unwrap();
    let created = store
        .create(NewKey::new(name("ci"), "read:all".parse().unwrap()).plan(name("pro")))
        .await
        .unwrap();
    let reader = created.plaintext.expose_secret().to_owned();
    // Both routes cost 2 units of every limit.
    let policy = RoutePolicy::new()
        .route_cost("/v1/records", 2)
        .route_cost("/v1/admin/keys", 2);
    let layer = ApiKeyLayer::builder(store.clone(), MemoryRateLimiter::new())
        .policy(policy)
        .build();
    let app = records_and_admin().layer(layer);
    let addr = wire::serve_axum(app).await;
    for _ in 0..3 {
        let refused = wire::send(addr, wire::request("GET", "/v1/admin/keys", Some(&reader))).await;
        assert_eq!(refused.status(), 403);
        assert_eq!(wire::problem_code(&refused), "insufficient_scope");
        assert!(refused.headers().get("ratelimit").is_none());
    }
    for n in 0..2 {
        let ok = wire::send(addr, wire::request("GET", "/v1/records", Some(&reader))).await;
        assert_eq!(ok.status(), 200, "request {n} after three 403s");
    }
    let over = wire::send(addr, wire::request("GET", "/v1/records", Some(&reader))).await;
    assert_eq!(over.status(), 429);
}

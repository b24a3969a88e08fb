//! One rate limit shared by two instances of a service, each with a `RedisRateLimiter` (and so
//! a connection) of its own, on one server or on a Redis Cluster.

use std::time::Duration;

use http::StatusCode;
use keygate::limit::redis::RedisRateLimiter;
use keygate::{ApiKeyLayer, KeyManager, MemoryKeyStore, NewKey, Quota};
use tower::util::BoxCloneService;
use tower::{ServiceBuilder, service_fn};

use crate::common::{Svc, echo, get, send, with_key};

/// A service behind a layer of its own, on `limiter`.
fn instance(store: MemoryKeyStore, limiter: RedisRateLimiter) -> Svc {
    let layer = ApiKeyLayer::builder(store, limiter).build();
    BoxCloneService::new(ServiceBuilder::new().layer(layer).service(service_fn(echo)))
}

/// Two instances, on limiters `a` and `b` of one namespace, share one key's 4 requests a
/// minute: four 200s in turn, then a 429 `rate_limited` from each.
pub async fn two_instances_enforce_one_combined_limit(a: RedisRateLimiter, b: RedisRateLimiter) {
    let store = MemoryKeyStore::new();
    let created = store
        .create(
            NewKey::new("ci-pipeline".parse().unwrap(), "read:all".parse().unwrap())
                .quota(Quota::new(4, Duration::from_secs(60)).unwrap()),
        )
        .await
        .unwrap();
    let key = created.plaintext.expose_secret().to_owned();
    let a = instance(store.clone(), a);
    let b = instance(store, b);

    for (n, svc) in [&a, &b, &a, &b].into_iter().enumerate() {
        let answer = send(svc, with_key(get("/v1/records"), &key)).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "request {n}: {}",
            answer.body
        );
    }
    for svc in [&a, &b] {
        let answer = send(svc, with_key(get("/v1/records"), &key)).await;
        assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(answer.code(), "rate_limited");
        assert!(answer.header("retry-after").parse::<u64>().unwrap() >= 1);
    }
}

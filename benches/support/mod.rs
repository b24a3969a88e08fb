//! Fixtures shared by the benchmarks: a store full of keys, one key per error-table row, and
//! the service stacks being compared (bare, keygate, and the peers).

#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::body::Body;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response};
use keygate::key::KeyId;
use keygate::{ApiKeyLayer, KeyManager, MemoryKeyStore, MemoryRateLimiter, NewKey, Quota};
use tower::Service;

/// Runs a future that is expected to be ready at once (every stack here answers in `call`).
pub fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// One request through a service: `poll_ready`, `call`, and the response future.
pub fn call<S>(svc: &mut S, req: Request<Body>) -> S::Response
where
    S: Service<Request<Body>>,
    S::Error: std::fmt::Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    assert!(svc.poll_ready(&mut cx).is_ready());
    now(svc.call(req)).expect("the stacks under test are infallible")
}

/// The handler every stack wraps: an empty 200.
pub async fn hello(_req: Request<Body>) -> Result<Response<Body>, Infallible> {
    Ok(Response::new(Body::empty()))
}

/// A GET request carrying `Authorization: <value>` (or none).
pub fn request(auth: Option<&HeaderValue>) -> Request<Body> {
    let mut req = Request::new(Body::empty());
    *req.uri_mut() = http::Uri::from_static("/v1/records");
    if let Some(value) = auth {
        req.headers_mut().insert(AUTHORIZATION, value.clone());
    }
    req
}

pub fn bearer(key: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("Bearer {key}")).expect("keys are header-safe")
}

/// A quota no benchmark exhausts.
pub fn unlimited() -> Quota {
    Quota::new(u32::MAX, Duration::from_micros(1)).expect("valid quota")
}

/// A store with `n` keys plus the keys each benchmark path needs.
pub struct Keys {
    pub store: MemoryKeyStore,
    /// `read:all,write:all`, unlimited quota.
    pub valid: String,
    pub valid_id: KeyId,
    /// `read:all` only: a POST gets 403.
    pub reader: String,
    pub revoked: String,
    /// Well-formed, unknown id.
    pub unknown: String,
    /// Known id, wrong secret (valid checksum).
    pub wrong_secret: String,
    /// Fails the checksum.
    pub malformed: String,
    /// Burst 1 per hour, already spent.
    pub limited: String,
    /// More keys with the same scopes, for the different-keys thread benchmark.
    pub others: Vec<String>,
}

async fn create(store: &MemoryKeyStore, name: &str, scopes: &str, quota: Quota) -> (KeyId, String) {
    let created = store
        .create(NewKey::new(name.parse().unwrap(), scopes.parse().unwrap()).quota(quota))
        .await
        .unwrap();
    (
        created.info.id,
        created.plaintext.expose_secret().to_owned(),
    )
}

impl Keys {
    pub fn new(filler: usize) -> Self {
        now(async {
            let store = MemoryKeyStore::new();
            for i in 0..filler {
                create(&store, &format!("filler-{i}"), "read:all", unlimited()).await;
            }
            let (valid_id, valid) = create(
                &store,
                "production-backend",
                "read:all,write:all",
                unlimited(),
            )
            .await;
            let (_, reader) = create(&store, "local-dev", "read:all", unlimited()).await;
            let (revoked_id, revoked) = create(&store, "old", "read:all", unlimited()).await;
            store.revoke(&revoked_id).await.unwrap();
            let hour = Quota::new(1, Duration::from_secs(3600)).unwrap();
            let (_, limited) = create(&store, "limited", "read:all", hour).await;
            let mut others = Vec::new();
            for i in 0..64 {
                others.push(
                    create(&store, &format!("other-{i}"), "read:all", unlimited())
                        .await
                        .1,
                );
            }
            let prefix = keygate::key::KeyPrefix::default();
            let unknown = keygate::key::generate(&prefix)
                .unwrap()
                .plaintext
                .expose_secret()
                .to_owned();
            let wrong_secret = keygate::key::generate_for(&prefix, valid_id)
                .unwrap()
                .plaintext
                .expose_secret()
                .to_owned();
            let mut malformed = valid.clone();
            let last = malformed.pop().unwrap();
            malformed.push(if last == 'A' { 'B' } else { 'A' });
            Keys {
                store,
                valid,
                valid_id,
                reader,
                revoked,
                unknown,
                wrong_secret,
                malformed,
                limited,
                others,
            }
        })
    }

    /// The keygate layer over this store: method policy, default quota unlimited, and no
    /// failure limit (the reject benchmarks repeat one failing key millions of times, which
    /// would otherwise measure the throttled answer).
    pub fn layer(&self) -> ApiKeyLayer<MemoryKeyStore, MemoryRateLimiter> {
        ApiKeyLayer::builder(self.store.clone(), MemoryRateLimiter::new())
            .default_quota(unlimited())
            .without_failure_limit()
            .build()
    }
}

//! Fixtures shared by the benchmarks: a store full of keys, one request per error-table row,
//! the service stacks being compared (bare, keygate, and the peers), and the clocks that let
//! a benchmark count clock reads or keep the failure limit within its budget.

#![allow(dead_code)]

use keygate::Workspace;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use keygate::clock::{Clock, SystemClock};
use keygate::key::{KeyId, KeyPrefix};
use keygate::{
    ApiKeyLayer, ApiKeyLayerBuilder, ClientAddr, KeyManager, MemoryKeyStore, MemoryRateLimiter,
    NewKey, Quota,
};
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

/// One request the benchmarks send, and the status it must be answered with.
pub struct Row {
    /// The benchmark name, e.g. `wrong_secret_401`.
    pub name: &'static str,
    pub method: Method,
    pub auth: Option<HeaderValue>,
    pub status: StatusCode,
}

impl Row {
    pub fn request(&self) -> Request<Body> {
        let mut req = request(self.auth.as_ref());
        *req.method_mut() = self.method.clone();
        req
    }

    /// Sends the row once, passed through `prepare`, and panics unless it is answered with its
    /// status: a benchmark must measure the answer its name says.
    pub fn check<S, B>(&self, svc: &mut S, prepare: impl FnOnce(Request<Body>) -> Request<Body>)
    where
        S: Service<Request<Body>, Response = Response<B>>,
        S::Error: std::fmt::Debug,
    {
        let got = call(svc, prepare(self.request())).status();
        assert_eq!(got, self.status, "{} was answered {got}", self.name);
    }
}

/// Client addresses for requests that fail: each request gets the next of `size` addresses
/// (10.0.0.0/8), so that the failure limit counts the failures against many clients.
pub struct ClientPool {
    next: u32,
    size: u32,
}

/// Clients in the pool. With [`FastFailureClock`] every budget refills long before a client's
/// turn comes again, so no client, nor the whole pool, ever exceeds the default failure
/// limit; 4096 tracked clients are what a small flood leaves in the limiter's map.
pub const CLIENTS: u32 = 4096;

impl ClientPool {
    pub fn new(size: u32) -> Self {
        Self { next: 0, size }
    }

    /// `req` with the next client's address inserted, as a server inserts the peer address.
    pub fn tagged(&mut self, mut req: Request<Body>) -> Request<Body> {
        let ip = Ipv4Addr::from(0x0A00_0000 + self.next);
        self.next = (self.next + 1) % self.size;
        req.extensions_mut().insert(ClientAddr(IpAddr::V4(ip)));
        req
    }
}

/// How much faster than real time [`FastFailureClock`]'s monotonic time runs.
pub const FAILURE_CLOCK_SPEEDUP: u32 = 100_000;

/// The system clock, except that monotonic time runs [`FAILURE_CLOCK_SPEEDUP`] times fast.
///
/// Given to the layer (whose monotonic reads are the failure limit's alone), it makes a
/// benchmark's million failures a second ten a virtual second: within the default failure
/// limit (200 a second for all clients, 1 a second per client after a burst of 100), so the
/// rejection rows measure the row's own answer with the limit's bookkeeping, not the 429 a
/// real flood that fast would get once the global budget is spent. Each read costs what a
/// system clock read costs, plus a multiplication.
#[derive(Clone, Copy, Debug)]
pub struct FastFailureClock {
    system: SystemClock,
}

impl FastFailureClock {
    pub fn new() -> Self {
        Self {
            system: SystemClock::new(),
        }
    }
}

impl Clock for FastFailureClock {
    fn now(&self) -> SystemTime {
        self.system.now()
    }

    fn monotonic(&self) -> Duration {
        self.system
            .monotonic()
            .checked_mul(FAILURE_CLOCK_SPEEDUP)
            .unwrap_or(Duration::MAX)
    }

    fn coarse_now(&self) -> SystemTime {
        self.system.coarse_now()
    }
}

/// A clock that counts its reads; clones share the counts.
#[derive(Clone, Debug)]
pub struct CountingClock<C = SystemClock> {
    inner: C,
    wall: Arc<AtomicU64>,
    monotonic: Arc<AtomicU64>,
    coarse: Arc<AtomicU64>,
}

impl<C: Clock> CountingClock<C> {
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            wall: Arc::default(),
            monotonic: Arc::default(),
            coarse: Arc::default(),
        }
    }

    /// Reads so far: (precise wall clock, monotonic clock, coarse wall clock).
    pub fn reads(&self) -> (u64, u64, u64) {
        (
            self.wall.load(Ordering::Relaxed),
            self.monotonic.load(Ordering::Relaxed),
            self.coarse.load(Ordering::Relaxed),
        )
    }
}

impl<C: Clock> Clock for CountingClock<C> {
    fn now(&self) -> SystemTime {
        self.wall.fetch_add(1, Ordering::Relaxed);
        self.inner.now()
    }

    fn monotonic(&self) -> Duration {
        self.monotonic.fetch_add(1, Ordering::Relaxed);
        self.inner.monotonic()
    }

    fn coarse_now(&self) -> SystemTime {
        self.coarse.fetch_add(1, Ordering::Relaxed);
        self.inner.coarse_now()
    }
}

/// A quota no benchmark exhausts.
pub fn unlimited() -> Quota {
    Quota::new(u32::MAX, Duration::from_micros(1)).expect("valid quota")
}

/// A store with `n` keys plus the keys each benchmark path needs.
pub struct Keys<C = SystemClock> {
    pub store: MemoryKeyStore<C>,
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
    /// Burst 1 per hour: spend it with [`Keys::spend_limited`].
    pub limited: String,
    /// More keys with the same scopes, for the different-keys thread benchmark.
    pub others: Vec<String>,
}

async fn create<C: Clock>(
    store: &MemoryKeyStore<C>,
    name: &str,
    scopes: &str,
    quota: Quota,
) -> (KeyId, String) {
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
    /// `filler` keys and the benchmark keys in a store on the system clock.
    pub fn new(filler: usize) -> Self {
        Self::in_store(MemoryKeyStore::new(), filler)
    }
}

impl<C: Clock> Keys<C> {
    /// `filler` keys and the benchmark keys in `store`.
    pub fn in_store(store: MemoryKeyStore<C>, filler: usize) -> Self {
        now(async {
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
            store
                .revoke(&Workspace::default(), &revoked_id)
                .await
                .unwrap();
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
            let prefix = KeyPrefix::default();
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

    /// A layer builder over this store and `limiter`, with a default quota no benchmark
    /// exhausts and every other setting at its default.
    pub fn builder<L: keygate::RateLimiter>(
        &self,
        limiter: L,
    ) -> ApiKeyLayerBuilder<MemoryKeyStore<C>, L> {
        ApiKeyLayer::builder(self.store.clone(), limiter).default_quota(unlimited())
    }

    /// The keygate layer as a user gets it: the defaults (method policy, failure limit on,
    /// rate-limit headers), with a default quota no benchmark exhausts.
    pub fn layer(&self) -> ApiKeyLayer<MemoryKeyStore<C>, MemoryRateLimiter> {
        self.builder(MemoryRateLimiter::new()).build()
    }

    /// As [`Keys::layer`] but without the failure limit, for loops that repeat one failing
    /// key from one client millions of times (with the limit they would measure its 429).
    pub fn layer_without_failure_limit(&self) -> ApiKeyLayer<MemoryKeyStore<C>, MemoryRateLimiter> {
        self.builder(MemoryRateLimiter::new())
            .without_failure_limit()
            .build()
    }

    /// As [`Keys::layer`], the default failure limit on, with the layer's clock a
    /// [`FastFailureClock`]: for loops of failing requests tagged by a [`ClientPool`].
    pub fn layer_with_fast_failure_clock(
        &self,
    ) -> ApiKeyLayer<MemoryKeyStore<C>, MemoryRateLimiter> {
        self.builder(MemoryRateLimiter::new())
            .clock(FastFailureClock::new())
            .build()
    }

    /// One request per error-table row the targets name, in the table's order.
    pub fn reject_rows(&self) -> Vec<Row> {
        let get = |name, key: Option<&str>, status| Row {
            name,
            method: Method::GET,
            auth: key.map(bearer),
            status,
        };
        vec![
            get("missing_401", None, StatusCode::UNAUTHORIZED),
            get(
                "malformed_401",
                Some(&self.malformed),
                StatusCode::UNAUTHORIZED,
            ),
            get(
                "unknown_id_401",
                Some(&self.unknown),
                StatusCode::UNAUTHORIZED,
            ),
            get(
                "wrong_secret_401",
                Some(&self.wrong_secret),
                StatusCode::UNAUTHORIZED,
            ),
            get("revoked_401", Some(&self.revoked), StatusCode::UNAUTHORIZED),
            Row {
                method: Method::POST,
                ..get(
                    "insufficient_scope_403",
                    Some(&self.reader),
                    StatusCode::FORBIDDEN,
                )
            },
            get(
                "rate_limited_429",
                Some(&self.limited),
                StatusCode::TOO_MANY_REQUESTS,
            ),
        ]
    }

    /// Spends the limited key's one request on `svc`, so that its row is answered 429.
    pub fn spend_limited<S, B>(&self, svc: &mut S)
    where
        S: Service<Request<Body>, Response = Response<B>>,
        S::Error: std::fmt::Debug,
    {
        let status = call(svc, request(Some(&bearer(&self.limited)))).status();
        assert_eq!(status, StatusCode::OK, "the limited key's first request");
    }
}

/// The median of `samples`.
pub fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Nanoseconds per call of `f`, over `calls` calls in a row.
pub fn per_op(calls: u32, mut f: impl FnMut()) -> f64 {
    let start = std::time::Instant::now();
    for _ in 0..calls {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(calls)
}

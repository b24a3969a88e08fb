//! Shared set-up for the integration tests: a layer around a handler that echoes the
//! authenticated key, on a manual clock.

#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use keygate::clock::ManualClock;
use keygate::key::{KeyId, KeyPrefix};
use keygate::{
    ApiKeyLayer, ApiKeyLayerBuilder, AuthenticatedKey, KeyManager, KeyRecord, KeyStore,
    MemoryKeyStore, MemoryRateLimiter, NewKey, Quota, StoreError,
};
use tower::util::BoxCloneService;
use tower::{ServiceExt, service_fn};

pub type Svc =
    BoxCloneService<Request<Full<Bytes>>, Response<keygate::ResponseBody<Full<Bytes>>>, Infallible>;

/// The handler behind the layer: 200 with the key's name and scopes.
pub async fn echo(req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match req.extensions().get::<AuthenticatedKey>() {
        Some(key) => format!("{} {}", key.name(), key.scopes()),
        None => "no key".to_owned(),
    };
    Ok(Response::new(Full::new(Bytes::from(body))))
}

/// A store that counts lookups.
#[derive(Clone)]
pub struct CountingStore {
    pub inner: MemoryKeyStore<ManualClock>,
    pub lookups: Arc<AtomicUsize>,
}

impl KeyStore for CountingStore {
    type Future = <MemoryKeyStore<ManualClock> as KeyStore>::Future;
    fn get(&self, id: &KeyId) -> Self::Future {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.get(id)
    }
    fn touch(&self, id: &KeyId) {
        self.inner.touch(id)
    }
    fn prefix(&self) -> keygate::key::KeyPrefix {
        self.inner.prefix().clone()
    }
}

/// A store whose answers arrive only after the task has been suspended once, the way a
/// networked store's would: drives the layer's asynchronous path.
#[derive(Clone)]
pub struct SuspendingStore(pub MemoryKeyStore<ManualClock>);

type Lookup = Pin<Box<dyn Future<Output = Result<Option<Arc<KeyRecord>>, StoreError>> + Send>>;

impl KeyStore for SuspendingStore {
    type Future = Lookup;
    fn get(&self, id: &KeyId) -> Self::Future {
        let store = self.0.clone();
        let id = *id;
        Box::pin(async move {
            tokio::task::yield_now().await;
            store.get(&id).await
        })
    }
}

pub struct Harness {
    pub store: MemoryKeyStore<ManualClock>,
    pub clock: ManualClock,
    pub lookups: Arc<AtomicUsize>,
    pub limiter: MemoryRateLimiter<ManualClock>,
}

pub fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

impl Harness {
    pub fn new() -> Self {
        let clock = ManualClock::new();
        Self {
            store: MemoryKeyStore::with_clock(KeyPrefix::default(), clock.clone()),
            limiter: MemoryRateLimiter::with_clock(clock.clone()),
            clock,
            lookups: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The layer's builder, on this harness's store, limiter and clock, counting lookups.
    pub fn builder(&self) -> ApiKeyLayerBuilder<CountingStore, MemoryRateLimiter<ManualClock>> {
        let store = CountingStore {
            inner: self.store.clone(),
            lookups: Arc::clone(&self.lookups),
        };
        ApiKeyLayer::builder(store, self.limiter.clone()).clock(self.clock.clone())
    }

    /// The default service: method policy, default quota of 3 per second.
    pub fn service(&self) -> Svc {
        let layer = self
            .builder()
            .default_quota(Quota::per_second(nz(3)))
            .build();
        BoxCloneService::new(
            tower::ServiceBuilder::new()
                .layer(layer)
                .service(service_fn(echo)),
        )
    }

    pub async fn key(&self, name: &str, scopes: &str) -> (KeyId, String) {
        let created = self
            .store
            .create(NewKey::new(name.parse().unwrap(), scopes.parse().unwrap()))
            .await
            .unwrap();
        (
            created.info.id,
            created.plaintext.expose_secret().to_owned(),
        )
    }

    /// A key made with `name` and `scopes`, then revoked.
    pub async fn revoked_key(&self, name: &str, scopes: &str) -> (KeyId, String) {
        let (id, secret) = self.key(name, scopes).await;
        self.store
            .revoke(&keygate::Workspace::default(), &id)
            .await
            .unwrap();
        (id, secret)
    }

    pub fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    pub extensions: http::Extensions,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    /// The `code` member of a problem body.
    pub fn code(&self) -> String {
        let json: serde_json::Value = serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body));
        json["code"].as_str().unwrap().to_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

pub async fn send(svc: &Svc, req: Request<Full<Bytes>>) -> Answer {
    let response = svc.clone().oneshot(req).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
        extensions: parts.extensions,
    }
}

pub fn get(path: &str) -> http::request::Builder {
    Request::get(path)
}

pub fn with_key(builder: http::request::Builder, key: &str) -> Request<Full<Bytes>> {
    builder
        .header("authorization", format!("Bearer {key}"))
        .body(Full::new(Bytes::new()))
        .unwrap()
}

pub fn bare(builder: http::request::Builder) -> Request<Full<Bytes>> {
    builder.body(Full::new(Bytes::new())).unwrap()
}

/// A store whose backend is down: every lookup fails as unreachable.
#[derive(Clone)]
pub struct DownStore;

impl KeyStore for DownStore {
    type Future = std::future::Ready<Result<Option<Arc<KeyRecord>>, StoreError>>;
    fn get(&self, _: &KeyId) -> Self::Future {
        std::future::ready(Err(StoreError::Unavailable("connection refused".into())))
    }
}

/// A limiter whose backend is down: every check times out.
#[derive(Clone)]
pub struct DownLimiter;

impl keygate::RateLimiter for DownLimiter {
    type Future = std::future::Ready<Result<keygate::Decision, keygate::LimiterError>>;
    fn check(&self, _: &KeyId, _: &Quota) -> Self::Future {
        std::future::ready(Err(keygate::LimiterError::Timeout(
            std::time::Duration::from_millis(50),
        )))
    }
}

//! Shared set-up for the tests against a real PostgreSQL (`KEYGATE_TEST_POSTGRES_URL`).

#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

#[cfg(feature = "cache")]
use keygate::store::cache::CachedKeyStore;
use keygate::store::postgres::{PostgresKeyStore, PostgresKeyStoreBuilder};
use keygate::{ApiKeyLayer, KeyStore, MemoryRateLimiter};
use tower::service_fn;
use tower::util::BoxCloneService;

use crate::common::{Svc, echo};
use crate::conformance::backend_url;

/// A builder on the test database, or `None` (with the reason printed) when it is not set.
pub fn builder() -> Option<PostgresKeyStoreBuilder> {
    let url = backend_url("KEYGATE_TEST_POSTGRES_URL")?;
    Some(PostgresKeyStore::builder(&url).pool_size(4))
}

/// A migrated store on the test database.
pub async fn store() -> Option<PostgresKeyStore> {
    let store = builder()?.build().expect("store");
    store.migrate().await.expect("migrations");
    Some(store)
}

/// A cache in front of `store`, following its invalidations.
#[cfg(feature = "cache")]
pub fn cached(store: &PostgresKeyStore, ttl: Duration) -> CachedKeyStore<PostgresKeyStore> {
    CachedKeyStore::builder(store.clone())
        .ttl(ttl)
        .invalidations(store.invalidations())
        .build()
        .expect("cache")
}

/// Waits (at most 10 s) until the store's invalidation listener is connected.
pub async fn until_listening(store: &PostgresKeyStore) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !store.is_listening() {
        assert!(
            Instant::now() < deadline,
            "the invalidation listener did not connect within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The echo handler behind a layer on `store`, with no rate limit.
pub fn service<K: KeyStore>(store: K) -> Svc {
    let layer = ApiKeyLayer::builder(store, MemoryRateLimiter::new()).build();
    BoxCloneService::new(
        tower::ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(echo)),
    )
}

const SERVICES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/services.sh");

/// Runs `scripts/services.sh <command>` (e.g. `stop-postgres`) and checks it succeeded.
pub fn services(command: &str) {
    let status = Command::new(SERVICES)
        .arg(command)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {SERVICES}: {e}"));
    assert!(status.success(), "services.sh {command} failed: {status}");
}

/// Starts PostgreSQL again when dropped, even if the test failed half-way.
pub struct RestartPostgres;

impl Drop for RestartPostgres {
    fn drop(&mut self) {
        let _ = Command::new(SERVICES).arg("start-postgres").status();
    }
}

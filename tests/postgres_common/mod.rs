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

/// A schema of its own on the test database, for a test that needs tables no other test
/// touches (a migration from an old schema, a damaged row). Dropped, with its tables, when the
/// guard is.
pub struct PrivateSchema {
    /// Connection settings whose `search_path` is the schema alone.
    pub config: tokio_postgres::Config,
    /// A connection to it, for set-up by hand.
    pub client: tokio_postgres::Client,
    name: String,
    base: tokio_postgres::Config,
}

impl PrivateSchema {
    /// Creates the schema, or `None` (with the reason printed) when no test database is set.
    pub async fn create() -> Option<Self> {
        let url = backend_url("KEYGATE_TEST_POSTGRES_URL")?;
        let base: tokio_postgres::Config = url.parse().expect("test database URL");
        let unique = keygate::key::KeyId::random().unwrap();
        let name = format!("kg_test_{}", unique.as_str().to_ascii_lowercase());
        let mut config = base.clone();
        config.options(format!("-c search_path={name}"));
        let admin = connect(&base).await;
        admin
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .expect("create schema");
        Some(Self {
            client: connect(&config).await,
            config,
            name,
            base,
        })
    }

    /// A store on the schema (not migrated).
    pub fn store(&self) -> PostgresKeyStore {
        PostgresKeyStore::builder_from_config(self.config.clone())
            .pool_size(2)
            .build()
            .expect("store")
    }
}

impl Drop for PrivateSchema {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // Drop runs inside the test's runtime: the cleanup gets a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let client = connect(&base).await;
                let _ = client
                    .batch_execute(&format!("DROP SCHEMA {name} CASCADE"))
                    .await;
            });
        })
        .join();
    }
}

/// A plain connection with `config`, driven by a task of its own.
pub async fn connect(config: &tokio_postgres::Config) -> tokio_postgres::Client {
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(connection);
    client
}

/// A login role of its own for a node's listener, so that the test can cut that listener off
/// (and keep it off) without touching any other connection. Dropped by
/// [`drop_role`](Self::drop_role).
pub struct ListenerRole {
    admin: tokio_postgres::Client,
    name: String,
    /// Connection settings that log in as the role.
    pub url: String,
}

impl ListenerRole {
    pub async fn create() -> Option<Self> {
        let url = backend_url("KEYGATE_TEST_POSTGRES_URL")?;
        let config: tokio_postgres::Config = url.parse().unwrap();
        let admin = connect(&config).await;
        let name = format!(
            "kg_listener_{}",
            keygate::key::KeyId::random()
                .unwrap()
                .as_str()
                .to_ascii_lowercase()
        );
        admin
            .batch_execute(&format!("CREATE ROLE {name} LOGIN"))
            .await
            .unwrap();
        let host = match &config.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(host) => host.clone(),
            other => panic!("a TCP test database, not {other:?}"),
        };
        let url = format!(
            "host={host} port={} dbname={} user={name}",
            config.get_ports()[0],
            config.get_dbname().unwrap()
        );
        Some(Self { admin, name, url })
    }

    /// Refuses the role's logins and ends its connections.
    pub async fn cut_off(&self) {
        let name = &self.name;
        self.admin
            .batch_execute(&format!(
                "ALTER ROLE {name} NOLOGIN; \
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{name}'"
            ))
            .await
            .unwrap();
    }

    pub async fn let_in(&self) {
        let name = &self.name;
        self.admin
            .batch_execute(&format!("ALTER ROLE {name} LOGIN"))
            .await
            .unwrap();
    }

    pub async fn drop_role(self) {
        self.cut_off().await;
        let _ = self
            .admin
            .batch_execute(&format!("DROP ROLE {}", self.name))
            .await;
    }
}

//! PostgreSQL stopped under a running cache + store: cached keys are still served, others get
//! a prompt 503, and everything recovers once the server is back, without a manual step.
//!
//! The server is stopped and restarted, so the steps run in one test function, and a drop
//! guard restarts it whatever happens.

mod common;
mod conformance;
mod postgres_common;

use keygate::Workspace;
use std::time::{Duration, Instant};

use common::{get, send, with_key};
use http::StatusCode;
use keygate::key::KeyId;
use keygate::store::cache::CachedKeyStore;
use keygate::store::{Invalidation, Invalidations};
use keygate::{KeyManager, NewKey};
use postgres_common::{RestartPostgres, services};

/// Receives invalidations until `wanted`, for at most `within`.
async fn receive(invalidations: &mut Invalidations, wanted: Invalidation, within: Duration) {
    tokio::time::timeout(within, async {
        while let Some(next) = invalidations.recv().await {
            if next == wanted {
                return;
            }
        }
        panic!("the invalidation channel closed");
    })
    .await
    .unwrap_or_else(|_| panic!("no {wanted:?} within {within:?}"));
}

async fn poll_until(within: Duration, what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_database_serves_cached_keys_refuses_others_with_503_and_recovers() {
    let Some(builder) = postgres_common::builder() else {
        return;
    };
    let timeout = Duration::from_secs(2);
    let store = builder.timeout(timeout).build().unwrap();
    store.migrate().await.unwrap();
    let cache = CachedKeyStore::builder(store.clone())
        .ttl(Duration::from_millis(200))
        .stale_limit(Duration::from_secs(600))
        .build()
        .unwrap();
    // The listener, watched directly: it must come back and resynchronise after the restart.
    let mut invalidations = store.invalidations();
    receive(
        &mut invalidations,
        Invalidation::All,
        Duration::from_secs(10),
    )
    .await;
    let svc = postgres_common::service(cache.clone());
    let mut keys = Vec::new();
    for name in ["cached", "uncached"] {
        let unique = KeyId::random().unwrap().as_str().to_ascii_lowercase();
        let created = cache
            .create(NewKey::new(
                format!("{name}-{unique}").parse().unwrap(),
                "read:all".parse().unwrap(),
            ))
            .await
            .unwrap();
        keys.push(created.plaintext.expose_secret().to_owned());
    }
    let (cached, uncached) = (&keys[0], &keys[1]);
    assert_eq!(
        send(&svc, with_key(get("/"), cached)).await.status,
        StatusCode::OK
    );
    // Past the TTL: the next lookup asks the database, and must fall back on the cache.
    tokio::time::sleep(Duration::from_millis(400)).await;

    let restart = RestartPostgres;
    services("stop-postgres");

    let answer = send(&svc, with_key(get("/"), cached)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);

    let answer = tokio::time::timeout(timeout * 5, send(&svc, with_key(get("/"), uncached)))
        .await
        .expect("an answer, not a hang");
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.code(), "auth_unavailable");
    assert!(answer.headers.contains_key("retry-after"));

    services("start-postgres");
    drop(restart);

    poll_until(
        Duration::from_secs(30),
        "uncached key accepted",
        async || send(&svc, with_key(get("/"), uncached)).await.status == StatusCode::OK,
    )
    .await;
    // Notifications sent while it was away are lost: it reconnects and says "forget all". (An
    // `All` may also have been sent when the connection broke, so wait for the listener first.)
    poll_until(
        Duration::from_secs(30),
        "listener reconnected",
        async || store.is_listening(),
    )
    .await;
    receive(
        &mut invalidations,
        Invalidation::All,
        Duration::from_secs(30),
    )
    .await;

    // And it hears changes made by another instance again.
    let other = postgres_common::store().await.unwrap();
    let id = cache
        .list(&Workspace::default())
        .await
        .unwrap()
        .into_iter()
        .find(|k| cached.contains(&format!("_{}_", k.id)))
        .expect("the cached key is listed")
        .id;
    other.revoke(&Workspace::default(), &id).await.unwrap();
    receive(
        &mut invalidations,
        Invalidation::Revoked(id),
        Duration::from_secs(5),
    )
    .await;
}

//! The cache in front of a real store (the in-memory one, counted): hits, negative caching,
//! coalesced misses, eviction on change, invalidations, and serving while the store fails.

mod common;
#[cfg(feature = "postgres")]
mod conformance;
#[cfg(feature = "postgres")]
mod postgres_common;

use keygate::Workspace;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Svc, echo, get, send, with_key};
use http::StatusCode;
use keygate::key::{self, KeyPrefix};
use keygate::key::{ApiKey, KeyDigest, KeyId};
use keygate::store::cache::CachedKeyStore;
use keygate::store::{BoxLookup, Invalidation, invalidation_channel};
use keygate::store::{ImportKey, ImportedSecret};
use keygate::{
    ApiKeyLayer, KeyManager, KeyStore, KeyUpdate, MemoryKeyStore, MemoryRateLimiter, NewKey,
    StoreError,
};
use tower::service_fn;
use tower::util::BoxCloneService;

/// The in-memory store, counting lookups, answering after `delay` like a networked store, and
/// failing (as an unreachable database would) while `failing` is set.
#[derive(Clone)]
struct Counted {
    inner: MemoryKeyStore,
    lookups: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
    delay: Duration,
}

impl Counted {
    fn new(delay: Duration) -> Self {
        Self {
            inner: MemoryKeyStore::new(),
            lookups: Arc::new(AtomicUsize::new(0)),
            failing: Arc::new(AtomicBool::new(false)),
            delay,
        }
    }

    fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }

    fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

impl Counted {
    /// The memory store's `answer`, counted, delayed and failing as set.
    fn answer(&self, answer: <MemoryKeyStore as KeyStore>::Future) -> BoxLookup {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let failing = self.failing.load(Ordering::SeqCst);
        let delay = self.delay;
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            if failing {
                return Err(StoreError::Unavailable("connection refused".into()));
            }
            answer.await
        })
    }
}

impl KeyStore for Counted {
    type Future = BoxLookup;

    fn get(&self, id: &KeyId) -> Self::Future {
        self.answer(self.inner.get(id))
    }

    fn get_by_digest(&self, digest: &KeyDigest) -> Option<Self::Future> {
        Some(self.answer(self.inner.get_by_digest(digest)?))
    }
}

key_manager_via!(Counted, inner);

fn cache(store: &Counted) -> CachedKeyStore<Counted> {
    CachedKeyStore::builder(store.clone())
        .ttl(Duration::from_secs(600))
        .negative_ttl(Duration::from_secs(600))
        .build()
        .unwrap()
}

fn service(store: CachedKeyStore<Counted>) -> Svc {
    let layer = ApiKeyLayer::builder(store, MemoryRateLimiter::new())
        .imported_keys(true)
        .build();
    BoxCloneService::new(
        tower::ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(echo)),
    )
}

/// Creates a key with a name of its own (names are unique among a workspace's keys).
async fn key(store: &impl KeyManager, scopes: &str) -> (KeyId, String) {
    let unique = KeyId::random().unwrap().as_str().to_ascii_lowercase();
    let created = store
        .create(NewKey::new(
            format!("ci-pipeline-{unique}").parse().unwrap(),
            scopes.parse().unwrap(),
        ))
        .await
        .unwrap();
    (
        created.info.id,
        created.plaintext.expose_secret().to_owned(),
    )
}

/// A well-formed key whose id no store holds.
fn unknown_key() -> String {
    key::generate(&KeyPrefix::default())
        .unwrap()
        .plaintext
        .expose_secret()
        .to_owned()
}

#[tokio::test]
async fn cached_key_is_served_without_asking_the_store_again() {
    let store = Counted::new(Duration::ZERO);
    let (_, plaintext) = key(&store, "read:all").await;
    let svc = service(cache(&store));
    for _ in 0..20 {
        let answer = send(&svc, with_key(get("/"), &plaintext)).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    assert_eq!(store.lookups(), 1);
}

#[tokio::test]
async fn flood_of_one_unknown_key_reaches_the_store_once() {
    let store = Counted::new(Duration::ZERO);
    let svc = service(cache(&store));
    let plaintext = unknown_key();
    for _ in 0..50 {
        let answer = send(&svc, with_key(get("/"), &plaintext)).await;
        assert_eq!(answer.code(), "invalid_api_key");
    }
    assert_eq!(store.lookups(), 1);
}

#[tokio::test]
async fn unknown_id_is_asked_again_once_the_negative_ttl_ends() {
    let store = Counted::new(Duration::ZERO);
    let cache = CachedKeyStore::builder(store.clone())
        .negative_ttl(Duration::from_millis(300))
        .build()
        .unwrap();
    let id = KeyId::random().unwrap();
    assert!(cache.get(&id).await.unwrap().is_none());
    assert!(cache.get(&id).await.unwrap().is_none());
    assert_eq!(store.lookups(), 1);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(cache.get(&id).await.unwrap().is_none());
    assert_eq!(store.lookups(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_for_one_id_load_once() {
    let store = Counted::new(Duration::from_millis(100));
    let (id, _) = key(&store, "read:all").await;
    let cache = cache(&store);
    let lookups: Vec<_> = (0..32)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get(&id).await })
        })
        .collect();
    for lookup in lookups {
        assert!(lookup.await.unwrap().unwrap().is_some());
    }
    assert_eq!(store.lookups(), 1);
}

#[tokio::test]
async fn revoked_key_is_refused_at_once_through_the_same_process() {
    let store = Counted::new(Duration::ZERO);
    let cache = cache(&store);
    let (id, plaintext) = key(&cache, "read:all").await;
    let svc = service(cache.clone());
    assert_eq!(
        send(&svc, with_key(get("/"), &plaintext)).await.status,
        StatusCode::OK
    );
    cache.revoke(&Workspace::default(), &id).await.unwrap();
    let answer = send(&svc, with_key(get("/"), &plaintext)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.code(), "revoked_api_key");
}

#[tokio::test]
async fn rotation_without_grace_refuses_the_old_secret_at_once() {
    let store = Counted::new(Duration::ZERO);
    let cache = cache(&store);
    let (id, old) = key(&cache, "read:all").await;
    let svc = service(cache.clone());
    assert_eq!(
        send(&svc, with_key(get("/"), &old)).await.status,
        StatusCode::OK
    );
    let new = cache
        .rotate(&Workspace::default(), &id, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        send(&svc, with_key(get("/"), &old)).await.code(),
        "invalid_api_key"
    );
    let answer = send(&svc, with_key(get("/"), new.plaintext.expose_secret())).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn scope_change_applies_at_once_through_the_same_process() {
    let store = Counted::new(Duration::ZERO);
    let cache = cache(&store);
    let (id, plaintext) = key(&cache, "read:all").await;
    let svc = service(cache.clone());
    let post = || http::Request::post("/");
    assert_eq!(
        send(&svc, with_key(post(), &plaintext)).await.code(),
        "insufficient_scope"
    );
    cache
        .update(
            &Workspace::default(),
            &id,
            KeyUpdate::new().scopes("write:all".parse().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(
        send(&svc, with_key(post(), &plaintext)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn key_created_through_the_cache_is_not_refused_by_an_earlier_miss() {
    let store = Counted::new(Duration::ZERO);
    let cache = cache(&store);
    let svc = service(cache.clone());
    // Whatever the cache remembered as unknown before, creation evicts the new id.
    let (id, plaintext) = key(&cache, "read:all").await;
    assert!(cache.get(&id).await.unwrap().is_some());
    assert_eq!(
        send(&svc, with_key(get("/"), &plaintext)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn invalidation_from_elsewhere_evicts_the_key() {
    let store = Counted::new(Duration::ZERO);
    let (sender, invalidations) = invalidation_channel();
    let cache = CachedKeyStore::builder(store.clone())
        .ttl(Duration::from_secs(600))
        .invalidations(invalidations)
        .build()
        .unwrap();
    let (id, _) = key(&store, "read:all").await;
    cache.get(&id).await.unwrap();
    // Changed behind the cache's back, then announced.
    store.revoke(&Workspace::default(), &id).await.unwrap();
    sender.send(Invalidation::Key(id));
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        if cache.get(&id).await.unwrap().unwrap().revoked_at.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "not evicted within 1 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn invalidating_everything_evicts_every_key() {
    let store = Counted::new(Duration::ZERO);
    let cache = cache(&store);
    let (a, _) = key(&store, "read:all").await;
    let (b, _) = key(&store, "read:all").await;
    cache.get(&a).await.unwrap();
    cache.get(&b).await.unwrap();
    cache.invalidate_all();
    cache.get(&a).await.unwrap();
    cache.get(&b).await.unwrap();
    assert_eq!(store.lookups(), 4);
}

#[tokio::test]
async fn cached_key_is_served_past_its_ttl_while_the_store_fails() {
    let store = Counted::new(Duration::ZERO);
    let cache = CachedKeyStore::builder(store.clone())
        .ttl(Duration::from_millis(20))
        .stale_limit(Duration::from_secs(600))
        .build()
        .unwrap();
    let (_, plaintext) = key(&store, "read:all").await;
    let svc = service(cache);
    assert_eq!(
        send(&svc, with_key(get("/"), &plaintext)).await.status,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    store.fail(true);
    let answer = send(&svc, with_key(get("/"), &plaintext)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(store.lookups() >= 2, "the store was asked, and failed");
}

#[tokio::test]
async fn failing_store_is_asked_at_most_once_a_second_per_stale_key() {
    let store = Counted::new(Duration::ZERO);
    let cache = CachedKeyStore::builder(store.clone())
        .ttl(Duration::from_millis(20))
        .build()
        .unwrap();
    let (id, _) = key(&store, "read:all").await;
    cache.get(&id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    store.fail(true);
    let start = Instant::now();
    for _ in 0..20 {
        assert!(cache.get(&id).await.unwrap().is_some());
    }
    // One load, one failed refresh, then one more per second that passed.
    let seconds = usize::try_from(start.elapsed().as_secs()).unwrap();
    assert!(
        store.lookups() <= 2 + seconds,
        "{} lookups",
        store.lookups()
    );
}

#[tokio::test]
async fn uncached_key_is_unavailable_while_the_store_fails() {
    let store = Counted::new(Duration::ZERO);
    let (_, plaintext) = key(&store, "read:all").await;
    let svc = service(cache(&store));
    store.fail(true);
    let answer = send(&svc, with_key(get("/"), &plaintext)).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.code(), "auth_unavailable");
    store.fail(false);
    let answer = send(&svc, with_key(get("/"), &plaintext)).await;
    assert_eq!(answer.status, StatusCode::OK, "a failure is not cached");
}

#[tokio::test]
async fn cached_key_is_not_served_past_the_stale_limit() {
    let store = Counted::new(Duration::ZERO);
    let cache = CachedKeyStore::builder(store.clone())
        .ttl(Duration::from_millis(20))
        .stale_limit(Duration::from_millis(50))
        .build()
        .unwrap();
    let (id, _) = key(&store, "read:all").await;
    cache.get(&id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    store.fail(true);
    let error = cache.get(&id).await.unwrap_err();
    assert!(error.is_unavailable(), "{error:?}");
}

#[tokio::test]
async fn unknown_id_is_not_served_stale() {
    let store = Counted::new(Duration::ZERO);
    let cache = CachedKeyStore::builder(store.clone())
        .negative_ttl(Duration::from_millis(20))
        .build()
        .unwrap();
    let id = KeyId::random().unwrap();
    assert!(cache.get(&id).await.unwrap().is_none());
    tokio::time::sleep(Duration::from_millis(100)).await;
    store.fail(true);
    assert!(cache.get(&id).await.unwrap_err().is_unavailable());
}

#[tokio::test]
async fn longest_settings_are_cut_instead_of_overflowing() {
    let store = Counted::new(Duration::ZERO);
    let cache = CachedKeyStore::builder(store.clone())
        .ttl(Duration::MAX)
        .negative_ttl(Duration::MAX)
        .stale_limit(Duration::MAX)
        .build()
        .unwrap();
    let (id, _) = key(&store, "read:all").await;
    assert!(cache.get(&id).await.unwrap().is_some());
    assert!(
        cache
            .get(&KeyId::random().unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert!(cache.get(&id).await.unwrap().is_some());
    assert_eq!(store.lookups(), 2);
}

#[tokio::test]
async fn lookup_begun_before_an_invalidation_never_brings_the_old_record_back() {
    let store = Counted::new(Duration::ZERO);
    let cache = CachedKeyStore::builder(store.clone())
        .ttl(Duration::from_millis(20))
        .stale_limit(Duration::from_secs(600))
        .build()
        .unwrap();
    let (id, plaintext) = key(&store, "read:all").await;
    cache.get(&id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    store.fail(true);
    // Begun with the stale record in hand; the revocation notice arrives before it runs.
    let begun = cache.get(&id);
    store
        .inner
        .revoke(&Workspace::default(), &id)
        .await
        .unwrap();
    cache.invalidate(&id);
    assert!(begun.await.unwrap_err().is_unavailable());
    let answer = send(&service(cache), with_key(get("/"), &plaintext)).await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn key_revoked_through_the_cache_is_refused_as_revoked_while_the_store_fails() {
    let store = Counted::new(Duration::ZERO);
    let cache = cache(&store);
    let (id, plaintext) = key(&store, "read:all").await;
    let svc = service(cache.clone());
    assert_eq!(
        send(&svc, with_key(get("/"), &plaintext)).await.status,
        StatusCode::OK
    );
    cache.revoke(&Workspace::default(), &id).await.unwrap();
    store.fail(true);
    let answer = send(&svc, with_key(get("/"), &plaintext)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    assert_eq!(answer.code(), "revoked_api_key");
}

#[tokio::test]
async fn notice_about_a_key_known_revoked_keeps_it_refused_as_revoked_while_the_store_fails() {
    let store = Counted::new(Duration::ZERO);
    let cache = cache(&store);
    let (id, plaintext) = key(&store, "read:all").await;
    store
        .inner
        .revoke(&Workspace::default(), &id)
        .await
        .unwrap();
    let svc = service(cache.clone());
    assert_eq!(
        send(&svc, with_key(get("/"), &plaintext)).await.code(),
        "revoked_api_key"
    );
    cache.invalidate(&id);
    store.fail(true);
    let answer = send(&svc, with_key(get("/"), &plaintext)).await;
    assert_eq!(answer.code(), "revoked_api_key", "{}", answer.body);
}

/// The notify path of a real PostgreSQL: a revocation announced by another instance, then the
/// server stopped.
#[cfg(feature = "postgres")]
mod over_postgres {
    use std::time::Duration;

    use http::StatusCode;
    use keygate::key::KeyId;
    use keygate::store::Invalidation;
    use keygate::store::cache::CachedKeyStore;
    use keygate::{KeyManager, KeyStore, NewKey, Workspace};

    use crate::common::{get, send, with_key};
    use crate::postgres_common::{self, RestartPostgres, services};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn revocation_notice_is_never_undone_while_postgresql_is_down() {
        let Some(builder) = postgres_common::builder() else {
            return;
        };
        let store = builder.timeout(Duration::from_secs(2)).build().unwrap();
        store.migrate().await.unwrap();
        let cache = CachedKeyStore::builder(store.clone())
            .ttl(Duration::from_millis(200))
            .listener_ttl(Duration::from_millis(200))
            .stale_limit(Duration::from_secs(600))
            .invalidations(store.invalidations())
            .build()
            .unwrap();
        postgres_common::until_listening(&store).await;
        let other = postgres_common::store().await.unwrap();
        let unique = KeyId::random().unwrap().as_str().to_ascii_lowercase();
        let created = cache
            .create(NewKey::new(
                format!("notice-{unique}").parse().unwrap(),
                "read:all".parse().unwrap(),
            ))
            .await
            .unwrap();
        let (id, plaintext) = (
            created.info.id,
            created.plaintext.expose_secret().to_owned(),
        );
        let svc = postgres_common::service(cache.clone());
        assert_eq!(
            send(&svc, with_key(get("/"), &plaintext)).await.status,
            StatusCode::OK
        );
        tokio::time::sleep(Duration::from_millis(400)).await;

        // A lookup begins with the stale record in hand; then another instance revokes the key
        // and the notice arrives.
        let begun = cache.get(&id);
        let mut notices = store.invalidations();
        other.revoke(&Workspace::default(), &id).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), async {
            while notices.recv().await != Some(Invalidation::Revoked(id)) {}
        })
        .await
        .expect("the revocation is announced");
        // The cache's own follower gets the same notice.
        tokio::time::sleep(Duration::from_millis(300)).await;

        let restart = RestartPostgres;
        services("stop-postgres");
        let first = tokio::time::timeout(Duration::from_secs(20), begun)
            .await
            .expect("an answer, not a hang");
        assert!(first.unwrap_err().is_unavailable());
        let answer = tokio::time::timeout(
            Duration::from_secs(20),
            send(&svc, with_key(get("/"), &plaintext)),
        )
        .await
        .expect("an answer, not a hang");
        // The notice said "revoked": the cache keeps the key as revoked, store or no store.
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
        assert_eq!(answer.code(), "revoked_api_key");
        services("start-postgres");
        drop(restart);
    }
}

/// A token in another scheme's format.
const FOREIGN: &str = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";

/// Imports [`FOREIGN`] into `store`: the id it got.
async fn import_foreign(store: &impl KeyManager) -> KeyId {
    let secret = ImportedSecret::Plaintext(ApiKey::from_plaintext(FOREIGN));
    let import = ImportKey::new(
        secret,
        "legacy".parse().unwrap(),
        "read:all".parse().unwrap(),
    );
    store.import(import).await.unwrap().id
}

#[tokio::test]
async fn imported_key_is_served_from_memory_after_its_digest_and_id_are_known() {
    let store = Counted::new(Duration::ZERO);
    import_foreign(&store).await;
    let svc = service(cache(&store));
    for _ in 0..20 {
        let answer = send(&svc, with_key(get("/"), FOREIGN)).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    // The digest, then the id it belongs to; every later request is a hit.
    assert_eq!(store.lookups(), 2);
}

#[tokio::test]
async fn flood_of_one_unknown_foreign_token_reaches_the_store_once() {
    let store = Counted::new(Duration::ZERO);
    let svc = service(cache(&store));
    for _ in 0..50 {
        let answer = send(&svc, with_key(get("/"), FOREIGN)).await;
        assert_eq!(answer.code(), "invalid_api_key");
    }
    assert_eq!(store.lookups(), 1);
}

#[tokio::test]
async fn unknown_digest_is_asked_again_once_the_negative_ttl_ends() {
    let store = Counted::new(Duration::ZERO);
    let cache = CachedKeyStore::builder(store.clone())
        .negative_ttl(Duration::from_millis(300))
        .build()
        .unwrap();
    let digest = KeyDigest::of_secret(FOREIGN.as_bytes());
    assert!(
        cache
            .get_by_digest(&digest)
            .unwrap()
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        cache
            .get_by_digest(&digest)
            .unwrap()
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.lookups(), 1);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        cache
            .get_by_digest(&digest)
            .unwrap()
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.lookups(), 2);
}

#[tokio::test]
async fn key_imported_through_the_cache_is_not_refused_by_an_earlier_miss() {
    let store = Counted::new(Duration::ZERO);
    let cache = cache(&store);
    let svc = service(cache.clone());
    let before = send(&svc, with_key(get("/"), FOREIGN)).await;
    assert_eq!(before.code(), "invalid_api_key");
    import_foreign(&cache).await;
    let after = send(&svc, with_key(get("/"), FOREIGN)).await;
    assert_eq!(after.status, StatusCode::OK);
}

#[tokio::test]
async fn imported_key_disabled_through_the_cache_is_refused_at_once() {
    let store = Counted::new(Duration::ZERO);
    let cache = cache(&store);
    let svc = service(cache.clone());
    let id = import_foreign(&cache).await;
    assert_eq!(
        send(&svc, with_key(get("/"), FOREIGN)).await.status,
        StatusCode::OK
    );
    cache.disable(&Workspace::default(), &id).await.unwrap();
    let answer = send(&svc, with_key(get("/"), FOREIGN)).await;
    assert_eq!(answer.code(), "disabled_api_key");
}

#[tokio::test]
async fn digest_lookup_is_unavailable_while_the_store_fails() {
    let store = Counted::new(Duration::ZERO);
    import_foreign(&store).await;
    let svc = service(cache(&store));
    store.fail(true);
    let answer = send(&svc, with_key(get("/"), FOREIGN)).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.code(), "auth_unavailable");
}

#[tokio::test]
async fn imported_key_is_served_past_its_ttl_while_the_store_fails() {
    let store = Counted::new(Duration::ZERO);
    import_foreign(&store).await;
    let cache = CachedKeyStore::builder(store.clone())
        .ttl(Duration::from_millis(200))
        .stale_limit(Duration::from_secs(600))
        .build()
        .unwrap();
    let svc = service(cache);
    for _ in 0..2 {
        let answer = send(&svc, with_key(get("/"), FOREIGN)).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    store.fail(true);
    let answer = send(&svc, with_key(get("/"), FOREIGN)).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn token_deleted_then_imported_again_elsewhere_is_found_under_its_new_id() {
    let store = Counted::new(Duration::ZERO);
    let id = import_foreign(&store).await;
    let cache = cache(&store);
    let svc = service(cache.clone());
    let answer = send(&svc, with_key(get("/"), FOREIGN)).await;
    assert_eq!(answer.status, StatusCode::OK);
    // Through the inner store, as another process would, which then tells of the old id.
    store.delete(&Workspace::default(), &id).await.unwrap();
    import_foreign(&store).await;
    cache.invalidate(&id);
    let answer = send(&svc, with_key(get("/"), FOREIGN)).await;
    assert_eq!(answer.status, StatusCode::OK);
}

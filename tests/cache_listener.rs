//! Invalidation first, TTL as the safety net: while a cache's invalidation stream is connected,
//! records live for the listener TTL (15 min) because every change reaches every node within
//! a second, and a revocation is refused without a round trip; while it is lost, the short TTL
//! (30 s) applies, to records cached before the loss too; once it is back, the long one again.
//!
//! Each cache runs on a `ManualClock`, so minutes pass at once; store reads are counted by a
//! wrapper under the cache. The first tests feed the stream by hand; the others are two nodes
//! on the real PostgreSQL, each with its own store, listener, cache and layer.

mod common;
mod conformance;
mod postgres_common;
mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Answer, Svc, get, send, with_key};
use http::StatusCode;
use keygate::clock::ManualClock;
use keygate::key::{KeyId, KeyPrefix};
use keygate::store::cache::CachedKeyStore;
use keygate::store::postgres::PostgresKeyStore;
use keygate::store::{Invalidation, InvalidationSender, Invalidations, invalidation_channel};
use keygate::{KeyManager, KeyStore, KeyUpdate, MemoryKeyStore, NewKey, Workspace};

const SHORT: Duration = keygate::store::cache::DEFAULT_TTL;
const LONG: Duration = keygate::store::cache::DEFAULT_LISTENER_TTL;
const MINUTE: Duration = Duration::from_secs(60);

/// A store counting the lookups that reach it.
#[derive(Clone)]
struct Reads<S> {
    inner: S,
    count: Arc<AtomicUsize>,
}

impl<S: KeyStore> KeyStore for Reads<S> {
    type Future = S::Future;

    fn get(&self, id: &KeyId) -> Self::Future {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.inner.get(id)
    }

    fn touch(&self, id: &KeyId) {
        self.inner.touch(id);
    }

    fn prefix(&self) -> KeyPrefix {
        self.inner.prefix()
    }
}

/// A cache on its own clock in front of `inner`, following `invalidations`, and the layer on
/// it.
struct Node<S> {
    cache: CachedKeyStore<Reads<S>>,
    reads: Arc<AtomicUsize>,
    clock: ManualClock,
    service: Svc,
}

impl<S: KeyStore + Clone> Node<S> {
    fn new(inner: S, invalidations: Invalidations) -> Self {
        let reads = Arc::new(AtomicUsize::new(0));
        let clock = ManualClock::new();
        let cache = CachedKeyStore::builder(Reads {
            inner,
            count: Arc::clone(&reads),
        })
        .clock(clock.clone())
        .invalidations(invalidations)
        .build()
        .unwrap();
        Self {
            service: postgres_common::service(cache.clone()),
            cache,
            reads,
            clock,
        }
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    async fn send(&self, plaintext: &str) -> Answer {
        send(&self.service, with_key(get("/"), plaintext)).await
    }

    /// Answers `plaintext` OK, asking the store `reads` times in all so far.
    async fn serves(&self, plaintext: &str, reads: usize) {
        let answer = self.send(plaintext).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(self.reads(), reads, "store reads so far");
    }

    /// Waits (at most 15 s) until the cache's view of its stream is `listening`.
    async fn until_listening(&self, listening: bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.cache.is_listening() != listening {
            assert!(
                Instant::now() < deadline,
                "the cache's stream is still {} after 15 s",
                if listening { "lost" } else { "connected" }
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn create(store: &impl KeyManager, scopes: &str) -> (KeyId, String) {
    let unique = KeyId::random().unwrap().as_str().to_ascii_lowercase();
    let created = store
        .create(NewKey::new(
            format!("listener-{unique}").parse().unwrap(),
            scopes.parse().unwrap(),
        ))
        .await
        .unwrap();
    (
        created.info.id,
        created.plaintext.expose_secret().to_owned(),
    )
}

/// A node on a memory store whose stream is fed by hand, connected.
async fn fed_node() -> (MemoryKeyStore, InvalidationSender, Node<MemoryKeyStore>) {
    let store = MemoryKeyStore::new();
    let (sender, invalidations) = invalidation_channel();
    let node = Node::new(store.clone(), invalidations);
    sender.send(Invalidation::Connected);
    node.until_listening(true).await;
    (store, sender, node)
}

#[tokio::test]
async fn record_lives_for_the_listener_ttl_while_the_stream_is_connected() {
    let (store, _sender, node) = fed_node().await;
    let (_, plaintext) = create(&store, "read:all").await;
    node.serves(&plaintext, 1).await;
    node.clock.advance(LONG - MINUTE);
    node.serves(&plaintext, 1).await;
    node.clock.advance(2 * MINUTE);
    node.serves(&plaintext, 2).await;
}

#[tokio::test]
async fn record_lives_for_the_short_ttl_before_the_stream_connects() {
    let store = MemoryKeyStore::new();
    let (_sender, invalidations) = invalidation_channel();
    let node = Node::new(store.clone(), invalidations);
    let (_, plaintext) = create(&store, "read:all").await;
    node.serves(&plaintext, 1).await;
    node.clock.advance(SHORT + Duration::from_secs(1));
    node.serves(&plaintext, 2).await;
}

#[tokio::test]
async fn record_cached_before_the_stream_is_lost_is_held_to_the_short_ttl() {
    let (store, sender, node) = fed_node().await;
    let (_, plaintext) = create(&store, "read:all").await;
    node.serves(&plaintext, 1).await;
    sender.send(Invalidation::Disconnected);
    node.until_listening(false).await;
    node.clock.advance(SHORT - Duration::from_secs(1));
    node.serves(&plaintext, 1).await;
    node.clock.advance(Duration::from_secs(2));
    node.serves(&plaintext, 2).await;
}

#[tokio::test]
async fn revocation_notice_refuses_a_cached_key_without_asking_the_store() {
    let (store, sender, node) = fed_node().await;
    let (id, plaintext) = create(&store, "read:all").await;
    node.serves(&plaintext, 1).await;
    store.revoke(&Workspace::default(), &id).await.unwrap();
    sender.send(Invalidation::Revoked(id));
    let deadline = Instant::now() + Duration::from_secs(1);
    let answer = loop {
        let answer = node.send(&plaintext).await;
        if answer.status != StatusCode::OK || Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(answer.code(), "revoked_api_key");
    assert_eq!(node.reads(), 1, "refused from memory");
    // And for as long as any record would be kept.
    node.clock.advance(LONG - MINUTE);
    assert_eq!(node.send(&plaintext).await.code(), "revoked_api_key");
    assert_eq!(node.reads(), 1);
}

// Two nodes on the real PostgreSQL.

/// Taken by each PostgreSQL test: a cache voids a load during which any invalidation arrived,
/// and every listener hears every key created by the tests running beside it.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A PostgreSQL node; its listener connects with `listen` if given.
async fn postgres_node(listen: Option<&str>) -> Option<(PostgresKeyStore, Node<PostgresKeyStore>)> {
    let mut builder = postgres_common::builder()?;
    if let Some(url) = listen {
        builder = builder.listen_url(url);
    }
    let store = builder.build().unwrap();
    store.migrate().await.unwrap();
    let node = Node::new(store.clone(), store.invalidations());
    node.until_listening(true).await;
    Some((store, node))
}

/// Node A's store (where changes are made) and node B, which has served `plaintext` of a new key and
/// still serves it from memory past the short TTL.
async fn b_holding_a_key(
    scopes: &str,
) -> Option<(PostgresKeyStore, Node<PostgresKeyStore>, KeyId, String)> {
    let a = postgres_common::store().await?;
    // Created before B listens: no news of it can evict what B loads.
    let (id, plaintext) = create(&a, scopes).await;
    let (_, b) = postgres_node(None).await?;
    b.serves(&plaintext, 1).await;
    b.clock.advance(2 * SHORT);
    b.serves(&plaintext, 1).await;
    Some((a, b, id, plaintext))
}

/// Sends `plaintext` to `node` until the answer is not 200, for at most a second.
async fn until_refused(node: &Node<PostgresKeyStore>, plaintext: &str) -> Answer {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let answer = node.send(plaintext).await;
        if answer.status != StatusCode::OK {
            return answer;
        }
        assert!(Instant::now() < deadline, "still accepted after 1 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_revoked_on_one_node_is_refused_by_the_other_within_a_second_without_a_read() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some((a, b, id, plaintext)) = b_holding_a_key("read:all").await else {
        return;
    };
    a.revoke(&Workspace::default(), &id).await.unwrap();
    let answer = until_refused(&b, &plaintext).await;
    assert_eq!(answer.code(), "revoked_api_key");
    assert_eq!(b.reads(), 1, "refused without reading PostgreSQL");
    // The same cache behind an axum router, over a real socket, as a client would meet it.
    let router = axum::Router::new()
        .route("/v1/records", axum::routing::get(|| async { "records" }))
        .layer(keygate::ApiKeyLayer::new(
            b.cache.clone(),
            keygate::MemoryRateLimiter::new(),
        ));
    let addr = wire::serve_axum(router).await;
    let refused = wire::send(addr, wire::request("GET", "/v1/records", Some(&plaintext))).await;
    assert_eq!(refused.status(), 401);
    assert_eq!(wire::problem_code(&refused), "revoked_api_key");
    assert_eq!(
        b.reads(),
        1,
        "refused over the socket without reading PostgreSQL"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotated_on_one_node_is_refused_by_the_other_within_a_second() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some((a, b, id, old)) = b_holding_a_key("read:all").await else {
        return;
    };
    let new = a
        .rotate(&Workspace::default(), &id, Duration::ZERO)
        .await
        .unwrap();
    let answer = until_refused(&b, &old).await;
    assert_eq!(answer.code(), "invalid_api_key");
    b.serves(new.plaintext.expose_secret(), 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_change_on_one_node_applies_in_the_other_within_a_second() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some((a, b, id, plaintext)) = b_holding_a_key("read:all").await else {
        return;
    };
    let post = || with_key(http::Request::post("/"), &plaintext);
    assert_eq!(send(&b.service, post()).await.code(), "insufficient_scope");
    a.update(
        &Workspace::default(),
        &id,
        KeyUpdate::new().scopes("write:all".parse().unwrap()),
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(1);
    while send(&b.service, post()).await.status != StatusCode::OK {
        assert!(Instant::now() < deadline, "still refused after 1 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_listener_lost_records_live_for_the_short_ttl_and_the_long_one_returns_with_it() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(role) = postgres_common::ListenerRole::create().await else {
        return;
    };
    let store = postgres_common::store().await.unwrap();
    let (_, plaintext) = create(&store, "read:all").await;
    let (_, b) = postgres_node(Some(&role.url)).await.unwrap();
    b.serves(&plaintext, 1).await;
    b.clock.advance(2 * SHORT);
    b.serves(&plaintext, 1).await;

    role.cut_off().await;
    b.until_listening(false).await;
    // Loaded while connected, two short TTLs ago: asked again.
    b.serves(&plaintext, 2).await;
    b.clock.advance(SHORT - Duration::from_secs(1));
    b.serves(&plaintext, 2).await;
    b.clock.advance(Duration::from_secs(2));
    b.serves(&plaintext, 3).await;

    role.let_in().await;
    b.until_listening(true).await;
    // The reconnection forgot everything; then records live long again.
    b.serves(&plaintext, 4).await;
    b.clock.advance(2 * SHORT);
    b.serves(&plaintext, 4).await;
    drop((b, store));
    role.drop_role().await;
}

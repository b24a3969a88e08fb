//! [`CachedKeyStore`]: any [`KeyStore`] behind an in-memory cache (moka).
//!
//! - **Hits** are answered from memory, without asking the inner store and without
//!   allocating: the lookup future is ready at once.
//! - **Unknown ids are cached too** (negative caching, 5 s by default), so a flood of random
//!   well-formed keys reaches the database once per id and TTL, not once per request.
//! - **Imported keys are cached by digest too** ([`KeyStore::get_by_digest`]): the cache
//!   remembers which id a token's digest belongs to (unknown digests for the negative TTL,
//!   bounded like unknown ids) and answers from that id's entry, so every rule below applies
//!   to them as to any key. An import through this cache forgets its digest at
//!   once; a key imported through another process is refused for at most the negative TTL
//!   if its digest was looked up just before, as a key created there is.
//! - **Concurrent misses for one id load once**: the first request asks the inner store, the
//!   others wait for its answer.
//! - **Changes through this process evict at once**: when the inner store is a [`KeyManager`],
//!   so is the cache, and update, revoke and rotate drop the key's entry before they return.
//! - **Plan changes** through this cache (when the inner store is a [`PlanManager`], so is
//!   the cache) drop every cached record, since records carry their resolved plan: every key
//!   on a redefined plan is limited by the new one from its next request.
//! - **Changes through other processes** arrive as [`Invalidation`]s
//!   ([`CachedKeyStoreBuilder::invalidations`], e.g. from `PostgresKeyStore::invalidations`
//!   with feature `postgres`);
//!   without them the TTL (30 s by default) bounds how long a revoked key is still accepted.
//! - **Invalidation first, TTL as the safety net.** While the invalidation stream is connected
//!   ([`Invalidation::Connected`]), records loaded live for the
//!   [listener TTL](CachedKeyStoreBuilder::listener_ttl) (15 min by default), since every
//!   change evicts them within moments. While it is not (never connected, or lost:
//!   [`Invalidation::Disconnected`]), the short `ttl` applies, to records loaded before the
//!   loss too, until the stream is back and has made the cache forget everything.
//! - **Revocations are refused from memory.** An [`Invalidation::Revoked`] turns the cached
//!   record into a revoked one, served as fresh (revocation is final): the key is refused as
//!   `revoked_api_key` without asking the inner store. (A key not cached is asked once.)
//! - **While the inner store fails**, records already cached keep being served for the stale
//!   limit (5 min by default) past their TTL, asking the store again at most once a second per
//!   key; an id not cached gets [`StoreError::Unavailable`] (503 `auth_unavailable`, never 401).
//! - **A change the cache was told about is never undone by a failing store.** An invalidation
//!   (or a change through this cache) leaves a tombstone, not a gap: the next lookup must ask
//!   the inner store, and if that fails the answer is 503, never the record cached before,
//!   even for lookups that began before the notice. A key revoked through this cache, or
//!   already cached as revoked, stays refused as `revoked_api_key` while the store fails.
//!
//! How long a revoked key may still be accepted by this cache, revoked at time `t`:
//!
//! | invalidations | inner store | accepted until at most |
//! |---|---|---|
//! | arrive | any | the notice arrives (plus requests already past the lookup) |
//! | lost | answers | `t + ttl`, or until the loss is noticed if later |
//! | lost | fails | `t + ttl + stale_limit` (loaded just before `t`, then served stale) |
//!
//! With the defaults the worst case is 30 s + 5 min. A failed refresh never extends a record's
//! stale limit, which counts from when it was loaded. A stream that says
//! [`Connected`](Invalidation::Connected) must say [`Disconnected`](Invalidation::Disconnected)
//! as soon as it may be losing news: until it does, records live for the listener TTL.
//! `PostgresKeyStore`'s listener notices a broken connection at once, and a silent one within
//! 10 s plus its timeout.
//!
//! ```
//! use std::time::Duration;
//! use keygate::{
//!     ApiKeyLayer, KeyManager, KeyStore, MemoryKeyStore, MemoryRateLimiter, NewKey, Workspace,
//! };
//! use keygate::store::cache::CachedKeyStore;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = CachedKeyStore::builder(MemoryKeyStore::new())
//!     .ttl(Duration::from_secs(30))
//!     .negative_ttl(Duration::from_secs(5))
//!     .stale_limit(Duration::from_secs(300))
//!     .build()
//!     .unwrap();
//! let created = store
//!     .create(NewKey::new("ci-pipeline".parse().unwrap(), "read:all".parse().unwrap()))
//!     .await
//!     .unwrap();
//! assert!(store.get(&created.info.id).await.unwrap().is_some()); // loaded, then cached
//! store.revoke(&Workspace::default(), &created.info.id).await.unwrap(); // evicted at once
//! let record = store.get(&created.info.id).await.unwrap().unwrap();
//! assert!(record.revoked_at.is_some());
//! let layer = ApiKeyLayer::new(store, MemoryRateLimiter::new());
//! # });
//! ```

mod counters;
mod digests;
mod entry;
mod future;
mod inflight;

use crate::audit::{Actor, AuditPage, AuditQuery};
use crate::store::{ImportKey, ImportedSecret, KeyListQuery, KeyPage};
use std::fmt;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

pub use self::future::CacheFuture;

use self::counters::{CacheCounters, Lookup};
use self::digests::Digests;
use self::entry::{Cached, KeepUntil, Stale, Ttls};
use self::inflight::{Inflight, Outcome};
use super::abort::AbortOnDrop;
use super::plans::PlanManager;
use super::{
    CreatedKey, Invalidation, Invalidations, KeyInfo, KeyManager, KeyStore, KeyUpdate, NewKey,
    StoreError,
};
use crate::clock::{Clock, SystemClock};
use crate::id_map::IdHasher;
use crate::key::{KeyDigest, KeyId, KeyPrefix};
use crate::plan::{Plan, PlanName};
use crate::record::KeyRecord;
use crate::workspace::Workspace;

/// Default time a looked-up record is served from memory while changes may go unheard.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);
/// Default time a looked-up record is served from memory while the invalidation stream is
/// connected.
pub const DEFAULT_LISTENER_TTL: Duration = Duration::from_secs(15 * 60);
/// Default time an unknown id is remembered as unknown.
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(5);
/// Default time past its TTL that a record is still served while the inner store fails.
pub const DEFAULT_STALE_LIMIT: Duration = Duration::from_secs(300);
/// Default number of ids held.
pub const DEFAULT_MAX_CAPACITY: u64 = 100_000;
/// Longest TTL, listener TTL, negative TTL or stale limit; longer settings are cut to it.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

type Entries = moka::sync::Cache<KeyId, Cached, BuildHasherDefault<IdHasher>>;

/// What a lookup answers.
type LookupResult = Result<Option<Arc<KeyRecord>>, StoreError>;

/// A [`KeyStore`] in front of another, answering repeated lookups from memory.
///
/// See the [module docs](self). Clones share one cache.
pub struct CachedKeyStore<S> {
    shared: Arc<Shared<S>>,
}

struct Shared<S> {
    inner: S,
    entries: Entries,
    /// The ids of imported keys' digests.
    digests: Digests,
    inflight: Inflight,
    /// Moves on every invalidation: a load that started before one does not cache its answer.
    epoch: AtomicU64,
    /// The next entry's stamp.
    stamps: AtomicU64,
    /// Entries stamped below this were dropped by `invalidate_all`, whatever moka still holds.
    floor: AtomicU64,
    /// Whether the invalidation stream is connected, as its last `Connected` or
    /// `Disconnected` said.
    connected: AtomicBool,
    ttls: Ttls,
    clock: Arc<dyn Clock>,
    /// Lookups and stale serves, for [`crate::metrics`].
    counters: CacheCounters,
    _follower: Option<AbortOnDrop>,
}

/// Configures a [`CachedKeyStore`]; made by [`CachedKeyStore::builder`].
#[must_use]
pub struct CachedKeyStoreBuilder<S> {
    inner: S,
    ttls: Ttls,
    max_capacity: u64,
    invalidations: Option<Invalidations>,
    clock: Arc<dyn Clock>,
}

impl<S: fmt::Debug> fmt::Debug for CachedKeyStoreBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedKeyStoreBuilder")
            .field("inner", &self.inner)
            .field("ttl", &self.ttls.ttl)
            .field("listener_ttl", &self.ttls.listener_ttl)
            .field("negative_ttl", &self.ttls.negative_ttl)
            .field("stale_limit", &self.ttls.stale_limit)
            .field("max_capacity", &self.max_capacity)
            .field("invalidations", &self.invalidations.is_some())
            .finish()
    }
}

impl<S: KeyStore> CachedKeyStoreBuilder<S> {
    /// How long a looked-up record is served from memory before the inner store is asked
    /// again while changes made elsewhere may go unheard (default 30 s, at most a year): with
    /// no invalidations, or while their stream is not connected. That is how long such a
    /// change may go unseen.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttls.ttl = ttl.min(MAX_DURATION);
        self
    }

    /// How long a looked-up record is served from memory while the
    /// [invalidation stream](Self::invalidations) is connected (default 15 min, at most a
    /// year): every change then evicts it within moments, and this is only the safety net.
    ///
    /// The stream says when it connects and when it is lost
    /// ([`Invalidation::Connected`] / [`Invalidation::Disconnected`]; `PostgresKeyStore`'s
    /// listener does). Records loaded while it is not connected get [`ttl`](Self::ttl); once it
    /// is lost, records loaded while it was are held to `ttl` too, until the stream is back
    /// and has made the cache forget everything ([`Invalidation::All`]).
    pub fn listener_ttl(mut self, ttl: Duration) -> Self {
        self.ttls.listener_ttl = ttl.min(MAX_DURATION);
        self
    }

    /// How long an unknown id is remembered as unknown (default 5 s, at most a year). A key
    /// created through another instance is refused for at most this long where invalidations
    /// do not arrive.
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.ttls.negative_ttl = ttl.min(MAX_DURATION);
        self
    }

    /// How long past its TTL a record is still served while the inner store fails (default
    /// 5 min, at most a year; zero serves nothing stale).
    pub fn stale_limit(mut self, limit: Duration) -> Self {
        self.ttls.stale_limit = limit.min(MAX_DURATION);
        self
    }

    /// The most ids held, known and unknown (default 100 000); the least used go first. As
    /// many digests of imported keys' tokens may be held beside them.
    pub fn max_capacity(mut self, entries: u64) -> Self {
        self.max_capacity = entries;
        self
    }

    /// Changes made elsewhere, to evict as they arrive: e.g. `PostgresKeyStore::invalidations`
    /// (feature `postgres`), or an [`InvalidationSender`](crate::store::InvalidationSender)
    /// fed from a message bus. A [`Invalidation::Revoked`] key whose record is cached is kept
    /// as revoked, so that it is refused without asking the inner store.
    pub fn invalidations(mut self, invalidations: Invalidations) -> Self {
        self.invalidations = Some(invalidations);
        self
    }

    /// The clock whose monotonic time the TTLs are counted on (default: the system's). A
    /// [`ManualClock`](crate::clock::ManualClock) lets tests and simulations move time.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Builds the cache. With [`invalidations`](Self::invalidations) it must run inside a
    /// tokio runtime, which runs the task applying them; outside one that is
    /// [`StoreError::Invalid`].
    pub fn build(mut self) -> Result<CachedKeyStore<S>, StoreError> {
        let follow_with = match self.invalidations.take() {
            Some(invalidations) => Some((
                invalidations,
                tokio::runtime::Handle::try_current().map_err(|_| {
                    StoreError::Invalid(
                        "a CachedKeyStore following invalidations must be built inside a tokio \
                         runtime"
                            .into(),
                    )
                })?,
            )),
            None => None,
        };
        let shared = Arc::new_cyclic(|weak: &Weak<Shared<S>>| {
            let follower = follow_with.map(|(invalidations, runtime)| {
                AbortOnDrop(runtime.spawn(follow(invalidations, weak.clone())))
            });
            self.into_shared(follower)
        });
        Ok(CachedKeyStore { shared })
    }

    fn into_shared(self, follower: Option<AbortOnDrop>) -> Shared<S> {
        Shared {
            inner: self.inner,
            entries: moka::sync::Cache::builder()
                .max_capacity(self.max_capacity)
                .expire_after(KeepUntil {
                    clock: Arc::clone(&self.clock),
                })
                .build_with_hasher(BuildHasherDefault::<IdHasher>::default()),
            digests: Digests::new(self.max_capacity, Arc::clone(&self.clock)),
            inflight: Inflight::new(),
            epoch: AtomicU64::new(0),
            stamps: AtomicU64::new(0),
            floor: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            ttls: self.ttls,
            clock: self.clock,
            counters: CacheCounters::new(),
            _follower: follower,
        }
    }
}

/// Applies invalidations until either side is gone.
async fn follow<S: KeyStore>(mut invalidations: Invalidations, shared: Weak<Shared<S>>) {
    while let Some(invalidation) = invalidations.recv().await {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        match invalidation {
            Invalidation::Key(id) => shared.invalidate(&id),
            Invalidation::Revoked(id) => shared.revoked(&id),
            Invalidation::All => shared.invalidate_all(),
            Invalidation::Connected => shared.connected.store(true, Ordering::SeqCst),
            Invalidation::Disconnected => shared.connected.store(false, Ordering::SeqCst),
        }
    }
}

impl<S: KeyStore> CachedKeyStore<S> {
    /// A cache in front of `inner` with the default settings and no invalidations.
    pub fn new(inner: S) -> Self {
        Self {
            shared: Arc::new(Self::builder(inner).into_shared(None)),
        }
    }

    /// A builder for a cache in front of `inner`.
    pub fn builder(inner: S) -> CachedKeyStoreBuilder<S> {
        CachedKeyStoreBuilder {
            inner,
            ttls: Ttls {
                ttl: DEFAULT_TTL,
                listener_ttl: DEFAULT_LISTENER_TTL,
                negative_ttl: DEFAULT_NEGATIVE_TTL,
                stale_limit: DEFAULT_STALE_LIMIT,
            },
            max_capacity: DEFAULT_MAX_CAPACITY,
            invalidations: None,
            clock: Arc::new(SystemClock::new()),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.shared.inner
    }

    /// Forgets `id`: the next lookup asks the inner store.
    pub fn invalidate(&self, id: &KeyId) {
        self.shared.invalidate(id);
    }

    /// Forgets every id.
    pub fn invalidate_all(&self) {
        self.shared.invalidate_all();
    }

    /// Whether the invalidation stream is connected (its last word was
    /// [`Invalidation::Connected`]): records loaded now are served for the
    /// [listener TTL](CachedKeyStoreBuilder::listener_ttl), not the short one.
    pub fn is_listening(&self) -> bool {
        self.shared.is_connected()
    }
}

impl<S: KeyStore> Shared<S> {
    fn stamp(&self) -> u64 {
        self.stamps.fetch_add(1, Ordering::SeqCst)
    }

    /// The entry of `id`, unless `invalidate_all` dropped it.
    fn current(&self, id: &KeyId) -> Option<Cached> {
        let floor = self.floor.load(Ordering::SeqCst);
        self.entries.get(id).filter(|entry| entry.stamp >= floor)
    }

    fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// Replaces the entry of `id` with `make(previous record, now, stamp)`, where the previous
    /// record is the one cached (unless `invalidate_all` dropped it) and `revoked_at` (if
    /// given) marks it revoked. Any lookup of `id` in progress forgets its answer.
    fn replace(
        &self,
        id: &KeyId,
        revoked_at: Option<SystemTime>,
        make: impl FnOnce(Option<Arc<KeyRecord>>, std::time::Duration, u64) -> Cached,
    ) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let floor = self.floor.load(Ordering::SeqCst);
        let now = self.clock.monotonic();
        let stamp = self.stamp();
        self.entries.entry(*id).and_upsert_with(|previous| {
            let previous = previous
                .map(|entry| entry.into_value())
                .filter(|entry| entry.stamp >= floor)
                .and_then(|entry| entry.record)
                .map(|record| match revoked_at {
                    Some(at) if record.revoked_at.is_none() => {
                        Arc::new((*record).clone().with_revoked_at(Some(at)))
                    }
                    _ => record,
                });
            make(previous, now, stamp)
        });
        self.inflight.forget(id);
    }

    /// Replaces the entry of `id` with a tombstone: the next lookup asks the inner store, and
    /// no live record read before now is ever served again. `revoked_at` (a revocation made
    /// through this cache) turns the cached record into the revoked one kept in the tombstone.
    fn invalidate_with(&self, id: &KeyId, revoked_at: Option<SystemTime>) {
        self.replace(id, revoked_at, |previous, now, stamp| {
            Cached::tombstone(previous, now, &self.ttls, stamp)
        });
    }

    /// `id` was revoked elsewhere: its cached record, marked revoked, is served as a fresh
    /// answer (revocation is final), so the key is refused without asking the inner store.
    /// Without a cached record, a tombstone: the next lookup asks.
    fn revoked(&self, id: &KeyId) {
        let connected = self.is_connected();
        self.replace(
            id,
            Some(self.clock.now()),
            |previous, now, stamp| match previous {
                Some(record) => Cached::loaded(Some(record), now, &self.ttls, connected, stamp),
                None => Cached::tombstone(None, now, &self.ttls, stamp),
            },
        );
    }

    fn invalidate(&self, id: &KeyId) {
        self.invalidate_with(id, None);
    }

    fn invalidate_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let floor = self.stamp() + 1;
        self.floor.fetch_max(floor, Ordering::SeqCst);
        self.entries.invalidate_all();
        self.digests.forget_all();
        self.inflight.forget_all();
    }

    /// A miss, or a stale hit: joins or starts the load of `id`. If it fails, serves `stale`
    /// while it is still the cached entry (not after an invalidation replaced it), or fails.
    async fn load(
        self: Arc<Self>,
        id: KeyId,
        stale: Option<Stale>,
    ) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        let joined = self.inflight.join(id);
        let outcome = joined
            .flight
            .get_or_init(|| self.fetch(id, stale.clone()))
            .await
            .clone();
        drop(joined);
        let still_current = |stale: &Stale| {
            self.current(&id)
                .is_some_and(|entry| entry.stamp == stale.stamp)
        };
        match outcome {
            Ok(record) => Ok(record),
            Err(error) => match stale {
                Some(stale) if still_current(&stale) => {
                    tracing::warn!(key_id = %id, %error, "key store failed; serving the cached record");
                    self.counters.stale_served();
                    Ok(Some(stale.record))
                }
                _ => Err(match &*error {
                    StoreError::Timeout(after) => StoreError::Timeout(*after),
                    _ => StoreError::Unavailable(Box::new(error)),
                }),
            },
        }
    }

    /// Asks the inner store for the key of `digest` and remembers its id (`None`: a store
    /// that keeps no imported keys).
    async fn by_digest(self: Arc<Self>, digest: KeyDigest) -> LookupResult {
        let epoch = self.digests.epoch();
        match self.inner.get_by_digest(&digest) {
            Some(lookup) => self.remembered(digest, epoch, lookup).await,
            None => Ok(None),
        }
    }

    /// The inner store's answer `lookup` for `digest`, asked at the digests' `epoch`; its
    /// key's id (or that no key has it) is remembered.
    async fn remembered(
        self: Arc<Self>,
        digest: KeyDigest,
        epoch: u64,
        lookup: S::Future,
    ) -> LookupResult {
        let found = lookup.await?;
        let id = found.as_ref().map(|record| record.id);
        self.digests.remember(digest, id, &self.ttls, epoch);
        Ok(found)
    }

    /// Asks the inner store and caches its answer, unless an invalidation came meanwhile. On
    /// failure, puts `stale` back for a moment, unless its entry was replaced meanwhile.
    async fn fetch(&self, id: KeyId, stale: Option<Stale>) -> Outcome {
        use moka::ops::compute::Op;
        let epoch = self.epoch.load(Ordering::SeqCst);
        let stamp = self.stamp();
        // Read before the question: a record loaded while the stream is connected but answered
        // after it was lost is held to the short TTL, not the other way round.
        let connected = self.is_connected();
        let result = self.inner.get(&id).await;
        let now = self.clock.monotonic();
        let floor = self.floor.load(Ordering::SeqCst);
        match (&result, stale) {
            (Ok(record), _) => {
                let loaded = Cached::loaded(record.clone(), now, &self.ttls, connected, stamp);
                self.entries.insert(id, loaded);
                // An invalidation between the question and the insert: the answer may predate
                // it. (An invalidation after this check writes its tombstone after the insert.)
                if self.epoch.load(Ordering::SeqCst) != epoch {
                    self.invalidate_with(&id, None);
                }
            }
            (Err(_), Some(stale)) => {
                self.entries
                    .entry(id)
                    .and_compute_with(|current| match current {
                        Some(current)
                            if current.value().stamp == stale.stamp && stale.stamp >= floor =>
                        {
                            Op::Put(Cached::retried(stale, now))
                        }
                        _ => Op::Nop,
                    });
            }
            (Err(_), None) => {}
        }
        result.map_err(Arc::new)
    }
}

impl<S> Clone for CachedKeyStore<S> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for CachedKeyStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedKeyStore")
            .field("inner", &self.shared.inner)
            .field("entries", &self.shared.entries.entry_count())
            .field("digests", &self.shared.digests.len())
            .field("loading", &self.shared.inflight.len())
            .field("ttl", &self.shared.ttls.ttl)
            .field("listener_ttl", &self.shared.ttls.listener_ttl)
            .field("negative_ttl", &self.shared.ttls.negative_ttl)
            .field("stale_limit", &self.shared.ttls.stale_limit)
            .field("listening", &self.shared.connected.load(Ordering::SeqCst))
            .finish()
    }
}

impl<S: KeyStore> KeyStore for CachedKeyStore<S> {
    type Future = CacheFuture;

    fn get(&self, id: &KeyId) -> Self::Future {
        let shared = &self.shared;
        let now = shared.clock.monotonic();
        let connected = shared.is_connected();
        let stale = match shared.current(id) {
            Some(hit) if hit.is_fresh(now, connected) => {
                let result = match hit.record {
                    Some(_) => Lookup::Hit,
                    None => Lookup::Negative,
                };
                shared.counters.lookup(result);
                return CacheFuture::ready(Ok(hit.record));
            }
            Some(expired) => expired.stale(now, connected, shared.ttls.stale_limit),
            None => None,
        };
        shared.counters.lookup(Lookup::Miss);
        let shared = Arc::clone(&self.shared);
        CacheFuture::loading(Box::pin(shared.load(*id, stale)))
    }

    /// A digest the cache knows is answered from its key's id entry (see
    /// [`get`](KeyStore::get)); an unknown one, remembered for the negative TTL, at once; any
    /// other is asked of the inner store (`None` if it keeps no imported keys), and its answer
    /// remembered.
    ///
    /// A known digest whose id reads as unknown (its key was deleted) is asked again: a key
    /// imported with the same token since (through another process) is found then.
    fn get_by_digest(&self, digest: &KeyDigest) -> Option<Self::Future> {
        let shared = &self.shared;
        match shared.digests.get(digest) {
            Some(Some(id)) => {
                let by_id = self.get(&id);
                if by_id.has_record() {
                    return Some(by_id);
                }
                let (shared, digest) = (Arc::clone(shared), *digest);
                return Some(CacheFuture::loading(Box::pin(async move {
                    match by_id.await? {
                        Some(record) => Ok(Some(record)),
                        None => shared.by_digest(digest).await,
                    }
                })));
            }
            Some(None) => {
                shared.counters.lookup(Lookup::Negative);
                return Some(CacheFuture::ready(Ok(None)));
            }
            None => {}
        }
        let epoch = shared.digests.epoch();
        let lookup = shared.inner.get_by_digest(digest)?;
        shared.counters.lookup(Lookup::Miss);
        let remembered = Arc::clone(shared).remembered(*digest, epoch, lookup);
        Some(CacheFuture::loading(Box::pin(remembered)))
    }

    fn touch(&self, id: &KeyId) {
        self.shared.inner.touch(id);
    }

    fn prefix(&self) -> KeyPrefix {
        self.shared.inner.prefix()
    }
}

/// Management goes to the inner store; every change evicts the key before it returns, whether
/// it succeeded or not (a timed-out change may still have been made).
#[async_trait]
impl<S: KeyStore + KeyManager> KeyManager for CachedKeyStore<S> {
    async fn create_by(&self, actor: &Actor, new: NewKey) -> Result<CreatedKey, StoreError> {
        let created = self.shared.inner.create_by(actor, new).await?;
        self.invalidate(&created.info.id);
        Ok(created)
    }

    async fn info(&self, workspace: &Workspace, id: &KeyId) -> Result<KeyInfo, StoreError> {
        self.shared.inner.info(workspace, id).await
    }

    async fn list(&self, workspace: &Workspace) -> Result<Vec<KeyInfo>, StoreError> {
        self.shared.inner.list(workspace).await
    }

    async fn update_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
        update: KeyUpdate,
    ) -> Result<KeyInfo, StoreError> {
        let result = self
            .shared
            .inner
            .update_by(actor, workspace, id, update)
            .await;
        self.invalidate(id);
        result
    }

    async fn revoke_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError> {
        let result = self.shared.inner.revoke_by(actor, workspace, id).await;
        let revoked_at = result.as_ref().ok().and_then(|info| info.revoked_at);
        self.shared.invalidate_with(id, revoked_at);
        result
    }

    async fn rotate_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
        grace: Duration,
    ) -> Result<CreatedKey, StoreError> {
        let result = self
            .shared
            .inner
            .rotate_by(actor, workspace, id, grace)
            .await;
        self.invalidate(id);
        result
    }

    async fn audit(
        &self,
        workspace: &Workspace,
        query: &AuditQuery,
    ) -> Result<AuditPage, StoreError> {
        self.shared.inner.audit(workspace, query).await
    }

    async fn list_page(
        &self,
        workspace: &Workspace,
        query: &KeyListQuery,
    ) -> Result<KeyPage, StoreError> {
        self.shared.inner.list_page(workspace, query).await
    }

    async fn disable_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError> {
        let result = self.shared.inner.disable_by(actor, workspace, id).await;
        self.invalidate(id);
        result
    }

    async fn enable_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError> {
        let result = self.shared.inner.enable_by(actor, workspace, id).await;
        self.invalidate(id);
        result
    }

    async fn delete_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError> {
        let result = self.shared.inner.delete_by(actor, workspace, id).await;
        self.invalidate(id);
        result
    }

    /// Forgets the key's id and, for a key in another format, its digest, remembered as
    /// unknown if its token was tried before.
    async fn import_by(&self, actor: &Actor, import: ImportKey) -> Result<KeyInfo, StoreError> {
        let digest = match &import.secret {
            ImportedSecret::Plaintext(token) => {
                KeyDigest::of_secret(token.expose_secret().as_bytes())
            }
            ImportedSecret::Digest(digest) => *digest,
        };
        let imported = self.shared.inner.import_by(actor, import).await;
        self.shared.digests.forget(&digest);
        let imported = imported?;
        self.invalidate(&imported.id);
        Ok(imported)
    }
}

/// Plans go to the inner store; every change drops every cached record before it returns,
/// whether it succeeded or not (records carry their resolved plan, and any key may be on the
/// plan or in the workspace changed).
#[async_trait]
impl<S: KeyStore + PlanManager> PlanManager for CachedKeyStore<S> {
    async fn put_plan(&self, plan: Plan) -> Result<(), StoreError> {
        let result = self.shared.inner.put_plan(plan).await;
        self.invalidate_all();
        result
    }

    async fn plans(&self) -> Result<Vec<Plan>, StoreError> {
        self.shared.inner.plans().await
    }

    async fn plan(&self, name: &PlanName) -> Result<Option<Plan>, StoreError> {
        self.shared.inner.plan(name).await
    }

    async fn set_workspace_plan(
        &self,
        workspace: &Workspace,
        plan: Option<PlanName>,
    ) -> Result<(), StoreError> {
        let result = self.shared.inner.set_workspace_plan(workspace, plan).await;
        self.invalidate_all();
        result
    }

    async fn workspace_plan(&self, workspace: &Workspace) -> Result<Option<PlanName>, StoreError> {
        self.shared.inner.workspace_plan(workspace).await
    }
}

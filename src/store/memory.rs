//! [`MemoryKeyStore`]: keys in process memory, for tests, examples and single-process services.

use std::fmt;
use std::future::{Ready, ready};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use super::manage::{self, generation_failed};
use super::{CreatedKey, KeyInfo, KeyManager, KeyStore, KeyUpdate, NewKey, StoreError};
use crate::clock::{Clock, SystemClock};
use crate::id_map::ShardedIdMap;
use crate::key::{self, KeyId, KeyPrefix};
use crate::record::{KeyName, KeyRecord};
use crate::workspace::Workspace;

/// An in-memory key store with the whole key lifecycle.
///
/// Lookups take a shared read lock on one of 64 shards and clone an `Arc`; last-used times are
/// atomics beside the records, so recording a use never takes a write lock. Creating or
/// renaming a key takes one store-wide lock, so two keys of a workspace never get one name.
/// Clones share the same keys. Nothing survives a restart: use a persistent store for that.
pub struct MemoryKeyStore<C = SystemClock> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    entries: ShardedIdMap<Entry>,
    /// Held while a key is added or renamed: the name check and the write are one step.
    naming: Mutex<()>,
    prefix: KeyPrefix,
    clock: C,
    /// Cloned and dropped on a miss, so that an unknown id costs what a known one does.
    dummy: Arc<KeyRecord>,
}

struct Entry {
    record: Arc<KeyRecord>,
    /// Milliseconds since the Unix epoch; 0 for never.
    last_used_ms: AtomicU64,
}

impl MemoryKeyStore<SystemClock> {
    /// An empty store issuing keys with the default prefix (`kg`).
    pub fn new() -> Self {
        Self::with_prefix(KeyPrefix::default())
    }

    /// An empty store issuing keys with `prefix`.
    pub fn with_prefix(prefix: KeyPrefix) -> Self {
        Self::with_clock(prefix, SystemClock::new())
    }
}

impl Default for MemoryKeyStore<SystemClock> {
    fn default() -> Self {
        Self::new()
    }
}

fn to_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
        .max(1)
}

impl<C: Clock> MemoryKeyStore<C> {
    /// An empty store on the given clock (a [`ManualClock`](crate::clock::ManualClock) in
    /// tests of expiry and rotation grace).
    pub fn with_clock(prefix: KeyPrefix, clock: C) -> Self {
        Self {
            inner: Arc::new(Inner {
                entries: ShardedIdMap::new(),
                naming: Mutex::new(()),
                prefix,
                dummy: Arc::new(KeyRecord::timing_dummy()),
                clock,
            }),
        }
    }

    /// The prefix of the keys this store issues.
    pub fn prefix(&self) -> &KeyPrefix {
        &self.inner.prefix
    }

    /// Number of keys held, revoked ones included.
    pub fn len(&self) -> usize {
        self.inner.entries.len()
    }

    /// Whether the store holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a record made elsewhere (an import, a fixture). Refuses an id already present, and
    /// an unrevoked record whose name an unrevoked key of its workspace has.
    pub fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        let _naming = self.naming();
        self.insert_named(record)
    }

    fn naming(&self) -> std::sync::MutexGuard<'_, ()> {
        // The lock guards no data: a panic elsewhere leaves nothing half-done here.
        self.inner
            .naming
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// [`insert`](Self::insert), with the naming lock held by the caller.
    fn insert_named(&self, record: KeyRecord) -> Result<(), StoreError> {
        if record.revoked_at.is_none() {
            self.check_name_free(&record.workspace, &record.name, None)?;
        }
        let id = record.id;
        let mut shard = self.inner.entries.write(&id);
        if shard.contains_key(&id) {
            return Err(StoreError::Conflict(format!("a key with id {id} exists")));
        }
        shard.insert(
            id,
            Entry {
                record: Arc::new(record),
                last_used_ms: AtomicU64::new(0),
            },
        );
        Ok(())
    }

    /// Refuses `name` if an unrevoked key of `workspace` other than `except` has it. The caller
    /// holds the naming lock.
    fn check_name_free(
        &self,
        workspace: &Workspace,
        name: &KeyName,
        except: Option<&KeyId>,
    ) -> Result<(), StoreError> {
        let mut taken = false;
        self.inner.entries.for_each_shard(|shard| {
            taken = taken
                || shard.values().any(|entry| {
                    let r = &entry.record;
                    r.revoked_at.is_none()
                        && r.name == *name
                        && r.workspace == *workspace
                        && Some(&r.id) != except
                });
        });
        if taken {
            Err(manage::name_taken(workspace, name))
        } else {
            Ok(())
        }
    }

    /// The listing of key `id` if it belongs to `workspace`; otherwise not found, as an
    /// unknown id.
    fn info_in(&self, workspace: &Workspace, id: &KeyId) -> Result<KeyInfo, StoreError> {
        let shard = self.inner.entries.read(id);
        shard
            .get(id)
            .filter(|entry| entry.record.workspace == *workspace)
            .map(Self::info_of)
            .ok_or(StoreError::NotFound(*id))
    }

    fn info_of(entry: &Entry) -> KeyInfo {
        let mut info = KeyInfo::from(&*entry.record);
        let ms = entry.last_used_ms.load(Ordering::Relaxed);
        if ms != 0 {
            info.last_used_at = Some(UNIX_EPOCH + Duration::from_millis(ms));
        }
        info
    }

    /// Replaces the record of `id` with `change(record)`, atomically, if it belongs to
    /// `workspace` (otherwise it is not found, as an unknown id).
    fn modify(
        &self,
        workspace: &Workspace,
        id: &KeyId,
        change: impl FnOnce(&KeyRecord) -> Result<KeyRecord, StoreError>,
    ) -> Result<KeyInfo, StoreError> {
        let mut shard = self.inner.entries.write(id);
        let entry = shard
            .get_mut(id)
            .filter(|entry| entry.record.workspace == *workspace)
            .ok_or(StoreError::NotFound(*id))?;
        entry.record = Arc::new(change(&entry.record)?);
        Ok(Self::info_of(entry))
    }
}

impl<C> Clone for MemoryKeyStore<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C> fmt::Debug for MemoryKeyStore<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryKeyStore")
            .field("prefix", &self.inner.prefix)
            .field("keys", &self.inner.entries.len())
            .finish()
    }
}

impl<C: Clock> KeyStore for MemoryKeyStore<C> {
    type Future = Ready<Result<Option<Arc<KeyRecord>>, StoreError>>;

    fn get(&self, id: &KeyId) -> Self::Future {
        let shard = self.inner.entries.read(id);
        let found = match shard.get(id) {
            Some(entry) => Some(Arc::clone(&entry.record)),
            None => {
                // The same reference-count traffic as a hit: timing must not tell them apart.
                std::hint::black_box(Arc::clone(&self.inner.dummy));
                None
            }
        };
        ready(Ok(found))
    }

    fn touch(&self, id: &KeyId) {
        let ms = to_ms(self.inner.clock.coarse_now());
        if let Some(entry) = self.inner.entries.read(id).get(id) {
            entry.last_used_ms.fetch_max(ms, Ordering::Relaxed);
        }
    }

    fn prefix(&self) -> KeyPrefix {
        self.inner.prefix.clone()
    }
}

#[async_trait]
impl<C: Clock> KeyManager for MemoryKeyStore<C> {
    async fn create(&self, new: NewKey) -> Result<CreatedKey, StoreError> {
        let now = self.inner.clock.now();
        new.validate(now)?;
        let _naming = self.naming();
        loop {
            let (plaintext, record) = new.issue(&self.inner.prefix, now)?;
            let info = KeyInfo::from(&record);
            match self.insert_named(record) {
                Ok(()) => return Ok(CreatedKey { plaintext, info }),
                // A 71-bit id collision: draw again.
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    async fn info(&self, workspace: &Workspace, id: &KeyId) -> Result<KeyInfo, StoreError> {
        self.info_in(workspace, id)
    }

    async fn list(&self, workspace: &Workspace) -> Result<Vec<KeyInfo>, StoreError> {
        let mut all = Vec::new();
        self.inner.entries.for_each_shard(|shard| {
            all.extend(
                shard
                    .values()
                    .filter(|entry| entry.record.workspace == *workspace)
                    .map(Self::info_of),
            )
        });
        all.sort_by(|a, b| {
            (a.created_at, a.name.as_str(), a.id).cmp(&(b.created_at, b.name.as_str(), b.id))
        });
        Ok(all)
    }

    async fn update(
        &self,
        workspace: &Workspace,
        id: &KeyId,
        update: KeyUpdate,
    ) -> Result<KeyInfo, StoreError> {
        let now = self.inner.clock.now();
        let Some(name) = &update.name else {
            return self.modify(workspace, id, |record| update.apply(record, now));
        };
        let _naming = self.naming();
        // An unknown key is not found before its new name is looked at.
        self.info_in(workspace, id)?;
        self.check_name_free(workspace, name, Some(id))?;
        self.modify(workspace, id, |record| update.apply(record, now))
    }

    async fn revoke(&self, workspace: &Workspace, id: &KeyId) -> Result<KeyInfo, StoreError> {
        let now = self.inner.clock.now();
        self.modify(workspace, id, |record| Ok(manage::revoked(record, now)))
    }

    async fn rotate(
        &self,
        workspace: &Workspace,
        id: &KeyId,
        grace: Duration,
    ) -> Result<CreatedKey, StoreError> {
        let now = self.inner.clock.now();
        let generated = key::generate_for(&self.inner.prefix, *id).map_err(generation_failed)?;
        let info = self.modify(workspace, id, |record| {
            manage::rotated(record, generated.digest, now, grace)
        })?;
        Ok(CreatedKey {
            plaintext: generated.plaintext,
            info,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn store() -> (MemoryKeyStore<ManualClock>, ManualClock) {
        let clock = ManualClock::new();
        (
            MemoryKeyStore::with_clock(KeyPrefix::default(), clock.clone()),
            clock,
        )
    }

    fn new_key(name: &str, scopes: &str) -> NewKey {
        NewKey::new(name.parse().unwrap(), scopes.parse().unwrap())
    }

    #[tokio::test]
    async fn listing_shows_every_key_in_creation_order() {
        let (store, clock) = store();
        store.create(new_key("first", "read:all")).await.unwrap();
        clock.advance(Duration::from_secs(1));
        store.create(new_key("second", "admin")).await.unwrap();
        let names: Vec<_> = store
            .list(&Workspace::default())
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.name.to_string())
            .collect();
        assert_eq!(names, ["first", "second"]);
    }

    #[tokio::test]
    async fn touching_a_key_records_its_last_use() {
        let (store, clock) = store();
        let id = store
            .create(new_key("ci", "read:all"))
            .await
            .unwrap()
            .info
            .id;
        assert_eq!(
            store
                .info(&Workspace::default(), &id)
                .await
                .unwrap()
                .last_used_at,
            None
        );
        clock.advance(Duration::from_secs(3));
        store.touch(&id);
        let used = store
            .info(&Workspace::default(), &id)
            .await
            .unwrap()
            .last_used_at
            .unwrap();
        assert_eq!(to_ms(used), to_ms(clock.now()));
    }

    #[tokio::test]
    async fn expiry_past_the_bound_is_refused_on_create_and_update_and_nothing_changes() {
        let (store, clock) = store();
        let too_far = clock.now() + manage::MAX_EXPIRY_AHEAD + Duration::from_secs(1);
        let refused = store
            .create(new_key("ci", "read:all").expires_at(too_far))
            .await;
        assert!(
            matches!(refused, Err(StoreError::Invalid(_))),
            "{refused:?}"
        );
        assert!(store.is_empty());
        let id = store
            .create(new_key("ci", "read:all"))
            .await
            .unwrap()
            .info
            .id;
        let refused = store
            .update(
                &Workspace::default(),
                &id,
                KeyUpdate::new().expires_at(Some(too_far)),
            )
            .await;
        assert!(
            matches!(refused, Err(StoreError::Invalid(_))),
            "{refused:?}"
        );
        assert_eq!(
            store
                .info(&Workspace::default(), &id)
                .await
                .unwrap()
                .expires_at,
            None
        );
        let within = clock.now() + manage::MAX_EXPIRY_AHEAD;
        let info = store
            .update(
                &Workspace::default(),
                &id,
                KeyUpdate::new().expires_at(Some(within)),
            )
            .await
            .unwrap();
        assert_eq!(info.expires_at, Some(within));
    }
}

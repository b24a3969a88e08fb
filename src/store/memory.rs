//! [`MemoryKeyStore`]: keys in process memory, for tests, examples and single-process services.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::{Ready, ready};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use super::manage::{self, generation_failed};
use super::plans::{self, PlanManager};
use super::{
    CreatedKey, ImportKey, KeyCursor, KeyInfo, KeyListQuery, KeyManager, KeyPage, KeyStore,
    KeyUpdate, NewKey, StoreError,
};
use crate::audit::{Actor, AuditAction, AuditEvent, AuditId, AuditPage, AuditQuery};
use crate::clock::{Clock, SystemClock};
use crate::id_map::ShardedIdMap;
use crate::key::{self, KeyDigest, KeyId, KeyPrefix};
use crate::plan::{Overrides, Plan, PlanName};
use crate::record::{KeyName, KeyRecord};
use crate::workspace::Workspace;

/// An in-memory key store with the whole key lifecycle.
///
/// Lookups take a shared read lock on one of 64 shards and clone an `Arc`; last-used times are
/// atomics beside the records, so recording a use never takes a write lock. Creating or
/// renaming or revoking a key takes one store-wide lock around an index of the names in use,
/// so two unrevoked keys of a workspace never get one name.
/// Clones share the same keys. Nothing survives a restart: use a persistent store for that.
pub struct MemoryKeyStore<C = SystemClock> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    entries: ShardedIdMap<Entry>,
    /// The names of the unrevoked keys, by workspace. Held while a key is added, renamed or
    /// revoked: the name check, the write and the index change are one step.
    naming: Mutex<Names>,
    /// The plans, and each workspace's plan. Held (read) while a key's plan is resolved and
    /// written, and (write) while a plan is redefined and the keys on it follow.
    plans: RwLock<Plans>,
    prefix: KeyPrefix,
    clock: C,
    /// Cloned and dropped on a miss, so that an unknown id costs what a known one does.
    dummy: Arc<KeyRecord>,
    /// Every change's event, oldest first; an event's id is its place in the list, from 1.
    /// Appended while the change's own lock is held.
    audit: Mutex<Vec<AuditEvent>>,
    /// The ids of deleted keys, never used again. Changed and read under the naming lock.
    deleted: Mutex<HashSet<KeyId>>,
    /// The keys imported in another format, by the digest of their whole token.
    legacy: RwLock<HashMap<KeyDigest, KeyId>>,
}

/// Locks `mutex`; every set behind one is changed in single steps that cannot panic halfway,
/// so a poisoned lock still guards a consistent set.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Who makes a change, what it is, and when: what the audit log records with it.
type Audited<'a> = (&'a Actor, AuditAction, SystemTime);

/// Which unrevoked key has each name in each workspace.
type Names = HashMap<(Workspace, KeyName), KeyId>;

#[derive(Default)]
struct Plans {
    by_name: HashMap<PlanName, Plan>,
    workspaces: HashMap<Workspace, PlanName>,
}

impl Plans {
    /// The plan a key of `workspace` is on, as defined: its own (`own`), else its
    /// workspace's.
    fn base(&self, workspace: &Workspace, own: Option<&PlanName>) -> Option<&Plan> {
        own.or_else(|| self.workspaces.get(workspace))
            .and_then(|name| self.by_name.get(name))
    }

    /// The plan that limits a key of `workspace` with `overrides`: its own (`own`), else its
    /// workspace's, with the overrides that fit it applied.
    fn resolve(
        &self,
        workspace: &Workspace,
        own: Option<&PlanName>,
        overrides: &Overrides,
    ) -> Option<Plan> {
        self.base(workspace, own)
            .map(|plan| plan.with_overrides(overrides))
    }

    /// Refuses a plan name no plan has.
    fn check(&self, name: Option<&PlanName>) -> Result<(), StoreError> {
        match name {
            Some(name) if !self.by_name.contains_key(name) => Err(plans::unknown_plan(name)),
            _ => Ok(()),
        }
    }
}

struct Entry {
    record: Arc<KeyRecord>,
    /// The key's own plan, as opposed to its workspace's.
    own_plan: Option<PlanName>,
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
                naming: Mutex::default(),
                plans: RwLock::default(),
                prefix,
                dummy: Arc::new(KeyRecord::timing_dummy()),
                clock,
                audit: Mutex::default(),
                deleted: Mutex::default(),
                legacy: RwLock::default(),
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
    ///
    /// A record with a plan keeps it as its own plan, and the store defines that plan if it
    /// has none of its name. The record's overrides apply to the store's plan of that name
    /// where they fit (they are not checked: an import keeps what it brings).
    pub fn insert(&self, mut record: KeyRecord) -> Result<(), StoreError> {
        let mut names = self.naming();
        let own = record.plan.as_ref().map(|p| p.name().clone());
        if let Some(plan) = &record.plan {
            let mut plans = self.plans_mut();
            plans
                .by_name
                .entry(plan.name().clone())
                .or_insert_with(|| plan.clone());
            record.plan = plans.resolve(&record.workspace, own.as_ref(), &record.overrides);
        }
        let (id, legacy) = (record.id, record.legacy_digest);
        self.insert_named(&mut names, record, own)?;
        if let Some(digest) = legacy {
            self.inner
                .legacy
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(digest, id);
        }
        Ok(())
    }

    fn plans(&self) -> std::sync::RwLockReadGuard<'_, Plans> {
        // Plans are replaced whole: a panic elsewhere cannot leave one half-written.
        self.inner
            .plans
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn plans_mut(&self) -> std::sync::RwLockWriteGuard<'_, Plans> {
        self.inner
            .plans
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn naming(&self) -> MutexGuard<'_, Names> {
        // The index is changed only after the record's write succeeded, in one step that
        // cannot panic halfway: a poisoned lock still guards a consistent index.
        self.inner
            .naming
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// [`insert`](Self::insert), with the naming lock held by the caller.
    fn insert_named(
        &self,
        names: &mut Names,
        record: KeyRecord,
        own_plan: Option<PlanName>,
    ) -> Result<(), StoreError> {
        let name = (record.workspace.clone(), record.name.clone());
        let unrevoked = record.revoked_at.is_none();
        if unrevoked && names.contains_key(&name) {
            return Err(manage::name_taken(&name.0, &name.1));
        }
        let id = record.id;
        if lock(&self.inner.deleted).contains(&id) {
            return Err(StoreError::Conflict(format!(
                "id {id} belonged to a deleted key and is never used again"
            )));
        }
        let mut shard = self.inner.entries.write(&id);
        if shard.contains_key(&id) {
            return Err(StoreError::Conflict(format!("a key with id {id} exists")));
        }
        shard.insert(
            id,
            Entry {
                record: Arc::new(record),
                own_plan,
                last_used_ms: AtomicU64::new(0),
            },
        );
        if unrevoked {
            names.insert(name, id);
        }
        Ok(())
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
        by: Audited<'_>,
        workspace: &Workspace,
        id: &KeyId,
        change: impl FnOnce(&KeyRecord) -> Result<KeyRecord, StoreError>,
    ) -> Result<KeyInfo, StoreError> {
        self.modify_entry(by, workspace, id, |entry| {
            entry.record = Arc::new(change(&entry.record)?);
            Ok(())
        })
    }

    /// Runs `change` on the entry of `id` if it belongs to `workspace` (otherwise it is not
    /// found, as an unknown id); `change` leaves the entry as it was when it fails. What it
    /// changed is recorded in the audit log, by `by`, before the entry's lock is let go.
    fn modify_entry(
        &self,
        (actor, action, now): Audited<'_>,
        workspace: &Workspace,
        id: &KeyId,
        change: impl FnOnce(&mut Entry) -> Result<(), StoreError>,
    ) -> Result<KeyInfo, StoreError> {
        let mut shard = self.inner.entries.write(id);
        let entry = shard
            .get_mut(id)
            .filter(|entry| entry.record.workspace == *workspace)
            .ok_or(StoreError::NotFound(*id))?;
        let before = Arc::clone(&entry.record);
        change(entry)?;
        self.record(AuditEvent::of(
            action,
            actor,
            Some(&before),
            &entry.record,
            now,
        ));
        Ok(Self::info_of(entry))
    }

    /// Appends `event`, if any, to the audit log, numbering it.
    fn record(&self, event: Option<AuditEvent>) {
        let Some(mut event) = event else { return };
        // Events are only ever pushed whole: a poisoned lock still guards a consistent log.
        let mut log = self
            .inner
            .audit
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        event.id = AuditId(log.len() as u64 + 1);
        log.push(event);
    }

    /// Updates a key whose update may move it to another plan or change its overrides: new
    /// overrides are checked against the plan the key is on after the update.
    fn update_entry(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
        update: &KeyUpdate,
        now: SystemTime,
    ) -> Result<KeyInfo, StoreError> {
        if !update.touches_plan() {
            let by = (actor, AuditAction::Update, now);
            return self.modify(by, workspace, id, |record| update.apply(record, now));
        }
        let plans = self.plans();
        let by = (actor, AuditAction::Update, now);
        self.modify_entry(by, workspace, id, |entry| {
            let own = update
                .plan
                .clone()
                .unwrap_or_else(|| entry.own_plan.clone());
            plans.check(own.as_ref())?;
            let mut next = update.apply(&entry.record, now)?;
            if update.overrides.is_some() {
                manage::check_overrides(&next.overrides, plans.base(workspace, own.as_ref()))?;
            }
            next.plan = plans.resolve(workspace, own.as_ref(), &next.overrides);
            entry.record = Arc::new(next);
            entry.own_plan = own;
            Ok(())
        })
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

    fn get_by_digest(&self, digest: &KeyDigest) -> Option<Self::Future> {
        let id = self
            .inner
            .legacy
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(digest)
            .copied();
        Some(match id {
            Some(id) => self.get(&id),
            None => ready(Ok(None)),
        })
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
    async fn create_by(&self, actor: &Actor, new: NewKey) -> Result<CreatedKey, StoreError> {
        let now = self.inner.clock.now();
        new.validate(now)?;
        let mut names = self.naming();
        let plans = self.plans();
        plans.check(new.plan.as_ref())?;
        let base = plans.base(&new.workspace, new.plan.as_ref());
        manage::check_overrides(&new.overrides, base)?;
        let plan = base.map(|plan| plan.with_overrides(&new.overrides));
        loop {
            let (plaintext, record) = new.issue(&self.inner.prefix, now)?;
            let record = record.with_plan(plan.clone());
            let info = KeyInfo::from(&record);
            let event = AuditEvent::of(AuditAction::Create, actor, None, &record, now);
            match self.insert_named(&mut names, record, new.plan.clone()) {
                Ok(()) => {
                    // Recorded under the naming lock, before another change can see the key.
                    self.record(event);
                    return Ok(CreatedKey { plaintext, info });
                }
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

    async fn update_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
        update: KeyUpdate,
    ) -> Result<KeyInfo, StoreError> {
        let now = self.inner.clock.now();
        let Some(name) = &update.name else {
            return self.update_entry(actor, workspace, id, &update, now);
        };
        let mut names = self.naming();
        // An unknown key is not found before its new name is looked at.
        let old = self.info_in(workspace, id)?.name;
        let new = (workspace.clone(), name.clone());
        if names.get(&new).is_some_and(|holder| holder != id) {
            return Err(manage::name_taken(workspace, name));
        }
        let info = self.update_entry(actor, workspace, id, &update, now)?;
        if names.get(&(workspace.clone(), old.clone())) == Some(id) {
            names.remove(&(workspace.clone(), old));
        }
        names.insert(new, *id);
        Ok(info)
    }

    async fn revoke_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError> {
        let now = self.inner.clock.now();
        let mut names = self.naming();
        let by = (actor, AuditAction::Revoke, now);
        let info = self.modify(by, workspace, id, |record| Ok(manage::revoked(record, now)))?;
        let name = (workspace.clone(), info.name.clone());
        if names.get(&name) == Some(id) {
            names.remove(&name);
        }
        Ok(info)
    }

    async fn rotate_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
        grace: Duration,
    ) -> Result<CreatedKey, StoreError> {
        let now = self.inner.clock.now();
        let generated = key::generate_for(&self.inner.prefix, *id).map_err(generation_failed)?;
        let by = (actor, AuditAction::Rotate, now);
        let info = self.modify(by, workspace, id, |record| {
            manage::rotated(record, generated.digest, now, grace)
        })?;
        Ok(CreatedKey {
            plaintext: generated.plaintext,
            info,
        })
    }

    async fn list_page(
        &self,
        workspace: &Workspace,
        query: &KeyListQuery,
    ) -> Result<KeyPage, StoreError> {
        query.validate()?;
        let now = self.inner.clock.now();
        let mut listed = Vec::new();
        self.inner.entries.for_each_shard(|shard| {
            listed.extend(
                shard
                    .values()
                    .filter(|entry| entry.record.workspace == *workspace)
                    .map(Self::info_of)
                    .filter(|info| query.admits(info, now)),
            )
        });
        listed.sort_by_key(KeyCursor::after);
        listed.truncate(query.page_size() + 1);
        Ok(query.page(listed))
    }

    async fn disable_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError> {
        let now = self.inner.clock.now();
        let by = (actor, AuditAction::Disable, now);
        self.modify(by, workspace, id, |record| manage::disabled(record, now))
    }

    async fn enable_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError> {
        let now = self.inner.clock.now();
        let by = (actor, AuditAction::Enable, now);
        self.modify(by, workspace, id, manage::enabled)
    }

    async fn delete_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError> {
        let now = self.inner.clock.now();
        let mut names = self.naming();
        let mut shard = self.inner.entries.write(id);
        let entry = shard
            .get(id)
            .filter(|entry| entry.record.workspace == *workspace)
            .ok_or(StoreError::NotFound(*id))?;
        let info = Self::info_of(entry);
        let record = Arc::clone(&entry.record);
        shard.remove(id);
        drop(shard);
        lock(&self.inner.deleted).insert(*id);
        if let Some(digest) = &record.legacy_digest {
            self.inner
                .legacy
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(digest);
        }
        let name = (workspace.clone(), record.name.clone());
        if names.get(&name) == Some(id) {
            names.remove(&name);
        }
        let event = AuditEvent::of(AuditAction::Delete, actor, Some(&record), &record, now);
        self.record(event);
        Ok(info)
    }

    async fn import_by(&self, actor: &Actor, import: ImportKey) -> Result<KeyInfo, StoreError> {
        let now = self.inner.clock.now();
        let record = import.record(&self.inner.prefix, now)?;
        let mut names = self.naming();
        let plans = self.plans();
        plans.check(import.plan.as_ref())?;
        let plan = plans.resolve(&record.workspace, import.plan.as_ref(), &record.overrides);
        let record = record.with_plan(plan);
        let mut legacy = self
            .inner
            .legacy
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(digest) = &record.legacy_digest
            && legacy.contains_key(digest)
        {
            return Err(StoreError::Conflict(
                "another key has this secret: it was imported already".into(),
            ));
        }
        let info = KeyInfo::from(&record);
        let event = AuditEvent::of(AuditAction::Import, actor, None, &record, now);
        let digest = record.legacy_digest;
        self.insert_named(&mut names, record, import.plan.clone())?;
        if let Some(digest) = digest {
            legacy.insert(digest, info.id);
        }
        self.record(event);
        Ok(info)
    }

    async fn audit(
        &self,
        workspace: &Workspace,
        query: &AuditQuery,
    ) -> Result<AuditPage, StoreError> {
        let log = self
            .inner
            .audit
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let newest_first = log
            .iter()
            .rev()
            .filter(|event| event.workspace == *workspace && query.admits(event))
            .take(query.page_size() + 1)
            .cloned()
            .collect();
        Ok(query.page(newest_first))
    }
}

#[async_trait]
impl<C: Clock> PlanManager for MemoryKeyStore<C> {
    async fn put_plan(&self, plan: Plan) -> Result<(), StoreError> {
        let mut plans = self.plans_mut();
        plans.by_name.insert(plan.name().clone(), plan.clone());
        // Every key on the plan, its own or its workspace's, follows at once, with its
        // overrides applied where they still fit.
        let plans = &*plans;
        self.inner.entries.for_each_shard(|shard| {
            for entry in shard.values_mut() {
                let on_it = entry.record.plan.as_ref().map(Plan::name) == Some(plan.name());
                if on_it {
                    let record = &entry.record;
                    let resolved = plans.resolve(
                        &record.workspace,
                        entry.own_plan.as_ref(),
                        &record.overrides,
                    );
                    entry.record = Arc::new((*entry.record).clone().with_plan(resolved));
                }
            }
        });
        Ok(())
    }

    async fn plans(&self) -> Result<Vec<Plan>, StoreError> {
        let mut all: Vec<Plan> = self.plans().by_name.values().cloned().collect();
        all.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(all)
    }

    async fn plan(&self, name: &PlanName) -> Result<Option<Plan>, StoreError> {
        Ok(self.plans().by_name.get(name).cloned())
    }

    async fn set_workspace_plan(
        &self,
        workspace: &Workspace,
        plan: Option<PlanName>,
    ) -> Result<(), StoreError> {
        let mut plans = self.plans_mut();
        plans.check(plan.as_ref())?;
        match plan {
            Some(name) => plans.workspaces.insert(workspace.clone(), name),
            None => plans.workspaces.remove(workspace),
        };
        // The workspace's keys without a plan of their own follow at once.
        let plans = &*plans;
        self.inner.entries.for_each_shard(|shard| {
            for entry in shard.values_mut() {
                if entry.record.workspace == *workspace && entry.own_plan.is_none() {
                    let resolved = plans.resolve(workspace, None, &entry.record.overrides);
                    entry.record = Arc::new((*entry.record).clone().with_plan(resolved));
                }
            }
        });
        Ok(())
    }

    async fn workspace_plan(&self, workspace: &Workspace) -> Result<Option<PlanName>, StoreError> {
        Ok(self.plans().workspaces.get(workspace).cloned())
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

    fn ws(id: &str) -> Workspace {
        id.parse().unwrap()
    }

    #[tokio::test]
    async fn a_renamed_key_frees_its_old_name_and_takes_the_new_one() {
        let (store, _) = store();
        let id = store
            .create(new_key("old", "read:all"))
            .await
            .unwrap()
            .info
            .id;
        let default = Workspace::default();
        store
            .update(&default, &id, KeyUpdate::new().name("new".parse().unwrap()))
            .await
            .unwrap();
        store.create(new_key("old", "read:all")).await.unwrap();
        let refused = store.create(new_key("new", "read:all")).await;
        assert!(
            matches!(refused, Err(StoreError::NameTaken { .. })),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn a_revoked_key_frees_its_name_in_its_workspace_only() {
        let (store, _) = store();
        let acme = ws("acme");
        let id = store
            .create(new_key("ci", "read:all").workspace(acme.clone()))
            .await
            .unwrap()
            .info
            .id;
        store.create(new_key("ci", "read:all")).await.unwrap();
        store.revoke(&acme, &id).await.unwrap();
        store
            .create(new_key("ci", "read:all").workspace(acme))
            .await
            .unwrap();
        let refused = store.create(new_key("ci", "read:all")).await;
        assert!(
            matches!(refused, Err(StoreError::NameTaken { .. })),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn an_imported_revoked_record_does_not_hold_its_name() {
        let (store, clock) = store();
        let (_, record) = new_key("ci", "read:all")
            .issue(&KeyPrefix::default(), clock.now())
            .unwrap();
        store
            .insert(record.with_revoked_at(Some(clock.now())))
            .unwrap();
        store.create(new_key("ci", "read:all")).await.unwrap();
    }

    #[test]
    fn one_name_raced_from_many_threads_is_given_once() {
        let (store, _) = store();
        let made: usize = std::thread::scope(|scope| {
            let tries: Vec<_> = (0..16)
                .map(|_| {
                    let store = store.clone();
                    scope.spawn(move || {
                        let created = futures_ready(store.create(new_key("ci", "read:all")));
                        usize::from(created.is_ok())
                    })
                })
                .collect();
            tries.into_iter().map(|t| t.join().unwrap()).sum()
        });
        assert_eq!(made, 1);
        assert_eq!(store.len(), 1);
    }

    /// Runs a future of the memory store, which never waits, to completion.
    fn futures_ready<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }
}

//! [`SqliteKeyStore`]: keys in an embedded SQLite database (feature `sqlite`).
//!
//! The persistent default for a single service: one file, no server, keys survive a restart.
//! The database is compiled in (`rusqlite` with `bundled`), so no system library is needed.
//!
//! - **Off the runtime.** Each connection lives on a thread of its own: one for lookups and
//!   listings, one for changes. Every call sends a job and awaits the answer
//!   ([`SqliteFuture`]), so no blocking call runs on the async runtime, and a lookup never
//!   queues behind a write. The database runs in WAL mode (readers never wait for the writer)
//!   with a busy timeout, so a second process (the `keygate` CLI, say) can manage keys while
//!   the service runs.
//! - **Migrations on open.** [`SqliteKeyStore::open`] creates the schema, or applies the
//!   migrations an older database lacks, and records them in `keygate_schema_migrations`. A
//!   database written by a newer keygate is refused.
//! - **Last use, batched.** [`KeyStore::touch`] runs on every successful request and only
//!   records the time in memory; the store's thread writes the pending times in one
//!   transaction every [`flush_interval`](SqliteKeyStoreBuilder::flush_interval), and once
//!   more when the last handle is dropped (the drop waits for that write, which the busy
//!   timeout bounds). A key's row is written at most once per
//!   [`last_use_interval`](SqliteKeyStoreBuilder::last_use_interval) (5 min by default), by
//!   every store sharing the file together.
//! - **Bounded.** At most [`queue_capacity`](SqliteKeyStoreBuilder::queue_capacity) jobs wait
//!   for each thread, and a lookup waits at most
//!   [`lookup_timeout`](SqliteKeyStoreBuilder::lookup_timeout): a flood or a stuck reader is
//!   answered 503 at once, never a hang.
//! - **Workspaces.** A lookup reads the key's workspace and metadata with the rest of its row,
//!   in the one query by id. Every management call but `create` is scoped in SQL
//!   (`WHERE id = ? AND workspace = ?`): another workspace's key is
//!   [`StoreError::NotFound`], exactly as an unknown id. Names are unique among a workspace's
//!   unrevoked keys: the check and the write share one `BEGIN IMMEDIATE` transaction, so a
//!   second process creating or renaming a key at the same moment waits for it. (Keys from
//!   before workspaces live in `default`; any of them sharing a name keep working.)
//! - **Plans** ([`PlanManager`]) are rows of `keygate_plans` (name and JSON definition);
//!   `keygate_workspaces` holds each workspace's plan and `keygate_keys.plan` a key's own. A
//!   lookup joins the key's own plan, else its workspace's, in its one query by id, and parses
//!   a definition once (the store remembers a bounded number of them by their text). An
//!   unknown plan is refused inside the write's transaction; a definition that does not parse
//!   is a corrupt row (503, never a key without its limits). Keys from before plans are on
//!   none.
//! - **Overrides** of a plan's limit values are `keygate_keys.overrides` (their JSON, `NULL`
//!   for none), read in the same query and applied to the plan as the record is built; they
//!   are checked against the key's plan inside the write's transaction. A value that does not
//!   parse is a corrupt row, as a plan's definition.
//! - **IP allowlists** are `keygate_keys.allowed_ips`: the key's networks in their canonical
//!   form, comma-separated (`192.0.2.0/24,2001:db8::/32`), `NULL` for anywhere, read with the
//!   rest of the row. A value that does not read back as a list of networks is a corrupt row,
//!   never a key open to every address.
//! - **Lifecycle.** `keygate_keys.disabled_at` marks a disabled key. Deleting a key removes
//!   its row and leaves its id in `keygate_deleted_keys`, in one `BEGIN IMMEDIATE`
//!   transaction with its audit event: its name is free at once, `create` draws another id
//!   rather than reuse it, and importing it is [`StoreError::Conflict`]. A key imported in
//!   another format keeps the digest of its whole token in `keygate_keys.legacy_digest`
//!   (unique), which [`KeyStore::get_by_digest`] reads as [`KeyStore::get`] reads an id: on
//!   the reader's thread, within the lookup timeout.
//! - **Pages** ([`KeyManager::list_page`]) are keyset queries: `(created_at, id) > cursor`,
//!   ordered by creation time then id (byte order, SQLite's `BINARY` collation) on the
//!   `(workspace, created_at, id)` index, with the status (at the time of the call) and the
//!   name prefix filtered in SQL. An unfiltered page reads at most one row more than it
//!   returns, however deep the cursor.
//! - **Failures** are [`StoreError::Unavailable`] or [`StoreError::Timeout`] (the layer
//!   answers 503, never 401).
//!
//! ```
//! use keygate::plan::{Limit, Period, Plan};
//! use keygate::store::KeyListQuery;
//! use keygate::store::sqlite::SqliteKeyStore;
//! use keygate::{KeyManager, KeyStore, NewKey, PlanManager, StoreError, Workspace};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("keys.db");
//! let acme: Workspace = "acme".parse().unwrap();
//! let new = || {
//!     NewKey::new("ci-pipeline".parse().unwrap(), "read:all,write:all".parse().unwrap())
//!         .workspace(acme.clone())
//!         .metadata(r#"{"tier":"pro"}"#.parse().unwrap())
//! };
//! let store = SqliteKeyStore::open(&path).await?;
//! let created = store.create(new()).await?;
//! // One name per workspace.
//! assert!(matches!(store.create(new()).await, Err(StoreError::NameTaken { .. })));
//! drop(store);
//!
//! // Keys survive a restart, with their workspace and metadata.
//! let store = SqliteKeyStore::open(&path).await?;
//! let record = store.get(&created.info.id).await?.expect("still there");
//! assert_eq!(record.name.as_str(), "ci-pipeline");
//! assert_eq!(record.workspace, acme);
//! assert_eq!(record.metadata.as_json(), r#"{"tier":"pro"}"#);
//! // Another workspace cannot see it.
//! let other = store.info(&Workspace::default(), &created.info.id).await;
//! assert!(matches!(other, Err(StoreError::NotFound(_))));
//!
//! // acme's keys without a plan of their own are on acme's plan, from their next lookup.
//! let trial = Plan::new(
//!     "trial".parse().unwrap(),
//!     vec![Limit::quota("daily".parse().unwrap(), 5, Period::Day)],
//! )
//! .unwrap();
//! store.put_plan(trial.clone()).await?;
//! store.set_workspace_plan(&acme, Some(trial.name().clone())).await?;
//! let record = store.get(&created.info.id).await?.expect("still there");
//! assert_eq!(record.plan, Some(trial));
//!
//! // A deleted key is gone for good: an unknown id, in listings too, and its name is free.
//! store.delete(&acme, &created.info.id).await?;
//! assert!(store.get(&created.info.id).await?.is_none());
//! let page = store.list_page(&acme, &KeyListQuery::new().name_prefix("ci-")).await?;
//! assert!(page.keys.is_empty());
//! store.create(new()).await?;
//! # Ok::<_, keygate::StoreError>(())
//! # }).unwrap();
//! ```

mod audit;
mod builder;
mod plans;
mod rows;
mod schema;
mod worker;

use crate::audit::{Actor, AuditAction, AuditEvent, AuditPage, AuditQuery};
use crate::store::{ImportKey, KeyListQuery, KeyPage};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use rusqlite::{Connection, TransactionBehavior};

pub use builder::{
    DEFAULT_BUSY_TIMEOUT, DEFAULT_FLUSH_INTERVAL, DEFAULT_LAST_USE_INTERVAL,
    DEFAULT_LOOKUP_TIMEOUT, DEFAULT_QUEUE_CAPACITY, SqliteKeyStoreBuilder,
};
pub use worker::SqliteFuture;

use super::manage::generation_failed;
use super::plans::PlanManager;
use super::{
    CreatedKey, Definitions, KeyInfo, KeyManager, KeyStore, KeyUpdate, NewKey, StoreError,
    UsageLog, manage,
};
use crate::clock::Clock;
use crate::key::{self, KeyDigest, KeyId, KeyPrefix};
use crate::plan::{Plan, PlanName};
use crate::record::KeyRecord;
use crate::workspace::Workspace;
use rows::unavailable;
use worker::Worker;

/// Fresh ids drawn before giving up on a create (a collision among 71-bit ids is already
/// vanishingly rare).
const CREATE_ATTEMPTS: usize = 4;

/// A key store in an embedded SQLite database, with the whole key lifecycle.
///
/// Clones share the same connections. See the [module docs](self) for how it keeps blocking
/// calls off the runtime and batches last-use writes.
#[derive(Clone)]
pub struct SqliteKeyStore {
    inner: Arc<Shared>,
}

struct Shared {
    /// The connection lookups and listings use; `None` for an in-memory database, whose
    /// only connection is the writer's.
    reader: Option<Worker>,
    /// The connection every change and the last-use flush go through. Its thread's last
    /// flush, when it is dropped, sees `usage` through its own `Arc`.
    writer: Worker,
    usage: Arc<UsageLog>,
    prefix: KeyPrefix,
    clock: Arc<dyn Clock>,
    /// How long a lookup waits for the reader's answer.
    lookup_timeout: Duration,
    /// Plans parsed from their definitions, shared by both threads.
    definitions: Arc<Definitions>,
}

impl SqliteKeyStore {
    /// Opens (or creates) the database at `path` with the default settings, applying the
    /// schema migrations it lacks. `":memory:"` opens a private in-memory database.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::builder(path).open().await
    }

    /// A builder for the prefix, flush interval, busy timeout and clock.
    pub fn builder(path: impl AsRef<Path>) -> SqliteKeyStoreBuilder {
        SqliteKeyStoreBuilder::new(path.as_ref().to_path_buf())
    }

    /// The prefix of the keys this store issues.
    pub fn prefix(&self) -> &KeyPrefix {
        &self.inner.prefix
    }

    /// Writes the pending last-use times now, rather than at the next interval. Returns how
    /// many rows it wrote: a key whose last use is already written within the
    /// [last-use interval](SqliteKeyStoreBuilder::last_use_interval), by this store or
    /// another, is not written again. On failure the uses stay pending for the next flush.
    pub async fn flush(&self) -> Result<usize, StoreError> {
        let usage = Arc::clone(&self.inner.usage);
        self.inner
            .writer
            .call(move |conn| worker::flush(conn, &usage))
            .await
    }

    /// The schema version of the open database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        self.inner
            .writer
            .call(|conn| {
                conn.query_row(
                    "SELECT COALESCE(MAX(version), 0) FROM keygate_schema_migrations",
                    [],
                    |row| row.get(0),
                )
                .map_err(unavailable)
            })
            .await
    }

    /// Replaces the record of `id` with `change(connection, record)` in one immediate
    /// transaction, if the key belongs to `workspace` (otherwise it is not found, as an unknown
    /// id), and puts it on its own plan `plan` if given (`Some(None)`: its workspace's; `change`
    /// has checked it exists). With `new_overrides`, the record's overrides (as `change` left
    /// them) are checked against the plan the key is then on, and refused (the transaction
    /// rolled back) if they do not fit. A second process changing the same key, or taking a
    /// name, waits instead of being overwritten.
    async fn modify(
        &self,
        (actor, action): (&Actor, AuditAction),
        workspace: &Workspace,
        id: &KeyId,
        plan: Option<Option<PlanName>>,
        new_overrides: bool,
        change: impl FnOnce(&Connection, &KeyRecord) -> Result<KeyRecord, StoreError> + Send + 'static,
    ) -> Result<KeyInfo, StoreError> {
        let definitions = Arc::clone(&self.inner.definitions);
        self.with_key(actor, workspace, id, move |tx, record, actor, now| {
            let id = record.id;
            let mut next = rows::as_stored(change(tx, &record)?);
            rows::update(tx, &next)?;
            if let Some(plan) = &plan {
                rows::set_plan(tx, &id, plan.as_ref())?;
            }
            if plan.is_some() || new_overrides {
                // Read back for the plan it is on, with its overrides applied.
                next = rows::select(tx, &definitions, &id)?.ok_or(StoreError::NotFound(id))?;
            }
            if new_overrides {
                manage::check_overrides(&next.overrides, next.plan.as_ref())?;
            }
            audit::insert(tx, AuditEvent::of(action, actor, Some(&record), &next, now))?;
            Ok(KeyInfo::from(&next))
        })
        .await
    }

    /// Runs `job` on the record of `id` in one immediate transaction, with the actor and the
    /// time of the change, if the key belongs to `workspace` (otherwise it is not found, as an
    /// unknown id).
    async fn with_key<T: Send + 'static>(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
        job: impl FnOnce(&Connection, KeyRecord, &Actor, SystemTime) -> Result<T, StoreError>
        + Send
        + 'static,
    ) -> Result<T, StoreError> {
        let (workspace, id) = (workspace.clone(), *id);
        let definitions = Arc::clone(&self.inner.definitions);
        let (actor, now) = (actor.clone(), self.now());
        self.write(move |tx| {
            let record = rows::select_in(tx, &definitions, &workspace, &id)?
                .ok_or(StoreError::NotFound(id))?;
            job(tx, record, &actor, now)
        })
        .await
    }

    /// Runs `job` on the writer's connection in one immediate transaction.
    async fn write<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.inner
            .writer
            .call(move |conn: &mut Connection| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(unavailable)?;
                let done = job(&tx)?;
                tx.commit().map_err(unavailable)?;
                Ok(done)
            })
            .await
    }

    /// The thread for reads.
    fn reads(&self) -> &Worker {
        self.inner.reader.as_ref().unwrap_or(&self.inner.writer)
    }

    fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }
}

impl fmt::Debug for SqliteKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteKeyStore")
            .field("prefix", &self.inner.prefix)
            .field("pending_uses", &self.inner.usage.len())
            .finish_non_exhaustive()
    }
}

impl KeyStore for SqliteKeyStore {
    type Future = SqliteFuture<Option<Arc<KeyRecord>>>;

    fn get(&self, id: &KeyId) -> Self::Future {
        let id = *id;
        let definitions = Arc::clone(&self.inner.definitions);
        self.reads()
            .call_within(Some(self.inner.lookup_timeout), move |conn| {
                Ok(rows::select(conn, &definitions, &id)?.map(Arc::new))
            })
    }

    /// Looks the digest up in `keygate_keys.legacy_digest` (a unique index), on the reader's
    /// thread within the lookup timeout, exactly as [`get`](Self::get) looks up an id.
    fn get_by_digest(&self, digest: &KeyDigest) -> Option<Self::Future> {
        let digest = *digest;
        let definitions = Arc::clone(&self.inner.definitions);
        Some(
            self.reads()
                .call_within(Some(self.inner.lookup_timeout), move |conn| {
                    Ok(rows::select_by_legacy_digest(conn, &definitions, &digest)?.map(Arc::new))
                }),
        )
    }

    fn touch(&self, id: &KeyId) {
        self.inner.usage.record(id, self.inner.clock.coarse_now());
    }

    fn prefix(&self) -> KeyPrefix {
        self.inner.prefix.clone()
    }
}

#[async_trait]
impl KeyManager for SqliteKeyStore {
    async fn create_by(&self, actor: &Actor, new: NewKey) -> Result<CreatedKey, StoreError> {
        let now = self.now();
        new.validate(now)?;
        for _ in 0..CREATE_ATTEMPTS {
            let (plaintext, record) = new.issue(&self.inner.prefix, now)?;
            let record = rows::as_stored(record);
            let plan = new.plan.clone();
            let definitions = Arc::clone(&self.inner.definitions);
            let actor = actor.clone();
            // The name and plan checks and the insert in one immediate transaction: another
            // process creating or renaming a key waits for it, so no two unrevoked keys share
            // a name.
            let inserted = self
                .write(move |tx| {
                    if rows::name_in_use(tx, &record.workspace, &record.name, None)? {
                        return Err(manage::name_taken(&record.workspace, &record.name));
                    }
                    plans::check(tx, plan.as_ref())?;
                    // A deleted key's id is never used again: draw another, as for a taken one.
                    if rows::is_deleted(tx, &record.id)?
                        || !rows::insert(tx, &record, plan.as_ref())?
                    {
                        return Ok(None);
                    }
                    // Read back for the plan it is on: its own, else its workspace's, which
                    // the overrides must fit (else the transaction is rolled back).
                    let stored = rows::select(tx, &definitions, &record.id)?;
                    if let Some(stored) = &stored {
                        manage::check_overrides(&stored.overrides, stored.plan.as_ref())?;
                        let event = AuditEvent::of(AuditAction::Create, &actor, None, stored, now);
                        audit::insert(tx, event)?;
                    }
                    Ok(stored)
                })
                .await?;
            if let Some(record) = inserted {
                return Ok(CreatedKey {
                    plaintext,
                    info: KeyInfo::from(&record),
                });
            }
        }
        Err(StoreError::Conflict(format!(
            "{CREATE_ATTEMPTS} freshly drawn key ids were all taken"
        )))
    }

    async fn info(&self, workspace: &Workspace, id: &KeyId) -> Result<KeyInfo, StoreError> {
        let (workspace, id) = (workspace.clone(), *id);
        let definitions = Arc::clone(&self.inner.definitions);
        self.reads()
            .call(move |conn| {
                rows::select_in(conn, &definitions, &workspace, &id)?
                    .map(|record| KeyInfo::from(&record))
                    .ok_or(StoreError::NotFound(id))
            })
            .await
    }

    async fn list(&self, workspace: &Workspace) -> Result<Vec<KeyInfo>, StoreError> {
        let workspace = workspace.clone();
        let definitions = Arc::clone(&self.inner.definitions);
        self.reads()
            .call(move |conn| {
                Ok(rows::select_all(conn, &definitions, &workspace)?
                    .iter()
                    .map(KeyInfo::from)
                    .collect())
            })
            .await
    }

    async fn update_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
        update: KeyUpdate,
    ) -> Result<KeyInfo, StoreError> {
        let now = self.now();
        let plan = update.plan.clone();
        let new_overrides = update.overrides.is_some();
        let by = (actor, AuditAction::Update);
        self.modify(
            by,
            workspace,
            id,
            plan,
            new_overrides,
            move |conn, record| {
                // Checked after the key is found (an unknown key is not found, whatever its new
                // name), inside the transaction that writes the new name.
                if let Some(name) = update
                    .name
                    .as_ref()
                    .filter(|_| update.renames(&record.name))
                    && rows::name_in_use(conn, &record.workspace, name, Some(&record.id))?
                {
                    return Err(manage::name_taken(&record.workspace, name));
                }
                // Then the plan, before anything else is changed, as `MemoryKeyStore` does.
                if let Some(plan) = &update.plan {
                    plans::check(conn, plan.as_ref())?;
                }
                update.apply(record, now)
            },
        )
        .await
    }

    async fn revoke_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError> {
        let now = self.now();
        let by = (actor, AuditAction::Revoke);
        self.modify(by, workspace, id, None, false, move |_, record| {
            Ok(manage::revoked(record, now))
        })
        .await
    }

    async fn rotate_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
        grace: Duration,
    ) -> Result<CreatedKey, StoreError> {
        let now = self.now();
        let generated = key::generate_for(&self.inner.prefix, *id).map_err(generation_failed)?;
        let digest = generated.digest;
        let by = (actor, AuditAction::Rotate);
        let info = self
            .modify(by, workspace, id, None, false, move |_, record| {
                manage::rotated(record, digest, now, grace)
            })
            .await?;
        Ok(CreatedKey {
            plaintext: generated.plaintext,
            info,
        })
    }

    async fn audit(
        &self,
        workspace: &Workspace,
        query: &AuditQuery,
    ) -> Result<AuditPage, StoreError> {
        let (workspace, query) = (workspace.clone(), query.clone());
        self.reads()
            .call(move |conn| audit::page(conn, &workspace, &query))
            .await
    }

    async fn list_page(
        &self,
        workspace: &Workspace,
        query: &KeyListQuery,
    ) -> Result<KeyPage, StoreError> {
        query.validate()?;
        let (workspace, query, now) = (workspace.clone(), query.clone(), self.now());
        let definitions = Arc::clone(&self.inner.definitions);
        self.reads()
            .call(move |conn| {
                let records = rows::select_page(conn, &definitions, &workspace, &query, now)?;
                Ok(query.page(records.iter().map(KeyInfo::from).collect()))
            })
            .await
    }

    async fn disable_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError> {
        let now = self.now();
        let by = (actor, AuditAction::Disable);
        self.modify(by, workspace, id, None, false, move |_, record| {
            manage::disabled(record, now)
        })
        .await
    }

    async fn enable_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError> {
        let by = (actor, AuditAction::Enable);
        self.modify(by, workspace, id, None, false, |_, record| {
            manage::enabled(record)
        })
        .await
    }

    async fn delete_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError> {
        // The row, its tombstone and the event in one immediate transaction: if the event
        // cannot be written, nothing is deleted.
        self.with_key(actor, workspace, id, |tx, record, actor, now| {
            rows::delete(tx, &record, now)?;
            let event = AuditEvent::of(AuditAction::Delete, actor, Some(&record), &record, now);
            audit::insert(tx, event)?;
            Ok(KeyInfo::from(&record))
        })
        .await
    }

    async fn import_by(&self, actor: &Actor, import: ImportKey) -> Result<KeyInfo, StoreError> {
        let now = self.now();
        let record = rows::as_stored(import.record(&self.inner.prefix, now)?);
        let plan = import.plan;
        let definitions = Arc::clone(&self.inner.definitions);
        let actor = actor.clone();
        // Every check and the insert in one immediate transaction, in the order
        // `MemoryKeyStore` makes them: the plan, the secret, the name, then the id.
        self.write(move |tx| {
            plans::check(tx, plan.as_ref())?;
            if let Some(digest) = &record.legacy_digest
                && rows::legacy_digest_in_use(tx, digest)?
            {
                return Err(StoreError::Conflict(
                    "another key has this secret: it was imported already".into(),
                ));
            }
            if rows::name_in_use(tx, &record.workspace, &record.name, None)? {
                return Err(manage::name_taken(&record.workspace, &record.name));
            }
            let id = record.id;
            if rows::is_deleted(tx, &id)? {
                return Err(StoreError::Conflict(format!(
                    "id {id} belonged to a deleted key and is never used again"
                )));
            }
            if !rows::insert(tx, &record, plan.as_ref())? {
                return Err(StoreError::Conflict(format!("a key with id {id} exists")));
            }
            // Read back for the plan it is on: its own, else its workspace's.
            let stored = rows::select(tx, &definitions, &id)?.ok_or(StoreError::NotFound(id))?;
            audit::insert(
                tx,
                AuditEvent::of(AuditAction::Import, &actor, None, &stored, now),
            )?;
            Ok(KeyInfo::from(&stored))
        })
        .await
    }
}

/// Plans are rows of `keygate_plans`; redefining one applies to every key on it from its next
/// lookup, which reads the definition in the same query as the key.
#[async_trait]
impl PlanManager for SqliteKeyStore {
    async fn put_plan(&self, plan: Plan) -> Result<(), StoreError> {
        self.write(move |tx| plans::put(tx, &plan)).await
    }

    async fn plans(&self) -> Result<Vec<Plan>, StoreError> {
        let definitions = Arc::clone(&self.inner.definitions);
        self.reads()
            .call(move |conn| plans::all(conn, &definitions))
            .await
    }

    async fn plan(&self, name: &PlanName) -> Result<Option<Plan>, StoreError> {
        let (name, definitions) = (name.clone(), Arc::clone(&self.inner.definitions));
        self.reads()
            .call(move |conn| plans::one(conn, &definitions, &name))
            .await
    }

    async fn set_workspace_plan(
        &self,
        workspace: &Workspace,
        plan: Option<PlanName>,
    ) -> Result<(), StoreError> {
        let workspace = workspace.clone();
        self.write(move |tx| {
            plans::check(tx, plan.as_ref())?;
            plans::set_workspace(tx, &workspace, plan.as_ref())
        })
        .await
    }

    async fn workspace_plan(&self, workspace: &Workspace) -> Result<Option<PlanName>, StoreError> {
        let workspace = workspace.clone();
        self.reads()
            .call(move |conn| plans::of_workspace(conn, &workspace))
            .await
    }
}

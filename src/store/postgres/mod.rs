//! [`PostgresKeyStore`]: keys in PostgreSQL, with the whole key lifecycle.
//!
//! - **Lookups** are one primary-key `SELECT` on a pooled connection (deadpool), with a
//!   prepared statement cached per connection.
//! - **Every call is bounded** by the configured timeout, waiting for a connection included:
//!   past it the call fails with [`StoreError::Timeout`], and any database error is
//!   [`StoreError::Unavailable`]. The layer turns both into 503 `auth_unavailable`.
//! - **Last use** is written behind the hot path: `touch` notes the time in memory and a
//!   background task writes every key used since the last flush in one `UPDATE … FROM
//!   unnest(…)` statement, every second by default. A key's row is written at most once per
//!   [last-use interval](PostgresKeyStoreBuilder::last_use_interval) (5 min by default)
//!   across every instance: `touch` skips keys known to be written within it, and the
//!   `UPDATE` skips rows whose `last_used_at` is within it. Last-use writes notify nobody.
//! - **Changes are announced**: create, import, update, revoke, rotate, disable, enable and
//!   delete send `pg_notify('keygate_keys', id)` in the same statement (a revocation `r:<id>`,
//!   so that caches keep the key as revoked instead of reading it again; a deletion the plain
//!   id, so that caches forget the key and then find no key of that id). [`PostgresKeyStore::invalidations`]
//!   listens on a connection of its own so that a `CachedKeyStore` (feature `cache`) in
//!   every instance
//!   forgets a changed key within moments.
//! - **Workspaces.** A lookup reads the key's workspace and metadata (`jsonb`, read as text and
//!   checked by [`Metadata::from_json`](crate::Metadata::from_json)) with the rest of its row.
//!   Every management call but `create` is scoped in SQL (`WHERE id = $1 AND workspace = $2`):
//!   another workspace's key is [`StoreError::NotFound`], exactly as an unknown id. Names are
//!   unique among a workspace's unrevoked keys: creating or renaming checks and writes in one
//!   transaction holding `pg_advisory_xact_lock` keyed on the workspace, so instances sharing
//!   the database take turns per workspace. (A unique index would refuse the migration of a
//!   database whose older keys share a name; those keys keep working.)
//! - **Migrations** ship with the crate (`migrations/postgres/`) and run only when
//!   [`PostgresKeyStore::migrate`] is called.
//!
//! - **Plans** ([`PlanManager`]) are rows of `keygate_plans` (name and `jsonb` definition);
//!   `keygate_workspaces` holds each workspace's plan and `keygate_keys.plan` a key's own. A
//!   lookup joins the key's own plan, else its workspace's, in its one query by id, and parses
//!   a definition once (the store remembers a bounded number of them by their text). An
//!   unknown plan is refused inside the write's transaction. Redefining a plan or moving a
//!   workspace notifies `keygate_keys` with `*`: every listening instance's cache forgets
//!   every record, since records carry their resolved plan.
//! - **Overrides** of a plan's limit values are `keygate_keys.overrides` (`jsonb`, `NULL` for
//!   none), read in the lookup's one query and applied to the plan as the record is built;
//!   they are checked against the key's plan inside the write's transaction. A value that does
//!   not parse is a corrupt row (503), as a plan's definition.
//! - **IP allowlists** are `keygate_keys.allowed_ips`: the key's networks in their canonical
//!   form, comma-separated (`192.0.2.0/24,2001:db8::/32`), `NULL` for anywhere. They are read in
//!   the lookup's one query; a value that does not read back as a list of networks is a
//!   corrupt row (503), never a key open to every address.
//!
//! - **The audit log** ([`KeyManager::audit`]) is `keygate_audit`, one row per change. Every
//!   change runs in one transaction that locks the key's row (`FOR UPDATE`), writes it and
//!   writes its event before committing: a change is never stored without its event, nor an
//!   event without its change, and a change that fails or changes nothing (revoking a revoked
//!   key) writes none. Within a workspace, events commit in the order of their ids (the
//!   insert takes a per-workspace advisory lock until the commit), so a reader paging with
//!   [`AuditQuery::before`] misses none. A row that does not read back as an event is
//!   [`StoreError::Unavailable`], naming the column.
//!
//! - **Disabling and enabling** set and clear `keygate_keys.disabled_at`, in a transaction
//!   that locks the row, as every change (a revoked key is refused with
//!   [`StoreError::Conflict`]).
//! - **Deleting** removes the key's row and writes its id to `keygate_deleted_keys` in one
//!   statement: its name is free again, its imported token no longer found, and its id is
//!   never used again (`create` draws another; `import` is refused with
//!   [`StoreError::Conflict`]). Its events stay in the log. Deleting and importing one id take
//!   turns under an advisory lock on the id, so an import never slips in as a deletion commits.
//! - **Pages of keys** ([`KeyManager::list_page`]) are read by keyset, never by offset:
//!   `(created_at, id COLLATE "C") > (cursor)` on the index
//!   `(workspace, created_at, id COLLATE "C")`, `LIMIT` one more than the page, with the
//!   status (at the store's clock) and the name prefix filtered in SQL. A key created while
//!   pages are read appears once: in a later page if it sorts after the cursor, else in none.
//! - **Imported keys** ([`KeyManager::import`]) are inserted as `create` inserts, under the
//!   workspace's naming lock. A token in another format is found by
//!   [`KeyStore::get_by_digest`]: one query on the unique index of
//!   `keygate_keys.legacy_digest`, bounded as a lookup by id; one token is one key's only.
//!
//! The schema is `keygate_keys` (one row per key, only digests of secrets), `keygate_plans`,
//! `keygate_workspaces`, `keygate_audit`, `keygate_deleted_keys` and
//! `keygate_schema_migrations`. Keys made before
//! workspaces land in `default` with `{}`; keys made before plans are on none.
//!
//! ```no_run
//! use std::time::Duration;
//! use keygate::{ApiKeyLayer, KeyManager, MemoryRateLimiter, NewKey};
//! use keygate::store::postgres::PostgresKeyStore;
//!
//! # async fn run() -> Result<(), keygate::StoreError> {
//! let store = PostgresKeyStore::builder("postgres://keygate@127.0.0.1/keygate")
//!     .pool_size(16)
//!     .timeout(Duration::from_secs(2))
//!     .flush_interval(Duration::from_secs(1))
//!     .build()?;
//! store.migrate().await?;
//! let created = store
//!     .create(NewKey::new("ci-pipeline".parse().unwrap(), "read:all".parse().unwrap()))
//!     .await?;
//! println!("{}", created.plaintext.expose_secret()); // shown once
//! let layer = ApiKeyLayer::new(store, MemoryRateLimiter::new());
//! # Ok(()) }
//! ```
//!
//! TLS: the connections are made without TLS; run the database on a private network or
//! loopback.

mod audit;
mod builder;
mod listener;
mod migrate;
mod row;

use crate::audit::{Actor, AuditAction, AuditEvent, AuditPage, AuditQuery};
use crate::store::{ImportKey, KeyCursor, KeyListQuery, KeyPage};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use deadpool_postgres::{Object, Pool, PoolError, Transaction};
use tokio::time::MissedTickBehavior;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

pub use builder::{
    DEFAULT_FLUSH_INTERVAL, DEFAULT_LAST_USE_INTERVAL, DEFAULT_POOL_SIZE, DEFAULT_TIMEOUT,
    PostgresKeyStoreBuilder,
};

use self::listener::Listener;
use self::row::{
    allowed_ips_column, db_time, plan_joins, quota_columns, record_columns, record_from_row,
};
use super::abort::AbortOnDrop;
use super::manage::generation_failed;
use super::plans::{self, PlanManager};
use super::{
    BoxLookup, CreatedKey, Definitions, InvalidationSender, Invalidations, KeyInfo, KeyManager,
    KeyStore, KeyUpdate, NewKey, StoreError, UsageLog, invalidation_channel, manage,
    overrides_column,
};
use crate::clock::Clock;
use crate::key::{self, KeyDigest, KeyId, KeyPrefix};
use crate::plan::{Plan, PlanName};
use crate::record::{KeyName, KeyRecord, KeyStatus};
use crate::workspace::Workspace;

/// Selects records with their plans: the key's row `k` and its plan, in one query.
macro_rules! select_records {
    ($condition:expr) => {
        concat!(
            "SELECT ",
            record_columns!(),
            " FROM keygate_keys AS k",
            plan_joins!(),
            " WHERE ",
            $condition
        )
    };
}
const GET: &str = select_records!("k.id = $1");
const GET_IN: &str = select_records!("k.id = $1 AND k.workspace = $2");
const GET_FOR_UPDATE: &str = select_records!("k.id = $1 AND k.workspace = $2 FOR UPDATE OF k");
const LIST: &str = select_records!(
    "k.workspace = $1 ORDER BY k.created_at, k.name COLLATE \"C\", k.id COLLATE \"C\""
);
/// Takes the naming lock of the workspace `$1` until the transaction ends: creating and
/// renaming keys of one workspace take turns, in every instance sharing the database. (The
/// two-key advisory locks never meet the one-key lock the migrations take.)
const LOCK_NAMES: &str = "SELECT pg_advisory_xact_lock(1801812327, hashtext($1))";
/// Whether an unrevoked key of workspace `$1` other than `$3` is named `$2`.
const NAME_IN_USE: &str = "SELECT EXISTS (SELECT 1 FROM keygate_keys \
     WHERE workspace = $1 AND name = $2 AND revoked_at IS NULL AND id IS DISTINCT FROM $3)";
/// Inserts a key unless its id is taken, by a key or by a deleted key (`ON CONFLICT` and the
/// tombstones: no row is inserted, and the caller draws again or refuses), and notifies it.
/// `$13` is the digest of an imported token in another format (`NULL` for others), `$14` the
/// networks the key may be used from (`NULL`: anywhere).
const INSERT: &str = "WITH inserted AS (\
     INSERT INTO keygate_keys \
     (id, name, digest, scopes, quota_burst, quota_interval_us, created_at, expires_at, \
     workspace, metadata, plan, overrides, legacy_digest, allowed_ips) \
     SELECT $1::text, $2::text, $3::bytea, $4::text, $5::integer, $6::bigint, \
     $7::timestamptz, $8::timestamptz, $9::text, $10::text::jsonb, $11::text, \
     $12::text::jsonb, $13::bytea, $14::text \
     WHERE NOT EXISTS (SELECT 1 FROM keygate_deleted_keys WHERE id = $1) \
     ON CONFLICT (id) DO NOTHING RETURNING id) \
     SELECT pg_notify('keygate_keys', id) FROM inserted";
/// The unique index that keeps an imported token one key's only.
const LEGACY_DIGEST_INDEX: &str = "keygate_keys_legacy_digest";
/// Whether a key, or a deleted key, has the id `$1`.
const ID_TAKEN: &str = "SELECT EXISTS (SELECT 1 FROM keygate_keys WHERE id = $1), \
     EXISTS (SELECT 1 FROM keygate_deleted_keys WHERE id = $1)";
/// Whether a key was imported with the token whose digest is `$1`.
const DIGEST_TAKEN: &str = "SELECT EXISTS (SELECT 1 FROM keygate_keys WHERE legacy_digest = $1)";
/// Takes the lock of the id `$1` until the transaction ends: deleting a key and importing one
/// with its id take turns, so that an import never slips in as a deletion commits. (Its first
/// key is "kids" in ASCII.)
const LOCK_ID: &str = "SELECT pg_advisory_xact_lock(1802069107, hashtext($1))";
/// Removes the key `$1` of the workspace `$2`, leaves its tombstone (deleted at `$3`), and
/// notifies its id: listening caches forget it, and then find no key of that id.
const DELETE: &str = "WITH removed AS (\
     DELETE FROM keygate_keys WHERE id = $1 AND workspace = $2 RETURNING id, workspace), \
     tombstone AS (\
     INSERT INTO keygate_deleted_keys (id, workspace, deleted_at) \
     SELECT id, workspace, $3::timestamptz FROM removed RETURNING id) \
     SELECT pg_notify('keygate_keys', id) FROM tombstone";
/// The page of workspace `$1`'s keys after the cursor (`$2`, `$3`; `NULL`: from the first),
/// with the status `$4` at `$5` (`NULL`: any) and a name starting with `$6` (`NULL`: any),
/// oldest first, at most `$7`. Ids are compared in byte order, as cursors compare them.
const PAGE: &str = select_records!(
    "k.workspace = $1 \
     AND (k.created_at, k.id COLLATE \"C\") > \
     (COALESCE($2::timestamptz, '-infinity'), COALESCE($3::text, '')) \
     AND ($4::text IS NULL OR $4::text = CASE \
     WHEN k.revoked_at IS NOT NULL THEN 'revoked' \
     WHEN k.expires_at <= $5::timestamptz THEN 'expired' \
     WHEN k.disabled_at IS NOT NULL THEN 'disabled' \
     ELSE 'active' END) \
     AND ($6::text IS NULL OR left(k.name, char_length($6::text)) = $6::text) \
     ORDER BY k.created_at, k.id COLLATE \"C\" LIMIT $7"
);
/// The key imported with the token whose digest is `$1`.
const GET_BY_DIGEST: &str = select_records!("k.legacy_digest = $1");
/// Wraps an `UPDATE` so that the same statement notifies the change (with the payload `k.id`,
/// or the SQL expression given) and returns the changed record with its plan.
macro_rules! notifying {
    ($update:expr) => {
        notifying!($update, "k.id")
    };
    ($update:expr, $payload:expr) => {
        concat!(
            "WITH changed AS (",
            $update,
            " RETURNING *) SELECT ",
            record_columns!(),
            ", pg_notify('keygate_keys', ",
            $payload,
            ") AS notified FROM changed AS k",
            plan_joins!()
        )
    };
}
/// Run after [`GET_FOR_UPDATE`] found the key in its workspace, in the same transaction. `$8`
/// says whether `$9` is the key's new plan of its own; `$10` is its overrides (`NULL`: none),
/// `$11` the networks it may be used from (`NULL`: anywhere).
const UPDATE: &str = notifying!(
    "UPDATE keygate_keys SET name = $2, scopes = $3, quota_burst = $4, quota_interval_us = $5, \
     expires_at = $6, metadata = $7::text::jsonb, \
     plan = CASE WHEN $8::boolean THEN $9::text ELSE plan END, overrides = $10::text::jsonb, \
     allowed_ips = $11::text \
     WHERE id = $1"
);
/// Notifies `r:<id>`: listening caches keep the key as revoked, without reading it again.
const REVOKE: &str = notifying!(
    "UPDATE keygate_keys SET revoked_at = COALESCE(revoked_at, $2) \
     WHERE id = $1 AND workspace = $3",
    "'r:' || k.id"
);
/// Disables the key `$1` of the workspace `$3` since `$2`, or since it was disabled.
const DISABLE: &str = notifying!(
    "UPDATE keygate_keys SET disabled_at = COALESCE(disabled_at, $2) \
     WHERE id = $1 AND workspace = $3"
);
const ENABLE: &str =
    notifying!("UPDATE keygate_keys SET disabled_at = NULL WHERE id = $1 AND workspace = $2");
const ROTATE: &str = notifying!(
    "UPDATE keygate_keys SET \
     previous_digest = CASE WHEN $3::timestamptz IS NULL THEN NULL ELSE digest END, \
     previous_valid_until = $3, digest = $2 \
     WHERE id = $1 AND workspace = $4 AND revoked_at IS NULL"
);
/// Whether a plan is called `$1`.
const PLAN_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM keygate_plans WHERE name = $1)";
/// Defines a plan or replaces its definition, and tells every instance's caches to forget
/// everything (any key may be on it).
const PUT_PLAN: &str = "WITH put AS (\
     INSERT INTO keygate_plans (name, definition) VALUES ($1, $2::text::jsonb) \
     ON CONFLICT (name) DO UPDATE SET definition = EXCLUDED.definition RETURNING name) \
     SELECT pg_notify('keygate_keys', '*') FROM put";
const PLANS: &str =
    "SELECT name, definition::text AS definition FROM keygate_plans ORDER BY name COLLATE \"C\"";
const PLAN: &str = "SELECT name, definition::text AS definition FROM keygate_plans WHERE name = $1";
const SET_WORKSPACE_PLAN: &str = "WITH put AS (\
     INSERT INTO keygate_workspaces (workspace, plan) VALUES ($1, $2) \
     ON CONFLICT (workspace) DO UPDATE SET plan = EXCLUDED.plan RETURNING workspace) \
     SELECT pg_notify('keygate_keys', '*') FROM put";
const CLEAR_WORKSPACE_PLAN: &str = "WITH cleared AS (\
     DELETE FROM keygate_workspaces WHERE workspace = $1 RETURNING workspace) \
     SELECT pg_notify('keygate_keys', '*') FROM cleared";
const WORKSPACE_PLAN: &str = "SELECT plan FROM keygate_workspaces WHERE workspace = $1";
/// Writes the uses `$1` at `$2` whose row holds no last use within `$3` microseconds before
/// (never moving a time backwards), and answers, per key, the last use now in the row and
/// whether this statement wrote it. No `pg_notify`: a last use changes nothing a cache holds.
const FLUSH_USES: &str = "WITH u AS (SELECT * FROM unnest($1::text[], $2::timestamptz[]) \
     AS u(id, at)), \
     written AS (UPDATE keygate_keys AS k SET last_used_at = u.at FROM u \
     WHERE k.id = u.id \
     AND (k.last_used_at IS NULL OR k.last_used_at < u.at - $3::bigint * interval '1 microsecond') \
     RETURNING k.id, k.last_used_at) \
     SELECT u.id, COALESCE(w.last_used_at, k.last_used_at) AS last_used_at, \
     w.id IS NOT NULL AS written \
     FROM u JOIN keygate_keys AS k ON k.id = u.id LEFT JOIN written AS w ON w.id = u.id";

/// Most key uses written by one statement.
const FLUSH_BATCH: usize = 10_000;

/// A PostgreSQL key store with the whole key lifecycle. Clones share one pool.
///
/// See the [module docs](self) for what it does per call, and
/// [`PostgresKeyStore::builder`] for the settings. The background tasks (last-use flush,
/// invalidation listener) stop when the last clone is dropped; call
/// [`PostgresKeyStore::flush`] before that to keep the last second of uses.
#[derive(Clone)]
pub struct PostgresKeyStore {
    shared: Arc<Shared>,
}

struct Shared {
    pool: Pool,
    /// Where the invalidation listener connects.
    listen_config: tokio_postgres::Config,
    runtime: tokio::runtime::Handle,
    timeout: Duration,
    prefix: KeyPrefix,
    clock: Arc<dyn Clock>,
    usage: UsageLog,
    invalidations: InvalidationSender,
    listening: Arc<AtomicBool>,
    /// Plans parsed from their definitions.
    definitions: Definitions,
    /// The tasks hold no strong reference to `Shared`: dropping it aborts them.
    listener: OnceLock<AbortOnDrop>,
    _flusher: AbortOnDrop,
}

impl fmt::Debug for PostgresKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.shared.pool.status();
        f.debug_struct("PostgresKeyStore")
            .field("prefix", &self.shared.prefix)
            .field("timeout", &self.shared.timeout)
            .field("connections", &status.size)
            .field("pending_uses", &self.shared.usage.len())
            .field("listening", &self.is_listening())
            .finish()
    }
}

fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Unavailable(Box::new(error))
}

impl Shared {
    /// Runs `call` on a pooled connection, the wait for the connection included, within the
    /// timeout.
    async fn bounded<T, F>(&self, call: impl FnOnce(Object) -> F) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, StoreError>>,
    {
        let work = async {
            let client = self.pool.get().await.map_err(|e| match e {
                PoolError::Timeout(_) => StoreError::Timeout(self.timeout),
                other => unavailable(other),
            })?;
            call(client).await
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or(Err(StoreError::Timeout(self.timeout)))
    }

    async fn get(&self, id: KeyId) -> Result<Option<KeyRecord>, StoreError> {
        self.record(GET, &[&id.as_str()]).await
    }

    /// The key `id` if it belongs to `workspace`; `None` for another workspace's key, as for an
    /// unknown id.
    async fn get_in(
        &self,
        workspace: &Workspace,
        id: KeyId,
    ) -> Result<Option<KeyRecord>, StoreError> {
        self.record(GET_IN, &[&id.as_str(), &workspace.as_str()])
            .await
    }

    /// Runs a lookup giving at most one row of key columns and returns its record, if any row
    /// matched.
    async fn record(
        &self,
        sql: &'static str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<KeyRecord>, StoreError> {
        self.bounded(|client| async move {
            let statement = client.prepare_cached(sql).await.map_err(unavailable)?;
            let row = client
                .query_opt(&statement, params)
                .await
                .map_err(unavailable)?;
            row.as_ref()
                .map(|row| record_from_row(row, &self.definitions))
                .transpose()
        })
        .await
    }

    /// Changes the key `id` of `workspace` in one transaction: locks its row, refuses with
    /// `check` a change that cannot be made to it, runs `sql` (one of the notifying `UPDATE`s)
    /// with its parameters, writes the event of the change by `by` if it changed anything,
    /// and commits. Returns the changed record.
    async fn change_audited(
        &self,
        (actor, action, now): (&Actor, AuditAction, SystemTime),
        workspace: &Workspace,
        id: &KeyId,
        check: impl FnOnce(&KeyRecord) -> Result<(), StoreError>,
        (sql, params): (&'static str, &[&(dyn ToSql + Sync)]),
    ) -> Result<KeyRecord, StoreError> {
        let definitions = &self.definitions;
        self.bounded(|mut client| async move {
            let tx = client.transaction().await.map_err(unavailable)?;
            let current = locked(&tx, workspace, id, definitions).await?;
            check(&current)?;
            let changed = change(&tx, id, sql, params, definitions).await?;
            let event = AuditEvent::of(action, actor, Some(&current), &changed, now);
            audit::commit(tx, event).await?;
            Ok(changed)
        })
        .await
    }

    /// The plans a statement giving `name` and `definition` rows selects.
    async fn plans(
        &self,
        sql: &'static str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Plan>, StoreError> {
        self.bounded(|client| async move {
            let statement = client.prepare_cached(sql).await.map_err(unavailable)?;
            let rows = client
                .query(&statement, params)
                .await
                .map_err(unavailable)?;
            rows.iter()
                .map(|row| {
                    let name: &str = row.try_get("name").map_err(unavailable)?;
                    let definition: &str = row.try_get("definition").map_err(unavailable)?;
                    self.definitions.plan("keygate_plans", name, definition)
                })
                .collect()
        })
        .await
    }

    /// Writes the pending last-use times, one statement per batch, skipping the rows written
    /// within the last-use interval. Returns how many rows it wrote; on failure the uses stay
    /// pending for the next flush.
    async fn flush_uses(&self) -> Result<usize, StoreError> {
        let pending = self.usage.drain();
        let interval = self.usage.interval_micros();
        let mut written = 0;
        for (done, batch) in pending.chunks(FLUSH_BATCH).enumerate() {
            let ids: Vec<&str> = batch.iter().map(|(id, _)| id.as_str()).collect();
            let times: Vec<SystemTime> = batch.iter().map(|(_, at)| *at).collect();
            let result = self
                .bounded(|client| async move {
                    let statement = client
                        .prepare_cached(FLUSH_USES)
                        .await
                        .map_err(unavailable)?;
                    client
                        .query(&statement, &[&ids, &times, &interval])
                        .await
                        .map_err(unavailable)
                })
                .await;
            let rows = match result {
                Ok(rows) => rows,
                Err(error) => {
                    for (id, at) in &pending[done * FLUSH_BATCH..] {
                        self.usage.record(id, *at);
                    }
                    return Err(error);
                }
            };
            written += rows
                .iter()
                .filter(|row| row.try_get("written").unwrap_or(false))
                .count();
            let known: Vec<(KeyId, SystemTime)> = rows
                .iter()
                .filter_map(|row| {
                    let id = KeyId::new(row.try_get("id").ok()?).ok()?;
                    let at: Option<SystemTime> = row.try_get("last_used_at").ok()?;
                    Some((id, at?))
                })
                .collect();
            self.usage.written(&known);
        }
        Ok(written)
    }
}

/// Takes `workspace`'s naming lock for the rest of `tx`.
async fn lock_names(tx: &Transaction<'_>, workspace: &Workspace) -> Result<(), StoreError> {
    let statement = tx.prepare_cached(LOCK_NAMES).await.map_err(unavailable)?;
    tx.execute(&statement, &[&workspace.as_str()])
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// Takes the lock of the id `id` for the rest of `tx` (see [`LOCK_ID`]).
async fn lock_id(tx: &Transaction<'_>, id: &KeyId) -> Result<(), StoreError> {
    let statement = tx.prepare_cached(LOCK_ID).await.map_err(unavailable)?;
    tx.execute(&statement, &[&id.as_str()])
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// Refuses an id that a key has, or that a deleted key had. Run with the id's lock held.
async fn check_id_free(tx: &Transaction<'_>, id: &KeyId) -> Result<(), StoreError> {
    let statement = tx.prepare_cached(ID_TAKEN).await.map_err(unavailable)?;
    let row = tx
        .query_one(&statement, &[&id.as_str()])
        .await
        .map_err(unavailable)?;
    let in_use: bool = row.try_get(0).map_err(unavailable)?;
    let deleted: bool = row.try_get(1).map_err(unavailable)?;
    if deleted {
        Err(StoreError::Conflict(format!(
            "id {id} belonged to a deleted key and is never used again"
        )))
    } else if in_use {
        Err(id_taken(id))
    } else {
        Ok(())
    }
}

fn id_taken(id: &KeyId) -> StoreError {
    StoreError::Conflict(format!("a key with id {id} exists"))
}

/// Refuses the digest of a token another key was imported with. (Of two imports of one token
/// racing each other, the unique index refuses the second: see [`insert_failed`].)
async fn check_digest_free(tx: &Transaction<'_>, digest: &KeyDigest) -> Result<(), StoreError> {
    let statement = tx.prepare_cached(DIGEST_TAKEN).await.map_err(unavailable)?;
    let taken: bool = tx
        .query_one(&statement, &[&digest.as_bytes().as_slice()])
        .await
        .map_err(unavailable)?
        .get(0);
    if taken {
        Err(imported_already())
    } else {
        Ok(())
    }
}

fn imported_already() -> StoreError {
    StoreError::Conflict("another key has this secret: it was imported already".into())
}

/// The error of an [`INSERT`]: an imported token's digest taken meanwhile is a conflict,
/// anything else the database's failure.
fn insert_failed(error: tokio_postgres::Error) -> StoreError {
    let digest_taken = error.as_db_error().is_some_and(|db| {
        *db.code() == SqlState::UNIQUE_VIOLATION && db.constraint() == Some(LEGACY_DIGEST_INDEX)
    });
    if digest_taken {
        imported_already()
    } else {
        unavailable(error)
    }
}

/// Inserts `row` (on its own plan `plan`, if any) in `tx` and reads it back with the plan it
/// is on, its own else its workspace's. `None`, with nothing inserted, when a key or a
/// deleted key has its id.
async fn insert(
    tx: &Transaction<'_>,
    row: &KeyRecord,
    plan: Option<&PlanName>,
    definitions: &Definitions,
) -> Result<Option<KeyRecord>, StoreError> {
    let (burst, interval) = quota_columns(row.quota)?;
    let statement = tx.prepare_cached(INSERT).await.map_err(unavailable)?;
    let params: [&(dyn ToSql + Sync); 14] = [
        &row.id.as_str(),
        &row.name.as_str(),
        &row.digest.as_bytes().as_slice(),
        &row.scopes.to_string(),
        &burst,
        &interval,
        &row.created_at,
        &row.expires_at,
        &row.workspace.as_str(),
        &row.metadata.as_json(),
        &plan.map(PlanName::as_str),
        &overrides_column(&row.overrides),
        &row.legacy_digest.as_ref().map(|d| d.as_bytes().as_slice()),
        &allowed_ips_column(&row.allowed_ips),
    ];
    let inserted = tx
        .execute(&statement, &params)
        .await
        .map_err(insert_failed)?;
    if inserted != 1 {
        return Ok(None);
    }
    let statement = tx.prepare_cached(GET).await.map_err(unavailable)?;
    let stored = tx
        .query_opt(&statement, &[&row.id.as_str()])
        .await
        .map_err(unavailable)?
        .map(|stored| record_from_row(&stored, definitions))
        .transpose()?;
    stored.ok_or_else(|| not_read_back(&row.id)).map(Some)
}

/// Refuses `name` if an unrevoked key of `workspace` other than `except` has it. Run with the
/// workspace's naming lock held, in the transaction that then writes the name.
async fn check_name_free(
    tx: &Transaction<'_>,
    workspace: &Workspace,
    name: &KeyName,
    except: Option<&KeyId>,
) -> Result<(), StoreError> {
    let statement = tx.prepare_cached(NAME_IN_USE).await.map_err(unavailable)?;
    let taken: bool = tx
        .query_one(
            &statement,
            &[
                &workspace.as_str(),
                &name.as_str(),
                &except.map(KeyId::as_str),
            ],
        )
        .await
        .map_err(unavailable)?
        .get(0);
    if taken {
        Err(manage::name_taken(workspace, name))
    } else {
        Ok(())
    }
}

/// Refuses a plan name no plan has. Run in the transaction that then refers to it (plans are
/// never deleted, so it stays true until the write).
async fn check_plan(tx: &Transaction<'_>, name: Option<&PlanName>) -> Result<(), StoreError> {
    let Some(name) = name else {
        return Ok(());
    };
    let statement = tx.prepare_cached(PLAN_EXISTS).await.map_err(unavailable)?;
    let known: bool = tx
        .query_one(&statement, &[&name.as_str()])
        .await
        .map_err(unavailable)?
        .get(0);
    if known {
        Ok(())
    } else {
        Err(plans::unknown_plan(name))
    }
}

/// The key `id` of `workspace`, its row locked for the rest of `tx` (another workspace's key
/// is not found, as an unknown id).
async fn locked(
    tx: &Transaction<'_>,
    workspace: &Workspace,
    id: &KeyId,
    definitions: &Definitions,
) -> Result<KeyRecord, StoreError> {
    let select = tx
        .prepare_cached(GET_FOR_UPDATE)
        .await
        .map_err(unavailable)?;
    let row = tx
        .query_opt(&select, &[&id.as_str(), &workspace.as_str()])
        .await
        .map_err(unavailable)?
        .ok_or(StoreError::NotFound(*id))?;
    record_from_row(&row, definitions)
}

/// Runs `sql`, one of the notifying `UPDATE`s, on the key `id` whose row [`locked`] holds, and
/// returns the changed record.
async fn change(
    tx: &Transaction<'_>,
    id: &KeyId,
    sql: &'static str,
    params: &[&(dyn ToSql + Sync)],
    definitions: &Definitions,
) -> Result<KeyRecord, StoreError> {
    let statement = tx.prepare_cached(sql).await.map_err(unavailable)?;
    let row = tx
        .query_opt(&statement, params)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| not_read_back(id))?;
    record_from_row(&row, definitions)
}

/// The key `id`, just written in a transaction, does not read back in it: nothing is
/// committed.
fn not_read_back(id: &KeyId) -> StoreError {
    StoreError::Unavailable(format!("key {id} was written but does not read back").into())
}

impl PostgresKeyStore {
    /// A builder for a store on the database at `url`
    /// (`postgres://user:password@host:port/database?options`, or the key=value form).
    pub fn builder(url: &str) -> PostgresKeyStoreBuilder {
        PostgresKeyStoreBuilder::new(url)
    }

    /// A builder from connection settings made in code.
    pub fn builder_from_config(config: tokio_postgres::Config) -> PostgresKeyStoreBuilder {
        PostgresKeyStoreBuilder::with_config(Ok(config))
    }

    /// A store on the database at `url` with the default settings.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).build()
    }

    // The builder's settings, one by one: a private constructor with a single caller.
    #[allow(clippy::too_many_arguments)]
    fn start(
        pool: Pool,
        listen_config: tokio_postgres::Config,
        runtime: tokio::runtime::Handle,
        timeout: Duration,
        flush_interval: Duration,
        last_use_interval: Duration,
        prefix: KeyPrefix,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let (invalidations, _) = invalidation_channel();
        let shared = Arc::new_cyclic(|weak: &Weak<Shared>| {
            let flusher = runtime.spawn(flush_every(flush_interval, weak.clone()));
            Shared {
                pool,
                listen_config,
                runtime,
                timeout,
                prefix,
                clock,
                usage: UsageLog::new(last_use_interval),
                invalidations,
                listening: Arc::new(AtomicBool::new(false)),
                definitions: Definitions::new(),
                listener: OnceLock::new(),
                _flusher: AbortOnDrop(flusher),
            }
        });
        Self { shared }
    }

    /// Creates or updates the tables by applying the migrations shipped with the crate that
    /// this database has not seen yet. Safe to call on every start and from several instances
    /// at once (an advisory lock serialises them). Returns how many migrations it applied.
    ///
    /// Bounded by the configured timeout, but never less than 30 s.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let bound = self.shared.timeout.max(Duration::from_secs(30));
        let work = async {
            let mut client = self.shared.pool.get().await.map_err(unavailable)?;
            migrate::apply(&mut client).await.map_err(unavailable)
        };
        tokio::time::timeout(bound, work)
            .await
            .unwrap_or(Err(StoreError::Timeout(bound)))
    }

    /// Writes the last-use times noted since the last flush now, instead of waiting for the
    /// background task (e.g. before shutting down). Returns how many rows it wrote: a key
    /// whose last use is already written within the
    /// [last-use interval](PostgresKeyStoreBuilder::last_use_interval), by this instance or
    /// another, is not written again.
    pub async fn flush(&self) -> Result<usize, StoreError> {
        self.shared.flush_uses().await
    }

    /// Changes made by any instance, for a `CachedKeyStore` (feature `cache`) to act on.
    ///
    /// The first call starts a task that runs `LISTEN keygate_keys` on a connection of its own
    /// and reconnects with backoff (0.1 s doubling to 5 s) when it is lost. After every
    /// (re)connection it sends [`Invalidation::All`](crate::store::Invalidation::All), since
    /// notifications sent meanwhile are lost, then
    /// [`Connected`](crate::store::Invalidation::Connected) (a cache then keeps records for its
    /// listener TTL); on a loss, [`Disconnected`](crate::store::Invalidation::Disconnected) (back
    /// to the short TTL). A revocation arrives as
    /// [`Revoked`](crate::store::Invalidation::Revoked), so that caches refuse the key without
    /// reading it again; any other change of a key as
    /// [`Key`](crate::store::Invalidation::Key). Behind a pooler that does not carry `LISTEN`
    /// (PgBouncer in transaction mode) nothing arrives, and a cache's TTL is the bound, unless
    /// [`listen_url`](PostgresKeyStoreBuilder::listen_url) points the listener at the database.
    pub fn invalidations(&self) -> Invalidations {
        let shared = &self.shared;
        shared.listener.get_or_init(|| {
            let listener = Listener {
                config: shared.listen_config.clone(),
                sender: shared.invalidations.clone(),
                listening: Arc::clone(&shared.listening),
                timeout: shared.timeout,
            };
            AbortOnDrop(shared.runtime.spawn(listener.run()))
        });
        shared.invalidations.subscribe()
    }

    /// Whether the invalidation listener is connected and listening.
    pub fn is_listening(&self) -> bool {
        self.shared.listening.load(Ordering::SeqCst)
    }

    /// The prefix of the keys this store issues.
    pub fn prefix(&self) -> &KeyPrefix {
        &self.shared.prefix
    }

    fn now(&self) -> SystemTime {
        db_time(self.shared.clock.now())
    }
}

/// The last-use flush loop, until the store is dropped.
async fn flush_every(interval: Duration, shared: Weak<Shared>) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if shared.usage.len() == 0 {
            continue;
        }
        if let Err(error) = shared.flush_uses().await {
            tracing::warn!(%error, "could not write key last-use times; will retry");
        }
    }
}

impl KeyStore for PostgresKeyStore {
    type Future = BoxLookup;

    fn get(&self, id: &KeyId) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        let id = *id;
        Box::pin(async move { Ok(shared.get(id).await?.map(Arc::new)) })
    }

    /// One query by the unique index on `legacy_digest`, bounded as [`get`](Self::get) is.
    fn get_by_digest(&self, digest: &KeyDigest) -> Option<Self::Future> {
        let shared = Arc::clone(&self.shared);
        let digest = *digest;
        Some(Box::pin(async move {
            let params: [&(dyn ToSql + Sync); 1] = [&digest.as_bytes().as_slice()];
            let record = shared.record(GET_BY_DIGEST, &params).await?;
            Ok(record.map(Arc::new))
        }))
    }

    fn touch(&self, id: &KeyId) {
        self.shared.usage.record(id, self.shared.clock.coarse_now());
    }

    fn prefix(&self) -> KeyPrefix {
        self.shared.prefix.clone()
    }
}

#[async_trait]
impl KeyManager for PostgresKeyStore {
    async fn create_by(&self, actor: &Actor, new: NewKey) -> Result<CreatedKey, StoreError> {
        let now = self.now();
        new.validate(now)?;
        quota_columns(new.quota)?;
        // Stored with the database's precision, so that the answer matches later reads.
        let mut new = new;
        new.expires_at = new.expires_at.map(db_time);
        let own_plan = new.plan.as_ref();
        let definitions = &self.shared.definitions;
        loop {
            let (plaintext, record) = new.issue(&self.shared.prefix, now)?;
            let row = &record;
            // The name check and the insert in one transaction, under the workspace's naming
            // lock: another instance creating or renaming a key of this workspace waits.
            let inserted = self
                .shared
                .bounded(|mut client| async move {
                    let tx = client.transaction().await.map_err(unavailable)?;
                    lock_names(&tx, &row.workspace).await?;
                    check_name_free(&tx, &row.workspace, &row.name, None).await?;
                    check_plan(&tx, own_plan).await?;
                    let Some(stored) = insert(&tx, row, own_plan, definitions).await? else {
                        return Ok(None);
                    };
                    // The overrides must fit the plan it is on: its own, else its workspace's
                    // (else the transaction is rolled back).
                    manage::check_overrides(&stored.overrides, stored.plan.as_ref())?;
                    let event = AuditEvent::of(AuditAction::Create, actor, None, &stored, now);
                    audit::commit(tx, event).await?;
                    Ok(Some(stored))
                })
                .await?;
            // Nothing inserted: a 71-bit id collision, with a key or a deleted key. Draw again.
            if let Some(stored) = inserted {
                return Ok(CreatedKey {
                    plaintext,
                    info: KeyInfo::from(&stored),
                });
            }
        }
    }

    async fn info(&self, workspace: &Workspace, id: &KeyId) -> Result<KeyInfo, StoreError> {
        match self.shared.get_in(workspace, *id).await? {
            Some(record) => Ok(KeyInfo::from(&record)),
            None => Err(StoreError::NotFound(*id)),
        }
    }

    async fn list(&self, workspace: &Workspace) -> Result<Vec<KeyInfo>, StoreError> {
        self.shared
            .bounded(|client| async move {
                let statement = client.prepare_cached(LIST).await.map_err(unavailable)?;
                let rows = client
                    .query(&statement, &[&workspace.as_str()])
                    .await
                    .map_err(unavailable)?;
                let definitions = &self.shared.definitions;
                rows.iter()
                    .map(|row| record_from_row(row, definitions).map(|r| KeyInfo::from(&r)))
                    .collect()
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
        let definitions = &self.shared.definitions;
        let record = self
            .shared
            .bounded(|mut client| async move {
                let tx = client.transaction().await.map_err(unavailable)?;
                // Naming lock first, then the row: the order every call takes them in.
                if update.name.is_some() {
                    lock_names(&tx, workspace).await?;
                }
                let current = locked(&tx, workspace, id, definitions).await?;
                // Looked at only once the key is found: an unknown key is not found, whatever
                // its new name.
                if let Some(name) = update
                    .name
                    .as_ref()
                    .filter(|_| update.renames(&current.name))
                {
                    check_name_free(&tx, workspace, name, Some(id)).await?;
                }
                // Then the plan, before anything else is changed, as `MemoryKeyStore` does.
                if let Some(plan) = &update.plan {
                    check_plan(&tx, plan.as_ref()).await?;
                }
                let next = update.apply(&current, now)?;
                let (burst, interval) = quota_columns(next.quota)?;
                let plan = update
                    .plan
                    .as_ref()
                    .map(|p| p.as_ref().map(PlanName::as_str));
                let changed = change(
                    &tx,
                    id,
                    UPDATE,
                    &[
                        &id.as_str(),
                        &next.name.as_str(),
                        &next.scopes.to_string(),
                        &burst,
                        &interval,
                        &next.expires_at.map(db_time),
                        &next.metadata.as_json(),
                        &plan.is_some(),
                        &plan.flatten(),
                        &overrides_column(&next.overrides),
                        &allowed_ips_column(&next.allowed_ips),
                    ],
                    definitions,
                )
                .await?;
                // New overrides must fit the plan the key is now on; if not, nothing is
                // committed (and nothing notified).
                if update.overrides.is_some() {
                    manage::check_overrides(&changed.overrides, changed.plan.as_ref())?;
                }
                let event =
                    AuditEvent::of(AuditAction::Update, actor, Some(&current), &changed, now);
                audit::commit(tx, event).await?;
                Ok(changed)
            })
            .await?;
        Ok(KeyInfo::from(&record))
    }

    async fn revoke_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError> {
        let now = self.now();
        let params: [&(dyn ToSql + Sync); 3] = [&id.as_str(), &now, &workspace.as_str()];
        // Run (and notified) again for a revoked key, as ever: `COALESCE` keeps its time, and
        // the change changes nothing, so no event is written.
        let by = (actor, AuditAction::Revoke, now);
        let no_check = |_: &KeyRecord| Ok(());
        let record = self
            .shared
            .change_audited(by, workspace, id, no_check, (REVOKE, &params))
            .await?;
        Ok(KeyInfo::from(&record))
    }

    async fn rotate_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
        grace: Duration,
    ) -> Result<CreatedKey, StoreError> {
        let now = self.now();
        let generated = key::generate_for(&self.shared.prefix, *id).map_err(generation_failed)?;
        let valid_until = match grace {
            Duration::ZERO => None,
            grace => Some(db_time(now.checked_add(grace).ok_or_else(|| {
                StoreError::Invalid(format!("a grace period of {grace:?} is too long"))
            })?)),
        };
        let digest = generated.digest.as_bytes().as_slice();
        let params: [&(dyn ToSql + Sync); 4] =
            [&id.as_str(), &digest, &valid_until, &workspace.as_str()];
        let by = (actor, AuditAction::Rotate, now);
        // A revoked key is refused as every store refuses it.
        let rotatable =
            |current: &KeyRecord| manage::rotated(current, generated.digest, now, grace).map(drop);
        let record = self
            .shared
            .change_audited(by, workspace, id, rotatable, (ROTATE, &params))
            .await?;
        Ok(CreatedKey {
            plaintext: generated.plaintext,
            info: KeyInfo::from(&record),
        })
    }

    async fn audit(
        &self,
        workspace: &Workspace,
        query: &AuditQuery,
    ) -> Result<AuditPage, StoreError> {
        self.shared
            .bounded(|client| async move { audit::page(&client, workspace, query).await })
            .await
    }

    async fn list_page(
        &self,
        workspace: &Workspace,
        query: &KeyListQuery,
    ) -> Result<KeyPage, StoreError> {
        query.validate()?;
        let now = self.now();
        let after = query.after.as_ref();
        let created_after = after.map(KeyCursor::created_at);
        let id_after = after.map(KeyCursor::id);
        let id_after = id_after.as_ref().map(KeyId::as_str);
        let status = query.status.map(KeyStatus::as_str);
        let name_prefix = query.name_prefix.as_deref();
        // One more than a page: whether another page follows.
        let limit = i64::try_from(query.page_size() + 1).unwrap_or(i64::MAX);
        let definitions = &self.shared.definitions;
        let oldest_first = self
            .shared
            .bounded(|client| async move {
                let statement = client.prepare_cached(PAGE).await.map_err(unavailable)?;
                let params: [&(dyn ToSql + Sync); 7] = [
                    &workspace.as_str(),
                    &created_after,
                    &id_after,
                    &status,
                    &now,
                    &name_prefix,
                    &limit,
                ];
                let rows = client
                    .query(&statement, &params)
                    .await
                    .map_err(unavailable)?;
                rows.iter()
                    .map(|row| record_from_row(row, definitions).map(|r| KeyInfo::from(&r)))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        Ok(query.page(oldest_first))
    }

    async fn disable_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError> {
        let now = self.now();
        let params: [&(dyn ToSql + Sync); 3] = [&id.as_str(), &now, &workspace.as_str()];
        let by = (actor, AuditAction::Disable, now);
        // A revoked key is refused; a disabled one keeps its time, and no event is written.
        let disablable = |current: &KeyRecord| manage::disabled(current, now).map(drop);
        let record = self
            .shared
            .change_audited(by, workspace, id, disablable, (DISABLE, &params))
            .await?;
        Ok(KeyInfo::from(&record))
    }

    async fn enable_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError> {
        let now = self.now();
        let params: [&(dyn ToSql + Sync); 2] = [&id.as_str(), &workspace.as_str()];
        let by = (actor, AuditAction::Enable, now);
        // A revoked key is refused; an enabled one is left as it is, and no event is written.
        let enablable = |current: &KeyRecord| manage::enabled(current).map(drop);
        let record = self
            .shared
            .change_audited(by, workspace, id, enablable, (ENABLE, &params))
            .await?;
        Ok(KeyInfo::from(&record))
    }

    async fn delete_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError> {
        let now = self.now();
        let definitions = &self.shared.definitions;
        let record = self
            .shared
            .bounded(|mut client| async move {
                let tx = client.transaction().await.map_err(unavailable)?;
                let current = locked(&tx, workspace, id, definitions).await?;
                lock_id(&tx, id).await?;
                let statement = tx.prepare_cached(DELETE).await.map_err(unavailable)?;
                let deleted = tx
                    .execute(&statement, &[&id.as_str(), &workspace.as_str(), &now])
                    .await
                    .map_err(unavailable)?;
                if deleted != 1 {
                    return Err(StoreError::Unavailable(
                        format!("key {id} was locked but not deleted").into(),
                    ));
                }
                // The event shows the key as it was: its last name, and no field changed.
                let event =
                    AuditEvent::of(AuditAction::Delete, actor, Some(&current), &current, now);
                audit::commit(tx, event).await?;
                Ok(current)
            })
            .await?;
        Ok(KeyInfo::from(&record))
    }

    async fn import_by(&self, actor: &Actor, import: ImportKey) -> Result<KeyInfo, StoreError> {
        let now = self.now();
        let mut record = import.record(&self.shared.prefix, now)?;
        // Stored with the database's precision, so that the answer matches later reads.
        record.expires_at = record.expires_at.map(db_time);
        let row = &record;
        let own_plan = import.plan.as_ref();
        let definitions = &self.shared.definitions;
        let stored = self
            .shared
            .bounded(|mut client| async move {
                let tx = client.transaction().await.map_err(unavailable)?;
                lock_names(&tx, &row.workspace).await?;
                check_plan(&tx, own_plan).await?;
                if let Some(digest) = &row.legacy_digest {
                    check_digest_free(&tx, digest).await?;
                }
                check_name_free(&tx, &row.workspace, &row.name, None).await?;
                // The id's lock, then its check: a deletion of a key with this id has either
                // committed its tombstone, or not begun.
                lock_id(&tx, &row.id).await?;
                check_id_free(&tx, &row.id).await?;
                let stored = insert(&tx, row, own_plan, definitions)
                    .await?
                    .ok_or_else(|| id_taken(&row.id))?;
                let event = AuditEvent::of(AuditAction::Import, actor, None, &stored, now);
                audit::commit(tx, event).await?;
                Ok(stored)
            })
            .await?;
        Ok(KeyInfo::from(&stored))
    }
}

/// Plans are rows of `keygate_plans`; a lookup reads its key's plan in the same query. Every
/// change notifies the listened channel with `*`, so that every instance's cache forgets every
/// record (records carry their resolved plan).
#[async_trait]
impl PlanManager for PostgresKeyStore {
    async fn put_plan(&self, plan: Plan) -> Result<(), StoreError> {
        let definition = plan.to_json().to_string();
        self.shared
            .bounded(|client| async move {
                let statement = client.prepare_cached(PUT_PLAN).await.map_err(unavailable)?;
                client
                    .execute(&statement, &[&plan.name().as_str(), &definition])
                    .await
                    .map_err(unavailable)?;
                Ok(())
            })
            .await
    }

    async fn plans(&self) -> Result<Vec<Plan>, StoreError> {
        self.shared.plans(PLANS, &[]).await
    }

    async fn plan(&self, name: &PlanName) -> Result<Option<Plan>, StoreError> {
        Ok(self.shared.plans(PLAN, &[&name.as_str()]).await?.pop())
    }

    async fn set_workspace_plan(
        &self,
        workspace: &Workspace,
        plan: Option<PlanName>,
    ) -> Result<(), StoreError> {
        self.shared
            .bounded(|mut client| async move {
                let tx = client.transaction().await.map_err(unavailable)?;
                check_plan(&tx, plan.as_ref()).await?;
                let (sql, name) = match &plan {
                    Some(name) => (SET_WORKSPACE_PLAN, Some(name.as_str())),
                    None => (CLEAR_WORKSPACE_PLAN, None),
                };
                let statement = tx.prepare_cached(sql).await.map_err(unavailable)?;
                match name {
                    Some(name) => tx.execute(&statement, &[&workspace.as_str(), &name]).await,
                    None => tx.execute(&statement, &[&workspace.as_str()]).await,
                }
                .map_err(unavailable)?;
                tx.commit().await.map_err(unavailable)
            })
            .await
    }

    async fn workspace_plan(&self, workspace: &Workspace) -> Result<Option<PlanName>, StoreError> {
        let name: Option<String> = self
            .shared
            .bounded(|client| async move {
                let statement = client
                    .prepare_cached(WORKSPACE_PLAN)
                    .await
                    .map_err(unavailable)?;
                let row = client
                    .query_opt(&statement, &[&workspace.as_str()])
                    .await
                    .map_err(unavailable)?;
                row.map(|row| row.try_get(0).map_err(unavailable))
                    .transpose()
                    .map(Option::flatten)
            })
            .await?;
        name.map(|name| super::workspace_plan(workspace, &name))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_notifies_the_listened_channel() {
        let notify = format!("pg_notify('{}'", listener::CHANNEL);
        for sql in [INSERT, UPDATE, REVOKE, ROTATE, DISABLE, ENABLE, DELETE] {
            assert!(sql.contains(&notify), "{sql}");
        }
    }

    #[test]
    fn a_revocation_notifies_the_revoked_payload() {
        let notify = format!(
            "pg_notify('{}', '{}' || k.id)",
            listener::CHANNEL,
            listener::REVOKED
        );
        assert!(REVOKE.contains(&notify), "{REVOKE}");
        // A deleted key is forgotten, not kept as revoked: its id then reads as unknown.
        for sql in [INSERT, UPDATE, ROTATE, DISABLE, ENABLE, DELETE] {
            assert!(!sql.contains(listener::REVOKED), "{sql}");
        }
    }

    #[test]
    fn every_plan_change_tells_listeners_to_forget_every_key() {
        let notify = format!(
            "pg_notify('{}', '{}')",
            listener::CHANNEL,
            listener::EVERY_KEY
        );
        for sql in [PUT_PLAN, SET_WORKSPACE_PLAN, CLEAR_WORKSPACE_PLAN] {
            assert!(sql.contains(&notify), "{sql}");
        }
    }
}

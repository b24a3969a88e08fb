//! Databases made by older keygate versions opened by this one: keys from before workspaces
//! (schema version 1) land in the `default` workspace with empty metadata, keys from before
//! plans (version 2) are on no plan, keys from before overrides (version 3) keep their plan as
//! defined, and all keep authenticating; changes to them are audited from then on. Keys and
//! events from before the lifecycle (version 5) are enabled, listed a page at a time, and can
//! be disabled and deleted. Keys from before allowlists (version 6) may be used from anywhere
//! until given a list.

#![cfg(feature = "sqlite")]

mod common;
mod migration_common;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keygate::key::{self, KeyId, KeyPrefix};
use keygate::store::sqlite::SqliteKeyStore;

/// The schema of version 1 as keygate 0.1 created it (`migrations/sqlite/0001_keys.sql` and
/// the migrations table), copied here so that later edits to the shipped files cannot change
/// what this test starts from.
const SCHEMA_V1: &str = "
CREATE TABLE keygate_schema_migrations (
    version    INTEGER PRIMARY KEY,
    applied_at INTEGER
);
CREATE TABLE keygate_keys (
    id                   TEXT    PRIMARY KEY NOT NULL,
    name                 TEXT    NOT NULL,
    digest               BLOB    NOT NULL CHECK (length(digest) = 32),
    previous_digest      BLOB    CHECK (previous_digest IS NULL OR length(previous_digest) = 32),
    previous_valid_until INTEGER,
    scopes               TEXT    NOT NULL,
    quota_burst          INTEGER,
    quota_interval_us    INTEGER,
    created_at           INTEGER NOT NULL,
    expires_at           INTEGER,
    revoked_at           INTEGER,
    last_used_at         INTEGER,
    CHECK ((quota_burst IS NULL) = (quota_interval_us IS NULL)),
    CHECK ((previous_digest IS NULL) = (previous_valid_until IS NULL))
);
CREATE INDEX keygate_keys_created_at ON keygate_keys (created_at, name, id);
INSERT INTO keygate_schema_migrations (version, applied_at) VALUES (1, 0);
";

/// A version-1 database at `path`.
fn old_database(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL").unwrap();
    conn.execute_batch(SCHEMA_V1).unwrap();
    conn
}

fn micros(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH).unwrap().as_micros() as i64
}

/// Inserts a key named `name` the way keygate 0.1 did (its twelve columns, nothing else), and
/// returns its id and plaintext.
fn old_key(conn: &rusqlite::Connection, name: &str, scopes: &str) -> (KeyId, String) {
    let generated = key::generate(&KeyPrefix::default()).unwrap();
    conn.execute(
        "INSERT INTO keygate_keys (id, name, digest, previous_digest, previous_valid_until, \
         scopes, quota_burst, quota_interval_us, created_at, expires_at, revoked_at, \
         last_used_at) VALUES (?1, ?2, ?3, NULL, NULL, ?4, NULL, NULL, ?5, NULL, NULL, NULL)",
        rusqlite::params![
            generated.id.as_str(),
            name,
            &generated.digest.as_bytes()[..],
            scopes,
            micros(SystemTime::now() - Duration::from_secs(60)),
        ],
    )
    .unwrap();
    (generated.id, generated.plaintext.expose_secret().to_owned())
}

#[tokio::test]
async fn a_key_from_before_workspaces_authenticates_in_the_default_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let (id, plaintext) = old_key(&old_database(&path), "production-backend", "admin");

    let store = SqliteKeyStore::open(&path).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), 7);
    migration_common::old_key_lives_in_the_default_workspace(store, id, &plaintext).await;
}

#[tokio::test]
async fn unrevoked_keys_sharing_a_name_migrate_and_both_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let conn = old_database(&path);
    let first = old_key(&conn, "ci", "read:all");
    let second = old_key(&conn, "ci", "read:all,write:all");
    drop(conn);

    let store = SqliteKeyStore::open(&path).await.unwrap();
    migration_common::keys_sharing_a_name_keep_working(store, first, second).await;
}

/// What migration 2 (workspaces) added, as keygate 0.2 applied it
/// (`migrations/sqlite/0002_workspaces.sql`), copied for the same reason as [`SCHEMA_V1`].
const MIGRATION_2: &str = "
ALTER TABLE keygate_keys ADD COLUMN workspace TEXT NOT NULL DEFAULT 'default';
ALTER TABLE keygate_keys ADD COLUMN metadata  TEXT NOT NULL DEFAULT '{}';
DROP INDEX IF EXISTS keygate_keys_created_at;
CREATE INDEX keygate_keys_workspace_created_at ON keygate_keys (workspace, created_at, name, id);
CREATE INDEX keygate_keys_workspace_name ON keygate_keys (workspace, name) WHERE revoked_at IS NULL;
INSERT INTO keygate_schema_migrations (version, applied_at) VALUES (2, 0);
";

#[tokio::test]
async fn a_key_from_before_plans_is_on_no_plan_keeps_working_and_can_be_put_on_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let conn = old_database(&path);
    conn.execute_batch(MIGRATION_2).unwrap();
    let (id, plaintext) = old_key(&conn, "production-backend", "admin");
    drop(conn);

    let store = SqliteKeyStore::open(&path).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), 7);
    migration_common::old_key_is_on_no_plan_until_put_on_one(store, id, &plaintext).await;
}

/// What migration 3 (plans) added, as keygate applied it (`migrations/sqlite/0003_plans.sql`),
/// copied for the same reason as [`SCHEMA_V1`].
const MIGRATION_3: &str = "
CREATE TABLE keygate_plans (
    name       TEXT PRIMARY KEY NOT NULL,
    definition TEXT NOT NULL
);
CREATE TABLE keygate_workspaces (
    workspace TEXT PRIMARY KEY NOT NULL,
    plan      TEXT NULL REFERENCES keygate_plans (name)
);
ALTER TABLE keygate_keys ADD COLUMN plan TEXT NULL REFERENCES keygate_plans (name);
INSERT INTO keygate_schema_migrations (version, applied_at) VALUES (3, 0);
INSERT INTO keygate_plans (name, definition) VALUES ('trial',
    '{\"name\": \"trial\", \"limits\": [{\"name\": \"daily\", \"quota\": {\"max\": 5, \"period\": \"day\"}}]}');
";

#[tokio::test]
async fn a_key_from_before_overrides_keeps_its_plan_and_can_be_given_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let conn = old_database(&path);
    conn.execute_batch(MIGRATION_2).unwrap();
    conn.execute_batch(MIGRATION_3).unwrap();
    let (id, plaintext) = old_key(&conn, "production-backend", "admin");
    conn.execute(
        "UPDATE keygate_keys SET plan = 'trial' WHERE id = ?1",
        [id.as_str()],
    )
    .unwrap();
    drop(conn);

    let store = SqliteKeyStore::open(&path).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), 7);
    migration_common::old_key_keeps_its_plan_and_can_be_given_overrides(store, id, &plaintext)
        .await;
}

#[tokio::test]
async fn a_database_from_before_the_audit_log_records_changes_from_then_on() {
    use keygate::audit::{Actor, AuditAction, AuditQuery};
    use keygate::{KeyManager, Workspace};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let (id, _) = old_key(&old_database(&path), "production-backend", "admin");

    let store = SqliteKeyStore::open(&path).await.unwrap();
    let ops = Actor::cli("ops");
    store
        .revoke_by(&ops, &Workspace::default(), &id)
        .await
        .unwrap();
    let page = store
        .audit(&Workspace::default(), &AuditQuery::new())
        .await
        .unwrap();
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].action, AuditAction::Revoke);
    assert_eq!(page.events[0].actor, ops);
    assert_eq!(page.events[0].key_id, id);
}

/// What migration 4 (overrides) added, as keygate applied it
/// (`migrations/sqlite/0004_overrides.sql`), copied for the same reason as [`SCHEMA_V1`].
const MIGRATION_4: &str = "
ALTER TABLE keygate_keys ADD COLUMN overrides TEXT NULL;
INSERT INTO keygate_schema_migrations (version, applied_at) VALUES (4, 0);
";

/// What migration 5 (the audit log) added, as keygate applied it
/// (`migrations/sqlite/0005_audit.sql`), copied for the same reason as [`SCHEMA_V1`].
const MIGRATION_5: &str = "
CREATE TABLE keygate_audit (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at_us        INTEGER NOT NULL,
    workspace    TEXT    NOT NULL,
    actor_kind   TEXT    NOT NULL,
    actor_key_id TEXT    NULL,
    actor_name   TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    key_id       TEXT    NOT NULL,
    key_name     TEXT    NOT NULL,
    changes      TEXT    NOT NULL
);
CREATE INDEX keygate_audit_workspace ON keygate_audit (workspace, id);
CREATE INDEX keygate_audit_key ON keygate_audit (workspace, key_id, id);
INSERT INTO keygate_schema_migrations (version, applied_at) VALUES (5, 0);
";

/// A version-5 database at `path` holding one key, `production-backend` (scope `admin`), and
/// the event of an update to it by `cli:ops` as version 5 wrote it; returns the key's id and
/// plaintext.
fn version_5_database(path: &Path) -> (KeyId, String) {
    let conn = old_database(path);
    for migration in [MIGRATION_2, MIGRATION_3, MIGRATION_4, MIGRATION_5] {
        conn.execute_batch(migration).unwrap();
    }
    let (id, plaintext) = old_key(&conn, "production-backend", "admin");
    conn.execute(
        "INSERT INTO keygate_audit (at_us, workspace, actor_kind, actor_key_id, actor_name, \
         action, key_id, key_name, changes) VALUES (1000000, 'default', 'cli', NULL, 'ops', \
         'update', ?1, 'production-backend', '[]')",
        [id.as_str()],
    )
    .unwrap();
    (id, plaintext)
}

#[tokio::test]
async fn keys_and_events_from_before_the_lifecycle_are_enabled_listed_and_read() {
    use keygate::audit::{Actor, AuditAction, AuditQuery};
    use keygate::store::KeyListQuery;
    use keygate::{KeyManager, KeyStatus, Workspace};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let (id, plaintext) = version_5_database(&path);

    let store = SqliteKeyStore::open(&path).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), 7);
    migration_common::authenticates(store.clone(), &plaintext).await;
    let default = Workspace::default();
    let active = KeyListQuery::new().status(KeyStatus::Active);
    let page = store.list_page(&default, &active).await.unwrap();
    assert_eq!(page.keys.iter().map(|k| k.id).collect::<Vec<_>>(), [id]);
    assert_eq!(page.keys[0].disabled_at, None);
    let events = store
        .audit(&default, &AuditQuery::new())
        .await
        .unwrap()
        .events;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (&events[0].actor, events[0].action),
        (&Actor::cli("ops"), AuditAction::Update)
    );
}

#[tokio::test]
async fn a_key_from_before_the_lifecycle_can_be_disabled_enabled_and_deleted_for_good() {
    use keygate::{KeyManager, KeyStore, NewKey, Workspace};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let (id, plaintext) = version_5_database(&path);

    let store = SqliteKeyStore::open(&path).await.unwrap();
    let default = Workspace::default();
    let disabled = store.disable(&default, &id).await.unwrap();
    assert!(disabled.disabled_at.is_some());
    store.enable(&default, &id).await.unwrap();
    migration_common::authenticates(store.clone(), &plaintext).await;
    store.delete(&default, &id).await.unwrap();
    drop(store);

    let store = SqliteKeyStore::open(&path).await.unwrap();
    assert!(store.get(&id).await.unwrap().is_none());
    // Its name is free again.
    let new = NewKey::new(
        "production-backend".parse().unwrap(),
        "admin".parse().unwrap(),
    );
    store.create(new).await.unwrap();
}

#[tokio::test]
async fn a_key_from_before_allowlists_is_allowed_anywhere_until_given_a_list() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let (id, plaintext) = version_5_database(&path);

    let store = SqliteKeyStore::open(&path).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), 7);
    migration_common::old_key_is_allowed_anywhere_until_given_a_list(store, id, &plaintext).await;
}

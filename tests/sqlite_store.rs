//! `SqliteKeyStore` as a service uses it: keys and their history survive a restart, the schema
//! is migrated once, a damaged database is a 503, never a 401, and a change whose audit event
//! cannot be written is not made (a deletion included).

#![cfg(feature = "sqlite")]

mod common;
mod conformance;

use keygate::Workspace;
use std::path::Path;
use std::time::Duration;

use common::*;
use http::StatusCode;
use keygate::key::KeyPrefix;
use keygate::store::sqlite::SqliteKeyStore;
use keygate::{ApiKeyLayer, KeyManager, MemoryRateLimiter, NewKey};
use tower::service_fn;
use tower::util::BoxCloneService;

fn service(store: SqliteKeyStore) -> Svc {
    let layer = ApiKeyLayer::builder(store, MemoryRateLimiter::new()).build();
    BoxCloneService::new(
        tower::ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(echo)),
    )
}

async fn open(path: &Path) -> SqliteKeyStore {
    SqliteKeyStore::open(path).await.unwrap()
}

async fn create(store: &SqliteKeyStore, name: &str, scopes: &str) -> (keygate::key::KeyId, String) {
    let created = store
        .create(NewKey::new(name.parse().unwrap(), scopes.parse().unwrap()))
        .await
        .unwrap();
    (
        created.info.id,
        created.plaintext.expose_secret().to_owned(),
    )
}

#[tokio::test]
async fn key_created_before_a_restart_still_verifies_through_the_layer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let store = open(&path).await;
    let (_, key) = create(&store, "production-backend", "admin").await;
    drop(store);

    let svc = service(open(&path).await);
    let answer = send(&svc, with_key(get("/v1/records"), &key)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body, "production-backend admin");
}

#[tokio::test]
async fn revocation_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let store = open(&path).await;
    let (id, key) = create(&store, "ci-pipeline", "read:all").await;
    store.revoke(&Workspace::default(), &id).await.unwrap();
    drop(store);

    let svc = service(open(&path).await);
    let answer = send(&svc, with_key(get("/v1/records"), &key)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.code(), "revoked_api_key");
}

#[tokio::test]
async fn last_use_recorded_before_a_drop_is_written_and_survives_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    // An interval far longer than the test: only the flush on drop can write the use.
    let store = SqliteKeyStore::builder(&path)
        .flush_interval(Duration::from_secs(3600))
        .open()
        .await
        .unwrap();
    let (id, key) = create(&store, "local-dev", "read:all").await;
    let svc = service(store.clone());
    assert_eq!(
        send(&svc, with_key(get("/v1/records"), &key)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        store
            .info(&Workspace::default(), &id)
            .await
            .unwrap()
            .last_used_at,
        None
    );
    drop(svc);
    drop(store);

    let reopened = open(&path).await;
    assert!(
        reopened
            .info(&Workspace::default(), &id)
            .await
            .unwrap()
            .last_used_at
            .is_some()
    );
}

#[tokio::test]
async fn flush_writes_pending_uses_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteKeyStore::builder(dir.path().join("keys.db"))
        .flush_interval(Duration::from_secs(3600))
        .open()
        .await
        .unwrap();
    let (id, _) = create(&store, "local-dev", "read:all").await;
    keygate::KeyStore::touch(&store, &id);
    assert_eq!(
        store
            .info(&Workspace::default(), &id)
            .await
            .unwrap()
            .last_used_at,
        None
    );
    store.flush().await.unwrap();
    assert!(
        store
            .info(&Workspace::default(), &id)
            .await
            .unwrap()
            .last_used_at
            .is_some()
    );
}

#[tokio::test]
async fn reopening_applies_each_migration_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    // One migration per file shipped in migrations/sqlite, numbered from 1.
    let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .filter(|file| {
            file.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|ext| ext == "sql")
        })
        .count() as i64;
    assert_eq!(open(&path).await.schema_version().await.unwrap(), shipped);
    assert_eq!(open(&path).await.schema_version().await.unwrap(), shipped);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let applied: i64 = conn
        .query_row("SELECT COUNT(*) FROM keygate_schema_migrations", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(applied, shipped);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn database_from_a_newer_keygate_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    drop(open(&path).await);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO keygate_schema_migrations (version, applied_at) VALUES (99, 0)",
            [],
        )
        .unwrap();
    let error = SqliteKeyStore::open(&path).await.unwrap_err();
    assert!(error.is_unavailable());
    assert!(error.to_string().contains("upgrade keygate"), "{error}");
}

#[tokio::test]
async fn a_corrupt_row_is_a_503_not_a_401() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let store = open(&path).await;
    let (id, key) = create(&store, "ci-pipeline", "read:all").await;
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE keygate_keys SET scopes = 'root:everything' WHERE id = ?1",
            [id.as_str()],
        )
        .unwrap();
    let answer = send(&service(store), with_key(get("/v1/records"), &key)).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.code(), "auth_unavailable");
}

#[tokio::test]
async fn a_database_that_cannot_be_opened_is_reported_as_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let error = SqliteKeyStore::open(dir.path().join("missing-dir").join("keys.db"))
        .await
        .unwrap_err();
    assert!(error.is_unavailable());
    assert!(error.to_string().contains("missing-dir"), "{error}");
}

#[tokio::test]
async fn keys_carry_the_configured_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteKeyStore::builder(dir.path().join("keys.db"))
        .prefix(KeyPrefix::new("acme").unwrap())
        .open()
        .await
        .unwrap();
    let (_, key) = create(&store, "production-backend", "admin").await;
    assert!(key.starts_with("acme_"), "{key}");
    let answer = send(&service(store), with_key(get("/v1/records"), &key)).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_are_answered_while_a_write_waits_for_another_process_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let store = SqliteKeyStore::builder(&path)
        .busy_timeout(Duration::from_secs(60))
        .open()
        .await
        .unwrap();
    let (id, _) = create(&store, "ci-pipeline", "read:all").await;

    // Another process (say, the CLI) holds the write lock.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let writer = store.clone();
    let revoke = tokio::spawn(async move { writer.revoke(&Workspace::default(), &id).await });

    // A hang detector, not a speed check: the write above waits up to a minute.
    let looked_up =
        tokio::time::timeout(Duration::from_secs(20), keygate::KeyStore::get(&store, &id))
            .await
            .expect("the lookup does not queue behind the waiting write")
            .unwrap()
            .unwrap();
    assert!(looked_up.revoked_at.is_none());

    other.execute_batch("COMMIT").unwrap();
    let revoked = revoke.await.unwrap().unwrap();
    assert!(revoked.revoked_at.is_some());
}

#[tokio::test]
async fn an_in_memory_database_serves_the_whole_lifecycle() {
    let store = SqliteKeyStore::open(":memory:").await.unwrap();
    let (id, key) = create(&store, "local-dev", "read:all").await;
    let svc = service(store.clone());
    assert_eq!(
        send(&svc, with_key(get("/v1/records"), &key)).await.status,
        StatusCode::OK
    );
    store.revoke(&Workspace::default(), &id).await.unwrap();
    let answer = send(&svc, with_key(get("/v1/records"), &key)).await;
    assert_eq!(answer.code(), "revoked_api_key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_beyond_the_lookup_queue_is_answered_503_at_once_and_the_rest_200() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let store = SqliteKeyStore::builder(&path)
        .queue_capacity(1)
        .open()
        .await
        .unwrap();
    let (_, key) = create(&store, "ci-pipeline", "read:all").await;
    let mut svc = service(store);
    // 64 requests handed to the layer at once: each asks the store in `call`, long before the
    // reader's thread has answered the first.
    let pending: Vec<_> = (0..64)
        .map(|_| tower::Service::call(&mut svc, with_key(get("/v1/records"), &key)))
        .collect();
    let mut ok = 0;
    let mut unavailable = 0;
    for response in pending {
        // A hang detector, not a speed check.
        let response = tokio::time::timeout(Duration::from_secs(20), response)
            .await
            .expect("an answer, not a place in an unbounded queue")
            .unwrap();
        match response.status() {
            StatusCode::OK => ok += 1,
            StatusCode::SERVICE_UNAVAILABLE => unavailable += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(ok >= 1, "the queued lookups are answered");
    assert!(unavailable >= 1, "{ok} answered 200: nothing was refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_create_a_name_only_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    conformance::store::two_stores_create_a_name_only_once(open(&path).await, open(&path).await)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_rename_to_a_name_only_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    conformance::store::two_stores_rename_to_a_name_only_once(open(&path).await, open(&path).await)
        .await;
}

/// Makes every later write to the audit log fail, as a full disk or a broken table would.
fn break_the_audit_log(path: &Path) {
    rusqlite::Connection::open(path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER keygate_audit_broken BEFORE INSERT ON keygate_audit \
             BEGIN SELECT RAISE(ABORT, 'the audit log cannot be written'); END;",
        )
        .unwrap();
}

/// A store on `path` holding one key, `ci` (its id and plaintext), whose audit log then
/// cannot be written.
async fn a_key_and_a_broken_audit_log(
    path: &Path,
) -> (SqliteKeyStore, keygate::key::KeyId, String) {
    let store = open(path).await;
    let (id, key) = create(&store, "ci", "read:all").await;
    break_the_audit_log(path);
    (store, id, key)
}

/// Asserts that a change was `refused` as the backend failing (503, never 401) and that `key`
/// still authenticates through the layer on `store`.
async fn refused_and_the_key_still_works<T: std::fmt::Debug>(
    refused: Result<T, keygate::StoreError>,
    store: SqliteKeyStore,
    key: &str,
) {
    assert!(
        matches!(refused, Err(keygate::StoreError::Unavailable(_))),
        "{refused:?}"
    );
    let answer = send(&service(store), with_key(get("/v1/records"), key)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

#[tokio::test]
async fn a_revocation_whose_audit_event_cannot_be_written_is_not_made() {
    let dir = tempfile::tempdir().unwrap();
    let (store, id, key) = a_key_and_a_broken_audit_log(&dir.path().join("keys.db")).await;

    let refused = store.revoke(&Workspace::default(), &id).await;
    let info = store.info(&Workspace::default(), &id).await.unwrap();
    assert_eq!(info.revoked_at, None);
    refused_and_the_key_still_works(refused, store, &key).await;
}

#[tokio::test]
async fn a_key_whose_creation_event_cannot_be_written_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let store = open(&path).await;
    break_the_audit_log(&path);

    let new = NewKey::new("ci".parse().unwrap(), "read:all".parse().unwrap());
    assert!(store.create(new).await.is_err());
    assert!(store.list(&Workspace::default()).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_deletion_whose_audit_event_cannot_be_written_is_not_made() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let (store, id, key) = a_key_and_a_broken_audit_log(&path).await;

    let refused = store.delete(&Workspace::default(), &id).await;
    let info = store.info(&Workspace::default(), &id).await.unwrap();
    assert_eq!(info.name.as_str(), "ci");
    let tombstones: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM keygate_deleted_keys", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(tombstones, 0, "no tombstone without the deletion");
    refused_and_the_key_still_works(refused, store, &key).await;
}

#[tokio::test]
async fn an_imported_foreign_key_is_found_by_its_digest_after_a_restart() {
    use keygate::KeyStore;
    use keygate::key::{ApiKey, KeyDigest};
    use keygate::store::{ImportKey, ImportedSecret};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let token = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
    let store = open(&path).await;
    let import = ImportKey::new(
        ImportedSecret::Plaintext(ApiKey::from_plaintext(token)),
        "billing-legacy".parse().unwrap(),
        "read:all".parse().unwrap(),
    );
    let imported = store.import(import).await.unwrap();
    drop(store);

    let store = open(&path).await;
    let digest = KeyDigest::of_secret(token.as_bytes());
    let found = store
        .get_by_digest(&digest)
        .expect("the store keeps imported keys")
        .await
        .unwrap()
        .expect("found by the digest of its whole token");
    assert_eq!(found.id, imported.id);
    assert_eq!(found.name.as_str(), "billing-legacy");
    assert_eq!(found.legacy_digest, Some(digest));
    assert_eq!(found.digest, digest);
}

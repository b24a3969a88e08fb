//! The conformance suite against PostgreSQL, and what is particular to it: migrations,
//! batched last-use writes, bounded failures.

mod common;
mod conformance;
mod postgres_common;

use keygate::Workspace;
use std::time::Duration;

use conformance::store::unique_workspace;
use keygate::audit::{Actor, AuditQuery};
use keygate::key::{self, ApiKey, KeyDigest, KeyId, KeyPrefix};
use keygate::store::postgres::PostgresKeyStore;
use keygate::store::{ImportKey, ImportedSecret, Invalidation};
use keygate::{KeyManager, KeyStore, KeyUpdate, NewKey, PlanManager, StoreError};

mod store {
    use super::*;
    store_conformance!(postgres_common::store());
}

mod plans {
    use super::*;
    plan_conformance!(postgres_common::store());
}

fn new_key(name: &str) -> NewKey {
    let unique = KeyId::random().unwrap().as_str().to_ascii_lowercase();
    NewKey::new(
        format!("{name}-{unique}").parse().unwrap(),
        "read:all".parse().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_again_applies_nothing_and_keeps_the_keys() {
    let Some(store) = postgres_common::store().await else {
        return;
    };
    let id = store.create(new_key("kept")).await.unwrap().info.id;
    assert_eq!(store.migrate().await.unwrap(), 0);
    assert_eq!(store.migrate().await.unwrap(), 0);
    assert!(store.get(&id).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_uses_are_written_in_one_flush_and_shown_by_info() {
    let Some(builder) = postgres_common::builder() else {
        return;
    };
    // No background flush during the test: only the explicit one writes.
    let store = builder
        .flush_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    store.migrate().await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(store.create(new_key("busy")).await.unwrap().info.id);
    }
    for _ in 0..200 {
        for id in &ids {
            store.touch(id);
        }
    }
    for id in &ids {
        assert_eq!(
            store
                .info(&Workspace::default(), id)
                .await
                .unwrap()
                .last_used_at,
            None
        );
    }
    assert_eq!(
        store.flush().await.unwrap(),
        3,
        "one row per key, in one batch"
    );
    for id in &ids {
        assert!(
            store
                .info(&Workspace::default(), id)
                .await
                .unwrap()
                .last_used_at
                .is_some()
        );
    }
    assert_eq!(store.flush().await.unwrap(), 0, "nothing left to write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_flush_never_moves_the_last_use_backwards() {
    let Some(builder) = postgres_common::builder() else {
        return;
    };
    // Every use written: no last-use interval.
    let store = builder.last_use_interval(Duration::ZERO).build().unwrap();
    store.migrate().await.unwrap();
    let id = store.create(new_key("late")).await.unwrap().info.id;
    store.touch(&id);
    store.flush().await.unwrap();
    let first = store
        .info(&Workspace::default(), &id)
        .await
        .unwrap()
        .last_used_at
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    store.touch(&id);
    store.flush().await.unwrap();
    let second = store
        .info(&Workspace::default(), &id)
        .await
        .unwrap()
        .last_used_at
        .unwrap();
    assert!(second > first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_keys_carry_the_configured_prefix() {
    let Some(builder) = postgres_common::builder() else {
        return;
    };
    let acme: KeyPrefix = "acme".parse().unwrap();
    let store = builder.prefix(acme.clone()).build().unwrap();
    store.migrate().await.unwrap();
    let created = store.create(new_key("acme")).await.unwrap();
    let parsed = key::parse(created.plaintext.expose_secret(), &acme).unwrap();
    assert_eq!(parsed.id(), created.info.id);
    let rotated = store
        .rotate(&Workspace::default(), &created.info.id, Duration::ZERO)
        .await
        .unwrap();
    assert!(key::parse(rotated.plaintext.expose_secret(), &acme).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_is_announced_to_listeners() {
    let Some(store) = postgres_common::store().await else {
        return;
    };
    let mut invalidations = store.invalidations();
    postgres_common::until_listening(&store).await;
    let id = store.create(new_key("announced")).await.unwrap().info.id;
    store
        .rotate(&Workspace::default(), &id, Duration::ZERO)
        .await
        .unwrap();
    store.revoke(&Workspace::default(), &id).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let next = tokio::time::timeout(Duration::from_secs(10), invalidations.recv())
            .await
            .expect("an invalidation within 10 s")
            .expect("the channel stays open");
        if matches!(next, Invalidation::Key(of) | Invalidation::Revoked(of) if of == id) {
            seen.push(next);
        }
    }
    // A revocation says so: caches keep the key as revoked instead of asking again.
    assert_eq!(
        seen,
        [
            Invalidation::Key(id),
            Invalidation::Key(id),
            Invalidation::Revoked(id)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_with_an_endless_grace_is_refused_not_a_panic() {
    let Some(store) = postgres_common::store().await else {
        return;
    };
    let id = store.create(new_key("endless")).await.unwrap().info.id;
    let refused = store
        .rotate(&Workspace::default(), &id, Duration::MAX)
        .await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    assert!(store.get(&id).await.unwrap().unwrap().previous.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_database_is_unavailable_not_unknown() {
    // Port 1 on loopback: nothing listens, the connection is refused.
    let store = PostgresKeyStore::builder("postgres://keygate@127.0.0.1:1/keygate")
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let error = store.get(&KeyId::random().unwrap()).await.unwrap_err();
    assert!(error.is_unavailable(), "{error:?}");
    let error = store.create(new_key("nowhere")).await.unwrap_err();
    assert!(error.is_unavailable(), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_that_never_answers_times_out_instead_of_hanging() {
    let timeout = Duration::from_millis(300);
    let (store, held) = silent_database(timeout).await;
    bounded(timeout, store.get(&KeyId::random().unwrap())).await;
    held.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_connects_where_listen_url_points() {
    let Some(url) = conformance::backend_url("KEYGATE_TEST_POSTGRES_URL") else {
        return;
    };
    // The pool points nowhere; only the listener can reach the database.
    let store = PostgresKeyStore::builder("postgres://keygate@127.0.0.1:1/keygate")
        .listen_url(&url)
        .build()
        .unwrap();
    let _invalidations = store.invalidations();
    postgres_common::until_listening(&store).await;
}

#[tokio::test]
async fn malformed_connection_string_is_refused_when_building() {
    let built = PostgresKeyStore::builder("postgres://[not a host").build();
    assert!(matches!(built, Err(StoreError::Invalid(_))));
    let built = PostgresKeyStore::builder("postgres://keygate@127.0.0.1/keygate")
        .listen_url("postgres://[not a host")
        .build();
    assert!(matches!(built, Err(StoreError::Invalid(_))));
}

#[test]
fn building_outside_a_runtime_is_refused() {
    let built = PostgresKeyStore::builder("postgres://keygate@127.0.0.1/keygate").build();
    assert!(matches!(built, Err(StoreError::Invalid(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_create_a_name_only_once() {
    if let (Some(a), Some(b)) = (
        postgres_common::store().await,
        postgres_common::store().await,
    ) {
        conformance::store::two_stores_create_a_name_only_once(a, b).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_rename_to_a_name_only_once() {
    if let (Some(a), Some(b)) = (
        postgres_common::store().await,
        postgres_common::store().await,
    ) {
        conformance::store::two_stores_rename_to_a_name_only_once(a, b).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_waiting_for_its_workspaces_naming_lock_is_bounded_and_other_workspaces_go_on() {
    let Some(builder) = postgres_common::builder() else {
        return;
    };
    let Some(url) = conformance::backend_url("KEYGATE_TEST_POSTGRES_URL") else {
        return;
    };
    let timeout = Duration::from_millis(300);
    let waiting = builder.timeout(timeout).build().unwrap();
    waiting.migrate().await.unwrap();
    let other = postgres_common::store().await.unwrap();
    let acme = conformance::store::unique_workspace("acme");
    let globex = conformance::store::unique_workspace("globex");
    let new = |workspace: &Workspace| {
        NewKey::new("ci".parse().unwrap(), "read:all".parse().unwrap()).workspace(workspace.clone())
    };

    // Another instance is in the middle of creating a key of acme: it holds acme's naming lock.
    let holder = postgres_common::connect(&url.parse().unwrap()).await;
    holder.batch_execute("BEGIN").await.unwrap();
    holder
        .execute(
            "SELECT pg_advisory_xact_lock(1801812327, hashtext($1))",
            &[&acme.as_str()],
        )
        .await
        .unwrap();

    // Another workspace's names are not held up.
    let elsewhere = tokio::time::timeout(Duration::from_secs(10), other.create(new(&globex)))
        .await
        .expect("an answer, not a hang");
    assert!(elsewhere.is_ok(), "{elsewhere:?}");
    // acme's create waits for the lock, within the store's timeout.
    let answer = tokio::time::timeout(Duration::from_secs(10), waiting.create(new(&acme)))
        .await
        .expect("an answer, not a hang");
    assert!(
        matches!(answer, Err(StoreError::Timeout(t)) if t == timeout),
        "{answer:?}"
    );

    holder.batch_execute("COMMIT").await.unwrap();
    assert!(
        other.list(&acme).await.unwrap().is_empty(),
        "nothing stored"
    );
    other.create(new(&acme)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_calls_to_a_database_that_never_answers_time_out_instead_of_hanging() {
    let timeout = Duration::from_millis(300);
    let (store, held) = silent_database(timeout).await;
    let trial = conformance::plans::daily(&conformance::plans::unique_plan("trial"), 5);
    let workspace = Workspace::default();
    bounded(timeout, store.put_plan(trial.clone())).await;
    bounded(timeout, store.plans()).await;
    bounded(timeout, store.plan(trial.name())).await;
    bounded(
        timeout,
        store.set_workspace_plan(&workspace, Some(trial.name().clone())),
    )
    .await;
    bounded(timeout, store.workspace_plan(&workspace)).await;
    held.abort();
}

/// Asserts `call` fails with the store's `timeout` well within twenty times it.
async fn bounded<T: std::fmt::Debug>(
    timeout: Duration,
    call: impl std::future::Future<Output = Result<T, StoreError>>,
) {
    let answer = tokio::time::timeout(timeout * 20, call)
        .await
        .expect("an answer, not a hang");
    assert!(
        matches!(answer, Err(StoreError::Timeout(t)) if t == timeout),
        "{answer:?}"
    );
}

/// A store bounded by `timeout` on a loopback socket that accepts connections and never says a
/// word, and the task holding them (abort it at the end).
async fn silent_database(timeout: Duration) -> (PostgresKeyStore, tokio::task::JoinHandle<()>) {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let store = PostgresKeyStore::builder(&format!("postgres://keygate@127.0.0.1:{port}/keygate"))
        .timeout(timeout)
        .build()
        .unwrap();
    (store, held)
}

/// From now on the log of `schema` refuses every event.
async fn close_the_log(schema: &postgres_common::PrivateSchema) {
    schema
        .client
        .batch_execute("ALTER TABLE keygate_audit ADD CONSTRAINT closed CHECK (false) NOT VALID")
        .await
        .unwrap();
}

/// A migrated store on a schema of its own (dropped with the guard).
async fn private_store() -> Option<(postgres_common::PrivateSchema, PostgresKeyStore)> {
    let schema = postgres_common::PrivateSchema::create().await?;
    let store = schema.store();
    store.migrate().await.unwrap();
    Some((schema, store))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_row_that_does_not_read_back_is_unavailable_naming_its_column() {
    let Some((schema, store)) = private_store().await else {
        return;
    };
    let actor = Actor::cli("alice");
    let damages = [
        ("actor_kind = 'robot'", "actor_kind"),
        ("actor_key_id = 'not an id'", "actor_key_id"),
        ("action = 'purge'", "action"),
        ("changes = '{\"field\": \"scopes\"}'", "changes"),
        ("key_name = ''", "key_name"),
    ];
    for (set, column) in damages {
        let id = store.create_by(&actor, new_key("damaged")).await.unwrap();
        let id = id.info.id;
        let sql = format!("UPDATE keygate_audit SET {set} WHERE key_id = $1");
        schema.client.execute(&sql, &[&id.as_str()]).await.unwrap();
        let only_its_key = AuditQuery::new().key(id);
        let read = store.audit(&Workspace::default(), &only_its_key).await;
        let error = read.unwrap_err();
        assert!(error.is_unavailable(), "{error:?}");
        assert!(error.to_string().contains(column), "{set}: {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_whose_event_cannot_be_written_is_not_made() {
    let Some((schema, store)) = private_store().await else {
        return;
    };
    let actor = Actor::cli("alice");
    let id = store
        .create_by(&actor, new_key("kept"))
        .await
        .unwrap()
        .info
        .id;
    let workspace = Workspace::default();
    let before = store.get(&id).await.unwrap().unwrap();
    close_the_log(&schema).await;

    let created = store.create_by(&actor, new_key("unlogged")).await;
    assert!(created.is_err(), "{created:?}");
    let scopes = KeyUpdate::new().scopes("admin".parse().unwrap());
    let updated = store.update_by(&actor, &workspace, &id, scopes).await;
    assert!(updated.is_err(), "{updated:?}");
    let rotated = store
        .rotate_by(&actor, &workspace, &id, Duration::from_secs(60))
        .await;
    assert!(rotated.is_err(), "{rotated:?}");
    let revoked = store.revoke_by(&actor, &workspace, &id).await;
    assert!(revoked.is_err(), "{revoked:?}");

    let listed = store.list(&workspace).await.unwrap();
    assert_eq!(listed.len(), 1, "no key made: {listed:#?}");
    let after = store.get(&id).await.unwrap().unwrap();
    assert_eq!(after.scopes, before.scopes);
    assert!(after.digest.ct_eq(&before.digest), "not rotated");
    assert!(after.previous.is_none() && after.revoked_at.is_none());
    let log = store.audit(&workspace, &AuditQuery::new()).await.unwrap();
    assert_eq!(log.events.len(), 1, "the first key's creation only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lifecycle_change_whose_event_cannot_be_written_is_not_made() {
    let Some((schema, store)) = private_store().await else {
        return;
    };
    let actor = Actor::cli("alice");
    let workspace = Workspace::default();
    let active = store.create_by(&actor, new_key("active")).await.unwrap();
    let active = active.info.id;
    let disabled = store.create_by(&actor, new_key("disabled")).await.unwrap();
    let disabled = disabled.info.id;
    store
        .disable_by(&actor, &workspace, &disabled)
        .await
        .unwrap();
    close_the_log(&schema).await;

    let refused = store.disable_by(&actor, &workspace, &active).await;
    assert!(refused.is_err(), "{refused:?}");
    let refused = store.enable_by(&actor, &workspace, &disabled).await;
    assert!(refused.is_err(), "{refused:?}");
    let refused = store.delete_by(&actor, &workspace, &active).await;
    assert!(refused.is_err(), "{refused:?}");
    let token = foreign_token();
    let refused = store.import_by(&actor, foreign_import(&token)).await;
    assert!(refused.is_err(), "{refused:?}");

    let kept = store.get(&active).await.unwrap().expect("not deleted");
    assert_eq!(kept.disabled_at, None, "not disabled");
    let kept = store.get(&disabled).await.unwrap().unwrap();
    assert!(kept.disabled_at.is_some(), "not enabled");
    let digest = KeyDigest::of_secret(token.as_bytes());
    let found = store.get_by_digest(&digest).unwrap().await.unwrap();
    assert!(found.is_none(), "not imported");
    assert_eq!(store.list(&workspace).await.unwrap().len(), 2);
    let tombstones = "SELECT count(*) FROM keygate_deleted_keys";
    let tombstones: i64 = schema
        .client
        .query_one(tombstones, &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(tombstones, 0, "no id retired");
    let log = store.audit(&workspace, &AuditQuery::new()).await.unwrap();
    assert_eq!(log.events.len(), 3, "two creations and a disabling only");
}

/// A token of another scheme than keygate's, unique to the test.
fn foreign_token() -> String {
    let unique = KeyId::random().unwrap();
    format!("sk_live_{unique}{unique}")
}

/// The import of `token` into the default workspace, under a unique name.
fn foreign_import(token: &str) -> ImportKey {
    let secret = ImportedSecret::Plaintext(ApiKey::from_plaintext(token));
    let name = conformance::store::unique_name("imported");
    ImportKey::new(secret, name, "read:all".parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_import_one_token_only_once() {
    let (Some(a), Some(b)) = (
        postgres_common::store().await,
        postgres_common::store().await,
    ) else {
        return;
    };
    let token = foreign_token();
    // Each into a workspace of its own: the naming locks do not make them take turns.
    let into = |workspace: &str| foreign_import(&token).workspace(unique_workspace(workspace));
    let (first, second) = tokio::join!(a.import(into("first")), b.import(into("second")));
    let imported = [&first, &second].iter().filter(|r| r.is_ok()).count();
    assert_eq!(imported, 1, "{first:?} {second:?}");
    for refused in [first, second].into_iter().filter_map(Result::err) {
        assert!(matches!(refused, StoreError::Conflict(_)), "{refused:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lifecycle_change_is_announced_to_listeners() {
    let Some(store) = postgres_common::store().await else {
        return;
    };
    let mut invalidations = store.invalidations();
    postgres_common::until_listening(&store).await;
    let workspace = Workspace::default();
    let id = store.create(new_key("lifecycle")).await.unwrap().info.id;
    store.disable(&workspace, &id).await.unwrap();
    store.enable(&workspace, &id).await.unwrap();
    store.delete(&workspace, &id).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let next = tokio::time::timeout(Duration::from_secs(10), invalidations.recv())
            .await
            .expect("an invalidation within 10 s")
            .expect("the channel stays open");
        if matches!(next, Invalidation::Key(of) | Invalidation::Revoked(of) if of == id) {
            seen.push(next);
        }
    }
    // A deleted key is forgotten, not kept as revoked: its id then reads as unknown.
    assert_eq!(seen, [Invalidation::Key(id); 4]);
}

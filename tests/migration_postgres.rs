//! PostgreSQL databases made by older keygate versions, migrated by this one: keys from before
//! workspaces (schema version 1) land in the `default` workspace with empty metadata, keys from
//! before plans (version 2) are on no plan, keys from before allowlists may be used from
//! anywhere, and all keep authenticating. Each test works in a schema of its own.

#![cfg(feature = "postgres")]

mod common;
mod conformance;
mod migration_common;
mod postgres_common;

use std::time::{Duration, SystemTime};

use keygate::KeyStore;
use keygate::key::{self, KeyId, KeyPrefix};
use postgres_common::PrivateSchema;

/// The schema of version 1 as keygate 0.1 created it (`migrations/postgres/0001_keys.sql` and
/// the migrations table), copied here so that later edits to the shipped files cannot change
/// what this test starts from.
const SCHEMA_V1: &str = "
CREATE TABLE keygate_schema_migrations (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE keygate_keys (
    id                   text        PRIMARY KEY,
    name                 text        NOT NULL,
    digest               bytea       NOT NULL CHECK (octet_length(digest) = 32),
    previous_digest      bytea       NULL CHECK (octet_length(previous_digest) = 32),
    previous_valid_until timestamptz NULL,
    scopes               text        NOT NULL,
    quota_burst          integer     NULL,
    quota_interval_us    bigint      NULL,
    created_at           timestamptz NOT NULL,
    expires_at           timestamptz NULL,
    revoked_at           timestamptz NULL,
    last_used_at         timestamptz NULL,
    CHECK ((quota_burst IS NULL) = (quota_interval_us IS NULL)),
    CHECK ((previous_digest IS NULL) = (previous_valid_until IS NULL))
);
INSERT INTO keygate_schema_migrations (version) VALUES (1);
";

/// A private schema holding a version-1 database.
async fn old_database() -> Option<PrivateSchema> {
    let schema = PrivateSchema::create().await?;
    schema.client.batch_execute(SCHEMA_V1).await.unwrap();
    Some(schema)
}

/// Inserts a key named `name` the way keygate 0.1 did (its `INSERT`, nothing else), and
/// returns its id and plaintext.
async fn old_key(schema: &PrivateSchema, name: &str, scopes: &str) -> (KeyId, String) {
    let generated = key::generate(&KeyPrefix::default()).unwrap();
    schema
        .client
        .execute(
            "INSERT INTO keygate_keys \
             (id, name, digest, scopes, quota_burst, quota_interval_us, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
            &[
                &generated.id.as_str(),
                &name,
                &generated.digest.as_bytes().as_slice(),
                &scopes,
                &None::<i32>,
                &None::<i64>,
                &(SystemTime::now() - Duration::from_secs(60)),
                &None::<SystemTime>,
            ],
        )
        .await
        .unwrap();
    (generated.id, generated.plaintext.expose_secret().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_from_before_workspaces_authenticates_in_the_default_workspace() {
    let Some(schema) = old_database().await else {
        return;
    };
    let (id, plaintext) = old_key(&schema, "production-backend", "admin").await;

    let store = schema.store();
    assert_eq!(store.migrate().await.unwrap(), 6, "only the new migrations");
    migration_common::old_key_lives_in_the_default_workspace(store, id, &plaintext).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrevoked_keys_sharing_a_name_migrate_and_both_keep_working() {
    let Some(schema) = old_database().await else {
        return;
    };
    let first = old_key(&schema, "ci", "read:all").await;
    let second = old_key(&schema, "ci", "read:all,write:all").await;

    let store = schema.store();
    assert_eq!(store.migrate().await.unwrap(), 6);
    migration_common::keys_sharing_a_name_keep_working(store, first, second).await;
}

/// Inserts a row through SQL with `workspace` and `metadata` as given, and returns its id.
async fn row_with(schema: &PrivateSchema, workspace: &str, metadata: &str) -> KeyId {
    let generated = key::generate(&KeyPrefix::default()).unwrap();
    let name = format!("ci-{}", generated.id.as_str().to_ascii_lowercase());
    schema
        .client
        .execute(
            "INSERT INTO keygate_keys (id, name, digest, scopes, created_at, workspace, metadata) \
             VALUES ($1, $2, $3, 'read:all', now(), $4, $5::text::jsonb)",
            &[
                &generated.id.as_str(),
                &name,
                &generated.digest.as_bytes().as_slice(),
                &workspace,
                &metadata,
            ],
        )
        .await
        .unwrap();
    generated.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_whose_workspace_or_metadata_does_not_validate_is_reported_corrupt() {
    let Some(schema) = PrivateSchema::create().await else {
        return;
    };
    let store = schema.store();
    store.migrate().await.unwrap();
    for (workspace, metadata, column) in [
        ("Not A Workspace", "{}", "workspace"),
        ("default", "[1, 2]", "metadata"),
        ("default", "\"pro\"", "metadata"),
    ] {
        let id = row_with(&schema, workspace, metadata).await;
        let error = store.get(&id).await.unwrap_err();
        assert!(error.is_unavailable(), "{error:?}");
        assert!(error.to_string().contains(column), "{error}");
    }
}

/// What migration 2 (workspaces) added, as keygate 0.2 applied it
/// (`migrations/postgres/0002_workspaces.sql`), copied for the same reason as [`SCHEMA_V1`].
const MIGRATION_2: &str = "
ALTER TABLE keygate_keys ADD COLUMN workspace text  NOT NULL DEFAULT 'default';
ALTER TABLE keygate_keys ADD COLUMN metadata  jsonb NOT NULL DEFAULT '{}';
CREATE INDEX keygate_keys_workspace_created_at ON keygate_keys (workspace, created_at);
CREATE INDEX keygate_keys_workspace_name ON keygate_keys (workspace, name) WHERE revoked_at IS NULL;
INSERT INTO keygate_schema_migrations (version) VALUES (2);
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_from_before_plans_is_on_no_plan_keeps_working_and_can_be_put_on_one() {
    let Some(schema) = old_database().await else {
        return;
    };
    schema.client.batch_execute(MIGRATION_2).await.unwrap();
    let (id, plaintext) = old_key(&schema, "production-backend", "admin").await;

    let store = schema.store();
    assert_eq!(
        store.migrate().await.unwrap(),
        5,
        "only the plans, overrides, audit, lifecycle and allowlist migrations"
    );
    migration_common::old_key_is_on_no_plan_until_put_on_one(store, id, &plaintext).await;
}

/// In a fresh, migrated schema with one key, runs `damage(id)` (SQL) and asserts the key's
/// lookup is unavailable (503, never a key without its limits) with an error saying `says`.
async fn lookup_unavailable_after(damage: impl Fn(&KeyId) -> String, says: &str) {
    let Some(schema) = PrivateSchema::create().await else {
        return;
    };
    let store = schema.store();
    store.migrate().await.unwrap();
    let id = row_with(&schema, "default", "{}").await;
    schema.client.batch_execute(&damage(&id)).await.unwrap();
    let error = store.get(&id).await.unwrap_err();
    assert!(error.is_unavailable(), "{error:?}");
    assert!(error.to_string().contains(says), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_whose_definition_does_not_parse_makes_its_keys_unavailable_not_unlimited() {
    lookup_unavailable_after(
        |id| {
            format!(
                "INSERT INTO keygate_plans (name, definition) VALUES ('trial', '{{\"name\": \"trial\"}}'); \
                 UPDATE keygate_keys SET plan = 'trial' WHERE id = '{id}'"
            )
        },
        "trial",
    )
    .await;
}

/// What migration 3 (plans) added, as keygate applied it (`migrations/postgres/0003_plans.sql`),
/// copied for the same reason as [`SCHEMA_V1`], with the plan `trial` (5 a day) defined.
const MIGRATION_3: &str = "
CREATE TABLE keygate_plans (
    name       text  PRIMARY KEY,
    definition jsonb NOT NULL
);
CREATE TABLE keygate_workspaces (
    workspace text PRIMARY KEY,
    plan      text NULL REFERENCES keygate_plans (name)
);
ALTER TABLE keygate_keys ADD COLUMN plan text NULL REFERENCES keygate_plans (name);
INSERT INTO keygate_schema_migrations (version) VALUES (3);
INSERT INTO keygate_plans (name, definition) VALUES ('trial',
    '{\"name\": \"trial\", \"limits\": [{\"name\": \"daily\", \"quota\": {\"max\": 5, \"period\": \"day\"}}]}');
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_from_before_overrides_keeps_its_plan_and_can_be_given_overrides() {
    let Some(schema) = old_database().await else {
        return;
    };
    schema.client.batch_execute(MIGRATION_2).await.unwrap();
    schema.client.batch_execute(MIGRATION_3).await.unwrap();
    let (id, plaintext) = old_key(&schema, "production-backend", "admin").await;
    schema
        .client
        .execute(
            "UPDATE keygate_keys SET plan = 'trial' WHERE id = $1",
            &[&id.as_str()],
        )
        .await
        .unwrap();

    let store = schema.store();
    assert_eq!(
        store.migrate().await.unwrap(),
        4,
        "only the overrides, audit, lifecycle and allowlist migrations"
    );
    migration_common::old_key_keeps_its_plan_and_can_be_given_overrides(store, id, &plaintext)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overrides_that_do_not_parse_make_their_key_unavailable_not_unlimited() {
    lookup_unavailable_after(
        |id| {
            format!(
                "INSERT INTO keygate_plans (name, definition) VALUES ('trial', \
                 '{{\"name\": \"trial\", \"limits\": [{{\"name\": \"daily\", \"quota\": {{\"max\": 5, \"period\": \"day\"}}}}]}}'); \
                 UPDATE keygate_keys SET plan = 'trial', overrides = '{{\"daily\": {{\"max\": 0}}}}' WHERE id = '{id}'"
            )
        },
        "overrides",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_from_before_allowlists_is_allowed_anywhere_until_given_a_list() {
    let Some(schema) = old_database().await else {
        return;
    };
    let (id, plaintext) = old_key(&schema, "production-backend", "admin").await;

    let store = schema.store();
    store.migrate().await.unwrap();
    migration_common::old_key_is_allowed_anywhere_until_given_a_list(store, id, &plaintext).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowlist_that_does_not_parse_makes_its_key_unavailable_not_open_to_anyone() {
    lookup_unavailable_after(
        |id| format!("UPDATE keygate_keys SET allowed_ips = '10.0.0.0/33' WHERE id = '{id}'"),
        "allowed_ips",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_allowlist_makes_its_key_unavailable_not_open_to_anyone() {
    lookup_unavailable_after(
        |id| format!("UPDATE keygate_keys SET allowed_ips = '' WHERE id = '{id}'"),
        "allowed_ips",
    )
    .await;
}

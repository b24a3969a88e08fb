//! A key's IP allowlist through the admin API, over a real socket, on the memory store: set on
//! `POST /keys`, replaced, kept and cleared by `PATCH /keys/{id}`, every bad entry refused by
//! name (`allowed_ips[i]`) and a list over the bound refused saying it, leaving the key as it
//! was. (The audit event of a change is checked in tests/admin_audit.rs.)

#![cfg(feature = "axum")]

mod credits;
mod wire;

use credits::{App, Tenant, serve};
use keygate::key::{self, KeyPrefix};
use keygate::{MAX_ALLOWED_NETWORKS, MemoryRateLimiter};
use serde_json::{Value, json};
use wire::Wire;

async fn app() -> App {
    serve(MemoryRateLimiter::new(), false).await
}

/// `PATCH /admin/keys/{id}` by `tenant`'s admin with `body`.
async fn patch(app: &App, tenant: &Tenant, id: &str, body: Value) -> Wire {
    let path = format!("/admin/keys/{id}");
    let body = body.to_string();
    app.call("PATCH", &path, &tenant.admin, &body).await
}

/// The allowlist of key `id`, as `GET /admin/keys/{id}` by `tenant`'s admin shows it.
async fn allowlist_of(app: &App, tenant: &Tenant, id: &str) -> Value {
    let path = format!("/admin/keys/{id}");
    let shown = app.call("GET", &path, &tenant.admin, "").await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    shown.json()["allowed_ips"].clone()
}

/// The fields a 422 `invalid_request` names, in order.
fn refused_fields(refused: &Wire) -> Vec<String> {
    refused.assert_problem(422, "invalid_request");
    let errors = refused.json()["errors"].as_array().unwrap().clone();
    errors
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_key_created_with_allowed_ips_shows_them_canonical() {
    let app = app().await;
    let t = &app.acme;
    let body = json!({
        "name": "ci-pipeline", "scopes": ["read:all"],
        "allowed_ips": ["192.0.2.7/24", "2001:db8::/32", "::ffff:198.51.100.0/120"]
    });
    let created = app
        .call("POST", "/admin/keys", &t.admin, &body.to_string())
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let expected = json!(["192.0.2.0/24", "2001:db8::/32", "198.51.100.0/24"]);
    assert_eq!(created.json()["allowed_ips"], expected);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(allowlist_of(&app, t, &id).await, expected);
}

#[tokio::test]
async fn a_key_created_without_allowed_ips_allows_anywhere() {
    let app = app().await;
    let t = &app.acme;
    let body = json!({"name": "ci-pipeline", "scopes": ["read:all"]}).to_string();
    let created = app.call("POST", "/admin/keys", &t.admin, &body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json()["allowed_ips"], json!([]));
}

#[tokio::test]
async fn patching_allowed_ips_replaces_the_whole_list() {
    let app = app().await;
    let t = &app.acme;
    let first = patch(&app, t, &t.bot_id, json!({"allowed_ips": ["192.0.2.0/24"]})).await;
    assert_eq!(first.json()["allowed_ips"], json!(["192.0.2.0/24"]));
    let body = json!({"allowed_ips": ["2001:db8::/32", "203.0.113.9"]});
    let replaced = patch(&app, t, &t.bot_id, body).await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    let expected = json!(["2001:db8::/32", "203.0.113.9/32"]);
    assert_eq!(replaced.json()["allowed_ips"], expected);
    assert_eq!(allowlist_of(&app, t, &t.bot_id).await, expected);
}

#[tokio::test]
async fn a_patch_without_allowed_ips_keeps_the_list() {
    let app = app().await;
    let t = &app.acme;
    patch(&app, t, &t.bot_id, json!({"allowed_ips": ["192.0.2.0/24"]})).await;
    let renamed = patch(&app, t, &t.bot_id, json!({"name": "billing-worker"})).await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(renamed.json()["allowed_ips"], json!(["192.0.2.0/24"]));
}

#[tokio::test]
async fn patching_allowed_ips_to_an_empty_list_clears_it() {
    let app = app().await;
    let t = &app.acme;
    patch(&app, t, &t.bot_id, json!({"allowed_ips": ["192.0.2.0/24"]})).await;
    let cleared = patch(&app, t, &t.bot_id, json!({"allowed_ips": []})).await;
    assert_eq!(cleared.status, 200, "{}", cleared.body);
    assert_eq!(allowlist_of(&app, t, &t.bot_id).await, json!([]));
}

#[tokio::test]
async fn allowed_ips_null_is_refused_with_422_and_the_list_kept() {
    let app = app().await;
    let t = &app.acme;
    patch(&app, t, &t.bot_id, json!({"allowed_ips": ["192.0.2.0/24"]})).await;
    let refused = patch(&app, t, &t.bot_id, json!({"allowed_ips": null})).await;
    assert_eq!(refused_fields(&refused), ["allowed_ips"]);
    assert_eq!(
        allowlist_of(&app, t, &t.bot_id).await,
        json!(["192.0.2.0/24"])
    );
}

#[tokio::test]
async fn each_bad_entry_is_refused_with_422_naming_it_and_nothing_changes() {
    let app = app().await;
    let t = &app.acme;
    patch(&app, t, &t.bot_id, json!({"allowed_ips": ["192.0.2.0/24"]})).await;
    let body =
        json!({"allowed_ips": ["10.0.0.0/8", "10.0.0.0/33", "example.com", "2001:db8::/129"]});
    let refused = patch(&app, t, &t.bot_id, body).await;
    assert_eq!(
        refused_fields(&refused),
        ["allowed_ips[1]", "allowed_ips[2]", "allowed_ips[3]"]
    );
    let message = refused.json()["errors"][1]["message"].to_string();
    assert!(message.contains("example.com"), "{message}");
    assert_eq!(
        allowlist_of(&app, t, &t.bot_id).await,
        json!(["192.0.2.0/24"])
    );
}

#[tokio::test]
async fn a_new_key_with_a_bad_entry_is_refused_with_422_and_not_created() {
    let app = app().await;
    let t = &app.acme;
    let body = json!({"name": "ci-pipeline", "scopes": ["read:all"], "allowed_ips": ["10.0.0"]});
    let refused = app
        .call("POST", "/admin/keys", &t.admin, &body.to_string())
        .await;
    assert_eq!(refused_fields(&refused), ["allowed_ips[0]"]);
    let listed = app
        .call("GET", "/admin/keys?name=ci-pipeline", &t.admin, "")
        .await;
    assert_eq!(listed.json()["keys"], json!([]), "{}", listed.body);
}

#[tokio::test]
async fn more_networks_than_the_bound_are_refused_with_422_saying_it() {
    let app = app().await;
    let t = &app.acme;
    let many: Vec<String> = (0..=MAX_ALLOWED_NETWORKS)
        .map(|i| format!("10.0.{i}.0/24"))
        .collect();
    let refused = patch(&app, t, &t.bot_id, json!({"allowed_ips": many})).await;
    assert_eq!(refused_fields(&refused), ["allowed_ips"]);
    let message = refused.json()["errors"][0]["message"].to_string();
    assert!(message.contains("at most 64"), "{message}");
    assert_eq!(allowlist_of(&app, t, &t.bot_id).await, json!([]));
}

#[tokio::test]
async fn exactly_the_bound_is_accepted() {
    let app = app().await;
    let t = &app.acme;
    let most: Vec<String> = (0..MAX_ALLOWED_NETWORKS)
        .map(|i| format!("10.0.{i}.0/24"))
        .collect();
    let set = patch(&app, t, &t.bot_id, json!({"allowed_ips": most})).await;
    assert_eq!(set.status, 200, "{}", set.body);
    let shown = allowlist_of(&app, t, &t.bot_id).await;
    assert_eq!(shown.as_array().unwrap().len(), MAX_ALLOWED_NETWORKS);
}

#[tokio::test]
async fn a_workspace_admin_may_restrict_its_own_key() {
    let app = app().await;
    let t = &app.acme;
    let own = key::parse(&t.admin, &KeyPrefix::default()).unwrap();
    let own_id = own.id().to_string();
    let body = json!({"allowed_ips": ["127.0.0.0/8", "::1"]});
    let set = patch(&app, t, &own_id, body).await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.json()["allowed_ips"], json!(["127.0.0.0/8", "::1/128"]));
}

#[tokio::test]
async fn another_workspaces_key_cannot_be_given_an_allowlist() {
    let app = app().await;
    let (acme, globex) = (&app.acme, &app.globex);
    let body = json!({"allowed_ips": ["192.0.2.0/24"]});
    let theirs = patch(&app, acme, &globex.bot_id, body).await;
    theirs.assert_problem(404, "key_not_found");
    assert_eq!(allowlist_of(&app, globex, &globex.bot_id).await, json!([]));
}

//! The key lifecycle through the admin API, over a real socket, on the memory store: disable
//! and enable (401 `disabled_api_key` meanwhile), delete (the id is then unknown for good),
//! import by plaintext or digest (never answered back), and `GET /keys` a page at a time,
//! filtered by status and name prefix.

#![cfg(feature = "axum")]

mod credits;
mod wire;

use std::collections::HashSet;

use credits::{App, Tenant, serve};
use keygate::key::{self, KeyDigest, KeyPrefix};
use keygate::{KeyManager, MemoryRateLimiter, NewKey};
use serde_json::{Value, json};
use wire::Wire;

async fn app() -> App {
    serve(MemoryRateLimiter::new(), false).await
}

/// `POST /admin/keys/{id}/{action}` (or `DELETE` for `delete`) by `tenant`'s admin.
async fn act(app: &App, tenant: &Tenant, action: &str, id: &str) -> Wire {
    let (method, path) = match action {
        "delete" => ("DELETE", format!("/admin/keys/{id}")),
        _ => ("POST", format!("/admin/keys/{id}/{action}")),
    };
    app.call(method, &path, &tenant.admin, "").await
}

/// `POST /admin/keys/import` by `tenant`'s admin.
async fn import(app: &App, tenant: &Tenant, body: Value) -> Wire {
    let body = body.to_string();
    app.call("POST", "/admin/keys/import", &tenant.admin, &body)
        .await
}

/// `GET /admin/keys?{query}` by `tenant`'s admin, which must be a 200.
async fn page(app: &App, tenant: &Tenant, query: &str) -> Value {
    let path = format!("/admin/keys?{query}");
    let answer = app.call("GET", &path, &tenant.admin, "").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()
}

/// The names of a page's keys.
fn names(page: &Value) -> Vec<&str> {
    page["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect()
}

/// The fields a 422 names, in order.
fn fields(refused: &Wire) -> Vec<String> {
    let errors = refused.json()["errors"].clone();
    let field = |e: &Value| e["field"].as_str().unwrap().to_owned();
    errors.as_array().unwrap().iter().map(field).collect()
}

/// A fresh key in this service's format, never stored: its id and plaintext.
fn unissued_key() -> (String, String) {
    let generated = key::generate(&KeyPrefix::default()).unwrap();
    let plaintext = generated.plaintext.expose_secret().to_owned();
    (generated.id.to_string(), plaintext)
}

#[tokio::test]
async fn a_disabled_key_is_refused_with_401_disabled_api_key_until_enabled() {
    let app = app().await;
    let t = &app.acme;
    let disabled = act(&app, t, "disable", &t.bot_id).await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    assert_eq!(disabled.json()["status"], "disabled");
    let refused = app.call("GET", "/v1/records", &t.bot, "").await;
    refused.assert_problem(401, "disabled_api_key");
    let enabled = act(&app, t, "enable", &t.bot_id).await;
    assert_eq!(enabled.json()["status"], "active", "{}", enabled.body);
    assert_eq!(enabled.json()["disabled_at"], Value::Null);
    assert_eq!(app.request(&t.bot).await, 200);
}

#[tokio::test]
async fn a_revoked_key_cannot_be_disabled_or_enabled() {
    let app = app().await;
    let t = &app.acme;
    act(&app, t, "revoke", &t.bot_id).await;
    for action in ["disable", "enable"] {
        act(&app, t, action, &t.bot_id)
            .await
            .assert_problem(409, "key_conflict");
    }
}

#[tokio::test]
async fn another_workspaces_key_is_404_to_every_lifecycle_route_and_unchanged() {
    let app = app().await;
    let (acme, globex) = (&app.acme, &app.globex);
    for action in ["disable", "enable", "delete"] {
        let theirs = act(&app, acme, action, &globex.bot_id).await;
        theirs.assert_problem(404, "key_not_found");
        let unknown = act(&app, acme, action, "AAAAAAAAAAAA").await;
        assert_eq!(
            theirs.with_placeholder(&globex.bot_id),
            unknown.with_placeholder("AAAAAAAAAAAA")
        );
    }
    assert_eq!(app.request(&globex.bot).await, 200);
}

#[tokio::test]
async fn a_deleted_key_is_answered_as_it_was_then_unknown_and_refused() {
    let app = app().await;
    let t = &app.acme;
    let deleted = act(&app, t, "delete", &t.bot_id).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.json()["name"], "billing-bot");
    assert_eq!(deleted.json()["status"], "active");
    let path = format!("/admin/keys/{}", t.bot_id);
    let shown = app.call("GET", &path, &t.admin, "").await;
    shown.assert_problem(404, "key_not_found");
    act(&app, t, "delete", &t.bot_id)
        .await
        .assert_problem(404, "key_not_found");
    let refused = app.call("GET", "/v1/records", &t.bot, "").await;
    refused.assert_problem(401, "invalid_api_key");
    assert!(!names(&page(&app, t, "").await).contains(&"billing-bot"));
}

#[tokio::test]
async fn a_deleted_keys_name_is_free_and_its_id_cannot_be_imported_again() {
    let app = app().await;
    let t = &app.acme;
    act(&app, t, "delete", &t.bot_id).await;
    let digest = KeyDigest::of_secret(b"sk_live_a_token_of_another_system").to_hex();
    let reuse = json!({"digest": digest, "id": t.bot_id, "name": "billing-bot",
        "scopes": ["read:all"]});
    import(&app, t, reuse)
        .await
        .assert_problem(409, "key_conflict");
    let fresh = json!({"digest": digest, "name": "billing-bot", "scopes": ["read:all"]});
    assert_eq!(import(&app, t, fresh).await.status, 201);
}

#[tokio::test]
async fn a_key_imported_by_its_plaintext_authenticates_and_is_never_answered_back() {
    let app = app().await;
    let t = &app.acme;
    let (id, plaintext) = unissued_key();
    let body = json!({"key": plaintext, "name": "migrated", "scopes": ["read:all"],
        "metadata": {"from": "old-system"}});
    let imported = import(&app, t, body).await;
    assert_eq!(imported.status, 201, "{}", imported.body);
    assert!(!imported.body.contains(&plaintext));
    assert_eq!(imported.json()["id"], id.as_str());
    assert_eq!(imported.json()["workspace"], t.workspace.as_str());
    assert_eq!(imported.json()["metadata"], json!({"from": "old-system"}));
    assert_eq!(app.request(&plaintext).await, 200);
}

#[tokio::test]
async fn the_same_key_imported_twice_is_409_key_conflict() {
    let app = app().await;
    let t = &app.acme;
    let digest = KeyDigest::of_secret(b"sk_live_a_token_of_another_system").to_hex();
    let first = import(
        &app,
        t,
        json!({"digest": digest, "name": "legacy", "scopes": ["read:all"]}),
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(!first.body.contains(&digest));
    let again = json!({"digest": digest, "name": "legacy-again", "scopes": ["read:all"]});
    import(&app, t, again)
        .await
        .assert_problem(409, "key_conflict");
}

#[tokio::test]
async fn an_import_with_a_taken_name_is_409_name_taken() {
    let app = app().await;
    let t = &app.acme;
    let (_, plaintext) = unissued_key();
    let body = json!({"key": plaintext, "name": "billing-bot", "scopes": ["read:all"]});
    import(&app, t, body)
        .await
        .assert_problem(409, "name_taken");
    assert_eq!(app.request(&plaintext).await, 401);
}

#[tokio::test]
async fn an_import_refuses_each_bad_field_with_422_naming_it() {
    let app = app().await;
    let t = &app.acme;
    let other = t.workspace.as_str().replace("acme", "globex");
    let refused = import(
        &app,
        t,
        json!({"digest": "xyz", "name": "ok", "scopes": ["fly:all"], "workspace": other}),
    )
    .await;
    refused.assert_problem(422, "invalid_request");
    assert_eq!(fields(&refused), ["workspace", "digest", "scopes[0]"]);
}

#[tokio::test]
async fn a_plaintext_the_store_cannot_import_is_422_naming_key_without_echoing_it() {
    let app = app().await;
    let t = &app.acme;
    let short = "sk_short_9f3";
    let refused = import(
        &app,
        t,
        json!({"key": short, "name": "ok", "scopes": ["read:all"]}),
    )
    .await;
    refused.assert_problem(422, "invalid_request");
    assert_eq!(refused.json()["errors"][0]["field"], "key");
    assert!(!refused.body.contains(short), "{}", refused.body);
}

#[tokio::test]
async fn the_first_page_holds_fifty_keys_and_names_the_next() {
    let app = app().await;
    let t = &app.acme;
    for n in 0..60 {
        app.key_on(t, &format!("bulk-{n:03}"), None).await;
    }
    let first = page(&app, t, "").await;
    assert_eq!(first["keys"].as_array().unwrap().len(), 50);
    let next = first["next"].as_str().unwrap();
    let rest = page(&app, t, &format!("after={next}")).await;
    // 2 keys of the tenant, then 60: 12 after the first 50.
    assert_eq!(rest["keys"].as_array().unwrap().len(), 12);
    assert_eq!(rest["next"], Value::Null);
}

#[tokio::test]
async fn ten_thousand_keys_are_each_listed_exactly_once_while_keys_are_created() {
    let app = app().await;
    let t = &app.acme;
    let new = |name: String| {
        NewKey::new(name.parse().unwrap(), "read:all".parse().unwrap())
            .workspace(t.workspace.clone())
    };
    let mut expected = HashSet::from(["admin".to_owned(), "billing-bot".to_owned()]);
    for n in 0..10_000 {
        let name = format!("key-{n:05}");
        app.store.create(new(name.clone())).await.unwrap();
        expected.insert(name);
    }
    let mut seen = HashSet::new();
    let mut after = String::new();
    let mut pages = 0;
    loop {
        let query = match after.as_str() {
            "" => "limit=500".to_owned(),
            cursor => format!("limit=500&after={cursor}"),
        };
        let answer = page(&app, t, &query).await;
        pages += 1;
        for name in names(&answer) {
            assert!(seen.insert(name.to_owned()), "{name} listed twice");
        }
        // Keys created meanwhile come after the cursor, and do not displace any.
        app.store
            .create(new(format!("late-{pages:03}")))
            .await
            .unwrap();
        match answer["next"].as_str() {
            Some(next) => after = next.to_owned(),
            None => break,
        }
    }
    assert!(expected.is_subset(&seen), "{} missing", expected.len());
    assert!(pages >= 21, "{pages} pages");
}

#[tokio::test]
async fn the_listing_filters_by_status_and_name_prefix() {
    let app = app().await;
    let t = &app.acme;
    let (ci_one, _) = app.key_on(t, "ci-one", None).await;
    app.key_on(t, "ci-two", None).await;
    act(&app, t, "disable", &ci_one).await;
    assert_eq!(names(&page(&app, t, "status=disabled").await), ["ci-one"]);
    assert_eq!(
        names(&page(&app, t, "name=ci-").await),
        ["ci-one", "ci-two"]
    );
    let active_ci = page(&app, t, "name=ci-&status=active").await;
    assert_eq!(names(&active_ci), ["ci-two"]);
    assert_eq!(
        names(&page(&app, t, "status=revoked").await),
        Vec::<&str>::new()
    );
}

#[tokio::test]
async fn bad_listing_parameters_are_refused_with_422_naming_each() {
    let app = app().await;
    let t = &app.acme;
    let path = "/admin/keys?limit=501&after=yesterday&status=paused&colour=red";
    let refused = app.call("GET", path, &t.admin, "").await;
    refused.assert_problem(422, "invalid_request");
    assert_eq!(fields(&refused), ["limit", "after", "status", "colour"]);
}

#[tokio::test]
async fn a_key_without_admin_is_refused_403_by_every_lifecycle_route() {
    let app = app().await;
    let t = &app.acme;
    let calls = [
        ("POST", format!("/admin/keys/{}/disable", t.bot_id), ""),
        ("POST", format!("/admin/keys/{}/enable", t.bot_id), ""),
        ("DELETE", format!("/admin/keys/{}", t.bot_id), ""),
        ("POST", "/admin/keys/import".to_owned(), "{}"),
    ];
    for (method, path, body) in calls {
        let refused = app.call(method, &path, &t.bot, body).await;
        refused.assert_problem(403, "insufficient_scope");
    }
    assert_eq!(app.request(&t.bot).await, 200);
}

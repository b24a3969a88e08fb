//! The audit log through the admin API, over a real socket, on the memory store: every change
//! a route makes is recorded once with the calling admin key as its actor, a refused change
//! records nothing, and `GET /audit` pages through the log newest first. (That a workspace
//! never sees another's events is checked on every store in tests/workspaces.rs.)

#![cfg(feature = "axum")]

mod credits;
mod wire;

use credits::{App, Tenant, serve};
use keygate::MemoryRateLimiter;
use keygate::key::{self, KeyPrefix};
use serde_json::{Value, json};
use wire::Wire;

async fn app() -> App {
    serve(MemoryRateLimiter::new(), false).await
}

/// The id of `tenant`'s admin key, read off its plaintext.
fn admin_id(tenant: &Tenant) -> String {
    let parsed = key::parse(&tenant.admin, &KeyPrefix::default()).unwrap();
    parsed.id().to_string()
}

/// `GET /admin/audit?{query}` by `tenant`'s admin.
async fn audit(app: &App, tenant: &Tenant, query: &str) -> Wire {
    let path = format!("/admin/audit?{query}");
    app.call("GET", &path, &tenant.admin, "").await
}

/// Every event of `tenant`'s workspace, newest first.
async fn log(app: &App, tenant: &Tenant) -> Vec<Value> {
    let page = audit(app, tenant, "limit=500").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.json()["next"], Value::Null);
    page.json()["events"].as_array().unwrap().clone()
}

/// Runs `change` (which must succeed) and returns its answer and the one event it added to
/// `tenant`'s log, checking that it is the only one and that it names `tenant`'s admin key as
/// its actor.
async fn one_event_of(
    app: &App,
    tenant: &Tenant,
    change: impl AsyncFnOnce() -> Wire,
) -> (Wire, Value) {
    let before = log(app, tenant).await;
    let answer = change().await;
    assert!(answer.status < 300, "{} {}", answer.status, answer.body);
    let after = log(app, tenant).await;
    assert_eq!(after.len(), before.len() + 1, "{after:#?}");
    assert_eq!(after[1..], before[..]);
    let event = after[0].clone();
    assert_eq!(
        event["actor"],
        json!({"type": "key", "id": admin_id(tenant), "name": "admin"})
    );
    assert_eq!(event["workspace"], tenant.workspace.as_str());
    (answer, event)
}

/// Runs `change`, which must be refused with `status` and `code`, and checks that `tenant`'s
/// log is as it was.
async fn refused_without_event(
    app: &App,
    tenant: &Tenant,
    status: u16,
    code: &str,
    change: impl AsyncFnOnce() -> Wire,
) {
    let before = log(app, tenant).await;
    change().await.assert_problem(status, code);
    assert_eq!(log(app, tenant).await, before);
}

/// `POST /admin/keys` by `tenant`'s admin: `name` with `read:all`.
async fn create(app: &App, tenant: &Tenant, name: &str) -> Wire {
    let body = json!({"name": name, "scopes": ["read:all"]}).to_string();
    app.call("POST", "/admin/keys", &tenant.admin, &body).await
}

/// `method /admin/keys/{id}{tail}` by `tenant`'s admin, with `body`.
async fn on_key(
    app: &App,
    tenant: &Tenant,
    method: &str,
    id: &str,
    tail: &str,
    body: &str,
) -> Wire {
    let path = format!("/admin/keys/{id}{tail}");
    app.call(method, &path, &tenant.admin, body).await
}

#[tokio::test]
async fn creating_a_key_records_one_create_by_the_calling_admin_key() {
    let app = app().await;
    let t = &app.acme;
    let (created, event) =
        one_event_of(&app, t, async || create(&app, t, "ci-pipeline").await).await;
    let id = &created.json()["id"];
    assert_eq!(event["action"], "create");
    assert_eq!(event["key"], json!({"id": id, "name": "ci-pipeline"}));
    assert_eq!(
        event["changes"],
        json!([
            {"field": "name", "before": null, "after": "ci-pipeline"},
            {"field": "scopes", "before": null, "after": ["read:all"]},
        ])
    );
}

#[tokio::test]
async fn editing_a_key_records_one_update_with_the_scopes_before_and_after() {
    let app = app().await;
    let t = &app.acme;
    let edit = r#"{"add_scopes": ["write:all"]}"#;
    let (_, event) = one_event_of(&app, t, async || {
        on_key(&app, t, "PATCH", &t.bot_id, "", edit).await
    })
    .await;
    assert_eq!(event["action"], "update");
    assert_eq!(event["key"], json!({"id": t.bot_id, "name": "billing-bot"}));
    assert_eq!(
        event["changes"],
        json!([{"field": "scopes", "before": ["read:all"], "after": ["read:all", "write:all"]}])
    );
}

#[tokio::test]
async fn setting_a_keys_allowlist_records_one_update_with_the_list_before_and_after() {
    let app = app().await;
    let t = &app.acme;
    let edit = r#"{"allowed_ips": ["192.0.2.0/24", "2001:db8::/32"]}"#;
    let (_, event) = one_event_of(&app, t, async || {
        on_key(&app, t, "PATCH", &t.bot_id, "", edit).await
    })
    .await;
    assert_eq!(event["action"], "update");
    assert_eq!(event["key"], json!({"id": t.bot_id, "name": "billing-bot"}));
    assert_eq!(
        event["changes"],
        json!([{"field": "allowed_ips", "before": [], "after": ["192.0.2.0/24", "2001:db8::/32"]}])
    );
}

#[tokio::test]
async fn a_refused_allowlist_records_nothing() {
    let app = app().await;
    let t = &app.acme;
    let edit = r#"{"allowed_ips": ["192.0.2.0/33"]}"#;
    refused_without_event(&app, t, 422, "invalid_request", async || {
        on_key(&app, t, "PATCH", &t.bot_id, "", edit).await
    })
    .await;
}

#[tokio::test]
async fn rotating_a_key_records_one_rotate_by_the_calling_admin_key() {
    let app = app().await;
    let t = &app.acme;
    let (_, event) = one_event_of(&app, t, async || {
        on_key(&app, t, "POST", &t.bot_id, "/rotate", r#"{"grace": "1h"}"#).await
    })
    .await;
    assert_eq!(event["action"], "rotate");
    assert_eq!(event["key"]["id"], t.bot_id.as_str());
    assert_eq!(
        event["changes"][0]["field"], "previous_secret_valid_until",
        "{event}"
    );
}

#[tokio::test]
async fn revoking_a_key_records_one_revoke_by_the_calling_admin_key() {
    let app = app().await;
    let t = &app.acme;
    let (_, event) = one_event_of(&app, t, async || {
        on_key(&app, t, "POST", &t.bot_id, "/revoke", "").await
    })
    .await;
    assert_eq!(event["action"], "revoke");
    assert_eq!(event["key"]["id"], t.bot_id.as_str());
    assert_eq!(event["changes"][0]["field"], "revoked_at");
    assert_eq!(event["changes"][0]["before"], Value::Null);
}

#[tokio::test]
async fn revoking_a_revoked_key_again_records_nothing_more() {
    let app = app().await;
    let t = &app.acme;
    on_key(&app, t, "POST", &t.bot_id, "/revoke", "").await;
    let before = log(&app, t).await;
    let again = on_key(&app, t, "POST", &t.bot_id, "/revoke", "").await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(log(&app, t).await, before);
}

#[tokio::test]
async fn disabling_and_enabling_a_key_record_one_event_each_by_the_calling_admin_key() {
    let app = app().await;
    let t = &app.acme;
    for (tail, action, before, disabled) in [
        ("/disable", "disable", true, true),
        ("/enable", "enable", false, false),
    ] {
        let (answer, event) = one_event_of(&app, t, async || {
            on_key(&app, t, "POST", &t.bot_id, tail, "").await
        })
        .await;
        assert_eq!(answer.json()["disabled_at"].is_string(), disabled);
        assert_eq!(event["action"], action);
        assert_eq!(event["key"]["id"], t.bot_id.as_str());
        assert_eq!(event["changes"][0]["field"], "disabled_at");
        assert_eq!(event["changes"][0]["before"].is_null(), before, "{event}");
    }
}

#[tokio::test]
async fn disabling_a_disabled_key_again_records_nothing_more() {
    let app = app().await;
    let t = &app.acme;
    on_key(&app, t, "POST", &t.bot_id, "/disable", "").await;
    let before = log(&app, t).await;
    let again = on_key(&app, t, "POST", &t.bot_id, "/disable", "").await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(log(&app, t).await, before);
}

#[tokio::test]
async fn deleting_a_key_records_one_delete_and_keeps_its_earlier_events() {
    let app = app().await;
    let t = &app.acme;
    let (_, event) = one_event_of(&app, t, async || {
        on_key(&app, t, "DELETE", &t.bot_id, "", "").await
    })
    .await;
    assert_eq!(event["action"], "delete");
    assert_eq!(event["key"], json!({"id": t.bot_id, "name": "billing-bot"}));
    let events = audit(&app, t, &format!("key={}", t.bot_id)).await.json();
    let actions: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["delete", "create"]);
}

#[tokio::test]
async fn importing_a_key_records_one_import_by_the_calling_admin_key() {
    let app = app().await;
    let t = &app.acme;
    let digest = "a".repeat(64);
    let body = json!({"digest": digest, "name": "legacy", "scopes": ["read:all"]}).to_string();
    let (imported, event) = one_event_of(&app, t, async || {
        app.call("POST", "/admin/keys/import", &t.admin, &body)
            .await
    })
    .await;
    assert_eq!(event["action"], "import");
    assert_eq!(
        event["key"],
        json!({"id": imported.json()["id"], "name": "legacy"})
    );
    assert!(!event.to_string().contains(&digest), "{event}");
}

#[tokio::test]
async fn a_change_refused_409_key_conflict_records_nothing() {
    let app = app().await;
    let t = &app.acme;
    on_key(&app, t, "POST", &t.bot_id, "/revoke", "").await;
    for tail in ["/disable", "/enable"] {
        refused_without_event(&app, t, 409, "key_conflict", async || {
            on_key(&app, t, "POST", &t.bot_id, tail, "").await
        })
        .await;
    }
}

#[tokio::test]
async fn a_change_refused_409_name_taken_records_nothing() {
    let app = app().await;
    let t = &app.acme;
    refused_without_event(&app, t, 409, "name_taken", async || {
        create(&app, t, "billing-bot").await
    })
    .await;
    let rename = r#"{"name": "admin"}"#;
    refused_without_event(&app, t, 409, "name_taken", async || {
        on_key(&app, t, "PATCH", &t.bot_id, "", rename).await
    })
    .await;
}

#[tokio::test]
async fn a_change_refused_422_records_nothing() {
    let app = app().await;
    let t = &app.acme;
    let bad_scope = r#"{"name": "ci", "scopes": ["fly:all"]}"#;
    refused_without_event(&app, t, 422, "invalid_request", async || {
        app.call("POST", "/admin/keys", &t.admin, bad_scope).await
    })
    .await;
    let no_scope_left = r#"{"remove_scopes": ["read:all"]}"#;
    refused_without_event(&app, t, 422, "invalid_request", async || {
        on_key(&app, t, "PATCH", &t.bot_id, "", no_scope_left).await
    })
    .await;
    refused_without_event(&app, t, 422, "invalid_request", async || {
        on_key(&app, t, "POST", &t.bot_id, "/rotate", r#"{"grace": "1y"}"#).await
    })
    .await;
}

#[tokio::test]
async fn paging_through_twelve_events_five_at_a_time_gives_each_exactly_once() {
    let app = app().await;
    let t = &app.acme;
    let id = create(&app, t, "paged").await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for n in 1..=11 {
        let body = json!({"metadata": {"n": n}}).to_string();
        let edited = on_key(&app, t, "PATCH", &id, "", &body).await;
        assert_eq!(edited.status, 200, "{}", edited.body);
    }
    let mut seen: Vec<u64> = Vec::new();
    let mut sizes = Vec::new();
    let mut query = format!("key={id}&limit=5");
    loop {
        let page = audit(&app, t, &query).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let page = page.json();
        let events = page["events"].as_array().unwrap();
        sizes.push(events.len());
        seen.extend(
            events
                .iter()
                .map(|e| e["id"].as_str().unwrap().parse::<u64>().unwrap()),
        );
        match page["next"].as_str() {
            Some(next) => query = format!("key={id}&limit=5&before={next}"),
            None => break,
        }
    }
    assert_eq!(sizes, [5, 5, 2]);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "{seen:?}");
    assert_eq!(seen.len(), 12);
    let newest_first = log(&app, t).await;
    let all: Vec<u64> = newest_first
        .iter()
        .filter(|e| e["key"]["id"] == id.as_str())
        .map(|e| e["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(seen, all);
}

#[tokio::test]
async fn the_log_is_answered_as_json_never_cached() {
    let app = app().await;
    let page = audit(&app, &app.acme, "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.header("content-type"), Some("application/json"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn bad_query_values_are_refused_with_422_naming_the_parameter() {
    let app = app().await;
    for (query, field, says) in [
        ("limit=0", "limit", "from 1 to 500"),
        ("limit=501", "limit", "from 1 to 500"),
        ("limit=many", "limit", "from 1 to 500"),
        ("before=yesterday", "before", "whole number"),
        ("key=not-a-key", "key", "12 base62 characters"),
        ("workspace=other", "workspace", "your own workspace"),
        ("colour=red", "colour", "limit, before and key"),
    ] {
        let refused = audit(&app, &app.acme, query).await;
        refused.assert_problem(422, "invalid_request");
        assert_eq!(refused.header("cache-control"), Some("no-store"));
        let json = refused.json();
        assert_eq!(json["errors"][0]["field"], field, "{query}");
        let detail = json["detail"].as_str().unwrap();
        assert!(detail.contains(says), "{query}: {detail}");
    }
}

#[tokio::test]
async fn a_key_without_admin_is_refused_403_as_by_the_other_admin_routes() {
    let app = app().await;
    let bot = &app.acme.bot;
    let audit = app.call("GET", "/admin/audit", bot, "").await;
    let keys = app.call("GET", "/admin/keys", bot, "").await;
    audit.assert_problem(403, "insufficient_scope");
    assert_eq!(
        audit.header("www-authenticate"),
        keys.header("www-authenticate")
    );
    assert_eq!(audit.body, keys.body);
}

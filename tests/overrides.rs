//! A key's overrides of its plan's limit values, over real sockets: enforced by the layer, and
//! read-only in the admin API (only the operator sets them).

#![cfg(feature = "axum")]

mod wire;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::StatusCode;
use http_body_util::Full;
use keygate::key::KeyId;
use keygate::plan::{Limit, LimitValue, Overrides, Period, Plan};
use keygate::policy::RoutePolicy;
use keygate::{
    ApiKeyLayer, KeyManager, KeyStore, MemoryKeyStore, MemoryRateLimiter, NewKey, PlanManager,
    Scope, Workspace,
};
use serde_json::{Value, json};

/// A plan called `name` of `per_day` requests a UTC day, per key.
fn daily_plan(name: &str, per_day: u64) -> Plan {
    Plan::new(
        name.parse().unwrap(),
        vec![Limit::quota("daily".parse().unwrap(), per_day, Period::Day)],
    )
    .unwrap()
}

/// The plan `trial`: five requests a UTC day, per key.
fn trial() -> Plan {
    daily_plan("trial", 5)
}

/// The plan `team`, of the workspace's admin key: a thousand requests a day.
fn team() -> Plan {
    daily_plan("team", 1_000)
}

/// `daily` raised to `max`.
fn daily(max: u64) -> Overrides {
    Overrides::new(vec![("daily".parse().unwrap(), LimitValue::Max(max))]).unwrap()
}

fn acme() -> Workspace {
    "acme".parse().unwrap()
}

/// A key of `acme` named `name` with `scopes` on `plan`, with `overrides`: its id and
/// plaintext.
async fn key(
    store: &MemoryKeyStore,
    name: &str,
    scopes: &str,
    plan: &Plan,
    overrides: Overrides,
) -> (KeyId, String) {
    let created = store
        .create(
            NewKey::new(name.parse().unwrap(), scopes.parse().unwrap())
                .workspace(acme())
                .plan(plan.name().clone())
                .overrides(overrides),
        )
        .await
        .unwrap();
    (
        created.info.id,
        created.plaintext.expose_secret().to_owned(),
    )
}

/// acme's admin key, `workspace-admin` on `team`, without overrides: its id and plaintext.
async fn workspace_admin(store: &MemoryKeyStore) -> (KeyId, String) {
    key(
        store,
        "workspace-admin",
        "admin",
        &team(),
        Overrides::empty(),
    )
    .await
}

/// A store with `trial` and `team` defined, and `/v1/records` and the admin API (`/admin/**` needing
/// `admin`) behind the layer with an in-memory limiter, served on a free loopback port.
async fn serve() -> (MemoryKeyStore, SocketAddr) {
    let store = MemoryKeyStore::new();
    store.put_plan(trial()).await.unwrap();
    store.put_plan(team()).await.unwrap();
    let layer = ApiKeyLayer::builder(store.clone(), MemoryRateLimiter::new())
        .policy(RoutePolicy::new().route("/admin/**", Scope::Admin))
        .build();
    let router = Router::new()
        .route("/v1/records", get(|| async { "records" }))
        .nest(
            "/admin",
            keygate::admin::router_with_plans(Arc::new(store.clone())),
        )
        .layer(layer);
    (store, wire::serve_axum(router).await)
}

fn json_of(response: &http::Response<Bytes>) -> Value {
    serde_json::from_slice(response.body()).unwrap_or(Value::Null)
}

/// How many requests with `key` get 200 before the first that does not, and that answer.
async fn admitted_until_refused(addr: SocketAddr, key: &str) -> (usize, http::Response<Bytes>) {
    for admitted in 0..100 {
        let answer = wire::send(addr, wire::request("GET", "/v1/records", Some(key))).await;
        if answer.status() != StatusCode::OK {
            return (admitted, answer);
        }
    }
    panic!("a hundred requests admitted on a plan of five a day");
}

#[tokio::test]
async fn a_key_with_an_override_of_seven_gets_seven_200s_and_its_sibling_five() {
    let (store, addr) = serve().await;
    let (_, raised) = key(&store, "raised", "read:all", &trial(), daily(7)).await;
    let (_, sibling) = key(&store, "sibling", "read:all", &trial(), Overrides::empty()).await;

    let (admitted, refused) = admitted_until_refused(addr, &raised).await;
    assert_eq!(admitted, 7);
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = json_of(&refused);
    assert_eq!(body["code"], "quota_exceeded");
    assert_eq!(body["limit"], "daily");
    assert_eq!(body["plan"], "trial");

    let (admitted, refused) = admitted_until_refused(addr, &sibling).await;
    assert_eq!(admitted, 5);
    assert_eq!(json_of(&refused)["code"], "quota_exceeded");
}

/// Sends `method path` with `key` and a JSON `body` to the admin API.
async fn admin(
    addr: SocketAddr,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = wire::request(method, path, Some(key));
    if let Some(body) = body {
        *request.body_mut() = Full::new(Bytes::from(body.to_string()));
        request.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
    }
    let answer = wire::send(addr, request).await;
    (answer.status(), json_of(&answer))
}

/// What the admin API could have changed of each key (not its last use, which the requests
/// themselves record).
fn shape(keys: Vec<keygate::KeyInfo>) -> Vec<(KeyId, String, Option<String>, Overrides)> {
    keys.into_iter()
        .map(|k| {
            (
                k.id,
                k.name.to_string(),
                k.plan.map(|p| p.to_string()),
                k.overrides,
            )
        })
        .collect()
}

/// The members a 422 names.
fn refused_members(body: &Value) -> Vec<&str> {
    body["errors"]
        .as_array()
        .expect("a 422 lists its errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect()
}

#[tokio::test]
async fn the_admin_api_shows_a_keys_limits_read_only() {
    let (store, addr) = serve().await;
    let (_, admin_key) = workspace_admin(&store).await;
    let (id, _) = key(&store, "ci", "read:all", &trial(), daily(7)).await;
    let (status, shown) = admin(addr, &admin_key, "GET", &format!("/admin/keys/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["limits"], json!({"daily": {"max": 7}}));
    let (_, listed) = admin(addr, &admin_key, "GET", "/admin/keys", None).await;
    let admin_view = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "workspace-admin")
        .unwrap();
    assert_eq!(admin_view["limits"], json!({}), "none: the empty object");
}

#[tokio::test]
async fn a_workspace_admin_cannot_raise_its_keys_limits_and_nothing_changes() {
    let (store, addr) = serve().await;
    let (admin_id, admin_key) = workspace_admin(&store).await;
    let (id, _) = key(&store, "ci", "read:all", &trial(), daily(7)).await;
    let raise = json!({"daily": {"max": 1_000_000}});
    for target in [id, admin_id] {
        let path = format!("/admin/keys/{target}");
        for member in ["limits", "overrides"] {
            for body in [
                json!({ member: raise.clone() }),
                json!({ member: raise.clone(), "name": "renamed" }),
            ] {
                let (status, answer) = admin(addr, &admin_key, "PATCH", &path, Some(body)).await;
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
                assert_eq!(answer["code"], "invalid_request");
                assert!(refused_members(&answer).contains(&member), "{answer}");
                assert!(answer.to_string().contains("operator"), "{answer}");
            }
        }
    }
    let before = store.list(&acme()).await.unwrap();
    let (status, answer) = admin(
        addr,
        &admin_key,
        "POST",
        "/admin/keys",
        Some(json!({"name": "bigger", "scopes": ["read:all"], "limits": raise})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(refused_members(&answer), ["limits"]);

    // Nothing changed: no key made, names and overrides as they were, limits as the operator
    // set them.
    assert_eq!(shape(store.list(&acme()).await.unwrap()), shape(before));
    let info = store.info(&acme(), &id).await.unwrap();
    assert_eq!((info.name.as_str(), info.overrides), ("ci", daily(7)));
    assert!(
        store
            .info(&acme(), &admin_id)
            .await
            .unwrap()
            .overrides
            .is_empty()
    );
    let record = store.get(&id).await.unwrap().unwrap();
    assert_eq!(record.plan, Some(trial().with_overrides(&daily(7))));
    let record = store.get(&admin_id).await.unwrap().unwrap();
    assert_eq!(record.plan, Some(team()));
}

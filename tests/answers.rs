//! One renderer for every answer: the admin API, `RequireScopeLayer` and the missing-layer
//! answer say what the layer says, over real sockets.

mod wire;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use keygate::{
    ApiKeyLayer, KeyManager, MemoryKeyStore, MemoryRateLimiter, NewKey, Quota, Realm,
    RequireScopeLayer, Scope,
};
use serde_json::Value;

async fn key(store: &MemoryKeyStore, scopes: &str, quota: Option<Quota>) -> String {
    let mut new = NewKey::new("ci-pipeline".parse().unwrap(), scopes.parse().unwrap());
    if let Some(quota) = quota {
        new = new.quota(quota);
    }
    let created = store.create(new).await.unwrap();
    created.plaintext.expose_secret().to_owned()
}

fn json(response: &http::Response<bytes::Bytes>) -> Value {
    serde_json::from_slice(response.body()).unwrap()
}

/// The admin API behind a layer in realm `acme` (no route policy: the handlers refuse).
async fn admin_app(store: &MemoryKeyStore, realm: &str) -> std::net::SocketAddr {
    let layer = ApiKeyLayer::builder(store.clone(), MemoryRateLimiter::new())
        .realm(realm)
        .unwrap()
        .build();
    let admin =
        keygate::admin::router_with_realm(Arc::new(store.clone()), Realm::new(realm).unwrap());
    wire::serve_axum(Router::new().nest("/admin", admin).layer(layer)).await
}

#[tokio::test]
async fn admin_refusal_of_a_key_without_admin_is_never_cached() {
    let store = MemoryKeyStore::new();
    let reader = key(&store, "read:all", None).await;
    let addr = admin_app(&store, "api").await;
    let response = wire::send(addr, wire::request("GET", "/admin/keys", Some(&reader))).await;
    assert_eq!(response.status(), 403);
    assert_eq!(wire::problem_code(&response), "insufficient_scope");
    assert_eq!(wire::header(&response, "cache-control"), "no-store");
}

#[tokio::test]
async fn admin_refusal_names_the_realm_of_the_layer_in_front() {
    let store = MemoryKeyStore::new();
    let reader = key(&store, "read:all", None).await;
    let addr = admin_app(&store, "acme").await;
    let response = wire::send(addr, wire::request("GET", "/admin/keys", Some(&reader))).await;
    assert_eq!(
        wire::header(&response, "www-authenticate"),
        "Bearer realm=\"acme\", error=\"insufficient_scope\", scope=\"admin\""
    );
}

#[tokio::test]
async fn admin_refusal_is_the_body_the_layer_gives_for_the_same_row() {
    let store = MemoryKeyStore::new();
    let reader = key(&store, "read:all", None).await;
    let layer = ApiKeyLayer::builder(store.clone(), MemoryRateLimiter::new()).build();
    let app = Router::new()
        .nest("/admin", keygate::admin::router(Arc::new(store.clone())))
        .route(
            "/v1/admin-only",
            get(|| async { "ok" }).route_layer(RequireScopeLayer::new(Scope::Admin)),
        )
        .layer(layer);
    let addr = wire::serve_axum(app).await;
    let admin = wire::send(addr, wire::request("GET", "/admin/keys", Some(&reader))).await;
    let route = wire::send(addr, wire::request("GET", "/v1/admin-only", Some(&reader))).await;
    assert_eq!(admin.body(), route.body());
    for name in ["www-authenticate", "cache-control", "content-type"] {
        assert_eq!(
            wire::header(&admin, name),
            wire::header(&route, name),
            "{name}"
        );
    }
}

#[tokio::test]
async fn admin_validation_errors_are_never_cached_and_list_each_field() {
    let store = MemoryKeyStore::new();
    let admin_key = key(&store, "admin", None).await;
    let addr = admin_app(&store, "api").await;
    let mut request = wire::request("POST", "/admin/keys", Some(&admin_key));
    *request.body_mut() = http_body_util::Full::new(bytes::Bytes::from_static(
        br#"{"name":"","scopes":["nope"]}"#,
    ));
    request
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    let response = wire::send(addr, request).await;
    assert_eq!(response.status(), 422);
    assert_eq!(
        wire::header(&response, "content-type"),
        "application/problem+json"
    );
    assert_eq!(wire::header(&response, "cache-control"), "no-store");
    let body = json(&response);
    assert_eq!(body["code"], "invalid_request");
    assert_eq!(body["status"], 422);
    assert!(
        body["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn missing_layer_answer_is_never_cached() {
    let app = Router::new().route(
        "/v1/admin-only",
        get(|| async { "ok" }).route_layer(RequireScopeLayer::new(Scope::Admin)),
    );
    let addr = wire::serve_axum(app).await;
    let response = wire::send(addr, wire::request("GET", "/v1/admin-only", None)).await;
    assert_eq!(response.status(), 500);
    assert_eq!(wire::problem_code(&response), "missing_api_key_layer");
    assert_eq!(wire::header(&response, "cache-control"), "no-store");
}

//! The SQLite server example: the first admin key, the admin API and the demo routes.

#![cfg(all(feature = "sqlite", feature = "axum"))]

#[path = "../examples/server.rs"]
#[allow(dead_code)]
mod server;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use keygate::store::sqlite::SqliteKeyStore;
use serde_json::Value;
use tower::ServiceExt;

async fn call(
    router: &Router,
    method: &str,
    path: &str,
    key: &str,
    body: &str,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn first_start_creates_one_admin_key_and_a_restart_creates_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let first = server::server(SqliteKeyStore::open(&path).await.unwrap())
        .await
        .unwrap();
    let admin = first
        .first_admin_key
        .clone()
        .expect("an admin key on first start");
    drop(first);

    let again = server::server(SqliteKeyStore::open(&path).await.unwrap())
        .await
        .unwrap();
    assert!(again.first_admin_key.is_none());
    let (status, listed) = call(&again.router, "GET", "/admin/keys", &admin, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["keys"].as_array().unwrap().len(), 1);
    assert_eq!(listed["keys"][0]["scopes"], serde_json::json!(["admin"]));
}

#[tokio::test]
async fn key_created_through_the_admin_api_reads_records_but_cannot_write_them() {
    let dir = tempfile::tempdir().unwrap();
    let app = server::server(
        SqliteKeyStore::open(dir.path().join("keys.db"))
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let admin = app.first_admin_key.unwrap();
    let (status, created) = call(
        &app.router,
        "POST",
        "/admin/keys",
        &admin,
        r#"{"name": "local-dev", "scopes": ["read:all"]}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let key = created["key"].as_str().unwrap();
    assert_eq!(
        call(&app.router, "GET", "/v1/records", key, "").await.0,
        StatusCode::OK
    );
    let (status, problem) = call(&app.router, "POST", "/v1/records", key, "new").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(problem["required_scope"], "write:all");
    let (status, _) = call(&app.router, "GET", "/admin/keys", key, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

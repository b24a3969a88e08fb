//! The quickstart's routes, scopes and demo quota.

#[path = "../examples/quickstart.rs"]
#[allow(dead_code)]
mod quickstart;

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn call(
    demo: &quickstart::Demo,
    method: &str,
    path: &str,
    key: Option<&str>,
) -> (StatusCode, String) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(key) = key {
        req = req.header("authorization", format!("Bearer {key}"));
    }
    let response = demo
        .router
        .clone()
        .oneshot(req.body(Body::from("a record")).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn key<'a>(demo: &'a quickstart::Demo, name: &str) -> &'a str {
    &demo.keys.iter().find(|k| k.name == name).unwrap().plaintext
}

#[tokio::test]
async fn quickstart_prints_the_three_documented_demo_keys() {
    let demo = quickstart::demo().await;
    let keys: Vec<(&str, &str)> = demo
        .keys
        .iter()
        .map(|k| (k.name.as_str(), k.scopes.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("production-backend", "admin"),
            ("ci-pipeline", "read:all,write:all"),
            ("local-dev", "read:all")
        ]
    );
    assert!(demo.keys.iter().all(|k| k.plaintext.starts_with("demo_")));
}

#[tokio::test]
async fn reading_records_needs_read_all() {
    let demo = quickstart::demo().await;
    assert_eq!(
        call(&demo, "GET", "/v1/records", Some(key(&demo, "local-dev")))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        call(&demo, "GET", "/v1/records", None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn creating_records_needs_write_all() {
    let demo = quickstart::demo().await;
    assert_eq!(
        call(&demo, "POST", "/v1/records", Some(key(&demo, "local-dev")))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = call(
        &demo,
        "POST",
        "/v1/records",
        Some(key(&demo, "ci-pipeline")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(body.contains("\"created_by\":\"ci-pipeline\""));
}

#[tokio::test]
async fn admin_route_needs_admin_and_lists_keys_without_secrets() {
    let demo = quickstart::demo().await;
    assert_eq!(
        call(
            &demo,
            "GET",
            "/v1/admin/keys",
            Some(key(&demo, "ci-pipeline"))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = call(
        &demo,
        "GET",
        "/v1/admin/keys",
        Some(key(&demo, "production-backend")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for k in &demo.keys {
        assert!(body.contains(&k.name));
        assert!(!body.contains(&k.plaintext[k.plaintext.len() - 49..]));
    }
}

#[tokio::test]
async fn local_dev_is_limited_after_a_burst_of_five() {
    let demo = quickstart::demo().await;
    let dev = key(&demo, "local-dev");
    for _ in 0..5 {
        assert_eq!(
            call(&demo, "GET", "/v1/records", Some(dev)).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(
        call(&demo, "GET", "/v1/records", Some(dev)).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn quickstart_answers_carry_the_product_documentations_fixes() {
    let demo = quickstart::demo().await;
    let dev = key(&demo, "local-dev");
    let (status, body) = call(&demo, "POST", "/v1/records", Some(dev)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let fix = serde_json::from_str::<serde_json::Value>(&body).unwrap()["fix"].clone();
    assert_eq!(
        fix,
        "Open Settings → API Keys, edit the key, and add the necessary scope (write:all)"
    );
    let mut last = (StatusCode::OK, String::new());
    for _ in 0..6 {
        last = call(&demo, "GET", "/v1/records", Some(dev)).await;
    }
    assert_eq!(last.0, StatusCode::TOO_MANY_REQUESTS);
    let fix = serde_json::from_str::<serde_json::Value>(&last.1).unwrap()["fix"].clone();
    assert_eq!(
        fix,
        "Back off and retry after the number of seconds indicated in the Retry-After response \
         header; review the Rate Limits page for per-plan limits"
    );
}

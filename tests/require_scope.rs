//! `RequireScopeLayer` is plain tower: it runs in a `ServiceBuilder` stack over a bare
//! `service_fn`, with no web framework, and answers as the layer does.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use keygate::{
    ApiKeyLayer, KeyManager, MemoryKeyStore, MemoryRateLimiter, MissingApiKeyLayer, NewKey, Realm,
    Rejection, RequireScopeLayer, Scope,
};
use tower::{ServiceBuilder, ServiceExt, service_fn};

async fn hello(_: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"hello"))))
}

fn get(key: Option<&str>) -> Request<Full<Bytes>> {
    let mut builder = Request::get("/v1/reports");
    if let Some(key) = key {
        builder = builder.header("authorization", format!("Bearer {key}"));
    }
    builder.body(Full::new(Bytes::new())).unwrap()
}

async fn reader(store: &MemoryKeyStore) -> String {
    let created = store
        .create(NewKey::new(
            "ci".parse().unwrap(),
            "read:all".parse().unwrap(),
        ))
        .await
        .unwrap();
    created.plaintext.expose_secret().to_owned()
}

#[tokio::test]
async fn a_key_without_the_route_scope_gets_the_layer_403_in_a_plain_tower_stack() {
    let store = MemoryKeyStore::new();
    let key = reader(&store).await;
    let acme = Realm::new("acme").unwrap();
    let service = ServiceBuilder::new()
        .layer(
            ApiKeyLayer::builder(store, MemoryRateLimiter::new())
                .realm("acme")
                .unwrap()
                .build(),
        )
        .layer(RequireScopeLayer::new(Scope::Admin).with_realm(acme))
        .service(service_fn(hello));
    let response = service.oneshot(get(Some(&key))).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"acme\", error=\"insufficient_scope\", scope=\"admin\""
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    let rejection = response.extensions().get::<Rejection>().unwrap();
    assert_eq!(rejection.required_scope(), Some(&Scope::Admin));
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(body.starts_with(br#"{"type":"about:blank","title":"Forbidden","status":403"#));
}

#[tokio::test]
async fn without_the_api_key_layer_the_answer_is_the_missing_layer_500() {
    let service = ServiceBuilder::new()
        .layer(RequireScopeLayer::new(Scope::Admin))
        .service(service_fn(hello));
    let response = service.oneshot(get(None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(response.extensions().get::<MissingApiKeyLayer>().is_some());
}

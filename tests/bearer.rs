//! RFC 6750 §2.1 parsing of `Authorization: Bearer`, end to end through the layer.

mod common;

use bytes::Bytes;
use common::*;
use http::{HeaderValue, Request, StatusCode};
use http_body_util::Full;

fn with_header(value: &[u8]) -> Request<Full<Bytes>> {
    let mut req = bare(get("/v1/records"));
    req.headers_mut()
        .insert("authorization", HeaderValue::from_bytes(value).unwrap());
    req
}

async fn answer_for(h: &Harness, value: &str) -> Answer {
    send(&h.service(), with_header(value.as_bytes())).await
}

#[tokio::test]
async fn scheme_is_accepted_in_any_case() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        h.clock.advance(std::time::Duration::from_secs(1));
        let answer = answer_for(&h, &format!("{scheme} {key}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{scheme}");
    }
}

#[tokio::test]
async fn several_spaces_after_the_scheme_are_accepted() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    assert_eq!(
        answer_for(&h, &format!("Bearer    {key}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn b64token_characters_that_are_not_in_keys_are_malformed_not_illegal() {
    let h = Harness::new();
    let answer = answer_for(&h, "Bearer abc-._~+/DEF").await;
    assert_eq!(answer.code(), "malformed_api_key");
    assert_eq!(h.lookups(), 0);
}

#[tokio::test]
async fn key_with_trailing_equals_padding_is_malformed() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let answer = answer_for(&h, &format!("Bearer {key}==")).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.code(), "malformed_api_key");
    assert_eq!(h.lookups(), 0);
}

#[tokio::test]
async fn bearer_without_a_token_is_malformed() {
    let h = Harness::new();
    for value in ["Bearer", "Bearer ", "bearer     "] {
        let answer = answer_for(&h, value).await;
        assert_eq!(answer.code(), "malformed_api_key", "{value:?}");
    }
}

#[tokio::test]
async fn empty_authorization_header_is_malformed_not_missing() {
    let h = Harness::new();
    assert_eq!(answer_for(&h, "").await.code(), "malformed_api_key");
}

#[tokio::test]
async fn internal_whitespace_is_malformed() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let (head, tail) = key.split_at(20);
    for value in [
        format!("Bearer {head} {tail}"),
        format!("Bearer\t{key}"),
        format!("Bearer {head}\t{tail}"),
    ] {
        let answer = answer_for(&h, &value).await;
        assert_eq!(answer.code(), "malformed_api_key", "{value:?}");
    }
    assert_eq!(h.lookups(), 0);
}

#[tokio::test]
async fn surrounding_whitespace_is_not_part_of_the_value() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    assert_eq!(
        answer_for(&h, &format!("  Bearer {key}  ")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn two_authorization_headers_are_malformed() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let req = get("/v1/records")
        .header("authorization", format!("Bearer {key}"))
        .header("authorization", format!("Bearer {key}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let answer = send(&h.service(), req).await;
    assert_eq!(answer.code(), "malformed_api_key");
}

#[tokio::test]
async fn comma_joined_credentials_are_malformed() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let answer = answer_for(&h, &format!("Bearer {key}, Bearer {key}")).await;
    assert_eq!(answer.code(), "malformed_api_key");
}

#[tokio::test]
async fn key_in_the_query_string_is_ignored() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let req = bare(get(&format!("/v1/records?access_token={key}")));
    let answer = send(&h.service(), req).await;
    assert_eq!(answer.code(), "missing_api_key");
}

#[tokio::test]
async fn key_of_another_prefix_is_malformed() {
    let h = Harness::new();
    let other = keygate::key::generate(&"acme".parse().unwrap()).unwrap();
    let answer = answer_for(&h, &format!("Bearer {}", other.plaintext.expose_secret())).await;
    assert_eq!(answer.code(), "malformed_api_key");
}

#[tokio::test]
async fn non_ascii_bytes_are_malformed() {
    let h = Harness::new();
    let answer = send(&h.service(), with_header(b"Bearer caf\xc3\xa9")).await;
    assert_eq!(answer.code(), "malformed_api_key");
}

#[tokio::test]
async fn the_layer_accepts_the_keys_of_its_stores_prefix() {
    use keygate::key::KeyPrefix;
    use keygate::{ApiKeyLayer, KeyManager, MemoryKeyStore, MemoryRateLimiter, NewKey};
    let store = MemoryKeyStore::with_prefix(KeyPrefix::new("acme").unwrap());
    let created = store
        .create(NewKey::new(
            "ci-pipeline".parse().unwrap(),
            "read:all".parse().unwrap(),
        ))
        .await
        .unwrap();
    let svc: Svc = tower::util::BoxCloneService::new(
        tower::ServiceBuilder::new()
            .layer(ApiKeyLayer::new(store, MemoryRateLimiter::new()))
            .service(tower::service_fn(echo)),
    );
    let key = created.plaintext.expose_secret();
    assert!(key.starts_with("acme_"), "{key}");
    let answer = send(&svc, with_key(get("/v1/records"), key)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

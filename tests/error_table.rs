//! Every row of the error table, end to end through the layer.

mod common;

use keygate::Workspace;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use keygate::clock::Clock;
use keygate::key::KeyId;
use keygate::transport::{ProxyHeader, SecureTransport};
use keygate::{ErrorCode, FailurePolicy, KeyManager, KeyUpdate, NewKey, Quota, Rejection};
use tower::util::BoxCloneService;
use tower::{ServiceBuilder, service_fn};

#[tokio::test]
async fn request_without_authorization_is_rejected_with_401_missing_api_key() {
    let h = Harness::new();
    let answer = send(&h.service(), bare(get("/v1/records"))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.code(), "missing_api_key");
    assert_eq!(answer.header("www-authenticate"), "Bearer realm=\"api\"");
}

#[tokio::test]
async fn non_bearer_scheme_is_rejected_with_401_malformed_api_key() {
    let h = Harness::new();
    let req = get("/v1/records")
        .header("authorization", "Basic dXNlcjpwYXNz")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let answer = send(&h.service(), req).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.code(), "malformed_api_key");
    let challenge = answer.header("www-authenticate");
    assert!(
        challenge
            .starts_with("Bearer realm=\"api\", error=\"invalid_token\", error_description=\"")
    );
}

#[tokio::test]
async fn key_with_a_typo_is_rejected_before_the_store_is_asked() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let mut typo = key.clone();
    let last = typo.pop().unwrap();
    typo.push(if last == 'x' { 'y' } else { 'x' });
    let answer = send(&h.service(), with_key(get("/v1/records"), &typo)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.code(), "malformed_api_key");
    assert_eq!(h.lookups(), 0);
}

#[tokio::test]
async fn unknown_id_is_rejected_with_401_invalid_api_key() {
    let h = Harness::new();
    let other = keygate::key::generate(&keygate::key::KeyPrefix::default()).unwrap();
    let answer = send(
        &h.service(),
        with_key(get("/v1/records"), other.plaintext.expose_secret()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.code(), "invalid_api_key");
    assert_eq!(h.lookups(), 1);
}

/// A key with the id of `id` but a fresh secret (and a valid checksum).
fn same_id_other_secret(id: KeyId) -> String {
    let forged = keygate::key::generate_for(&keygate::key::KeyPrefix::default(), id).unwrap();
    forged.plaintext.expose_secret().to_owned()
}

#[tokio::test]
async fn wrong_secret_gets_the_same_answer_as_an_unknown_id() {
    let h = Harness::new();
    let (id, _) = h.key("local-dev", "read:all").await;
    let svc = h.service();
    let wrong = send(
        &svc,
        with_key(get("/v1/records"), &same_id_other_secret(id)),
    )
    .await;
    let unknown_key = keygate::key::generate(&keygate::key::KeyPrefix::default()).unwrap();
    let unknown = send(
        &svc,
        with_key(get("/v1/records"), unknown_key.plaintext.expose_secret()),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.headers, unknown.headers);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.code(), "invalid_api_key");
}

#[tokio::test]
async fn revoked_key_is_rejected_with_401_revoked_api_key() {
    let h = Harness::new();
    let (id, key) = h.key("local-dev", "read:all").await;
    h.store.revoke(&Workspace::default(), &id).await.unwrap();
    let answer = send(&h.service(), with_key(get("/v1/records"), &key)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.code(), "revoked_api_key");
    assert!(
        answer
            .header("www-authenticate")
            .contains("error=\"invalid_token\"")
    );
}

#[tokio::test]
async fn revoked_key_with_a_wrong_secret_is_only_told_invalid() {
    let h = Harness::new();
    let (id, _) = h.key("local-dev", "read:all").await;
    h.store.revoke(&Workspace::default(), &id).await.unwrap();
    let answer = send(
        &h.service(),
        with_key(get("/v1/records"), &same_id_other_secret(id)),
    )
    .await;
    assert_eq!(answer.code(), "invalid_api_key");
}

#[tokio::test]
async fn expired_key_is_rejected_with_401_expired_api_key() {
    let h = Harness::new();
    let new = NewKey::new("ci-pipeline".parse().unwrap(), "read:all".parse().unwrap())
        .expires_at(h.clock.now() + Duration::from_secs(60));
    let created = h.store.create(new).await.unwrap();
    let key = created.plaintext.expose_secret().to_owned();
    let svc = h.service();
    assert_eq!(
        send(&svc, with_key(get("/v1/records"), &key)).await.status,
        StatusCode::OK
    );
    h.clock.advance(Duration::from_secs(60));
    let answer = send(&svc, with_key(get("/v1/records"), &key)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.code(), "expired_api_key");
}

#[tokio::test]
async fn expired_key_with_a_wrong_secret_is_only_told_invalid() {
    let h = Harness::new();
    let new = NewKey::new("ci-pipeline".parse().unwrap(), "read:all".parse().unwrap())
        .expires_at(h.clock.now() + Duration::from_secs(1));
    let id = h.store.create(new).await.unwrap().info.id;
    h.clock.advance(Duration::from_secs(2));
    let answer = send(
        &h.service(),
        with_key(get("/v1/records"), &same_id_other_secret(id)),
    )
    .await;
    assert_eq!(answer.code(), "invalid_api_key");
}

#[tokio::test]
async fn key_without_the_scope_is_rejected_with_403_insufficient_scope() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let answer = send(&h.service(), with_key(Request::post("/v1/records"), &key)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.code(), "insufficient_scope");
    assert_eq!(
        answer.header("www-authenticate"),
        "Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"write:all\""
    );
    assert_eq!(
        answer.json()["fix"],
        "Use a key that has the necessary scope, or add the scope to this key (write:all)"
    );
}

#[tokio::test]
async fn default_fix_texts_name_no_product_screen() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let svc = h.service();
    let forbidden = send(&svc, with_key(Request::post("/v1/records"), &key)).await;
    for _ in 0..3 {
        send(&svc, with_key(get("/v1/records"), &key)).await;
    }
    let limited = send(&svc, with_key(get("/v1/records"), &key)).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    for answer in [&forbidden, &limited] {
        let fix = answer.json()["fix"].as_str().unwrap().to_owned();
        assert!(!fix.contains("Settings") && !fix.contains("page"), "{fix}");
    }
}

#[tokio::test]
async fn configured_fix_texts_replace_the_defaults_per_row() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let responder = keygate::respond::DefaultRejection::new()
        .fix(
            keygate::ErrorCode::InsufficientScope,
            "Open Settings → API Keys, edit the key, and add the necessary scope",
        )
        .fix(
            keygate::ErrorCode::RateLimited,
            "Slow down; see the Rate Limits page",
        );
    let layer = h
        .builder()
        .default_quota(Quota::per_second(nz(1)))
        .rejection_response(responder)
        .build();
    let svc: Svc = BoxCloneService::new(
        tower::ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(echo)),
    );
    let forbidden = send(&svc, with_key(Request::post("/v1/records"), &key)).await;
    assert_eq!(
        forbidden.json()["fix"],
        "Open Settings → API Keys, edit the key, and add the necessary scope (write:all)"
    );
    send(&svc, with_key(get("/v1/records"), &key)).await;
    let limited = send(&svc, with_key(get("/v1/records"), &key)).await;
    assert_eq!(limited.json()["fix"], "Slow down; see the Rate Limits page");
    let missing = send(&svc, bare(get("/v1/records"))).await;
    assert_eq!(
        missing.json()["fix"],
        keygate::ErrorCode::MissingApiKey.fix()
    );
}

#[tokio::test]
async fn rejected_scope_spends_no_quota() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let svc = h.service();
    for _ in 0..10 {
        let answer = send(&svc, with_key(Request::post("/v1/records"), &key)).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
    }
    // The default quota is a burst of 3: all of it is still there.
    for _ in 0..3 {
        assert_eq!(
            send(&svc, with_key(get("/v1/records"), &key)).await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn admin_key_reaches_read_and_write_routes() {
    let h = Harness::new();
    let (_, key) = h.key("production-backend", "admin").await;
    let svc = h.service();
    for method in [Method::GET, Method::POST, Method::PATCH, Method::DELETE] {
        h.clock.advance(Duration::from_secs(1));
        let answer = send(
            &svc,
            with_key(
                Request::builder().method(method.clone()).uri("/v1/records"),
                &key,
            ),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{method}");
    }
}

#[tokio::test]
async fn over_the_limit_is_rejected_with_429_and_retry_after() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let svc = h.service();
    for _ in 0..3 {
        assert_eq!(
            send(&svc, with_key(get("/v1/records"), &key)).await.status,
            StatusCode::OK
        );
    }
    let answer = send(&svc, with_key(get("/v1/records"), &key)).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.code(), "rate_limited");
    // One request comes back every 333 ms: rounded up, that is 1 second.
    assert_eq!(answer.header("retry-after"), "1");
    assert_eq!(answer.header("cache-control"), "no-store");
    assert_eq!(answer.header("ratelimit"), "\"default\";r=0;t=1");
    assert_eq!(answer.header("ratelimit-policy"), "\"default\";q=3;w=1");
    assert_eq!(answer.json()["retry_after"], 1);
}

#[tokio::test]
async fn retry_after_is_whole_seconds_rounded_up() {
    let h = Harness::new();
    let created = h
        .store
        .create(
            NewKey::new("slow".parse().unwrap(), "read:all".parse().unwrap())
                .quota(Quota::per_minute(nz(1))),
        )
        .await
        .unwrap();
    let key = created.plaintext.expose_secret().to_owned();
    let svc = h.service();
    send(&svc, with_key(get("/"), &key)).await;
    h.clock.advance(Duration::from_millis(20_500));
    let answer = send(&svc, with_key(get("/"), &key)).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.header("retry-after"), "40");
}

#[tokio::test]
async fn a_limited_key_passes_again_after_retry_after() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let svc = h.service();
    for _ in 0..3 {
        send(&svc, with_key(get("/"), &key)).await;
    }
    let limited = send(&svc, with_key(get("/"), &key)).await;
    let secs: u64 = limited.header("retry-after").parse().unwrap();
    h.clock.advance(Duration::from_secs(secs));
    assert_eq!(
        send(&svc, with_key(get("/"), &key)).await.status,
        StatusCode::OK
    );
}

fn https_service(h: &Harness, proxy: Option<ProxyHeader>) -> Svc {
    let mut builder = h.builder().require_https(true);
    if let Some(header) = proxy {
        builder = builder.trusted_proxy_header(header);
    }
    let layer = builder.build();
    BoxCloneService::new(ServiceBuilder::new().layer(layer).service(service_fn(echo)))
}

#[tokio::test]
async fn plain_http_is_rejected_with_403_https_required() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let answer = send(&https_service(&h, None), with_key(get("/v1/records"), &key)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.code(), "https_required");
    assert!(!answer.headers.contains_key("www-authenticate"));
    assert_eq!(h.lookups(), 0);
}

#[tokio::test]
async fn tls_marker_extension_counts_as_https() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let mut req = with_key(get("/v1/records"), &key);
    req.extensions_mut().insert(SecureTransport);
    assert_eq!(
        send(&https_service(&h, None), req).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn forwarded_proto_counts_only_behind_a_trusted_proxy() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let req = || {
        with_key(
            get("/v1/records").header("x-forwarded-proto", "https"),
            &key,
        )
    };
    assert_eq!(
        send(&https_service(&h, None), req()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(
            &https_service(&h, Some(ProxyHeader::XForwardedProto)),
            req()
        )
        .await
        .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn store_failure_is_answered_with_503_auth_unavailable() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let layer = keygate::ApiKeyLayer::new(DownStore, h.limiter.clone());
    let svc: Svc =
        BoxCloneService::new(ServiceBuilder::new().layer(layer).service(service_fn(echo)));
    let answer = send(&svc, with_key(get("/v1/records"), &key)).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.code(), "auth_unavailable");
    assert_eq!(answer.header("retry-after"), "5");
}

fn down_limiter_service(h: &Harness, policy: FailurePolicy) -> Svc {
    let layer = keygate::ApiKeyLayer::builder(h.store.clone(), DownLimiter)
        .default_quota(Quota::per_second(nz(10)))
        .on_limiter_failure(policy)
        .build();
    BoxCloneService::new(ServiceBuilder::new().layer(layer).service(service_fn(echo)))
}

#[tokio::test]
async fn limiter_failure_fails_closed_with_503_by_default() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let answer = send(
        &down_limiter_service(&h, FailurePolicy::default()),
        with_key(get("/"), &key),
    )
    .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.code(), "auth_unavailable");
    assert!(answer.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn limiter_failure_fails_open_when_configured() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let answer = send(
        &down_limiter_service(&h, FailurePolicy::FailOpen),
        with_key(get("/"), &key),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(!answer.headers.contains_key("ratelimit"));
}

#[tokio::test]
async fn success_attaches_the_authenticated_key_and_rate_limit_headers() {
    let h = Harness::new();
    let (_, key) = h.key("ci-pipeline", "read:all,write:all").await;
    let answer = send(&h.service(), with_key(get("/v1/records"), &key)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "ci-pipeline read:all,write:all");
    assert_eq!(answer.header("ratelimit"), "\"default\";r=2;t=1");
    assert_eq!(answer.header("ratelimit-policy"), "\"default\";q=3;w=1");
}

#[tokio::test]
async fn x_ratelimit_headers_can_replace_the_ietf_ones() {
    let h = Harness::new();
    let (_, key) = h.key("ci-pipeline", "read:all").await;
    let layer = h
        .builder()
        .default_quota(Quota::per_second(nz(3)))
        .rate_limit_headers(keygate::RateLimitHeaders::XRateLimit)
        .build();
    let svc: Svc =
        BoxCloneService::new(ServiceBuilder::new().layer(layer).service(service_fn(echo)));
    let answer = send(&svc, with_key(get("/"), &key)).await;
    assert_eq!(answer.header("x-ratelimit-limit"), "3");
    assert_eq!(answer.header("x-ratelimit-remaining"), "2");
    assert!(!answer.headers.contains_key("ratelimit"));
}

#[tokio::test]
async fn the_asynchronous_store_path_gives_the_same_answers() {
    let h = Harness::new();
    let (_, reader) = h.key("local-dev", "read:all").await;
    let layer = keygate::ApiKeyLayer::builder(SuspendingStore(h.store.clone()), h.limiter.clone())
        .default_quota(Quota::per_second(nz(1)))
        .build();
    let svc: Svc =
        BoxCloneService::new(ServiceBuilder::new().layer(layer).service(service_fn(echo)));
    assert_eq!(
        send(&svc, with_key(get("/"), &reader)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&svc, with_key(get("/"), &reader)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        send(&svc, with_key(Request::post("/"), &reader))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let stranger = keygate::key::generate(&keygate::key::KeyPrefix::default()).unwrap();
    assert_eq!(
        send(&svc, with_key(get("/"), stranger.plaintext.expose_secret()))
            .await
            .code(),
        "invalid_api_key"
    );
}

#[tokio::test]
async fn problem_body_carries_the_documented_meaning_and_fix() {
    let h = Harness::new();
    let answer = send(&h.service(), bare(get("/v1/records"))).await;
    assert_eq!(answer.header("content-type"), "application/problem+json");
    let json = answer.json();
    assert_eq!(json["type"], "about:blank");
    assert_eq!(json["title"], "Unauthorized");
    assert_eq!(json["status"], 401);
    assert_eq!(
        json["detail"],
        "The API key is missing, malformed, or has been revoked"
    );
    assert_eq!(
        json["fix"],
        "Double-check the Authorization: Bearer ... header is present and the key is copied correctly with no whitespace"
    );
}

#[tokio::test]
async fn the_rejection_is_left_in_the_response_extensions() {
    let h = Harness::new();
    let answer = send(&h.service(), bare(get("/v1/records"))).await;
    let rejection = answer.extensions.get::<Rejection>().unwrap();
    assert_eq!(rejection.code(), ErrorCode::MissingApiKey);
}

#[tokio::test]
async fn a_custom_rejection_response_keeps_the_protocol_headers() {
    let h = Harness::new();
    let layer = h
        .builder()
        .rejection_response(|r: &Rejection| {
            Response::builder()
                .status(r.status())
                .body(Bytes::from(format!("nope: {}", r.code())))
                .unwrap()
        })
        .build();
    let svc: Svc =
        BoxCloneService::new(ServiceBuilder::new().layer(layer).service(service_fn(echo)));
    let answer = send(&svc, bare(get("/"))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.body, "nope: missing_api_key");
    assert_eq!(answer.header("www-authenticate"), "Bearer realm=\"api\"");
}

#[tokio::test]
async fn grpc_requests_get_a_grpc_status() {
    let h = Harness::new();
    let req = Request::post("/grpc.health.v1.Health/Check")
        .header("content-type", "application/grpc")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let answer = send(&h.service(), req).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), "application/grpc");
    assert_eq!(answer.header("grpc-status"), "16");
    assert!(
        answer
            .header("grpc-message")
            .starts_with("The API key is missing")
    );
    assert!(!answer.headers.contains_key("www-authenticate"));
}

#[tokio::test]
async fn adding_the_missing_scope_turns_403_into_200() {
    let h = Harness::new();
    let (id, key) = h.key("ci-pipeline", "read:all").await;
    let svc = h.service();
    assert_eq!(
        send(&svc, with_key(Request::post("/"), &key)).await.status,
        StatusCode::FORBIDDEN
    );
    h.store
        .update(
            &Workspace::default(),
            &id,
            KeyUpdate::new().scopes("read:all,write:all".parse().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(
        send(&svc, with_key(Request::post("/"), &key)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_realm_with_a_quote_is_refused() {
    let h = Harness::new();
    assert!(h.builder().realm("a\"b").is_err());
    let layer = h.builder().realm("acme").unwrap().build();
    let svc: Svc =
        BoxCloneService::new(ServiceBuilder::new().layer(layer).service(service_fn(echo)));
    assert_eq!(
        send(&svc, bare(get("/"))).await.header("www-authenticate"),
        "Bearer realm=\"acme\""
    );
}

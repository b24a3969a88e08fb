//! The leak-report endpoint over real sockets: reports signed with locally generated P-256
//! keys, posted to `keygate::leaks::router` nested in an axum app whose API routes sit behind
//! `ApiKeyLayer` on the same memory store.

mod common;
mod wire;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use common::{CountingStore, Harness};
use http::{Response, StatusCode};
use http_body_util::Full;
use keygate::audit::{Actor, AuditAction, AuditEvent, AuditQuery};
use keygate::key::{KeyId, KeyPrefix, generate};
use keygate::leaks::{LeakAction, LeakConfig, LeakNotice, PublicKeys, ReportVerifier};
use keygate::{KeyManager, KeyRecord, KeyStore, StoreError, Workspace};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::{EncodePublicKey as _, LineEnding};
use serde_json::{Value, json};

/// The identifier the reporter's key is configured under.
const KEY_ID: &str = "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c";

/// The reporter's signing key: fixed bytes, so every run signs alike.
fn reporter() -> SigningKey {
    SigningKey::from_bytes(&[0x42; 32].into()).unwrap()
}

fn verifier() -> ReportVerifier {
    let pem = reporter()
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    ReportVerifier::new(PublicKeys::new().with_pem(KEY_ID, &pem).unwrap())
}

fn signature_of(body: &str) -> String {
    let signature: DerSignature = reporter().sign(body.as_bytes());
    STANDARD.encode(signature.as_bytes())
}

/// The notices the notifier was given.
type Notices = Arc<Mutex<Vec<LeakNotice>>>;

/// An app: `/v1/records` behind the harness's layer, the leak endpoint at `/github/leaks`,
/// served on a free port, and the notices its notifier received.
async fn serve(h: &Harness, config: LeakConfig) -> (SocketAddr, Notices) {
    let notices = Notices::default();
    let seen = Arc::clone(&notices);
    let config = config
        .clock(h.clock.clone())
        .notifier(move |notice: &LeakNotice| seen.lock().unwrap().push(notice.clone()));
    let lookup = CountingStore {
        inner: h.store.clone(),
        lookups: Arc::clone(&h.lookups),
    };
    let leaks = keygate::leaks::router_with(lookup, Arc::new(h.store.clone()), config);
    let app = Router::new()
        .route("/v1/records", get(|| async { "records" }))
        .route_layer(h.builder().build())
        .nest("/github/leaks", leaks);
    (wire::serve_axum(app).await, notices)
}

/// `body` posted to the endpoint with these headers.
async fn post_with(addr: SocketAddr, body: &str, headers: &[(&str, &str)]) -> Response<Bytes> {
    let mut lines = vec![("content-type", "application/json")];
    lines.extend_from_slice(headers);
    let request = wire::request_with("POST", "/github/leaks", &lines);
    let body = Bytes::from(body.to_owned());
    wire::send(addr, request.map(|_| Full::new(body))).await
}

/// `body` posted signed by the reporter's key.
async fn post_signed(addr: SocketAddr, body: &str) -> Response<Bytes> {
    let signature = signature_of(body);
    post_with(
        addr,
        body,
        &[
            ("github-public-key-identifier", KEY_ID),
            ("github-public-key-signature", &signature),
        ],
    )
    .await
}

fn json_of(response: &Response<Bytes>) -> Value {
    serde_json::from_slice(response.body()).unwrap()
}

/// A report of `tokens`, each found in a file of a public repository.
fn report(tokens: &[&str]) -> String {
    let matches: Vec<Value> = tokens
        .iter()
        .map(|token| {
            json!({
                "token": token,
                "type": "keygate_api_key",
                "url": "https://github.com/octocat/hello/blob/abc/.env",
                "source": "content",
            })
        })
        .collect();
    Value::Array(matches).to_string()
}

/// The labels of an answer, in order.
fn labels(response: &Response<Bytes>) -> Vec<String> {
    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
    json_of(response)
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["label"].as_str().unwrap().to_owned())
        .collect()
}

async fn record(h: &Harness, id: &KeyId) -> Arc<KeyRecord> {
    h.store.get(id).await.unwrap().unwrap()
}

/// The audit events of key `id`, newest first.
async fn events_of(h: &Harness, id: &KeyId) -> Vec<AuditEvent> {
    let page = h
        .store
        .audit(&Workspace::default(), &AuditQuery::new().limit(500))
        .await
        .unwrap();
    page.events
        .into_iter()
        .filter(|e| e.key_id == *id)
        .collect()
}

/// `GET /v1/records` with `key`: the layer's problem code.
async fn refusal_of(addr: SocketAddr, key: &str) -> String {
    let response = wire::send(addr, wire::request("GET", "/v1/records", Some(key))).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    wire::problem_code(&response)
}

/// A token of this service's format whose id no key has.
fn unknown_token() -> String {
    generate(&KeyPrefix::default())
        .unwrap()
        .plaintext
        .expose_secret()
        .to_owned()
}

/// `token` with its last character changed: its checksum no longer matches.
fn mistyped(token: &str) -> String {
    let mut typo = token.to_owned();
    let last = typo.pop().unwrap();
    typo.push(if last == 'a' { 'b' } else { 'a' });
    typo
}

#[tokio::test]
async fn a_valid_report_revokes_the_key_and_the_layer_then_refuses_it_as_revoked() {
    let h = Harness::new();
    let (id, key) = h.key("ci-pipeline", "read:all").await;
    let (addr, _) = serve(&h, LeakConfig::new(verifier())).await;

    let answer = post_signed(addr, &report(&[&key])).await;

    assert_eq!(
        json_of(&answer),
        json!([{"token_raw": key, "token_type": "keygate_api_key", "label": "true_positive"}])
    );
    assert!(record(&h, &id).await.revoked_at.is_some());
    assert_eq!(refusal_of(addr, &key).await, "revoked_api_key");
}

#[tokio::test]
async fn the_revocation_is_audited_with_the_report_url_and_source() {
    let h = Harness::new();
    let (id, key) = h.key("ci-pipeline", "read:all").await;
    let (addr, _) = serve(&h, LeakConfig::new(verifier())).await;

    post_signed(addr, &report(&[&key])).await;

    let events = events_of(&h, &id).await;
    assert_eq!(events[0].action, AuditAction::Revoke);
    assert_eq!(
        events[0].actor,
        Actor::leak_report(
            "github:content",
            "https://github.com/octocat/hello/blob/abc/.env"
        )
    );
}

#[tokio::test]
async fn a_tampered_body_is_refused_with_401_and_nothing_is_revoked() {
    let h = Harness::new();
    let (id, key) = h.key("ci-pipeline", "read:all").await;
    let (addr, notices) = serve(&h, LeakConfig::new(verifier())).await;
    let signed = report(&[&unknown_token()]);
    let tampered = report(&[&key]);

    let answer = post_with(
        addr,
        &tampered,
        &[
            ("github-public-key-identifier", KEY_ID),
            ("github-public-key-signature", &signature_of(&signed)),
        ],
    )
    .await;

    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wire::problem_code(&answer), "invalid_signature");
    assert_eq!(json_of(&answer)["reason"], "bad_signature");
    assert!(record(&h, &id).await.revoked_at.is_none());
    assert!(notices.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_report_naming_an_unknown_signing_key_is_refused_with_401() {
    let h = Harness::new();
    let (id, key) = h.key("ci-pipeline", "read:all").await;
    let (addr, _) = serve(&h, LeakConfig::new(verifier())).await;
    let body = report(&[&key]);

    let answer = post_with(
        addr,
        &body,
        &[
            ("github-public-key-identifier", "another-key"),
            ("github-public-key-signature", &signature_of(&body)),
        ],
    )
    .await;

    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_of(&answer)["reason"], "unknown_key_identifier");
    assert!(record(&h, &id).await.revoked_at.is_none());
}

#[tokio::test]
async fn an_unsigned_report_is_refused_with_401() {
    let h = Harness::new();
    let (id, key) = h.key("ci-pipeline", "read:all").await;
    let (addr, _) = serve(&h, LeakConfig::new(verifier())).await;

    let answer = post_with(addr, &report(&[&key]), &[]).await;

    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wire::problem_code(&answer), "invalid_signature");
    assert!(record(&h, &id).await.revoked_at.is_none());
    assert_eq!(h.lookups(), 0);
}

#[tokio::test]
async fn a_replayed_report_gets_the_same_answer_one_audit_event_and_one_notice() {
    let h = Harness::new();
    let (id, key) = h.key("ci-pipeline", "read:all").await;
    let (addr, notices) = serve(&h, LeakConfig::new(verifier())).await;
    let body = report(&[&key, &unknown_token()]);

    let first = post_signed(addr, &body).await;
    let revoked_at = record(&h, &id).await.revoked_at;
    h.clock.advance(Duration::from_secs(60));
    let replayed = post_signed(addr, &body).await;

    assert_eq!(replayed.body(), first.body());
    assert_eq!(record(&h, &id).await.revoked_at, revoked_at);
    let revocations = events_of(&h, &id).await;
    let revocations = revocations
        .iter()
        .filter(|e| e.action == AuditAction::Revoke)
        .count();
    assert_eq!(revocations, 1);
    assert_eq!(notices.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn malformed_json_is_refused_with_400() {
    let h = Harness::new();
    let (addr, _) = serve(&h, LeakConfig::new(verifier())).await;

    for body in [
        r#"[{"token": "#,
        r#"{"token": "t", "type": "k"}"#,
        r#"[{"type": "k"}]"#,
    ] {
        let answer = post_signed(addr, body).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(wire::problem_code(&answer), "malformed_request");
    }
}

#[tokio::test]
async fn the_refusal_of_a_malformed_report_never_quotes_its_tokens() {
    let h = Harness::new();
    let (_, key) = h.key("ci-pipeline", "read:all").await;
    let (addr, _) = serve(&h, LeakConfig::new(verifier())).await;

    let answer = post_signed(addr, &json!([key]).to_string()).await;

    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let detail = json_of(&answer)["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.starts_with("The report is not an array of"),
        "{detail}"
    );
    assert!(!detail.contains(&key[3..15]), "{detail}");
}

#[tokio::test]
async fn tokens_in_another_format_or_with_a_bad_checksum_are_false_positives_without_a_lookup() {
    let h = Harness::new();
    let (_, key) = h.key("ci-pipeline", "read:all").await;
    let (addr, _) = serve(&h, LeakConfig::new(verifier())).await;
    let other = generate(&KeyPrefix::new("other").unwrap()).unwrap();

    let answer = post_signed(
        addr,
        &report(&[
            other.plaintext.expose_secret(),
            &mistyped(&key),
            "ghp_notours",
        ]),
    )
    .await;

    assert_eq!(labels(&answer), ["false_positive"; 3]);
    assert_eq!(h.lookups(), 0);
}

#[tokio::test]
async fn an_unknown_id_and_a_wrong_secret_are_the_same_false_positive() {
    let h = Harness::new();
    let (id, key) = h.key("ci-pipeline", "read:all").await;
    let (addr, _) = serve(&h, LeakConfig::new(verifier())).await;
    // The right id with another (well-formed) secret.
    let wrong_secret = keygate::key::generate_for(&KeyPrefix::default(), id).unwrap();

    let answer = post_signed(
        addr,
        &report(&[&unknown_token(), wrong_secret.plaintext.expose_secret()]),
    )
    .await;

    assert_eq!(labels(&answer), ["false_positive"; 2]);
    assert_eq!(h.lookups(), 2);
    assert!(record(&h, &id).await.revoked_at.is_none());
    assert_eq!(
        wire::send(addr, wire::request("GET", "/v1/records", Some(&key)))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn mixed_true_and_false_positives_are_labelled_in_the_report_order() {
    let h = Harness::new();
    let (first, first_key) = h.key("ci-pipeline", "read:all").await;
    let (second, second_key) = h.key("deploy-bot", "read:all").await;
    let (addr, notices) = serve(&h, LeakConfig::new(verifier())).await;

    let answer = post_signed(
        addr,
        &report(&[
            &unknown_token(),
            &first_key,
            &mistyped(&second_key),
            &second_key,
            &first_key,
        ]),
    )
    .await;

    assert_eq!(
        labels(&answer),
        [
            "false_positive",
            "true_positive",
            "false_positive",
            "true_positive",
            "true_positive"
        ]
    );
    let tokens: Vec<Value> = json_of(&answer)
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["token_raw"].clone())
        .collect();
    assert_eq!(tokens[1], first_key.as_str());
    assert_eq!(tokens[3], second_key.as_str());
    assert!(record(&h, &first).await.revoked_at.is_some());
    assert!(record(&h, &second).await.revoked_at.is_some());
    assert_eq!(notices.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn the_notifier_is_told_the_key_action_and_place_never_the_token() {
    let h = Harness::new();
    let (id, key) = h.key("ci-pipeline", "read:all").await;
    let (addr, notices) = serve(&h, LeakConfig::new(verifier())).await;

    post_signed(addr, &report(&[&key])).await;

    let notices = notices.lock().unwrap();
    let notice = &notices[0];
    assert_eq!(notice.key_id, id);
    assert_eq!(notice.name.as_str(), "ci-pipeline");
    assert_eq!(notice.workspace, Workspace::default());
    assert_eq!(notice.action, LeakAction::Revoke);
    assert_eq!(notice.url, "https://github.com/octocat/hello/blob/abc/.env");
    assert_eq!(notice.source, "content");
    assert_eq!(notice.token_type, "keygate_api_key");
    assert!(!format!("{notice:?}").contains(&key[key.len() - 20..]));
}

#[tokio::test]
async fn the_disable_action_disables_the_key_and_the_layer_then_refuses_it_as_disabled() {
    let h = Harness::new();
    let (id, key) = h.key("ci-pipeline", "read:all").await;
    let config = LeakConfig::new(verifier()).action(LeakAction::Disable);
    let (addr, notices) = serve(&h, config).await;

    let answer = post_signed(addr, &report(&[&key])).await;

    assert_eq!(labels(&answer), ["true_positive"]);
    let disabled = record(&h, &id).await;
    assert!(disabled.disabled_at.is_some());
    assert!(disabled.revoked_at.is_none());
    assert_eq!(refusal_of(addr, &key).await, "disabled_api_key");
    assert_eq!(events_of(&h, &id).await[0].action, AuditAction::Disable);
    assert_eq!(notices.lock().unwrap()[0].action, LeakAction::Disable);
}

#[tokio::test]
async fn a_revoked_key_reported_for_review_stays_revoked_and_no_one_is_told() {
    let h = Harness::new();
    let (id, key) = h.revoked_key("ci-pipeline", "read:all").await;
    let config = LeakConfig::new(verifier()).action(LeakAction::Disable);
    let (addr, notices) = serve(&h, config).await;

    let answer = post_signed(addr, &report(&[&key])).await;

    assert_eq!(labels(&answer), ["true_positive"]);
    assert!(record(&h, &id).await.disabled_at.is_none());
    assert!(notices.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413() {
    let h = Harness::new();
    let (addr, _) = serve(&h, LeakConfig::new(verifier()).max_body_bytes(1024)).await;
    let tokens: Vec<String> = (0..20).map(|_| unknown_token()).collect();
    let body = report(&tokens.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(body.len() > 1024);

    let answer = post_signed(addr, &body).await;

    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(wire::problem_code(&answer), "request_too_large");
    assert_eq!(h.lookups(), 0);
}

#[tokio::test]
async fn more_tokens_than_the_limit_are_refused_with_413_and_nothing_is_done() {
    let h = Harness::new();
    let (id, key) = h.key("ci-pipeline", "read:all").await;
    let (addr, _) = serve(&h, LeakConfig::new(verifier()).max_tokens(2)).await;

    let answer = post_signed(addr, &report(&[&key, &key, &key])).await;

    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(wire::problem_code(&answer), "too_many_tokens");
    assert!(record(&h, &id).await.revoked_at.is_none());
}

/// 10,000 tokens: a quarter each of another prefix, bad checksums, unknown ids and real keys,
/// interleaved, under the default 2 MiB body limit. Answered 200, so within the default
/// deadline (past it the answer would be 503).
#[tokio::test]
async fn ten_thousand_tokens_are_answered_within_the_deadline_and_the_body_limit() {
    let h = Harness::new();
    let other = KeyPrefix::new("other").unwrap();
    let mut tokens = Vec::with_capacity(10_000);
    let mut real = Vec::with_capacity(2_500);
    for i in 0..2_500 {
        let (id, key) = h.key(&format!("key-{i}"), "read:all").await;
        real.push(id);
        tokens.push(
            generate(&other)
                .unwrap()
                .plaintext
                .expose_secret()
                .to_owned(),
        );
        tokens.push(mistyped(&unknown_token()));
        tokens.push(unknown_token());
        tokens.push(key);
    }
    let body = report(&tokens.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(body.len() < keygate::leaks::DEFAULT_MAX_BODY_BYTES);
    let (addr, notices) = serve(&h, LeakConfig::new(verifier())).await;

    let answer = post_signed(addr, &body).await;

    let labels = labels(&answer);
    assert_eq!(labels.len(), 10_000);
    for (i, label) in labels.iter().enumerate() {
        let expected = if i % 4 == 3 {
            "true_positive"
        } else {
            "false_positive"
        };
        assert_eq!(label, expected, "token {i}");
    }
    assert_eq!(h.lookups(), 5_000);
    assert_eq!(notices.lock().unwrap().len(), 2_500);
    assert!(record(&h, &real[2_499]).await.revoked_at.is_some());
}

/// A lookup store that cannot answer.
#[derive(Clone)]
struct DownStore;

impl KeyStore for DownStore {
    type Future = std::future::Ready<Result<Option<Arc<KeyRecord>>, StoreError>>;
    fn get(&self, _id: &KeyId) -> Self::Future {
        std::future::ready(Err(StoreError::Unavailable("connection refused".into())))
    }
}

#[tokio::test]
async fn a_store_failure_answers_503_for_the_whole_report() {
    let h = Harness::new();
    let (_, key) = h.key("ci-pipeline", "read:all").await;
    let leaks = keygate::leaks::router_with(
        DownStore,
        Arc::new(h.store.clone()),
        LeakConfig::new(verifier()),
    );
    let addr = wire::serve_axum(Router::new().nest("/github/leaks", leaks)).await;

    let answer = post_signed(addr, &report(&["ghp_notours", &key])).await;

    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(wire::problem_code(&answer), "store_unavailable");
    assert_eq!(wire::header(&answer, "retry-after"), "1");
}

#[tokio::test]
async fn a_panicking_notifier_does_not_undo_the_revocation_or_fail_the_report() {
    let h = Harness::new();
    let (id, key) = h.key("ci-pipeline", "read:all").await;
    let config = LeakConfig::new(verifier()).notifier(|_: &LeakNotice| panic!("mail server down"));
    let leaks = keygate::leaks::router(Arc::new(h.store.clone()), config);
    let addr = wire::serve_axum(Router::new().nest("/github/leaks", leaks)).await;

    let answer = post_signed(addr, &report(&[&key])).await;

    assert_eq!(labels(&answer), ["true_positive"]);
    assert!(record(&h, &id).await.revoked_at.is_some());
}

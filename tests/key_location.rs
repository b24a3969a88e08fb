//! Where the key comes from ([`KeyLocation`]): `Authorization: Bearer` by default, a named
//! header, or a function of the headers, each answering with the same error table; never the
//! query string. Over real sockets against an axum router.

mod common;
mod wire;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::Request;
use axum::routing::get;
use bytes::Bytes;
use common::Harness;
use http::{HeaderMap, HeaderName, Response, StatusCode};
use keygate::extract::{ExtractError, Malformed};
use keygate::{AuthenticatedKey, KeyLocation};
use wire::{problem_code, request_with, send};

const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// Answers with the authenticated key's name, and in `x-sensitive` whether the header named
/// by `x-read-from` reached the service marked sensitive.
async fn records(request: Request) -> ([(&'static str, String); 1], String) {
    let key = request.extensions().get::<AuthenticatedKey>().unwrap();
    let sensitive = request
        .headers()
        .get("x-read-from")
        .and_then(|name| request.headers().get(name.to_str().unwrap()))
        .is_some_and(|value| value.is_sensitive());
    (
        [("x-sensitive", sensitive.to_string())],
        key.name().to_string(),
    )
}

/// A router behind a layer reading the key from `location`, with a `read:all` key, a `write:all`
/// key and a revoked key in its store.
struct Site {
    addr: SocketAddr,
    reader: String,
    writer: String,
    revoked: String,
}

async fn site(location: KeyLocation) -> Site {
    let h = Harness::new();
    let (_, reader) = h.key("local-dev", "read:all").await;
    let (_, writer) = h.key("ci-pipeline", "write:all").await;
    let (_, revoked) = h.revoked_key("old-backend", "read:all").await;
    let layer = h.builder().key_location(location).build();
    let app = Router::new()
        .route("/v1/records", get(records).post(records))
        .layer(layer);
    Site {
        addr: wire::serve_axum(app).await,
        reader,
        writer,
        revoked,
    }
}

impl Site {
    async fn get(&self, headers: &[(&str, &str)]) -> Response<Bytes> {
        self.call("GET", "/v1/records", headers).await
    }

    async fn call(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Response<Bytes> {
        send(self.addr, request_with(method, path, headers)).await
    }
}

fn x_api_key_site() -> impl Future<Output = Site> {
    site(KeyLocation::header(X_API_KEY))
}

/// The `reason` member of a problem+json answer.
fn reason(response: &Response<Bytes>) -> String {
    let json: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    json["reason"].as_str().unwrap().to_owned()
}

/// Asserts `response` is 401 `malformed_api_key` for `how`, with the invalid_token challenge.
fn assert_malformed(response: &Response<Bytes>, how: Malformed) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem_code(response), "malformed_api_key");
    assert_eq!(reason(response), how.description());
    assert_eq!(
        wire::header(response, "www-authenticate"),
        format!(
            "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"{}\"",
            how.description()
        )
    );
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

#[tokio::test]
async fn key_in_x_api_key_is_accepted_with_200() {
    let site = x_api_key_site().await;
    let response = site.get(&[("x-api-key", &site.reader)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body(), "local-dev");
}

#[tokio::test]
async fn no_x_api_key_header_is_401_missing_api_key_with_the_bearer_challenge() {
    let site = x_api_key_site().await;
    let response = site.get(&[]).await;
    wire::assert_missing_key_problem(&response);
    assert_eq!(reason(&response), "No API key header was sent");
}

#[tokio::test]
async fn malformed_key_in_x_api_key_is_401_malformed_api_key() {
    let site = x_api_key_site().await;
    let response = site.get(&[("x-api-key", "kg_live_not,a,key")]).await;
    assert_malformed(&response, Malformed::IllegalCharacter);
}

#[tokio::test]
async fn empty_x_api_key_header_is_401_malformed_api_key() {
    let site = x_api_key_site().await;
    let response = site.get(&[("x-api-key", "")]).await;
    assert_malformed(&response, Malformed::EmptyKey);
}

#[tokio::test]
async fn two_x_api_key_headers_are_401_malformed_api_key_even_when_equal() {
    let site = x_api_key_site().await;
    let key = site.reader.as_str();
    let response = site.get(&[("x-api-key", key), ("x-api-key", key)]).await;
    assert_malformed(&response, Malformed::MultipleKeyHeaders);
}

#[tokio::test]
async fn revoked_key_in_x_api_key_is_401_revoked_api_key() {
    let site = x_api_key_site().await;
    let response = site.get(&[("x-api-key", &site.revoked)]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem_code(&response), "revoked_api_key");
}

#[tokio::test]
async fn key_in_x_api_key_without_the_scope_is_403_insufficient_scope() {
    let site = x_api_key_site().await;
    let response = site
        .call("POST", "/v1/records", &[("x-api-key", &site.reader)])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem_code(&response), "insufficient_scope");
    assert_eq!(
        wire::header(&response, "www-authenticate"),
        "Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"write:all\""
    );
}

#[tokio::test]
async fn x_api_key_beside_an_authorization_header_is_401_ambiguous_credentials() {
    let site = x_api_key_site().await;
    // The same valid key in both places, and a different one: neither is picked.
    for in_authorization in [&site.reader, &site.writer] {
        let response = site
            .get(&[
                ("x-api-key", &site.reader),
                ("authorization", &bearer(in_authorization)),
            ])
            .await;
        assert_malformed(&response, Malformed::AmbiguousCredentials);
    }
}

#[tokio::test]
async fn x_api_key_beside_its_underscore_twin_is_401_ambiguous_credentials() {
    let site = x_api_key_site().await;
    let response = site
        .get(&[("x-api-key", &site.reader), ("x_api_key", &site.writer)])
        .await;
    assert_malformed(&response, Malformed::AmbiguousCredentials);
}

#[tokio::test]
async fn bearer_authorization_alone_is_not_read_by_the_x_api_key_location() {
    let site = x_api_key_site().await;
    let response = site.get(&[("authorization", &bearer(&site.reader))]).await;
    wire::assert_missing_key_problem(&response);
}

#[tokio::test]
async fn x_api_key_reaches_the_service_marked_sensitive() {
    let site = x_api_key_site().await;
    let response = site
        .get(&[("x-api-key", &site.reader), ("x-read-from", "x-api-key")])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(wire::header(&response, "x-sensitive"), "true");
}

/// `Authorization: Token <key>`.
fn token_scheme(headers: &HeaderMap) -> Result<&[u8], ExtractError> {
    let value = headers.get("authorization").ok_or(ExtractError::Missing)?;
    value
        .as_bytes()
        .strip_prefix(b"Token ")
        .ok_or(ExtractError::Malformed(Malformed::NotBearer))
}

#[tokio::test]
async fn custom_extractor_reads_its_own_scheme_with_200() {
    let site = site(KeyLocation::custom(token_scheme)).await;
    let token = format!("Token {}", site.reader);
    let response = site.get(&[("authorization", &token)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body(), "local-dev");
}

#[tokio::test]
async fn custom_extractor_that_finds_nothing_is_401_missing_api_key() {
    let site = site(KeyLocation::custom(token_scheme)).await;
    let response = site.get(&[]).await;
    wire::assert_missing_key_problem(&response);
    assert_eq!(reason(&response), "No API key was sent");
}

#[tokio::test]
async fn custom_extractor_error_is_401_malformed_api_key() {
    let site = site(KeyLocation::custom(token_scheme)).await;
    let response = site.get(&[("authorization", &bearer(&site.reader))]).await;
    assert_malformed(&response, Malformed::NotBearer);
}

#[tokio::test]
async fn custom_extractor_answer_is_checked_like_a_bearer_token() {
    let site = site(KeyLocation::custom(token_scheme)).await;
    let response = site.get(&[("authorization", "Token  two words")]).await;
    assert_malformed(&response, Malformed::Whitespace);
}

#[tokio::test]
async fn default_location_reads_bearer_and_ignores_x_api_key() {
    let site = site(KeyLocation::default()).await;
    let ok = site.get(&[("authorization", &bearer(&site.reader))]).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let response = site.get(&[("x-api-key", &site.reader)]).await;
    wire::assert_missing_key_problem(&response);
    assert_eq!(reason(&response), "No Authorization header was sent");
}

#[tokio::test]
async fn default_location_marks_authorization_sensitive() {
    let site = site(KeyLocation::default()).await;
    let response = site
        .get(&[
            ("authorization", &bearer(&site.reader)),
            ("x-read-from", "authorization"),
        ])
        .await;
    assert_eq!(wire::header(&response, "x-sensitive"), "true");
}

#[tokio::test]
async fn a_key_in_the_query_string_is_never_read() {
    for location in [KeyLocation::bearer(), KeyLocation::header(X_API_KEY)] {
        let site = site(location).await;
        let key = &site.reader;
        let path = format!("/v1/records?api_key={key}&access_token={key}&x-api-key={key}");
        let response = site.call("GET", &path, &[]).await;
        wire::assert_missing_key_problem(&response);
    }
}

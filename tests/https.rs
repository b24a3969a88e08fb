//! HTTPS for real, over sockets: `examples/https.rs` serves its API over rustls and refuses
//! (or redirects) plain HTTP; a real TLS client (reqwest on rustls) trusts its self-signed
//! certificate. The same key gets 200 over HTTPS and 403 `https_required` over plain HTTP, and
//! nothing a client sends over plain TCP makes a request count as HTTPS: not on the example's
//! plain port, and not on the API's own router served over plain TCP.

#[path = "../examples/https.rs"]
#[allow(dead_code)]
mod https;
mod wire;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A bound on every wait, so that a hang fails the test instead of stalling it.
const PATIENCE: Duration = Duration::from_secs(10);

/// The example on free loopback ports, refusing or redirecting plain HTTP.
async fn start(redirect: bool) -> https::Running {
    https::start(https::Options {
        https: SocketAddr::from(([127, 0, 0, 1], 0)),
        http: SocketAddr::from(([127, 0, 0, 1], 0)),
        host: "localhost".to_owned(),
        redirect,
    })
    .await
    .unwrap()
}

fn key(running: &https::Running) -> String {
    running
        .keys
        .iter()
        .find(|k| k.name == "local-dev")
        .unwrap()
        .plaintext
        .clone()
}

/// A rustls client that trusts only the example's certificate, reaches `localhost` at the
/// example's HTTPS port, and follows no redirect.
fn client(running: &https::Running) -> reqwest::Client {
    client_with(running, reqwest::redirect::Policy::none())
}

/// [`client`], following redirects by `policy`.
fn client_with(running: &https::Running, policy: reqwest::redirect::Policy) -> reqwest::Client {
    let certificate = reqwest::Certificate::from_pem(running.certificate_pem.as_bytes()).unwrap();
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(certificate)
        .resolve("localhost", running.https)
        .redirect(policy)
        .timeout(PATIENCE)
        .build()
        .unwrap()
}

/// A GET of `/v1/records` on the plain port, with the key or without, following no redirect.
async fn plain_get(running: &https::Running, with_key: bool) -> reqwest::Response {
    let mut request = client(running).get(format!("http://{}/v1/records", running.http));
    if with_key {
        request = request.bearer_auth(key(running));
    }
    request.send().await.unwrap()
}

fn https_url(running: &https::Running, path: &str) -> String {
    format!("https://localhost:{}{path}", running.https.port())
}

/// A problem body, parsed.
async fn problem(response: reqwest::Response) -> serde_json::Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

/// The `code` of a problem body.
async fn problem_code(response: reqwest::Response) -> String {
    problem(response).await["code"].as_str().unwrap().to_owned()
}

/// A GET of `/v1/records` with the key, over HTTPS: its status.
async fn https_status(running: &https::Running) -> StatusCode {
    let response = client(running)
        .get(https_url(running, "/v1/records"))
        .bearer_auth(key(running))
        .send()
        .await
        .unwrap();
    response.status()
}

/// Sends `GET <target>` with the key and `extra` header lines, as raw bytes, to the example's
/// plain port and to the API router served over plain TCP, and asserts both answer 403
/// `https_required`.
async fn assert_plain_refuses(target: &str, extra: &[&str]) {
    let running = start(false).await;
    let raw = wire::raw_request("GET", target, Some(&key(&running)), extra);
    let api_over_tcp = wire::serve_axum(running.api.clone()).await;
    for addr in [running.http, api_over_tcp] {
        let answer = wire::send_raw(addr, &raw).await;
        assert_eq!(answer.status, 403, "{addr}: {answer:?}");
        assert_eq!(answer.problem_code().as_deref(), Some("https_required"));
    }
}

#[tokio::test]
async fn the_same_key_gets_200_over_https_and_403_https_required_over_plain_http() {
    let running = start(false).await;
    assert_eq!(https_status(&running).await, StatusCode::OK);

    let plain = plain_get(&running, true).await;
    assert_eq!(plain.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem_code(plain).await, "https_required");
}

#[tokio::test]
async fn https_speaks_http2_when_the_client_offers_it() {
    let running = start(false).await;
    let response = client(&running)
        .get(https_url(&running, "/v1/records"))
        .bearer_auth(key(&running))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_https_request_line_over_plain_tcp_does_not_count_as_https() {
    assert_plain_refuses("https://localhost/v1/records", &[]).await;
}

#[tokio::test]
async fn x_forwarded_proto_https_over_plain_tcp_does_not_count_as_https() {
    assert_plain_refuses("/v1/records", &["X-Forwarded-Proto: https"]).await;
}

#[tokio::test]
async fn forwarded_proto_https_over_plain_tcp_does_not_count_as_https() {
    assert_plain_refuses("/v1/records", &["Forwarded: for=192.0.2.1;proto=https"]).await;
}

#[tokio::test]
async fn an_http2_scheme_of_https_over_plain_tcp_does_not_count_as_https() {
    let running = start(false).await;
    let api_over_tcp = wire::serve_axum(running.api.clone()).await;
    let bearer = format!("Bearer {}", key(&running));
    for addr in [running.http, api_over_tcp] {
        let request = Request::get("https://localhost/v1/records")
            .header("authorization", &bearer)
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = wire::send_h2(addr, request).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{addr}");
        assert_eq!(wire::problem_code(&response), "https_required");
    }
}

#[tokio::test]
async fn plain_bytes_to_the_tls_port_fail_the_handshake_and_the_server_goes_on() {
    let running = start(false).await;
    let mut stream = TcpStream::connect(running.https).await.unwrap();
    let raw = wire::raw_request("GET", "/v1/records", Some(&key(&running)), &[]);
    stream.write_all(&raw).await.unwrap();
    let mut answer = Vec::new();
    // The server closes the connection (a TLS alert at most): no HTTP answer comes back.
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer))
        .await
        .expect("the server did not close the failed connection");
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
    assert_eq!(https_status(&running).await, StatusCode::OK);
}

#[tokio::test]
async fn a_client_that_never_finishes_its_handshake_holds_up_no_one_else() {
    let running = start(false).await;
    // Handshakes taken one at a time would keep the next client waiting for the handshake
    // timeout (10 s) of each of these in turn.
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(TcpStream::connect(running.https).await.unwrap());
    }
    let status = tokio::time::timeout(PATIENCE, https_status(&running))
        .await
        .expect("a stalled handshake held up the next client");
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn redirect_mode_sends_a_request_without_a_key_to_the_configured_https_host() {
    let running = start(true).await;
    let response = client(&running)
        .get(format!("http://{}/v1/records?page=2", running.http))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        response.headers()["location"],
        https_url(&running, "/v1/records?page=2").as_str()
    );
}

#[tokio::test]
async fn the_redirect_lands_on_the_https_port() {
    let running = start(true).await;
    let following = client_with(&running, reqwest::redirect::Policy::limited(1));
    let response = following
        .get(format!("http://{}/v1/records", running.http))
        .send()
        .await
        .unwrap();
    assert_eq!(response.url().scheme(), "https");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem_code(response).await, "missing_api_key");
}

#[tokio::test]
async fn redirect_mode_refuses_a_request_with_authorization_and_says_to_rotate_the_key() {
    let running = start(true).await;
    let response = plain_get(&running, true).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get("location").is_none());
    let json = problem(response).await;
    assert_eq!(json["code"], "https_required");
    assert!(json["fix"].as_str().unwrap().contains("rotate"), "{json}");
}

//! gRPC over loopback with a real tonic client: the example's health server behind keygate,
//! and one layer in front of an axum router that serves REST routes and a gRPC service.

#[path = "../examples/grpc.rs"]
#[allow(dead_code)]
mod grpc_example;
mod wire;

use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use grpc_example::{DemoKeys, demo_keys};
use keygate::key::{KeyId, KeyPrefix};
use keygate::{ApiKeyLayer, KeyRecord, KeyStore, MemoryRateLimiter, StoreError};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

type Client = HealthClient<tonic::transport::Channel>;

/// The example's server on a free port, and a client connected to it.
async fn start() -> (Client, DemoKeys) {
    let keys = demo_keys::create().await;
    let (listener, addr) = wire::free_port().await;
    tokio::spawn(grpc_example::serve(listener, &keys));
    (HealthClient::new(wire::grpc_channel(addr).await), keys)
}

fn key(keys: &DemoKeys, name: &str) -> String {
    demo_keys::plaintext(&keys.keys, name)
}

async fn check(
    client: &mut Client,
    key: Option<&str>,
) -> Result<HealthCheckResponse, tonic::Status> {
    let message = HealthCheckRequest {
        service: String::new(),
    };
    client
        .check(wire::grpc_request(message, key))
        .await
        .map(tonic::Response::into_inner)
}

async fn watch(
    client: &mut Client,
    key: Option<&str>,
) -> Result<HealthCheckResponse, tonic::Status> {
    let message = HealthCheckRequest {
        service: String::new(),
    };
    let mut stream = client
        .watch(wire::grpc_request(message, key))
        .await?
        .into_inner();
    Ok(stream.message().await?.expect("the first watch answer"))
}

#[tokio::test]
async fn a_call_without_a_key_is_unauthenticated() {
    let (mut client, _keys) = start().await;
    let status = check(&mut client, None).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(
        status.message(),
        "The API key is missing, malformed, or has been revoked: No Authorization header was sent"
    );
}

#[tokio::test]
async fn a_mistyped_key_is_unauthenticated() {
    let (mut client, keys) = start().await;
    let mistyped = format!("{}x", key(&keys, "local-dev"));
    let status = check(&mut client, Some(&mistyped)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn a_key_without_the_method_scope_is_permission_denied() {
    let (mut client, keys) = start().await;
    let status = watch(&mut client, Some(&key(&keys, "ci-pipeline")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status
            .message()
            .starts_with("The key is valid but lacks the scope required for this endpoint"),
        "{}",
        status.message()
    );
    assert!(
        status.message().ends_with("(admin)"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn a_key_over_its_quota_is_resource_exhausted_with_the_retry_delay_in_metadata() {
    let (mut client, keys) = start().await;
    let dev = key(&keys, "local-dev");
    // local-dev: a burst of 5, then 1 per second. A slow machine may earn one more on the way.
    let mut refused = None;
    for _ in 0..10 {
        if let Err(status) = check(&mut client, Some(&dev)).await {
            refused = Some(status);
            break;
        }
    }
    let status = refused.expect("local-dev is refused within 10 calls");
    assert_eq!(status.code(), Code::ResourceExhausted);
    let metadata = status.metadata();
    assert_eq!(metadata.get("retry-after").unwrap(), "1");
    assert_eq!(metadata.get("grpc-retry-pushback-ms").unwrap(), "1000");
    assert!(metadata.get("ratelimit").is_some(), "{metadata:?}");
}

#[tokio::test]
async fn a_rejection_is_trailers_only_one_headers_frame_that_ends_the_stream() {
    let keys = demo_keys::create().await;
    let (listener, addr) = wire::free_port().await;
    tokio::spawn(grpc_example::serve(listener, &keys));
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let request = http::Request::post(format!("http://{addr}/grpc.health.v1.Health/Check"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/grpc");
    assert_eq!(response.headers()["grpc-status"], "16");
    // END_STREAM on the HEADERS frame: no DATA, no separate trailers.
    assert!(http_body::Body::is_end_stream(response.body()));
}

#[tokio::test]
async fn a_key_with_the_scope_gets_the_health_answer() {
    let (mut client, keys) = start().await;
    let answer = check(&mut client, Some(&key(&keys, "local-dev")))
        .await
        .unwrap();
    assert_eq!(answer.status(), ServingStatus::Serving);
}

#[tokio::test]
async fn an_admin_key_may_watch() {
    let (mut client, keys) = start().await;
    let answer = watch(&mut client, Some(&key(&keys, "production-backend")))
        .await
        .unwrap();
    assert_eq!(answer.status(), ServingStatus::Serving);
}

#[test]
fn a_service_wide_rule_covers_every_method_of_the_service() {
    use keygate::Scope;
    use keygate::policy::{RoutePolicy, ScopePolicy};
    let policy = RoutePolicy::new().route("/grpc.health.v1.Health/*", Scope::ReadAll);
    for method in ["Check", "Watch"] {
        let request = http::Request::post(format!("/grpc.health.v1.Health/{method}"))
            .body(())
            .unwrap();
        assert_eq!(
            policy.required_scope(&request.into_parts().0),
            Some(Scope::ReadAll)
        );
    }
}

/// A key store of `demo_…` keys whose backend is down.
struct DownStore;

impl KeyStore for DownStore {
    type Future = Ready<Result<Option<Arc<KeyRecord>>, StoreError>>;
    fn get(&self, _id: &KeyId) -> Self::Future {
        ready(Err(StoreError::Timeout(Duration::from_millis(100))))
    }

    fn prefix(&self) -> KeyPrefix {
        KeyPrefix::new("demo").unwrap()
    }
}

#[tokio::test]
async fn a_store_failure_is_unavailable_with_the_retry_delay_in_metadata() {
    let keys = demo_keys::create().await;
    let layer = ApiKeyLayer::builder(DownStore, MemoryRateLimiter::new())
        .unavailable_retry_after(Duration::from_secs(7))
        .build();
    let (_reporter, health) = tonic_health::server::health_reporter();
    let (listener, addr) = wire::free_port().await;
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(layer)
            .add_service(health)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let mut client = HealthClient::new(wire::grpc_channel(addr).await);
    let status = check(&mut client, Some(&key(&keys, "local-dev")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(status.metadata().get("retry-after").unwrap(), "7");
    assert_eq!(
        status.metadata().get("grpc-retry-pushback-ms").unwrap(),
        "7000"
    );
}

/// One axum server: `GET /v1/records` and the health service, behind one keygate layer.
async fn mixed_server() -> (SocketAddr, DemoKeys) {
    let keys = demo_keys::create().await;
    let layer = ApiKeyLayer::builder(keys.store.clone(), MemoryRateLimiter::new())
        .policy(grpc_example::policy())
        .build();
    let (_reporter, health) = tonic_health::server::health_reporter();
    let app = axum::Router::new()
        .route("/v1/records", get(|| async { "records" }))
        .merge(tonic::service::Routes::new(health).into_axum_router())
        .layer(layer);
    (wire::serve_axum(app).await, keys)
}

#[tokio::test]
async fn a_rest_route_beside_grpc_answers_a_missing_key_with_problem_json() {
    let (addr, _keys) = mixed_server().await;
    let response = wire::send(addr, wire::request("GET", "/v1/records", None)).await;
    wire::assert_missing_key_problem(&response);
}

#[tokio::test]
async fn a_grpc_service_beside_rest_routes_answers_a_missing_key_with_unauthenticated() {
    let (addr, _keys) = mixed_server().await;
    let mut client = HealthClient::new(wire::grpc_channel(addr).await);
    assert_eq!(
        check(&mut client, None).await.unwrap_err().code(),
        Code::Unauthenticated
    );
}

#[tokio::test]
async fn a_valid_key_reaches_both_the_rest_route_and_the_grpc_service() {
    let (addr, keys) = mixed_server().await;
    let dev = key(&keys, "local-dev");
    let response = wire::send(addr, wire::request("GET", "/v1/records", Some(&dev))).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.body().as_ref(), b"records");
    let mut client = HealthClient::new(wire::grpc_channel(addr).await);
    assert_eq!(
        check(&mut client, Some(&dev)).await.unwrap().status(),
        ServingStatus::Serving
    );
}

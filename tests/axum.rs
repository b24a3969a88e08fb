//! The axum feature: the key extractors and `RequireScopeLayer`, with the layer applied by
//! `Router::layer` and `route_layer`, beside router state, in `ServiceBuilder` stacks with
//! tower-http layers, and served with connect info over loopback.

mod common;
mod wire;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::routing::get;
use bytes::Bytes;
use common::{Harness, nz};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use keygate::RequireScopeLayer;
use keygate::policy::RoutePolicy;
use keygate::{AuthenticatedKey, Quota, Rejection, Scope};
use tower::{ServiceBuilder, ServiceExt};
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

async fn whoami(key: AuthenticatedKey) -> String {
    format!("{} {}", key.name(), key.scopes())
}

async fn maybe_whoami(key: Option<AuthenticatedKey>) -> String {
    key.map_or_else(|| "anonymous".to_owned(), |k| k.name().to_string())
}

fn request(method: &str, path: &str, key: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(key) = key {
        builder = builder.header("authorization", format!("Bearer {key}"));
    }
    builder.body(Body::empty()).unwrap()
}

async fn call(router: &Router, request: Request<Body>) -> Response<Bytes> {
    let response = router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

fn text(response: &Response<Bytes>) -> &str {
    std::str::from_utf8(response.body()).unwrap()
}

/// `/v1/records` with the method default, `/v1/admin/keys` needing `admin` by route layer.
fn records_and_admin(h: &Harness) -> Router {
    Router::new()
        .route("/v1/records", get(whoami).post(whoami))
        .route(
            "/v1/admin/keys",
            get(whoami).route_layer(RequireScopeLayer::new(Scope::Admin)),
        )
        .layer(h.builder().build())
}

#[tokio::test]
async fn the_key_extractor_reads_the_key_the_layer_authenticated() {
    let h = Harness::new();
    let (_, key) = h.key("ci-pipeline", "read:all,write:all").await;
    let app = Router::new()
        .route("/v1/whoami", get(whoami))
        .layer(h.builder().build());
    let response = call(&app, request("GET", "/v1/whoami", Some(&key))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(&response), "ci-pipeline read:all,write:all");
}

#[tokio::test]
async fn the_key_extractor_without_the_layer_is_a_500_problem_naming_the_layer() {
    let app = Router::new().route("/v1/whoami", get(whoami));
    let response = call(&app, request("GET", "/v1/whoami", None)).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(wire::problem_code(&response), "missing_api_key_layer");
    assert!(text(&response).contains("No ApiKeyLayer ran for this route"));
}

#[tokio::test]
async fn the_optional_key_extractor_is_none_on_a_route_without_the_layer() {
    let app = Router::new().route("/v1/hello", get(maybe_whoami));
    let response = call(&app, request("GET", "/v1/hello", None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(&response), "anonymous");
}

#[tokio::test]
async fn the_optional_key_extractor_is_the_key_behind_the_layer() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let app = Router::new()
        .route("/v1/hello", get(maybe_whoami))
        .layer(h.builder().build());
    let response = call(&app, request("GET", "/v1/hello", Some(&key))).await;
    assert_eq!(text(&response), "local-dev");
}

#[tokio::test]
async fn require_scope_lets_a_key_with_the_scope_through() {
    let h = Harness::new();
    let (_, admin) = h.key("production-backend", "admin").await;
    let app = records_and_admin(&h);
    let response = call(&app, request("GET", "/v1/admin/keys", Some(&admin))).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn routes_without_require_scope_keep_the_method_default() {
    let h = Harness::new();
    let (_, reader) = h.key("local-dev", "read:all").await;
    let app = records_and_admin(&h);
    let read = call(&app, request("GET", "/v1/records", Some(&reader))).await;
    assert_eq!(read.status(), StatusCode::OK);
    let write = call(&app, request("POST", "/v1/records", Some(&reader))).await;
    assert_eq!(write.status(), StatusCode::FORBIDDEN);
    let admin = call(&app, request("GET", "/v1/admin/keys", Some(&reader))).await;
    assert_eq!(admin.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn require_scope_refuses_with_the_same_403_problem_as_the_layer() {
    let h = Harness::new();
    let (_, reader) = h.key("ci-pipeline", "read:all,write:all").await;
    let by_route_layer = records_and_admin(&h);
    let by_policy = Router::new().route("/v1/admin/keys", get(whoami)).layer(
        h.builder()
            .policy(RoutePolicy::new().route("/v1/admin/**", Scope::Admin))
            .build(),
    );
    let ours = call(
        &by_route_layer,
        request("GET", "/v1/admin/keys", Some(&reader)),
    )
    .await;
    let layers = call(&by_policy, request("GET", "/v1/admin/keys", Some(&reader))).await;
    assert_eq!(ours.status(), StatusCode::FORBIDDEN);
    assert_eq!(wire::problem_code(&ours), "insufficient_scope");
    for header in ["content-type", "www-authenticate", "cache-control"] {
        assert_eq!(
            ours.headers().get(header),
            layers.headers().get(header),
            "{header}"
        );
    }
    assert_eq!(
        wire::header(&ours, "www-authenticate"),
        "Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"admin\""
    );
    assert_eq!(ours.body(), layers.body());
}

#[tokio::test]
async fn require_scope_answers_a_grpc_request_with_permission_denied() {
    let h = Harness::new();
    let (_, reader) = h.key("local-dev", "read:all").await;
    let app = records_and_admin(&h);
    let mut grpc = request("GET", "/v1/admin/keys", Some(&reader));
    grpc.headers_mut()
        .insert("content-type", "application/grpc".parse().unwrap());
    let response = call(&app, grpc).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(wire::header(&response, "grpc-status"), "7");
    assert!(wire::header(&response, "grpc-message").ends_with("(admin)"));
}

#[tokio::test]
async fn require_scope_without_the_layer_is_the_500_problem() {
    let app: Router = Router::new().route(
        "/v1/admin/keys",
        get(|| async { "keys" }).route_layer(RequireScopeLayer::new(Scope::Admin)),
    );
    let response = call(&app, request("GET", "/v1/admin/keys", None)).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(wire::problem_code(&response), "missing_api_key_layer");
}

#[tokio::test]
async fn require_scope_without_the_layer_answers_grpc_with_internal() {
    let app: Router = Router::new().route(
        "/pkg.Service/Method",
        get(|| async { "never" }).route_layer(RequireScopeLayer::new(Scope::Admin)),
    );
    let mut grpc = request("GET", "/pkg.Service/Method", None);
    grpc.headers_mut()
        .insert("content-type", "application/grpc".parse().unwrap());
    let response = call(&app, grpc).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(wire::header(&response, "grpc-status"), "13");
}

#[tokio::test]
async fn require_scope_challenges_with_the_realm_it_is_given() {
    let h = Harness::new();
    let (_, reader) = h.key("local-dev", "read:all").await;
    let admin_only = RequireScopeLayer::new(Scope::Admin).realm("acme").unwrap();
    let app = Router::new()
        .route("/v1/admin/keys", get(whoami).route_layer(admin_only))
        .layer(h.builder().realm("acme").unwrap().build());
    let response = call(&app, request("GET", "/v1/admin/keys", Some(&reader))).await;
    assert_eq!(
        wire::header(&response, "www-authenticate"),
        "Bearer realm=\"acme\", error=\"insufficient_scope\", scope=\"admin\""
    );
}

#[test]
fn require_scope_refuses_a_realm_with_a_quote() {
    assert!(RequireScopeLayer::new(Scope::Admin).realm("a\"b").is_err());
}

#[tokio::test]
async fn require_scope_uses_a_replaced_response_and_keeps_the_challenge() {
    let h = Harness::new();
    let (_, reader) = h.key("local-dev", "read:all").await;
    let plain = RequireScopeLayer::new(Scope::Admin).rejection_response(|r: &Rejection| {
        Response::builder()
            .status(r.status())
            .body(Bytes::from(format!("nope: {}", r.code())))
            .unwrap()
    });
    let app = Router::new()
        .route("/v1/admin/keys", get(whoami).route_layer(plain))
        .layer(h.builder().build());
    let response = call(&app, request("GET", "/v1/admin/keys", Some(&reader))).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(text(&response), "nope: insufficient_scope");
    assert!(wire::header(&response, "www-authenticate").contains("scope=\"admin\""));
}

#[tokio::test]
async fn a_request_require_scope_refuses_spends_no_quota() {
    let h = Harness::new();
    let (_, reader) = h.key("local-dev", "read:all").await;
    let app = Router::new()
        .route("/v1/records", get(whoami))
        .route(
            "/v1/admin/keys",
            get(whoami).route_layer(RequireScopeLayer::new(Scope::Admin)),
        )
        .layer(h.builder().default_quota(Quota::per_hour(nz(2))).build());
    let refused = call(&app, request("GET", "/v1/admin/keys", Some(&reader))).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(!refused.headers().contains_key("ratelimit"));
    for n in 0..2 {
        let ok = call(&app, request("GET", "/v1/records", Some(&reader))).await;
        assert_eq!(ok.status(), StatusCode::OK, "request {n} after the 403");
    }
    let over = call(&app, request("GET", "/v1/records", Some(&reader))).await;
    assert_eq!(over.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_layer_as_a_route_layer_leaves_unknown_paths_to_the_404() {
    let h = Harness::new();
    let app = Router::new()
        .route("/v1/whoami", get(whoami))
        .route_layer(h.builder().build());
    let known = call(&app, request("GET", "/v1/whoami", None)).await;
    assert_eq!(known.status(), StatusCode::UNAUTHORIZED);
    let unknown = call(&app, request("GET", "/v1/nothing-here", None)).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_key_extractor_works_beside_router_state() {
    #[derive(Clone)]
    struct Greeting(&'static str);
    async fn greet(State(greeting): State<Greeting>, key: AuthenticatedKey) -> String {
        format!("{}, {}", greeting.0, key.name())
    }
    let h = Harness::new();
    let (_, key) = h.key("ci-pipeline", "read:all").await;
    let app = Router::new()
        .route("/v1/greet", get(greet))
        .layer(h.builder().build())
        .with_state(Greeting("hello"));
    let response = call(&app, request("GET", "/v1/greet", Some(&key))).await;
    assert_eq!(text(&response), "hello, ci-pipeline");
}

/// The layer last in a `ServiceBuilder` stack, after tower-http's trace, timeout and
/// compression layers.
fn behind_tower_http(h: &Harness) -> Router {
    let long = "record ".repeat(100);
    Router::new()
        .route("/v1/records", get(move || async move { long }))
        .layer(
            ServiceBuilder::new()
                .layer(TraceLayer::new_for_http())
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(30),
                ))
                .layer(CompressionLayer::new())
                .layer(h.builder().build()),
        )
}

#[tokio::test]
async fn a_service_builder_stack_with_tower_http_layers_passes_a_valid_key() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let mut ok = request("GET", "/v1/records", Some(&key));
    ok.headers_mut()
        .insert("accept-encoding", "gzip".parse().unwrap());
    let response = call(&behind_tower_http(&h), ok).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(wire::header(&response, "content-encoding"), "gzip");
    assert!(response.body().len() < 700);
}

#[tokio::test]
async fn a_service_builder_stack_with_tower_http_layers_keeps_the_rejection() {
    let h = Harness::new();
    let response = call(&behind_tower_http(&h), request("GET", "/v1/records", None)).await;
    wire::assert_missing_key_problem(&response);
}

#[tokio::test]
async fn served_with_connect_info_the_handler_sees_the_peer_and_the_key() {
    async fn peer(ConnectInfo(peer): ConnectInfo<SocketAddr>, key: AuthenticatedKey) -> String {
        format!("{} from {}", key.name(), peer.ip())
    }
    let h = Harness::new();
    let (_, key) = h.key("ci-pipeline", "read:all").await;
    let app = Router::new()
        .route("/v1/peer", get(peer))
        .layer(h.builder().build());
    let (listener, addr) = wire::free_port().await;
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    let ok = wire::send(addr, wire::request("GET", "/v1/peer", Some(&key))).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(text(&ok), "ci-pipeline from 127.0.0.1");
    let refused = wire::send(addr, wire::request("GET", "/v1/peer", None)).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

//! gRPC: the standard health service (`grpc.health.v1.Health`, from tonic-health) behind
//! keygate, in a tonic server.
//!
//! ```text
//! cargo run --example grpc                       # listens on 127.0.0.1:50051
//! cargo run --example grpc -- --addr 127.0.0.1:50052
//! ```
//!
//! It prints the same three demo keys as the quickstart, as `key <name> <scopes> <plaintext>`.
//! Scopes are per gRPC method, by path:
//!
//! | method | needs |
//! |---|---|
//! | `/grpc.health.v1.Health/Check` | `read:all` |
//! | `/grpc.health.v1.Health/Watch` | `admin` |
//!
//! Failures reach the client as gRPC statuses: `Unauthenticated` (no or a bad key),
//! `PermissionDenied` (missing scope), `ResourceExhausted` with `retry-after` metadata (over
//! quota; `local-dev` has a burst of 5, then 1/s) and `Unavailable` (backend down).

#[path = "shared/demo_keys.rs"]
pub mod demo_keys;

use std::net::SocketAddr;

use keygate::policy::RoutePolicy;
use keygate::{ApiKeyLayer, MemoryRateLimiter, Scope};
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

pub use demo_keys::DemoKeys;

/// The scope each health method needs. Paths no rule names fall back to the method default
/// (`POST`, as every gRPC call is: `write:all`).
pub fn policy() -> RoutePolicy {
    RoutePolicy::new()
        .route("/grpc.health.v1.Health/Check", Scope::ReadAll)
        .route("/grpc.health.v1.Health/Watch", Scope::Admin)
}

/// Serves the health service behind keygate on `listener`; the future runs until dropped.
pub fn serve(
    listener: TcpListener,
    keys: &DemoKeys,
) -> impl Future<Output = Result<(), tonic::transport::Error>> + Send + 'static {
    let layer = ApiKeyLayer::builder(keys.store.clone(), MemoryRateLimiter::new())
        .policy(policy())
        .default_quota(demo_keys::default_quota())
        .build();
    let (_reporter, health) = tonic_health::server::health_reporter();
    Server::builder()
        .layer(layer)
        .add_service(health)
        .serve_with_incoming(TcpIncoming::from(listener))
}

#[allow(dead_code)]
#[tokio::main]
async fn main() {
    let (listener, addr) =
        demo_keys::listen("grpc", SocketAddr::from(([127, 0, 0, 1], 50051))).await;
    let keys = demo_keys::create().await;
    demo_keys::print(&keys.keys);
    println!();
    println!("Listening on http://{addr} (gRPC, HTTP/2 without TLS).");
    println!(
        "  /grpc.health.v1.Health/Check needs read:all; /grpc.health.v1.Health/Watch needs admin."
    );
    println!("  Send the key as metadata: authorization: Bearer <plaintext>");
    if let Err(e) = serve(listener, &keys).await {
        eprintln!("error: server failed: {e}");
        std::process::exit(1);
    }
}

//! hyper without a framework: keygate in front of a `service_fn`, served by hyper-util on
//! each accepted connection (HTTP/1.1 and HTTP/2).
//!
//! ```text
//! cargo run --example hyper                      # listens on 127.0.0.1:3000
//! cargo run --example hyper -- --addr 127.0.0.1:8080
//! ```
//!
//! It prints the same three demo keys as the quickstart, as `key <name> <scopes> <plaintext>`.
//! Every path answers `<method> <path> as <key name>` once the key passes: `GET` needs
//! `read:all`, `POST` and the other methods `write:all`.

#[path = "shared/demo_keys.rs"]
pub mod demo_keys;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use keygate::{ApiKeyLayer, AuthenticatedKey, MemoryRateLimiter};
use tokio::net::TcpListener;
use tower::ServiceBuilder;

pub use demo_keys::DemoKeys;

/// The application: it finds the key the layer authenticated in the request extensions.
async fn hello(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let name = request
        .extensions()
        .get::<AuthenticatedKey>()
        .map_or_else(String::new, |key| key.name().to_string());
    let body = format!("{} {} as {name}\n", request.method(), request.uri().path());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

/// Serves `hello` behind keygate on `listener`; the future runs until dropped.
pub fn serve(listener: TcpListener, keys: &DemoKeys) -> impl Future<Output = ()> + Send + 'static {
    let layer = ApiKeyLayer::builder(keys.store.clone(), MemoryRateLimiter::new())
        .default_quota(demo_keys::default_quota())
        .build();
    // One service for all connections: clones share the layer's store and limiter.
    let service = ServiceBuilder::new().layer(layer).service_fn(hello);
    async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    continue;
                }
            };
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let connection = auto::Builder::new(TokioExecutor::new());
                if let Err(e) = connection
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    eprintln!("connection failed: {e}");
                }
            });
        }
    }
}

#[allow(dead_code)]
#[tokio::main]
async fn main() {
    let (listener, addr) =
        demo_keys::listen("hyper", SocketAddr::from(([127, 0, 0, 1], 3000))).await;
    let keys = demo_keys::create().await;
    demo_keys::print(&keys.keys);
    let dev = demo_keys::plaintext(&keys.keys, "local-dev");
    println!();
    println!("Listening on http://{addr}. Try:");
    println!("  curl -i http://{addr}/v1/records -H 'Authorization: Bearer {dev}'");
    serve(listener, &keys).await;
}

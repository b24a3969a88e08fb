//! The server the end-to-end benchmark drives: an axum hello-world, bare or behind keygate
//! with its defaults (the failure limit included) and a quota no run exhausts. Both modes
//! serve with `into_make_service_with_connect_info`, as the failure limit wants, so that the
//! two differ only by the layer.
//!
//! ```text
//! cargo run --release --example e2e_server -- --mode keygate --addr 127.0.0.1:3901
//! ```
//!
//! In `keygate` mode it prints one line, `key <plaintext>`, for the load generator to send.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use keygate::{ApiKeyLayer, KeyManager, MemoryKeyStore, MemoryRateLimiter, NewKey, Quota};

#[tokio::main]
async fn main() {
    let mut mode = String::from("keygate");
    let mut addr: SocketAddr = ([127, 0, 0, 1], 3901).into();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--mode", Some(m)) if m == "bare" || m == "keygate" => mode = m,
            ("--addr", Some(a)) => match a.parse() {
                Ok(a) => addr = a,
                Err(e) => {
                    eprintln!("error: --addr {a:?}: {e}");
                    std::process::exit(2);
                }
            },
            _ => {
                eprintln!("usage: e2e_server [--mode bare|keygate] [--addr HOST:PORT]");
                std::process::exit(2);
            }
        }
    }
    let app = Router::new().route("/", get(|| async { "hello" }));
    let app = if mode == "keygate" {
        let store = MemoryKeyStore::new();
        let created = store
            .create(NewKey::new(
                "bench".parse().expect("name"),
                "read:all".parse().expect("scopes"),
            ))
            .await
            .expect("in-memory create");
        println!("key {}", created.plaintext.expose_secret());
        let unlimited = Quota::new(u32::MAX, std::time::Duration::from_micros(1)).expect("quota");
        app.layer(
            ApiKeyLayer::builder(store, MemoryRateLimiter::new())
                .default_quota(unlimited)
                .build(),
        )
    } else {
        println!("key none");
        app
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

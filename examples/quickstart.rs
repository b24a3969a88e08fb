//! The quickstart: an axum server protected by keygate, with in-memory stores.
//!
//! ```text
//! cargo run --example quickstart                 # listens on 127.0.0.1:3000
//! cargo run --example quickstart -- --addr 127.0.0.1:8080
//! ```
//!
//! It prints three demo keys, one per line, as `key <name> <scopes> <plaintext>`, then curl
//! commands to try:
//!
//! | route | needs |
//! |---|---|
//! | `GET /v1/records` | `read:all` |
//! | `POST /v1/records` | `write:all` |
//! | `GET /v1/admin/keys` | `admin` (lists the workspace's keys: names and scopes, never secrets) |
//!
//! The three keys belong to one workspace, `default`; the handlers read the calling key's
//! workspace (`key.workspace()`) and show only that workspace's records and keys.
//! `local-dev` has a small demo quota (a burst of 5, then 1 request per second), so a 429 is
//! easy to see.

#[path = "shared/demo_keys.rs"]
mod demo_keys;
#[path = "shared/product.rs"]
mod product;
#[path = "shared/records.rs"]
mod records;

use std::net::SocketAddr;

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use keygate::policy::RoutePolicy;
use keygate::{
    ApiKeyLayer, AuthenticatedKey, KeyManager, MemoryKeyStore, MemoryRateLimiter, Scope,
};
use serde_json::{Value, json};

pub use demo_keys::DemoKey;

/// The quickstart's application: the router and the keys it was started with.
pub struct Demo {
    /// The routes, behind the keygate layer.
    pub router: Router,
    /// The three demo keys.
    pub keys: Vec<DemoKey>,
}

/// Builds the demo: a store with three keys, the layer, and the routes.
pub async fn demo() -> Demo {
    let demo_keys::DemoKeys { store, keys } = demo_keys::create().await;

    let layer = ApiKeyLayer::builder(store.clone(), MemoryRateLimiter::new())
        .policy(RoutePolicy::new().route("/v1/admin/**", Scope::Admin))
        .default_quota(demo_keys::default_quota())
        .rejection_response(product::rejection())
        .build();

    let router = records::routes()
        .route("/v1/admin/keys", get(list_keys).with_state(store))
        .layer(layer);
    Demo { router, keys }
}

/// The calling key's workspace's keys: an `admin` key sees its own workspace only.
async fn list_keys(
    State(store): State<MemoryKeyStore>,
    Extension(key): Extension<AuthenticatedKey>,
) -> Result<Json<Value>, StatusCode> {
    let keys = store
        .list(key.workspace())
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    let keys: Vec<Value> = keys
        .iter()
        .map(|k| {
            json!({
                "id": k.id.as_str(),
                "name": k.name.as_str(),
                "scopes": k.scopes.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "revoked": k.revoked_at.is_some(),
            })
        })
        .collect();
    Ok(Json(
        json!({ "workspace": key.workspace().as_str(), "keys": keys }),
    ))
}

#[allow(dead_code)]
#[tokio::main]
async fn main() {
    let (listener, addr) =
        demo_keys::listen("quickstart", SocketAddr::from(([127, 0, 0, 1], 3000))).await;
    let demo = demo().await;
    demo_keys::print(&demo.keys);
    let base = format!("http://{addr}");
    let find = |name: &str| demo_keys::plaintext(&demo.keys, name);
    let (admin, ci, dev) = (
        find("production-backend"),
        find("ci-pipeline"),
        find("local-dev"),
    );
    println!();
    println!("Listening on {base}. Try:");
    println!("  curl -i {base}/v1/records -H 'Authorization: Bearer {dev}'");
    println!("  curl -i {base}/v1/records");
    println!(
        "  curl -i -X POST {base}/v1/records -H 'Authorization: Bearer {dev}' -d 'new record'   # 403: local-dev lacks write:all"
    );
    println!("  curl -i -X POST {base}/v1/records -H 'Authorization: Bearer {ci}' -d 'new record'");
    println!("  curl -i {base}/v1/admin/keys -H 'Authorization: Bearer {admin}'");
    println!(
        "  for i in 1 2 3 4 5 6 7; do curl -s -o /dev/null -w '%{{http_code}}\\n' {base}/v1/records -H 'Authorization: Bearer {dev}'; done   # 200 while local-dev's burst of 5 lasts (the first command spent one; it refills at 1/s), then 429"
    );
    if let Err(e) = axum::serve(listener, demo.router).await {
        eprintln!("error: server failed: {e}");
        std::process::exit(1);
    }
}

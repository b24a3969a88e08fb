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
//! | `GET /v1/admin/keys` | `admin` (lists the keys: names and scopes, never secrets) |
//!
//! `local-dev` has a small demo quota (a burst of 5, then 1 request per second), so a 429 is
//! easy to see.

#[path = "shared/records.rs"]
mod records;

use std::net::SocketAddr;
use std::num::NonZeroU32;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use keygate::policy::RoutePolicy;
use keygate::{
    ApiKeyLayer, KeyManager, KeyPrefix, MemoryKeyStore, MemoryRateLimiter, NewKey, Quota, Scope,
};
use serde_json::{Value, json};

/// A demo key as printed at start-up.
pub struct DemoKey {
    /// The key's name.
    pub name: String,
    /// Its scopes, joined by `,`.
    pub scopes: String,
    /// The plaintext, shown this once.
    pub plaintext: String,
}

/// The quickstart's application: the router and the keys it was started with.
pub struct Demo {
    /// The routes, behind the keygate layer.
    pub router: Router,
    /// The three demo keys.
    pub keys: Vec<DemoKey>,
}

fn n(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value).expect("non-zero constant")
}

/// Builds the demo: a store with three keys, the layer, and the routes.
pub async fn demo() -> Demo {
    let prefix = KeyPrefix::new("demo").expect("valid prefix");
    let store = MemoryKeyStore::with_prefix(prefix.clone());

    let plans: [(&str, &str, Option<Quota>); 3] = [
        ("production-backend", "admin", None),
        ("ci-pipeline", "read:all,write:all", None),
        (
            "local-dev",
            "read:all",
            Some(Quota::per_second(n(1)).allow_burst(n(5))),
        ),
    ];
    let mut keys = Vec::new();
    for (name, scopes, quota) in plans {
        let mut new = NewKey::new(
            name.parse().expect("valid name"),
            scopes.parse().expect("valid scopes"),
        );
        if let Some(quota) = quota {
            new = new.quota(quota);
        }
        let created = store
            .create(new)
            .await
            .expect("the in-memory store accepts demo keys");
        keys.push(DemoKey {
            name: name.to_owned(),
            scopes: created.info.scopes.to_string(),
            plaintext: created.plaintext.expose_secret().to_owned(),
        });
    }

    let layer = ApiKeyLayer::builder(store.clone(), MemoryRateLimiter::new())
        .prefix(prefix)
        .policy(RoutePolicy::new().route("/v1/admin/**", Scope::Admin))
        .default_quota(Quota::per_second(n(10)).allow_burst(n(20)))
        .build();

    let router = records::routes()
        .route("/v1/admin/keys", get(list_keys).with_state(store))
        .layer(layer);
    Demo { router, keys }
}

async fn list_keys(State(store): State<MemoryKeyStore>) -> Result<Json<Value>, StatusCode> {
    let keys = store
        .list()
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
    Ok(Json(json!({ "keys": keys })))
}

fn parse_addr() -> Result<SocketAddr, String> {
    let mut args = std::env::args().skip(1);
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 3000));
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                let value = args
                    .next()
                    .ok_or("--addr needs a value, e.g. --addr 127.0.0.1:3000")?;
                addr = value
                    .parse()
                    .map_err(|e| format!("--addr {value:?} is not HOST:PORT ({e})"))?;
            }
            "-h" | "--help" => {
                println!("usage: quickstart [--addr HOST:PORT]   (default 127.0.0.1:3000)");
                std::process::exit(0);
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: quickstart [--addr HOST:PORT]"
                ));
            }
        }
    }
    Ok(addr)
}

#[allow(dead_code)]
#[tokio::main]
async fn main() {
    let addr = match parse_addr() {
        Ok(addr) => addr,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    let demo = demo().await;
    for key in &demo.keys {
        println!("key {} {} {}", key.name, key.scopes, key.plaintext);
    }
    let base = format!("http://{addr}");
    let find = |name: &str| {
        demo.keys
            .iter()
            .find(|k| k.name == name)
            .map(|k| k.plaintext.clone())
            .unwrap_or_default()
    };
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
        "  for i in 1 2 3 4 5 6 7; do curl -s -o /dev/null -w '%{{http_code}}\\n' {base}/v1/records -H 'Authorization: Bearer {dev}'; done   # 429 after 5"
    );
    if let Err(e) = axum::serve(listener, demo.router).await {
        eprintln!("error: server failed: {e}");
        std::process::exit(1);
    }
}

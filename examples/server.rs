//! A server whose keys persist in a SQLite file, managed through the admin API.
//!
//! ```text
//! cargo run --example server --features sqlite,panel                       # keygate.db, 127.0.0.1:3000
//! cargo run --example server --features sqlite,panel -- --db /var/lib/app/keys.db --addr 0.0.0.0:8080
//! cargo run --example server --features sqlite,panel -- --operator default   # default's admins top up credits
//! cargo run --example server --features sqlite,panel,metrics                # and GET /metrics
//! ```
//!
//! On its first start with an empty database it creates one key, `admin` with the `admin`
//! scope in the `default` workspace, and prints it once. With that key, create the others
//! through the admin API (or with the `keygate` CLI on the same file, even while the server
//! runs).
//!
//! Each workspace is managed by its own admin keys: give another workspace its first admin
//! with the CLI on the same file (`keygate --db keygate.db create --workspace acme --name admin
//! --scope admin`), and that key lists, creates, edits, rotates and revokes `acme`'s keys
//! through `/admin/keys`, and never sees the other workspaces' keys.
//!
//! Keys on a plan (`keygate plans create prepaid --credits 1000`, then `keygate create …
//! --plan prepaid`) are limited by it; their credits are counted by the server's in-memory
//! limiter, so they start again with each start of the server. A workspace's admin reads its
//! keys' balances with `GET /admin/keys/{id}/credits`. Topping up is the operator's act:
//! `--operator WORKSPACE` names the workspace whose admin keys may `POST
//! /admin/keys/{id}/credits` (`{"add": 500}`, in any workspace with `?workspace=acme`);
//! without it, nobody tops up through HTTP.
//!
//! | route | needs |
//! |---|---|
//! | `GET /v1/records` | `read:all` |
//! | `POST /v1/records` | `write:all` |
//! | `GET, POST /admin/keys`, `GET, PATCH /admin/keys/{id}`, `POST /admin/keys/{id}/revoke`, `POST /admin/keys/{id}/rotate`, `GET /admin/plans`, `GET /admin/keys/{id}/credits` | `admin` |
//! | `POST /admin/keys/{id}/credits` | `admin`, in the `--operator` workspace |
//! | `GET /settings/api-keys` (the API Keys panel; it asks for an admin key) | no key |
//! | `GET /metrics` (with the `metrics` feature): the layer's metrics in the Prometheus text format | no key |
//!
//! `/metrics` answers anyone who can reach the server, as most exporters do: in production,
//! serve it on an internal address only (or behind the scraper's own credentials).

#[path = "shared/product.rs"]
mod product;
#[path = "shared/records.rs"]
mod records;

use keygate::Workspace;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use keygate::admin::Admin;
use keygate::policy::RoutePolicy;
use keygate::store::sqlite::SqliteKeyStore;
use keygate::{
    ApiKeyLayer, KeyManager, MemoryRateLimiter, NewKey, Quota, Scope, Scopes, StoreError,
};

/// The server's application: its router, and the admin key made on a first start.
pub struct Server {
    /// The demo routes and the admin API, behind the keygate layer.
    pub router: Router,
    /// The plaintext of the admin key created because the database was empty, if it was.
    pub first_admin_key: Option<String>,
}

/// Builds the server over `store`, creating the first admin key of the `default` workspace if
/// that workspace has no key. Nobody tops up credits through HTTP.
pub async fn server(store: SqliteKeyStore) -> Result<Server, StoreError> {
    server_with_operator(store, None).await
}

/// [`server`], the admin keys of `operator` (if any) topping up credits in any workspace.
pub async fn server_with_operator(
    store: SqliteKeyStore,
    operator: Option<Workspace>,
) -> Result<Server, StoreError> {
    let first_admin_key = if store.list(&Workspace::default()).await?.is_empty() {
        let name = "admin".parse().expect("valid name");
        let created = store
            .create(NewKey::new(name, Scopes::new([Scope::Admin])))
            .await?;
        Some(created.plaintext.expose_secret().to_owned())
    } else {
        None
    };

    let per_second = NonZeroU32::new(10).expect("non-zero");
    let burst = NonZeroU32::new(20).expect("non-zero");
    // One limiter: the layer spends credits with it, the admin API reads and tops them up.
    let limiter = MemoryRateLimiter::new();
    let mut admin = Admin::new(Arc::new(store.clone()))
        .plans()
        .credits(limiter.clone());
    if let Some(operator) = operator {
        admin = admin.operator(operator);
    }
    let layer = ApiKeyLayer::builder(store, limiter)
        .policy(RoutePolicy::new().route("/admin/**", Scope::Admin))
        .default_quota(Quota::per_second(per_second).allow_burst(burst))
        .rejection_response(product::rejection());
    // The store's and the limiter's latency histograms too: a few hundred nanoseconds a
    // request, next to a SQLite lookup's microseconds.
    #[cfg(feature = "metrics")]
    let layer = layer.metrics_latency(true);
    let layer = layer.build();

    let panel = keygate::panel::Panel::new("/admin")
        .and_then(|panel| panel.example_path("/v1/records"))
        .expect("valid paths");
    let router = records::routes()
        .nest("/admin", admin.router())
        .layer(layer)
        // After `.layer`: the page itself needs no key; it asks for an admin key to call /admin.
        .nest("/settings/api-keys", keygate::panel::router(panel));
    Ok(Server {
        router,
        first_admin_key,
    })
}

/// `router` with `GET /metrics`: what `handle`'s recorder holds (install it first, say with
/// [`install_metrics`]), in the Prometheus text format.
#[cfg(feature = "metrics")]
pub fn with_metrics(
    router: Router,
    handle: metrics_exporter_prometheus::PrometheusHandle,
) -> Router {
    let render = move || std::future::ready(handle.render());
    router.route("/metrics", axum::routing::get(render))
}

/// Installs the Prometheus recorder as the process's recorder, and describes keygate's
/// metrics to it.
#[cfg(feature = "metrics")]
pub fn install_metrics() -> Result<metrics_exporter_prometheus::PrometheusHandle, String> {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    keygate::metrics::describe();
    Ok(handle)
}

const USAGE: &str = "usage: server [--db PATH] [--addr HOST:PORT] [--operator WORKSPACE]   \
     (default keygate.db, 127.0.0.1:3000, no operator)";

/// The command line: the database, the address, the operator's workspace.
struct Args {
    db: PathBuf,
    addr: SocketAddr,
    operator: Option<Workspace>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut db = PathBuf::from("keygate.db");
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 3000));
    let mut operator = None;
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value; {USAGE}"));
        match arg.as_str() {
            "--db" => db = PathBuf::from(value("--db")?),
            "--addr" => {
                let text = value("--addr")?;
                addr = text
                    .parse()
                    .map_err(|e| format!("--addr {text:?} is not HOST:PORT ({e})"))?;
            }
            "--operator" => {
                let text = value("--operator")?;
                operator = Some(text.parse().map_err(|e| format!("--operator: {e}"))?);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    Ok(Args { db, addr, operator })
}

#[allow(dead_code)]
#[tokio::main]
async fn main() {
    let Args { db, addr, operator } = match parse_args() {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(2);
        }
    };
    let store = match SqliteKeyStore::open(&db).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(3);
        }
    };
    let server = match server_with_operator(store, operator.clone()).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(3);
        }
    };
    #[cfg(feature = "metrics")]
    let server = match install_metrics() {
        Ok(handle) => Server {
            router: with_metrics(server.router, handle),
            ..server
        },
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(1);
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    let base = format!("http://{addr}");
    println!("Keys are kept in {}.", db.display());
    println!("API Keys panel: {base}/settings/api-keys");
    #[cfg(feature = "metrics")]
    println!("Metrics (Prometheus text format): {base}/metrics");
    match &operator {
        Some(operator) => println!("Admin keys of workspace {operator} top up credits."),
        None => println!("Nobody tops up credits through HTTP (start with --operator WORKSPACE)."),
    }
    match &server.first_admin_key {
        Some(key) => {
            println!("The database was empty: created the key `admin` (scope admin):");
            println!("  {key}");
            println!("Store it now: it cannot be shown again.");
            println!();
            println!("Listening on {base}. Try:");
            println!(
                "  curl -s {base}/admin/keys -H 'Authorization: Bearer {key}' -H 'content-type: application/json' -d '{{\"name\": \"ci-pipeline\", \"scopes\": [\"read:all\"]}}'"
            );
            println!("  curl -s {base}/admin/keys -H 'Authorization: Bearer {key}'");
        }
        None => println!("Listening on {base} (manage keys with /admin/keys or the keygate CLI)."),
    }
    if let Err(e) = axum::serve(listener, server.router).await {
        eprintln!("error: server failed: {e}");
        std::process::exit(1);
    }
}

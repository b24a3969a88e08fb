//! The server example's `/metrics`, scraped over a real socket: after one request of each
//! error-table row the example can bring about, and some successes, every counter moved by
//! exactly the right amount. Its own test binary: the Prometheus recorder is the process's
//! global recorder, and no other test's requests may move it.

#![cfg(all(
    feature = "sqlite",
    feature = "axum",
    feature = "panel",
    feature = "metrics"
))]

#[path = "../examples/server.rs"]
#[allow(dead_code)]
mod server;
mod wire;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use keygate::plan::{Limit, Period, Plan};
use keygate::store::sqlite::SqliteKeyStore;
use keygate::{KeyManager, NewKey, PlanManager, Quota, Workspace};

/// The samples of a Prometheus text page: `name{labels}` → value.
fn parse(page: &str) -> BTreeMap<String, f64> {
    page.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

async fn scrape(addr: SocketAddr) -> BTreeMap<String, f64> {
    let answer = wire::send(addr, wire::request("GET", "/metrics", None)).await;
    assert_eq!(answer.status(), 200);
    parse(std::str::from_utf8(answer.body()).unwrap())
}

/// How much each series moved from `before` to `after` (series that did not move left out).
fn moved(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(series, value)| (series, value - before.get(series).copied().unwrap_or(0.0)))
        .filter(|(_, delta)| *delta != 0.0)
        .map(|(series, delta)| (series.clone(), delta))
        .collect()
}

fn decisions(outcome: &str, workspace: &str) -> String {
    format!("keygate_decisions_total{{outcome=\"{outcome}\",workspace=\"{workspace}\"}}")
}

async fn status(addr: SocketAddr, method: &str, path: &str, key: Option<&str>) -> u16 {
    let answer = wire::send(addr, wire::request(method, path, key)).await;
    answer.status().as_u16()
}

/// A key of `workspace` made directly in the store (no request through the layer).
async fn key(store: &SqliteKeyStore, workspace: &str, new: NewKey) -> String {
    let new = new.workspace(workspace.parse().unwrap());
    let created = store.create(new).await.unwrap();
    created.plaintext.expose_secret().to_owned()
}

fn new_key(name: &str) -> NewKey {
    NewKey::new(name.parse().unwrap(), "read:all".parse().unwrap())
}

#[tokio::test]
async fn metrics_count_every_row_of_the_error_table_and_every_success_exactly_once() {
    let handle = server::install_metrics().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteKeyStore::open(dir.path().join("keys.db"))
        .await
        .unwrap();
    let app = server::server(store.clone()).await.unwrap();
    let addr = wire::serve_axum(server::with_metrics(app.router, handle)).await;

    // Keys of workspace `acme`, made in the store so that only the requests below are decided.
    let reader = key(&store, "acme", new_key("reader")).await;
    let once = Quota::new(1, Duration::from_secs(3600)).unwrap();
    let limited = key(&store, "acme", new_key("limited").quota(once)).await;
    let daily = Limit::quota("daily".parse().unwrap(), 1, Period::Day);
    store
        .put_plan(Plan::new("trial".parse().unwrap(), vec![daily]).unwrap())
        .await
        .unwrap();
    let trial = key(
        &store,
        "acme",
        new_key("trial").plan("trial".parse().unwrap()),
    )
    .await;
    let revoked = store
        .create(new_key("old").workspace("acme".parse().unwrap()))
        .await
        .unwrap();
    let acme: Workspace = "acme".parse().unwrap();
    store.revoke(&acme, &revoked.info.id).await.unwrap();
    let revoked = revoked.plaintext.expose_secret().to_owned();
    let soon = std::time::SystemTime::now() + Duration::from_secs(1);
    let expiring = key(&store, "acme", new_key("temp").expires_at(soon)).await;
    // A well-formed key this server never issued.
    let stranger = keygate::MemoryKeyStore::new()
        .create(new_key("x"))
        .await
        .unwrap();
    let stranger = stranger.plaintext.expose_secret().to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let before = scrape(addr).await;
    let records = "/v1/records";
    assert_eq!(status(addr, "GET", records, Some(&reader)).await, 200);
    assert_eq!(status(addr, "GET", records, Some(&reader)).await, 200);
    assert_eq!(status(addr, "GET", records, Some(&limited)).await, 200);
    assert_eq!(status(addr, "GET", records, Some(&trial)).await, 200);
    assert_eq!(status(addr, "GET", records, None).await, 401);
    assert_eq!(status(addr, "GET", records, Some("not-a-key")).await, 401);
    assert_eq!(status(addr, "GET", records, Some(&stranger)).await, 401);
    assert_eq!(status(addr, "GET", records, Some(&revoked)).await, 401);
    assert_eq!(status(addr, "GET", records, Some(&expiring)).await, 401);
    assert_eq!(status(addr, "POST", records, Some(&reader)).await, 403);
    assert_eq!(status(addr, "GET", records, Some(&limited)).await, 429);
    assert_eq!(status(addr, "GET", records, Some(&trial)).await, 429);
    let raw = wire::raw_request("GET", "/v1/../v1/records", Some(&reader), &[]);
    assert_eq!(wire::send_raw(addr, &raw).await.status, 400);
    let after = scrape(addr).await;

    let counters: BTreeMap<String, f64> = moved(&before, &after)
        .into_iter()
        .filter(|(series, _)| series.starts_with("keygate_decisions_total"))
        .collect();
    let expected: BTreeMap<String, f64> = [
        (decisions("ok", "acme"), 4.0),
        (decisions("missing_api_key", ""), 1.0),
        (decisions("malformed_api_key", ""), 1.0),
        (decisions("invalid_api_key", ""), 1.0),
        (decisions("revoked_api_key", "acme"), 1.0),
        (decisions("expired_api_key", "acme"), 1.0),
        (decisions("insufficient_scope", "acme"), 1.0),
        (decisions("rate_limited", "acme"), 1.0),
        (decisions("quota_exceeded", "acme"), 1.0),
        (decisions("malformed_request", ""), 1.0),
    ]
    .into_iter()
    .collect();
    assert_eq!(counters, expected);

    // Lookups: every request that got past its key's format (4 + invalid, revoked, expired,
    // insufficient_scope, rate_limited, quota_exceeded); the limiter: those that reached it.
    let count = |name: &str| {
        after.get(name).copied().unwrap_or(0.0) - before.get(name).copied().unwrap_or(0.0)
    };
    assert_eq!(count("keygate_store_lookup_seconds_count"), 10.0);
    assert_eq!(count("keygate_limiter_seconds_count"), 6.0);
    assert_eq!(count("keygate_fail_open_total"), 0.0);
}

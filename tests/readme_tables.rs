//! What the README's tables promise is what a real server answers: every `status` / `code` row
//! of the error table and of the admin API's refusal table is brought about over a real socket
//! against a SQLite-backed axum service, and the answer must carry that status and code. A row
//! added to the README without a way to bring it about here fails too.

#![cfg(all(feature = "sqlite", feature = "axum"))]

mod wire;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use keygate::plan::{Limit, Period, Plan};
use keygate::policy::RoutePolicy;
use keygate::store::sqlite::SqliteKeyStore;
use keygate::{
    ApiKeyLayer, KeyManager, MemoryKeyStore, MemoryRateLimiter, NewKey, PlanManager, Quota, Scope,
};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// One row of a README table: the section it is in, its status and its `code`.
#[derive(Debug)]
struct Row {
    section: String,
    status: u16,
    code: String,
}

/// Every row of every README table that has a `status` column and a `` `code` `` column.
fn promised_rows() -> Vec<Row> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut rows = Vec::new();
    let (mut section, mut heading, mut in_heading) = (String::new(), String::new(), false);
    let mut table: Vec<Vec<String>> = Vec::new();
    let mut cell = String::new();
    for event in Parser::new_ext(&text, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Heading { .. }) => (in_heading, heading) = (true, String::new()),
            Event::End(TagEnd::Heading(_)) => (in_heading, section) = (false, heading.clone()),
            Event::Start(Tag::Table(_)) => table.clear(),
            Event::Start(Tag::TableHead | Tag::TableRow) => table.push(Vec::new()),
            Event::Start(Tag::TableCell) => cell.clear(),
            Event::End(TagEnd::TableCell) => table.last_mut().unwrap().push(cell.trim().into()),
            Event::Text(t) | Event::Code(t) if in_heading => heading.push_str(&t),
            Event::Text(t) => cell.push_str(&t),
            Event::Code(t) => cell.push_str(&format!("`{t}`")),
            Event::End(TagEnd::Table) => {
                let header = &table[0];
                let status = header.iter().position(|h| h == "status");
                let code = header.iter().position(|h| h == "`code`");
                if let (Some(s), Some(c)) = (status, code) {
                    for row in &table[1..] {
                        rows.push(Row {
                            section: section.clone(),
                            status: row[s].parse().expect("a status number"),
                            code: row[c].trim_matches('`').to_owned(),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    rows
}

/// A SQLite-backed service like the README's first one, served on a free loopback port.
struct Service {
    addr: SocketAddr,
    store: SqliteKeyStore,
    admin: String,
    _dir: tempfile::TempDir,
}

fn records() -> Router {
    Router::new().route(
        "/v1/records",
        get(|| async { "records" }).post(|| async { "created" }),
    )
}

fn layer(store: SqliteKeyStore) -> ApiKeyLayer<SqliteKeyStore, MemoryRateLimiter, RoutePolicy> {
    ApiKeyLayer::builder(store, MemoryRateLimiter::new())
        .policy(RoutePolicy::new().route("/admin/**", Scope::Admin))
        .default_quota(Quota::per_second(NonZeroU32::new(100).unwrap()))
        .build()
}

async fn create(store: &SqliteKeyStore, new: NewKey) -> String {
    let created = store.create(new).await.unwrap();
    created.plaintext.expose_secret().to_owned()
}

fn named(name: &str, scopes: &str) -> NewKey {
    NewKey::new(name.parse().unwrap(), scopes.parse().unwrap())
}

impl Service {
    /// The service; `admin_over` serves the admin API over another store than the layer's.
    async fn start(admin_over: Option<SqliteKeyStore>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteKeyStore::open(dir.path().join("keys.db"))
            .await
            .unwrap();
        let admin = create(&store, named("admin", "admin")).await;
        let managed = admin_over.unwrap_or_else(|| store.clone());
        let router = records()
            .nest(
                "/admin",
                keygate::admin::Admin::new(Arc::new(managed))
                    .credits(MemoryRateLimiter::new())
                    .router(),
            )
            .layer(layer(store.clone()));
        let addr = wire::serve_axum(router).await;
        Self {
            addr,
            store,
            admin,
            _dir: dir,
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: &str,
    ) -> Response<Bytes> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost")
            .header("content-type", "application/json");
        if let Some(key) = key {
            builder = builder.header("authorization", format!("Bearer {key}"));
        }
        let request = builder
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap();
        wire::send(self.addr, request).await
    }

    async fn admin(&self, method: &str, path: &str, body: &str) -> Response<Bytes> {
        self.send(method, path, Some(&self.admin), body).await
    }

    /// A key of this service, created through the admin API; returns (id, plaintext).
    async fn admin_create(&self, body: &str) -> (String, String) {
        let created = self.admin("POST", "/admin/keys", body).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let json: serde_json::Value = serde_json::from_slice(created.body()).unwrap();
        (
            json["id"].as_str().unwrap().into(),
            json["key"].as_str().unwrap().into(),
        )
    }
}

/// A SQLite store whose database is damaged underneath it (its table dropped by another
/// connection): every call fails as a real broken database does.
async fn broken_store(dir: &Path) -> SqliteKeyStore {
    let path = dir.join("broken.db");
    let store = SqliteKeyStore::open(&path).await.unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE keygate_keys")
        .unwrap();
    store
}

/// Brings about the error table's row `code` and returns the answer.
async fn error_table_answer(code: &str) -> Response<Bytes> {
    let s = Service::start(None).await;
    match code {
        "missing_api_key" => s.send("GET", "/v1/records", None, "").await,
        "malformed_api_key" => s.send("GET", "/v1/records", Some("not-a-key"), "").await,
        "invalid_api_key" => {
            let other = SqliteKeyStore::open(s._dir.path().join("other.db"))
                .await
                .unwrap();
            let stranger = create(&other, named("stranger", "read:all")).await;
            s.send("GET", "/v1/records", Some(&stranger), "").await
        }
        "revoked_api_key" => {
            let (id, key) = s
                .admin_create(r#"{"name":"ci-pipeline","scopes":["read:all"]}"#)
                .await;
            let revoked = s
                .admin("POST", &format!("/admin/keys/{id}/revoke"), "")
                .await;
            assert_eq!(revoked.status(), StatusCode::OK);
            s.send("GET", "/v1/records", Some(&key), "").await
        }
        "expired_api_key" => {
            let soon = SystemTime::now() + Duration::from_millis(300);
            let key = create(&s.store, named("short-lived", "read:all").expires_at(soon)).await;
            tokio::time::sleep(Duration::from_millis(400)).await;
            s.send("GET", "/v1/records", Some(&key), "").await
        }
        "insufficient_scope" => {
            let (_, key) = s
                .admin_create(r#"{"name":"local-dev","scopes":["read:all"]}"#)
                .await;
            s.send("POST", "/v1/records", Some(&key), "r").await
        }
        "disabled_api_key" => {
            // Disabling is kept by the memory store.
            let store = MemoryKeyStore::new();
            let key = store
                .create(named("ci-pipeline", "read:all"))
                .await
                .unwrap();
            let workspace = keygate::Workspace::default();
            store.disable(&workspace, &key.info.id).await.unwrap();
            let router = records().layer(ApiKeyLayer::new(store, MemoryRateLimiter::new()));
            let addr = wire::serve_axum(router).await;
            let key = key.plaintext.expose_secret();
            wire::send(addr, wire::request("GET", "/v1/records", Some(key))).await
        }
        "ip_not_allowed" => {
            let (_, key) = s
                .admin_create(
                    r#"{"name":"office-sync","scopes":["read:all"],"allowed_ips":["192.0.2.0/24"]}"#,
                )
                .await;
            s.send("GET", "/v1/records", Some(&key), "").await
        }
        "rate_limited" => {
            let one = Quota::per_second(NonZeroU32::new(1).unwrap());
            let key = create(&s.store, named("local-dev", "read:all").quota(one)).await;
            s.send("GET", "/v1/records", Some(&key), "").await;
            s.send("GET", "/v1/records", Some(&key), "").await
        }
        "https_required" => {
            let router = records().layer(
                ApiKeyLayer::builder(s.store.clone(), MemoryRateLimiter::new())
                    .require_https(true)
                    .build(),
            );
            let addr = wire::serve_axum(router).await;
            wire::send(addr, wire::request("GET", "/v1/records", Some(&s.admin))).await
        }
        "auth_unavailable" => {
            let broken = broken_store(s._dir.path()).await;
            let addr = wire::serve_axum(records().layer(layer(broken))).await;
            wire::send(addr, wire::request("GET", "/v1/records", Some(&s.admin))).await
        }
        "malformed_request" => s.send("GET", "/v1/records/..", Some(&s.admin), "").await,
        "quota_exceeded" => {
            // Plans are kept by the memory store: a key on `trial`, one request a day.
            let store = MemoryKeyStore::new();
            let daily = Limit::quota("daily".parse().unwrap(), 1, Period::Day);
            let trial = Plan::new("trial".parse().unwrap(), vec![daily]).unwrap();
            store.put_plan(trial).await.unwrap();
            let on_trial = named("ci-pipeline", "read:all").plan("trial".parse().unwrap());
            let key = store.create(on_trial).await.unwrap();
            let key = key.plaintext.expose_secret();
            let router = records().layer(ApiKeyLayer::new(store, MemoryRateLimiter::new()));
            let addr = wire::serve_axum(router).await;
            wire::send(addr, wire::request("GET", "/v1/records", Some(key))).await;
            wire::send(addr, wire::request("GET", "/v1/records", Some(key))).await
        }
        other => panic!("the error table promises `{other}`, and this test cannot bring it about"),
    }
}

/// Brings about the admin API's refusal `code` and returns the answer.
async fn admin_answer(code: &str) -> Response<Bytes> {
    let s = Service::start(None).await;
    match code {
        "malformed_request" => s.admin("POST", "/admin/keys", "{not json").await,
        "request_too_large" => {
            let name = "x".repeat(17 * 1024);
            s.admin("POST", "/admin/keys", &format!(r#"{{"name":"{name}"}}"#))
                .await
        }
        "invalid_request" => {
            let body = r#"{"name":"Production Backend","scopes":["read:all"]}"#;
            s.admin("POST", "/admin/keys", body).await
        }
        "key_not_found" => s.admin("GET", "/admin/keys/Zwce9UxZEDf0", "").await,
        "key_conflict" => {
            let (id, _) = s
                .admin_create(r#"{"name":"ci-pipeline","scopes":["read:all"]}"#)
                .await;
            s.admin("POST", &format!("/admin/keys/{id}/revoke"), "")
                .await;
            let body = r#"{"add_scopes":["write:all"]}"#;
            s.admin("PATCH", &format!("/admin/keys/{id}"), body).await
        }
        "name_taken" => {
            let body = r#"{"name":"ci-pipeline","scopes":["read:all"]}"#;
            s.admin_create(body).await;
            s.admin("POST", "/admin/keys", body).await
        }
        "operator_only" => {
            // The service names no operator: nobody tops up credits through HTTP.
            let (id, _) = s
                .admin_create(r#"{"name":"ci-pipeline","scopes":["read:all"]}"#)
                .await;
            let body = r#"{"add":5}"#;
            s.admin("POST", &format!("/admin/keys/{id}/credits"), body)
                .await
        }
        "insufficient_scope" => {
            let (_, key) = s
                .admin_create(r#"{"name":"ci-pipeline","scopes":["read:all"]}"#)
                .await;
            s.send("GET", "/admin/keys", Some(&key), "").await
        }
        "store_unavailable" => {
            let dir = tempfile::tempdir().unwrap();
            let over_broken = Service::start(Some(broken_store(dir.path()).await)).await;
            over_broken.admin("GET", "/admin/keys", "").await
        }
        other => {
            panic!("the admin API's table promises `{other}`, and this test cannot bring it about")
        }
    }
}

fn code_of(answer: &Response<Bytes>) -> String {
    let json: serde_json::Value = serde_json::from_slice(answer.body()).unwrap_or_default();
    json["code"].as_str().unwrap_or("(no code)").to_owned()
}

#[tokio::test]
async fn the_readme_has_both_tables() {
    let rows = promised_rows();
    assert!(
        rows.iter().any(|r| r.section == "The error table"),
        "{rows:?}"
    );
    assert!(
        rows.iter().any(|r| r.section.starts_with("The admin API")),
        "{rows:?}"
    );
}

#[tokio::test]
async fn every_row_of_the_readme_error_table_is_what_the_server_answers() {
    for row in promised_rows()
        .iter()
        .filter(|r| r.section == "The error table")
    {
        let answer = error_table_answer(&row.code).await;
        assert_eq!(
            (answer.status().as_u16(), code_of(&answer)),
            (row.status, row.code.clone()),
            "README row {row:?}"
        );
    }
}

#[tokio::test]
async fn every_row_of_the_readme_admin_refusal_table_is_what_the_server_answers() {
    for row in promised_rows()
        .iter()
        .filter(|r| r.section.starts_with("The admin API"))
    {
        let answer = admin_answer(&row.code).await;
        assert_eq!(
            (answer.status().as_u16(), code_of(&answer)),
            (row.status, row.code.clone()),
            "README row {row:?}"
        );
    }
}

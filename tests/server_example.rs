//! The SQLite server example: the first admin key, the admin API and the demo routes.

#![cfg(all(feature = "sqlite", feature = "axum"))]

#[path = "../examples/server.rs"]
#[allow(dead_code)]
mod server;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use keygate::store::sqlite::SqliteKeyStore;
use serde_json::Value;
use tower::ServiceExt;

async fn call(
    router: &Router,
    method: &str,
    path: &str,
    key: &str,
    body: &str,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn first_start_creates_one_admin_key_and_a_restart_creates_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let first = server::server(SqliteKeyStore::open(&path).await.unwrap())
        .await
        .unwrap();
    let admin = first
        .first_admin_key
        .clone()
        .expect("an admin key on first start");
    drop(first);

    let again = server::server(SqliteKeyStore::open(&path).await.unwrap())
        .await
        .unwrap();
    assert!(again.first_admin_key.is_none());
    let (status, listed) = call(&again.router, "GET", "/admin/keys", &admin, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["keys"].as_array().unwrap().len(), 1);
    assert_eq!(listed["keys"][0]["scopes"], serde_json::json!(["admin"]));
}

#[tokio::test]
async fn key_created_through_the_admin_api_reads_records_but_cannot_write_them() {
    let dir = tempfile::tempdir().unwrap();
    let app = server::server(
        SqliteKeyStore::open(dir.path().join("keys.db"))
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let admin = app.first_admin_key.unwrap();
    let (status, created) = call(
        &app.router,
        "POST",
        "/admin/keys",
        &admin,
        r#"{"name": "local-dev", "scopes": ["read:all"]}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let key = created["key"].as_str().unwrap();
    assert_eq!(
        call(&app.router, "GET", "/v1/records", key, "").await.0,
        StatusCode::OK
    );
    let (status, problem) = call(&app.router, "POST", "/v1/records", key, "new").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(problem["required_scope"], "write:all");
    let (status, _) = call(&app.router, "GET", "/admin/keys", key, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[cfg(feature = "cli")]
mod wire;

#[cfg(feature = "cli")]
mod operator {
    //! The operator's path to a second workspace: the server runs on a SQLite file, the
    //! `keygate` CLI creates an admin key for `acme` on the same file, and that admin manages
    //! `acme`'s keys, and only those, through the running server.

    use std::path::Path;
    use std::process::Command;

    use bytes::Bytes;
    use http::Request;
    use http_body_util::Full;
    use keygate::store::sqlite::SqliteKeyStore;
    use serde_json::{Value, json};

    use crate::wire;

    /// `keygate --db PATH ARGS… --json`, expecting success: its JSON.
    fn keygate(db: &Path, args: &[&str]) -> Value {
        let output = Command::new(env!("CARGO_BIN_EXE_keygate"))
            .arg("--db")
            .arg(db)
            .args(args)
            .arg("--json")
            .env_remove("KEYGATE_DB")
            .env_remove("KEYGATE_PREFIX")
            .env_remove("KEYGATE_WORKSPACE")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// `method path` on the running server with `key` and a JSON `body`: status and JSON.
    async fn call(
        addr: std::net::SocketAddr,
        method: &str,
        path: &str,
        key: &str,
        body: Value,
    ) -> (u16, Value) {
        let body = if body.is_null() {
            Bytes::new()
        } else {
            Bytes::from(body.to_string())
        };
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost")
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(Full::new(body))
            .unwrap();
        let response = wire::send(addr, request).await;
        let json = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
        (response.status().as_u16(), json)
    }

    fn names(listed: &Value) -> Vec<(String, String)> {
        listed["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["workspace"].as_str().unwrap().to_owned(),
                    k["name"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    fn pair(workspace: &str, name: &str) -> (String, String) {
        (workspace.to_owned(), name.to_owned())
    }

    #[tokio::test]
    async fn a_workspace_admin_made_with_the_cli_manages_only_its_own_keys_through_the_server() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("keys.db");
        let app = super::server::server(SqliteKeyStore::open(&db).await.unwrap())
            .await
            .unwrap();
        let root = app.first_admin_key.clone().expect("the first admin key");
        let addr = wire::serve_axum(app.router).await;

        // While the server runs: the operator gives acme an admin key, on the same file.
        let acme = keygate(
            &db,
            &[
                "create",
                "--workspace",
                "acme",
                "--name",
                "admin",
                "--scope",
                "admin",
            ],
        );
        assert_eq!(acme["workspace"], "acme");
        let acme_admin = acme["key"].as_str().unwrap().to_owned();
        let acme_admin_id = acme["id"].as_str().unwrap().to_owned();

        // Each admin creates a key named ci-pipeline: one per workspace, no clash.
        let ci = json!({"name": "ci-pipeline", "scopes": ["read:all"]});
        let (status, root_ci) = call(addr, "POST", "/admin/keys", &root, ci.clone()).await;
        assert_eq!(status, 201, "{root_ci}");
        let (status, acme_ci) = call(addr, "POST", "/admin/keys", &acme_admin, ci).await;
        assert_eq!(status, 201, "{acme_ci}");
        assert_eq!(acme_ci["workspace"], "acme");

        let (status, listed) = call(addr, "GET", "/admin/keys", &acme_admin, Value::Null).await;
        assert_eq!(status, 200);
        assert_eq!(
            names(&listed),
            [pair("acme", "admin"), pair("acme", "ci-pipeline")]
        );
        let (_, listed) = call(addr, "GET", "/admin/keys", &root, Value::Null).await;
        assert_eq!(
            names(&listed),
            [pair("default", "admin"), pair("default", "ci-pipeline")]
        );

        // Nothing of the default workspace is within acme's reach, and the reverse.
        let root_ci_id = root_ci["id"].as_str().unwrap();
        for (method, path) in [
            ("GET", format!("/admin/keys/{root_ci_id}")),
            ("POST", format!("/admin/keys/{root_ci_id}/revoke")),
        ] {
            let (status, problem) = call(addr, method, &path, &acme_admin, Value::Null).await;
            assert_eq!(status, 404, "{problem}");
            assert_eq!(problem["code"], "key_not_found");
        }
        let revoke_acme = format!("/admin/keys/{acme_admin_id}/revoke");
        let (status, _) = call(addr, "POST", &revoke_acme, &root, Value::Null).await;
        assert_eq!(status, 404);

        // Both admins still work, and the CLI sees acme's keys as the server made them.
        let shown = keygate(&db, &["show", root_ci_id]);
        assert_eq!(shown["status"], "active");
        let (status, _) = call(addr, "GET", "/admin/keys", &acme_admin, Value::Null).await;
        assert_eq!(status, 200);
        let acme_listed = keygate(&db, &["list", "--workspace", "acme"]);
        assert_eq!(
            names(&acme_listed),
            [pair("acme", "admin"), pair("acme", "ci-pipeline")]
        );
    }

    /// A running server whose operator is `operator`, with a key on `prepaid` (2 credits),
    /// both made with the CLI while it runs.
    struct Prepaid {
        _dir: tempfile::TempDir,
        addr: std::net::SocketAddr,
        /// The first admin key, of the `default` workspace.
        root: String,
        key: String,
        /// `/admin/keys/{id}/credits` of the key.
        credits: String,
    }

    async fn prepaid(operator: Option<keygate::Workspace>) -> Prepaid {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("keys.db");
        let store = SqliteKeyStore::open(&db).await.unwrap();
        let app = super::server::server_with_operator(store, operator)
            .await
            .unwrap();
        let root = app.first_admin_key.clone().expect("the first admin key");
        let addr = wire::serve_axum(app.router).await;
        keygate(&db, &["plans", "create", "prepaid", "--credits", "2"]);
        let scope = ["--scope", "read:all", "--plan", "prepaid"];
        let created = keygate(
            &db,
            &[&["create", "--name", "ci-pipeline"][..], &scope].concat(),
        );
        Prepaid {
            _dir: dir,
            addr,
            root,
            key: created["key"].as_str().unwrap().to_owned(),
            credits: format!("/admin/keys/{}/credits", created["id"].as_str().unwrap()),
        }
    }

    #[tokio::test]
    async fn a_key_out_of_credits_passes_again_after_the_operator_tops_it_up_over_http() {
        let Prepaid {
            addr,
            root,
            key,
            credits,
            ..
        } = &prepaid(Some(keygate::Workspace::default())).await;
        for _ in 0..2 {
            let (status, _) = call(*addr, "GET", "/v1/records", key, Value::Null).await;
            assert_eq!(status, 200);
        }
        let (status, refused) = call(*addr, "GET", "/v1/records", key, Value::Null).await;
        assert_eq!(status, 429);
        assert_eq!(refused["code"], "quota_exceeded");
        assert_eq!(refused["plan"], "prepaid");
        let (status, shown) = call(*addr, "GET", credits, root, Value::Null).await;
        assert_eq!(status, 200, "{shown}");
        assert_eq!(shown["credits"][0]["balance"], 0);

        let (status, topped) = call(*addr, "POST", credits, root, json!({"add": 3})).await;
        assert_eq!(status, 200, "{topped}");
        assert_eq!(topped["credits"][0]["balance"], 3);
        let (status, _) = call(*addr, "GET", "/v1/records", key, Value::Null).await;
        assert_eq!(status, 200);
    }

    #[tokio::test]
    async fn the_server_started_without_an_operator_lets_nobody_top_up() {
        let Prepaid {
            addr,
            root,
            credits,
            ..
        } = &prepaid(None).await;
        let (status, refused) = call(*addr, "POST", credits, root, json!({"add": 3})).await;
        assert_eq!(status, 403, "{refused}");
        assert_eq!(refused["code"], "operator_only");
        let (_, shown) = call(*addr, "GET", credits, root, Value::Null).await;
        assert_eq!(shown["credits"][0]["balance"], 2);
    }

    #[tokio::test]
    async fn a_plan_made_with_the_cli_takes_effect_on_the_running_server() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("keys.db");
        let app = super::server::server(SqliteKeyStore::open(&db).await.unwrap())
            .await
            .unwrap();
        let app_admin = app.first_admin_key.clone().expect("the first admin key");
        let addr = wire::serve_axum(app.router).await;

        // While the server runs: the operator defines `trial` and puts a new key on it.
        let plan = keygate(&db, &["plans", "create", "trial", "--quota", "5/day"]);
        assert_eq!(plan["name"], "trial");
        let created = keygate(
            &db,
            &[
                "create",
                "--name",
                "ci-pipeline",
                "--scope",
                "read:all",
                "--plan",
                "trial",
            ],
        );
        assert_eq!(created["plan"], "trial");
        let key = created["key"].as_str().unwrap().to_owned();

        for _ in 0..5 {
            let (status, _) = call(addr, "GET", "/v1/records", &key, Value::Null).await;
            assert_eq!(status, 200);
        }
        let (status, refused) = call(addr, "GET", "/v1/records", &key, Value::Null).await;
        assert_eq!(status, 429);
        assert_eq!(refused["code"], "quota_exceeded");
        assert_eq!(refused["plan"], "trial");
        assert_eq!(refused["limit"], "daily");

        // The default workspace's admin reads the plans its keys use; acme's admin sees none.
        let root = app_admin;
        let (status, shown) = call(addr, "GET", "/admin/plans", &root, Value::Null).await;
        assert_eq!(status, 200);
        assert_eq!(shown["plans"][0]["name"], "trial");
        assert_eq!(shown["plans"].as_array().unwrap().len(), 1);
        let acme = keygate(
            &db,
            &[
                "create",
                "--workspace",
                "acme",
                "--name",
                "admin",
                "--scope",
                "admin",
            ],
        );
        let acme_admin = acme["key"].as_str().unwrap();
        let (status, shown) = call(addr, "GET", "/admin/plans", acme_admin, Value::Null).await;
        assert_eq!(status, 200);
        assert_eq!(shown["plans"], json!([]));
        assert_eq!(shown["workspace_plan"], Value::Null);
    }
}

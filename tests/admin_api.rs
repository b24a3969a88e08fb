//! The admin API end to end: an axum app with the admin router and demo routes behind
//! `ApiKeyLayer`, over a `SqliteKeyStore` file, driven with `oneshot`.

#![cfg(all(feature = "sqlite", feature = "axum"))]

use keygate::Workspace;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use keygate::clock::ManualClock;
use keygate::policy::RoutePolicy;
use keygate::store::sqlite::SqliteKeyStore;
use keygate::{ApiKeyLayer, KeyManager, MemoryRateLimiter, NewKey, Scope};
use serde_json::{Value, json};
use tower::ServiceExt;

struct App {
    router: Router,
    store: SqliteKeyStore,
    clock: ManualClock,
    admin: String,
    _dir: tempfile::TempDir,
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    json: Value,
}

/// The app; with `admin_policy` the layer itself sends `/admin/**` to the `admin` scope,
/// without it only the handlers' own check guards the admin routes.
async fn app_with(admin_policy: bool) -> App {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let store = SqliteKeyStore::builder(dir.path().join("keys.db"))
        .clock(clock.clone())
        .open()
        .await
        .unwrap();
    let admin = store
        .create(NewKey::new(
            "production-backend".parse().unwrap(),
            "admin".parse().unwrap(),
        ))
        .await
        .unwrap()
        .plaintext
        .expose_secret()
        .to_owned();
    // Later keys list after the admin key.
    clock.advance(Duration::from_secs(1));
    let policy = if admin_policy {
        RoutePolicy::new().route("/admin/**", Scope::Admin)
    } else {
        RoutePolicy::new()
    };
    let layer = ApiKeyLayer::builder(store.clone(), MemoryRateLimiter::new())
        .policy(policy)
        .clock(clock.clone())
        .build();
    let router = Router::new()
        .route(
            "/v1/records",
            get(|| async { "records" }).post(|| async { "created" }),
        )
        .nest("/admin", keygate::admin::router(Arc::new(store.clone())))
        .layer(layer);
    App {
        router,
        store,
        clock,
        admin,
        _dir: dir,
    }
}

async fn app() -> App {
    app_with(true).await
}

impl App {
    async fn send(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> Answer {
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        self.send_raw(method, path, key, body).await
    }

    async fn send_raw(&self, method: &str, path: &str, key: &str, body: Body) -> Answer {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(body)
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Answer {
            status: parts.status,
            headers: parts.headers,
            json,
        }
    }

    async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.send(method, path, &self.admin, body).await
    }

    async fn create(&self, body: Value) -> Answer {
        self.admin("POST", "/admin/keys", Some(body)).await
    }

    /// Creates `ci-pipeline` with `read:all`: its plaintext and id.
    async fn create_ci(&self) -> (String, String) {
        let created = self
            .create(json!({"name": "ci-pipeline", "scopes": ["read:all"]}))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
        (
            created.json["key"].as_str().unwrap().to_owned(),
            created.json["id"].as_str().unwrap().to_owned(),
        )
    }

    /// Creating a key with `body` is a 422 problem naming `field` and saying `says`, and
    /// creates nothing.
    async fn assert_create_refused(&self, body: Value, field: &str, says: &str) {
        let refused = self.create(body).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused.headers["content-type"], "application/problem+json");
        assert_eq!(refused.json["code"], "invalid_request");
        assert_eq!(refused.json["errors"][0]["field"], field);
        let detail = refused.json["detail"].as_str().unwrap();
        assert!(detail.contains(says), "{detail}");
        assert_eq!(self.key_names().await, ["production-backend"]);
    }

    async fn rotate(&self, id: &str, grace: &str) -> Answer {
        let path = format!("/admin/keys/{id}/rotate");
        self.admin("POST", &path, Some(json!({ "grace": grace })))
            .await
    }

    /// The status of `GET /v1/records` with `key`.
    async fn read_records(&self, key: &str) -> StatusCode {
        self.send("GET", "/v1/records", key, None).await.status
    }

    async fn key_names(&self) -> Vec<String> {
        let listed = self.store.list(&Workspace::default()).await.unwrap();
        listed.iter().map(|k| k.name.to_string()).collect()
    }
}

#[tokio::test]
async fn key_lifecycle_through_the_admin_api_create_use_forbid_grant_revoke() {
    let app = app().await;
    let created = app
        .create(json!({"name": "ci-pipeline", "scopes": ["read:all"]}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    assert_eq!(created.headers["cache-control"], "no-store");
    let key = created.json["key"].as_str().unwrap().to_owned();
    let id = created.json["id"].as_str().unwrap().to_owned();
    assert!(
        created.json["note"]
            .as_str()
            .unwrap()
            .contains("cannot be shown again")
    );

    assert_eq!(app.read_records(&key).await, StatusCode::OK);
    let forbidden = app.send("POST", "/v1/records", &key, None).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(forbidden.json["code"], "insufficient_scope");

    // The documented fix: edit the key, and add the necessary scope.
    let edited = app
        .admin(
            "PATCH",
            &format!("/admin/keys/{id}"),
            Some(json!({"add_scopes": ["write:all"]})),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.json);
    assert_eq!(edited.json["scopes"], json!(["read:all", "write:all"]));
    assert_eq!(
        app.send("POST", "/v1/records", &key, None).await.status,
        StatusCode::OK
    );

    let revoked = app
        .admin("POST", &format!("/admin/keys/{id}/revoke"), None)
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(revoked.json["status"], "revoked");
    let refused = app.send("GET", "/v1/records", &key, None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json["code"], "revoked_api_key");
}

#[tokio::test]
async fn listing_and_showing_keys_never_reveal_secrets_or_digests() {
    let app = app().await;
    let created = app
        .create(json!({"name": "local-dev", "scopes": ["read:all"], "quota": {"burst": 5, "interval": "1s"}}))
        .await;
    let secret = created.json["key"].as_str().unwrap().to_owned();
    let id = created.json["id"].as_str().unwrap().to_owned();
    let listed = app.admin("GET", "/admin/keys", None).await;
    assert_eq!(listed.status, StatusCode::OK);
    let shown = app.admin("GET", &format!("/admin/keys/{id}"), None).await;
    assert_eq!(shown.json["name"], "local-dev");
    assert_eq!(shown.json["quota"], json!({"burst": 5, "interval": "1s"}));
    let names: Vec<_> = listed.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["production-backend", "local-dev"]);
    for answer in [&listed, &shown] {
        let text = answer.json.to_string();
        assert!(!text.contains(&secret[secret.len() - 49..]));
        assert!(!text.contains("digest"), "{text}");
        assert!(!text.contains(&app.admin[app.admin.len() - 49..]));
    }
}

#[tokio::test]
async fn bad_name_is_refused_with_422_and_nothing_is_created() {
    app()
        .await
        .assert_create_refused(
            json!({"name": "Production Backend", "scopes": ["read:all"]}),
            "name",
            "production-backend",
        )
        .await;
}

#[tokio::test]
async fn unknown_scope_is_refused_and_nothing_is_created() {
    app()
        .await
        .assert_create_refused(
            json!({"name": "ci-pipeline", "scopes": ["read:all", "root"]}),
            "scopes[1]",
            "unknown scope",
        )
        .await;
}

#[tokio::test]
async fn past_expiry_is_refused_and_nothing_is_created() {
    app()
        .await
        .assert_create_refused(
            json!({"name": "ci-pipeline", "scopes": ["read:all"], "expires_at": "2020-01-01T00:00:00Z"}),
            "expires_at",
            "future",
        )
        .await;
}

#[tokio::test]
async fn every_bad_field_is_reported_at_once() {
    let app = app().await;
    let refused = app
        .create(json!({"name": "-", "scopes": [], "expires_in": "soon"}))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<_> = refused.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["name", "scopes", "expires_in"]);
}

#[tokio::test]
async fn expiry_given_as_a_duration_is_set_from_now() {
    let app = app().await;
    let created = app
        .create(json!({"name": "ci-pipeline", "scopes": ["read:all"], "expires_in": "90d"}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = keygate::key::KeyId::new(created.json["id"].as_str().unwrap()).unwrap();
    let expires = app
        .store
        .info(&Workspace::default(), &id)
        .await
        .unwrap()
        .expires_at
        .unwrap();
    let in_90_days = std::time::SystemTime::now() + Duration::from_secs(90 * 86_400);
    let gap = in_90_days.duration_since(expires).unwrap_or_default();
    assert!(gap < Duration::from_secs(60), "{gap:?}");
}

#[tokio::test]
async fn malformed_json_is_refused_with_400() {
    let app = app().await;
    let syntax = app
        .send_raw("POST", "/admin/keys", &app.admin, Body::from("{\"name\": "))
        .await;
    assert_eq!(syntax.status, StatusCode::BAD_REQUEST);
    assert_eq!(syntax.json["code"], "malformed_request");
    assert_eq!(app.key_names().await, ["production-backend"]);
}

#[tokio::test]
async fn an_unknown_member_is_refused_with_422_naming_it() {
    let app = app().await;
    app.assert_create_refused(
        json!({"name": "ci-pipeline", "scope": ["read:all"]}),
        "scope",
        "unknown field `scope`",
    )
    .await;
}

#[tokio::test]
async fn a_member_of_the_wrong_type_is_refused_with_422_naming_its_path() {
    let app = app().await;
    app.assert_create_refused(
        json!({"name": "ci-pipeline", "scopes": ["read:all", 7]}),
        "scopes[1]",
        "invalid type",
    )
    .await;
    app.assert_create_refused(
        json!({"name": "ci-pipeline", "scopes": ["read:all"], "quota": {"burst": "many"}}),
        "quota.burst",
        "invalid type",
    )
    .await;
}

#[tokio::test]
async fn a_missing_member_is_refused_with_422_naming_it() {
    let app = app().await;
    app.assert_create_refused(
        json!({"scopes": ["read:all"]}),
        "name",
        "missing field `name`",
    )
    .await;
}

#[tokio::test]
async fn oversized_body_is_refused_with_413() {
    let app = app().await;
    let huge = json!({"name": "ci-pipeline", "scopes": vec!["read:all"; 4000]});
    let refused = app.create(huge).await;
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(refused.json["code"], "request_too_large");
    assert_eq!(app.key_names().await, ["production-backend"]);
}

#[tokio::test]
async fn key_without_admin_is_refused_by_every_admin_route_and_nothing_changes() {
    // No admin rule in the layer: only the handlers' own check stands in the way.
    let app = app_with(false).await;
    let writer = app
        .store
        .create(NewKey::new(
            "ci-pipeline".parse().unwrap(),
            "read:all,write:all".parse().unwrap(),
        ))
        .await
        .unwrap();
    let key = writer.plaintext.expose_secret().to_owned();
    let id = writer.info.id;
    let routes = [
        ("GET", "/admin/keys".to_owned(), None),
        (
            "POST",
            "/admin/keys".to_owned(),
            Some(json!({"name": "sneaky", "scopes": ["admin"]})),
        ),
        ("GET", format!("/admin/keys/{id}"), None),
        (
            "PATCH",
            format!("/admin/keys/{id}"),
            Some(json!({"add_scopes": ["admin"]})),
        ),
        ("POST", format!("/admin/keys/{id}/revoke"), None),
        ("POST", format!("/admin/keys/{id}/rotate"), None),
    ];
    for (method, path, body) in routes {
        let refused = app.send(method, &path, &key, body).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(refused.json["code"], "insufficient_scope");
        assert_eq!(refused.json["required_scope"], "admin");
        assert!(
            refused.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("scope=\"admin\"")
        );
    }
    let info = app.store.info(&Workspace::default(), &id).await.unwrap();
    assert_eq!(info.scopes.to_string(), "read:all,write:all");
    assert!(info.revoked_at.is_none() && info.previous_secret_valid_until.is_none());
    assert_eq!(app.key_names().await, ["production-backend", "ci-pipeline"]);
}

#[tokio::test]
async fn admin_routes_without_the_layer_answer_500_naming_the_missing_layer() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteKeyStore::open(dir.path().join("keys.db"))
        .await
        .unwrap();
    let unprotected = Router::new().nest("/admin", keygate::admin::router(Arc::new(store)));
    let response = unprotected
        .oneshot(Request::get("/admin/keys").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["code"], "admin_unprotected");
    assert!(json["detail"].as_str().unwrap().contains("ApiKeyLayer"));
}

#[tokio::test]
async fn old_secret_is_accepted_during_the_rotation_grace_and_refused_after() {
    let app = app().await;
    let (old, id) = app.create_ci().await;
    let rotated = app.rotate(&id, "1h").await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.json);
    let new = rotated.json["key"].as_str().unwrap().to_owned();
    assert_eq!(rotated.json["id"], id.as_str());
    assert!(rotated.json["previous_secret_valid_until"].is_string());

    assert_eq!(app.read_records(&new).await, StatusCode::OK);
    assert_eq!(app.read_records(&old).await, StatusCode::OK);
    app.clock.advance(Duration::from_secs(3601));
    let late = app.send("GET", "/v1/records", &old, None).await;
    assert_eq!(late.status, StatusCode::UNAUTHORIZED);
    assert_eq!(late.json["code"], "invalid_api_key");
    assert_eq!(app.read_records(&new).await, StatusCode::OK);
}

#[tokio::test]
async fn rotation_with_zero_grace_refuses_the_old_secret_at_once() {
    let app = app().await;
    let (old, id) = app.create_ci().await;
    let rotated = app.rotate(&id, "0s").await;
    assert_eq!(rotated.status, StatusCode::OK);
    let refused = app.send("GET", "/v1/records", &old, None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_key_is_404_and_a_revoked_key_cannot_be_edited() {
    let app = app().await;
    let missing = app.admin("GET", "/admin/keys/AAAAAAAAAAAA", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json["code"], "key_not_found");
    let bad_id = app.admin("GET", "/admin/keys/nope", None).await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST);

    let (_, id) = app.create_ci().await;
    app.admin("POST", &format!("/admin/keys/{id}/revoke"), None)
        .await;
    let conflict = app
        .admin(
            "PATCH",
            &format!("/admin/keys/{id}"),
            Some(json!({"add_scopes": ["write:all"]})),
        )
        .await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert_eq!(conflict.json["code"], "key_conflict");
}

#[tokio::test]
async fn removing_the_last_scope_is_refused_and_changes_nothing() {
    let app = app().await;
    let (_, id) = app.create_ci().await;
    let refused = app
        .admin(
            "PATCH",
            &format!("/admin/keys/{id}"),
            Some(json!({"remove_scopes": ["read:all"]})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let shown = app.admin("GET", &format!("/admin/keys/{id}"), None).await;
    assert_eq!(shown.json["scopes"], json!(["read:all"]));
}

#[tokio::test]
async fn expiry_further_than_a_hundred_years_is_refused_naming_the_field() {
    let app = app().await;
    for (body, field) in [
        (
            json!({"name": "ci-pipeline", "scopes": ["read:all"], "expires_in": "20000y"}),
            "expires_in",
        ),
        (
            json!({"name": "ci-pipeline", "scopes": ["read:all"], "expires_in": "101y"}),
            "expires_in",
        ),
        (
            json!({"name": "ci-pipeline", "scopes": ["read:all"], "expires_at": "9999-12-31T23:59:59Z"}),
            "expires_at",
        ),
    ] {
        app.assert_create_refused(body, field, "100 years").await;
    }
    let listed = app.admin("GET", "/admin/keys", None).await;
    assert_eq!(listed.status, StatusCode::OK);
}

#[tokio::test]
async fn expiry_of_ninety_nine_years_is_accepted_and_listed() {
    let app = app().await;
    let created = app
        .create(json!({"name": "ci-pipeline", "scopes": ["read:all"], "expires_in": "99y"}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let listed = app.admin("GET", "/admin/keys", None).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(listed.json["keys"][1]["expires_at"].is_string());
}

/// A router over a memory store already holding a key whose times are out of any sane range
/// (written by hand or by an older version): its id, the router and the admin key.
async fn app_holding_absurd_times() -> (Router, String, String) {
    let store = keygate::MemoryKeyStore::new();
    let admin = store
        .create(NewKey::new(
            "admin".parse().unwrap(),
            "admin".parse().unwrap(),
        ))
        .await
        .unwrap()
        .plaintext
        .expose_secret()
        .to_owned();
    let year_20000 = std::time::UNIX_EPOCH + Duration::from_secs(569_000_000_000);
    let id = keygate::key::KeyId::random().unwrap();
    let record = keygate::KeyRecord::new(
        id,
        "imported".parse().unwrap(),
        keygate::key::KeyDigest::from_bytes([7; 32]),
        "read:all".parse().unwrap(),
        std::time::UNIX_EPOCH - Duration::from_secs(86_400),
    )
    .with_expiry(Some(year_20000))
    .with_last_used_at(Some(year_20000));
    store.insert(record).unwrap();
    let router = Router::new()
        .nest("/admin", keygate::admin::router(Arc::new(store.clone())))
        .layer(ApiKeyLayer::new(store, MemoryRateLimiter::new()));
    (router, id.as_str().to_owned(), admin)
}

#[tokio::test]
async fn a_stored_key_with_an_out_of_range_time_still_lists_and_shows() {
    let (router, id, admin) = app_holding_absurd_times().await;
    for path in ["/admin/keys".to_owned(), format!("/admin/keys/{id}")] {
        let request = Request::builder()
            .uri(&path)
            .header("authorization", format!("Bearer {admin}"))
            .body(Body::empty())
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("9999-12-31T23:59:59Z"), "{text}");
        assert!(text.contains("1970-01-01T00:00:00Z"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scope_edits_through_the_admin_api_are_all_applied() {
    const EDITS: usize = 12;
    let app = Arc::new(app().await);
    let seeded: Vec<String> = (0..EDITS)
        .map(|j| format!("write:w{j}"))
        .chain(["admin".to_owned()])
        .collect();
    let created = app
        .create(json!({"name": "edited", "scopes": seeded}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let id = created.json["id"].as_str().unwrap().to_owned();
    let mut edits = tokio::task::JoinSet::new();
    for i in 0..EDITS {
        for body in [
            json!({"add_scopes": [format!("read:r{i}")]}),
            json!({"remove_scopes": [format!("write:w{i}")]}),
        ] {
            let (app, path) = (Arc::clone(&app), format!("/admin/keys/{id}"));
            edits.spawn(async move { app.admin("PATCH", &path, Some(body)).await.status });
        }
    }
    while let Some(status) = edits.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
    let shown = app.admin("GET", &format!("/admin/keys/{id}"), None).await;
    let mut expected: Vec<String> = (0..EDITS).map(|i| format!("read:r{i}")).collect();
    expected.sort();
    expected.insert(0, "admin".to_owned());
    assert_eq!(shown.json["scopes"], json!(expected));
}

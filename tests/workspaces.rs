//! Workspaces through the admin API, over a real socket: two workspaces, each with an admin
//! key, on the memory, SQLite and PostgreSQL stores (and the cache in front of the memory
//! store). Every admin route is tried across the
//! boundary: nothing of the other workspace is ever seen or changed, and the answer for another
//! workspace's key is byte for byte the answer for an id no key has.

#![cfg(feature = "axum")]

#[cfg(feature = "postgres")]
mod conformance;
mod wire;

use wire::Wire;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use keygate::key::KeyId;
use keygate::policy::RoutePolicy;
use keygate::{
    ApiKeyLayer, AuthenticatedKey, KeyManager, KeyStore, MemoryRateLimiter, NewKey, Scope,
    Workspace,
};
use serde_json::{Value, json};

/// One workspace of the served app: its id, its admin key and one more key, `billing-bot`.
struct Tenant {
    workspace: Workspace,
    admin: String,
    admin_id: String,
    bot: String,
    bot_id: String,
}

/// Whether any key, of any workspace, has an id (the store's own lookup).
type Exists = Box<dyn Fn(KeyId) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// The admin router and a `whoami` route behind `ApiKeyLayer`, served on a free port, over a
/// store holding two workspaces.
struct Served {
    addr: SocketAddr,
    manager: Arc<dyn KeyManager>,
    /// Whether any key, of any workspace, has this id.
    exists: Exists,
    a: Tenant,
    b: Tenant,
}

/// A workspace id no other test (nor an earlier run on the same PostgreSQL) uses.
fn fresh_workspace(label: &str) -> Workspace {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{label}-{nanos:x}-{n}-{}", std::process::id())
        .parse()
        .unwrap()
}

async fn tenant(manager: &dyn KeyManager, label: &str) -> Tenant {
    let workspace = fresh_workspace(label);
    let make = |name: &str, scopes: &str| {
        NewKey::new(name.parse().unwrap(), scopes.parse().unwrap()).workspace(workspace.clone())
    };
    let admin = manager.create(make("admin", "admin")).await.unwrap();
    let bot = manager
        .create(make("billing-bot", "read:all").metadata(r#"{"tier":"pro"}"#.parse().unwrap()))
        .await
        .unwrap();
    Tenant {
        workspace,
        admin: admin.plaintext.expose_secret().to_owned(),
        admin_id: admin.info.id.to_string(),
        bot: bot.plaintext.expose_secret().to_owned(),
        bot_id: bot.info.id.to_string(),
    }
}

async fn whoami(key: AuthenticatedKey) -> String {
    key.workspace().to_string()
}

async fn serve<S>(store: S) -> Served
where
    S: KeyStore + KeyManager + Clone,
{
    let manager: Arc<dyn KeyManager> = Arc::new(store.clone());
    let a = tenant(&*manager, "acme").await;
    let b = tenant(&*manager, "globex").await;
    let layer = ApiKeyLayer::builder(store.clone(), MemoryRateLimiter::new())
        .policy(RoutePolicy::new().route("/admin/**", Scope::Admin))
        .build();
    let router = Router::new()
        .route("/v1/whoami", get(whoami))
        .nest("/admin", keygate::admin::router(Arc::clone(&manager)))
        .layer(layer);
    let addr = wire::serve_axum(router).await;
    let exists = Box::new(move |id: KeyId| {
        let found = store.get(&id);
        Box::pin(async move { found.await.unwrap().is_some() }) as Pin<Box<_>>
    });
    Served {
        addr,
        manager,
        exists,
        a,
        b,
    }
}

impl Served {
    /// `method path` with `key` and a JSON `body` (none if empty), as raw HTTP/1.1.
    async fn call(&self, method: &str, path: &str, key: &str, body: &str) -> Wire {
        wire::json_call(self.addr, method, path, key, body).await
    }

    /// The names of the keys `tenant`'s admin lists, and the workspace of each.
    async fn listed(&self, tenant: &Tenant) -> Vec<(String, String)> {
        let listed = self.call("GET", "/admin/keys", &tenant.admin, "").await;
        assert_eq!(listed.status, 200, "{}", listed.body);
        listed.json()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["name"].as_str().unwrap().to_owned(),
                    k["workspace"].as_str().unwrap_or("(none)").to_owned(),
                )
            })
            .collect()
    }

    /// Everything the store keeps of `tenant`'s keys, as its listing shows them, but their
    /// last use (which the admin's own requests move).
    async fn state_of(&self, tenant: &Tenant) -> Vec<keygate::KeyInfo> {
        let mut keys = self.manager.list(&tenant.workspace).await.unwrap();
        for key in &mut keys {
            key.last_used_at = None;
        }
        keys
    }

    /// Which workspace `key` authenticates as (`None` if it is refused).
    async fn whoami(&self, key: &str) -> Option<String> {
        let answer = self.call("GET", "/v1/whoami", key, "").await;
        (answer.status == 200).then_some(answer.body)
    }

    /// A well-formed key id that no key has.
    async fn unknown_id(&self, like: &str) -> String {
        let mut chars: Vec<char> = like.chars().collect();
        for replacement in ['A', 'B', 'C'] {
            chars[0] = replacement;
            let candidate: String = chars.iter().collect();
            let id: KeyId = candidate.parse().unwrap();
            if candidate != like && !(self.exists)(id).await {
                return candidate;
            }
        }
        panic!("no unknown id found near {like}");
    }

    /// Asks `route` (a path with `{id}`) of `a`'s admin for `b`'s key `target`, and for an id
    /// no key has: both answers must be 404 `key_not_found` and identical but for the id.
    /// Checks that nothing of `b` changed and that `b`'s keys still authenticate, and that the
    /// same request for `a`'s own `billing-bot` succeeds (the route works within a workspace).
    async fn assert_boundary_holds(&self, method: &str, route: &str, target: &str, body: &str) {
        let own = self
            .call(
                method,
                &route.replace("{id}", &self.a.bot_id),
                &self.a.admin,
                body,
            )
            .await;
        assert_eq!(own.status, 200, "{}", own.body);
        self.assert_same_as_unknown(method, route, target, body)
            .await;
    }

    /// Asks `route` of `a`'s admin for `b`'s key `target` and for an id no key has: both
    /// answers are 404 `key_not_found`, identical but for the id, nothing of `b` changes and
    /// `b`'s keys still authenticate.
    async fn assert_same_as_unknown(&self, method: &str, route: &str, target: &str, body: &str) {
        let before = self.state_of(&self.b).await;
        let unknown = self.unknown_id(target).await;
        let across = self
            .call(method, &route.replace("{id}", target), &self.a.admin, body)
            .await;
        let missing = self
            .call(
                method,
                &route.replace("{id}", &unknown),
                &self.a.admin,
                body,
            )
            .await;
        assert_eq!(across.status, 404, "{}", across.body);
        assert_eq!(across.json()["code"], "key_not_found");
        assert_eq!(
            across.with_placeholder(target),
            missing.with_placeholder(&unknown)
        );
        assert_eq!(self.state_of(&self.b).await, before);
        let b = self.b.workspace.to_string();
        assert_eq!(self.whoami(&self.b.admin).await.as_ref(), Some(&b));
        assert_eq!(self.whoami(&self.b.bot).await.as_ref(), Some(&b));
    }

    async fn create(&self, tenant: &Tenant, body: Value) -> Wire {
        self.call("POST", "/admin/keys", &tenant.admin, &body.to_string())
            .await
    }

    /// The answer is a 422 `invalid_request` problem naming `field`.
    fn assert_invalid(answer: &Wire, field: &str) {
        assert_eq!(answer.status, 422, "{}", answer.body);
        let problem = answer.json();
        assert_eq!(problem["code"], "invalid_request");
        assert_eq!(problem["errors"][0]["field"], field, "{}", answer.body);
        let content_type = answer.headers.iter().find(|(n, _)| n == "content-type");
        assert_eq!(
            content_type.map(|(_, v)| v.as_str()),
            Some("application/problem+json")
        );
    }
}

/// The metadata object `{"a": "xxx…"}` of exactly `bytes` bytes serialized.
fn metadata_of_size(bytes: usize) -> Value {
    json!({ "a": "x".repeat(bytes - 8) })
}

/// One `#[tokio::test]` per check below, on the store made by `$make` (an async expression
/// giving `Option<store>`: `None` skips, as the backend tests do).
macro_rules! workspace_suite {
    ($make:expr) => {
        workspace_suite!(@tests $make;
            listing_shows_only_the_callers_workspace,
            showing_another_workspaces_key_is_the_404_of_an_unknown_id,
            editing_another_workspaces_key_is_the_404_of_an_unknown_id_and_changes_nothing,
            renaming_another_workspaces_key_to_a_taken_name_is_the_404_of_an_unknown_id,
            revoking_another_workspaces_key_is_the_404_of_an_unknown_id_and_changes_nothing,
            rotating_another_workspaces_key_is_the_404_of_an_unknown_id_and_changes_nothing,
            creating_a_key_naming_another_workspace_is_refused_and_creates_nothing,
            a_created_key_belongs_to_the_callers_workspace,
            naming_the_callers_own_workspace_on_create_is_accepted,
            the_same_name_in_two_workspaces_is_fine,
            a_taken_name_is_409_name_taken_and_creates_nothing,
            renaming_to_a_taken_name_is_409_name_taken_and_changes_nothing,
            metadata_round_trips_through_create_show_list_and_patch,
            metadata_of_1024_bytes_is_kept_and_1025_is_refused,
            metadata_that_is_not_an_object_is_refused_and_nothing_is_stored,
            a_workspace_member_in_a_patch_is_refused,
            the_audit_log_shows_only_the_callers_workspace,
        );
    };
    (@tests $make:expr; $($check:ident,)*) => {
        $(
            #[tokio::test]
            async fn $check() {
                let Some(store) = $make else { return };
                crate::checks::$check(&crate::serve(store).await).await;
            }
        )*
    };
}

mod checks {
    use super::*;

    pub async fn listing_shows_only_the_callers_workspace(app: &Served) {
        let a = app.a.workspace.to_string();
        let b = app.b.workspace.to_string();
        let pair = |name: &str, ws: &str| (name.to_owned(), ws.to_owned());
        assert_eq!(
            app.listed(&app.a).await,
            [pair("admin", &a), pair("billing-bot", &a)]
        );
        assert_eq!(
            app.listed(&app.b).await,
            [pair("admin", &b), pair("billing-bot", &b)]
        );
    }

    pub async fn showing_another_workspaces_key_is_the_404_of_an_unknown_id(app: &Served) {
        app.assert_boundary_holds("GET", "/admin/keys/{id}", &app.b.bot_id, "")
            .await;
        app.assert_boundary_holds("GET", "/admin/keys/{id}", &app.b.admin_id, "")
            .await;
    }

    pub async fn editing_another_workspaces_key_is_the_404_of_an_unknown_id_and_changes_nothing(
        app: &Served,
    ) {
        let edit = json!({
            "name": "taken-over", "add_scopes": ["admin"], "metadata": {"owner": "acme"}
        });
        app.assert_boundary_holds(
            "PATCH",
            "/admin/keys/{id}",
            &app.b.bot_id,
            &edit.to_string(),
        )
        .await;
        let demote = json!({"remove_scopes": ["admin"], "add_scopes": ["read:all"]});
        app.assert_boundary_holds(
            "PATCH",
            "/admin/keys/{id}",
            &app.b.admin_id,
            &demote.to_string(),
        )
        .await;
    }

    /// `admin` is taken in both workspaces: a store that looked at the name before the key's
    /// workspace would answer 409 for `b`'s key and 404 for an unknown id.
    pub async fn renaming_another_workspaces_key_to_a_taken_name_is_the_404_of_an_unknown_id(
        app: &Served,
    ) {
        let rename = json!({"name": "admin"}).to_string();
        app.assert_same_as_unknown("PATCH", "/admin/keys/{id}", &app.b.bot_id, &rename)
            .await;
    }

    pub async fn revoking_another_workspaces_key_is_the_404_of_an_unknown_id_and_changes_nothing(
        app: &Served,
    ) {
        app.assert_boundary_holds("POST", "/admin/keys/{id}/revoke", &app.b.admin_id, "")
            .await;
        app.assert_boundary_holds("POST", "/admin/keys/{id}/revoke", &app.b.bot_id, "")
            .await;
    }

    pub async fn rotating_another_workspaces_key_is_the_404_of_an_unknown_id_and_changes_nothing(
        app: &Served,
    ) {
        let no_grace = json!({"grace": "0s"}).to_string();
        app.assert_boundary_holds(
            "POST",
            "/admin/keys/{id}/rotate",
            &app.b.admin_id,
            &no_grace,
        )
        .await;
        app.assert_boundary_holds("POST", "/admin/keys/{id}/rotate", &app.b.bot_id, &no_grace)
            .await;
    }

    pub async fn creating_a_key_naming_another_workspace_is_refused_and_creates_nothing(
        app: &Served,
    ) {
        let before_a = app.state_of(&app.a).await;
        let before_b = app.state_of(&app.b).await;
        let refused = app
            .create(
                &app.a,
                json!({"name": "planted", "scopes": ["admin"], "workspace": app.b.workspace.as_str()}),
            )
            .await;
        Served::assert_invalid(&refused, "workspace");
        assert!(
            !refused.body.contains(app.b.workspace.as_str()),
            "{}",
            refused.body
        );
        // A workspace that has no key at all is refused the same way.
        let nobody = fresh_workspace("nobody");
        let refused = app
            .create(
                &app.a,
                json!({"name": "planted", "scopes": ["admin"], "workspace": nobody.as_str()}),
            )
            .await;
        Served::assert_invalid(&refused, "workspace");
        assert_eq!(app.state_of(&app.a).await, before_a);
        assert_eq!(app.state_of(&app.b).await, before_b);
        assert!(app.manager.list(&nobody).await.unwrap().is_empty());
    }

    pub async fn a_created_key_belongs_to_the_callers_workspace(app: &Served) {
        let created = app
            .create(
                &app.a,
                json!({"name": "ci-pipeline", "scopes": ["read:all"]}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        let view = created.json();
        assert_eq!(view["workspace"], app.a.workspace.as_str());
        assert_eq!(view["metadata"], json!({}));
        let key = view["key"].as_str().unwrap();
        assert_eq!(
            app.whoami(key).await.as_deref(),
            Some(app.a.workspace.as_str())
        );
        let id = view["id"].as_str().unwrap();
        let shown = app
            .call("GET", &format!("/admin/keys/{id}"), &app.b.admin, "")
            .await;
        assert_eq!(shown.status, 404);
    }

    pub async fn naming_the_callers_own_workspace_on_create_is_accepted(app: &Served) {
        let created = app
            .create(
                &app.a,
                json!({"name": "ci-pipeline", "scopes": ["read:all"], "workspace": app.a.workspace.as_str()}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        assert_eq!(created.json()["workspace"], app.a.workspace.as_str());
    }

    pub async fn the_same_name_in_two_workspaces_is_fine(app: &Served) {
        for tenant in [&app.a, &app.b] {
            let created = app
                .create(
                    tenant,
                    json!({"name": "ci-pipeline", "scopes": ["read:all"]}),
                )
                .await;
            assert_eq!(created.status, 201, "{}", created.body);
        }
    }

    pub async fn a_taken_name_is_409_name_taken_and_creates_nothing(app: &Served) {
        let before = app.state_of(&app.a).await;
        let taken = app
            .create(
                &app.a,
                json!({"name": "billing-bot", "scopes": ["read:all"]}),
            )
            .await;
        assert_eq!(taken.status, 409, "{}", taken.body);
        let problem = taken.json();
        assert_eq!(problem["code"], "name_taken");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("billing-bot"), "{detail}");
        assert!(!taken.body.contains(app.b.workspace.as_str()));
        assert_eq!(app.state_of(&app.a).await, before);
    }

    pub async fn renaming_to_a_taken_name_is_409_name_taken_and_changes_nothing(app: &Served) {
        let before = app.state_of(&app.a).await;
        let renamed = app
            .call(
                "PATCH",
                &format!("/admin/keys/{}", app.a.bot_id),
                &app.a.admin,
                r#"{"name": "admin"}"#,
            )
            .await;
        assert_eq!(renamed.status, 409, "{}", renamed.body);
        assert_eq!(renamed.json()["code"], "name_taken");
        assert_eq!(app.state_of(&app.a).await, before);
    }

    pub async fn metadata_round_trips_through_create_show_list_and_patch(app: &Served) {
        let meta = json!({"tier": "pro", "customer": 4711, "env": {"region": "eu"}});
        let created = app
            .create(
                &app.a,
                json!({"name": "ci-pipeline", "scopes": ["read:all"], "metadata": meta}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        assert_eq!(created.json()["metadata"], meta);
        let id = created.json()["id"].as_str().unwrap().to_owned();
        let path = format!("/admin/keys/{id}");
        assert_eq!(
            app.call("GET", &path, &app.a.admin, "").await.json()["metadata"],
            meta
        );
        let listed = app
            .call("GET", "/admin/keys", &app.a.admin, "")
            .await
            .json();
        let entry = listed["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id.as_str())
            .cloned()
            .unwrap();
        assert_eq!(entry["metadata"], meta);
        let replaced = json!({"tier": "enterprise"});
        let patched = app
            .call(
                "PATCH",
                &path,
                &app.a.admin,
                &json!({ "metadata": replaced }).to_string(),
            )
            .await;
        assert_eq!(patched.status, 200, "{}", patched.body);
        assert_eq!(patched.json()["metadata"], replaced);
        assert_eq!(patched.json()["scopes"], json!(["read:all"]));
        assert_eq!(
            app.call("GET", &path, &app.a.admin, "").await.json()["metadata"],
            replaced
        );
    }

    pub async fn metadata_of_1024_bytes_is_kept_and_1025_is_refused(app: &Served) {
        let fits = metadata_of_size(1024);
        assert_eq!(fits.to_string().len(), 1024);
        let created = app
            .create(
                &app.a,
                json!({"name": "ci-pipeline", "scopes": ["read:all"], "metadata": fits}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        assert_eq!(created.json()["metadata"], fits);
        let before = app.state_of(&app.a).await;
        let over = metadata_of_size(1025);
        let refused = app
            .create(
                &app.a,
                json!({"name": "too-much", "scopes": ["read:all"], "metadata": over}),
            )
            .await;
        Served::assert_invalid(&refused, "metadata");
        let path = format!("/admin/keys/{}", app.a.bot_id);
        let refused = app
            .call(
                "PATCH",
                &path,
                &app.a.admin,
                &json!({ "metadata": over }).to_string(),
            )
            .await;
        Served::assert_invalid(&refused, "metadata");
        assert_eq!(app.state_of(&app.a).await, before);
    }

    pub async fn metadata_that_is_not_an_object_is_refused_and_nothing_is_stored(app: &Served) {
        let before = app.state_of(&app.a).await;
        let path = format!("/admin/keys/{}", app.a.bot_id);
        for meta in [
            json!("{\"tier\": \"pro\"}"),
            json!(["tier", "pro"]),
            json!(7),
            json!(null),
            json!(true),
        ] {
            let refused = app
                .create(
                    &app.a,
                    json!({"name": "ci-pipeline", "scopes": ["read:all"], "metadata": meta}),
                )
                .await;
            Served::assert_invalid(&refused, "metadata");
            let refused = app
                .call(
                    "PATCH",
                    &path,
                    &app.a.admin,
                    &json!({ "metadata": meta }).to_string(),
                )
                .await;
            Served::assert_invalid(&refused, "metadata");
        }
        // Metadata that is not JSON at all makes the body not JSON: 400, as any such body.
        let broken = app
            .call(
                "POST",
                "/admin/keys",
                &app.a.admin,
                r#"{"name": "ci-pipeline", "scopes": ["read:all"], "metadata": {tier: pro}}"#,
            )
            .await;
        assert_eq!(broken.status, 400, "{}", broken.body);
        assert_eq!(app.state_of(&app.a).await, before);
    }

    pub async fn a_workspace_member_in_a_patch_is_refused(app: &Served) {
        let before = app.state_of(&app.a).await;
        let moved = app
            .call(
                "PATCH",
                &format!("/admin/keys/{}", app.a.bot_id),
                &app.a.admin,
                &json!({"workspace": app.b.workspace.as_str()}).to_string(),
            )
            .await;
        Served::assert_invalid(&moved, "workspace");
        assert_eq!(app.state_of(&app.a).await, before);
        assert!(
            app.state_of(&app.b)
                .await
                .iter()
                .all(|k| k.id.to_string() != app.a.bot_id)
        );
    }

    /// Each admin sees its own workspace's events only, its own change by its own key among
    /// them; asking for the other workspace's key reads as an id no key has: an empty page.
    pub async fn the_audit_log_shows_only_the_callers_workspace(app: &Served) {
        let edit = json!({"add_scopes": ["write:all"]}).to_string();
        for t in [&app.a, &app.b] {
            let path = format!("/admin/keys/{}", t.bot_id);
            let edited = app.call("PATCH", &path, &t.admin, &edit).await;
            assert_eq!(edited.status, 200, "{}", edited.body);
        }
        let log = app.call("GET", "/admin/audit", &app.a.admin, "").await;
        assert_eq!(log.status, 200, "{}", log.body);
        let events = log.json()["events"].as_array().unwrap().clone();
        for event in &events {
            assert_eq!(event["workspace"], app.a.workspace.as_str(), "{event}");
        }
        assert_eq!(events[0]["action"], "update");
        assert_eq!(events[0]["key"]["id"], app.a.bot_id.as_str());
        assert_eq!(events[0]["actor"]["id"], app.a.admin_id.as_str());
        let unknown = app.unknown_id(&app.b.bot_id).await;
        let across = format!("/admin/audit?key={}", app.b.bot_id);
        let across = app.call("GET", &across, &app.a.admin, "").await;
        let missing = format!("/admin/audit?key={unknown}");
        let missing = app.call("GET", &missing, &app.a.admin, "").await;
        assert_eq!(across.json(), json!({"events": [], "next": null}));
        assert_eq!(across, missing);
    }
}

mod memory {
    use keygate::MemoryKeyStore;

    workspace_suite!(Some(MemoryKeyStore::new()));
}

/// The cache in front of the memory store: a key of another workspace cached by id is still
/// not found.
#[cfg(feature = "cache")]
mod cached_memory {
    use keygate::MemoryKeyStore;
    use keygate::store::cache::CachedKeyStore;

    workspace_suite!(Some(
        CachedKeyStore::builder(MemoryKeyStore::new())
            .build()
            .unwrap()
    ));
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use keygate::store::sqlite::SqliteKeyStore;

    /// A store on a file in a directory kept for the rest of the process (the server task
    /// outlives the test body).
    async fn store() -> Option<SqliteKeyStore> {
        let dir = tempfile::tempdir().unwrap().keep();
        Some(SqliteKeyStore::open(dir.join("keys.db")).await.unwrap())
    }

    workspace_suite!(store().await);
}

#[cfg(feature = "postgres")]
mod postgres {
    use keygate::store::postgres::PostgresKeyStore;

    use crate::conformance::backend_url;

    /// A migrated store on the test database; each test works in workspaces of its own.
    async fn store() -> Option<PostgresKeyStore> {
        let url = backend_url("KEYGATE_TEST_POSTGRES_URL")?;
        let store = PostgresKeyStore::builder(&url)
            .pool_size(2)
            .build()
            .unwrap();
        store.migrate().await.unwrap();
        Some(store)
    }

    workspace_suite!(store().await);
}

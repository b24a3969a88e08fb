//! [`router`]: the admin routes, ready to nest under a path of your choice; [`Admin`], the
//! same with plans, credits and an operator.

use std::fmt;
use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use super::{MAX_BODY_BYTES, audit, credits, handlers, listing};
use crate::plan::CreditLedger;
use crate::realm::Realm;
use crate::store::KeyManager;
use crate::store::plans::PlanManager;
use crate::workspace::Workspace;

/// The admin API over `manager`, to nest under a path of your choice
/// (`Router::new().nest("/admin", keygate::admin::router(manager))`) behind
/// [`ApiKeyLayer`](crate::ApiKeyLayer).
///
/// | method and path | does | answers |
/// |---|---|---|
/// | `GET /keys?limit=&after=&status=&name=` | a page of the caller's workspace's keys, oldest first | 200 [`KeyList`](super::KeyList) `{"keys": [KeyView…], "next": "<cursor>" \| null}` |
/// | `POST /keys` | creates a key in the caller's workspace | 201 [`CreatedKeyView`](crate::view::CreatedKeyView) (plaintext, once) |
/// | `POST /keys/import` | imports a key issued elsewhere, by its plaintext or digest ([`ImportKeyRequest`](super::ImportKeyRequest)) | 201 `KeyView` (never a plaintext) |
/// | `GET /keys/{id}` | shows one key | 200 [`KeyView`](crate::view::KeyView) |
/// | `PATCH /keys/{id}` | renames it, replaces its metadata, replaces / adds / removes scopes | 200 `KeyView` |
/// | `POST /keys/{id}/revoke` | revokes it (again: no change) | 200 `KeyView` |
/// | `POST /keys/{id}/disable` | disables it: refused with 401 `disabled_api_key` until enabled (again: no change) | 200 `KeyView` |
/// | `POST /keys/{id}/enable` | enables it again (an enabled key: no change) | 200 `KeyView` |
/// | `DELETE /keys/{id}` | deletes it: the record goes, its name is free, its id is never used again, its audit events stay | 200 `KeyView`, as it was |
/// | `POST /keys/{id}/rotate` | new secret, the old one valid for `grace` | 200 `CreatedKeyView` |
/// | `GET /audit?limit=&before=&key=` | the workspace's audit log, newest first, a page at a time | 200 [`AuditList`](super::AuditList) |
///
/// Every change a route makes is recorded in the [audit log](crate::audit) with the calling
/// key as its actor; a refused change records nothing. `GET /keys` takes `limit` (1 to
/// [`MAX_KEY_PAGE`](crate::store::MAX_KEY_PAGE), default
/// [`DEFAULT_KEY_PAGE`](crate::store::DEFAULT_KEY_PAGE)), `after` (the `next` of the page
/// before), `status` (`active`, `disabled`, `expired` or `revoked`) and `name` (a name
/// prefix); keys come by creation time, then id, each exactly once across pages. A revoked
/// key cannot be disabled or enabled (409 `key_conflict`); a deleted key is then 404
/// `key_not_found`, and importing its id again is 409 `key_conflict`. `GET /audit` takes `limit` (1 to
/// [`MAX_AUDIT_PAGE`](crate::audit::MAX_AUDIT_PAGE), default 50), `before` (the `next` of
/// the page before) and `key` (one key's events); a bad value is 422 `invalid_request` naming
/// it. Like the plaintext of a new key, the log is answered with `Cache-Control: no-store`.
///
/// Every route acts within the workspace of the calling key
/// ([`AuthenticatedKey::workspace`](crate::AuthenticatedKey::workspace)) and nowhere else:
/// the listing shows that workspace's keys only, and a key of another workspace is answered
/// 404 `key_not_found`, byte for byte as an id no key has, and is never changed; the audit
/// log shows only that workspace's events (a `key` of another workspace finds none). A create
/// request naming another workspace is refused (422 `invalid_request`); a key's workspace
/// never changes. Names are unique among a workspace's unrevoked keys (409 `name_taken`).
///
/// Every route requires the `admin` scope, checked by each handler whatever policy the layer
/// runs (give the layer a `RoutePolicy` sending the prefix to `admin` too, so a non-admin key
/// is refused before the handler). Bodies are JSON of at most [`MAX_BODY_BYTES`]; refusals are
/// problem+json ([`AdminError`](super::AdminError)) and change nothing. A key without `admin`
/// is refused with the layer's 403, whose challenge names the realm `api`: a layer with
/// another [`realm`](crate::ApiKeyLayerBuilder::realm) goes with [`router_with_realm`].
pub fn router(manager: Arc<dyn KeyManager>) -> Router {
    Router::new()
        .route("/keys", get(listing::list).post(handlers::create))
        .route("/keys/import", post(handlers::import))
        .route(
            "/keys/{id}",
            get(handlers::show)
                .patch(handlers::update)
                .delete(handlers::delete),
        )
        .route("/keys/{id}/revoke", post(handlers::revoke))
        .route("/keys/{id}/disable", post(handlers::disable))
        .route("/keys/{id}/enable", post(handlers::enable))
        .route("/keys/{id}/rotate", post(handlers::rotate))
        .route("/audit", get(audit::list))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(manager)
}

/// [`router`], refusing keys without `admin` with a challenge in `realm`: give it the realm of
/// the [`ApiKeyLayer`](crate::ApiKeyLayer) in front.
///
/// ```
/// use std::sync::Arc;
/// use keygate::{MemoryKeyStore, Realm};
///
/// let admin = keygate::admin::router_with_realm(
///     Arc::new(MemoryKeyStore::new()),
///     Realm::new("acme").unwrap(),
/// );
/// # let _: axum::Router = admin;
/// ```
pub fn router_with_realm(manager: Arc<dyn KeyManager>, realm: Realm) -> Router {
    router(manager).layer(Extension(realm))
}

/// [`router`] and `GET /plans` over a store that keeps [plans](crate::plan) too: the plans the
/// caller's workspace uses (its keys' plans and the workspace's own plan), as
/// `{"workspace_plan": "pro" | null, "plans": [Plan JSON…]}` (the form of
/// [`Plan::to_json`](crate::plan::Plan::to_json)). Plans of other workspaces are never shown.
/// Only the operator defines plans and assigns them (the CLI, or [`PlanManager`] in code): the
/// admin API reads them.
///
/// ```
/// use std::sync::Arc;
/// use keygate::MemoryKeyStore;
///
/// let admin = keygate::admin::router_with_plans(Arc::new(MemoryKeyStore::new()));
/// # let _: axum::Router = admin;
/// ```
pub fn router_with_plans<S>(store: Arc<S>) -> Router
where
    S: KeyManager + PlanManager + 'static,
{
    Admin::new(store).plans().router()
}

/// The admin API, assembled: the key routes of [`router`], and as asked `GET /plans`
/// ([`plans`](Self::plans)), the credits routes ([`credits`](Self::credits)), the operator
/// who may top credits up ([`operator`](Self::operator)) and the realm of the 403 for a key
/// without `admin` ([`realm`](Self::realm)).
///
/// | method and path | does | answers |
/// |---|---|---|
/// | `GET /keys/{id}/credits` | a key's credits: each credits limit of its plan and its balance | 200 [`CreditsView`](super::CreditsView) |
/// | `POST /keys/{id}/credits` | the operator adds credits: `{"add": 500}` (and `"limit": "name"` when the plan has several credits limits), 1 to [`MAX_TOP_UP`](super::MAX_TOP_UP) | 200 `CreditsView`, after the top-up |
///
/// A workspace's admin reads its own keys' credits, and never tops them up: a customer must
/// not grant itself credits. Topping up is the operator's act, allowed only to admin keys of
/// the workspace named with [`operator`](Self::operator) (with none named, to nobody);
/// anyone else gets 403 `operator_only`. The operator addresses a key of any workspace with
/// `?workspace=acme` (its own by default); a workspace's admin naming another workspace gets
/// 403 `operator_only` too. A key of another workspace than the one acted in is 404
/// `key_not_found`, byte for byte as an id no key has. Topping up a key on no plan, or on a
/// plan without credits, is 409 `key_conflict`; a plan with several credits limits needs the
/// one meant named (422 `invalid_request` naming `limit` otherwise). A limiter that cannot
/// answer is 503 `store_unavailable` within its timeout. Refusals change nothing.
///
/// ```
/// use std::sync::Arc;
/// use axum::Router;
/// use axum::body::Body;
/// use http::{Request, StatusCode};
/// use keygate::admin::Admin;
/// use keygate::plan::{Limit, Plan};
/// use keygate::policy::RoutePolicy;
/// use keygate::{ApiKeyLayer, KeyManager, MemoryKeyStore, MemoryRateLimiter, NewKey, PlanManager};
/// use keygate::{Scope, Workspace};
/// use tower::ServiceExt;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryKeyStore::new();
/// let credits = Limit::credits("credits".parse().unwrap(), 1000, None);
/// store.put_plan(Plan::new("prepaid".parse().unwrap(), vec![credits]).unwrap()).await.unwrap();
/// let ops: Workspace = "ops".parse().unwrap();
/// let operator = store
///     .create(NewKey::new("ops-admin".parse().unwrap(), "admin".parse().unwrap()).workspace(ops.clone()))
///     .await
///     .unwrap();
/// let customer = store
///     .create(
///         NewKey::new("ci-pipeline".parse().unwrap(), "read:all".parse().unwrap())
///             .workspace("acme".parse().unwrap())
///             .plan("prepaid".parse().unwrap()),
///     )
///     .await
///     .unwrap();
///
/// // The ledger is a clone of the limiter the layer spends credits with.
/// let limiter = MemoryRateLimiter::new();
/// let admin = Admin::new(Arc::new(store.clone()))
///     .plans()
///     .credits(limiter.clone())
///     .operator(ops)
///     .router();
/// let app = Router::new().nest("/admin", admin).layer(
///     ApiKeyLayer::builder(store, limiter)
///         .policy(RoutePolicy::new().route("/admin/**", Scope::Admin))
///         .build(),
/// );
///
/// let topped = app
///     .oneshot(
///         Request::post(format!("/admin/keys/{}/credits?workspace=acme", customer.info.id))
///             .header("authorization", format!("Bearer {}", operator.plaintext.expose_secret()))
///             .body(Body::from(r#"{"add": 500}"#))
///             .unwrap(),
///     )
///     .await
///     .unwrap();
/// assert_eq!(topped.status(), StatusCode::OK);
/// # });
/// ```
pub struct Admin<S> {
    store: Arc<S>,
    /// The plans, once [`plans`](Self::plans) or [`credits`](Self::credits) asked for them.
    plans: Option<Arc<dyn PlanManager>>,
    plans_route: bool,
    ledger: Option<Arc<dyn CreditLedger>>,
    operator: Option<Workspace>,
    realm: Option<Realm>,
}

impl<S: KeyManager + 'static> Admin<S> {
    /// The key routes over `store`, as [`router`] serves them.
    pub fn new(store: Arc<S>) -> Self {
        Self {
            store,
            plans: None,
            plans_route: false,
            ledger: None,
            operator: None,
            realm: None,
        }
    }

    /// The operator's workspace: its admin keys, and only those, top up credits, in any
    /// workspace. Without it nobody tops up through HTTP (the CLI, or
    /// [`CreditLedger::top_up`] in code, still can).
    pub fn operator(mut self, workspace: Workspace) -> Self {
        self.operator = Some(workspace);
        self
    }

    /// The realm of the 403 for a key without `admin`, as in [`router_with_realm`].
    pub fn realm(mut self, realm: Realm) -> Self {
        self.realm = Some(realm);
        self
    }

    /// The router, to nest under a path of your choice behind
    /// [`ApiKeyLayer`](crate::ApiKeyLayer).
    pub fn router(self) -> Router {
        let keys: Arc<dyn KeyManager> = self.store;
        let mut router = router(Arc::clone(&keys));
        if let Some(plans) = &self.plans {
            if self.plans_route {
                router = router.merge(
                    Router::new()
                        .route("/plans", get(handlers::plans))
                        .with_state((Arc::clone(&keys), Arc::clone(plans))),
                );
            }
            if let Some(ledger) = self.ledger {
                let state = credits::Credits {
                    keys,
                    plans: Arc::clone(plans),
                    ledger,
                    operator: self.operator,
                };
                router = router.merge(
                    Router::new()
                        .route(
                            "/keys/{id}/credits",
                            get(credits::show).post(credits::top_up),
                        )
                        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
                        .with_state(state),
                );
            }
        }
        match self.realm {
            Some(realm) => router.layer(Extension(realm)),
            None => router,
        }
    }
}

impl<S: KeyManager + PlanManager + 'static> Admin<S> {
    /// Adds `GET /plans`, as [`router_with_plans`] serves it.
    pub fn plans(mut self) -> Self {
        self.plans_route = true;
        self.with_plans()
    }

    /// Adds `GET` and `POST /keys/{id}/credits` over `ledger`: give it a clone of the limiter
    /// the [`ApiKeyLayer`](crate::ApiKeyLayer) runs (clones share their counters), so the
    /// balances shown are those requests spend.
    pub fn credits(mut self, ledger: impl CreditLedger + 'static) -> Self {
        self.ledger = Some(Arc::new(ledger));
        self.with_plans()
    }

    fn with_plans(mut self) -> Self {
        if self.plans.is_none() {
            let plans: Arc<dyn PlanManager> = self.store.clone();
            self.plans = Some(plans);
        }
        self
    }
}

impl<S> fmt::Debug for Admin<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admin")
            .field("plans", &self.plans_route)
            .field("credits", &self.ledger.is_some())
            .field("operator", &self.operator)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

//! [`router`]: the admin routes, ready to nest under a path of your choice.

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use super::{MAX_BODY_BYTES, handlers};
use crate::realm::Realm;
use crate::store::KeyManager;
use crate::store::plans::PlanManager;

/// The admin API over `manager`, to nest under a path of your choice
/// (`Router::new().nest("/admin", keygate::admin::router(manager))`) behind
/// [`ApiKeyLayer`](crate::ApiKeyLayer).
///
/// | method and path | does | answers |
/// |---|---|---|
/// | `GET /keys` | lists every key of the caller's workspace, oldest first | 200 `{"keys": [KeyView…]}` |
/// | `POST /keys` | creates a key in the caller's workspace | 201 [`CreatedKeyView`](crate::view::CreatedKeyView) (plaintext, once) |
/// | `GET /keys/{id}` | shows one key | 200 [`KeyView`](crate::view::KeyView) |
/// | `PATCH /keys/{id}` | renames it, replaces its metadata, replaces / adds / removes scopes | 200 `KeyView` |
/// | `POST /keys/{id}/revoke` | revokes it (again: no change) | 200 `KeyView` |
/// | `POST /keys/{id}/rotate` | new secret, the old one valid for `grace` | 200 `CreatedKeyView` |
///
/// Every route acts within the workspace of the calling key
/// ([`AuthenticatedKey::workspace`](crate::AuthenticatedKey::workspace)) and nowhere else:
/// the listing shows that workspace's keys only, and a key of another workspace is answered
/// 404 `key_not_found`, byte for byte as an id no key has, and is never changed. A create
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
        .route("/keys", get(handlers::list).post(handlers::create))
        .route("/keys/{id}", get(handlers::show).patch(handlers::update))
        .route("/keys/{id}/revoke", post(handlers::revoke))
        .route("/keys/{id}/rotate", post(handlers::rotate))
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
    let keys: Arc<dyn KeyManager> = store.clone();
    let plans: Arc<dyn PlanManager> = store;
    router(Arc::clone(&keys)).merge(
        Router::new()
            .route("/plans", get(handlers::plans))
            .with_state((keys, plans)),
    )
}

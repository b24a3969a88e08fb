//! [`router`]: the admin routes, ready to nest under a path of your choice.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use super::{MAX_BODY_BYTES, handlers};
use crate::store::KeyManager;

/// The admin API over `manager`, to nest under a path of your choice
/// (`Router::new().nest("/admin", keygate::admin::router(manager))`) behind
/// [`ApiKeyLayer`](crate::ApiKeyLayer).
///
/// | method and path | does | answers |
/// |---|---|---|
/// | `GET /keys` | lists every key, oldest first | 200 `{"keys": [KeyView…]}` |
/// | `POST /keys` | creates a key | 201 [`CreatedKeyView`](crate::view::CreatedKeyView) (plaintext, once) |
/// | `GET /keys/{id}` | shows one key | 200 [`KeyView`](crate::view::KeyView) |
/// | `PATCH /keys/{id}` | renames it, replaces / adds / removes scopes | 200 `KeyView` |
/// | `POST /keys/{id}/revoke` | revokes it (again: no change) | 200 `KeyView` |
/// | `POST /keys/{id}/rotate` | new secret, the old one valid for `grace` | 200 `CreatedKeyView` |
///
/// Every route requires the `admin` scope, checked by each handler whatever policy the layer
/// runs (give the layer a `RoutePolicy` sending the prefix to `admin` too, so a non-admin key
/// is refused before the handler). Bodies are JSON of at most [`MAX_BODY_BYTES`]; refusals are
/// problem+json ([`AdminError`](super::AdminError)) and change nothing.
pub fn router(manager: Arc<dyn KeyManager>) -> Router {
    Router::new()
        .route("/keys", get(handlers::list).post(handlers::create))
        .route("/keys/{id}", get(handlers::show).patch(handlers::update))
        .route("/keys/{id}/revoke", post(handlers::revoke))
        .route("/keys/{id}/rotate", post(handlers::rotate))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(manager)
}

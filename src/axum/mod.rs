//! axum integration (feature `axum`): extractors for the key the layer authenticated, and a
//! per-route scope requirement.
//!
//! | item | what it does |
//! |---|---|
//! | [`AuthenticatedKey`](crate::AuthenticatedKey) as an extractor | the key the [`ApiKeyLayer`](crate::ApiKeyLayer) authenticated; a 500 [`MissingApiKeyLayer`] problem when no layer ran for the route |
//! | `Option<AuthenticatedKey>` | the key, or `None` on a route the layer does not cover |
//! | [`RequireScopeLayer`] | a route layer: this route needs a scope besides the layer's own check, answered with the layer's 403 `insufficient_scope` |
//!
//! ```
//! use axum::{routing::get, Router};
//! use keygate::axum::RequireScopeLayer;
//! use keygate::{ApiKeyLayer, AuthenticatedKey, MemoryKeyStore, MemoryRateLimiter, Scope};
//!
//! async fn whoami(key: AuthenticatedKey) -> String {
//!     format!("hello, {}", key.name())
//! }
//!
//! let layer = ApiKeyLayer::new(MemoryKeyStore::new(), MemoryRateLimiter::new());
//! let app: Router = Router::new()
//!     .route("/v1/whoami", get(whoami)) // the method default: GET needs read:all
//!     .route(
//!         "/v1/admin/keys",
//!         get(whoami).route_layer(RequireScopeLayer::new(Scope::Admin)), // and this one admin
//!     )
//!     .layer(layer);
//! # let _ = app;
//! ```
//!
//! Rules in the layer's [`RoutePolicy`](crate::policy::RoutePolicy) are checked before the rate
//! limiter, so a request they refuse costs no quota. [`RequireScopeLayer`] runs inside the
//! layer, after the limiter: a request it refuses has counted against the key's quota. Prefer
//! a `RoutePolicy` rule where that matters.

mod extract;
mod missing_layer;
mod require_scope;

pub use missing_layer::MissingApiKeyLayer;
pub use require_scope::{RequireScope, RequireScopeFuture, RequireScopeLayer};

//! [`RequireScopeLayer`]: one route needs a scope beyond the layer's own check. Plain tower:
//! it works with axum, hyper or tonic routes alike.
//!
//! | item | what it does |
//! |---|---|
//! | [`RequireScopeLayer`] | a route layer: requests need a scope besides the [`ApiKeyLayer`](crate::ApiKeyLayer)'s own check, refused with the layer's 403 `insufficient_scope` |
//! | [`RequireScope`] | the service it builds |
//! | [`RequireScopeFuture`] | the service's response future |
//! | [`MissingApiKeyLayer`] | the 500 answer when no `ApiKeyLayer` ran for the route |
//!
//! ```
//! use axum::{routing::get, Router};
//! use keygate::{ApiKeyLayer, MemoryKeyStore, MemoryRateLimiter, RequireScopeLayer, Scope};
//!
//! async fn keys() -> &'static str {
//!     "keys"
//! }
//!
//! let layer = ApiKeyLayer::new(MemoryKeyStore::new(), MemoryRateLimiter::new());
//! let app: Router = Router::new()
//!     .route("/v1/keys", get(keys)) // the method default: GET needs read:all
//!     .route(
//!         "/v1/admin/keys",
//!         get(keys).route_layer(RequireScopeLayer::new(Scope::Admin)), // and this one admin
//!     )
//!     .layer(layer);
//! # let _ = app;
//! ```
//!
//! A route layer runs inside the `ApiKeyLayer`, after its rate limiter has counted the
//! request. A refusal leaves its [`Rejection`](crate::Rejection) (`insufficient_scope`) in the
//! response, and the layer gives the unit back to the limiter
//! ([`RateLimiter::refund`](crate::RateLimiter::refund)): a 403 spends no quota, as with a
//! [`RoutePolicy`](crate::RoutePolicy) rule.

mod future;
mod layer;
mod missing_layer;
mod service;

pub use future::RequireScopeFuture;
pub use layer::RequireScopeLayer;
pub use missing_layer::MissingApiKeyLayer;
pub use service::RequireScope;

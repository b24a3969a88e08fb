//! axum integration (feature `axum`): [`AuthenticatedKey`](crate::AuthenticatedKey) as an
//! extractor, plain and optional.
//!
//! | extractor | what it gives |
//! |---|---|
//! | `AuthenticatedKey` | the key the [`ApiKeyLayer`](crate::ApiKeyLayer) authenticated; a 500 [`MissingApiKeyLayer`](crate::MissingApiKeyLayer) problem when no layer ran for the route |
//! | `Option<AuthenticatedKey>` | the key, or `None` on a route the layer does not cover |
//!
//! The per-route scope requirement, [`RequireScopeLayer`](crate::RequireScopeLayer), is plain
//! tower and needs no feature.
//!
//! ```
//! use axum::{routing::get, Router};
//! use keygate::{ApiKeyLayer, AuthenticatedKey, MemoryKeyStore, MemoryRateLimiter};
//!
//! async fn whoami(key: AuthenticatedKey) -> String {
//!     format!("hello, {}", key.name())
//! }
//!
//! let layer = ApiKeyLayer::new(MemoryKeyStore::new(), MemoryRateLimiter::new());
//! let app: Router = Router::new().route("/v1/whoami", get(whoami)).layer(layer);
//! # let _ = app;
//! ```

mod extract;

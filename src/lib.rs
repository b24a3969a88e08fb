//! # keygate
//!
//! API keys for tower services (axum, hyper, tonic): a [`Layer`](tower_layer::Layer) that
//! authenticates each request by the key in `Authorization: Bearer <key>` (or another
//! [`KeyLocation`]: a named header such as `X-API-Key`, never the query string), authorizes it
//! by scope, rate-limits it per key, and answers every failure as the error table says.
//!
//! ```text
//! request ─► transport ─► path ─► extract ─► parse ─► lookup ─► verify ─► authorize ─► limit ─► inner service
//!             (https?)   (plain?) (Bearer)  (format, (KeyStore (SHA-256,  (scope      (RateLimiter,
//!                                            checksum) by key id) ct_eq,   policy)     per key quota)
//!                                                               IP allow-
//!                                                               list,
//!                                                               revoked,
//!                                                               expired)
//! ```
//!
//! On success the request carries an [`AuthenticatedKey`] (id, [`Workspace`], name, scopes,
//! [`Metadata`], never the secret) in its extensions and the response carries rate-limit headers.
//!
//! ## The error table
//!
//! | condition | status | `code` |
//! |---|---|---|
//! | no `Authorization` header | 401 | `missing_api_key` |
//! | not `Bearer`, empty or illegal token, bad checksum, whitespace, several headers | 401 | `malformed_api_key` |
//! | unknown id or wrong secret (indistinguishable) | 401 | `invalid_api_key` |
//! | revoked key (right secret) | 401 | `revoked_api_key` |
//! | expired key (right secret) | 401 | `expired_api_key` |
//! | disabled key (right secret), until it is enabled again | 401 | `disabled_api_key` |
//! | key restricted to other networks (right secret), or no client address known for it | 403 | `ip_not_allowed` |
//! | valid key without the required scope | 403 | `insufficient_scope` |
//! | over the key's rate limit | 429 | `rate_limited` (`Retry-After`) |
//! | over a calendar quota or out of credits of the key's [plan] | 429 | `quota_exceeded` (`Retry-After` when a reset or refill will come) |
//! | plain HTTP while HTTPS is required | 403 | `https_required` |
//! | key store or limiter unreachable (fail-closed) | 503 | `auth_unavailable` (`Retry-After`) |
//! | ambiguous request path (dot segment, `//`, encoded `/` `\\` or unreserved character, backslash, `;`), before any key lookup | 400 | `malformed_request` |
//!
//! Bodies are RFC 9457 `application/problem+json`; gRPC requests get a gRPC status instead.
//!
//! ## Where things are
//!
//! Every public item has one path. What everyday code names is at the crate root, re-exported
//! from private modules; a module is public when it holds helpers or backend details, and then
//! what it holds is reached only through it (`tests/public_paths.rs` checks this).
//!
//! | path | what |
//! |---|---|
//! | `keygate::*` | the layer ([`ApiKeyLayer`], [`ApiKeyService`], [`KeyLocation`], [`AuthenticatedKey`], [`Rejection`], [`ErrorCode`]), scopes ([`Scope`], [`Scopes`]), quotas ([`Quota`], [`Decision`]), client addresses ([`IpAllowlist`], [`ClientAddr`], [`TrustedProxies`], [`ForwardedHeader`]), the [`KeyStore`], [`KeyManager`] and [`RateLimiter`] traits with their in-memory implementations and errors, key records ([`KeyRecord`], [`KeyInfo`], [`NewKey`]) and what they carry ([`Workspace`], [`Metadata`], [`KeyName`]) |
//! | [`key`] | the key format: [`ApiKey`](key::ApiKey), [`KeyId`](key::KeyId), [`KeyPrefix`](key::KeyPrefix), [`KeyDigest`](key::KeyDigest), `generate`, `parse` |
//! | [`policy`] | which scope a request needs: [`RoutePolicy`](policy::RoutePolicy), [`ScopePolicy`](policy::ScopePolicy) |
//! | [`respond`] | how rejections are answered: [`RejectionResponder`](respond::RejectionResponder), [`DefaultRejection`](respond::DefaultRejection) |
//! | [`transport`], [`extract`], [`clock`] | HTTPS detection (and `transport::tls`, feature `tls`: a rustls listener for axum and the plain-HTTP port's answer), `Authorization` parsing, time sources |
//! | [`store`] | key-store backends: `store::sqlite`, `store::postgres`, `store::cache` (features `sqlite`, `postgres`, `cache`) |
//! | [`limit`] | limiter backends: `limit::redis` (feature `redis`; `redis-cluster` for a Redis Cluster), and the GCRA rule in [`limit::gcra`] |
//! | [`events`], `metrics` | what the layer decided, for a hook ([`events::DecisionEvent`]), and its metrics (feature `metrics`) |
//! | `admin`, `axum`, `panel`, `view` | the admin HTTP API, axum extractors and `RequireScopeLayer`, the API Keys page, the JSON shapes of keys (features `axum`, `panel`, `cli`) |
//! | `leaks` | the endpoint for leaked-key reports (GitHub's secret scanning partner program): revokes or disables the keys found in public (feature `leaks`) |
//!
//! ## Example
//!
//! ```
//! use std::convert::Infallible;
//! use http::{Request, Response, StatusCode};
//! use keygate::{ApiKeyLayer, KeyManager, MemoryKeyStore, MemoryRateLimiter, NewKey};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = MemoryKeyStore::new();
//! let created = store
//!     .create(NewKey::new("local-dev".parse().unwrap(), "read:all".parse().unwrap()))
//!     .await
//!     .unwrap();
//! let key = created.plaintext.expose_secret().to_owned();
//!
//! let service = ServiceBuilder::new()
//!     .layer(ApiKeyLayer::new(store, MemoryRateLimiter::new()))
//!     .service(service_fn(|_req: Request<String>| async {
//!         Ok::<_, Infallible>(Response::new(String::from("records")))
//!     }));
//!
//! let ok = service.clone()
//!     .oneshot(Request::get("/v1/records").header("authorization", format!("Bearer {key}"))
//!         .body(String::new()).unwrap())
//!     .await
//!     .unwrap();
//! assert_eq!(ok.status(), StatusCode::OK);
//!
//! let missing = service.clone()
//!     .oneshot(Request::get("/v1/records").body(String::new()).unwrap())
//!     .await
//!     .unwrap();
//! assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
//!
//! // read:all does not grant write:all.
//! let forbidden = service
//!     .oneshot(Request::post("/v1/records").header("authorization", format!("Bearer {key}"))
//!         .body(String::new()).unwrap())
//!     .await
//!     .unwrap();
//! assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
//! # });
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod admin;
mod allowlist;
pub mod audit;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
pub mod clock;
mod code;
mod decision;
pub mod events;
mod id_map;
pub mod key;
#[cfg(feature = "leaks")]
#[cfg_attr(docsrs, doc(cfg(feature = "leaks")))]
pub mod leaks;
pub mod limit;
mod metadata;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
mod middleware;
#[cfg(feature = "panel")]
#[cfg_attr(docsrs, doc(cfg(feature = "panel")))]
pub mod panel;
pub mod plan;
pub mod policy;
mod quota;
mod realm;
mod record;
mod rejection;
mod require_scope;
pub mod respond;
mod scope;
pub mod store;
#[cfg(any(feature = "axum", feature = "cli"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "axum", feature = "cli"))))]
pub mod view;
mod workspace;

pub use allowlist::{InvalidAllowlist, IpAllowlist, MAX_ALLOWED_NETWORKS};
pub use code::ErrorCode;
pub use decision::Decision;
pub use limit::failures::FailureLimit;
pub use limit::limiter::{FailurePolicy, LimiterError, RateLimiter};
pub use limit::memory::MemoryRateLimiter;
pub use metadata::{InvalidMetadata, MAX_METADATA_BYTES, Metadata};
pub use middleware::authenticated::AuthenticatedKey;
pub use middleware::client_addr::ClientAddr;
pub use middleware::ratelimit_headers::RateLimitHeaders;
pub use middleware::{
    ApiKeyLayer, ApiKeyLayerBuilder, ApiKeyService, ForwardedHeader, KeyLocation, ResponseBody,
    ResponseFuture, TrustedProxies, extract, transport,
};
pub use quota::{Quota, QuotaError};
pub use realm::{InvalidRealm, Realm};
pub use record::{InvalidKeyName, KeyName, KeyRecord, KeyStatus, MAX_NAME_LEN, PreviousSecret};
pub use rejection::Rejection;
pub use require_scope::{MissingApiKeyLayer, RequireScope, RequireScopeFuture, RequireScopeLayer};
pub use scope::{MAX_RESOURCE_LEN, Resource, Scope, ScopeError, Scopes};
pub use store::lookup::{KeyStore, StoreError};
pub use store::manage::{CreatedKey, KeyInfo, KeyManager, KeyUpdate, NewKey};
pub use store::memory::MemoryKeyStore;
pub use store::plans::PlanManager;
pub use workspace::{InvalidWorkspace, MAX_WORKSPACE_LEN, Workspace};

// Crate-internal paths of the middleware's parts that other modules use.
pub(crate) use middleware::{authenticated, body, ratelimit_headers};

// The README's Rust snippets compile as doctests (with the features they use).
#[cfg(all(
    doctest,
    feature = "axum",
    feature = "panel",
    feature = "sqlite",
    feature = "postgres",
    feature = "cache",
    feature = "redis",
    feature = "redis-cluster",
    feature = "tls",
    feature = "leaks"
))]
#[doc = include_str!("../README.md")]
struct ReadmeSnippets;

/// A boxed error, as backends report them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

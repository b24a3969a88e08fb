//! # keygate
//!
//! API keys for tower services (axum, hyper, tonic): a [`Layer`](tower_layer::Layer) that
//! authenticates each request by the key in `Authorization: Bearer <key>`, authorizes it by
//! scope, rate-limits it per key, and answers every failure as the error table says.
//!
//! ```text
//! request ─► transport ─► path ─► extract ─► parse ─► lookup ─► verify ─► authorize ─► limit ─► inner service
//!             (https?)   (plain?) (Bearer)  (format, (KeyStore (SHA-256,  (scope      (RateLimiter,
//!                                            checksum) by key id) ct_eq,   policy)     per key quota)
//!                                                               revoked,
//!                                                               expired)
//! ```
//!
//! On success the request carries an [`AuthenticatedKey`] (id, name, scopes, never the secret)
//! in its extensions and the response carries rate-limit headers.
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
//! | valid key without the required scope | 403 | `insufficient_scope` |
//! | over the key's rate limit | 429 | `rate_limited` (`Retry-After`) |
//! | plain HTTP while HTTPS is required | 403 | `https_required` |
//! | key store or limiter unreachable (fail-closed) | 503 | `auth_unavailable` (`Retry-After`) |
//! | ambiguous request path (dot segment, `//`, encoded `/` `\\` or unreserved character, backslash, `;`), before any key lookup | 400 | `malformed_request` |
//!
//! Bodies are RFC 9457 `application/problem+json`; gRPC requests get a gRPC status instead.
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
mod authenticated;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod body;
mod client_addr;
pub mod clock;
mod code;
mod config;
pub mod extract;
mod future;
mod id_map;
pub mod key;
mod layer;
pub mod limit;
#[cfg(feature = "panel")]
#[cfg_attr(docsrs, doc(cfg(feature = "panel")))]
pub mod panel;
pub mod policy;
mod ratelimit_headers;
mod realm;
mod record;
mod rejection;
mod require_scope;
pub mod respond;
pub mod scope;
mod service;
pub mod store;
pub mod transport;
mod verify;
#[cfg(any(feature = "axum", feature = "cli"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "axum", feature = "cli"))))]
pub mod view;

pub use authenticated::AuthenticatedKey;
pub use body::ResponseBody;
pub use client_addr::ClientAddr;
pub use code::ErrorCode;
pub use future::ResponseFuture;
pub use key::{ApiKey, KeyDigest, KeyId, KeyPrefix};
pub use layer::{ApiKeyLayer, ApiKeyLayerBuilder};
pub use limit::{
    Decision, FailureLimit, FailurePolicy, LimiterError, MemoryRateLimiter, Quota, RateLimiter,
};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use limit::{RedisRateLimiter, RedisRateLimiterBuilder};
pub use policy::{MethodPolicy, RoutePolicy, ScopePolicy};
pub use ratelimit_headers::RateLimitHeaders;
pub use realm::{InvalidRealm, Realm};
pub use record::{KeyName, KeyRecord, KeyStatus, PreviousSecret};
pub use rejection::Rejection;
pub use require_scope::{MissingApiKeyLayer, RequireScope, RequireScopeFuture, RequireScopeLayer};
pub use respond::{DefaultRejection, RejectionResponder};
pub use scope::{Scope, Scopes};
pub use service::ApiKeyService;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use store::SqliteKeyStore;
pub use store::{
    CreatedKey, KeyInfo, KeyManager, KeyStore, KeyUpdate, MemoryKeyStore, NewKey, StoreError,
};
pub use transport::{ProxyHeader, SecureTransport};

#[cfg(feature = "cache")]
#[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
pub use store::CachedKeyStore;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use store::PostgresKeyStore;

// The README's Rust snippets compile as doctests (with the features they use).
#[cfg(all(
    doctest,
    feature = "axum",
    feature = "panel",
    feature = "sqlite",
    feature = "postgres",
    feature = "cache",
    feature = "redis"
))]
#[doc = include_str!("../README.md")]
struct ReadmeSnippets;

/// A boxed error, as backends report them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

//! The admin HTTP API for axum (feature `axum`): create, import, list (a page at a time),
//! show, edit, disable, enable, revoke, rotate and delete keys over any
//! [`KeyManager`](crate::KeyManager), and read the [audit log](crate::audit) of those changes.
//!
//! Mount [`router`] under a path of your choice, behind [`ApiKeyLayer`](crate::ApiKeyLayer):
//! every route requires the `admin` scope, and acts within the calling key's
//! [`Workspace`](crate::Workspace) only (another workspace's keys are never listed, and are
//! not found exactly as an id no key has). Secrets and digests are never shown, except the
//! plaintext of a key just created or rotated, once. Every change is recorded in the audit log
//! with the calling key as its actor ([`AdminCaller::actor`]), and `GET /audit` reads the log
//! of the caller's workspace ([`AuditList`]).
//!
//! [`Admin`] assembles the same routes with more: `GET /plans` (the plans the caller's
//! workspace uses), and `GET` / `POST /keys/{id}/credits` (a key's credits balances, read by
//! its workspace's admins and topped up only by the operator's, over any
//! [`CreditLedger`](crate::plan::CreditLedger)). The operator's admin keys alone may address a
//! key of another workspace there, with `?workspace=`.
//!
//! ```
//! use std::sync::Arc;
//! use axum::Router;
//! use axum::body::Body;
//! use http::{Request, StatusCode};
//! use keygate::policy::RoutePolicy;
//! use keygate::{ApiKeyLayer, KeyManager, MemoryKeyStore, MemoryRateLimiter, NewKey, Scope};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = MemoryKeyStore::new();
//! let admin = store
//!     .create(NewKey::new("production-backend".parse().unwrap(), "admin".parse().unwrap()))
//!     .await
//!     .unwrap();
//!
//! let app = Router::new()
//!     .nest("/admin", keygate::admin::router(Arc::new(store.clone())))
//!     .layer(
//!         ApiKeyLayer::builder(store, MemoryRateLimiter::new())
//!             .policy(RoutePolicy::new().route("/admin/**", Scope::Admin))
//!             .build(),
//!     );
//!
//! let created = app
//!     .oneshot(
//!         Request::post("/admin/keys")
//!             .header("authorization", format!("Bearer {}", admin.plaintext.expose_secret()))
//!             .body(Body::from(r#"{"name": "ci-pipeline", "scopes": ["read:all", "write:all"]}"#))
//!             .unwrap(),
//!     )
//!     .await
//!     .unwrap();
//! assert_eq!(created.status(), StatusCode::CREATED);
//! # });
//! ```

mod access;
mod audit;
mod credits;
mod error;
mod handlers;
mod listing;
mod query;
mod router;
mod types;
mod validate;

use std::time::Duration;

pub use access::AdminCaller;
pub use audit::AuditList;
pub use credits::{CreditBalance, CreditsView, MAX_TOP_UP, RefillView, TopUpRequest};
pub use error::{AdminError, FieldError};
pub use router::{Admin, router, router_with_plans, router_with_realm};
pub use types::{
    CreateKeyRequest, ImportKeyRequest, KeyList, QuotaRequest, RotateKeyRequest, UpdateKeyRequest,
};

/// Largest request body the admin API reads (16 KiB); a larger one is a 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Grace period of a rotation that names none: the old secret keeps working for a day.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 3600);

/// Longest grace period a rotation accepts (30 days).
pub const MAX_GRACE: Duration = Duration::from_secs(30 * 24 * 3600);

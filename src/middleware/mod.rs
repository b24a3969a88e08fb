//! The middleware: [`ApiKeyLayer`] builds [`ApiKeyService`], whose [`ResponseFuture`] answers
//! each request. Its files, in the order a request meets them:
//!
//! ```text
//!   call ──► classify ──► (store) ──► verify ──► authorize ──► (limiter) ──► limit ──► inner
//!            classify.rs              verify.rs  authorize.rs                limit.rs
//!            ├ key_location.rs        constant-  scope policy,               quota, fail
//!            │ └ extract.rs (Bearer)
//!            ├ transport.rs (HTTPS)   time SHA-  before the                  open/closed,
//!            ├ check_path             256 eq,    limiter                     key attached
//!            └ failure budget         IP allow-
//!              (client_addr.rs)       list,
//!                                     revoked,
//!                                     expired
//! ```
//!
//! | file | what it holds |
//! |---|---|
//! | `layer.rs`, `builder.rs`, `settings.rs` | [`ApiKeyLayer`], [`ApiKeyLayerBuilder`], and the plain settings they carry |
//! | `pipeline.rs` | what every service of a layer shares: store, limiter, policy, responder, settings |
//! | `classify.rs` | stage 1: gRPC or HTTP, HTTPS, the path, the credential, the client's failure budget |
//! | `key_location.rs`, `extract.rs` | [`KeyLocation`]: where the key is (Bearer by default, a named header, a function); how `Authorization: Bearer` is parsed |
//! | `client_addr.rs`, `trusted_proxies.rs`, `forwarded_header.rs` | the client's address: the connection's peer, or behind [`TrustedProxies`] the address their [`ForwardedHeader`] names |
//! | `verify.rs` | stage 2: the store's record and the secret checked against it in constant time, then the key's IP allowlist |
//! | `authorize.rs` | stage 3: the scope the request needs |
//! | `limit.rs` | stage 4: the rate limiter's decision, and the [`AuthenticatedKey`](crate::AuthenticatedKey) made |
//! | `observe.rs` | the decision's [`DecisionEvent`](crate::events::DecisionEvent) hook and (feature `metrics`) its metrics |
//! | `state.rs` | the state machine and the one transition that ends it: call the inner service, or answer |
//! | `service.rs`, `future.rs`, `body.rs` | [`ApiKeyService`], [`ResponseFuture`], [`ResponseBody`] |
//!
//! Stage 1 touches no backend. When the store and the limiter answer at once (the in-memory
//! ones do), every stage runs in `call`; otherwise the response future takes over where `call`
//! stopped.

pub(crate) mod authenticated;
mod authorize;
pub(crate) mod body;
mod builder;
mod classify;
pub(crate) mod client_addr;
#[cfg(feature = "metrics")]
mod decision_counters;
pub mod extract;
mod forwarded_header;
mod future;
mod key_location;
mod layer;
mod limit;
mod observe;
mod pipeline;
pub(crate) mod ratelimit_headers;
mod service;
mod settings;
mod state;
pub mod transport;
mod trusted_proxies;
mod verify;

pub use body::ResponseBody;
pub use builder::ApiKeyLayerBuilder;
pub(crate) use classify::is_grpc;
pub use forwarded_header::ForwardedHeader;
pub use future::ResponseFuture;
pub use key_location::KeyLocation;
pub use layer::ApiKeyLayer;
pub use service::ApiKeyService;
pub use trusted_proxies::TrustedProxies;
pub(crate) use verify::proves_secret;

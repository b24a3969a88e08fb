//! Rate limiters beyond the in-memory one: the Redis backend (`redis`), leases of Redis
//! units for hot keys (`lease`), and the GCRA rule they share ([`gcra`]).
//!
//! The trait, the in-memory limiter and the types a limiter works with are at the crate root:
//! [`RateLimiter`], [`MemoryRateLimiter`](crate::MemoryRateLimiter),
//! [`Quota`], [`Decision`].
//!
//! A limiter is asked once per authenticated request that passed the scope check, with the
//! key's id and the quota that applies to it (the key's own plan, or the layer's default). It
//! answers with a [`Decision`] or, when its backend cannot be reached in time, a
//! [`LimiterError`]; the layer then fails closed (503 `auth_unavailable`) or open, as
//! configured with [`FailurePolicy`].
//!
//! ```
//! use std::num::NonZeroU32;
//! use keygate::key::KeyId;
//! use keygate::{MemoryRateLimiter, Quota, RateLimiter};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let limiter = MemoryRateLimiter::new();
//! let quota = Quota::per_second(NonZeroU32::new(1).unwrap());
//! let id = KeyId::new("AbCdEfGh1234").unwrap();
//! assert!(limiter.check(&id, &quota).await.unwrap().allowed);
//! let refused = limiter.check(&id, &quota).await.unwrap();
//! assert!(!refused.allowed);
//! assert_eq!(refused.retry_after_secs(), 1);
//! # });
//! ```

#[cfg(feature = "redis")]
mod deny_cache;
pub(crate) mod failures;
pub mod gcra;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod lease;
pub(crate) mod limiter;
pub(crate) mod memory;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;

// Crate-internal paths; the public ones are at the crate root.
pub(crate) use crate::decision::{Decision, ceil_secs};
pub(crate) use crate::quota::Quota;
pub(crate) use failures::{Client, FailureLimit, FailureLimiter, Refusal};
pub(crate) use limiter::{FailurePolicy, LimiterError, RateLimiter};

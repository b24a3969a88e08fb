//! Rate limiting: the [`RateLimiter`] trait, [`Quota`], [`Decision`] and the GCRA rule.
//!
//! A limiter is asked once per authenticated request that passed the scope check, with the
//! key's id and the quota that applies to it (the key's own plan, or the layer's default). It
//! answers with a [`Decision`] or, when its backend cannot be reached in time, a
//! [`LimiterError`]; the layer then fails closed (503 `auth_unavailable`) or open, as
//! configured with [`FailurePolicy`].
//!
//! ```
//! use std::num::NonZeroU32;
//! use keygate::{KeyId, MemoryRateLimiter, Quota, RateLimiter};
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

mod decision;
#[cfg(feature = "redis")]
mod deny_cache;
mod failures;
pub mod gcra;
mod memory;
mod quota;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{RedisCheck, RedisRateLimiter, RedisRateLimiterBuilder};
pub use decision::Decision;
pub(crate) use decision::ceil_secs;
pub use failures::FailureLimit;
pub(crate) use failures::{Client, FailureLimiter, Refusal};
pub use memory::MemoryRateLimiter;
pub use quota::{Quota, QuotaError};

use crate::BoxError;
use crate::key::KeyId;

/// Why a limiter could not decide.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LimiterError {
    /// The backend could not be reached or answered with an error.
    #[error("rate limiter backend unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// The backend did not answer within the configured time.
    #[error("rate limiter backend did not answer within {0:?}")]
    Timeout(Duration),
}

/// What the layer does when the limiter fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// Refuse the request with 503 `auth_unavailable` and a `Retry-After` (the default).
    #[default]
    FailClosed,
    /// Let the request through without a rate-limit decision, and log a warning.
    FailOpen,
}

/// A per-key rate limiter.
///
/// `check` returns a `'static`, `Unpin` future so that the layer can hold it without boxing: an
/// in-memory limiter answers with [`std::future::Ready`], a networked one with its own future
/// (a boxed `async move` block that owns a cloned connection handle is fine).
pub trait RateLimiter: Send + Sync + 'static {
    /// The future returned by [`RateLimiter::check`].
    type Future: Future<Output = Result<Decision, LimiterError>> + Send + Unpin + 'static;

    /// Counts one request of key `id` against `quota` and decides whether it may pass.
    fn check(&self, id: &KeyId, quota: &Quota) -> Self::Future;

    /// Gives back the unit that an admitted [`check`](Self::check) of key `id` under `quota`
    /// counted. The layer calls it when a route layer inside it refused the request with 403
    /// `insufficient_scope` ([`RequireScopeLayer`](crate::RequireScopeLayer)), so that a 403
    /// spends no quota.
    ///
    /// Fire and forget: it returns at once and never fails the request. It never leaves a key
    /// with more than its burst, and does nothing for a key the limiter holds no state for.
    /// The default does nothing: a limiter that cannot give units back keeps it.
    fn refund(&self, id: &KeyId, quota: &Quota) {
        let _ = (id, quota);
    }
}

impl<L: RateLimiter + ?Sized> RateLimiter for Arc<L> {
    type Future = L::Future;

    fn check(&self, id: &KeyId, quota: &Quota) -> Self::Future {
        (**self).check(id, quota)
    }

    fn refund(&self, id: &KeyId, quota: &Quota) {
        (**self).refund(id, quota);
    }
}

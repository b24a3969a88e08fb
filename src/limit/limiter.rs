//! The [`RateLimiter`] trait, and what the layer does when a limiter cannot decide.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::BoxError;
use crate::decision::Decision;
use crate::key::KeyId;
use crate::quota::Quota;

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
}

impl<L: RateLimiter + ?Sized> RateLimiter for Arc<L> {
    type Future = L::Future;

    fn check(&self, id: &KeyId, quota: &Quota) -> Self::Future {
        (**self).check(id, quota)
    }
}

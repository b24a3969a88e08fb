//! The [`RateLimiter`] trait, and what the layer does when a limiter cannot decide.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::BoxError;
use crate::decision::Decision;
use crate::key::KeyId;
use crate::plan::{Usage, UsageFuture};
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

    /// Gives back what an admitted [`admit`](Self::admit) of `usage` spent (its cost on every
    /// limit of the plan), the decision having placed it in calendar periods at `counted_at`
    /// ([`UsageDecision::counted_at`](crate::plan::UsageDecision::counted_at)). The layer
    /// calls it when a route layer inside refused the request with 403
    /// `insufficient_scope`, so that a 403 spends nothing under a plan either.
    ///
    /// Fire and forget, as [`refund`](Self::refund): it returns at once and never fails the
    /// request. Units go back only to the periods that counted them, so no period ever
    /// admits more than its maximum. The default does nothing.
    fn refund_usage(&self, usage: &Usage<'_>, counted_at: SystemTime) {
        let _ = (usage, counted_at);
    }

    /// Counts a request of a key under a [plan](crate::plan) against every limit of the plan,
    /// all or nothing: admitted only if every limit admits it, and a refused request spends
    /// nothing. The layer calls it instead of [`check`](Self::check) for a key whose record
    /// has a plan.
    ///
    /// The default answers [`LimiterError::Unavailable`] (the layer then fails closed or
    /// open, as configured): a limiter that knows no plans cannot decide them.
    fn admit(&self, usage: &Usage<'_>) -> UsageFuture {
        let _ = usage;
        UsageFuture::ready(Err(LimiterError::Unavailable(
            "this rate limiter does not support plans".into(),
        )))
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

    fn refund_usage(&self, usage: &Usage<'_>, counted_at: SystemTime) {
        (**self).refund_usage(usage, counted_at);
    }

    fn admit(&self, usage: &Usage<'_>) -> UsageFuture {
        (**self).admit(usage)
    }
}

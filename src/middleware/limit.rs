//! Stage 4, rate limiting: one unit of the key's quota (its own, or the layer's default), or,
//! for a key under a plan, the route's cost on every limit of the plan, as the
//! [`RateLimiter`] decides. When the limiter fails, the layer fails closed (503) or open, as
//! configured.

use std::sync::Arc;

use crate::code::ErrorCode;
use crate::limit::{Decision, FailurePolicy, LimiterError, Quota, RateLimiter};
use crate::plan::{Constraint, LimitKind, UsageDecision};
use crate::record::KeyRecord;
use crate::store::KeyStore;

use super::authenticated::AuthenticatedKey;
use super::classify::Credential;
use super::pipeline::Pipeline;
use super::state::Refused;

/// A request that passed every stage: the key to attach, and the limiter's decision for the
/// rate-limit headers.
pub(crate) struct Authorized {
    pub(crate) key: AuthenticatedKey,
    pub(crate) rate: Option<(Quota, Decision)>,
    /// For a key under a plan: what the request spent and where the plan stands (boxed: the
    /// success path of a key without a plan moves this struct).
    pub(crate) usage: Option<Box<AdmittedUsage>>,
    /// Whether the limiter failed and the layer let the request through.
    pub(crate) failed_open: bool,
}

/// A request admitted under a plan.
pub(crate) struct AdmittedUsage {
    /// The plan's most constraining limit, for the rate-limit headers.
    pub(crate) constraint: Constraint,
    /// The units it spent on every limit.
    pub(crate) cost: u32,
}

impl<K: KeyStore, L: RateLimiter, P, R> Pipeline<K, L, P, R> {
    /// The quota that applies to `record`: its own, else the layer's default; `None` means
    /// the key is not limited.
    pub(crate) fn quota_of(&self, record: &KeyRecord) -> Option<Quota> {
        record.quota.or(self.settings.default_quota)
    }

    /// What the limiter's answer means for the request.
    #[allow(
        clippy::result_large_err,
        reason = "a refusal is moved once or twice; boxing it would allocate on every refusal"
    )]
    pub(crate) fn decided(
        &self,
        decided: Result<Decision, LimiterError>,
        record: Arc<KeyRecord>,
        quota: Quota,
        credential: &Credential,
    ) -> Result<Authorized, Refused> {
        match decided {
            Ok(decision) if decision.allowed => {
                Ok(self.authorized(record, Some((quota, decision))))
            }
            Ok(decision) => {
                let rejection = self
                    .reject(ErrorCode::RateLimited, credential.grpc)
                    .with_rate_limit(quota, decision)
                    .with_key(record.id, record.name.clone());
                Err(Refused::of_key(rejection, record))
            }
            Err(error) => self.limiter_failed(&error, record, credential),
        }
    }

    /// What the limiter's answer for a request under a plan means for it: 429
    /// `rate_limited` when a rate refused it, `quota_exceeded` when a quota or credits did.
    #[allow(
        clippy::result_large_err,
        reason = "a refusal is moved once or twice; boxing it would allocate on every refusal"
    )]
    pub(crate) fn usage_decided(
        &self,
        decided: Result<UsageDecision, LimiterError>,
        record: Arc<KeyRecord>,
        cost: u32,
        credential: &Credential,
    ) -> Result<Authorized, Refused> {
        match decided {
            Ok(decision) if decision.allowed() => {
                let mut authorized = self.authorized(record, None);
                authorized.usage = Some(Box::new(AdmittedUsage {
                    constraint: decision.into_constraint(),
                    cost,
                }));
                Ok(authorized)
            }
            Ok(decision) => {
                let code = match decision.refused_by().map(|l| l.kind()) {
                    Some(LimitKind::Rate(_)) => ErrorCode::RateLimited,
                    _ => ErrorCode::QuotaExceeded,
                };
                let rejection = self
                    .reject(code, credential.grpc)
                    .with_usage(decision)
                    .with_key(record.id, record.name.clone());
                Err(Refused::of_key(rejection, record))
            }
            Err(error) => self.limiter_failed(&error, record, credential),
        }
    }

    /// The limiter could not decide: 503, or a pass without a decision, as configured.
    #[allow(
        clippy::result_large_err,
        reason = "a refusal is moved once or twice; boxing it would allocate on every refusal"
    )]
    fn limiter_failed(
        &self,
        error: &LimiterError,
        record: Arc<KeyRecord>,
        credential: &Credential,
    ) -> Result<Authorized, Refused> {
        match self.settings.limiter_failure {
            FailurePolicy::FailClosed => {
                tracing::warn!(key_id = %record.id, %error, "rate limiter failed; failing closed with 503");
                Err(Refused::of_key(self.unavailable(credential.grpc), record))
            }
            FailurePolicy::FailOpen => {
                tracing::warn!(key_id = %record.id, %error, "rate limiter failed; failing open");
                let mut authorized = self.authorized(record, None);
                authorized.failed_open = true;
                Ok(authorized)
            }
        }
    }

    /// The request passed: records the key's use and makes the extension handlers read.
    pub(crate) fn authorized(
        &self,
        record: Arc<KeyRecord>,
        rate: Option<(Quota, Decision)>,
    ) -> Authorized {
        self.store.touch(&record.id);
        let quota = rate.map(|(q, _)| q);
        Authorized {
            key: AuthenticatedKey::new(record, quota),
            rate,
            usage: None,
            failed_open: false,
        }
    }
}

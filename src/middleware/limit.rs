//! Stage 4, rate limiting: one unit of the key's quota (its own, or the layer's default), as
//! the [`RateLimiter`] decides. When the limiter fails, the layer fails closed (503) or open,
//! as configured.

use std::sync::Arc;

use crate::code::ErrorCode;
use crate::limit::{Decision, FailurePolicy, LimiterError, Quota, RateLimiter};
use crate::record::KeyRecord;
use crate::rejection::Rejection;
use crate::store::KeyStore;

use super::authenticated::AuthenticatedKey;
use super::classify::Credential;
use super::pipeline::Pipeline;

/// A request that passed every stage: the key to attach, and the limiter's decision for the
/// rate-limit headers.
pub(crate) struct Authorized {
    pub(crate) key: AuthenticatedKey,
    pub(crate) rate: Option<(Quota, Decision)>,
}

impl<K: KeyStore, L: RateLimiter, P, R> Pipeline<K, L, P, R> {
    /// The quota that applies to `record`: its own, else the layer's default; `None` means
    /// the key is not limited.
    pub(crate) fn quota_of(&self, record: &KeyRecord) -> Option<Quota> {
        record.quota.or(self.settings.default_quota)
    }

    /// What the limiter's answer means for the request.
    pub(crate) fn decided(
        &self,
        decided: Result<Decision, LimiterError>,
        record: Arc<KeyRecord>,
        quota: Quota,
        credential: &Credential,
    ) -> Result<Authorized, Rejection> {
        match decided {
            Ok(decision) if decision.allowed => {
                Ok(self.authorized(record, Some((quota, decision))))
            }
            Ok(decision) => Err(self
                .reject(ErrorCode::RateLimited, credential.grpc)
                .with_rate_limit(quota, decision)
                .with_key(record.id, record.name.clone())),
            Err(error) => match self.settings.limiter_failure {
                FailurePolicy::FailClosed => {
                    tracing::warn!(key_id = %credential.id, %error, "rate limiter failed; failing closed with 503");
                    Err(self.unavailable(credential.grpc))
                }
                FailurePolicy::FailOpen => {
                    tracing::warn!(key_id = %credential.id, %error, "rate limiter failed; failing open");
                    Ok(self.authorized(record, None))
                }
            },
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
        }
    }
}

//! [`RateLimitHeaders`]: how the remaining quota is reported to clients.

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::limit::{Decision, Quota, ceil_secs};

/// Which rate-limit headers responses carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RateLimitHeaders {
    /// The IETF fields (draft-ietf-httpapi-ratelimit-headers-09), the default:
    /// `RateLimit-Policy: "default";q=<burst>;w=<seconds to refill>` and
    /// `RateLimit: "default";r=<remaining>;t=<seconds until full>`.
    #[default]
    Ietf,
    /// The common de-facto fields: `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
    /// `X-RateLimit-Reset` (seconds until the quota is full again).
    XRateLimit,
    /// No rate-limit headers (429 still carries `Retry-After`).
    None,
}

const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const X_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const X_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const X_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

fn value(text: String) -> HeaderValue {
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

impl RateLimitHeaders {
    /// Writes the headers for `decision` under `quota` (replacing any of the same name).
    pub fn write(self, quota: &Quota, decision: &Decision, headers: &mut HeaderMap) {
        match self {
            RateLimitHeaders::Ietf => {
                let window = ceil_secs(quota.window()).max(1);
                headers.insert(
                    RATELIMIT_POLICY,
                    value(format!("\"default\";q={};w={window}", quota.burst())),
                );
                headers.insert(
                    RATELIMIT,
                    value(format!(
                        "\"default\";r={};t={}",
                        decision.remaining,
                        decision.reset_secs()
                    )),
                );
            }
            RateLimitHeaders::XRateLimit => {
                headers.insert(X_LIMIT, HeaderValue::from(decision.limit));
                headers.insert(X_REMAINING, HeaderValue::from(decision.remaining));
                headers.insert(X_RESET, HeaderValue::from(decision.reset_secs()));
            }
            RateLimitHeaders::None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;
    use std::time::Duration;

    fn sample() -> (Quota, Decision) {
        let quota =
            Quota::per_second(NonZeroU32::new(1).unwrap()).allow_burst(NonZeroU32::new(5).unwrap());
        let decision = Decision {
            allowed: true,
            limit: 5,
            remaining: 3,
            reset: Duration::from_millis(1500),
            retry_after: Duration::ZERO,
        };
        (quota, decision)
    }

    #[test]
    fn ietf_fields_follow_the_draft_syntax() {
        let (q, d) = sample();
        let mut h = HeaderMap::new();
        RateLimitHeaders::Ietf.write(&q, &d, &mut h);
        assert_eq!(h["ratelimit-policy"], "\"default\";q=5;w=5");
        assert_eq!(h["ratelimit"], "\"default\";r=3;t=2");
    }

    #[test]
    fn x_ratelimit_fields_are_plain_numbers() {
        let (q, d) = sample();
        let mut h = HeaderMap::new();
        RateLimitHeaders::XRateLimit.write(&q, &d, &mut h);
        assert_eq!(h["x-ratelimit-limit"], "5");
        assert_eq!(h["x-ratelimit-remaining"], "3");
        assert_eq!(h["x-ratelimit-reset"], "2");
    }

    #[test]
    fn none_writes_nothing() {
        let (q, d) = sample();
        let mut h = HeaderMap::new();
        RateLimitHeaders::None.write(&q, &d, &mut h);
        assert!(h.is_empty());
    }
}

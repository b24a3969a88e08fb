//! [`RateLimitHeaders`]: how the remaining quota is reported to clients.

use std::sync::OnceLock;

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::limit::{Decision, Quota, ceil_secs};
use crate::plan::{Constraint, Limit, LimitKind, Period, UsageDecision};

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

/// A small stack buffer to format header values without going through `fmt` and a `String`,
/// of `N` bytes: 64 fit the default quota's values; a plan's `RateLimit` value needs 96 (a
/// 32-byte limit name and two 20-digit numbers).
struct ValueBuf<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> ValueBuf<N> {
    fn new() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
        }
    }

    fn push(&mut self, s: &[u8]) -> &mut Self {
        let end = (self.len + s.len()).min(self.bytes.len());
        self.bytes[self.len..end].copy_from_slice(&s[..end - self.len]);
        self.len = end;
        self
    }

    fn number(&mut self, mut n: u64) -> &mut Self {
        let mut digits = [0_u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[i..])
    }

    fn value(&self) -> HeaderValue {
        // Only ASCII digits and the fixed punctuation above ever go in.
        HeaderValue::from_bytes(&self.bytes[..self.len])
            .unwrap_or_else(|_| HeaderValue::from_static("0"))
    }
}

/// Slots of [`policy_value`]'s cache: write-once, so a quota's value is made once and then
/// cloned (a reference count), for the few quotas a service's plans define.
const POLICY_SLOTS: usize = 64;
/// How many slots a quota may probe from its hash before its value is made each time.
const POLICY_PROBE: usize = 4;

/// A quota and its `RateLimit-Policy` value, once made.
type PolicySlot = OnceLock<(Quota, HeaderValue)>;

/// The `RateLimit-Policy` value of a quota: from the process-wide cache when it is there (or
/// once it has been put there), else made for this response.
fn policy_value(quota: &Quota) -> HeaderValue {
    static CACHE: OnceLock<Box<[PolicySlot]>> = OnceLock::new();
    cached_policy_value(CACHE.get_or_init(policy_slots), quota)
}

/// An empty cache of policy values.
fn policy_slots() -> Box<[PolicySlot]> {
    (0..POLICY_SLOTS).map(|_| OnceLock::new()).collect()
}

/// The `RateLimit-Policy` value of a quota, from `slots` when it is there (or once it has
/// been put there), else made for this response.
fn cached_policy_value(slots: &[PolicySlot], quota: &Quota) -> HeaderValue {
    let start = (hash_of(quota) as usize) % POLICY_SLOTS;
    for i in 0..POLICY_PROBE {
        let slot = &slots[(start + i) % POLICY_SLOTS];
        let (kept, value) = slot.get_or_init(|| (*quota, make_policy_value(quota)));
        if kept == quota {
            return value.clone();
        }
    }
    make_policy_value(quota)
}

/// Where a quota's probe starts: a multiplicative mix of its two numbers (the slot needs to
/// be stable and spread, not secret: quotas are the operator's, not the client's).
fn hash_of(quota: &Quota) -> u64 {
    let window = u64::try_from(quota.window().as_nanos()).unwrap_or(u64::MAX);
    (u64::from(quota.burst()) ^ window.rotate_left(17)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32
}

/// The `RateLimit-Policy` value of a quota, made now.
fn make_policy_value(quota: &Quota) -> HeaderValue {
    ValueBuf::<64>::new()
        .push(b"\"default\";q=")
        .number(u64::from(quota.burst()))
        .push(b";w=")
        .number(ceil_secs(quota.window()).max(1))
        .value()
}

/// Rate-limit headers to add to one response.
pub(crate) enum PendingHeaders {
    /// A key limited by one quota.
    Rate {
        style: RateLimitHeaders,
        quota: Quota,
        decision: Decision,
    },
    /// A key under a plan.
    Usage {
        style: RateLimitHeaders,
        constraint: Constraint,
    },
}

impl PendingHeaders {
    /// Writes the headers into a response.
    pub(crate) fn write(self, headers: &mut HeaderMap) {
        match self {
            PendingHeaders::Rate {
                style,
                quota,
                decision,
            } => style.write(&quota, &decision, headers),
            PendingHeaders::Usage { style, constraint } => {
                style.write_constraint(&constraint, headers);
            }
        }
    }
}

/// The nominal length of a monthly period in `w` (30 days), as the IETF draft's examples
/// write a month.
const MONTH_SECS: u64 = 30 * 86_400;

fn period_secs(period: Period) -> u64 {
    match period {
        Period::Day => 86_400,
        Period::Month(_) => MONTH_SECS,
    }
}

/// The `RateLimit-Policy` value of a plan: every limit's item, in the plan's order.
fn plan_policy_value(limits: &[Limit]) -> HeaderValue {
    let mut policy = String::new();
    for (i, limit) in limits.iter().enumerate() {
        if i > 0 {
            policy.push_str(", ");
        }
        policy_item(limit, &mut policy);
    }
    // Limit names are lowercase letters, digits and dashes, the rest digits and punctuation.
    HeaderValue::try_from(policy).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// One policy item of `RateLimit-Policy`: `"<name>";q=<capacity>[;w=<seconds>]` (credits that
/// are never refilled have no window).
fn policy_item(limit: &Limit, out: &mut String) {
    use std::fmt::Write as _;
    let window = match *limit.kind() {
        LimitKind::Rate(quota) => Some(ceil_secs(quota.window()).max(1)),
        LimitKind::Quota { period, .. } => Some(period_secs(period)),
        LimitKind::Credits { refill, .. } => refill.map(|r| period_secs(r.period)),
    };
    // Limit names are lowercase letters, digits and dashes: safe inside a quoted string.
    let _ = write!(out, "\"{}\";q={}", limit.name(), limit.capacity());
    if let Some(w) = window {
        let _ = write!(out, ";w={w}");
    }
}

impl RateLimitHeaders {
    /// The headers for `decision` under `quota`, to be written into the inner service's
    /// response.
    pub(crate) fn pending(self, quota: Quota, decision: Decision) -> PendingHeaders {
        PendingHeaders::Rate {
            style: self,
            quota,
            decision,
        }
    }

    /// The headers for a decision under a plan, to be written into the inner service's
    /// response.
    pub(crate) fn pending_usage(self, constraint: Constraint) -> PendingHeaders {
        PendingHeaders::Usage {
            style: self,
            constraint,
        }
    }

    /// Writes the headers for a decision under a plan (replacing any of the same name):
    /// `RateLimit-Policy` lists every limit of the plan, and `RateLimit` (or the
    /// `X-RateLimit-*` fields) reports the most constraining one, the one that refused if any.
    pub fn write_usage(self, decision: &UsageDecision, headers: &mut HeaderMap) {
        self.write_constraint(&decision.clone().into_constraint(), headers);
    }

    /// Writes the headers for a plan's most constraining limit.
    fn write_constraint(self, constraint: &Constraint, headers: &mut HeaderMap) {
        let Some(limit) = constraint.plan.limits().get(constraint.index) else {
            return;
        };
        let reset = ceil_secs(constraint.reset);
        match self {
            RateLimitHeaders::Ietf => {
                let policy = constraint.plan.policy_header(plan_policy_value);
                let mut current = ValueBuf::<96>::new();
                current
                    .push(b"\"")
                    .push(limit.name().as_str().as_bytes())
                    .push(b"\";r=")
                    .number(constraint.remaining)
                    .push(b";t=")
                    .number(reset);
                headers.insert(RATELIMIT_POLICY, policy);
                headers.insert(RATELIMIT, current.value());
            }
            RateLimitHeaders::XRateLimit => {
                headers.insert(X_LIMIT, HeaderValue::from(limit.capacity()));
                headers.insert(X_REMAINING, HeaderValue::from(constraint.remaining));
                headers.insert(X_RESET, HeaderValue::from(reset));
            }
            RateLimitHeaders::None => {}
        }
    }

    /// Writes the headers for `decision` under `quota` (replacing any of the same name).
    pub fn write(self, quota: &Quota, decision: &Decision, headers: &mut HeaderMap) {
        match self {
            RateLimitHeaders::Ietf => {
                let policy = policy_value(quota);
                let current = ValueBuf::<64>::new()
                    .push(b"\"default\";r=")
                    .number(u64::from(decision.remaining))
                    .push(b";t=")
                    .number(decision.reset_secs())
                    .value();
                headers.insert(RATELIMIT_POLICY, policy);
                headers.insert(RATELIMIT, current);
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
    fn a_quotas_policy_value_is_made_once_and_then_shared() {
        let quota = Quota::per_hour(NonZeroU32::new(7919).unwrap());
        // A cache of its own: other tests fill the process-wide one concurrently.
        let slots = policy_slots();
        let first = cached_policy_value(&slots, &quota);
        let again = cached_policy_value(&slots, &quota);
        assert_eq!(first, make_policy_value(&quota));
        assert_eq!(first.as_bytes().as_ptr(), again.as_bytes().as_ptr());
    }

    #[test]
    fn policy_values_stay_right_for_more_quotas_than_the_cache_holds() {
        let slots = policy_slots();
        for n in 1..=(4 * POLICY_SLOTS as u32) {
            let quota = Quota::per_minute(NonZeroU32::new(n).unwrap());
            let value = cached_policy_value(&slots, &quota);
            assert_eq!(value, make_policy_value(&quota), "burst {n}");
            assert_eq!(
                cached_policy_value(&slots, &quota),
                value,
                "burst {n}, asked again"
            );
        }
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
    fn large_numbers_are_written_in_full() {
        let quota = Quota::new(u32::MAX, Duration::from_secs(1)).unwrap();
        let decision = Decision {
            allowed: true,
            limit: u32::MAX,
            remaining: u32::MAX - 1,
            reset: Duration::from_secs(1),
            retry_after: Duration::ZERO,
        };
        let mut h = HeaderMap::new();
        RateLimitHeaders::Ietf.write(&quota, &decision, &mut h);
        assert_eq!(
            h["ratelimit-policy"],
            "\"default\";q=4294967295;w=4294967295"
        );
        assert_eq!(h["ratelimit"], "\"default\";r=4294967294;t=1");
    }

    #[test]
    fn none_writes_nothing() {
        let (q, d) = sample();
        let mut h = HeaderMap::new();
        RateLimitHeaders::None.write(&q, &d, &mut h);
        assert!(h.is_empty());
    }

    fn plan_decision() -> UsageDecision {
        use crate::plan::{AnchorDay, Limit, MemoryUsageLimiter, Plan, Usage};
        let burst = Quota::per_second(NonZeroU32::new(10).unwrap())
            .allow_burst(NonZeroU32::new(20).unwrap());
        let plan = Plan::new(
            "pro".parse().unwrap(),
            vec![
                Limit::rate("burst".parse().unwrap(), burst),
                Limit::quota(
                    "monthly".parse().unwrap(),
                    2,
                    Period::Month(AnchorDay::FIRST),
                ),
                Limit::credits("credits".parse().unwrap(), 9, None),
            ],
        )
        .unwrap();
        let key = crate::key::KeyId::new("AbCdEfGh1234").unwrap();
        let ws = crate::workspace::Workspace::default();
        MemoryUsageLimiter::new().admit(&Usage::new(&key, &ws, &plan))
    }

    #[test]
    fn a_plan_lists_every_limit_and_reports_the_most_constraining() {
        let mut h = HeaderMap::new();
        RateLimitHeaders::Ietf.write_usage(&plan_decision(), &mut h);
        assert_eq!(
            h["ratelimit-policy"],
            "\"burst\";q=20;w=2, \"monthly\";q=2;w=2592000, \"credits\";q=9"
        );
        assert!(
            h["ratelimit"]
                .to_str()
                .unwrap()
                .starts_with("\"monthly\";r=1;t=")
        );
    }

    #[test]
    fn a_longest_limit_name_with_the_largest_numbers_is_written_whole() {
        use crate::plan::{AnchorDay, Limit, MemoryUsageLimiter, Plan, Usage};
        let name = "a".repeat(32);
        let monthly = Period::Month(AnchorDay::FIRST);
        let plan = Plan::new(
            "big".parse().unwrap(),
            vec![Limit::quota(name.parse().unwrap(), u64::MAX, monthly)],
        )
        .unwrap();
        let key = crate::key::KeyId::new("AbCdEfGh1234").unwrap();
        let ws = crate::workspace::Workspace::default();
        // 2026-11-29T00:00:00Z: the month ends in two days.
        let at = std::time::UNIX_EPOCH + Duration::from_secs(1_795_910_400);
        let limiter = MemoryUsageLimiter::with_clock(crate::clock::ManualClock::starting_at(at));
        let decision = limiter.admit(&Usage::new(&key, &ws, &plan));
        let mut h = HeaderMap::new();
        RateLimitHeaders::Ietf.write_usage(&decision, &mut h);
        let expected = format!("\"{name}\";r={};t=172800", u64::MAX - 1);
        assert_eq!(h["ratelimit"], expected.as_str());
    }

    #[test]
    fn plans_of_one_name_and_other_limits_keep_their_own_policy_values() {
        use crate::plan::{Limit, MemoryUsageLimiter, Plan, Usage};
        let key = crate::key::KeyId::new("AbCdEfGh1234").unwrap();
        let ws = crate::workspace::Workspace::default();
        let limiter = MemoryUsageLimiter::new();
        for max in [5, 7, 5] {
            let plan = Plan::new(
                "pro".parse().unwrap(),
                vec![Limit::credits("credits".parse().unwrap(), max, None)],
            )
            .unwrap();
            let mut h = HeaderMap::new();
            RateLimitHeaders::Ietf
                .write_usage(&limiter.admit(&Usage::new(&key, &ws, &plan)), &mut h);
            assert_eq!(
                h["ratelimit-policy"],
                format!("\"credits\";q={max}").as_str()
            );
        }
    }

    #[test]
    fn a_plan_in_x_ratelimit_fields_reports_the_most_constraining_limit() {
        let mut h = HeaderMap::new();
        RateLimitHeaders::XRateLimit.write_usage(&plan_decision(), &mut h);
        assert_eq!(h["x-ratelimit-limit"], "2");
        assert_eq!(h["x-ratelimit-remaining"], "1");
        assert!(!h.contains_key("ratelimit-policy"));
    }
}

//! Plans and usage limits: a [`Plan`] is a name and one to eight [`Limit`]s, each a rate
//! (GCRA), a calendar quota (per UTC day, or per month from a billing day) or credits, each
//! counted per key or per workspace.
//!
//! A request is admitted only if every limit of its plan admits it, and a refused request
//! spends nothing on any limit: [`MemoryUsageLimiter`] decides all of a plan's limits in one
//! atomic step. A route may cost more than one unit.
//!
//! A key may carry its own values for some of its plan's limits ([`Overrides`], set by the
//! operator): stores resolve its plan with them applied ([`Plan::with_overrides`]).
//!
//! ```
//! use std::num::NonZeroU32;
//! use keygate::key::KeyId;
//! use keygate::plan::{Limit, MemoryUsageLimiter, Period, Plan, Sharing, Usage};
//! use keygate::{Quota, Workspace};
//!
//! let trial = Plan::new(
//!     "trial".parse().unwrap(),
//!     vec![
//!         Limit::rate("burst".parse().unwrap(), Quota::per_second(NonZeroU32::new(10).unwrap())),
//!         Limit::quota("daily".parse().unwrap(), 5, Period::Day).shared_by(Sharing::Workspace),
//!     ],
//! )
//! .unwrap();
//! let limiter = MemoryUsageLimiter::new();
//! let workspace: Workspace = "acme".parse().unwrap();
//! let key = KeyId::new("AbCdEfGh1234").unwrap();
//! for _ in 0..5 {
//!     assert!(limiter.admit(&Usage::new(&key, &workspace, &trial)).allowed());
//! }
//! let refused = limiter.admit(&Usage::new(&key, &workspace, &trial));
//! assert_eq!(refused.refused_by().unwrap().name().as_str(), "daily");
//! ```

mod future;
mod json;
mod ledger;
mod limit;
mod memory;
mod overrides;
mod period;
mod usage;

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use http::HeaderValue;

pub use future::UsageFuture;
pub use json::InvalidPlanJson;
pub use ledger::CreditLedger;
pub use limit::{InvalidLimitName, Limit, LimitKind, LimitName, Refill, Sharing};
pub(crate) use memory::Counters;
pub use memory::MemoryUsageLimiter;
pub use overrides::{InvalidOverrides, LimitValue, Overrides};
pub use period::{AnchorDay, InvalidAnchorDay, Period, Window};
pub(crate) use usage::Constraint;
pub use usage::{LimitState, MAX_COST, Usage, UsageDecision};

/// The most limits one plan may have.
pub const MAX_LIMITS: usize = 8;

/// A plan's name (`free`, `pro`, `trial`): 1 to 64 lowercase letters, digits and dashes,
/// starting with a letter.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlanName(Arc<str>);

/// Why a string is not a plan name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid plan name {0:?}: use 1 to 64 lowercase letters, digits and dashes, starting with a letter, such as pro"
)]
pub struct InvalidPlanName(String);

impl PlanName {
    /// Validates a plan name.
    pub fn new(name: &str) -> Result<Self, InvalidPlanName> {
        if limit::is_name(name, 64) {
            Ok(Self(name.into()))
        } else {
            Err(InvalidPlanName(name.chars().take(80).collect()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PlanName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for PlanName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PlanName {
    type Err = InvalidPlanName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// Why a plan is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidPlan {
    /// No limit, or more than [`MAX_LIMITS`].
    #[error("a plan has 1 to 8 limits (this one has {0})")]
    LimitCount(usize),
    /// Two limits with one name.
    #[error("the plan has two limits named {0}")]
    DuplicateLimit(LimitName),
    /// A calendar quota of zero, or a refill of zero: it would refuse every request.
    #[error(
        "limit {0} would admit nothing: a quota's maximum and a refill's amount must be at least 1"
    )]
    Empty(LimitName),
    /// A rate whose interval is not a whole number of microseconds, which stores could not
    /// keep exactly.
    #[error("limit {0}: a rate's interval must be a whole number of microseconds")]
    Interval(LimitName),
}

/// A plan: a name and its limits, all of which must admit a request.
///
/// Cloning is cheap: one reference count (the name and limits are shared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan(Arc<Definition>);

#[derive(Debug)]
struct Definition {
    name: PlanName,
    limits: Box<[Limit]>,
    shape: Shape,
    /// The `RateLimit-Policy` value listing the limits, made by the first response that
    /// needs it.
    policy: OnceLock<HeaderValue>,
}

impl PartialEq for Definition {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.limits == other.limits
    }
}

impl Eq for Definition {}

/// What deciding a plan needs, worked out once when the plan is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Some limit counts per key.
    pub(crate) per_key: bool,
    /// Some limit counts per workspace.
    pub(crate) per_workspace: bool,
    /// Some limit is a calendar quota or credits: the wall clock is read.
    pub(crate) wall: bool,
    /// Some limit is a rate: the monotonic clock is read.
    pub(crate) mono: bool,
}

impl Shape {
    fn of(limits: &[Limit]) -> Self {
        let rates = limits
            .iter()
            .filter(|l| matches!(l.kind(), LimitKind::Rate(_)))
            .count();
        Self {
            per_key: limits.iter().any(|l| l.sharing() == Sharing::Key),
            per_workspace: limits.iter().any(|l| l.sharing() == Sharing::Workspace),
            wall: rates < limits.len(),
            mono: rates > 0,
        }
    }
}

impl Plan {
    /// A plan with 1 to [`MAX_LIMITS`] limits of distinct names. A quota's maximum and a
    /// refill's amount must be at least 1, and a rate's interval a whole number of
    /// microseconds (`Quota::per_second(n)` for `n` dividing 1,000,000).
    pub fn new(name: PlanName, limits: Vec<Limit>) -> Result<Self, InvalidPlan> {
        if limits.is_empty() || limits.len() > MAX_LIMITS {
            return Err(InvalidPlan::LimitCount(limits.len()));
        }
        for (i, limit) in limits.iter().enumerate() {
            if limits[..i].iter().any(|l| l.name() == limit.name()) {
                return Err(InvalidPlan::DuplicateLimit(limit.name().clone()));
            }
            let empty = match limit.kind() {
                LimitKind::Quota { max, .. } => *max == 0,
                LimitKind::Credits {
                    refill: Some(refill),
                    ..
                } => refill.amount == 0,
                _ => false,
            };
            if empty {
                return Err(InvalidPlan::Empty(limit.name().clone()));
            }
            if matches!(limit.kind(), LimitKind::Rate(q) if !q.is_whole_micros()) {
                return Err(InvalidPlan::Interval(limit.name().clone()));
            }
        }
        Ok(Self(Arc::new(Definition {
            name,
            shape: Shape::of(&limits),
            limits: limits.into(),
            policy: OnceLock::new(),
        })))
    }

    /// The plan's name.
    pub fn name(&self) -> &PlanName {
        &self.0.name
    }

    /// Its limits, in the order given.
    pub fn limits(&self) -> &[Limit] {
        &self.0.limits
    }

    /// The plan's `RateLimit-Policy` value: made by `make` the first time, then shared.
    pub(crate) fn policy_header(&self, make: impl FnOnce(&[Limit]) -> HeaderValue) -> HeaderValue {
        self.0.policy.get_or_init(|| make(&self.0.limits)).clone()
    }

    /// Which counters and clocks deciding the plan needs.
    pub(crate) fn shape(&self) -> Shape {
        self.0.shape
    }

    /// The limit called `name`, if the plan has one.
    pub fn limit(&self, name: &str) -> Option<&Limit> {
        self.0.limits.iter().find(|l| l.name().as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> LimitName {
        s.parse().unwrap()
    }

    #[test]
    fn a_plan_needs_one_to_eight_limits() {
        let plan = |n: usize| {
            let limits = (0..n)
                .map(|i| Limit::quota(name(&format!("q{i}")), 5, Period::Day))
                .collect();
            Plan::new("p".parse().unwrap(), limits)
        };
        assert_eq!(plan(0).unwrap_err(), InvalidPlan::LimitCount(0));
        assert!(plan(1).is_ok() && plan(MAX_LIMITS).is_ok());
        assert_eq!(plan(9).unwrap_err(), InvalidPlan::LimitCount(9));
    }

    #[test]
    fn two_limits_of_one_name_are_refused() {
        let refused = Plan::new(
            "p".parse().unwrap(),
            vec![
                Limit::quota(name("daily"), 5, Period::Day),
                Limit::quota(name("daily"), 9, Period::Day),
            ],
        );
        assert_eq!(
            refused.unwrap_err(),
            InvalidPlan::DuplicateLimit(name("daily"))
        );
    }

    #[test]
    fn a_limit_that_admits_nothing_is_refused() {
        let zero = Plan::new(
            "p".parse().unwrap(),
            vec![Limit::quota(name("daily"), 0, Period::Day)],
        );
        assert_eq!(zero.unwrap_err(), InvalidPlan::Empty(name("daily")));
    }

    #[test]
    fn a_rate_that_stores_could_not_keep_exactly_is_refused() {
        let thirds = crate::quota::Quota::per_second(std::num::NonZeroU32::new(3).unwrap());
        let refused = Plan::new(
            "p".parse().unwrap(),
            vec![Limit::rate(name("burst"), thirds)],
        );
        assert_eq!(refused.unwrap_err(), InvalidPlan::Interval(name("burst")));
    }

    #[test]
    fn plan_names_follow_the_rules() {
        assert!(PlanName::new("pro").is_ok() && PlanName::new("free-2026").is_ok());
        for bad in ["", "Pro", "2x", "a b", &"a".repeat(65)] {
            assert!(PlanName::new(bad).is_err(), "{bad:?}");
        }
    }
}

//! [`Limit`]: one named limit of a plan (a rate, a calendar quota or credits), and who shares
//! its counter.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use super::period::Period;
use crate::quota::Quota;

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKind {
    /// A rate: GCRA with a burst, refilled at one unit per interval (what a key's
    /// [`Quota`] is on its own).
    Rate(Quota),
    /// A calendar quota: at most `max` units per [`Period`] (a UTC day, or a month from its
    /// anchor day), never more; the count starts again with each period.
    Quota {
        /// Units admitted per period.
        max: u64,
        /// The period.
        period: Period,
    },
    /// Credits: a counter of remaining units, spent by each admitted request and never below
    /// zero. It starts at `initial`; an operator tops it up. With a `refill`, each period
    /// raises it back to the refill's amount (a balance above that, from a top-up, is kept).
    /// At zero the subject is refused until the next refill, or a top-up when there is none.
    Credits {
        /// The balance a counter starts with.
        initial: u64,
        /// Raised to this amount at the start of each period, if set.
        refill: Option<Refill>,
    },
}

/// A credit refill: the balance is raised to `amount` at the start of each `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Refill {
    /// The balance after a refill (at least).
    pub amount: u64,
    /// How often.
    pub period: Period,
}

/// Whose requests a limit's counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Sharing {
    /// One counter per key.
    #[default]
    Key,
    /// One counter for all of a workspace's keys on the plan: creating more keys does not
    /// multiply the allowance.
    Workspace,
}

/// A limit's name within its plan (`burst`, `daily`, `monthly`, `credits`): 1 to 32 lowercase
/// letters, digits and dashes, starting with a letter. It names the limit in rate-limit
/// headers and in 429 answers, and its counters: counters are kept by name, so changing a
/// plan's values keeps what was already counted.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LimitName(Arc<str>);

/// Whether `name` is 1 to `max` lowercase letters, digits and dashes, starting with a letter:
/// the rule of limit and plan names.
pub(super) fn is_name(name: &str, max: usize) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= max
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// Why a string is not a limit name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid limit name {0:?}: use 1 to 32 lowercase letters, digits and dashes, starting with a letter, such as monthly"
)]
pub struct InvalidLimitName(String);

impl LimitName {
    /// Validates a limit name.
    pub fn new(name: &str) -> Result<Self, InvalidLimitName> {
        if is_name(name, 32) {
            Ok(Self(name.into()))
        } else {
            Err(InvalidLimitName(name.chars().take(40).collect()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `other` is the same name: a pointer comparison first, as a plan's names are
    /// shared by every request under it.
    pub(crate) fn same(&self, other: &LimitName) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl fmt::Debug for LimitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for LimitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for LimitName {
    type Err = InvalidLimitName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// One limit of a plan: its name, what it counts, and whose requests share its counter.
///
/// ```
/// use std::num::NonZeroU32;
/// use keygate::Quota;
/// use keygate::plan::{AnchorDay, Limit, Period, Sharing};
///
/// let burst = Limit::rate("burst".parse().unwrap(), Quota::per_second(NonZeroU32::new(100).unwrap()));
/// let monthly = Limit::quota("monthly".parse().unwrap(), 100_000, Period::Month(AnchorDay::FIRST))
///     .shared_by(Sharing::Workspace);
/// assert_eq!(monthly.sharing(), Sharing::Workspace);
/// assert_eq!(burst.sharing(), Sharing::Key);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Limit {
    name: LimitName,
    kind: LimitKind,
    sharing: Sharing,
}

impl Limit {
    /// A limit of any kind, counted per key.
    pub fn new(name: LimitName, kind: LimitKind) -> Self {
        Self {
            name,
            kind,
            sharing: Sharing::Key,
        }
    }

    /// A rate limit, counted per key.
    pub fn rate(name: LimitName, quota: Quota) -> Self {
        Self::new(name, LimitKind::Rate(quota))
    }

    /// A calendar quota of `max` units per `period`, counted per key.
    pub fn quota(name: LimitName, max: u64, period: Period) -> Self {
        Self::new(name, LimitKind::Quota { max, period })
    }

    /// Credits starting at `initial`, optionally refilled, counted per key.
    pub fn credits(name: LimitName, initial: u64, refill: Option<Refill>) -> Self {
        Self::new(name, LimitKind::Credits { initial, refill })
    }

    /// The same limit, its counter shared as `sharing` says.
    pub fn shared_by(mut self, sharing: Sharing) -> Self {
        self.sharing = sharing;
        self
    }

    /// The same limit with other values (a key's override of its plan's limit), keeping its
    /// name and sharing.
    pub fn with_kind(mut self, kind: LimitKind) -> Self {
        self.kind = kind;
        self
    }

    /// The limit's name.
    pub fn name(&self) -> &LimitName {
        &self.name
    }

    /// What it counts.
    pub fn kind(&self) -> &LimitKind {
        &self.kind
    }

    /// Whose requests share its counter.
    pub fn sharing(&self) -> Sharing {
        self.sharing
    }

    /// The most units one period (or the burst) can ever admit, for the headers' quota:
    /// the burst of a rate, the `max` of a quota, and the refill amount (or initial balance)
    /// of credits.
    pub fn capacity(&self) -> u64 {
        match self.kind {
            LimitKind::Rate(quota) => u64::from(quota.burst()),
            LimitKind::Quota { max, .. } => max,
            LimitKind::Credits { initial, refill } => refill.map_or(initial, |r| r.amount),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_names_follow_the_rules() {
        for ok in ["burst", "monthly", "a", "per-day-2"] {
            assert_eq!(LimitName::new(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "2day", "-x", "Monthly", "a b", "a_b", &"a".repeat(33)] {
            assert!(LimitName::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn capacity_is_what_one_period_can_admit() {
        let name = || LimitName::new("x").unwrap();
        let q = Quota::new(20, std::time::Duration::from_millis(100)).unwrap();
        assert_eq!(Limit::rate(name(), q).capacity(), 20);
        assert_eq!(Limit::quota(name(), 7, Period::Day).capacity(), 7);
        let refill = Refill {
            amount: 500,
            period: Period::Day,
        };
        assert_eq!(Limit::credits(name(), 3, Some(refill)).capacity(), 500);
        assert_eq!(Limit::credits(name(), 3, None).capacity(), 3);
    }
}

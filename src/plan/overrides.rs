//! [`Overrides`]: a key's own values for some of its plan's limits, and
//! [`Plan::with_overrides`], the plan that then limits the key.

use std::fmt;
use std::sync::Arc;

use super::{LimitKind, LimitName, MAX_LIMITS, Plan, PlanName, Refill, Sharing};
use crate::quota::Quota;

/// A key's own values for one limit of its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitValue {
    /// A rate's burst and interval (its interval a whole number of microseconds).
    Rate(Quota),
    /// A calendar quota's maximum per period (at least 1).
    Max(u64),
    /// A credits limit's initial balance and, if the plan's limit refills, the refill amount
    /// (at least 1; `None` keeps the plan's).
    Credits {
        /// The balance a counter starts with.
        initial: u64,
        /// The refill amount, for a limit that refills.
        refill: Option<u64>,
    },
}

impl LimitValue {
    /// What kind of limit the value is for, as an operator reads it.
    fn kind_name(&self) -> &'static str {
        match self {
            LimitValue::Rate(_) => "rate",
            LimitValue::Max(_) => "calendar quota",
            LimitValue::Credits { .. } => "credits",
        }
    }
}

/// The kind of limit `kind` is, as an operator reads it.
fn kind_name(kind: &LimitKind) -> &'static str {
    match kind {
        LimitKind::Rate(_) => "rate",
        LimitKind::Quota { .. } => "calendar quota",
        LimitKind::Credits { .. } => "credits",
    }
}

/// Why overrides are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidOverrides {
    /// More than [`MAX_LIMITS`] overrides.
    #[error("a key overrides at most 8 limits (these are {0})")]
    TooMany(usize),
    /// Two overrides of one limit.
    #[error("limit {0} is overridden twice")]
    Duplicate(LimitName),
    /// A zero maximum or refill: it would refuse every request.
    #[error("the override of {0} would admit nothing: a maximum and a refill must be at least 1")]
    Empty(LimitName),
    /// A rate whose interval is not a whole number of microseconds.
    #[error("the override of {0}: a rate's interval must be a whole number of microseconds")]
    Interval(LimitName),
    /// Overrides for a key on no plan.
    #[error("the key is on no plan: there is no limit to override (put it on a plan first)")]
    NoPlan,
    /// A limit the key's plan does not have.
    #[error("the plan {plan} has no limit named {limit}")]
    Unknown {
        /// The limit named.
        limit: LimitName,
        /// The key's plan.
        plan: PlanName,
    },
    /// A value of another kind than the plan's limit.
    #[error("limit {limit} of the plan is a {expected} limit, not a {given} one")]
    Kind {
        /// The limit named.
        limit: LimitName,
        /// The kind of the plan's limit.
        expected: &'static str,
        /// The kind of the value given.
        given: &'static str,
    },
    /// A limit counted per workspace: every key of the workspace shares it.
    #[error(
        "limit {0} is shared by the workspace's keys: one key cannot change it (define another plan)"
    )]
    Shared(LimitName),
    /// A refill amount for a credits limit that does not refill.
    #[error("limit {0} of the plan never refills: leave the refill out")]
    NoRefill(LimitName),
}

/// A key's overrides of its plan's limit values (a customer bought a bigger quota for one
/// key): at most [`MAX_LIMITS`], one per limit name, kept in order of name. Empty by default.
/// Cloning is cheap.
///
/// An override changes a limit's values only: a rate's burst and interval, a calendar quota's
/// maximum, a credits limit's initial balance and refill amount. Never its kind, its period or
/// anchor day, its refill period, or whether its counter is shared. A limit counted per
/// workspace ([`Sharing::Workspace`]) is shared by every key of the workspace, so one key cannot
/// change it.
///
/// [`Overrides::check`] refuses what does not fit the key's plan when an operator sets them
/// (stores call it). If the plan is later redefined so that an override no longer fits (the
/// limit is gone, changed kind, became shared, or stopped refilling), the override is skipped
/// when the plan is resolved: the key is limited by the plan's own value for that limit, and
/// the request path never fails for it. The override stays stored, and applies again if the
/// plan comes back to a shape it fits.
///
/// ```
/// use keygate::plan::{Limit, LimitValue, Overrides, Period, Plan};
///
/// let trial = Plan::new(
///     "trial".parse().unwrap(),
///     vec![Limit::quota("daily".parse().unwrap(), 5, Period::Day)],
/// )
/// .unwrap();
/// let bigger = Overrides::new(vec![("daily".parse().unwrap(), LimitValue::Max(7))]).unwrap();
/// bigger.check(Some(&trial)).unwrap();
/// let effective = trial.with_overrides(&bigger);
/// assert_eq!(effective.name(), trial.name());
/// assert_eq!(effective.limit("daily").unwrap().capacity(), 7);
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Overrides(Arc<[(LimitName, LimitValue)]>);

impl Overrides {
    /// No overrides: the key is limited by its plan as defined.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Overrides from `(limit, value)` pairs in any order. Refuses more than [`MAX_LIMITS`],
    /// two of one limit, a zero maximum or refill, and a rate whose interval is not a whole
    /// number of microseconds (as [`Plan::new`] does). Whether they fit a plan is
    /// [`check`](Self::check)'s business.
    pub fn new(mut values: Vec<(LimitName, LimitValue)>) -> Result<Self, InvalidOverrides> {
        if values.len() > MAX_LIMITS {
            return Err(InvalidOverrides::TooMany(values.len()));
        }
        values.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = values.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(InvalidOverrides::Duplicate(pair[0].0.clone()));
        }
        for (name, value) in &values {
            let empty = match *value {
                LimitValue::Max(max) => max == 0,
                LimitValue::Credits { refill, .. } => refill == Some(0),
                LimitValue::Rate(_) => false,
            };
            if empty {
                return Err(InvalidOverrides::Empty(name.clone()));
            }
            if matches!(value, LimitValue::Rate(q) if !q.is_whole_micros()) {
                return Err(InvalidOverrides::Interval(name.clone()));
            }
        }
        Ok(Self(values.into()))
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many limits are overridden.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The overrides, in order of limit name.
    pub fn iter(&self) -> impl Iterator<Item = (&LimitName, &LimitValue)> {
        self.0.iter().map(|(name, value)| (name, value))
    }

    /// The override of the limit called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&LimitValue> {
        self.0
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, value)| value)
    }

    /// Refuses overrides that do not fit `plan`, the plan the key is on (`None`: on none):
    /// any override for a key on no plan, a limit the plan does not have, a value of another
    /// kind than the plan's limit, a limit shared by the workspace, and a refill amount for
    /// credits that never refill. No overrides always fit.
    pub fn check(&self, plan: Option<&Plan>) -> Result<(), InvalidOverrides> {
        if self.is_empty() {
            return Ok(());
        }
        let plan = plan.ok_or(InvalidOverrides::NoPlan)?;
        for (name, value) in self.iter() {
            let limit = plan
                .limit(name.as_str())
                .ok_or_else(|| InvalidOverrides::Unknown {
                    limit: name.clone(),
                    plan: plan.name().clone(),
                })?;
            overridden(name, limit.kind(), limit.sharing(), value)?;
        }
        Ok(())
    }
}

/// `kind` with `value` in place of its values, keeping its period and refill period; refused
/// (naming `name`) when `value` does not fit a limit of `kind` counted as `sharing` says.
fn overridden(
    name: &LimitName,
    kind: &LimitKind,
    sharing: Sharing,
    value: &LimitValue,
) -> Result<LimitKind, InvalidOverrides> {
    if sharing != Sharing::Key {
        return Err(InvalidOverrides::Shared(name.clone()));
    }
    match (*kind, *value) {
        (LimitKind::Rate(_), LimitValue::Rate(quota)) => Ok(LimitKind::Rate(quota)),
        (LimitKind::Quota { period, .. }, LimitValue::Max(max)) => {
            Ok(LimitKind::Quota { max, period })
        }
        (
            LimitKind::Credits { refill: None, .. },
            LimitValue::Credits {
                refill: Some(_), ..
            },
        ) => Err(InvalidOverrides::NoRefill(name.clone())),
        (
            LimitKind::Credits { refill, .. },
            LimitValue::Credits {
                initial,
                refill: amount,
            },
        ) => Ok(LimitKind::Credits {
            initial,
            refill: refill.map(|r| Refill {
                amount: amount.unwrap_or(r.amount),
                period: r.period,
            }),
        }),
        (kind, value) => Err(InvalidOverrides::Kind {
            limit: name.clone(),
            expected: kind_name(&kind),
            given: value.kind_name(),
        }),
    }
}

impl fmt::Debug for Overrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Plan {
    /// The plan that limits a key with `overrides`: this plan (same name), each overridden
    /// limit with the key's values. An override applies only where it fits (see
    /// [`Overrides::check`]); one that no longer fits, because the plan was redefined since it
    /// was set, is skipped and the plan's own value applies.
    pub fn with_overrides(&self, overrides: &Overrides) -> Plan {
        if overrides.is_empty() {
            return self.clone();
        }
        let limits: Vec<_> = self
            .limits()
            .iter()
            .map(|limit| {
                overrides
                    .get(limit.name().as_str())
                    .and_then(|value| {
                        overridden(limit.name(), limit.kind(), limit.sharing(), value).ok()
                    })
                    .map_or_else(|| limit.clone(), |kind| limit.clone().with_kind(kind))
            })
            .collect();
        // Every value was checked as `Plan::new` checks a limit's (`Overrides::new`), and the
        // names and count are the plan's own: this cannot be refused. Were it ever, the plan as
        // defined would apply, never a failure on the request path.
        Plan::new(self.name().clone(), limits).unwrap_or_else(|_| self.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::plan::{AnchorDay, Limit, Period};

    fn name(s: &str) -> LimitName {
        s.parse().unwrap()
    }

    fn rate(burst: u32, ms: u64) -> Quota {
        Quota::new(burst, Duration::from_millis(ms)).unwrap()
    }

    /// burst (rate), monthly (quota from the 15th), credits (refilled daily), team (shared).
    fn pro() -> Plan {
        let refill = Refill {
            amount: 500,
            period: Period::Day,
        };
        Plan::new(
            "pro".parse().unwrap(),
            vec![
                Limit::rate(name("burst"), rate(20, 100)),
                Limit::quota(
                    name("monthly"),
                    100_000,
                    Period::Month(AnchorDay::new(15).unwrap()),
                ),
                Limit::credits(name("credits"), 1_000, Some(refill)),
                Limit::quota(name("team"), 9, Period::Day).shared_by(Sharing::Workspace),
            ],
        )
        .unwrap()
    }

    fn overrides(values: Vec<(&str, LimitValue)>) -> Overrides {
        Overrides::new(values.into_iter().map(|(n, v)| (name(n), v)).collect()).unwrap()
    }

    #[test]
    fn an_override_replaces_the_values_and_keeps_period_anchor_and_sharing() {
        let plan = pro().with_overrides(&overrides(vec![
            ("monthly", LimitValue::Max(2_000_000)),
            ("burst", LimitValue::Rate(rate(200, 10))),
            (
                "credits",
                LimitValue::Credits {
                    initial: 5_000,
                    refill: Some(50),
                },
            ),
        ]));
        assert_eq!(plan.name().as_str(), "pro");
        assert_eq!(
            *plan.limit("monthly").unwrap().kind(),
            LimitKind::Quota {
                max: 2_000_000,
                period: Period::Month(AnchorDay::new(15).unwrap())
            }
        );
        assert_eq!(
            *plan.limit("burst").unwrap().kind(),
            LimitKind::Rate(rate(200, 10))
        );
        assert_eq!(
            *plan.limit("credits").unwrap().kind(),
            LimitKind::Credits {
                initial: 5_000,
                refill: Some(Refill {
                    amount: 50,
                    period: Period::Day
                })
            }
        );
        assert_eq!(plan.limit("team"), pro().limit("team"));
        let names: Vec<_> = plan.limits().iter().map(|l| l.name().as_str()).collect();
        assert_eq!(names, ["burst", "monthly", "credits", "team"], "order kept");
    }

    #[test]
    fn credits_without_a_refill_amount_keep_the_plans() {
        let plan = pro().with_overrides(&overrides(vec![(
            "credits",
            LimitValue::Credits {
                initial: 7,
                refill: None,
            },
        )]));
        assert_eq!(
            *plan.limit("credits").unwrap().kind(),
            LimitKind::Credits {
                initial: 7,
                refill: Some(Refill {
                    amount: 500,
                    period: Period::Day
                })
            }
        );
    }

    #[test]
    fn no_overrides_leave_the_plan_as_it_is() {
        assert_eq!(pro().with_overrides(&Overrides::empty()), pro());
    }

    #[test]
    fn overrides_that_do_not_fit_are_refused_naming_the_limit() {
        let cases = [
            (
                overrides(vec![("weekly", LimitValue::Max(5))]),
                InvalidOverrides::Unknown {
                    limit: name("weekly"),
                    plan: "pro".parse().unwrap(),
                },
            ),
            (
                overrides(vec![("monthly", LimitValue::Rate(rate(1, 1)))]),
                InvalidOverrides::Kind {
                    limit: name("monthly"),
                    expected: "calendar quota",
                    given: "rate",
                },
            ),
            (
                overrides(vec![("team", LimitValue::Max(100))]),
                InvalidOverrides::Shared(name("team")),
            ),
        ];
        for (overrides, refused) in cases {
            assert_eq!(overrides.check(Some(&pro())).unwrap_err(), refused);
        }
    }

    #[test]
    fn a_refill_for_credits_that_never_refill_is_refused() {
        let prepaid = Plan::new(
            "prepaid".parse().unwrap(),
            vec![Limit::credits(name("credits"), 10, None)],
        )
        .unwrap();
        let refill = overrides(vec![(
            "credits",
            LimitValue::Credits {
                initial: 10,
                refill: Some(5),
            },
        )]);
        assert_eq!(
            refill.check(Some(&prepaid)).unwrap_err(),
            InvalidOverrides::NoRefill(name("credits"))
        );
    }

    #[test]
    fn overrides_for_a_key_on_no_plan_are_refused_and_none_always_fit() {
        let some = overrides(vec![("daily", LimitValue::Max(5))]);
        assert_eq!(some.check(None).unwrap_err(), InvalidOverrides::NoPlan);
        assert!(Overrides::empty().check(None).is_ok());
        assert!(Overrides::empty().check(Some(&pro())).is_ok());
    }

    #[test]
    fn zero_values_duplicates_too_many_and_inexact_rates_are_refused() {
        let make = |values: Vec<(&str, LimitValue)>| {
            Overrides::new(values.into_iter().map(|(n, v)| (name(n), v)).collect())
        };
        assert_eq!(
            make(vec![("daily", LimitValue::Max(0))]).unwrap_err(),
            InvalidOverrides::Empty(name("daily"))
        );
        let zero_refill = LimitValue::Credits {
            initial: 0,
            refill: Some(0),
        };
        assert_eq!(
            make(vec![("credits", zero_refill)]).unwrap_err(),
            InvalidOverrides::Empty(name("credits"))
        );
        assert_eq!(
            make(vec![("a", LimitValue::Max(1)), ("a", LimitValue::Max(2))]).unwrap_err(),
            InvalidOverrides::Duplicate(name("a"))
        );
        let nine: Vec<_> = (0..9)
            .map(|i| (name(&format!("l{i}")), LimitValue::Max(1)))
            .collect();
        assert_eq!(
            Overrides::new(nine).unwrap_err(),
            InvalidOverrides::TooMany(9)
        );
        let thirds = Quota::per_second(std::num::NonZeroU32::new(3).unwrap());
        assert_eq!(
            make(vec![("burst", LimitValue::Rate(thirds))]).unwrap_err(),
            InvalidOverrides::Interval(name("burst"))
        );
    }

    #[test]
    fn an_override_the_redefined_plan_no_longer_fits_is_skipped() {
        let bigger = overrides(vec![("monthly", LimitValue::Max(2_000_000))]);
        let shared = Plan::new(
            "pro".parse().unwrap(),
            vec![
                Limit::quota(name("monthly"), 100, Period::Month(AnchorDay::FIRST))
                    .shared_by(Sharing::Workspace),
            ],
        )
        .unwrap();
        assert_eq!(shared.with_overrides(&bigger), shared);
        let renamed = Plan::new(
            "pro".parse().unwrap(),
            vec![Limit::quota(name("daily"), 100, Period::Day)],
        )
        .unwrap();
        assert_eq!(renamed.with_overrides(&bigger), renamed);
        let rate_now = Plan::new(
            "pro".parse().unwrap(),
            vec![Limit::rate(name("monthly"), rate(5, 1000))],
        )
        .unwrap();
        assert_eq!(rate_now.with_overrides(&bigger), rate_now);
    }

    #[test]
    fn overrides_are_kept_in_order_of_name() {
        let o = overrides(vec![("b", LimitValue::Max(1)), ("a", LimitValue::Max(2))]);
        let names: Vec<_> = o.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(o.get("a"), Some(&LimitValue::Max(2)));
        assert_eq!(o.len(), 2);
    }
}

//! `keygate plans …`: the plans a database keeps, as an operator defines them from flags.
//!
//! ```text
//! keygate plans create pro --rate 100/s --burst 200 --quota 1000000/month --anchor-day 15 --shared
//! keygate plans create trial --quota 5/day
//! keygate plans create prepaid --credits 1000 [--refill 1000/month]
//! keygate plans list
//! keygate plans assign pro --workspace acme      # acme's keys without a plan of their own
//! keygate plans assign --none --workspace acme
//! ```

use std::num::NonZeroU32;

use clap::{Args, Subcommand};
use keygate::Quota;
use keygate::plan::{AnchorDay, Limit, LimitKind, Period, Plan, PlanName, Refill, Sharing};

use crate::failure::{Exit, Failure};

#[derive(Debug, Subcommand)]
pub enum PlansCommand {
    /// Define a plan (or redefine it: every key on it follows at once).
    Create(PlanFlags),
    /// List the plans.
    List,
    /// Put the workspace's keys that have no plan of their own on a plan (--none: on none).
    Assign {
        /// The plan.
        #[arg(required_unless_present = "none")]
        plan: Option<PlanName>,
        /// No plan: the keys fall back to their own quota or the service's default.
        #[arg(long, conflicts_with = "plan")]
        none: bool,
    },
}

/// A plan's limits, as flags. At least one of --rate, --quota and --credits.
#[derive(Debug, Args)]
pub struct PlanFlags {
    /// The plan's name: lowercase letters, digits and dashes (pro, free, trial).
    pub name: PlanName,
    /// A rate, limit `burst`: N/s, N/min or N/h (100/s).
    #[arg(long)]
    pub rate: Option<String>,
    /// The rate's burst (requests at once); the rate's N without it.
    #[arg(long, requires = "rate")]
    pub burst: Option<NonZeroU32>,
    /// A calendar quota, limit `daily` or `monthly`: N/day or N/month (1000000/month).
    #[arg(long)]
    pub quota: Option<String>,
    /// The day a monthly quota (or refill) starts again: 1 to 31, clamped to short months.
    #[arg(long, default_value_t = 1)]
    pub anchor_day: u32,
    /// Credits, limit `credits`: the balance a key (or workspace) starts with.
    #[arg(long)]
    pub credits: Option<u64>,
    /// Refill the credits to N each day or month: N/day or N/month.
    #[arg(long, requires = "credits")]
    pub refill: Option<String>,
    /// The quota and the credits count for the whole workspace (all its keys on the plan),
    /// not per key. Rates always count per key.
    #[arg(long)]
    pub shared: bool,
}

fn invalid(message: impl Into<String>) -> Failure {
    Failure::new(Exit::Invalid, message)
}

/// `N/unit` → (N, unit).
fn split(flag: &str, value: &str) -> Result<(u64, String), Failure> {
    let (n, unit) = value
        .split_once('/')
        .ok_or_else(|| invalid(format!("--{flag} {value:?}: write N/unit, such as 100/s")))?;
    let n = n
        .trim()
        .parse::<u64>()
        .map_err(|_| invalid(format!("--{flag} {value:?}: {n:?} is not a whole number")))?;
    Ok((n, unit.trim().to_owned()))
}

fn period(flag: &str, unit: &str, anchor: AnchorDay) -> Result<Period, Failure> {
    match unit {
        "day" | "d" => Ok(Period::Day),
        "month" | "mo" => Ok(Period::Month(anchor)),
        other => Err(invalid(format!(
            "--{flag}: {other:?} is not a period: use day or month"
        ))),
    }
}

/// A rate written `N/s`, `N/min` or `N/h` (`--rate`, and a rate's `--limit`, named `flag` in
/// errors), with `burst` if given (else N).
pub fn rate(flag: &str, value: &str, burst: Option<NonZeroU32>) -> Result<Quota, Failure> {
    let (n, unit) = split(flag, value)?;
    let n = u32::try_from(n)
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or_else(|| invalid(format!("--{flag} {value:?}: use 1 to 4294967295 requests")))?;
    let quota = match unit.as_str() {
        "s" | "sec" | "second" => Quota::try_per_second(n),
        "min" | "minute" => Quota::try_per_minute(n),
        "h" | "hour" => Quota::try_per_hour(n),
        other => {
            return Err(invalid(format!(
                "--{flag}: {other:?} is not a unit: use s, min or h"
            )));
        }
    }
    .map_err(|e| invalid(format!("--{flag} {value:?}: {e}")))?;
    Ok(burst.map_or(quota, |b| quota.allow_burst(b)))
}

impl PlanFlags {
    /// The plan the flags describe.
    pub fn plan(&self) -> Result<Plan, Failure> {
        let anchor =
            AnchorDay::new(self.anchor_day).map_err(|e| invalid(format!("--anchor-day: {e}")))?;
        let sharing = if self.shared {
            Sharing::Workspace
        } else {
            Sharing::Key
        };
        let name = |s: &str| s.parse().map_err(|e| invalid(format!("{e}")));
        let mut limits = Vec::new();
        if let Some(value) = &self.rate {
            limits.push(Limit::rate(
                name("burst")?,
                rate("rate", value, self.burst)?,
            ));
        }
        if let Some(value) = &self.quota {
            let (max, unit) = split("quota", value)?;
            let period = period("quota", &unit, anchor)?;
            let limit = if period == Period::Day {
                "daily"
            } else {
                "monthly"
            };
            limits.push(Limit::quota(name(limit)?, max, period).shared_by(sharing));
        }
        if let Some(initial) = self.credits {
            let refill = match &self.refill {
                Some(value) => {
                    let (amount, unit) = split("refill", value)?;
                    Some(Refill {
                        amount,
                        period: period("refill", &unit, anchor)?,
                    })
                }
                None => None,
            };
            limits.push(Limit::credits(name("credits")?, initial, refill).shared_by(sharing));
        }
        if limits.is_empty() {
            return Err(invalid(
                "a plan needs at least one limit: give --rate, --quota or --credits",
            ));
        }
        Plan::new(self.name.clone(), limits).map_err(|e| invalid(e.to_string()))
    }
}

/// One line per limit, for people: `monthly  quota  100000 per month from day 15  workspace`.
pub fn describe(limit: &Limit) -> String {
    let shared = match limit.sharing() {
        Sharing::Key => "per key",
        Sharing::Workspace => "per workspace",
    };
    let what = match *limit.kind() {
        LimitKind::Rate(q) => format!(
            "rate    {} at once, one more every {:?}",
            q.burst(),
            q.interval()
        ),
        LimitKind::Quota { max, period } => format!("quota   {max} per {period}"),
        LimitKind::Credits { initial, refill } => match refill {
            Some(r) => format!(
                "credits {initial} to start, refilled to {} each {}",
                r.amount, r.period
            ),
            None => format!("credits {initial} to start, never refilled"),
        },
    };
    format!("{:<10} {what}  ({shared})", limit.name())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        flags: PlanFlags,
    }

    fn plan(args: &[&str]) -> Result<Plan, Failure> {
        let mut all = vec!["plans"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap().flags.plan()
    }

    #[test]
    fn the_documented_pro_plan_reads_as_its_three_limits() {
        let pro = plan(&[
            "pro",
            "--rate",
            "100/s",
            "--burst",
            "200",
            "--quota",
            "1000000/month",
            "--anchor-day",
            "15",
            "--shared",
        ])
        .unwrap();
        let names: Vec<_> = pro.limits().iter().map(|l| l.name().as_str()).collect();
        assert_eq!(names, ["burst", "monthly"]);
        assert_eq!(pro.limit("burst").unwrap().capacity(), 200);
        let monthly = pro.limit("monthly").unwrap();
        assert_eq!(monthly.sharing(), Sharing::Workspace);
        assert_eq!(
            *monthly.kind(),
            LimitKind::Quota {
                max: 1_000_000,
                period: Period::Month(AnchorDay::new(15).unwrap())
            }
        );
    }

    #[test]
    fn a_daily_quota_alone_is_a_plan() {
        let trial = plan(&["trial", "--quota", "5/day"]).unwrap();
        assert_eq!(trial.limit("daily").unwrap().capacity(), 5);
    }

    #[test]
    fn a_plan_without_limits_or_with_bad_units_is_refused() {
        assert!(plan(&["empty"]).is_err());
        assert!(plan(&["p", "--quota", "5/week"]).is_err());
        assert!(plan(&["p", "--rate", "ten/s"]).is_err());
        assert!(
            plan(&["p", "--rate", "3/s"]).is_err(),
            "333 333.33 µs is not whole"
        );
        assert!(plan(&["p", "--quota", "5/day", "--anchor-day", "32"]).is_err());
    }
}

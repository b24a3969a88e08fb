//! `--limit NAME=VALUE`: a key's overrides of its plan's limit values, as an operator writes
//! them, read by the kind of the plan's limit of that name, and how they are shown.
//!
//! ```text
//! keygate create --name ci --scope read:all --plan pro --limit monthly=2000000
//! keygate update ID --limit burst=100/s,200 --limit credits=5000   # credits=N[,refill=M]
//! keygate update ID --clear-limits
//! ```

use std::str::FromStr;
use std::time::Duration;

use keygate::Quota;
use keygate::plan::{LimitKind, LimitName, LimitValue, Overrides, Plan};

use crate::failure::{Exit, Failure};
use crate::plans;

/// A value as written after `NAME=`, read as clap parses the flag (so a malformed one exits 2
/// before the database is opened); which forms fit depends on the kind of the plan's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// `N`: a quota's maximum, or a credits limit's initial balance.
    Number(u64),
    /// `N,refill=M`: credits.
    Credits { initial: u64, refill: u64 },
    /// `N/UNIT,BURST`: a rate.
    Rate(Quota),
}

/// One `--limit NAME=VALUE`, read as clap parses it.
#[derive(Debug, Clone)]
pub struct LimitArg {
    pub name: LimitName,
    pub value: Written,
}

fn number(text: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{:?} is not a whole number, 0 or more", text.trim()))
}

impl FromStr for Written {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let forms = "write N (a quota, or credits), N,refill=M (credits) or N/UNIT,BURST (a rate, \
                     such as 100/s,200)";
        match text.split_once(',') {
            None if text.contains('/') => Err(format!("a rate needs its burst: {forms}")),
            None => number(text)
                .map(Written::Number)
                .map_err(|e| format!("{e}: {forms}")),
            Some((rate, burst)) if rate.contains('/') => {
                let burst = burst
                    .trim()
                    .parse()
                    .map_err(|_| format!("the burst {burst:?} is not a whole number, 1 or more"))?;
                let quota =
                    plans::rate("limit", rate, Some(burst)).map_err(|failure| failure.message)?;
                if !quota.is_whole_micros() {
                    return Err(format!(
                        "{rate} is one request every {:?}: a rate's interval must be a whole \
                         number of microseconds",
                        quota.interval()
                    ));
                }
                Ok(Written::Rate(quota))
            }
            Some((initial, rest)) => {
                let refill = rest
                    .trim()
                    .strip_prefix("refill=")
                    .ok_or_else(|| format!("{rest:?} is not refill=M: {forms}"))?;
                Ok(Written::Credits {
                    initial: number(initial)?,
                    refill: number(refill)?,
                })
            }
        }
    }
}

impl FromStr for LimitArg {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (name, value) = text
            .split_once('=')
            .ok_or_else(|| format!("write NAME=VALUE, such as monthly=2000000 (not {text:?})"))?;
        let name = LimitName::new(name.trim()).map_err(|e| e.to_string())?;
        let value = value.trim().parse().map_err(|e| format!("{name}: {e}"))?;
        Ok(Self { name, value })
    }
}

fn invalid(message: impl Into<String>) -> Failure {
    Failure::new(Exit::Invalid, message)
}

/// The value `arg` gives the limit of the same name in `plan`, if its form fits that limit's
/// kind: a quota `N`, credits `N` or `N,refill=M`, a rate `N/UNIT,BURST`.
fn value(plan: &Plan, arg: &LimitArg) -> Result<LimitValue, Failure> {
    let name = &arg.name;
    let limit = plan.limit(name.as_str()).ok_or_else(|| {
        let names: Vec<&str> = plan.limits().iter().map(|l| l.name().as_str()).collect();
        invalid(format!(
            "--limit {name}: the plan {} has no limit named {name} (it has {})",
            plan.name(),
            names.join(", ")
        ))
    })?;
    let (form, kind) = match (limit.kind(), arg.value) {
        (LimitKind::Quota { .. }, Written::Number(max)) => return Ok(LimitValue::Max(max)),
        (LimitKind::Credits { .. }, Written::Number(initial)) => {
            return Ok(LimitValue::Credits {
                initial,
                refill: None,
            });
        }
        (LimitKind::Credits { .. }, Written::Credits { initial, refill }) => {
            return Ok(LimitValue::Credits {
                initial,
                refill: Some(refill),
            });
        }
        (LimitKind::Rate(_), Written::Rate(quota)) => return Ok(LimitValue::Rate(quota)),
        (LimitKind::Quota { .. }, _) => ("N", "a calendar quota"),
        (LimitKind::Credits { .. }, _) => ("N or N,refill=M", "credits"),
        (LimitKind::Rate(_), _) => ("N/UNIT,BURST (such as 100/s,200)", "a rate"),
    };
    Err(invalid(format!(
        "--limit {name}: limit {name} of the plan {} is {kind}: write {form}",
        plan.name()
    )))
}

/// The overrides `args` give a key on `plan` (`None`: on no plan), checked against it: exit 2
/// for a limit the plan does not have, a value of the wrong form, zero, or a limit the
/// workspace shares.
pub fn overrides(plan: Option<&Plan>, args: &[LimitArg]) -> Result<Overrides, Failure> {
    let plan = plan.ok_or_else(|| {
        invalid(
            "--limit: the key would be on no plan, so it has no limit to override: put it on \
             one with --plan",
        )
    })?;
    let values = args
        .iter()
        .map(|arg| Ok((arg.name.clone(), value(plan, arg)?)))
        .collect::<Result<Vec<_>, Failure>>()?;
    let overrides = Overrides::new(values).map_err(|e| invalid(format!("--limit: {e}")))?;
    overrides
        .check(Some(plan))
        .map_err(|e| invalid(format!("--limit: {e}")))?;
    Ok(overrides)
}

/// A rate as `--limit` writes it: `N/s`, `N/min` or `N/h` when the interval divides one of
/// them, else one per interval (`1/1500us`); then `,BURST`.
fn rate_text(quota: &Quota) -> String {
    let every = quota.interval();
    let per = [("s", 1), ("min", 60), ("h", 3600)]
        .into_iter()
        .find_map(|(unit, secs)| {
            let unit_nanos = Duration::from_secs(secs).as_nanos();
            let nanos = every.as_nanos();
            (nanos > 0 && unit_nanos.is_multiple_of(nanos))
                .then(|| format!("{}/{unit}", unit_nanos / nanos))
        })
        .unwrap_or_else(|| format!("1/{}", keygate::view::format_duration(every)));
    format!("{per},{}", quota.burst())
}

/// The overrides as `--limit` writes them, space-separated (`monthly=2000000
/// burst=100/s,200`); `-` for none.
pub fn describe(overrides: &Overrides) -> String {
    if overrides.is_empty() {
        return "-".to_owned();
    }
    let each: Vec<String> = overrides
        .iter()
        .map(|(name, value)| match value {
            LimitValue::Rate(quota) => format!("{name}={}", rate_text(quota)),
            LimitValue::Max(max) => format!("{name}={max}"),
            LimitValue::Credits {
                initial,
                refill: None,
            } => format!("{name}={initial}"),
            LimitValue::Credits {
                initial,
                refill: Some(refill),
            } => format!("{name}={initial},refill={refill}"),
        })
        .collect();
    each.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate::plan::{Limit, Period, Refill};

    fn plan() -> Plan {
        let n = |s: &str| s.parse().unwrap();
        Plan::new(
            "pro".parse().unwrap(),
            vec![
                Limit::rate(
                    n("burst"),
                    Quota::new(10, Duration::from_millis(100)).unwrap(),
                ),
                Limit::quota(
                    n("monthly"),
                    1000,
                    Period::Month(keygate::plan::AnchorDay::FIRST),
                ),
                Limit::credits(
                    n("credits"),
                    10,
                    Some(Refill {
                        amount: 10,
                        period: Period::Day,
                    }),
                ),
            ],
        )
        .unwrap()
    }

    fn read(args: &[&str]) -> Result<Overrides, Failure> {
        let args: Vec<LimitArg> = args.iter().map(|a| a.parse().unwrap()).collect();
        overrides(Some(&plan()), &args)
    }

    #[test]
    fn values_are_read_by_the_kind_of_the_plans_limit_and_shown_as_written() {
        let written = [
            "burst=100/s,200",
            "credits=5000,refill=700",
            "monthly=2000000",
        ];
        let overrides = read(&written).unwrap();
        assert_eq!(overrides.get("monthly"), Some(&LimitValue::Max(2_000_000)));
        assert_eq!(describe(&overrides), written.join(" "));
        assert_eq!(describe(&Overrides::empty()), "-");
    }

    #[test]
    fn malformed_values_are_refused_as_the_flag_is_read() {
        for bad in [
            "daily",
            "daily=lots",
            "daily=-1",
            "burst=100/s",
            "burst=100/s,0",
            "burst=3/s,5",
            "burst=100/week,5",
            "credits=5,top=2",
            "credits=5,refill=x",
            "Daily=5",
        ] {
            assert!(bad.parse::<LimitArg>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_value_of_the_wrong_form_for_the_limits_kind_is_refused_naming_it() {
        for (bad, says) in [
            ("monthly=5,refill=2", "calendar quota"),
            ("burst=100", "a rate"),
            ("credits=100/s,5", "credits"),
            ("weekly=5", "no limit named weekly"),
        ] {
            let failure = read(&[bad]).unwrap_err();
            assert_eq!(failure.exit, Exit::Invalid);
            assert!(failure.message.contains(says), "{bad}: {}", failure.message);
        }
    }

    #[test]
    fn a_rate_that_divides_no_unit_is_shown_as_one_per_interval() {
        let quota = Quota::new(3, Duration::from_micros(1_700)).unwrap();
        assert_eq!(rate_text(&quota), "1/1ms 700us,3");
    }
}

//! Plans as JSON: the form stores keep them in and the admin API shows.
//!
//! ```json
//! {"name": "pro", "limits": [
//!   {"name": "burst", "rate": {"burst": 200, "interval_us": 10000}},
//!   {"name": "monthly", "quota": {"max": 1000000, "period": "month", "anchor_day": 15}, "shared": "workspace"},
//!   {"name": "credits", "credits": {"initial": 500, "refill": {"amount": 500, "period": "day"}}}
//! ]}
//! ```
//!
//! Intervals are whole microseconds, as stores keep a key's own quota; `shared` is `key`
//! (the default, left out) or `workspace`.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{
    AnchorDay, InvalidOverrides, InvalidPlan, Limit, LimitKind, LimitName, LimitValue, MAX_LIMITS,
    Overrides, Period, Plan, PlanName, Refill, Sharing,
};
use crate::quota::Quota;

/// Why JSON is not a plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidPlanJson {
    /// A member is missing or of the wrong type or value.
    #[error("{path}: {problem}")]
    Member {
        /// Where, as `limits[1].quota.max`.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// Well-formed, but not a valid plan.
    #[error(transparent)]
    Plan(#[from] InvalidPlan),
    /// Well-formed, but not valid overrides (too many, or a zero value).
    #[error(transparent)]
    Overrides(#[from] InvalidOverrides),
}

fn member(path: impl Into<String>, problem: impl Into<String>) -> InvalidPlanJson {
    InvalidPlanJson::Member {
        path: path.into(),
        problem: problem.into(),
    }
}

fn period_json(period: Period, object: &mut Map<String, Value>) {
    match period {
        Period::Day => {
            object.insert("period".into(), "day".into());
        }
        Period::Month(anchor) => {
            object.insert("period".into(), "month".into());
            if anchor != AnchorDay::FIRST {
                object.insert("anchor_day".into(), anchor.get().into());
            }
        }
    }
}

impl Plan {
    /// The plan as JSON, the form stores keep and the admin API shows:
    ///
    /// ```json
    /// {"name": "pro", "limits": [
    ///   {"name": "burst", "rate": {"burst": 200, "interval_us": 10000}},
    ///   {"name": "monthly", "quota": {"max": 1000000, "period": "month", "anchor_day": 15}, "shared": "workspace"},
    ///   {"name": "credits", "credits": {"initial": 500, "refill": {"amount": 500, "period": "day"}}}
    /// ]}
    /// ```
    ///
    /// Intervals are whole microseconds; `shared` is `key` (the default, left out) or
    /// `workspace`; `anchor_day` is left out for the 1st.
    pub fn to_json(&self) -> Value {
        let limits: Vec<Value> = self.limits().iter().map(limit_json).collect();
        json!({"name": self.name().as_str(), "limits": limits})
    }

    /// A plan from JSON (the form of [`Plan::to_json`]). Unknown members are refused, so a
    /// typo is not silently a different plan.
    pub fn from_json(value: &Value) -> Result<Plan, InvalidPlanJson> {
        let object = object(value, "plan")?;
        only(object, "plan", &["name", "limits"])?;
        let name = string(object, "plan", "name")?;
        let name = PlanName::new(name).map_err(|e| member("name", e.to_string()))?;
        let limits = object
            .get("limits")
            .and_then(Value::as_array)
            .ok_or_else(|| member("limits", "must be an array of limits"))?;
        let limits = limits
            .iter()
            .enumerate()
            .map(|(i, limit)| limit_from(limit, &format!("limits[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Plan::new(name, limits)?)
    }
}

fn limit_json(limit: &Limit) -> Value {
    let mut object = Map::new();
    object.insert("name".into(), limit.name().as_str().into());
    match *limit.kind() {
        LimitKind::Rate(quota) => {
            let us = u64::try_from(quota.interval().as_micros()).unwrap_or(u64::MAX);
            object.insert(
                "rate".into(),
                json!({"burst": quota.burst(), "interval_us": us}),
            );
        }
        LimitKind::Quota { max, period } => {
            let mut quota = Map::new();
            quota.insert("max".into(), max.into());
            period_json(period, &mut quota);
            object.insert("quota".into(), quota.into());
        }
        LimitKind::Credits { initial, refill } => {
            let mut credits = Map::new();
            credits.insert("initial".into(), initial.into());
            if let Some(refill) = refill {
                let mut r = Map::new();
                r.insert("amount".into(), refill.amount.into());
                period_json(refill.period, &mut r);
                credits.insert("refill".into(), r.into());
            }
            object.insert("credits".into(), credits.into());
        }
    }
    if limit.sharing() == Sharing::Workspace {
        object.insert("shared".into(), "workspace".into());
    }
    object.into()
}

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, InvalidPlanJson> {
    value
        .as_object()
        .ok_or_else(|| member(path, "must be a JSON object"))
}

fn only(object: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<(), InvalidPlanJson> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(member(
            format!("{path}.{unknown}"),
            format!("unknown member (expected one of: {})", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

fn string<'a>(
    object: &'a Map<String, Value>,
    path: &str,
    name: &str,
) -> Result<&'a str, InvalidPlanJson> {
    object
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| member(format!("{path}.{name}"), "must be a string"))
}

fn number(object: &Map<String, Value>, path: &str, name: &str) -> Result<u64, InvalidPlanJson> {
    object.get(name).and_then(Value::as_u64).ok_or_else(|| {
        member(
            format!("{path}.{name}"),
            "must be a whole number, 0 or more",
        )
    })
}

fn period_from(object: &Map<String, Value>, path: &str) -> Result<Period, InvalidPlanJson> {
    match string(object, path, "period")? {
        "day" => match object.get("anchor_day") {
            None => Ok(Period::Day),
            Some(_) => Err(member(
                format!("{path}.anchor_day"),
                "only a monthly period has an anchor day",
            )),
        },
        "month" => {
            let anchor = match object.get("anchor_day") {
                None => AnchorDay::FIRST,
                Some(_) => {
                    let day = number(object, path, "anchor_day")?;
                    AnchorDay::new(u32::try_from(day).unwrap_or(u32::MAX))
                        .map_err(|e| member(format!("{path}.anchor_day"), e.to_string()))?
                }
            };
            Ok(Period::Month(anchor))
        }
        other => Err(member(
            format!("{path}.period"),
            format!("{other:?} is not a period: use \"day\" or \"month\""),
        )),
    }
}

fn limit_from(value: &Value, path: &str) -> Result<Limit, InvalidPlanJson> {
    let object = object(value, path)?;
    only(
        object,
        path,
        &["name", "rate", "quota", "credits", "shared"],
    )?;
    let name = LimitName::new(string(object, path, "name")?)
        .map_err(|e| member(format!("{path}.name"), e.to_string()))?;
    let kinds: Vec<&str> = ["rate", "quota", "credits"]
        .into_iter()
        .filter(|k| object.contains_key(*k))
        .collect();
    let kind = match kinds.as_slice() {
        ["rate"] => {
            let p = format!("{path}.rate");
            let rate = self::object(&object["rate"], &p)?;
            only(rate, &p, &["burst", "interval_us"])?;
            let burst = u32::try_from(number(rate, &p, "burst")?).unwrap_or(u32::MAX);
            let interval = Duration::from_micros(number(rate, &p, "interval_us")?);
            LimitKind::Rate(Quota::new(burst, interval).map_err(|e| member(&p, e.to_string()))?)
        }
        ["quota"] => {
            let p = format!("{path}.quota");
            let quota = self::object(&object["quota"], &p)?;
            only(quota, &p, &["max", "period", "anchor_day"])?;
            LimitKind::Quota {
                max: number(quota, &p, "max")?,
                period: period_from(quota, &p)?,
            }
        }
        ["credits"] => {
            let p = format!("{path}.credits");
            let credits = self::object(&object["credits"], &p)?;
            only(credits, &p, &["initial", "refill"])?;
            let refill = match credits.get("refill") {
                None | Some(Value::Null) => None,
                Some(refill) => {
                    let rp = format!("{p}.refill");
                    let r = self::object(refill, &rp)?;
                    only(r, &rp, &["amount", "period", "anchor_day"])?;
                    Some(Refill {
                        amount: number(r, &rp, "amount")?,
                        period: period_from(r, &rp)?,
                    })
                }
            };
            LimitKind::Credits {
                initial: number(credits, &p, "initial")?,
                refill,
            }
        }
        _ => {
            return Err(member(
                path,
                "a limit has exactly one of rate, quota and credits",
            ));
        }
    };
    let sharing = match object.get("shared").map(|v| v.as_str()) {
        None | Some(Some("key")) => Sharing::Key,
        Some(Some("workspace")) => Sharing::Workspace,
        Some(_) => {
            return Err(member(
                format!("{path}.shared"),
                "must be \"key\" or \"workspace\"",
            ));
        }
    };
    Ok(Limit::new(name, kind).shared_by(sharing))
}

/// The JSON of a rate, `{"burst": 200, "interval_us": 10000}`, in a plan's limit and in an
/// override alike.
fn rate_json(quota: Quota) -> Value {
    let us = u64::try_from(quota.interval().as_micros()).unwrap_or(u64::MAX);
    json!({"burst": quota.burst(), "interval_us": us})
}

impl Overrides {
    /// The overrides as JSON, the form stores keep and the admin API shows: an object from
    /// limit name to the key's values, `{}` for none.
    ///
    /// ```json
    /// {"burst": {"burst": 200, "interval_us": 10000},
    ///  "credits": {"initial": 1000, "refill": 500},
    ///  "monthly": {"max": 2000000}}
    /// ```
    ///
    /// A rate reads as in [`Plan::to_json`] (its interval in whole microseconds); `refill` is
    /// left out when the override keeps the plan's.
    pub fn to_json(&self) -> Value {
        let object: Map<String, Value> = self
            .iter()
            .map(|(name, value)| {
                let value = match *value {
                    LimitValue::Rate(quota) => rate_json(quota),
                    LimitValue::Max(max) => json!({"max": max}),
                    LimitValue::Credits {
                        initial,
                        refill: None,
                    } => json!({"initial": initial}),
                    LimitValue::Credits {
                        initial,
                        refill: Some(refill),
                    } => json!({"initial": initial, "refill": refill}),
                };
                (name.as_str().to_owned(), value)
            })
            .collect();
        object.into()
    }

    /// Overrides from JSON (the form of [`Overrides::to_json`]). Refuses more than
    /// [`MAX_LIMITS`] members, unknown members, numbers that are not whole (or do not fit),
    /// and zero values, naming where.
    pub fn from_json(value: &Value) -> Result<Overrides, InvalidPlanJson> {
        let object = object(value, "overrides")?;
        if object.len() > MAX_LIMITS {
            return Err(InvalidOverrides::TooMany(object.len()).into());
        }
        let values = object
            .iter()
            .map(|(name, value)| {
                let limit =
                    LimitName::new(name).map_err(|e| member(name.as_str(), e.to_string()))?;
                Ok((limit, limit_value(value, name)?))
            })
            .collect::<Result<Vec<_>, InvalidPlanJson>>()?;
        Ok(Overrides::new(values)?)
    }
}

/// One override's values: `{"max": N}`, `{"initial": N, "refill": M}` or a rate.
fn limit_value(value: &Value, path: &str) -> Result<LimitValue, InvalidPlanJson> {
    let object = object(value, path)?;
    if object.contains_key("max") {
        only(object, path, &["max"])?;
        Ok(LimitValue::Max(number(object, path, "max")?))
    } else if object.contains_key("initial") {
        only(object, path, &["initial", "refill"])?;
        let refill = match object.get("refill") {
            None | Some(Value::Null) => None,
            Some(_) => Some(number(object, path, "refill")?),
        };
        Ok(LimitValue::Credits {
            initial: number(object, path, "initial")?,
            refill,
        })
    } else if object.contains_key("burst") || object.contains_key("interval_us") {
        only(object, path, &["burst", "interval_us"])?;
        let burst = u32::try_from(number(object, path, "burst")?)
            .map_err(|_| member(format!("{path}.burst"), "must be at most 4294967295"))?;
        let interval = Duration::from_micros(number(object, path, "interval_us")?);
        let quota = Quota::new(burst, interval).map_err(|e| member(path, e.to_string()))?;
        Ok(LimitValue::Rate(quota))
    } else {
        Err(member(
            path,
            "give max (a calendar quota), initial and refill (credits), or burst and \
             interval_us (a rate)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pro() -> Plan {
        Plan::from_json(&json!({"name": "pro", "limits": [
            {"name": "burst", "rate": {"burst": 200, "interval_us": 10000}},
            {"name": "monthly", "quota": {"max": 1000000, "period": "month", "anchor_day": 15}, "shared": "workspace"},
            {"name": "credits", "credits": {"initial": 500, "refill": {"amount": 500, "period": "day"}}}
        ]}))
        .unwrap()
    }

    #[test]
    fn the_documented_example_reads_as_its_limits() {
        let plan = pro();
        assert_eq!(plan.name().as_str(), "pro");
        let monthly = plan.limit("monthly").unwrap();
        assert_eq!(monthly.sharing(), Sharing::Workspace);
        assert_eq!(
            *monthly.kind(),
            LimitKind::Quota {
                max: 1_000_000,
                period: Period::Month(AnchorDay::new(15).unwrap())
            }
        );
        assert_eq!(plan.limit("burst").unwrap().capacity(), 200);
    }

    #[test]
    fn a_plan_round_trips_through_json() {
        let plan = pro();
        assert_eq!(Plan::from_json(&plan.to_json()).unwrap(), plan);
    }

    #[test]
    fn unknown_members_and_missing_kinds_are_refused_with_their_path() {
        let cases = [
            (
                json!({"name": "p", "limits": [{"name": "d", "quota": {"max": 5, "period": "day", "maxx": 1}}]}),
                "limits[0].quota.maxx",
            ),
            (json!({"name": "p", "limits": [{"name": "d"}]}), "limits[0]"),
            (
                json!({"name": "p", "limits": [{"name": "d", "quota": {"max": 5, "period": "week"}}]}),
                "limits[0].quota.period",
            ),
            (
                json!({"name": "p", "limits": [{"name": "d", "quota": {"max": -1, "period": "day"}}]}),
                "limits[0].quota.max",
            ),
            (
                json!({"name": "p", "limits": [{"name": "d", "quota": {"max": 5, "period": "day"}, "shared": true}]}),
                "limits[0].shared",
            ),
            (
                json!({"name": "p", "limits": [{"name": "d", "quota": {"max": 5, "period": "month", "anchor_day": 32}}]}),
                "limits[0].quota.anchor_day",
            ),
            (json!({"name": "P", "limits": []}), "name"),
        ];
        for (value, path) in cases {
            match Plan::from_json(&value) {
                Err(InvalidPlanJson::Member { path: p, .. }) => assert_eq!(p, path, "{value}"),
                other => panic!("{value}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_valid_shape_that_is_not_a_valid_plan_says_why() {
        let empty = json!({"name": "p", "limits": []});
        assert_eq!(
            Plan::from_json(&empty).unwrap_err(),
            InvalidPlanJson::Plan(InvalidPlan::LimitCount(0))
        );
    }

    fn period() -> impl Strategy<Value = Period> {
        prop_oneof![
            Just(Period::Day),
            (1u32..=31).prop_map(|d| Period::Month(AnchorDay::new(d).unwrap())),
        ]
    }

    fn kind() -> impl Strategy<Value = LimitKind> {
        prop_oneof![
            (1u32..10_000, 1u64..10_000_000).prop_map(|(b, us)| LimitKind::Rate(
                Quota::new(b, Duration::from_micros(us)).unwrap()
            )),
            (1u64..u64::MAX / 2, period())
                .prop_map(|(max, period)| LimitKind::Quota { max, period }),
            (
                0u64..1_000_000,
                proptest::option::of((1u64..1_000_000, period()))
            )
                .prop_map(|(initial, refill)| LimitKind::Credits {
                    initial,
                    refill: refill.map(|(amount, period)| Refill { amount, period }),
                }),
        ]
    }

    proptest! {
        #[test]
        fn any_plan_round_trips_through_json(
            kinds in proptest::collection::vec((kind(), any::<bool>()), 1..=8)
        ) {
            let limits = kinds
                .into_iter()
                .enumerate()
                .map(|(i, (kind, shared))| {
                    let sharing = if shared { Sharing::Workspace } else { Sharing::Key };
                    Limit::new(format!("l{i}").parse().unwrap(), kind).shared_by(sharing)
                })
                .collect();
            let plan = Plan::new("p".parse().unwrap(), limits).unwrap();
            prop_assert_eq!(Plan::from_json(&plan.to_json()).unwrap(), plan);
        }
    }

    fn documented_overrides() -> Value {
        json!({
            "monthly": {"max": 2000000},
            "burst": {"burst": 200, "interval_us": 10000},
            "credits": {"initial": 1000, "refill": 500}
        })
    }

    #[test]
    fn the_documented_overrides_read_as_their_values_and_round_trip() {
        let overrides = Overrides::from_json(&documented_overrides()).unwrap();
        assert_eq!(overrides.get("monthly"), Some(&LimitValue::Max(2_000_000)));
        assert_eq!(
            overrides.get("burst"),
            Some(&LimitValue::Rate(
                Quota::new(200, Duration::from_millis(10)).unwrap()
            ))
        );
        assert_eq!(
            overrides.get("credits"),
            Some(&LimitValue::Credits {
                initial: 1000,
                refill: Some(500)
            })
        );
        assert_eq!(overrides.to_json(), documented_overrides());
        assert_eq!(
            Overrides::from_json(&overrides.to_json()).unwrap(),
            overrides
        );
        assert_eq!(Overrides::empty().to_json(), json!({}));
    }

    #[test]
    fn bad_overrides_json_is_refused_saying_where() {
        let cases = [
            (json!({"monthly": {"max": 5, "maxx": 1}}), "monthly.maxx"),
            (json!({"monthly": {"max": -1}}), "monthly.max"),
            (json!({"monthly": {"max": 1.5}}), "monthly.max"),
            (json!({"monthly": {"max": "5"}}), "monthly.max"),
            (json!({"monthly": {}}), "monthly"),
            (json!({"monthly": 5}), "monthly"),
            (json!({"Monthly": {"max": 5}}), "Monthly"),
            (
                json!({"credits": {"initial": 5, "refill": -1}}),
                "credits.refill",
            ),
            (
                json!({"burst": {"burst": 5000000000u64, "interval_us": 10}}),
                "burst.burst",
            ),
            (json!({"burst": {"burst": 0, "interval_us": 10}}), "burst"),
            (json!([1]), "overrides"),
        ];
        for (value, path) in cases {
            match Overrides::from_json(&value) {
                Err(InvalidPlanJson::Member { path: p, .. }) => assert_eq!(p, path, "{value}"),
                other => panic!("{value}: {other:?}"),
            }
        }
    }

    #[test]
    fn too_many_overrides_or_a_zero_value_are_refused() {
        let nine: Map<String, Value> = (0..9)
            .map(|i| (format!("l{i}"), json!({"max": 1})))
            .collect();
        assert_eq!(
            Overrides::from_json(&nine.into()).unwrap_err(),
            InvalidPlanJson::Overrides(InvalidOverrides::TooMany(9))
        );
        assert!(matches!(
            Overrides::from_json(&json!({"daily": {"max": 0}})),
            Err(InvalidPlanJson::Overrides(InvalidOverrides::Empty(_)))
        ));
    }

    fn limit_value() -> impl Strategy<Value = LimitValue> {
        prop_oneof![
            (1u32..10_000, 1u64..10_000_000).prop_map(|(b, us)| LimitValue::Rate(
                Quota::new(b, Duration::from_micros(us)).unwrap()
            )),
            (1u64..u64::MAX).prop_map(LimitValue::Max),
            (0u64..u64::MAX, proptest::option::of(1u64..u64::MAX))
                .prop_map(|(initial, refill)| LimitValue::Credits { initial, refill }),
        ]
    }

    proptest! {
        #[test]
        fn any_overrides_round_trip_through_json(
            values in proptest::collection::vec(limit_value(), 0..=8)
        ) {
            let overrides = Overrides::new(
                values
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (format!("l{i}").parse().unwrap(), v))
                    .collect(),
            )
            .unwrap();
            prop_assert_eq!(Overrides::from_json(&overrides.to_json()).unwrap(), overrides);
        }
    }
}

//! [`Definitions`]: plans parsed from the JSON the SQL stores keep, remembered by their text so
//! that a lookup of a key on a plan does not parse the same definition again.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use super::StoreError;
use crate::plan::{Overrides, Plan, PlanName};
use crate::workspace::Workspace;

/// Most distinct definitions remembered; past it the map starts afresh. A store has few plans,
/// and a redefined plan's old text is dropped then.
const CAPACITY: usize = 256;

/// Parsed plans by definition text, bounded.
#[derive(Debug, Default)]
pub(crate) struct Definitions {
    parsed: RwLock<HashMap<Box<str>, Plan>>,
}

impl Definitions {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The plan `definition` (the JSON of [`Plan::to_json`]) describes, which must be called
    /// `name`. Anything else is a corrupt row: [`StoreError::Unavailable`], naming `table`.
    pub(crate) fn plan(
        &self,
        table: &str,
        name: &str,
        definition: &str,
    ) -> Result<Plan, StoreError> {
        let known = self
            .parsed
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(definition)
            .cloned();
        let plan = match known {
            Some(plan) => plan,
            None => {
                let plan = parse(definition).map_err(|why| corrupt(table, name, &why))?;
                let mut parsed = self.parsed.write().unwrap_or_else(PoisonError::into_inner);
                if parsed.len() >= CAPACITY {
                    parsed.clear();
                }
                parsed.insert(definition.into(), plan.clone());
                plan
            }
        };
        if plan.name().as_str() != name {
            return Err(corrupt(
                table,
                name,
                &format!("its definition is of the plan {}", plan.name()),
            ));
        }
        Ok(plan)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.parsed.read().unwrap().len()
    }
}

/// The plan name `keygate_workspaces` holds for `workspace`; a name that does not validate is
/// a corrupt row ([`StoreError::Unavailable`]).
pub(crate) fn workspace_plan(workspace: &Workspace, name: &str) -> Result<PlanName, StoreError> {
    PlanName::new(name).map_err(|e| {
        StoreError::Unavailable(
            format!("keygate_workspaces.plan of {workspace} is corrupt: {e}").into(),
        )
    })
}

/// The overrides `keygate_keys.overrides` holds for key `id` (`None`, SQL `NULL`: none). A value
/// that does not parse is a corrupt row ([`StoreError::Unavailable`], as a plan definition that
/// does not parse): never a key silently without the limits the operator gave it.
pub(crate) fn overrides(id: &str, text: Option<&str>) -> Result<Overrides, StoreError> {
    let Some(text) = text else {
        return Ok(Overrides::empty());
    };
    serde_json::from_str(text)
        .map_err(|e| e.to_string())
        .and_then(|json| Overrides::from_json(&json).map_err(|e| e.to_string()))
        .map_err(|why| {
            StoreError::Unavailable(
                format!("the overrides of key {id:?} in keygate_keys are corrupt: {why}").into(),
            )
        })
}

/// The `keygate_keys.overrides` value of `overrides`: `NULL` for none, else their JSON.
pub(crate) fn overrides_column(overrides: &Overrides) -> Option<String> {
    (!overrides.is_empty()).then(|| overrides.to_json().to_string())
}

fn parse(definition: &str) -> Result<Plan, String> {
    let json: serde_json::Value = serde_json::from_str(definition).map_err(|e| e.to_string())?;
    Plan::from_json(&json).map_err(|e| e.to_string())
}

fn corrupt(table: &str, name: &str, why: &str) -> StoreError {
    StoreError::Unavailable(format!("the plan {name:?} in {table} is corrupt: {why}").into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Limit, Period};

    fn plan(name: &str, max: u64) -> Plan {
        Plan::new(
            name.parse().unwrap(),
            vec![Limit::quota("daily".parse().unwrap(), max, Period::Day)],
        )
        .unwrap()
    }

    #[test]
    fn a_definition_is_parsed_once_and_read_back_equal() {
        let definitions = Definitions::new();
        let trial = plan("trial", 5);
        let text = trial.to_json().to_string();
        for _ in 0..3 {
            assert_eq!(definitions.plan("t", "trial", &text).unwrap(), trial);
        }
        assert_eq!(definitions.len(), 1);
    }

    #[test]
    fn a_definition_that_does_not_parse_is_unavailable_naming_the_plan() {
        let definitions = Definitions::new();
        for bad in ["{", "{\"name\": \"trial\"}", "[]"] {
            let error = definitions.plan("keygate_plans", "trial", bad).unwrap_err();
            assert!(error.is_unavailable(), "{error:?}");
            assert!(error.to_string().contains("\"trial\""), "{error}");
        }
    }

    #[test]
    fn a_definition_of_another_plan_is_unavailable() {
        let definitions = Definitions::new();
        let text = plan("pro", 5).to_json().to_string();
        let error = definitions.plan("t", "trial", &text).unwrap_err();
        assert!(
            error.is_unavailable() && error.to_string().contains("pro"),
            "{error}"
        );
    }

    #[test]
    fn overrides_round_trip_through_their_column_and_none_is_null() {
        use crate::plan::LimitValue;
        assert_eq!(overrides_column(&Overrides::empty()), None);
        assert!(overrides("AAAAAAAAAAAA", None).unwrap().is_empty());
        let raised = Overrides::new(vec![("daily".parse().unwrap(), LimitValue::Max(7))]).unwrap();
        let column = overrides_column(&raised).unwrap();
        assert_eq!(overrides("AAAAAAAAAAAA", Some(&column)).unwrap(), raised);
    }

    #[test]
    fn overrides_that_do_not_parse_are_unavailable_naming_the_key() {
        for bad in [
            "{",
            "[]",
            r#"{"daily": {"max": 0}}"#,
            r#"{"daily": {"maxx": 1}}"#,
        ] {
            let error = overrides("AAAAAAAAAAAA", Some(bad)).unwrap_err();
            assert!(error.is_unavailable(), "{error:?}");
            assert!(error.to_string().contains("AAAAAAAAAAAA"), "{error}");
        }
    }

    #[test]
    fn the_map_stays_bounded() {
        let definitions = Definitions::new();
        for max in 1..=(CAPACITY as u64 * 2 + 1) {
            let text = plan("trial", max).to_json().to_string();
            definitions.plan("t", "trial", &text).unwrap();
        }
        assert!(definitions.len() <= CAPACITY);
    }
}

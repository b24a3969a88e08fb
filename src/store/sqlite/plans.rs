//! Plans as rows of `keygate_plans` (name and JSON definition) and `keygate_workspaces`
//! (each workspace's plan).

use rusqlite::{Connection, OptionalExtension, params};

use super::rows::unavailable;
use crate::plan::{Plan, PlanName};
use crate::store::{Definitions, StoreError, plans, workspace_plan};
use crate::workspace::Workspace;

/// Refuses a plan name no plan has. Run in the transaction that then refers to it (plans are
/// never deleted, so it stays true until the write).
pub(super) fn check(conn: &Connection, name: Option<&PlanName>) -> Result<(), StoreError> {
    let Some(name) = name else {
        return Ok(());
    };
    let known: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM keygate_plans WHERE name = ?1)")
        .and_then(|mut stmt| stmt.query_row([name.as_str()], |row| row.get(0)))
        .map_err(unavailable)?;
    if known {
        Ok(())
    } else {
        Err(plans::unknown_plan(name))
    }
}

/// Defines `plan`, or replaces the definition of the plan of its name (an upsert, not a
/// delete and insert: the keys and workspaces referring to it keep doing so).
pub(super) fn put(conn: &Connection, plan: &Plan) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO keygate_plans (name, definition) VALUES (?1, ?2) \
         ON CONFLICT (name) DO UPDATE SET definition = excluded.definition",
    )
    .and_then(|mut stmt| stmt.execute(params![plan.name().as_str(), plan.to_json().to_string()]))
    .map_err(unavailable)?;
    Ok(())
}

/// Every plan, by name.
pub(super) fn all(conn: &Connection, definitions: &Definitions) -> Result<Vec<Plan>, StoreError> {
    let rows = conn
        .prepare_cached("SELECT name, definition FROM keygate_plans ORDER BY name")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(unavailable)?;
    rows.iter()
        .map(|(name, definition)| definitions.plan("keygate_plans", name, definition))
        .collect()
}

/// The plan called `name`, if any.
pub(super) fn one(
    conn: &Connection,
    definitions: &Definitions,
    name: &PlanName,
) -> Result<Option<Plan>, StoreError> {
    let definition: Option<String> = conn
        .prepare_cached("SELECT definition FROM keygate_plans WHERE name = ?1")
        .and_then(|mut stmt| stmt.query_row([name.as_str()], |row| row.get(0)).optional())
        .map_err(unavailable)?;
    definition
        .map(|definition| definitions.plan("keygate_plans", name.as_str(), &definition))
        .transpose()
}

/// Puts `workspace`'s keys without a plan of their own on `plan` (`None`: on none).
pub(super) fn set_workspace(
    conn: &Connection,
    workspace: &Workspace,
    plan: Option<&PlanName>,
) -> Result<(), StoreError> {
    let sql = match plan {
        Some(_) => {
            "INSERT INTO keygate_workspaces (workspace, plan) VALUES (?1, ?2) \
             ON CONFLICT (workspace) DO UPDATE SET plan = excluded.plan"
        }
        None => "DELETE FROM keygate_workspaces WHERE workspace = ?1",
    };
    let workspace = workspace.as_str();
    conn.prepare_cached(sql)
        .and_then(|mut stmt| match plan {
            Some(plan) => stmt.execute(params![workspace, plan.as_str()]),
            None => stmt.execute(params![workspace]),
        })
        .map_err(unavailable)?;
    Ok(())
}

/// The plan of `workspace`'s keys without one of their own.
pub(super) fn of_workspace(
    conn: &Connection,
    workspace: &Workspace,
) -> Result<Option<PlanName>, StoreError> {
    let name: Option<Option<String>> = conn
        .prepare_cached("SELECT plan FROM keygate_workspaces WHERE workspace = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([workspace.as_str()], |row| row.get(0))
                .optional()
        })
        .map_err(unavailable)?;
    name.flatten()
        .map(|name| workspace_plan(workspace, &name))
        .transpose()
}

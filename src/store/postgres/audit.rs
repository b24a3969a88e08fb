//! Rows of `keygate_audit` ↔ [`AuditEvent`]s: how a
//! [`PostgresKeyStore`](super::PostgresKeyStore) keeps its audit log.
//!
//! An event is written by [`commit`], in the transaction of the change it records, just before
//! that transaction commits: the change and its event are stored together or not at all.
//! Writing it first takes the workspace's log lock (an advisory lock held until the commit), so
//! that within a workspace the events commit in the order of their ids: a reader paging
//! through the log never skips an event that commits after it read a later one.

use std::time::SystemTime;

use deadpool_postgres::{Client, Transaction};
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use super::row::{column_in, corrupt_in};
use super::unavailable;
use crate::audit::{
    Actor, AuditAction, AuditEvent, AuditId, AuditPage, AuditQuery, changes_from_json, changes_json,
};
use crate::key::KeyId;
use crate::record::KeyName;
use crate::store::StoreError;
use crate::workspace::Workspace;

/// Takes the log lock of the workspace `$1` until the transaction ends. (Its first key,
/// "audi" in ASCII, keeps it apart from the naming locks, "keyg".)
const LOCK_LOG: &str = "SELECT pg_advisory_xact_lock(1635083369, hashtext($1))";
const INSERT: &str = "INSERT INTO keygate_audit \
     (at, workspace, actor_kind, actor_key_id, actor_name, actor_detail, action, key_id, \
     key_name, changes) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::jsonb)";
/// Selects events of the workspace `$1` older than the id `$2`, newest first, at most `$3`,
/// and only those matching `$condition` besides.
macro_rules! select_events {
    ($condition:expr) => {
        concat!(
            "SELECT id, at, workspace, actor_kind, actor_key_id, actor_name, actor_detail, \
             action, key_id, key_name, changes::text AS changes FROM keygate_audit \
             WHERE workspace = $1 AND id < $2",
            $condition,
            " ORDER BY id DESC LIMIT $3"
        )
    };
}
const EVENTS: &str = select_events!("");
/// [`EVENTS`] of the key `$4` only.
const KEY_EVENTS: &str = select_events!(" AND key_id = $4");

/// Writes `event`, if there is one, in `tx`, then commits `tx`: the change `tx` made and its
/// event are stored together, or neither is.
pub(super) async fn commit(
    tx: Transaction<'_>,
    event: Option<AuditEvent>,
) -> Result<(), StoreError> {
    if let Some(event) = event {
        write(&tx, &event).await?;
    }
    tx.commit().await.map_err(unavailable)
}

/// Inserts `event` (its id is drawn by the database) under its workspace's log lock.
async fn write(tx: &Transaction<'_>, event: &AuditEvent) -> Result<(), StoreError> {
    let workspace = event.workspace.as_str();
    let lock = tx.prepare_cached(LOCK_LOG).await.map_err(unavailable)?;
    tx.execute(&lock, &[&workspace])
        .await
        .map_err(unavailable)?;
    let insert = tx.prepare_cached(INSERT).await.map_err(unavailable)?;
    tx.execute(
        &insert,
        &[
            &event.at,
            &workspace,
            &event.actor.kind(),
            &event.actor.key_id().map(KeyId::as_str),
            &event.actor.name(),
            &event.actor.detail(),
            &event.action.as_str(),
            &event.key_id.as_str(),
            &event.key_name.as_str(),
            &changes_json(&event.changes).to_string(),
        ],
    )
    .await
    .map_err(unavailable)?;
    Ok(())
}

/// The page of `workspace`'s log that `query` asks for.
pub(super) async fn page(
    client: &Client,
    workspace: &Workspace,
    query: &AuditQuery,
) -> Result<AuditPage, StoreError> {
    let before = query
        .before
        .map_or(i64::MAX, |id| i64::try_from(id.0).unwrap_or(i64::MAX));
    // One more than a page: whether another page follows.
    let limit = i64::try_from(query.page_size() + 1).unwrap_or(i64::MAX);
    let key = query.key.as_ref().map(KeyId::as_str);
    let rows = match &key {
        Some(key) => {
            let statement = client.prepare_cached(KEY_EVENTS).await;
            let statement = statement.map_err(unavailable)?;
            client
                .query(&statement, &[&workspace.as_str(), &before, &limit, key])
                .await
        }
        None => {
            let statement = client.prepare_cached(EVENTS).await.map_err(unavailable)?;
            client
                .query(&statement, &[&workspace.as_str(), &before, &limit])
                .await
        }
    }
    .map_err(unavailable)?;
    let newest_first = rows.iter().map(event_from_row).collect::<Result<_, _>>()?;
    Ok(query.page(newest_first))
}

fn corrupt(column: &str, why: impl std::fmt::Display) -> StoreError {
    corrupt_in("keygate_audit", column, why)
}

fn column<'a, T: FromSql<'a>>(row: &'a Row, name: &str) -> Result<T, StoreError> {
    column_in("keygate_audit", row, name)
}

/// The event a row of [`EVENTS`] describes; a value no event can hold is a clear error.
fn event_from_row(row: &Row) -> Result<AuditEvent, StoreError> {
    let id: i64 = column(row, "id")?;
    let id = u64::try_from(id).map_err(|e| corrupt("id", e))?;
    let at: SystemTime = column(row, "at")?;
    let workspace: &str = column(row, "workspace")?;
    let workspace = Workspace::new(workspace).map_err(|e| corrupt("workspace", e))?;
    let kind: &str = column(row, "actor_kind")?;
    let actor_key_id: Option<&str> = column(row, "actor_key_id")?;
    let actor_name: &str = column(row, "actor_name")?;
    let actor_detail: Option<&str> = column(row, "actor_detail")?;
    let actor =
        Actor::from_parts(kind, actor_key_id, actor_name, actor_detail).ok_or_else(|| {
            corrupt(
                "actor_kind/actor_key_id/actor_name/actor_detail",
                format_args!(
                    "{kind:?}, {actor_key_id:?}, {actor_name:?}, {actor_detail:?} is no actor"
                ),
            )
        })?;
    let action: &str = column(row, "action")?;
    let action: AuditAction = action.parse().map_err(|e| corrupt("action", e))?;
    let key_id: &str = column(row, "key_id")?;
    let key_id = KeyId::new(key_id).map_err(|e| corrupt("key_id", e))?;
    let key_name: &str = column(row, "key_name")?;
    let key_name = KeyName::new(key_name).map_err(|e| corrupt("key_name", e))?;
    let changes: &str = column(row, "changes")?;
    let changes = serde_json::from_str(changes)
        .ok()
        .and_then(|value| changes_from_json(&value))
        .ok_or_else(|| corrupt("changes", "not an array of {field, before, after}"))?;
    Ok(AuditEvent {
        id: AuditId(id),
        at,
        workspace,
        actor,
        action,
        key_id,
        key_name,
        changes,
    })
}

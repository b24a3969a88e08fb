//! The rows of `keygate_audit`: writing an event in a change's transaction, and reading a page.

use rusqlite::{Connection, params};

use super::rows::{from_micros, to_micros, unavailable};
use crate::audit::{Actor, AuditEvent, AuditId, AuditQuery, changes_from_json, changes_json};
use crate::store::StoreError;
use crate::workspace::Workspace;

/// Appends `event` (if any) in the transaction of `conn`, numbering it.
pub(super) fn insert(conn: &Connection, event: Option<AuditEvent>) -> Result<(), StoreError> {
    let Some(event) = event else { return Ok(()) };
    conn.prepare_cached(
        "INSERT INTO keygate_audit (at_us, workspace, actor_kind, actor_key_id, actor_name, \
         actor_detail, action, key_id, key_name, changes) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .and_then(|mut statement| {
        statement.execute(params![
            to_micros(event.at),
            event.workspace.as_str(),
            event.actor.kind(),
            event.actor.key_id().map(|id| id.to_string()),
            event.actor.name(),
            event.actor.detail(),
            event.action.as_str(),
            event.key_id.as_str(),
            event.key_name.as_str(),
            changes_json(&event.changes).to_string(),
        ])
    })
    .map_err(unavailable)?;
    Ok(())
}

/// One page of `workspace`'s events, newest first, as `query` asks.
pub(super) fn page(
    conn: &Connection,
    workspace: &Workspace,
    query: &AuditQuery,
) -> Result<crate::audit::AuditPage, StoreError> {
    let before = query
        .before
        .map_or(i64::MAX, |id| i64::try_from(id.0).unwrap_or(i64::MAX));
    let key = query.key.map(|id| id.to_string());
    let limit = i64::try_from(query.page_size() + 1).unwrap_or(i64::MAX);
    let mut statement = conn
        .prepare_cached(
            "SELECT id, at_us, workspace, actor_kind, actor_key_id, actor_name, actor_detail, \
             action, key_id, key_name, changes FROM keygate_audit \
             WHERE workspace = ?1 AND id < ?2 AND (?3 IS NULL OR key_id = ?3) \
             ORDER BY id DESC LIMIT ?4",
        )
        .map_err(unavailable)?;
    let rows = statement
        .query_map(params![workspace.as_str(), before, key, limit], |row| {
            Ok(RawEvent {
                id: row.get(0)?,
                at_us: row.get(1)?,
                workspace: row.get(2)?,
                actor_kind: row.get(3)?,
                actor_key_id: row.get(4)?,
                actor_name: row.get(5)?,
                actor_detail: row.get(6)?,
                action: row.get(7)?,
                key_id: row.get(8)?,
                key_name: row.get(9)?,
                changes: row.get(10)?,
            })
        })
        .map_err(unavailable)?;
    let mut events = Vec::new();
    for row in rows {
        events.push(row.map_err(unavailable)?.event()?);
    }
    Ok(query.page(events))
}

/// The columns of one `keygate_audit` row, before they are read.
struct RawEvent {
    id: i64,
    at_us: i64,
    workspace: String,
    actor_kind: String,
    actor_key_id: Option<String>,
    actor_name: String,
    /// What else names the actor (a leak report's URL), if anything.
    actor_detail: Option<String>,
    action: String,
    key_id: String,
    key_name: String,
    changes: String,
}

impl RawEvent {
    /// The event, or a clear error naming the row and what in it does not read.
    fn event(self) -> Result<AuditEvent, StoreError> {
        let corrupt = |what: &str| {
            StoreError::Unavailable(
                format!("the keygate_audit row {} is corrupt: {what}", self.id).into(),
            )
        };
        let actor = Actor::from_parts(
            &self.actor_kind,
            self.actor_key_id.as_deref(),
            &self.actor_name,
            self.actor_detail.as_deref(),
        )
        .ok_or_else(|| corrupt("its actor"))?;
        let changes = serde_json::from_str(&self.changes)
            .ok()
            .and_then(|value| changes_from_json(&value))
            .ok_or_else(|| corrupt("its changes"))?;
        Ok(AuditEvent {
            id: AuditId(u64::try_from(self.id).map_err(|_| corrupt("its id"))?),
            at: from_micros(self.at_us),
            workspace: self
                .workspace
                .parse()
                .map_err(|_| corrupt("its workspace"))?,
            actor,
            action: self.action.parse().map_err(|_| corrupt("its action"))?,
            key_id: self.key_id.parse().map_err(|_| corrupt("its key id"))?,
            key_name: self.key_name.parse().map_err(|_| corrupt("its key name"))?,
            changes,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::audit::AuditAction;
    use crate::key::{KeyDigest, KeyId};
    use crate::record::KeyRecord;

    #[test]
    fn a_leak_report_is_read_back_with_its_url() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn, SystemTime::now()).unwrap();
        let record = KeyRecord::new(
            KeyId::new("AAAAAAAAAAAA").unwrap(),
            "ci".parse().unwrap(),
            KeyDigest::from_bytes([1; 32]),
            "read:all".parse().unwrap(),
            SystemTime::now(),
        );
        let revoked = record.clone().with_revoked_at(Some(SystemTime::now()));
        let reporter = Actor::leak_report("github:content", "https://github.com/acme/app/x");
        let event = AuditEvent::of(
            AuditAction::Revoke,
            &reporter,
            Some(&record),
            &revoked,
            SystemTime::now(),
        );
        insert(&conn, event).unwrap();
        let page = page(&conn, &Workspace::default(), &AuditQuery::new()).unwrap();
        assert_eq!(page.events.len(), 1);
        assert_eq!(page.events[0].actor, reporter);
    }
}

//! `keygate audit`: the workspace's audit log, one event a line, newest first.
//!
//! ```text
//! 2026-12-07T19:05:05Z  cli:alice  update  aB3dE5gH7jK9 (ci-pipeline)  scopes: read:all -> read:all,write:all
//! ```
//!
//! A line holds the time (RFC 3339, UTC), the actor (`key:<id> (<name>)`, `cli:<user>` or
//! `service:<name>`), the action, the key's id and name, and each field changed as
//! `field: before -> after` (`-` for none), separated by `; `.

use std::time::{Duration, UNIX_EPOCH};

use keygate::Workspace;
use keygate::audit::{AuditEvent, AuditId, Change};
use keygate::key::KeyId;
use keygate::view::{format_duration, format_time};
use serde_json::Value;

/// The fields whose values are times, in seconds since the Unix epoch.
const TIME_FIELDS: [&str; 3] = ["expires_at", "revoked_at", "previous_secret_valid_until"];

/// One event, as a line of text.
pub fn line(event: &AuditEvent) -> String {
    let changes: Vec<String> = event.changes.iter().map(change).collect();
    let mut line = format!(
        "{}  {}  {}  {} ({})",
        format_time(event.at),
        event.actor,
        event.action,
        event.key_id,
        event.key_name
    );
    if !changes.is_empty() {
        line.push_str("  ");
        line.push_str(&changes.join("; "));
    }
    line
}

/// `field: before -> after`.
fn change(change: &Change) -> String {
    let field = change.field.as_str();
    format!(
        "{field}: {} -> {}",
        value(field, &change.before),
        value(field, &change.after)
    )
}

/// A value of `field` as an operator reads it: scopes joined by commas, times in RFC 3339, a
/// quota as its burst and interval, other objects as compact JSON, `-` for none.
fn value(field: &str, value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(text) => text.clone(),
        Value::Number(n) if TIME_FIELDS.contains(&field) => n.as_u64().map_or_else(
            || n.to_string(),
            |s| format_time(UNIX_EPOCH + Duration::from_secs(s)),
        ),
        Value::Array(items) if items.iter().all(Value::is_string) && !items.is_empty() => {
            let texts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            texts.join(",")
        }
        Value::Object(quota) if field == "quota" => {
            let burst = quota.get("burst").and_then(Value::as_u64);
            let interval = quota.get("interval_us").and_then(Value::as_u64);
            match (burst, interval) {
                (Some(burst), Some(us)) => format!(
                    "{burst} at once, one more every {}",
                    format_duration(Duration::from_micros(us))
                ),
                _ => value.to_string(),
            }
        }
        other => other.to_string(),
    }
}

/// The command that reads the page after one ending at `next`, with the same filters.
pub fn next_page(
    next: AuditId,
    workspace: &Workspace,
    key: Option<&KeyId>,
    limit: Option<u16>,
) -> String {
    let mut command = String::from("keygate audit");
    if *workspace != Workspace::default() {
        command.push_str(&format!(" --workspace {workspace}"));
    }
    if let Some(key) = key {
        command.push_str(&format!(" --key {key}"));
    }
    if let Some(limit) = limit {
        command.push_str(&format!(" --limit {limit}"));
    }
    command.push_str(&format!(" --before {next}"));
    command
}

/// `--before`: the cursor a page ended with.
pub fn parse_cursor(text: &str) -> Result<AuditId, String> {
    text.parse().map_err(|_| {
        "a cursor is the whole number a page of `keygate audit` ended with (`--before 12`)"
            .to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate::audit::{Actor, AuditQuery};
    use keygate::{KeyManager, KeyUpdate, MemoryKeyStore, NewKey, Quota};

    /// The events of a key created by `alice` with `read:all`, then edited by `edit`.
    async fn events_after(edit: KeyUpdate) -> Vec<AuditEvent> {
        let store = MemoryKeyStore::new();
        let alice = Actor::cli("alice");
        let new = NewKey::new("ci".parse().unwrap(), "read:all".parse().unwrap());
        let id = store.create_by(&alice, new).await.unwrap().info.id;
        let ws = Workspace::default();
        store.update_by(&alice, &ws, &id, edit).await.unwrap();
        store.audit(&ws, &AuditQuery::new()).await.unwrap().events
    }

    #[tokio::test]
    async fn a_scope_edit_reads_as_the_scopes_before_and_after() {
        let edit = KeyUpdate::new().add_scopes("write:all".parse().unwrap());
        let events = events_after(edit).await;
        let shown = line(&events[0]);
        let id = events[0].key_id;
        let tail =
            format!("  cli:alice  update  {id} (ci)  scopes: read:all -> read:all,write:all");
        assert!(shown.ends_with(&tail), "{shown}");
        assert!(shown.starts_with(&format_time(events[0].at)), "{shown}");
    }

    #[tokio::test]
    async fn a_creation_shows_each_field_it_set_from_nothing() {
        let events = events_after(KeyUpdate::new().name("ci".parse().unwrap())).await;
        assert_eq!(events.len(), 1, "an update to the same name is no event");
        assert!(line(&events[0]).ends_with("name: - -> ci; scopes: - -> read:all"));
    }

    #[tokio::test]
    async fn a_quota_reads_as_its_burst_and_interval() {
        let quota = Quota::new(20, Duration::from_millis(100)).unwrap();
        let events = events_after(KeyUpdate::new().quota(Some(quota))).await;
        let shown = line(&events[0]);
        assert!(
            shown.ends_with("quota: - -> 20 at once, one more every 100ms"),
            "{shown}"
        );
    }

    #[test]
    fn a_time_field_reads_as_rfc_3339() {
        assert_eq!(
            value("revoked_at", &serde_json::json!(1_800_000_000)),
            "2027-01-15T08:00:00Z"
        );
    }

    #[test]
    fn metadata_reads_as_compact_json() {
        let metadata = serde_json::json!({"tier": "pro"});
        assert_eq!(value("metadata", &metadata), r#"{"tier":"pro"}"#);
    }

    #[test]
    fn the_next_page_keeps_the_workspace_key_and_limit() {
        let key = KeyId::new("aB3dE5gH7jK9").unwrap();
        let acme: Workspace = "acme".parse().unwrap();
        assert_eq!(
            next_page(AuditId(7), &acme, Some(&key), Some(5)),
            "keygate audit --workspace acme --key aB3dE5gH7jK9 --limit 5 --before 7"
        );
        assert_eq!(
            next_page(AuditId(7), &Workspace::default(), None, None),
            "keygate audit --before 7"
        );
    }

    #[test]
    fn a_cursor_that_is_not_a_number_is_refused_saying_what_it_is() {
        assert!(
            parse_cursor("yesterday")
                .unwrap_err()
                .contains("whole number")
        );
        assert_eq!(parse_cursor("12"), Ok(AuditId(12)));
    }
}

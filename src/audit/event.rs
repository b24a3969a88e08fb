//! [`AuditEvent`]: one change to a key, as the audit log keeps it.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::Actor;
use crate::key::KeyId;
use crate::quota::Quota;
use crate::record::{KeyName, KeyRecord};
use crate::workspace::Workspace;

/// An event's place in its store's log: events are numbered from 1 in the order they were
/// written, so a larger id is a later event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuditId(pub u64);

impl fmt::Display for AuditId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for AuditId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(AuditId)
    }
}

/// What was done to the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuditAction {
    /// The key was created.
    Create,
    /// Its name, metadata, scopes, quota, expiry, plan or limit overrides changed.
    Update,
    /// It was given a new secret.
    Rotate,
    /// It was revoked.
    Revoke,
    /// It was disabled (refused with `disabled_api_key` until enabled).
    Disable,
    /// It was enabled again.
    Enable,
    /// It was deleted: its record is gone, its id is never used again, and its events stay.
    Delete,
    /// It was imported: a key issued elsewhere, now kept by the store.
    Import,
}

impl AuditAction {
    /// The action as stored and shown: `create`, `update`, `rotate`, `revoke`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Create => "create",
            AuditAction::Update => "update",
            AuditAction::Rotate => "rotate",
            AuditAction::Revoke => "revoke",
            AuditAction::Disable => "disable",
            AuditAction::Enable => "enable",
            AuditAction::Delete => "delete",
            AuditAction::Import => "import",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "create" => AuditAction::Create,
            "update" => AuditAction::Update,
            "rotate" => AuditAction::Rotate,
            "revoke" => AuditAction::Revoke,
            "disable" => AuditAction::Disable,
            "enable" => AuditAction::Enable,
            "delete" => AuditAction::Delete,
            "import" => AuditAction::Import,
            other => return Err(format!("unknown audit action {other:?}")),
        })
    }
}

/// One field an event changed, with its value before and after as JSON (`null`: none).
///
/// | field | value |
/// |---|---|
/// | `name` | the name |
/// | `scopes` | an array of scopes, canonical order |
/// | `metadata` | the object |
/// | `quota` | `{"burst": N, "interval_us": N}` |
/// | `expires_at`, `revoked_at`, `disabled_at`, `previous_secret_valid_until` | seconds since the Unix epoch |
/// | `plan` | the plan's name |
/// | `overrides` | the overrides object, as `keygate plans` shows them |
/// | `allowed_ips` | an array of networks (`["192.0.2.0/24"]`; `[]`: anywhere) |
///
/// Never a secret or a digest: a rotation records only until when the previous secret works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The field's name (see the table).
    pub field: String,
    /// Its value before (`null` on create, or when it had none).
    pub before: Value,
    /// Its value after (`null` when it has none now).
    pub after: Value,
}

/// One change to a key: when, in which workspace, by whom, what, and which fields changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditEvent {
    /// The event's place in the log.
    pub id: AuditId,
    /// When the change was made (to the millisecond).
    pub at: SystemTime,
    /// The key's workspace.
    pub workspace: Workspace,
    /// Who made it.
    pub actor: Actor,
    /// What was done.
    pub action: AuditAction,
    /// The key's id.
    pub key_id: KeyId,
    /// The key's name after the change.
    pub key_name: KeyName,
    /// The fields that changed, in the order of the table of [`Change`].
    pub changes: Vec<Change>,
}

impl AuditEvent {
    /// The event of `action` turning `before` into `after` (`before` is `None` for a new or
    /// imported key; for a deletion, `after` is the key as it was); `None` when nothing
    /// changed and the action is not a creation, import, rotation or deletion (revoking a
    /// revoked key, an update to the same values), which leaves no event. The id is set by the
    /// store that writes it.
    pub fn of(
        action: AuditAction,
        actor: &Actor,
        before: Option<&KeyRecord>,
        after: &KeyRecord,
        at: SystemTime,
    ) -> Option<Self> {
        let changes = changes(before, after);
        let always = matches!(
            action,
            AuditAction::Create | AuditAction::Rotate | AuditAction::Delete | AuditAction::Import
        );
        if changes.is_empty() && !always {
            return None;
        }
        Some(Self {
            id: AuditId(0),
            at: to_millis(at),
            workspace: after.workspace.clone(),
            actor: actor.clone(),
            action,
            key_id: after.id,
            key_name: after.name.clone(),
            changes,
        })
    }

    /// The event as the admin API shows it: `id` (a string), `at` (seconds since the epoch),
    /// `workspace`, `actor` (`{"type", "id"?, "name", "url"?}`), `action`, `key` (`{"id", "name"}`)
    /// and `changes` (`[{"field", "before", "after"}]`).
    pub fn to_json(&self) -> Value {
        let mut actor = json!({ "type": self.actor.kind(), "name": self.actor.name() });
        if let Some(id) = self.actor.key_id() {
            actor["id"] = json!(id.to_string());
        }
        if let Some(url) = self.actor.detail() {
            actor["url"] = json!(url);
        }
        json!({
            "id": self.id.to_string(),
            "at": seconds(self.at),
            "workspace": self.workspace.as_str(),
            "actor": actor,
            "action": self.action.as_str(),
            "key": { "id": self.key_id.to_string(), "name": self.key_name.as_str() },
            "changes": changes_json(&self.changes),
        })
    }
}

/// `changes` as stores keep them: a JSON array of `{"field", "before", "after"}`.
pub fn changes_json(changes: &[Change]) -> Value {
    Value::Array(
        changes
            .iter()
            .map(|c| json!({ "field": c.field, "before": c.before, "after": c.after }))
            .collect(),
    )
}

/// Reads what [`changes_json`] wrote; `None` when it is not such an array.
pub fn changes_from_json(value: &Value) -> Option<Vec<Change>> {
    value
        .as_array()?
        .iter()
        .map(|c| {
            Some(Change {
                field: c.get("field")?.as_str()?.to_owned(),
                before: c.get("before")?.clone(),
                after: c.get("after")?.clone(),
            })
        })
        .collect()
}

/// How a field of a record is shown in a [`Change`].
type Shown = fn(&KeyRecord) -> Value;

/// The fields that differ between `before` (nothing, for a new key) and `after`, as the table
/// of [`Change`] names them. The digests are never compared or shown.
fn changes(before: Option<&KeyRecord>, after: &KeyRecord) -> Vec<Change> {
    let fields: [(&str, Shown); 11] = [
        ("name", |r| json!(r.name.as_str())),
        ("scopes", |r| {
            Value::Array(r.scopes.iter().map(|s| json!(s.to_string())).collect())
        }),
        ("metadata", |r| r.metadata.to_value()),
        ("quota", |r| r.quota.map_or(Value::Null, quota_json)),
        ("expires_at", |r| time_json(r.expires_at)),
        ("plan", |r| {
            r.plan
                .as_ref()
                .map_or(Value::Null, |p| json!(p.name().as_str()))
        }),
        ("overrides", |r| r.overrides.to_json()),
        ("allowed_ips", |r| json!(r.allowed_ips.to_strings())),
        ("revoked_at", |r| time_json(r.revoked_at)),
        ("disabled_at", |r| time_json(r.disabled_at)),
        ("previous_secret_valid_until", |r| {
            time_json(r.previous.map(|p| p.valid_until))
        }),
    ];
    let empty = |v: &Value| match v {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    };
    fields
        .iter()
        .filter_map(|(field, value)| {
            let after = value(after);
            let before = match before {
                Some(record) => value(record),
                None if empty(&after) => return None,
                None => Value::Null,
            };
            (before != after).then(|| Change {
                field: (*field).to_owned(),
                before,
                after,
            })
        })
        .collect()
}

fn quota_json(quota: Quota) -> Value {
    json!({ "burst": quota.burst(), "interval_us": quota.interval().as_micros() as u64 })
}

fn time_json(at: Option<SystemTime>) -> Value {
    at.map_or(Value::Null, |at| json!(seconds(at)))
}

/// Whole seconds since the Unix epoch (0 for anything before it).
fn seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `at`, cut to the millisecond that stores keep.
fn to_millis(at: SystemTime) -> SystemTime {
    let ms = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{KeyPrefix, generate};
    use crate::scope::Scopes;

    fn record(name: &str, scopes: &str) -> KeyRecord {
        let generated = generate(&KeyPrefix::default()).unwrap();
        KeyRecord::new(
            generated.id,
            name.parse().unwrap(),
            generated.digest,
            scopes.parse::<Scopes>().unwrap(),
            UNIX_EPOCH + Duration::from_secs(1_000),
        )
    }

    #[test]
    fn a_creation_lists_the_fields_it_set_and_nothing_empty() {
        let key = record("ci", "read:all");
        let event = AuditEvent::of(
            AuditAction::Create,
            &Actor::default(),
            None,
            &key,
            UNIX_EPOCH,
        )
        .unwrap();
        let fields: Vec<_> = event.changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["name", "scopes"]);
        assert_eq!(event.changes[1].before, Value::Null);
        assert_eq!(event.changes[1].after, json!(["read:all"]));
    }

    #[test]
    fn a_scope_edit_shows_the_scopes_before_and_after() {
        let before = record("ci", "read:all");
        let mut after = before.clone();
        after.scopes = "read:all,write:all".parse().unwrap();
        let event = AuditEvent::of(
            AuditAction::Update,
            &Actor::cli("alice"),
            Some(&before),
            &after,
            UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(
            event.changes,
            [Change {
                field: "scopes".into(),
                before: json!(["read:all"]),
                after: json!(["read:all", "write:all"]),
            }]
        );
    }

    #[test]
    fn an_update_that_changes_nothing_leaves_no_event() {
        let key = record("ci", "read:all");
        let event = AuditEvent::of(
            AuditAction::Update,
            &Actor::default(),
            Some(&key),
            &key,
            UNIX_EPOCH,
        );
        assert_eq!(event, None);
    }

    #[test]
    fn a_rotation_without_grace_is_recorded_all_the_same() {
        let key = record("ci", "read:all");
        let event = AuditEvent::of(
            AuditAction::Rotate,
            &Actor::default(),
            Some(&key),
            &key,
            UNIX_EPOCH,
        )
        .unwrap();
        assert!(event.changes.is_empty());
    }

    #[test]
    fn no_event_shows_a_digest() {
        let before = record("ci", "read:all");
        let mut after = before.clone();
        after.digest = generate(&KeyPrefix::default()).unwrap().digest;
        let event = AuditEvent::of(
            AuditAction::Rotate,
            &Actor::default(),
            Some(&before),
            &after,
            UNIX_EPOCH,
        )
        .unwrap();
        let shown = format!("{:?} {}", event, event.to_json());
        for digest in [before.digest, after.digest] {
            let hex: String = digest
                .as_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert!(!shown.contains(&hex), "{shown}");
        }
    }

    #[test]
    fn changes_round_trip_through_their_stored_json() {
        let before = record("ci", "read:all");
        let mut after = before.clone();
        after.name = "deploy".parse().unwrap();
        after.revoked_at = Some(UNIX_EPOCH + Duration::from_secs(5));
        let event = AuditEvent::of(
            AuditAction::Update,
            &Actor::default(),
            Some(&before),
            &after,
            UNIX_EPOCH,
        )
        .unwrap();
        let stored = changes_json(&event.changes);
        assert_eq!(changes_from_json(&stored), Some(event.changes));
    }
}

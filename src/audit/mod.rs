//! The audit log: every change to a key, who made it and what changed.
//!
//! Every store records an [`AuditEvent`] with each change it makes to a key (create, update,
//! rotate, revoke), in the same transaction as the change (SQLite, PostgreSQL) or under the
//! same lock (memory): a change without its event, or an event without its change, cannot be
//! stored. A change that fails records nothing, nor does one that changes nothing (revoking a
//! revoked key). Events never carry a secret or a digest.
//!
//! Changes name their [`Actor`] with the `*_by` calls of [`KeyManager`](crate::KeyManager):
//! the admin API passes the caller's key, the `keygate` tool the OS user. The log is read a
//! workspace at a time with [`KeyManager::audit`](crate::KeyManager::audit), newest first,
//! through the admin API (`GET /audit`) and `keygate audit`.
//!
//! ```
//! use keygate::audit::{Actor, AuditAction, AuditQuery};
//! use keygate::{KeyManager, KeyUpdate, MemoryKeyStore, NewKey, Workspace};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = MemoryKeyStore::new();
//! let ops = Actor::cli("alice");
//! let new = NewKey::new("ci".parse().unwrap(), "read:all".parse().unwrap());
//! let id = store.create_by(&ops, new).await.unwrap().info.id;
//! let edit = KeyUpdate::new().scopes("read:all,write:all".parse().unwrap());
//! store.update_by(&ops, &Workspace::default(), &id, edit).await.unwrap();
//!
//! let page = store.audit(&Workspace::default(), &AuditQuery::new()).await.unwrap();
//! let actions: Vec<_> = page.events.iter().map(|e| e.action).collect();
//! assert_eq!(actions, [AuditAction::Update, AuditAction::Create]);
//! assert_eq!(page.events[0].actor, ops);
//! assert_eq!(page.events[0].changes[0].field, "scopes");
//! # });
//! ```

mod actor;
mod event;
mod query;

pub use actor::{Actor, MAX_ACTOR_NAME, MAX_REPORT_URL};
pub use event::{AuditAction, AuditEvent, AuditId, Change, changes_from_json, changes_json};
pub use query::{AuditPage, AuditQuery, DEFAULT_AUDIT_PAGE, MAX_AUDIT_PAGE};

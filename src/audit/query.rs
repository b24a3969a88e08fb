//! [`AuditQuery`] and [`AuditPage`]: reading the audit log a page at a time, newest first.

use super::{AuditEvent, AuditId};
use crate::key::KeyId;

/// The most events one page holds.
pub const MAX_AUDIT_PAGE: usize = 500;

/// The events a page holds unless asked otherwise.
pub const DEFAULT_AUDIT_PAGE: usize = 50;

/// Which events to read: newest first, at most `limit`, older than `before` when set (the
/// [`AuditPage::next`] of the page before), and only one key's when `key` is set.
///
/// ```
/// use keygate::audit::AuditQuery;
///
/// let query = AuditQuery::new().limit(10_000);
/// assert_eq!(query.page_size(), keygate::audit::MAX_AUDIT_PAGE);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditQuery {
    /// Only this key's events.
    pub key: Option<KeyId>,
    /// Only events older than this one.
    pub before: Option<AuditId>,
    /// At most this many events (1 to [`MAX_AUDIT_PAGE`]; 0 reads as 1).
    pub limit: usize,
}

impl Default for AuditQuery {
    fn default() -> Self {
        Self {
            key: None,
            before: None,
            limit: DEFAULT_AUDIT_PAGE,
        }
    }
}

impl AuditQuery {
    /// The newest [`DEFAULT_AUDIT_PAGE`] events of every key.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only `key`'s events.
    pub fn key(mut self, key: KeyId) -> Self {
        self.key = Some(key);
        self
    }

    /// Only events older than `before`.
    pub fn before(mut self, before: AuditId) -> Self {
        self.before = Some(before);
        self
    }

    /// At most `limit` events (bounded to 1 ..= [`MAX_AUDIT_PAGE`]).
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// The page size stores read: `limit` bounded to 1 ..= [`MAX_AUDIT_PAGE`].
    pub fn page_size(&self) -> usize {
        self.limit.clamp(1, MAX_AUDIT_PAGE)
    }

    /// Whether `event` (of the queried workspace) is one this query reads.
    pub fn admits(&self, event: &AuditEvent) -> bool {
        self.key.is_none_or(|key| event.key_id == key)
            && self.before.is_none_or(|before| event.id < before)
    }

    /// The page of `newest_first` (the events that [`admits`](Self::admits), newest first,
    /// with at most one more than [`page_size`](Self::page_size) to tell whether more follow).
    pub fn page(&self, mut newest_first: Vec<AuditEvent>) -> AuditPage {
        let size = self.page_size();
        let more = newest_first.len() > size;
        newest_first.truncate(size);
        let next = if more {
            newest_first.last().map(|event| event.id)
        } else {
            None
        };
        AuditPage {
            events: newest_first,
            next,
        }
    }
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditPage {
    /// The events.
    pub events: Vec<AuditEvent>,
    /// When older events follow: the `before` of the next page.
    pub next: Option<AuditId>,
}

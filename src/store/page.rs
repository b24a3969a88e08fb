//! [`KeyListQuery`] and [`KeyPage`]: listing a workspace's keys a page at a time.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::KeyInfo;
use crate::key::KeyId;
use crate::record::KeyStatus;

/// The most keys one page holds.
pub const MAX_KEY_PAGE: usize = 500;

/// The keys a page holds unless asked otherwise.
pub const DEFAULT_KEY_PAGE: usize = 50;

/// The longest name prefix a listing filters by, in bytes (a key name is at most
/// [`MAX_NAME_LEN`](crate::MAX_NAME_LEN)).
pub const MAX_NAME_PREFIX: usize = 64;

/// Where a page of keys ends: the creation time (to the microsecond) and id of its last key.
/// The next page starts after it. Written as `<microseconds>.<id>`; treat it as opaque.
///
/// Keys are listed by creation time, then id, so a cursor stays valid while keys are created
/// or deleted: no key is listed twice, and a key that existed when the listing began and
/// still exists is listed once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyCursor {
    created_us: u64,
    id: KeyId,
}

impl KeyCursor {
    /// The cursor after `key`.
    pub fn after(key: &KeyInfo) -> Self {
        Self::of(key.created_at, key.id)
    }

    /// The cursor after a key created at `created_at` (cut to the microsecond) with `id`.
    pub fn of(created_at: SystemTime, id: KeyId) -> Self {
        Self {
            created_us: micros(created_at),
            id,
        }
    }

    /// The creation time, in microseconds since the Unix epoch.
    pub fn created_micros(&self) -> u64 {
        self.created_us
    }

    /// The creation time.
    pub fn created_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(self.created_us)
    }

    /// The id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// Whether a key created at `created_at` with `id` comes after this cursor.
    pub fn precedes(&self, created_at: SystemTime, id: &KeyId) -> bool {
        (micros(created_at), id.as_str()) > (self.created_us, self.id.as_str())
    }
}

/// Microseconds since the Unix epoch (0 before it).
fn micros(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

impl fmt::Display for KeyCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.created_us, self.id)
    }
}

/// A cursor that is not one a listing gave.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a cursor of a key listing (pass the `next` of the page before, as it was given)")]
pub struct InvalidCursor;

impl FromStr for KeyCursor {
    type Err = InvalidCursor;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (micros, id) = s.split_once('.').ok_or(InvalidCursor)?;
        if micros.is_empty() || !micros.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidCursor);
        }
        Ok(Self {
            created_us: micros.parse().map_err(|_| InvalidCursor)?,
            id: id.parse().map_err(|_| InvalidCursor)?,
        })
    }
}

/// Which keys of a workspace to list: at most `limit`, after `after` (the [`KeyPage::next`]
/// of the page before), with status `status` and a name starting with `name_prefix` when set.
/// Keys come oldest first (by creation time, then id).
///
/// ```
/// use keygate::store::KeyListQuery;
/// use keygate::KeyStatus;
///
/// let query = KeyListQuery::new().limit(10_000).status(KeyStatus::Active);
/// assert_eq!(query.page_size(), keygate::store::MAX_KEY_PAGE);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyListQuery {
    /// At most this many keys (1 to [`MAX_KEY_PAGE`]; 0 reads as 1).
    pub limit: usize,
    /// Only keys after this cursor.
    pub after: Option<KeyCursor>,
    /// Only keys with this status (at the time of the listing).
    pub status: Option<KeyStatus>,
    /// Only keys whose name starts with this (at most [`MAX_NAME_PREFIX`] bytes).
    pub name_prefix: Option<String>,
}

impl Default for KeyListQuery {
    fn default() -> Self {
        Self {
            limit: DEFAULT_KEY_PAGE,
            after: None,
            status: None,
            name_prefix: None,
        }
    }
}

impl KeyListQuery {
    /// The first [`DEFAULT_KEY_PAGE`] keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// At most `limit` keys (bounded to 1 ..= [`MAX_KEY_PAGE`]).
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Only keys after `cursor`.
    pub fn after(mut self, cursor: KeyCursor) -> Self {
        self.after = Some(cursor);
        self
    }

    /// Only keys with `status`.
    pub fn status(mut self, status: KeyStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Only keys whose name starts with `prefix`.
    pub fn name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.name_prefix = Some(prefix.into());
        self
    }

    /// The page size stores read: `limit` bounded to 1 ..= [`MAX_KEY_PAGE`].
    pub fn page_size(&self) -> usize {
        self.limit.clamp(1, MAX_KEY_PAGE)
    }

    /// Refuses a name prefix longer than [`MAX_NAME_PREFIX`] bytes, saying so.
    pub fn validate(&self) -> Result<(), super::StoreError> {
        match &self.name_prefix {
            Some(prefix) if prefix.len() > MAX_NAME_PREFIX => Err(super::StoreError::Invalid(
                format!("a name prefix is at most {MAX_NAME_PREFIX} bytes"),
            )),
            _ => Ok(()),
        }
    }

    /// Whether `key` is one this query lists at `now` (the cursor aside).
    pub fn admits(&self, key: &KeyInfo, now: SystemTime) -> bool {
        self.status
            .is_none_or(|status| key.status_at(now) == status)
            && self
                .name_prefix
                .as_deref()
                .is_none_or(|prefix| key.name.as_str().starts_with(prefix))
            && self
                .after
                .is_none_or(|cursor| cursor.precedes(key.created_at, &key.id))
    }

    /// The page of `oldest_first` (the keys this query lists, in order, with at most one more
    /// than [`page_size`](Self::page_size) to tell whether more follow).
    pub fn page(&self, mut oldest_first: Vec<KeyInfo>) -> KeyPage {
        let size = self.page_size();
        let more = oldest_first.len() > size;
        oldest_first.truncate(size);
        let next = if more {
            oldest_first.last().map(KeyCursor::after)
        } else {
            None
        };
        KeyPage {
            keys: oldest_first,
            next,
        }
    }
}

/// A page of a workspace's keys, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyPage {
    /// The keys, without secrets.
    pub keys: Vec<KeyInfo>,
    /// When more keys follow: the `after` of the next page.
    pub next: Option<KeyCursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> KeyId {
        text.parse().unwrap()
    }

    #[test]
    fn a_cursor_round_trips_through_its_text() {
        let cursor = KeyCursor::of(
            UNIX_EPOCH + Duration::from_micros(1_234_567),
            id("AAAAAAAAAAAA"),
        );
        assert_eq!(cursor.to_string(), "1234567.AAAAAAAAAAAA");
        assert_eq!(cursor.to_string().parse::<KeyCursor>(), Ok(cursor));
    }

    #[test]
    fn text_that_is_no_cursor_is_refused() {
        for text in [
            "",
            ".",
            "12",
            "12.",
            ".AAAAAAAAAAAA",
            "-1.AAAAAAAAAAAA",
            "1.not an id",
            "99999999999999999999999.AAAAAAAAAAAA",
        ] {
            assert_eq!(text.parse::<KeyCursor>(), Err(InvalidCursor), "{text:?}");
        }
    }

    #[test]
    fn a_cursor_precedes_later_keys_and_same_time_keys_with_larger_ids() {
        let at = UNIX_EPOCH + Duration::from_micros(10);
        let cursor = KeyCursor::of(at, id("BBBBBBBBBBBB"));
        assert!(cursor.precedes(at + Duration::from_micros(1), &id("AAAAAAAAAAAA")));
        assert!(cursor.precedes(at, &id("CCCCCCCCCCCC")));
        assert!(!cursor.precedes(at, &id("BBBBBBBBBBBB")));
        assert!(!cursor.precedes(at, &id("AAAAAAAAAAAA")));
        // A time within the same microsecond reads as that microsecond.
        assert!(!cursor.precedes(at + Duration::from_nanos(500), &id("AAAAAAAAAAAA")));
    }
}

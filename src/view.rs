//! [`KeyView`]: a key as JSON shows it to an operator (the admin API and `keygate --json`):
//! everything but its secret and digest (features `axum` or `cli`).
//!
//! Times are RFC 3339 in UTC, to the second; a quota's interval reads as a duration (`100ms`).
//!
//! ```
//! use keygate::view::KeyView;
//! use keygate::{KeyManager, MemoryKeyStore, NewKey};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = MemoryKeyStore::new();
//! let created = store
//!     .create(NewKey::new("ci-pipeline".parse().unwrap(), "read:all,write:all".parse().unwrap()))
//!     .await
//!     .unwrap();
//! let json = serde_json::to_value(KeyView::from(&created.info)).unwrap();
//! assert_eq!(json["workspace"], "default");
//! assert_eq!(json["name"], "ci-pipeline");
//! assert_eq!(json["metadata"], serde_json::json!({}));
//! assert_eq!(json["scopes"], serde_json::json!(["read:all", "write:all"]));
//! assert_eq!(json["status"], "active");
//! assert_eq!(json["limits"], serde_json::json!({}));
//! # });
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::limit::Quota;
use crate::store::{CreatedKey, KeyInfo};

/// What is said beside a plaintext key whenever one is shown.
pub const SHOWN_ONCE: &str =
    "Store this key now: it cannot be shown again (only its SHA-256 digest is kept).";

/// A [`KeyInfo`] as JSON: times in RFC 3339, scopes and status as strings. Built from the
/// listing with `From`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct KeyView {
    /// Public id.
    pub id: String,
    /// The workspace the key belongs to.
    pub workspace: String,
    /// Descriptive name.
    pub name: String,
    /// The application's own data about the key: a JSON object (`{}` when none was set).
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Granted scopes, canonical order.
    pub scopes: Vec<String>,
    /// `active`, `disabled`, `expired` or `revoked`, now.
    pub status: String,
    /// The key's own quota, if any.
    pub quota: Option<QuotaView>,
    /// The name of the plan that limits the key, if any.
    pub plan: Option<String>,
    /// The key's own values for some of its plan's limits, as
    /// [`Overrides::to_json`](crate::plan::Overrides::to_json) writes them (`{}` for none).
    /// Read-only in the admin API: only the operator sets them (`keygate update ID --limit`).
    pub limits: serde_json::Map<String, serde_json::Value>,
    /// Creation time.
    pub created_at: String,
    /// Expiry, if any.
    pub expires_at: Option<String>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<String>,
    /// Since when the key is disabled, if it is.
    pub disabled_at: Option<String>,
    /// The networks the key may be used from (empty: anywhere).
    pub allowed_ips: Vec<String>,
    /// Last recorded use, if any.
    pub last_used_at: Option<String>,
    /// While a rotation's grace period lasts: when the previous secret stops working.
    pub previous_secret_valid_until: Option<String>,
}

/// A per-key quota, as JSON: `burst` requests at once, one more every `interval`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QuotaView {
    /// Requests allowed at once.
    pub burst: u32,
    /// Time to earn one more request, e.g. `100ms` or `1s`.
    pub interval: String,
}

/// A key just created or rotated: its plaintext (shown this once), a reminder of that, and
/// the key's view.
///
/// Its `Debug` output shows `key: <redacted>`, never the plaintext, and the plaintext is
/// overwritten with zeros when the view is dropped. Serializing it (the admin API's answer,
/// `keygate --json`) is the one way the plaintext goes out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreatedKeyView {
    /// The plaintext key. It cannot be shown again.
    pub key: String,
    /// [`SHOWN_ONCE`].
    pub note: String,
    /// The key.
    #[serde(flatten)]
    pub info: KeyView,
}

impl fmt::Debug for CreatedKeyView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedKeyView")
            .field("key", &format_args!("<redacted>"))
            .field("note", &self.note)
            .field("info", &self.info)
            .finish()
    }
}

impl Drop for CreatedKeyView {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

/// RFC 3339 in UTC, to the second.
///
/// Never fails: RFC 3339 writes years 0000 to 9999 only, so a time outside what it can show
/// (written by hand, or by an older keygate that let an expiry past year 9999 through) is
/// shown as the nearest time it can: `1970-01-01T00:00:00Z` for anything before the Unix
/// epoch, `9999-12-31T23:59:59Z` for anything after the end of year 9999. Stores refuse new
/// expiries beyond [`LATEST_EXPIRY`](crate::store::LATEST_EXPIRY).
pub fn format_time(at: SystemTime) -> String {
    let latest = UNIX_EPOCH + crate::store::LATEST_EXPIRY;
    let shown = at.clamp(UNIX_EPOCH, latest);
    humantime::format_rfc3339_seconds(shown).to_string()
}

/// A duration as an operator writes it: `100ms`, `1s`, `24h`, `90d`.
pub fn format_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

fn status(info: &KeyInfo) -> &'static str {
    info.status_at(SystemTime::now()).as_str()
}

impl From<Quota> for QuotaView {
    fn from(q: Quota) -> Self {
        Self {
            burst: q.burst(),
            interval: format_duration(q.interval()),
        }
    }
}

/// Every field of the listing is named here, so a field added to [`KeyInfo`] does not compile
/// until the JSON shows it.
impl From<&KeyInfo> for KeyView {
    fn from(info: &KeyInfo) -> Self {
        let KeyInfo {
            id,
            workspace,
            name,
            metadata,
            scopes,
            quota,
            plan,
            overrides,
            created_at,
            expires_at,
            revoked_at,
            disabled_at,
            allowed_ips,
            last_used_at,
            previous_secret_valid_until,
        } = info;
        Self {
            id: id.as_str().to_owned(),
            workspace: workspace.as_str().to_owned(),
            name: name.as_str().to_owned(),
            metadata: metadata.as_map().clone(),
            scopes: scopes.iter().map(ToString::to_string).collect(),
            status: status(info).to_owned(),
            quota: quota.map(QuotaView::from),
            plan: plan.as_ref().map(|p| p.as_str().to_owned()),
            limits: match overrides.to_json() {
                serde_json::Value::Object(limits) => limits,
                _ => serde_json::Map::new(),
            },
            created_at: format_time(*created_at),
            expires_at: expires_at.map(format_time),
            revoked_at: revoked_at.map(format_time),
            disabled_at: disabled_at.map(format_time),
            allowed_ips: allowed_ips.to_strings(),
            last_used_at: last_used_at.map(format_time),
            previous_secret_valid_until: previous_secret_valid_until.map(format_time),
        }
    }
}

impl From<&CreatedKey> for CreatedKeyView {
    fn from(created: &CreatedKey) -> Self {
        Self {
            key: created.plaintext.expose_secret().to_owned(),
            note: SHOWN_ONCE.to_owned(),
            info: KeyView::from(&created.info),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_past_year_9999_are_shown_as_its_last_second() {
        let year_20000 = UNIX_EPOCH + Duration::from_secs(569_000_000_000);
        assert_eq!(format_time(year_20000), "9999-12-31T23:59:59Z");
        let just_past = UNIX_EPOCH + Duration::new(253_402_300_799, 999_999_999);
        assert_eq!(format_time(just_past), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn times_before_the_epoch_are_shown_as_the_epoch() {
        let before = UNIX_EPOCH - Duration::from_secs(86_400);
        assert_eq!(format_time(before), "1970-01-01T00:00:00Z");
    }
}

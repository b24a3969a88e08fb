//! The admin API's request and response bodies.
//!
//! Requests refuse unknown members (a typo such as `scope` for `scopes` is a 422
//! `invalid_request` naming `scope`, not a silent no-op). Responses show keys as [`KeyView`]s: never a secret or a digest, except the
//! plaintext of a key just created or rotated ([`CreatedKeyView`]).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

pub(super) use crate::view::{CreatedKeyView, KeyView};

/// A list that is present: `null` is refused (as not a list) rather than read as absent, so
/// that `"allowed_ips": null` cannot be mistaken for clearing the list.
fn list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
    Vec::deserialize(deserializer).map(Some)
}

/// A member that is present, whatever its value: `null` included, so that `"metadata": null`
/// is refused as not an object rather than read as absent.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// `POST /keys`: a new key, in the caller's workspace.
///
/// ```json
/// {"name": "ci-pipeline", "scopes": ["read:all", "write:all"], "expires_in": "90d",
///  "quota": {"burst": 20, "interval": "100ms"}, "metadata": {"tier": "pro"},
///  "allowed_ips": ["192.0.2.0/24", "2001:db8::/32"]}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// The workspace to create the key in: optional, and if given it must be the caller's
    /// own (a key is always created in the workspace of the admin key creating it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Descriptive name: 1 to 64 lowercase letters, digits and dashes (`production-backend`),
    /// unique among the workspace's unrevoked keys.
    pub name: String,
    /// The application's own data about the key: a JSON object of at most
    /// [`MAX_METADATA_BYTES`](crate::MAX_METADATA_BYTES) serialized (`{}` when not given).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub metadata: Option<Value>,
    /// At least one scope: `read:all`, `write:all`, `admin`, `read:<resource>`,
    /// `write:<resource>`.
    pub scopes: Vec<String>,
    /// Expiry as RFC 3339 in UTC (`2027-01-01T00:00:00Z`); must be in the future.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Expiry as a duration from now (`90d`, `12h`); not together with `expires_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
    /// The key's own rate limit; without it the layer's default applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaRequest>,
    /// The networks the key may be used from: addresses (`192.0.2.7`) and CIDR ranges
    /// (`192.0.2.0/24`, `2001:db8::/32`), at most
    /// [`MAX_ALLOWED_NETWORKS`](crate::MAX_ALLOWED_NETWORKS). Absent or `[]`: anywhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_ips: Vec<String>,
    /// Refused: a key's limits (its overrides of its plan's limit values) are set by the
    /// operator only (`keygate update ID --limit NAME=VALUE`), so that a workspace admin cannot
    /// raise its own. Shown read-only as [`KeyView::limits`]. Present only to refuse it by name.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub limits: Option<Value>,
    /// Refused, as [`limits`](Self::limits).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub overrides: Option<Value>,
}

/// A per-key quota: `burst` requests at once, one more every `interval`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaRequest {
    /// Requests allowed at once (at least 1).
    pub burst: u32,
    /// Time to earn one more request (`100ms`, `1s`, `1m`).
    pub interval: String,
}

/// `PATCH /keys/{id}`: a new name, new metadata (replacing the old object whole), the
/// scopes replaced, added to or removed from, and a new IP allowlist (replacing the old one
/// whole). A key's workspace never changes: there is no `workspace` member (it is refused as
/// unknown).
///
/// ```json
/// {"add_scopes": ["write:all"], "allowed_ips": ["192.0.2.0/24"]}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateKeyRequest {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New metadata: a JSON object replacing the old one whole (`{}` clears it).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub metadata: Option<Value>,
    /// Replaces every scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Scopes to add (the fix for a 403 `insufficient_scope`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_scopes: Vec<String>,
    /// Scopes to remove.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_scopes: Vec<String>,
    /// Replaces the networks the key may be used from, as for
    /// [`CreateKeyRequest::allowed_ips`]: `[]` clears the list (anywhere), absent keeps it,
    /// `null` is refused.
    ///
    /// A workspace admin sets it on any key of its workspace, its own included: an allowlist
    /// only narrows where a key works, never what it may do. An admin key that allows only
    /// networks it is not calling from shuts itself out; another admin key of the workspace,
    /// or the operator (`keygate update ID --clear-allowed-ips`), can lift that.
    #[serde(
        default,
        deserialize_with = "list",
        skip_serializing_if = "Option::is_none"
    )]
    pub allowed_ips: Option<Vec<String>>,
    /// Refused: a key's limits (its overrides of its plan's limit values) are set by the
    /// operator only (`keygate update ID --limit NAME=VALUE`), so that a workspace admin cannot
    /// raise its own. Shown read-only as [`KeyView::limits`]. Present only to refuse it by name.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub limits: Option<Value>,
    /// Refused, as [`limits`](Self::limits).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub overrides: Option<Value>,
}

/// `POST /keys/{id}/rotate`: how long the old secret keeps working (body optional).
///
/// ```json
/// {"grace": "24h"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateKeyRequest {
    /// Grace period (`0s` for none); default [`DEFAULT_GRACE`](super::DEFAULT_GRACE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace: Option<String>,
}

/// `GET /keys`: a page of the caller's workspace's keys, oldest first (by creation time, then
/// id), revoked and disabled ones included unless filtered out.
///
/// ```json
/// {"keys": [KeyView…], "next": "1796000000000000.aB3dE5gH7jK9"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyList {
    /// The keys.
    pub keys: Vec<KeyView>,
    /// When more keys follow: the `after` that reads them (`null` on the last page).
    #[serde(default)]
    pub next: Option<String>,
}

/// `POST /keys/import`: a key issued elsewhere, by its plaintext (`key`, hashed on import and
/// never stored) or the hex SHA-256 of its whole token (`digest`), with the name, scopes and
/// optionally the id, metadata and expiry it gets, in the caller's workspace.
///
/// ```json
/// {"digest": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
///  "name": "legacy-billing", "scopes": ["read:all"], "id": "LegacyBill01"}
/// ```
///
/// Its `Debug` output never shows `key`, and `key` is overwritten with zeros when the
/// request is dropped.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportKeyRequest {
    /// The key itself: this service's format (`kg_<id>_<secret>`) or another one (at least
    /// 20 characters that an `Authorization: Bearer` header can carry). Not with `digest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The SHA-256 of the whole token, as 64 hexadecimal digits. Not with `key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The id the key gets: for a key in this service's format, the id inside it (or none);
    /// otherwise none draws a fresh one. An id a key has or had is 409 `key_conflict`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The workspace to import the key into: optional, and if given the caller's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Descriptive name, as for [`CreateKeyRequest::name`].
    pub name: String,
    /// At least one scope, as for [`CreateKeyRequest::scopes`].
    pub scopes: Vec<String>,
    /// The application's own data about the key, as for [`CreateKeyRequest::metadata`].
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub metadata: Option<Value>,
    /// Expiry as RFC 3339 in UTC; must be in the future.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Expiry as a duration from now (`90d`); not together with `expires_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
}

impl std::fmt::Debug for ImportKeyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportKeyRequest")
            .field(
                "key",
                &self.key.as_ref().map(|_| format_args!("<redacted>")),
            )
            .field(
                "digest",
                &self.digest.as_ref().map(|_| format_args!("<redacted>")),
            )
            .field("id", &self.id)
            .field("workspace", &self.workspace)
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("metadata", &self.metadata)
            .field("expires_at", &self.expires_at)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

impl Drop for ImportKeyRequest {
    fn drop(&mut self) {
        if let Some(key) = &mut self.key {
            zeroize::Zeroize::zeroize(key);
        }
    }
}

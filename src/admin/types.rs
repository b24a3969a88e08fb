//! The admin API's request and response bodies.
//!
//! Requests refuse unknown members (a typo such as `scope` for `scopes` is a 422
//! `invalid_request` naming `scope`, not a silent no-op). Responses show keys as [`KeyView`]s: never a secret or a digest, except the
//! plaintext of a key just created or rotated ([`CreatedKeyView`]).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

pub(super) use crate::view::{CreatedKeyView, KeyView};

/// A member that is present, whatever its value: `null` included, so that `"metadata": null`
/// is refused as not an object rather than read as absent.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// `POST /keys`: a new key, in the caller's workspace.
///
/// ```json
/// {"name": "ci-pipeline", "scopes": ["read:all", "write:all"], "expires_in": "90d",
///  "quota": {"burst": 20, "interval": "100ms"}, "metadata": {"tier": "pro"}}
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

/// `PATCH /keys/{id}`: a new name, new metadata (replacing the old object whole), and the
/// scopes replaced, added to or removed from. A key's workspace never changes: there is no
/// `workspace` member (it is refused as unknown).
///
/// ```json
/// {"add_scopes": ["write:all"]}
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

/// `GET /keys`: every key of the caller's workspace, oldest first, revoked ones included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyList {
    /// The keys.
    pub keys: Vec<KeyView>,
}

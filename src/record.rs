//! [`KeyRecord`]: what a store keeps about a key (never its plaintext), and [`KeyName`].

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::SystemTime;

use crate::allowlist::IpAllowlist;
use crate::key::{KeyDigest, KeyId};
use crate::limit::Quota;
use crate::metadata::Metadata;
use crate::plan::{Overrides, Plan};
use crate::scope::Scopes;
use crate::workspace::Workspace;

/// Longest key name.
pub const MAX_NAME_LEN: usize = 64;

/// A key's descriptive name, such as `production-backend`, `ci-pipeline` or `local-dev`:
/// 1 to 64 lowercase letters, digits and dashes, starting and ending with a letter or digit.
///
/// ```
/// use keygate::{InvalidKeyName, KeyName, MAX_NAME_LEN};
///
/// assert_eq!("ci-pipeline".parse::<KeyName>().unwrap().as_str(), "ci-pipeline");
/// let refused: Result<KeyName, InvalidKeyName> = "CI pipeline".parse();
/// assert!(refused.is_err());
/// assert!(KeyName::new(&"a".repeat(MAX_NAME_LEN + 1)).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyName(Arc<str>);

/// Why a string is not a key name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid key name {0:?}: use 1 to 64 lowercase letters, digits and dashes, such as production-backend"
)]
pub struct InvalidKeyName(String);

impl KeyName {
    /// Validates a name.
    pub fn new(name: &str) -> Result<Self, InvalidKeyName> {
        let b = name.as_bytes();
        let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        let ok = !b.is_empty()
            && b.len() <= MAX_NAME_LEN
            && alnum(b[0])
            && alnum(b[b.len() - 1])
            && b.iter().all(|&c| alnum(c) || c == b'-');
        if ok {
            Ok(Self(name.into()))
        } else {
            Err(InvalidKeyName(name.chars().take(80).collect()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for KeyName {
    type Err = InvalidKeyName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// The secret a key had before its last rotation, accepted until `valid_until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviousSecret {
    /// Digest of the old secret.
    pub digest: KeyDigest,
    /// End of the grace period.
    pub valid_until: SystemTime,
}

/// Where a key stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Usable.
    Active,
    /// Revoked: refused with `revoked_api_key`.
    Revoked,
    /// Past its expiry: refused with `expired_api_key`.
    Expired,
    /// Disabled for now: refused with `disabled_api_key` until enabled again.
    Disabled,
}

impl KeyStatus {
    /// The status of a key revoked at `revoked_at` (if ever), disabled since `disabled_at`
    /// (if it is) and expiring at `expires_at` (if ever), at `now`. Revocation wins over
    /// expiry, and expiry over disabling: the answer a request gets says what lasts longest.
    pub(crate) fn of(
        revoked_at: Option<SystemTime>,
        disabled_at: Option<SystemTime>,
        expires_at: Option<SystemTime>,
        now: SystemTime,
    ) -> Self {
        if revoked_at.is_some() {
            KeyStatus::Revoked
        } else if expires_at.is_some_and(|at| now >= at) {
            KeyStatus::Expired
        } else if disabled_at.is_some() {
            KeyStatus::Disabled
        } else {
            KeyStatus::Active
        }
    }

    /// The status as listings and filters write it: `active`, `revoked`, `expired`,
    /// `disabled`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Revoked => "revoked",
            KeyStatus::Expired => "expired",
            KeyStatus::Disabled => "disabled",
        }
    }
}

impl fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "active" => KeyStatus::Active,
            "revoked" => KeyStatus::Revoked,
            "expired" => KeyStatus::Expired,
            "disabled" => KeyStatus::Disabled,
            other => {
                return Err(format!(
                    "unknown status {other:?}: use active, disabled, expired or revoked"
                ));
            }
        })
    }
}

/// Everything a store keeps about one key. The plaintext is never kept: only its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyRecord {
    /// Public lookup id.
    pub id: KeyId,
    /// The workspace (customer) the key belongs to; fixed at creation.
    pub workspace: Workspace,
    /// Descriptive name, for audit and logs; unique among the workspace's unrevoked keys.
    pub name: KeyName,
    /// The application's own data about the key; never used by keygate to decide anything.
    pub metadata: Metadata,
    /// SHA-256 digest of the current secret.
    pub digest: KeyDigest,
    /// The secret before the last rotation, while its grace period lasts.
    pub previous: Option<PreviousSecret>,
    /// Granted scopes.
    pub scopes: Scopes,
    /// The key's own rate limit; `None` uses the layer's default. A key with a `plan` is
    /// limited by the plan instead.
    pub quota: Option<Quota>,
    /// The plan whose limits apply to the key (its own, or its workspace's), as the store
    /// resolved it, with the key's `overrides` applied where they fit
    /// ([`Plan::with_overrides`]); `None` for a key limited by its `quota` or the layer's
    /// default.
    pub plan: Option<Plan>,
    /// The key's own values for some of its plan's limits, as the operator set them (empty
    /// for none). `plan` already has them applied.
    pub overrides: Overrides,
    /// Creation time.
    pub created_at: SystemTime,
    /// Expiry, if any.
    pub expires_at: Option<SystemTime>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<SystemTime>,
    /// Since when the key is disabled, if it is: refused with `disabled_api_key` until it is
    /// enabled again.
    pub disabled_at: Option<SystemTime>,
    /// For a key imported in another format than this service's: the SHA-256 of its whole
    /// token, by which [`KeyStore::get_by_digest`](crate::KeyStore::get_by_digest) finds it.
    /// `None` for keys in this service's format, found by their id.
    pub legacy_digest: Option<KeyDigest>,
    /// The networks the key may be used from ([`IpAllowlist::any`]: anywhere).
    pub allowed_ips: IpAllowlist,
    /// Last successful use, as far as the store has recorded it.
    pub last_used_at: Option<SystemTime>,
}

impl KeyRecord {
    /// A new active record in the `default` workspace, with empty metadata and no quota,
    /// expiry, or history.
    pub fn new(
        id: KeyId,
        name: KeyName,
        digest: KeyDigest,
        scopes: Scopes,
        created_at: SystemTime,
    ) -> Self {
        Self {
            id,
            workspace: Workspace::default(),
            name,
            metadata: Metadata::empty(),
            digest,
            previous: None,
            scopes,
            quota: None,
            plan: None,
            overrides: Overrides::empty(),
            created_at,
            expires_at: None,
            revoked_at: None,
            disabled_at: None,
            legacy_digest: None,
            allowed_ips: IpAllowlist::any(),
            last_used_at: None,
        }
    }

    /// A record no key matches, for code paths that must do the same work whether or not an
    /// id is known.
    pub(crate) fn timing_dummy() -> Self {
        Self::new(
            KeyId::ZERO,
            KeyName(Arc::from("unknown")),
            KeyDigest::from_bytes([0; 32]),
            Scopes::empty(),
            std::time::UNIX_EPOCH,
        )
    }

    /// Sets the workspace.
    pub fn with_workspace(mut self, workspace: Workspace) -> Self {
        self.workspace = workspace;
        self
    }

    /// Sets the metadata.
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Sets the plan that limits the key.
    pub fn with_plan(mut self, plan: Option<Plan>) -> Self {
        self.plan = plan;
        self
    }

    /// Sets the key's overrides of its plan's limit values (the plan set by
    /// [`with_plan`](Self::with_plan) is taken as resolved: apply them to it with
    /// [`Plan::with_overrides`]).
    pub fn with_overrides(mut self, overrides: Overrides) -> Self {
        self.overrides = overrides;
        self
    }

    /// Sets the key's own quota.
    pub fn with_quota(mut self, quota: Option<Quota>) -> Self {
        self.quota = quota;
        self
    }

    /// Sets the expiry.
    pub fn with_expiry(mut self, expires_at: Option<SystemTime>) -> Self {
        self.expires_at = expires_at;
        self
    }

    /// Sets the revocation time.
    pub fn with_revoked_at(mut self, revoked_at: Option<SystemTime>) -> Self {
        self.revoked_at = revoked_at;
        self
    }

    /// Disables the record since `disabled_at` (`None`: enabled).
    pub fn with_disabled_at(mut self, disabled_at: Option<SystemTime>) -> Self {
        self.disabled_at = disabled_at;
        self
    }

    /// Restricts the networks the key may be used from.
    pub fn with_allowed_ips(mut self, allowed_ips: IpAllowlist) -> Self {
        self.allowed_ips = allowed_ips;
        self
    }

    /// Sets the digest of the whole token of a key imported in another format.
    pub fn with_legacy_digest(mut self, legacy_digest: Option<KeyDigest>) -> Self {
        self.legacy_digest = legacy_digest;
        self
    }

    /// Sets the secret accepted during a rotation's grace period.
    pub fn with_previous(mut self, previous: Option<PreviousSecret>) -> Self {
        self.previous = previous;
        self
    }

    /// Sets the last-used time.
    pub fn with_last_used_at(mut self, last_used_at: Option<SystemTime>) -> Self {
        self.last_used_at = last_used_at;
        self
    }

    /// The key's status at `now`. Revocation wins over expiry.
    pub fn status_at(&self, now: SystemTime) -> KeyStatus {
        KeyStatus::of(self.revoked_at, self.disabled_at, self.expires_at, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn documented_names_are_valid() {
        for name in [
            "production-backend",
            "ci-pipeline",
            "local-dev",
            "a",
            "k8s-2",
        ] {
            assert!(KeyName::new(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn names_outside_the_rules_are_refused() {
        let long = "a".repeat(65);
        for name in [
            "",
            "-dev",
            "dev-",
            "Prod",
            "my key",
            "key_1",
            "ключ",
            long.as_str(),
        ] {
            assert!(KeyName::new(name).is_err(), "{name:?}");
        }
    }

    #[test]
    fn revocation_wins_over_expiry() {
        let now = SystemTime::now();
        let record = KeyRecord::new(
            KeyId::new("AAAAAAAAAAAA").unwrap(),
            KeyName::new("x").unwrap(),
            KeyDigest::from_bytes([0; 32]),
            Scopes::empty(),
            now,
        )
        .with_expiry(Some(now - Duration::from_secs(1)));
        assert_eq!(record.status_at(now), KeyStatus::Expired);
        assert_eq!(
            record.with_revoked_at(Some(now)).status_at(now),
            KeyStatus::Revoked
        );
    }
}

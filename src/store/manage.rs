//! [`KeyManager`]: the key lifecycle, as an operator drives it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use super::StoreError;
use crate::key::{self, ApiKey, KeyDigest, KeyId, KeyPrefix};
use crate::limit::Quota;
use crate::record::{KeyName, KeyRecord, KeyStatus, PreviousSecret};
use crate::scope::Scopes;

/// What an operator chooses when creating a key: a name, one or more scopes, and optionally an
/// expiry and a per-key quota.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewKey {
    /// Descriptive name.
    pub name: KeyName,
    /// Granted scopes (at least one).
    pub scopes: Scopes,
    /// Expiry, if any; must be in the future.
    pub expires_at: Option<SystemTime>,
    /// The key's own quota; `None` uses the layer's default.
    pub quota: Option<Quota>,
}

impl NewKey {
    /// A key with a name and scopes, no expiry and the default quota.
    pub fn new(name: KeyName, scopes: Scopes) -> Self {
        Self {
            name,
            scopes,
            expires_at: None,
            quota: None,
        }
    }

    /// Sets an expiry.
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Sets a per-key quota.
    pub fn quota(mut self, quota: Quota) -> Self {
        self.quota = Some(quota);
        self
    }

    /// The record a store keeps for this key, with the id and digest just generated.
    fn record(&self, generated: &key::GeneratedKey, now: SystemTime) -> KeyRecord {
        KeyRecord::new(
            generated.id,
            self.name.clone(),
            generated.digest,
            self.scopes.clone(),
            now,
        )
        .with_quota(self.quota)
        .with_expiry(self.expires_at)
    }

    /// Checks what a store must refuse: no scope, or an expiry not in the future.
    pub fn validate(&self, now: SystemTime) -> Result<(), StoreError> {
        if self.scopes.is_empty() {
            return Err(StoreError::Invalid(
                "a key needs at least one scope (read:all, write:all or admin)".into(),
            ));
        }
        if self.expires_at.is_some_and(|at| at <= now) {
            return Err(StoreError::Invalid(
                "the expiry must be in the future".into(),
            ));
        }
        Ok(())
    }
}

impl NewKey {
    /// Draws a fresh key for this request: the plaintext to show once and the record to store.
    /// The caller validates first, and draws again if the id is taken.
    pub(crate) fn issue(
        &self,
        prefix: &KeyPrefix,
        now: SystemTime,
    ) -> Result<(ApiKey, KeyRecord), StoreError> {
        let generated = key::generate(prefix).map_err(generation_failed)?;
        let record = self.record(&generated, now);
        Ok((generated.plaintext, record))
    }
}

/// The error of a store whose OS random number generator failed.
pub(crate) fn generation_failed(e: getrandom::Error) -> StoreError {
    StoreError::Unavailable(format!("the OS random number generator failed: {e}").into())
}

/// A change to a key's name, scopes, quota or expiry. Fields left `None` are kept.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct KeyUpdate {
    /// New name.
    pub name: Option<KeyName>,
    /// New scopes (replacing the old set; at least one).
    pub scopes: Option<Scopes>,
    /// New quota (`Some(None)` returns the key to the default quota).
    pub quota: Option<Option<Quota>>,
    /// New expiry (`Some(None)` removes it).
    pub expires_at: Option<Option<SystemTime>>,
}

impl KeyUpdate {
    /// An update that changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Renames the key.
    pub fn name(mut self, name: KeyName) -> Self {
        self.name = Some(name);
        self
    }

    /// Replaces the key's scopes.
    pub fn scopes(mut self, scopes: Scopes) -> Self {
        self.scopes = Some(scopes);
        self
    }

    /// Replaces the key's quota.
    pub fn quota(mut self, quota: Option<Quota>) -> Self {
        self.quota = Some(quota);
        self
    }

    /// Replaces the key's expiry.
    pub fn expires_at(mut self, at: Option<SystemTime>) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Applies the update to a record, refusing what [`NewKey::validate`] refuses and any change
    /// to a revoked key.
    pub fn apply(&self, record: &KeyRecord, now: SystemTime) -> Result<KeyRecord, StoreError> {
        if record.revoked_at.is_some() {
            return Err(StoreError::Conflict(format!(
                "key {} is revoked and cannot be changed",
                record.id
            )));
        }
        let mut next = record.clone();
        if let Some(name) = &self.name {
            next.name = name.clone();
        }
        if let Some(scopes) = &self.scopes {
            if scopes.is_empty() {
                return Err(StoreError::Invalid(
                    "a key needs at least one scope (read:all, write:all or admin)".into(),
                ));
            }
            next.scopes = scopes.clone();
        }
        if let Some(quota) = self.quota {
            next.quota = quota;
        }
        if let Some(expires_at) = self.expires_at {
            if expires_at.is_some_and(|at| at <= now) {
                return Err(StoreError::Invalid(
                    "the expiry must be in the future".into(),
                ));
            }
            next.expires_at = expires_at;
        }
        Ok(next)
    }
}

/// `record` revoked at `now`, or as it was if already revoked (revocation is recorded once).
pub(crate) fn revoked(record: &KeyRecord, now: SystemTime) -> KeyRecord {
    let at = record.revoked_at.unwrap_or(now);
    record.clone().with_revoked_at(Some(at))
}

/// `record` with the new secret's `digest`, the old one kept until `now + grace` (not at all
/// for a zero grace). A revoked key cannot be rotated.
pub(crate) fn rotated(
    record: &KeyRecord,
    digest: KeyDigest,
    now: SystemTime,
    grace: Duration,
) -> Result<KeyRecord, StoreError> {
    if record.revoked_at.is_some() {
        return Err(StoreError::Conflict(format!(
            "key {} is revoked and cannot be rotated",
            record.id
        )));
    }
    let previous = match (grace.is_zero(), now.checked_add(grace)) {
        (true, _) => None,
        (false, Some(valid_until)) => Some(PreviousSecret {
            digest: record.digest,
            valid_until,
        }),
        (false, None) => {
            return Err(StoreError::Invalid(format!(
                "a grace period of {grace:?} is too long"
            )));
        }
    };
    let mut next = record.clone().with_previous(previous);
    next.digest = digest;
    Ok(next)
}

/// What a listing shows of a key: everything but its secret and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyInfo {
    /// Public id.
    pub id: KeyId,
    /// Descriptive name.
    pub name: KeyName,
    /// Granted scopes.
    pub scopes: Scopes,
    /// The key's own quota, if any.
    pub quota: Option<Quota>,
    /// Creation time.
    pub created_at: SystemTime,
    /// Expiry, if any.
    pub expires_at: Option<SystemTime>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<SystemTime>,
    /// Last recorded use.
    pub last_used_at: Option<SystemTime>,
    /// While a rotation's grace period lasts: when the previous secret stops working.
    pub previous_secret_valid_until: Option<SystemTime>,
}

impl KeyInfo {
    /// The key's status at `now`.
    pub fn status_at(&self, now: SystemTime) -> KeyStatus {
        KeyStatus::of(self.revoked_at, self.expires_at, now)
    }
}

impl From<&KeyRecord> for KeyInfo {
    fn from(r: &KeyRecord) -> Self {
        Self {
            id: r.id,
            name: r.name.clone(),
            scopes: r.scopes.clone(),
            quota: r.quota,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
            previous_secret_valid_until: r.previous.map(|p| p.valid_until),
        }
    }
}

/// A key just created or rotated: its plaintext, returned this once, and its listing.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// The plaintext key. It cannot be shown again: only its digest is stored.
    pub plaintext: ApiKey,
    /// The key as listings show it.
    pub info: KeyInfo,
}

/// The key lifecycle: create (plaintext returned once), list and get without secrets, update
/// name, scopes, quota or expiry, revoke, and rotate with a grace period.
///
/// Object-safe, so an admin API can hold an `Arc<dyn KeyManager>`.
#[async_trait]
pub trait KeyManager: Send + Sync {
    /// Creates a key and returns its plaintext, once.
    async fn create(&self, new: NewKey) -> Result<CreatedKey, StoreError>;

    /// One key, without its secret.
    async fn info(&self, id: &KeyId) -> Result<KeyInfo, StoreError>;

    /// Every key, revoked ones included, without secrets; oldest first.
    async fn list(&self) -> Result<Vec<KeyInfo>, StoreError>;

    /// Changes a key's name, scopes, quota or expiry.
    async fn update(&self, id: &KeyId, update: KeyUpdate) -> Result<KeyInfo, StoreError>;

    /// Revokes a key: from now on it is refused with `revoked_api_key`. Revoking a revoked key
    /// changes nothing.
    async fn revoke(&self, id: &KeyId) -> Result<KeyInfo, StoreError>;

    /// Gives a key a new secret and returns the new plaintext, once. The old secret keeps
    /// working for `grace` (not at all if `grace` is zero).
    async fn rotate(&self, id: &KeyId, grace: Duration) -> Result<CreatedKey, StoreError>;
}

#[async_trait]
impl<M: KeyManager + ?Sized> KeyManager for Arc<M> {
    async fn create(&self, new: NewKey) -> Result<CreatedKey, StoreError> {
        (**self).create(new).await
    }
    async fn info(&self, id: &KeyId) -> Result<KeyInfo, StoreError> {
        (**self).info(id).await
    }
    async fn list(&self) -> Result<Vec<KeyInfo>, StoreError> {
        (**self).list().await
    }
    async fn update(&self, id: &KeyId, update: KeyUpdate) -> Result<KeyInfo, StoreError> {
        (**self).update(id, update).await
    }
    async fn revoke(&self, id: &KeyId) -> Result<KeyInfo, StoreError> {
        (**self).revoke(id).await
    }
    async fn rotate(&self, id: &KeyId, grace: Duration) -> Result<CreatedKey, StoreError> {
        (**self).rotate(id, grace).await
    }
}

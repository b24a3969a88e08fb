//! [`ImportKey`]: bringing a key issued elsewhere into a store, so that it keeps working.

use std::time::SystemTime;

use super::StoreError;
use super::manage::check_scopes_and_expiry;
use crate::key::{self, ApiKey, KeyDigest, KeyId, KeyPrefix};
use crate::metadata::Metadata;
use crate::plan::PlanName;
use crate::record::{KeyName, KeyRecord};
use crate::scope::Scopes;
use crate::workspace::Workspace;

/// The secret of an imported key, as the team moving to keygate has it.
///
/// | form | the key's token | found by |
/// |---|---|---|
/// | [`Plaintext`](Self::Plaintext) of a key in this service's format (`kg_<id>_<secret>`) | unchanged | its id, as an issued key |
/// | [`Plaintext`](Self::Plaintext) in another format (`sk_live_…`) | unchanged | the SHA-256 of the whole token |
/// | [`Digest`](Self::Digest) (the hex SHA-256 of the whole token, as the old system kept it) | unchanged, in another format | the SHA-256 of the whole token |
///
/// A plaintext is hashed on import and never stored. Keys in another format are found by their
/// digest only when the layer is built with
/// [`imported_keys(true)`](crate::ApiKeyLayerBuilder::imported_keys); otherwise they are
/// `malformed_api_key`, as any token not in this service's format.
#[derive(Clone)]
#[non_exhaustive]
pub enum ImportedSecret {
    /// The key itself (hashed on import, never stored).
    Plaintext(ApiKey),
    /// The SHA-256 of the whole token, of a key in another format.
    Digest(KeyDigest),
}

impl std::fmt::Debug for ImportedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportedSecret::Plaintext(_) => f.write_str("Plaintext(<redacted>)"),
            ImportedSecret::Digest(_) => f.write_str("Digest(<redacted>)"),
        }
    }
}

/// A key issued elsewhere: its secret (or digest), and the name, scopes and workspace it gets.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ImportKey {
    /// The secret or its digest.
    pub secret: ImportedSecret,
    /// The id the key gets: for a key in this service's format it must be the id inside the
    /// key (or `None`); for another format, `None` draws a fresh one.
    pub id: Option<KeyId>,
    /// The workspace (`default` unless set).
    pub workspace: Workspace,
    /// Its name; unique among the workspace's unrevoked keys.
    pub name: KeyName,
    /// Granted scopes (at least one).
    pub scopes: Scopes,
    /// The application's own data about the key.
    pub metadata: Metadata,
    /// Expiry, if any (in the future, within the bounds of [`check_expiry`](super::check_expiry)).
    pub expires_at: Option<SystemTime>,
    /// Its plan, if any (one the store has).
    pub plan: Option<PlanName>,
}

impl ImportKey {
    /// A key to import into the `default` workspace, with empty metadata and no expiry or plan.
    pub fn new(secret: ImportedSecret, name: KeyName, scopes: Scopes) -> Self {
        Self {
            secret,
            id: None,
            workspace: Workspace::default(),
            name,
            scopes,
            metadata: Metadata::empty(),
            expires_at: None,
            plan: None,
        }
    }

    /// Gives the key this id.
    pub fn id(mut self, id: KeyId) -> Self {
        self.id = Some(id);
        self
    }

    /// Puts the key in `workspace`.
    pub fn workspace(mut self, workspace: Workspace) -> Self {
        self.workspace = workspace;
        self
    }

    /// Sets its metadata.
    pub fn metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Sets an expiry.
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Puts it on a plan of the store.
    pub fn plan(mut self, plan: PlanName) -> Self {
        self.plan = Some(plan);
        self
    }

    /// The record a store keeps for the import, created at `now`, checked as
    /// [`NewKey::validate`](super::NewKey::validate) checks a new key: at least one scope, an
    /// expiry in bounds, and an id that matches a key in this service's format (`prefix`).
    /// A token in another format gets [`KeyRecord::legacy_digest`], by which it is found.
    /// Draws an id when none is given (and the format has none).
    pub fn record(&self, prefix: &KeyPrefix, now: SystemTime) -> Result<KeyRecord, StoreError> {
        check_scopes_and_expiry(&self.scopes, self.expires_at, now)?;
        let (id, digest, legacy) = match &self.secret {
            ImportedSecret::Plaintext(plaintext) => {
                let token = plaintext.expose_secret();
                match key::parse(token, prefix) {
                    Ok(parsed) => {
                        if self.id.is_some_and(|id| id != parsed.id()) {
                            return Err(StoreError::Invalid(format!(
                                "the key's own id is {}, not the id given ({})",
                                parsed.id(),
                                self.id.map(|id| id.to_string()).unwrap_or_default()
                            )));
                        }
                        (parsed.id(), parsed.digest(), false)
                    }
                    Err(_) => {
                        check_foreign_token(token, prefix)?;
                        let digest = KeyDigest::of_secret(token.as_bytes());
                        (self.id_or_fresh()?, digest, true)
                    }
                }
            }
            ImportedSecret::Digest(digest) => (self.id_or_fresh()?, *digest, true),
        };
        let record = KeyRecord::new(id, self.name.clone(), digest, self.scopes.clone(), now)
            .with_workspace(self.workspace.clone())
            .with_metadata(self.metadata.clone())
            .with_expiry(self.expires_at)
            .with_legacy_digest(legacy.then_some(digest));
        Ok(record)
    }

    fn id_or_fresh(&self) -> Result<KeyId, StoreError> {
        match self.id {
            Some(id) => Ok(id),
            None => key::generate(&KeyPrefix::default())
                .map(|generated| generated.id)
                .map_err(super::manage::generation_failed),
        }
    }
}

/// The shortest token in another format that may be imported: shorter ones are too easy to
/// guess to be found by their digest alone.
pub const MIN_IMPORTED_TOKEN_LEN: usize = 20;

/// Refuses a token in another format that the layer could never read: shorter than
/// [`MIN_IMPORTED_TOKEN_LEN`], longer than [`MAX_TOKEN_LEN`](crate::extract::MAX_TOKEN_LEN),
/// not a b64token, or starting with this service's prefix (a key of this service whose
/// checksum or layout is wrong: a typo, not another format).
fn check_foreign_token(token: &str, prefix: &KeyPrefix) -> Result<(), StoreError> {
    let invalid = |why: &str| StoreError::Invalid(format!("the key cannot be imported: {why}"));
    if token.len() < MIN_IMPORTED_TOKEN_LEN {
        return Err(invalid(
            "a key in another format must be at least 20 characters",
        ));
    }
    if token.len() > crate::extract::MAX_TOKEN_LEN
        || crate::extract::check_b64token(token.as_bytes()).is_err()
    {
        return Err(invalid(
            "it is not a token an Authorization: Bearer header can carry (RFC 6750 b64token, at most 1024 characters)",
        ));
    }
    if token.starts_with(&format!("{}_", prefix.as_str())) {
        return Err(invalid(
            "it starts with this service's prefix but is not a well-formed key of it (check it was copied whole)",
        ));
    }
    Ok(())
}

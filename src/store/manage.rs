//! [`KeyManager`]: the key lifecycle, as an operator drives it.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use super::{ImportKey, KeyListQuery, KeyPage, StoreError};
use crate::allowlist::IpAllowlist;
use crate::audit::{Actor, AuditPage, AuditQuery};
use crate::key::{self, ApiKey, KeyDigest, KeyId, KeyPrefix};
use crate::limit::Quota;
use crate::metadata::Metadata;
use crate::plan::{Overrides, Plan, PlanName};
use crate::record::{KeyName, KeyRecord, KeyStatus, PreviousSecret};
use crate::scope::Scopes;
use crate::workspace::Workspace;

/// What an operator chooses when creating a key: a workspace, a name, one or more scopes, and
/// optionally metadata, an expiry and a per-key quota.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewKey {
    /// The workspace the key belongs to (`default` unless set).
    pub workspace: Workspace,
    /// Descriptive name; unique among the workspace's unrevoked keys.
    pub name: KeyName,
    /// The application's own data about the key (`{}` unless set).
    pub metadata: Metadata,
    /// Granted scopes (at least one).
    pub scopes: Scopes,
    /// Expiry, if any; must be in the future, at most [`MAX_EXPIRY_AHEAD`] ahead and no
    /// later than [`LATEST_EXPIRY`] (9999-12-31).
    pub expires_at: Option<SystemTime>,
    /// The key's own quota; `None` uses the layer's default. Its interval must be a whole
    /// number of microseconds ([`Quota::is_whole_micros`]).
    pub quota: Option<Quota>,
    /// The plan that limits the key (one the store has: see
    /// [`PlanManager`](crate::PlanManager)); `None` leaves it on its workspace's plan, if any.
    pub plan: Option<PlanName>,
    /// The key's own values for some of its plan's limits (empty: none). The store refuses
    /// them ([`StoreError::Invalid`]) unless they fit the plan the key is on
    /// ([`Overrides::check`]).
    pub overrides: Overrides,
    /// The networks the key may be used from (empty: anywhere).
    pub allowed_ips: IpAllowlist,
}

impl NewKey {
    /// A key in the `default` workspace with a name and scopes, empty metadata, no expiry and
    /// the default quota.
    pub fn new(name: KeyName, scopes: Scopes) -> Self {
        Self {
            workspace: Workspace::default(),
            name,
            metadata: Metadata::empty(),
            scopes,
            expires_at: None,
            quota: None,
            plan: None,
            overrides: Overrides::empty(),
            allowed_ips: IpAllowlist::any(),
        }
    }

    /// Restricts the networks the key may be used from.
    pub fn allowed_ips(mut self, allowed_ips: IpAllowlist) -> Self {
        self.allowed_ips = allowed_ips;
        self
    }

    /// Puts the key in `workspace`.
    pub fn workspace(mut self, workspace: Workspace) -> Self {
        self.workspace = workspace;
        self
    }

    /// Sets the key's metadata.
    pub fn metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
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

    /// Puts the key on a plan of the store.
    pub fn plan(mut self, plan: PlanName) -> Self {
        self.plan = Some(plan);
        self
    }

    /// Gives the key its own values for some of its plan's limits.
    pub fn overrides(mut self, overrides: Overrides) -> Self {
        self.overrides = overrides;
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
        .with_workspace(self.workspace.clone())
        .with_metadata(self.metadata.clone())
        .with_quota(self.quota)
        .with_overrides(self.overrides.clone())
        .with_expiry(self.expires_at)
        .with_allowed_ips(self.allowed_ips.clone())
    }

    /// Checks what a store must refuse: no scope, or an expiry not in the future or beyond
    /// the bound [`check_expiry`] enforces.
    pub fn validate(&self, now: SystemTime) -> Result<(), StoreError> {
        check_scopes_and_expiry(&self.scopes, self.expires_at, now)?;
        check_stored_quota(self.quota)
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

/// The furthest ahead an expiry may be set: 100 years (of 365.25 days).
pub const MAX_EXPIRY_AHEAD: Duration = Duration::from_secs(36_525 * 86_400);

/// The latest expiry any key may have, as a time after the Unix epoch:
/// `9999-12-31T23:59:59Z`, the last second RFC 3339 can write.
pub const LATEST_EXPIRY: Duration = Duration::from_secs(253_402_300_799);

/// Checks an expiry the way every store does: in the future, at most [`MAX_EXPIRY_AHEAD`]
/// after `now`, and no later than [`LATEST_EXPIRY`]. The error says which bound it broke.
pub fn check_expiry(at: SystemTime, now: SystemTime) -> Result<(), &'static str> {
    if at <= now {
        return Err("the expiry must be in the future");
    }
    let too_far = now
        .checked_add(MAX_EXPIRY_AHEAD)
        .is_none_or(|bound| at > bound);
    if too_far || at > UNIX_EPOCH + LATEST_EXPIRY {
        return Err("the expiry must be at most 100 years ahead (and no later than 9999-12-31)");
    }
    Ok(())
}

/// Refuses a quota the stores could not keep exactly: they keep intervals in whole
/// microseconds, and rounding would change the rate without a word.
fn check_stored_quota(quota: Option<Quota>) -> Result<(), StoreError> {
    match quota {
        Some(q) if !q.is_whole_micros() => Err(StoreError::Invalid(format!(
            "a key's quota interval must be a whole number of microseconds ({:?} is not): \
             key stores keep it in microseconds and would change the rate",
            q.interval()
        ))),
        _ => Ok(()),
    }
}

/// Refuses what every new key (created or imported) must not have: no scope, or an expiry not
/// in the future or beyond the bound [`check_expiry`] enforces.
pub(crate) fn check_scopes_and_expiry(
    scopes: &Scopes,
    expires_at: Option<SystemTime>,
    now: SystemTime,
) -> Result<(), StoreError> {
    if scopes.is_empty() {
        return Err(no_scope());
    }
    if let Some(at) = expires_at {
        check_expiry(at, now).map_err(|why| StoreError::Invalid(why.into()))?;
    }
    Ok(())
}

fn no_scope() -> StoreError {
    StoreError::Invalid("a key needs at least one scope (read:all, write:all or admin)".into())
}

/// Refuses `overrides` that do not fit `plan`, the plan (as resolved) the key is on:
/// [`StoreError::Invalid`], saying why.
pub(crate) fn check_overrides(
    overrides: &Overrides,
    plan: Option<&Plan>,
) -> Result<(), StoreError> {
    overrides
        .check(plan)
        .map_err(|why| StoreError::Invalid(format!("invalid limit overrides: {why}")))
}

/// The error of a store whose OS random number generator failed.
pub(crate) fn generation_failed(e: getrandom::Error) -> StoreError {
    StoreError::Unavailable(format!("the OS random number generator failed: {e}").into())
}

/// A change to a key's name, metadata, scopes, quota or expiry. Fields left `None` (or empty)
/// are kept. A key's workspace never changes.
///
/// Scopes change in three steps, applied by the store to the key's *current* scopes inside
/// its own lock or transaction: replaced by `scopes` if given, then `add_scopes` added, then
/// `remove_scopes` removed. Two operators editing one key at once therefore never undo each
/// other's additions or removals; a result without any scope is refused and changes nothing.
///
/// ```
/// use keygate::{KeyManager, KeyUpdate, MemoryKeyStore, NewKey, Scope, Scopes, Workspace};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryKeyStore::new();
/// let id = store
///     .create(NewKey::new("ci".parse().unwrap(), "read:all,admin".parse().unwrap()))
///     .await
///     .unwrap()
///     .info
///     .id;
/// let edit = KeyUpdate::new()
///     .add_scopes(Scopes::new([Scope::WriteAll]))
///     .remove_scopes(Scopes::new([Scope::Admin]));
/// let info = store.update(&Workspace::default(), &id, edit).await.unwrap();
/// assert_eq!(info.scopes.to_string(), "read:all,write:all");
/// # });
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct KeyUpdate {
    /// New name.
    pub name: Option<KeyName>,
    /// New metadata (replacing the old object whole).
    pub metadata: Option<Metadata>,
    /// New scopes (replacing the old set, before `add_scopes` and `remove_scopes` apply).
    pub scopes: Option<Scopes>,
    /// Scopes to add to the key's current set.
    pub add_scopes: Scopes,
    /// Scopes to remove from the key's current set (after `add_scopes`).
    pub remove_scopes: Scopes,
    /// New quota (`Some(None)` returns the key to the default quota).
    pub quota: Option<Option<Quota>>,
    /// New expiry (`Some(None)` removes it).
    pub expires_at: Option<Option<SystemTime>>,
    /// Another plan (`Some(None)`: none of its own, so its workspace's plan, if any). Stores
    /// resolve it; [`KeyUpdate::apply`] leaves the record's plan as it is.
    ///
    /// The key's overrides are kept as stored when it moves: each applies where it fits the
    /// new plan and is skipped where it does not (see [`Overrides`]).
    pub plan: Option<Option<PlanName>>,
    /// New overrides of the plan's limit values, replacing the old ones whole
    /// (`Some(Overrides::empty())` clears them). Refused unless they fit the plan the key is
    /// on after the update ([`Overrides::check`]).
    pub overrides: Option<Overrides>,
    /// New networks the key may be used from, replacing the old list whole
    /// (`Some(IpAllowlist::any())`: anywhere).
    pub allowed_ips: Option<IpAllowlist>,
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

    /// Replaces the key's metadata.
    pub fn metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Replaces the key's scopes.
    pub fn scopes(mut self, scopes: Scopes) -> Self {
        self.scopes = Some(scopes);
        self
    }

    /// Adds scopes to the key's current set.
    pub fn add_scopes(mut self, scopes: Scopes) -> Self {
        self.add_scopes = scopes;
        self
    }

    /// Removes scopes from the key's current set.
    pub fn remove_scopes(mut self, scopes: Scopes) -> Self {
        self.remove_scopes = scopes;
        self
    }

    /// Whether the update gives the key another name than `current` (stores then check the
    /// name is free in the key's workspace).
    pub fn renames(&self, current: &KeyName) -> bool {
        self.name.as_ref().is_some_and(|name| name != current)
    }

    /// Whether the update changes the key's scopes at all.
    pub fn touches_scopes(&self) -> bool {
        self.scopes.is_some() || !self.add_scopes.is_empty() || !self.remove_scopes.is_empty()
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

    /// Moves the key to another plan (`None`: to its workspace's plan, if any).
    pub fn plan(mut self, plan: Option<PlanName>) -> Self {
        self.plan = Some(plan);
        self
    }

    /// Replaces the key's overrides of its plan's limit values (empty: clears them).
    pub fn overrides(mut self, overrides: Overrides) -> Self {
        self.overrides = Some(overrides);
        self
    }

    /// Replaces the networks the key may be used from.
    pub fn allowed_ips(mut self, allowed_ips: IpAllowlist) -> Self {
        self.allowed_ips = Some(allowed_ips);
        self
    }

    /// Whether the update may change the plan that limits the key (another plan, or other
    /// overrides): stores then resolve it again.
    pub fn touches_plan(&self) -> bool {
        self.plan.is_some() || self.overrides.is_some()
    }

    /// Applies the update to a record, refusing what [`NewKey::validate`] refuses and any change
    /// to a revoked key. New overrides are set, but neither checked nor applied to the
    /// record's plan: the store does both once it knows the plan the key is on.
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
        if let Some(metadata) = &self.metadata {
            next.metadata = metadata.clone();
        }
        if self.touches_scopes() {
            let mut scopes = self.scopes.clone().unwrap_or_else(|| record.scopes.clone());
            for scope in self.add_scopes.iter() {
                scopes.insert(scope.clone());
            }
            for scope in self.remove_scopes.iter() {
                scopes.remove(scope);
            }
            if scopes.is_empty() {
                return Err(no_scope());
            }
            next.scopes = scopes;
        }
        if let Some(quota) = self.quota {
            check_stored_quota(quota)?;
            next.quota = quota;
        }
        if let Some(expires_at) = self.expires_at {
            if let Some(at) = expires_at {
                check_expiry(at, now).map_err(|why| StoreError::Invalid(why.into()))?;
            }
            next.expires_at = expires_at;
        }
        if let Some(overrides) = &self.overrides {
            next.overrides = overrides.clone();
        }
        if let Some(allowed_ips) = &self.allowed_ips {
            next.allowed_ips = allowed_ips.clone();
        }
        Ok(next)
    }
}

/// `record` revoked at `now`, or as it was if already revoked (revocation is recorded once).
pub(crate) fn revoked(record: &KeyRecord, now: SystemTime) -> KeyRecord {
    let at = record.revoked_at.unwrap_or(now);
    record.clone().with_revoked_at(Some(at))
}

/// `record` disabled at `now`, or as it was if already disabled. A revoked key cannot be
/// disabled.
pub(crate) fn disabled(record: &KeyRecord, now: SystemTime) -> Result<KeyRecord, StoreError> {
    refuse_revoked(record, "disabled")?;
    let at = record.disabled_at.unwrap_or(now);
    Ok(record.clone().with_disabled_at(Some(at)))
}

/// `record` enabled, as it was if not disabled. A revoked key cannot be enabled.
pub(crate) fn enabled(record: &KeyRecord) -> Result<KeyRecord, StoreError> {
    refuse_revoked(record, "enabled")?;
    Ok(record.clone().with_disabled_at(None))
}

fn refuse_revoked(record: &KeyRecord, what: &str) -> Result<(), StoreError> {
    match record.revoked_at {
        Some(_) => Err(StoreError::Conflict(format!(
            "key {} is revoked and cannot be {what}",
            record.id
        ))),
        None => Ok(()),
    }
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

/// What a listing shows of a key: its [`KeyRecord`] without the digests of its current and
/// previous secrets (of the previous one, only when it stops working). Built from the record
/// with `From`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyInfo {
    /// Public id.
    pub id: KeyId,
    /// The workspace the key belongs to.
    pub workspace: Workspace,
    /// Descriptive name.
    pub name: KeyName,
    /// The application's own data about the key.
    pub metadata: Metadata,
    /// Granted scopes.
    pub scopes: Scopes,
    /// The key's own quota, if any.
    pub quota: Option<Quota>,
    /// The name of the plan that limits the key, if any.
    pub plan: Option<PlanName>,
    /// The key's own values for some of its plan's limits, as the operator set them.
    pub overrides: Overrides,
    /// Creation time.
    pub created_at: SystemTime,
    /// Expiry, if any.
    pub expires_at: Option<SystemTime>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<SystemTime>,
    /// Since when the key is disabled, if it is.
    pub disabled_at: Option<SystemTime>,
    /// The networks the key may be used from (empty: anywhere).
    pub allowed_ips: IpAllowlist,
    /// Last recorded use.
    pub last_used_at: Option<SystemTime>,
    /// While a rotation's grace period lasts: when the previous secret stops working.
    pub previous_secret_valid_until: Option<SystemTime>,
}

impl KeyInfo {
    /// The key's status at `now`.
    pub fn status_at(&self, now: SystemTime) -> KeyStatus {
        KeyStatus::of(self.revoked_at, self.disabled_at, self.expires_at, now)
    }
}

/// The record without its secrets. Every field of the record is named here, so a field added
/// to [`KeyRecord`] does not compile until it is shown in listings or left out on purpose.
impl From<&KeyRecord> for KeyInfo {
    fn from(record: &KeyRecord) -> Self {
        let KeyRecord {
            id,
            workspace,
            name,
            metadata,
            digest: _,
            previous,
            scopes,
            quota,
            plan,
            overrides,
            created_at,
            expires_at,
            revoked_at,
            disabled_at,
            legacy_digest: _,
            allowed_ips,
            last_used_at,
        } = record;
        Self {
            id: *id,
            workspace: workspace.clone(),
            name: name.clone(),
            metadata: metadata.clone(),
            scopes: scopes.clone(),
            quota: *quota,
            plan: plan.as_ref().map(|p| p.name().clone()),
            overrides: overrides.clone(),
            created_at: *created_at,
            expires_at: *expires_at,
            revoked_at: *revoked_at,
            disabled_at: *disabled_at,
            allowed_ips: allowed_ips.clone(),
            last_used_at: *last_used_at,
            previous_secret_valid_until: previous.map(|p| p.valid_until),
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
/// name, metadata, scopes, quota or expiry, revoke, and rotate with a grace period.
///
/// Every call but `create` acts within one [`Workspace`]: a key of another workspace is
/// [`StoreError::NotFound`], exactly as an id no key has, and is never changed. (`create`
/// puts the key in [`NewKey::workspace`].) Key names are unique among a workspace's unrevoked
/// keys: creating or renaming to a taken name is [`StoreError::NameTaken`].
///
/// Object-safe, so an admin API can hold an `Arc<dyn KeyManager>`.
///
/// ```
/// use keygate::{KeyManager, MemoryKeyStore, NewKey, StoreError, Workspace};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryKeyStore::new();
/// let acme: Workspace = "acme".parse().unwrap();
/// let globex: Workspace = "globex".parse().unwrap();
/// let new = |ws: &Workspace| {
///     NewKey::new("ci".parse().unwrap(), "read:all".parse().unwrap()).workspace(ws.clone())
/// };
/// let id = store.create(new(&acme)).await.unwrap().info.id;
/// // The same name in another workspace is fine; twice in one is not.
/// store.create(new(&globex)).await.unwrap();
/// assert!(matches!(store.create(new(&acme)).await, Err(StoreError::NameTaken { .. })));
/// // globex cannot see or touch acme's key.
/// assert!(matches!(store.revoke(&globex, &id).await, Err(StoreError::NotFound(_))));
/// assert_eq!(store.list(&acme).await.unwrap().len(), 1);
/// assert!(store.info(&acme, &id).await.unwrap().revoked_at.is_none());
/// # });
/// ```
#[async_trait]
pub trait KeyManager: Send + Sync {
    /// Creates a key in `new.workspace` and returns its plaintext, once; `actor` is recorded
    /// in the [audit log](crate::audit).
    async fn create_by(&self, actor: &Actor, new: NewKey) -> Result<CreatedKey, StoreError>;

    /// One key of `workspace`, without its secret.
    async fn info(&self, workspace: &Workspace, id: &KeyId) -> Result<KeyInfo, StoreError>;

    /// Every key of `workspace`, revoked ones included, without secrets; oldest first.
    async fn list(&self, workspace: &Workspace) -> Result<Vec<KeyInfo>, StoreError>;

    /// Changes the name, metadata, scopes, quota or expiry of a key of `workspace`; `actor` is
    /// recorded in the audit log (unless nothing changed).
    async fn update_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
        update: KeyUpdate,
    ) -> Result<KeyInfo, StoreError>;

    /// Revokes a key of `workspace`: from now on it is refused with `revoked_api_key`.
    /// Revoking a revoked key changes nothing (and records nothing); otherwise `actor` is
    /// recorded in the audit log.
    async fn revoke_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError>;

    /// Gives a key of `workspace` a new secret and returns the new plaintext, once. The old
    /// secret keeps working for `grace` (not at all if `grace` is zero). `actor` is recorded
    /// in the audit log.
    async fn rotate_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
        grace: Duration,
    ) -> Result<CreatedKey, StoreError>;

    /// A page of `workspace`'s audit log, newest first (see [`AuditQuery`]). Another
    /// workspace's events are never read.
    async fn audit(
        &self,
        workspace: &Workspace,
        query: &AuditQuery,
    ) -> Result<AuditPage, StoreError>;

    /// A page of `workspace`'s keys, oldest first (by creation time, then id), filtered and
    /// bounded as `query` says (see [`KeyListQuery`]). A bad query (a name prefix too long)
    /// is [`StoreError::Invalid`].
    async fn list_page(
        &self,
        workspace: &Workspace,
        query: &KeyListQuery,
    ) -> Result<KeyPage, StoreError>;

    /// Disables a key of `workspace`: refused with `disabled_api_key` until enabled again.
    /// Disabling a disabled key changes nothing (and records nothing); a revoked key cannot
    /// be disabled ([`StoreError::Conflict`]).
    async fn disable_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError>;

    /// Enables a disabled key of `workspace` again. Enabling an enabled key changes nothing
    /// (and records nothing); a revoked key cannot be enabled ([`StoreError::Conflict`]).
    async fn enable_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError>;

    /// Deletes a key of `workspace` and returns it as it was: its record is removed (from
    /// then on it is an unknown id, `invalid_api_key`), its name is free, its id is never
    /// used again (creating or importing it is [`StoreError::Conflict`]), and its audit
    /// events stay, with one more for the deletion.
    async fn delete_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError>;

    /// Imports a key issued elsewhere (see [`ImportKey`]): it authenticates exactly like an
    /// issued one from then on. Refused like [`create`](Self::create) (a taken name, no
    /// scope, a bad expiry, an unknown plan), and with [`StoreError::Conflict`] for an id a
    /// key has or had, or a secret another key has.
    async fn import_by(&self, actor: &Actor, import: ImportKey) -> Result<KeyInfo, StoreError>;

    /// [`create_by`](Self::create_by) the default [`Actor`] (the service).
    async fn create(&self, new: NewKey) -> Result<CreatedKey, StoreError> {
        self.create_by(&Actor::default(), new).await
    }

    /// [`update_by`](Self::update_by) the default [`Actor`] (the service).
    async fn update(
        &self,
        workspace: &Workspace,
        id: &KeyId,
        update: KeyUpdate,
    ) -> Result<KeyInfo, StoreError> {
        self.update_by(&Actor::default(), workspace, id, update)
            .await
    }

    /// [`revoke_by`](Self::revoke_by) the default [`Actor`] (the service).
    async fn revoke(&self, workspace: &Workspace, id: &KeyId) -> Result<KeyInfo, StoreError> {
        self.revoke_by(&Actor::default(), workspace, id).await
    }

    /// [`rotate_by`](Self::rotate_by) the default [`Actor`] (the service).
    async fn rotate(
        &self,
        workspace: &Workspace,
        id: &KeyId,
        grace: Duration,
    ) -> Result<CreatedKey, StoreError> {
        self.rotate_by(&Actor::default(), workspace, id, grace)
            .await
    }

    /// [`disable_by`](Self::disable_by) the default [`Actor`] (the service).
    async fn disable(&self, workspace: &Workspace, id: &KeyId) -> Result<KeyInfo, StoreError> {
        self.disable_by(&Actor::default(), workspace, id).await
    }

    /// [`enable_by`](Self::enable_by) the default [`Actor`] (the service).
    async fn enable(&self, workspace: &Workspace, id: &KeyId) -> Result<KeyInfo, StoreError> {
        self.enable_by(&Actor::default(), workspace, id).await
    }

    /// [`delete_by`](Self::delete_by) the default [`Actor`] (the service).
    async fn delete(&self, workspace: &Workspace, id: &KeyId) -> Result<KeyInfo, StoreError> {
        self.delete_by(&Actor::default(), workspace, id).await
    }

    /// [`import_by`](Self::import_by) the default [`Actor`] (the service).
    async fn import(&self, import: ImportKey) -> Result<KeyInfo, StoreError> {
        self.import_by(&Actor::default(), import).await
    }
}

#[async_trait]
impl<M: KeyManager + ?Sized> KeyManager for Arc<M> {
    async fn create_by(&self, actor: &Actor, new: NewKey) -> Result<CreatedKey, StoreError> {
        (**self).create_by(actor, new).await
    }
    async fn info(&self, workspace: &Workspace, id: &KeyId) -> Result<KeyInfo, StoreError> {
        (**self).info(workspace, id).await
    }
    async fn list(&self, workspace: &Workspace) -> Result<Vec<KeyInfo>, StoreError> {
        (**self).list(workspace).await
    }
    async fn update_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
        update: KeyUpdate,
    ) -> Result<KeyInfo, StoreError> {
        (**self).update_by(actor, workspace, id, update).await
    }
    async fn revoke_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError> {
        (**self).revoke_by(actor, workspace, id).await
    }
    async fn rotate_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
        grace: Duration,
    ) -> Result<CreatedKey, StoreError> {
        (**self).rotate_by(actor, workspace, id, grace).await
    }
    async fn audit(
        &self,
        workspace: &Workspace,
        query: &AuditQuery,
    ) -> Result<AuditPage, StoreError> {
        (**self).audit(workspace, query).await
    }
    async fn list_page(
        &self,
        workspace: &Workspace,
        query: &KeyListQuery,
    ) -> Result<KeyPage, StoreError> {
        (**self).list_page(workspace, query).await
    }
    async fn disable_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError> {
        (**self).disable_by(actor, workspace, id).await
    }
    async fn enable_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError> {
        (**self).enable_by(actor, workspace, id).await
    }
    async fn delete_by(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        id: &KeyId,
    ) -> Result<KeyInfo, StoreError> {
        (**self).delete_by(actor, workspace, id).await
    }
    async fn import_by(&self, actor: &Actor, import: ImportKey) -> Result<KeyInfo, StoreError> {
        (**self).import_by(actor, import).await
    }
}

/// The error for a name already used by an unrevoked key of `workspace`.
pub(crate) fn name_taken(workspace: &Workspace, name: &KeyName) -> StoreError {
    StoreError::NameTaken {
        workspace: workspace.clone(),
        name: name.clone(),
    }
}

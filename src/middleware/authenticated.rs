//! [`AuthenticatedKey`]: what the layer puts into the request extensions on success.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use crate::key::KeyId;
use crate::limit::Quota;
use crate::metadata::Metadata;
use crate::plan::Plan;
use crate::record::{KeyName, KeyRecord};
use crate::scope::{Scope, Scopes};
use crate::workspace::Workspace;

/// The key a request was authenticated with: id, workspace, name, metadata, scopes and quota,
/// never the secret.
///
/// The layer inserts it into the request extensions; handlers read it from there (in axum:
/// `Extension<AuthenticatedKey>`). Everything here comes from the record the layer already
/// looked up: reading it costs no store round trip.
#[derive(Clone)]
pub struct AuthenticatedKey {
    record: Arc<KeyRecord>,
    quota: Option<Quota>,
}

impl AuthenticatedKey {
    pub(crate) fn new(record: Arc<KeyRecord>, quota: Option<Quota>) -> Self {
        Self { record, quota }
    }

    /// The record, shared.
    pub(crate) fn record(&self) -> &Arc<KeyRecord> {
        &self.record
    }

    /// The key's public id.
    pub fn id(&self) -> KeyId {
        self.record.id
    }

    /// The workspace (customer) the key belongs to. Filter the handler's data by it.
    pub fn workspace(&self) -> &Workspace {
        &self.record.workspace
    }

    /// The key's name (`production-backend`), for audit and logs.
    pub fn name(&self) -> &KeyName {
        &self.record.name
    }

    /// The key's metadata: the application's own JSON object, as stored with the key.
    pub fn metadata(&self) -> &Metadata {
        &self.record.metadata
    }

    /// The key's scopes.
    pub fn scopes(&self) -> &Scopes {
        &self.record.scopes
    }

    /// Whether the key's scopes grant `scope` (`admin` grants everything).
    pub fn grants(&self, scope: &Scope) -> bool {
        self.record.scopes.grants(scope)
    }

    /// The quota applied to this request (the key's own, or the layer's default); `None`
    /// for a key under a [plan](Self::plan), whose limits applied instead.
    pub fn quota(&self) -> Option<Quota> {
        self.quota
    }

    /// The plan whose limits applied to this request (the key's own, or its workspace's), if
    /// any.
    pub fn plan(&self) -> Option<&Plan> {
        self.record.plan.as_ref()
    }

    /// The key's expiry, if any.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.record.expires_at
    }
}

impl fmt::Debug for AuthenticatedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatedKey")
            .field("id", &self.record.id)
            .field("workspace", &self.record.workspace)
            .field("name", &self.record.name)
            .field("scopes", &self.record.scopes)
            .field("quota", &self.quota)
            .finish()
    }
}

//! [`Triage`]: each reported token labelled, and each live key it proves acted on once.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use crate::audit::Actor;
use crate::clock::Clock;
use crate::key::{self, KeyPrefix};
use crate::middleware::proves_secret;
use crate::record::KeyRecord;
use crate::store::{KeyManager, KeyStore, StoreError};

use super::{Label, LeakAction, LeakNotice, LeakNotifier, ReportedToken, TokenLabel};

/// What the router does with a verified, parsed report.
pub(super) struct Triage<K> {
    pub(super) lookup: K,
    pub(super) manager: Arc<dyn KeyManager>,
    pub(super) prefix: KeyPrefix,
    pub(super) action: LeakAction,
    pub(super) notifier: Option<Arc<dyn LeakNotifier>>,
    pub(super) reporter: String,
    pub(super) clock: Arc<dyn Clock>,
}

impl<K: KeyStore> Triage<K> {
    /// The label of every token of `report`, in its order. A token repeated in the report is
    /// looked at once. A store failure fails the whole report: the keys acted on so far stay
    /// so, and the report retried is answered the same.
    pub(super) async fn labels(
        &self,
        report: &[ReportedToken],
    ) -> Result<Vec<TokenLabel>, StoreError> {
        let mut seen: HashMap<&str, Label> = HashMap::new();
        let mut labels = Vec::with_capacity(report.len());
        for reported in report {
            let label = match seen.get(reported.token.as_str()) {
                Some(label) => *label,
                None => {
                    let label = self.label(reported).await?;
                    seen.insert(&reported.token, label);
                    label
                }
            };
            labels.push(TokenLabel::of(reported, label));
        }
        Ok(labels)
    }

    /// One token's label. Another format or a bad checksum costs no lookup; an unknown id and
    /// a wrong secret are the same `false_positive`.
    async fn label(&self, reported: &ReportedToken) -> Result<Label, StoreError> {
        let Ok(parsed) = key::parse(&reported.token, &self.prefix) else {
            return Ok(Label::FalsePositive);
        };
        let record = self.lookup.get(&parsed.id()).await?;
        let proven = proves_secret(record.as_deref(), &parsed.digest(), &*self.clock);
        match record {
            Some(record) if proven => self.act(&record, reported).await,
            _ => Ok(Label::FalsePositive),
        }
    }

    /// Revokes or disables the key of `record`, unless it already is (or is revoked), and
    /// tells the notifier when it did.
    async fn act(&self, record: &KeyRecord, reported: &ReportedToken) -> Result<Label, StoreError> {
        let settled = match self.action {
            LeakAction::Revoke => record.revoked_at.is_some(),
            LeakAction::Disable => record.revoked_at.is_some() || record.disabled_at.is_some(),
        };
        if settled {
            return Ok(Label::TruePositive);
        }
        let source = match reported.source.as_str() {
            "" => "unknown",
            source => source,
        };
        let actor = Actor::leak_report(&format!("{}:{source}", self.reporter), &reported.url);
        let (workspace, id) = (&record.workspace, &record.id);
        let done = match self.action {
            LeakAction::Revoke => self.manager.revoke_by(&actor, workspace, id).await,
            LeakAction::Disable => self.manager.disable_by(&actor, workspace, id).await,
        };
        match done {
            Ok(_) => {
                tracing::warn!(
                    key_id = %id, workspace = %workspace, action = %self.action, url = %reported.url,
                    "keygate leaks: a reported key was acted on"
                );
                self.notify(record, reported);
                Ok(Label::TruePositive)
            }
            // Revoked meanwhile (a key cannot be disabled once revoked): settled.
            Err(StoreError::Conflict(_)) => Ok(Label::TruePositive),
            // Deleted meanwhile: an unknown id from now on, as a retry would find it.
            Err(StoreError::NotFound(_)) => Ok(Label::FalsePositive),
            Err(error) => Err(error),
        }
    }

    fn notify(&self, record: &KeyRecord, reported: &ReportedToken) {
        let Some(notifier) = &self.notifier else {
            return;
        };
        let notice = LeakNotice {
            key_id: record.id,
            name: record.name.clone(),
            workspace: record.workspace.clone(),
            action: self.action,
            url: reported.url.clone(),
            source: reported.source.clone(),
            token_type: reported.token_type.clone(),
        };
        if catch_unwind(AssertUnwindSafe(|| notifier.notify(&notice))).is_err() {
            tracing::error!(key_id = %record.id, "keygate leaks: the leak notifier panicked");
        }
    }
}

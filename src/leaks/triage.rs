//! [`Triage`]: each reported token labelled, and each live key it proves acted on once.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::SystemTime;

use crate::audit::Actor;
use crate::clock::Clock;
use crate::key::{self, KeyDigest, KeyPrefix};
use crate::record::KeyRecord;
use crate::store::{KeyManager, KeyStore, StoreError};

use super::{Label, LeakAction, LeakNotice, LeakNotifier, ReportedToken, TokenLabel};

/// Compared against when the id is unknown or the key has no usable previous secret, so that
/// an unknown id and a wrong secret cost the same work.
const DUMMY: KeyDigest = KeyDigest::from_bytes([0x5A; 32]);

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
        let proven = proves_secret(record.as_deref(), &parsed.digest(), self.clock.now());
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

/// Whether `presented` (the digest of a token's secret) is the secret of `record`: its
/// current one, or its previous one while that still works at `now`. Both are always compared,
/// in constant time, against a dummy where there is nothing to compare with.
fn proves_secret(record: Option<&KeyRecord>, presented: &KeyDigest, now: SystemTime) -> bool {
    let current = record.map_or(&DUMMY, |r| &r.digest);
    let previous = record
        .and_then(|r| r.previous.as_ref())
        .filter(|p| now < p.valid_until)
        .map(|p| &p.digest);
    let current_ok = presented.ct_eq(current);
    let previous_ok = presented.ct_eq(previous.unwrap_or(&DUMMY));
    record.is_some() & (current_ok | (previous_ok & previous.is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KeyId;
    use crate::record::PreviousSecret;
    use crate::scope::Scopes;
    use std::time::Duration;

    const RIGHT: KeyDigest = KeyDigest::from_bytes([1; 32]);
    const OLD: KeyDigest = KeyDigest::from_bytes([2; 32]);

    fn record(now: SystemTime) -> KeyRecord {
        KeyRecord::new(
            KeyId::new("AAAAAAAAAAAA").unwrap(),
            "k".parse().unwrap(),
            RIGHT,
            Scopes::empty(),
            now,
        )
    }

    #[test]
    fn the_current_secret_proves_the_key() {
        let now = SystemTime::now();
        assert!(proves_secret(Some(&record(now)), &RIGHT, now));
    }

    #[test]
    fn an_unknown_id_or_another_secret_proves_nothing() {
        let now = SystemTime::now();
        assert!(!proves_secret(None, &RIGHT, now));
        assert!(!proves_secret(Some(&record(now)), &OLD, now));
        assert!(!proves_secret(Some(&record(now)), &DUMMY, now));
    }

    #[test]
    fn a_previous_secret_proves_the_key_only_while_it_works() {
        let now = SystemTime::now();
        let rotated = record(now).with_previous(Some(PreviousSecret {
            digest: OLD,
            valid_until: now + Duration::from_secs(60),
        }));
        assert!(proves_secret(Some(&rotated), &OLD, now));
        assert!(!proves_secret(
            Some(&rotated),
            &OLD,
            now + Duration::from_secs(60)
        ));
    }
}

//! [`LeakNotifier`]: the hook told of every key a report made the router act on, so the
//! application can tell the key's owner.

use crate::key::KeyId;
use crate::record::KeyName;
use crate::workspace::Workspace;

use super::LeakAction;

/// What happened to one key, for the [`LeakNotifier`]: the key, the action taken and where
/// the key was found. Never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeakNotice {
    /// The key's id.
    pub key_id: KeyId,
    /// The key's name.
    pub name: KeyName,
    /// The key's workspace (whose owner to tell).
    pub workspace: Workspace,
    /// What was done to the key.
    pub action: LeakAction,
    /// Where the key was found (the report's `url`, may be empty).
    pub url: String,
    /// What kind of place it was found in (the report's `source`).
    pub source: String,
    /// The report's `type`: the name the token format is registered under.
    pub token_type: String,
}

/// Told of every key a report made the router revoke or disable, once per key: a replayed
/// report, or a key already revoked or disabled, is not told again (two reports of one key
/// handled at the same instant may each tell it).
///
/// Called on the request's task after the store has made the change, before the answer is
/// sent: it must not block. Hand the notice to a queue, or spawn the work (an email, a
/// webhook) on the runtime. A panic is caught and logged; the change stands.
///
/// Closures `Fn(&LeakNotice)` are notifiers:
///
/// ```
/// use keygate::leaks::{LeakConfig, LeakNotice, PublicKeys, ReportVerifier};
///
/// let (tx, _rx) = std::sync::mpsc::channel::<LeakNotice>();
/// let tx = std::sync::Mutex::new(tx);
/// let config = LeakConfig::new(ReportVerifier::new(PublicKeys::new()))
///     .notifier(move |notice: &LeakNotice| {
///         let _ = tx.lock().unwrap().send(notice.clone());
///     });
/// # let _ = config;
/// ```
pub trait LeakNotifier: Send + Sync + 'static {
    /// `notice`'s key was just acted on.
    fn notify(&self, notice: &LeakNotice);
}

impl<F> LeakNotifier for F
where
    F: Fn(&LeakNotice) + Send + Sync + 'static,
{
    fn notify(&self, notice: &LeakNotice) {
        self(notice)
    }
}

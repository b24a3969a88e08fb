//! [`LeakConfig`]: how the leak-report router checks, bounds and acts on reports.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};

use super::{LeakAction, LeakNotifier, ReportVerifier};

/// The largest report body read by default (2 MiB); a larger one is 413.
pub const DEFAULT_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The most tokens one report may carry by default; more is 413 `too_many_tokens`.
pub const DEFAULT_MAX_TOKENS: usize = 10_000;

/// How long a report may take by default before the router gives up with 503 (GitHub waits
/// up to 30 seconds, and retries).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(20);

/// The reporter's name by default, the first half of the audit actor's source
/// (`github:content`).
pub const DEFAULT_REPORTER: &str = "github";

/// How the [router](super::router) checks, bounds and acts on reports.
///
/// | setting | default |
/// |---|---|
/// | [`ReportVerifier`] (the public keys) | required |
/// | [`action`](Self::action) | [`LeakAction::Revoke`] |
/// | [`notifier`](Self::notifier) | none |
/// | [`max_body_bytes`](Self::max_body_bytes) | [`DEFAULT_MAX_BODY_BYTES`] (2 MiB) |
/// | [`max_tokens`](Self::max_tokens) | [`DEFAULT_MAX_TOKENS`] (10,000) |
/// | [`deadline`](Self::deadline) | [`DEFAULT_DEADLINE`] (20 s) |
/// | [`reporter`](Self::reporter) | `github` |
/// | [`clock`](Self::clock) | the system clock |
#[derive(Clone)]
pub struct LeakConfig {
    pub(super) verifier: ReportVerifier,
    pub(super) action: LeakAction,
    pub(super) notifier: Option<Arc<dyn LeakNotifier>>,
    pub(super) max_body_bytes: usize,
    pub(super) max_tokens: usize,
    pub(super) deadline: Duration,
    pub(super) reporter: String,
    pub(super) clock: Arc<dyn Clock>,
}

impl LeakConfig {
    /// Reports checked by `verifier`, every other setting at its default.
    pub fn new(verifier: ReportVerifier) -> Self {
        Self {
            verifier,
            action: LeakAction::default(),
            notifier: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_tokens: DEFAULT_MAX_TOKENS,
            deadline: DEFAULT_DEADLINE,
            reporter: DEFAULT_REPORTER.to_owned(),
            clock: Arc::new(SystemClock::new()),
        }
    }

    /// What is done to a reported live key.
    pub fn action(mut self, action: LeakAction) -> Self {
        self.action = action;
        self
    }

    /// Told of every key acted on.
    pub fn notifier(mut self, notifier: impl LeakNotifier) -> Self {
        self.notifier = Some(Arc::new(notifier));
        self
    }

    /// The largest body read (at least 2 bytes, `[]`); a larger one is 413
    /// `request_too_large`.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes.max(2);
        self
    }

    /// The most tokens one report may carry (at least 1); more is 413 `too_many_tokens`, and
    /// nothing is done.
    pub fn max_tokens(mut self, tokens: usize) -> Self {
        self.max_tokens = tokens.max(1);
        self
    }

    /// How long one report may take; past it the answer is 503 `store_unavailable` (the
    /// keys acted on so far stay so, and the retried report is answered the same).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Who reports: the audit actor's source is `<reporter>:<source>` (made printable, at
    /// most 64 characters).
    pub fn reporter(mut self, reporter: &str) -> Self {
        self.reporter = reporter.to_owned();
        self
    }

    /// The clock that tells whether a rotated key's previous secret still works (the store's
    /// clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The verifier, whose keys can be replaced while the router serves.
    pub fn verifier(&self) -> &ReportVerifier {
        &self.verifier
    }
}

impl fmt::Debug for LeakConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeakConfig")
            .field("verifier", &self.verifier)
            .field("action", &self.action)
            .field("notifier", &self.notifier.is_some())
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_tokens", &self.max_tokens)
            .field("deadline", &self.deadline)
            .field("reporter", &self.reporter)
            .finish_non_exhaustive()
    }
}

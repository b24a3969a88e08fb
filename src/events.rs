//! Verification events: what the layer decided for each request, for an application's own
//! analytics, billing or audit trail.
//!
//! Set a hook with [`ApiKeyLayerBuilder::on_decision`](crate::ApiKeyLayerBuilder::on_decision):
//! for every request the layer decides, allowed or refused, it is called once with a
//! [`DecisionEvent`], synchronously, right after the decision and before the inner service
//! runs (or the rejection is sent). The event borrows from the request's state: copy out what
//! you keep.
//!
//! The hook cannot block or fail the request. A hook that panics is caught: the request goes
//! on unchanged and the first panic is logged (`tracing`, level `error`). Keep it short, and
//! hand slow work (a database write, an HTTP call) to a channel or a task.
//!
//! An event never holds the secret, its digest or the token: only the key's public id, its
//! name and workspace, once the caller has proved they hold the secret.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use keygate::events::{DecisionEvent, Outcome};
//! use keygate::{ApiKeyLayer, ErrorCode, MemoryKeyStore, MemoryRateLimiter};
//!
//! let refused = Arc::new(Mutex::new(Vec::new()));
//! let log = Arc::clone(&refused);
//! let layer = ApiKeyLayer::builder(MemoryKeyStore::new(), MemoryRateLimiter::new())
//!     .on_decision(move |event: &DecisionEvent<'_>| {
//!         if let Outcome::Refused(code) = event.outcome() {
//!             log.lock().unwrap().push((code, event.key_id(), event.elapsed()));
//!         }
//!     })
//!     .build();
//! # let _ = layer;
//! ```

use std::fmt;
use std::time::Duration;

use crate::code::ErrorCode;
use crate::key::KeyId;
use crate::plan::{Limit, Plan};
use crate::record::{KeyName, KeyRecord};
use crate::scope::Scope;
use crate::workspace::Workspace;

/// What the layer decided: the request went on to the inner service, or it was answered
/// with a row of the error table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Authenticated, authorized and within its limits: handed to the inner service.
    Allowed,
    /// Refused with this row of the error table.
    Refused(ErrorCode),
}

impl Outcome {
    /// The outcome's label: `ok`, or the error-table `code` (e.g. `rate_limited`). The
    /// `outcome` label of [`DECISIONS_TOTAL`](crate::metrics::DECISIONS_TOTAL) uses it.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "ok",
            Outcome::Refused(code) => code.as_str(),
        }
    }

    /// The error-table row, for a refusal.
    pub fn code(self) -> Option<ErrorCode> {
        match self {
            Outcome::Allowed => None,
            Outcome::Refused(code) => Some(code),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rate limiter's answer for a request, when it was asked.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum LimitAnswer<'a> {
    /// One quota (the key's own, or the layer's default), or, for a client refused for too
    /// many failed authentications, that client's failure budget.
    Rate {
        /// The burst size of the quota applied.
        limit: u32,
        /// Requests that could still be made at once after this one.
        remaining: u32,
    },
    /// The key's plan: for an admitted request, its most constraining limit; for a refused
    /// one, the limit that refused it.
    Plan {
        /// The key's plan.
        plan: &'a Plan,
        /// The limit reported.
        limit: &'a Limit,
        /// Units that limit still allows.
        remaining: u64,
    },
}

/// One decision of the layer, handed to the hook set with
/// [`ApiKeyLayerBuilder::on_decision`](crate::ApiKeyLayerBuilder::on_decision). See the
/// [module docs](self).
#[derive(Clone, Copy)]
pub struct DecisionEvent<'a> {
    pub(crate) outcome: Outcome,
    /// The key, once the caller proved they hold its secret (only its id, name and
    /// workspace are ever read from it).
    pub(crate) record: Option<&'a KeyRecord>,
    pub(crate) required_scope: Option<&'a Scope>,
    pub(crate) limit: Option<LimitAnswer<'a>>,
    pub(crate) failed_open: bool,
    pub(crate) cost: Option<u32>,
    pub(crate) elapsed: Duration,
}

impl<'a> DecisionEvent<'a> {
    /// Allowed, or the error-table row of the refusal.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// The key's public id, when the caller proved they hold its secret: every allowed
    /// request, and the `revoked_api_key`, `expired_api_key`, `disabled_api_key`,
    /// `ip_not_allowed`, `insufficient_scope`,
    /// `rate_limited`, `quota_exceeded` and `auth_unavailable` (limiter down) refusals of such
    /// a caller. `None` for a missing, malformed or invalid key (an unknown id and a wrong
    /// secret are not told apart here either), and before the key was read.
    pub fn key_id(&self) -> Option<KeyId> {
        self.record.map(|r| r.id)
    }

    /// The key's name, under the same condition as [`key_id`](Self::key_id).
    pub fn key_name(&self) -> Option<&'a KeyName> {
        self.record.map(|r| &r.name)
    }

    /// The key's workspace, under the same condition as [`key_id`](Self::key_id).
    pub fn workspace(&self) -> Option<&'a Workspace> {
        self.record.map(|r| &r.workspace)
    }

    /// The scope the route required (the [`ScopePolicy`](crate::policy::ScopePolicy)'s
    /// answer). `None` for a route that requires none, and for a request refused before its
    /// key was read (missing or malformed key, plain HTTP, an ambiguous path, a client over
    /// its failure budget).
    pub fn required_scope(&self) -> Option<&'a Scope> {
        self.required_scope
    }

    /// The rate limiter's answer, when it gave one (`None` for a key without limits, before
    /// the limiter is asked, and when it failed).
    pub fn limit(&self) -> Option<LimitAnswer<'a>> {
        self.limit
    }

    /// Whether the limiter failed and the layer let the request through anyway
    /// ([`FailurePolicy::FailOpen`](crate::FailurePolicy::FailOpen)).
    pub fn failed_open(&self) -> bool {
        self.failed_open
    }

    /// The units the route costs a key under a plan (the policy's
    /// [`cost`](crate::policy::ScopePolicy::cost)); `None` when the request was refused
    /// before its key was read.
    pub fn cost(&self) -> Option<u32> {
        self.cost
    }

    /// The time the layer spent deciding: from the request's arrival in the layer to the
    /// decision, store and limiter round trips included.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
}

impl fmt::Debug for DecisionEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecisionEvent")
            .field("outcome", &self.outcome)
            .field("key_id", &self.key_id())
            .field("key_name", &self.key_name())
            .field("workspace", &self.workspace())
            .field("required_scope", &self.required_scope)
            .field("limit", &self.limit)
            .field("failed_open", &self.failed_open)
            .field("cost", &self.cost)
            .field("elapsed", &self.elapsed)
            .finish()
    }
}

/// Receives the layer's [`DecisionEvent`]s. Any `Fn(&DecisionEvent<'_>) + Send + Sync +
/// 'static` is one.
pub trait DecisionSink: Send + Sync + 'static {
    /// Called once per decided request; see the [module docs](self).
    fn on_decision(&self, event: &DecisionEvent<'_>);
}

impl<F> DecisionSink for F
where
    F: Fn(&DecisionEvent<'_>) + Send + Sync + 'static,
{
    fn on_decision(&self, event: &DecisionEvent<'_>) {
        self(event)
    }
}

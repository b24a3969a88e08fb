//! What the layer tells the outside about its decisions: the [`DecisionEvent`] hook, and
//! (feature `metrics`) the decision counters and latency histograms of [`crate::metrics`].
//!
//! [`Pipeline::observe`] is called once per decided request, right after the decision. It
//! reads the clock only when a hook is set ([`Pipeline::started`]), and the metrics' clock
//! ([`Stamp`]) only when metrics are recorded.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::events::{DecisionEvent, DecisionSink, LimitAnswer, Outcome};
use crate::rejection::Rejection;

use super::limit::Authorized;
use super::pipeline::Pipeline;
use super::state::{Refused, Ticket};

/// The hook set with [`on_decision`](crate::ApiKeyLayerBuilder::on_decision).
pub(crate) struct Hook {
    sink: Box<dyn DecisionSink>,
    /// Whether a panic of the hook was logged already: it is logged once.
    panicked: AtomicBool,
}

impl Hook {
    pub(crate) fn new(sink: impl DecisionSink) -> Arc<Self> {
        Arc::new(Self {
            sink: Box::new(sink),
            panicked: AtomicBool::new(false),
        })
    }

    /// Calls the hook; a panic is caught (and logged the first time), never propagated.
    fn call(&self, event: &DecisionEvent<'_>) {
        let called = catch_unwind(AssertUnwindSafe(|| self.sink.on_decision(event)));
        if called.is_err() && !self.panicked.swap(true, Ordering::Relaxed) {
            tracing::error!(
                outcome = %event.outcome(),
                "the on_decision hook panicked; the request went on unchanged (further panics \
                 of this hook are not logged)"
            );
        }
    }
}

/// How the layer reports its decisions.
#[derive(Clone)]
pub(crate) struct Observe {
    pub(crate) hook: Option<Arc<Hook>>,
    /// Record [`crate::metrics`].
    #[cfg(feature = "metrics")]
    pub(crate) metrics: bool,
    /// Label `keygate_decisions_total` by workspace.
    #[cfg(feature = "metrics")]
    pub(crate) workspace_label: bool,
    /// Label `keygate_decisions_total` by key id.
    #[cfg(feature = "metrics")]
    pub(crate) key_label: bool,
}

impl Default for Observe {
    fn default() -> Self {
        Self {
            hook: None,
            #[cfg(feature = "metrics")]
            metrics: true,
            #[cfg(feature = "metrics")]
            workspace_label: true,
            #[cfg(feature = "metrics")]
            key_label: false,
        }
    }
}

impl std::fmt::Debug for Observe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct("Observe");
        s.field("hook", &self.hook.is_some());
        #[cfg(feature = "metrics")]
        s.field("metrics", &self.metrics)
            .field("workspace_label", &self.workspace_label)
            .field("key_label", &self.key_label);
        s.finish()
    }
}

/// When a backend call began, for its latency histogram: a clock reading when metrics are
/// recorded, nothing otherwise.
#[derive(Clone, Copy)]
pub(crate) struct Stamp(#[cfg(feature = "metrics")] Option<quanta::Instant>);

impl<K, L, P, R> Pipeline<K, L, P, R> {
    /// The moment a request arrived, when a hook will want to know how long it took.
    pub(crate) fn started(&self) -> Option<Instant> {
        self.settings.observe.hook.as_ref().map(|_| Instant::now())
    }

    /// Now, for a latency histogram, when metrics are recorded.
    pub(crate) fn stamp(&self) -> Stamp {
        #[cfg(feature = "metrics")]
        {
            Stamp(self.settings.observe.metrics.then(quanta::Instant::now))
        }
        #[cfg(not(feature = "metrics"))]
        {
            Stamp()
        }
    }

    /// The key store answered the lookup started at `since`.
    pub(crate) fn lookup_answered(&self, since: Stamp) {
        #[cfg(feature = "metrics")]
        record_since(since, crate::metrics::STORE_LOOKUP_SECONDS);
        let _ = since;
    }

    /// The rate limiter answered the call started at `since`.
    pub(crate) fn limiter_answered(&self, since: Stamp) {
        #[cfg(feature = "metrics")]
        record_since(since, crate::metrics::LIMITER_SECONDS);
        let _ = since;
    }

    /// Reports a decision: to the metrics, and to the hook. `ticket` is the classified
    /// request's, `None` for a request refused before its key was read.
    pub(crate) fn observe(
        &self,
        outcome: Result<&Authorized, &Refused>,
        ticket: Option<&Ticket>,
        started: Option<Instant>,
    ) {
        #[cfg(feature = "metrics")]
        if self.settings.observe.metrics {
            self.count(outcome);
        }
        if let Some(hook) = &self.settings.observe.hook {
            let elapsed = started.map_or(Duration::ZERO, |t| t.elapsed());
            hook.call(&event(outcome, ticket, elapsed));
        }
    }

    /// Counts the decision in `keygate_decisions_total` (and `keygate_fail_open_total`).
    #[cfg(feature = "metrics")]
    fn count(&self, outcome: Result<&Authorized, &Refused>) {
        use crate::metrics::{
            DECISIONS_TOTAL, FAIL_OPEN_TOTAL, KEY_ID_LABEL, OUTCOME_LABEL, WORKSPACE_LABEL,
        };
        let (label, record) = match outcome {
            Ok(authorized) => {
                if authorized.failed_open {
                    metrics::counter!(FAIL_OPEN_TOTAL).increment(1);
                }
                (Outcome::Allowed.as_str(), Some(authorized.key.record()))
            }
            Err(refused) => (refused.rejection.code().as_str(), refused.record.as_ref()),
        };
        let settings = &self.settings.observe;
        let mut labels = Vec::with_capacity(3);
        labels.push(metrics::Label::from_static_parts(OUTCOME_LABEL, label));
        if settings.workspace_label {
            let workspace = record.map_or("", |r| r.workspace.as_str());
            labels.push(metrics::Label::new(WORKSPACE_LABEL, workspace.to_owned()));
        }
        if settings.key_label {
            let id = record.map_or(String::new(), |r| r.id.to_string());
            labels.push(metrics::Label::new(KEY_ID_LABEL, id));
        }
        metrics::counter!(DECISIONS_TOTAL, labels).increment(1);
    }
}

/// Records the time since `since` in `histogram`, when metrics are recorded.
#[cfg(feature = "metrics")]
fn record_since(since: Stamp, histogram: &'static str) {
    if let Stamp(Some(start)) = since {
        metrics::histogram!(histogram).record(start.elapsed());
    }
}

/// The event of a decision.
fn event<'a>(
    outcome: Result<&'a Authorized, &'a Refused>,
    ticket: Option<&'a Ticket>,
    elapsed: Duration,
) -> DecisionEvent<'a> {
    let (outcome, record, limit, failed_open) = match outcome {
        Ok(authorized) => (
            Outcome::Allowed,
            Some(&**authorized.key.record()),
            admitted_limit(authorized),
            authorized.failed_open,
        ),
        Err(refused) => (
            Outcome::Refused(refused.rejection.code()),
            refused.record.as_deref(),
            refusing_limit(&refused.rejection),
            false,
        ),
    };
    DecisionEvent {
        outcome,
        record,
        required_scope: ticket.and_then(|t| t.required.as_ref()),
        limit,
        failed_open,
        cost: ticket.map(|t| t.cost),
        elapsed,
    }
}

/// The limiter's answer for an admitted request.
fn admitted_limit(authorized: &Authorized) -> Option<LimitAnswer<'_>> {
    if let Some((_, decision)) = &authorized.rate {
        return Some(LimitAnswer::Rate {
            limit: decision.limit,
            remaining: decision.remaining,
        });
    }
    let constraint = &authorized.usage.as_deref()?.constraint;
    Some(LimitAnswer::Plan {
        plan: &constraint.plan,
        limit: constraint.plan.limits().get(constraint.index)?,
        remaining: constraint.remaining,
    })
}

/// The limit that refused a request, if a limit did.
fn refusing_limit(rejection: &Rejection) -> Option<LimitAnswer<'_>> {
    if let Some((_, decision)) = rejection.rate_limit() {
        return Some(LimitAnswer::Rate {
            limit: decision.limit,
            remaining: decision.remaining,
        });
    }
    let usage = rejection.usage()?;
    let limit = usage.refused_by()?;
    Some(LimitAnswer::Plan {
        plan: usage.plan(),
        limit,
        remaining: usage.state(limit.name().as_str())?.remaining,
    })
}

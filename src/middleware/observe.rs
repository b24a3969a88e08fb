//! What the layer tells the outside about its decisions: the [`DecisionEvent`] hook, and
//! (feature `metrics`) the decision counters and latency histograms of [`crate::metrics`].
//!
//! [`Pipeline::observe`] is called once per decided request, right after the decision. It
//! reads the clock only when a hook is set ([`Pipeline::started`]), and the metrics' clock
//! ([`Stamp`]) only when the latency histograms are recorded (off by default).
//!
//! The metrics' handles are registered with the recorder once per layer and series, the first
//! time they are used ([`Handles`]), and kept: a request then costs a lock-free look-up
//! ([`DecisionCounters`](super::decision_counters::DecisionCounters)) and an atomic add, not a
//! registration (which builds the labels and asks the recorder's registry).

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
    /// Record the latency histograms (they read the clock).
    #[cfg(feature = "metrics")]
    pub(crate) latency: bool,
}

#[cfg_attr(
    not(feature = "metrics"),
    allow(
        clippy::derivable_impls,
        reason = "derivable only without the metrics feature, whose defaults are not all false"
    )
)]
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
            #[cfg(feature = "metrics")]
            latency: false,
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
            .field("key_label", &self.key_label)
            .field("latency", &self.latency);
        s.finish()
    }
}

/// A layer's metric handles, registered with the recorder in effect when each is first used
/// (install the recorder before the layer serves requests).
#[cfg(feature = "metrics")]
#[derive(Default)]
pub(crate) struct Handles {
    fixed: std::sync::OnceLock<Fixed>,
    /// `keygate_decisions_total`, one counter per series.
    decisions: super::decision_counters::DecisionCounters,
}

/// The handles of the metrics without labels.
#[cfg(feature = "metrics")]
struct Fixed {
    fail_open: metrics::Counter,
    lookup: metrics::Histogram,
    limiter: metrics::Histogram,
}

#[cfg(feature = "metrics")]
impl Handles {
    fn fixed(&self) -> &Fixed {
        use crate::metrics::{FAIL_OPEN_TOTAL, LIMITER_SECONDS, STORE_LOOKUP_SECONDS};
        self.fixed.get_or_init(|| Fixed {
            fail_open: metrics::counter!(FAIL_OPEN_TOTAL),
            lookup: metrics::histogram!(STORE_LOOKUP_SECONDS),
            limiter: metrics::histogram!(LIMITER_SECONDS),
        })
    }
}

/// When a backend call began, for its latency histogram: a clock reading when latency is
/// recorded (metrics and [`metrics_latency`](crate::ApiKeyLayerBuilder::metrics_latency)
/// on), nothing otherwise.
#[derive(Clone, Copy)]
pub(crate) struct Stamp(#[cfg(feature = "metrics")] Option<quanta::Instant>);

impl<K, L, P, R> Pipeline<K, L, P, R> {
    /// The moment a request arrived, when a hook will want to know how long it took.
    pub(crate) fn started(&self) -> Option<Instant> {
        self.settings.observe.hook.as_ref().map(|_| Instant::now())
    }

    /// Now, for a latency histogram, when latency is recorded.
    pub(crate) fn stamp(&self) -> Stamp {
        #[cfg(feature = "metrics")]
        {
            let observe = &self.settings.observe;
            Stamp((observe.metrics && observe.latency).then(quanta::Instant::now))
        }
        #[cfg(not(feature = "metrics"))]
        {
            Stamp()
        }
    }

    /// The key store answered the lookup started at `since`: now, as the stamp the limiter's
    /// call starts at (one clock reading serves both).
    pub(crate) fn lookup_answered(&self, since: Stamp) -> Stamp {
        #[cfg(feature = "metrics")]
        if let Stamp(Some(start)) = since {
            let now = quanta::Instant::now();
            self.handles
                .fixed()
                .lookup
                .record(now.saturating_duration_since(start));
            return Stamp(Some(now));
        }
        since
    }

    /// The rate limiter answered the call started at `since`.
    pub(crate) fn limiter_answered(&self, since: Stamp) {
        #[cfg(feature = "metrics")]
        if let Stamp(Some(start)) = since {
            self.handles.fixed().limiter.record(start.elapsed());
        }
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
        use super::decision_counters::{Labels, Series};
        let (outcome, record) = match outcome {
            Ok(authorized) => {
                if authorized.failed_open {
                    self.handles.fixed().fail_open.increment(1);
                }
                (Outcome::Allowed, Some(&**authorized.key.record()))
            }
            Err(refused) => (
                Outcome::Refused(refused.rejection.code()),
                refused.record.as_deref(),
            ),
        };
        let settings = &self.settings.observe;
        let series = Series {
            outcome,
            workspace: record
                .filter(|_| settings.workspace_label)
                .map(|r| &r.workspace),
            key: record.filter(|_| settings.key_label).map(|r| r.id),
        };
        let labels = Labels {
            workspace: settings.workspace_label,
            key: settings.key_label,
        };
        self.handles.decisions.count(series, labels);
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

//! [`Usage`]: one request to count against a plan, and [`UsageDecision`], the answer for every
//! limit of the plan.

use std::time::{Duration, SystemTime};

use super::{Limit, MAX_LIMITS, Plan};
use crate::key::KeyId;
use crate::workspace::Workspace;

/// The most units one request may cost.
pub const MAX_COST: u32 = 1_000_000;

/// One request to count: whose key, in which workspace, under which plan, at what cost.
#[derive(Debug, Clone, Copy)]
pub struct Usage<'a> {
    pub(crate) key: &'a KeyId,
    pub(crate) workspace: &'a Workspace,
    pub(crate) plan: &'a Plan,
    pub(crate) cost: u32,
}

impl<'a> Usage<'a> {
    /// A request of key `key` (of `workspace`) under `plan`, costing one unit of each limit.
    pub fn new(key: &'a KeyId, workspace: &'a Workspace, plan: &'a Plan) -> Self {
        Self {
            key,
            workspace,
            plan,
            cost: 1,
        }
    }

    /// The same request costing `cost` units of each limit (an expensive route), 1 to
    /// [`MAX_COST`] (clamped into that range).
    pub fn cost(mut self, cost: u32) -> Self {
        self.cost = cost.clamp(1, MAX_COST);
        self
    }

    /// The units the request costs.
    pub fn units(&self) -> u32 {
        self.cost
    }

    /// The plan.
    pub fn plan(&self) -> &'a Plan {
        self.plan
    }
}

/// Where one limit stands after a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LimitState {
    /// The most the limit admits at once or per period ([`Limit::capacity`]).
    pub capacity: u64,
    /// Units still available after this request (before it, if it was refused).
    pub remaining: u64,
    /// Time until the limit is whole again: a rate's bucket full, a quota's next period, a
    /// credit refill (zero for credits that are never refilled).
    pub reset: Duration,
    /// For the limit that refused: when the same request could pass, if that is known (a
    /// rate refills, a period ends, a refill comes); `None` for credits that only an
    /// operator's top-up can restore.
    pub retry_after: Option<Duration>,
}

/// The most constraining limit of a decision, and where it stands: what a response's
/// rate-limit headers report.
#[derive(Debug, Clone)]
pub(crate) struct Constraint {
    pub(crate) plan: Plan,
    /// The limit's index in the plan.
    pub(crate) index: usize,
    pub(crate) remaining: u64,
    pub(crate) reset: Duration,
    /// [`UsageDecision::counted_at`].
    pub(crate) counted_at: SystemTime,
}

/// A [`LimitState`] as a decision keeps it: the capacity is the limit's, and the durations
/// are nanoseconds (`u64::MAX` for no retry), so that a decision stays small to move.
#[derive(Debug, Clone, Copy, Default)]
struct Kept {
    remaining: u64,
    reset: u64,
    retry_after: u64,
}

const NO_RETRY: u64 = u64::MAX;

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX - 1)
}

impl Kept {
    fn of(state: &LimitState) -> Self {
        Self {
            remaining: state.remaining,
            reset: nanos(state.reset),
            retry_after: state.retry_after.map_or(NO_RETRY, nanos),
        }
    }

    fn state(self, limit: &Limit) -> LimitState {
        LimitState {
            capacity: limit.capacity(),
            remaining: self.remaining,
            reset: Duration::from_nanos(self.reset),
            retry_after: (self.retry_after != NO_RETRY)
                .then(|| Duration::from_nanos(self.retry_after)),
        }
    }
}

/// A usage limiter's answer: admitted or not, and where each of the plan's limits stands,
/// in the plan's order. A refused request spent nothing on any limit.
#[derive(Debug, Clone)]
pub struct UsageDecision {
    plan: Plan,
    /// One per limit, in the plan's order; held inline (a plan has at most [`MAX_LIMITS`]),
    /// so a decision allocates nothing.
    states: [Kept; MAX_LIMITS],
    refused: Option<u8>,
    counted_at: SystemTime,
}

impl UsageDecision {
    /// An admitting decision under `plan`, counted at wall time `counted_at`, its states to
    /// be filled in with [`set`](Self::set).
    pub(crate) fn admitting(plan: &Plan, counted_at: SystemTime) -> Self {
        Self {
            plan: plan.clone(),
            states: [Kept::default(); MAX_LIMITS],
            refused: None,
            counted_at,
        }
    }

    /// The wall time the limiter placed the request in its calendar periods at (what a
    /// [refund](crate::RateLimiter::refund_usage) gives back to); the epoch for a plan of
    /// rates only, which has no periods.
    pub fn counted_at(&self) -> SystemTime {
        self.counted_at
    }

    /// Records the state of the limit at `index` in the plan (ignored past the plan's end).
    pub(crate) fn set(&mut self, index: usize, state: &LimitState) {
        if let Some(kept) = self.states[..self.plan.limits().len()].get_mut(index) {
            *kept = Kept::of(state);
        }
    }

    /// Records the limit (by its index in the plan) that refused, if any.
    pub(crate) fn refuse(&mut self, refused: Option<usize>) {
        // A plan has at most MAX_LIMITS (8) limits: the index fits a byte.
        self.refused = refused.and_then(|i| u8::try_from(i).ok());
    }

    /// Whether every limit admitted the request.
    pub fn allowed(&self) -> bool {
        self.refused.is_none()
    }

    /// The plan the request was counted under.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// What the rate-limit headers of an admitted request need, the decision done with.
    pub(crate) fn into_constraint(self) -> Constraint {
        let index = self.most_constraining_index();
        let kept = self.states[index];
        Constraint {
            plan: self.plan,
            index,
            remaining: kept.remaining,
            reset: Duration::from_nanos(kept.reset),
            counted_at: self.counted_at,
        }
    }

    /// The first limit (in the plan's order) that refused the request.
    pub fn refused_by(&self) -> Option<&Limit> {
        self.refused.map(|i| &self.plan.limits()[usize::from(i)])
    }

    /// Each limit with its state, in the plan's order.
    pub fn limits(&self) -> impl Iterator<Item = (&Limit, LimitState)> {
        self.plan
            .limits()
            .iter()
            .zip(self.states.iter())
            .map(|(limit, kept)| (limit, kept.state(limit)))
    }

    /// The state of the limit called `name`.
    pub fn state(&self, name: &str) -> Option<LimitState> {
        self.limits()
            .find(|(limit, _)| limit.name().as_str() == name)
            .map(|(_, state)| state)
    }

    /// The index in the plan of the most constraining limit: the one that refused, else the
    /// one with the fewest units remaining (the first of those in the plan's order).
    pub(crate) fn most_constraining_index(&self) -> usize {
        self.refused.map_or_else(
            || {
                (0..self.plan.limits().len())
                    .min_by_key(|&i| self.states[i].remaining)
                    .unwrap_or(0)
            },
            usize::from,
        )
    }

    /// The most constraining limit: the one that refused, else the one with the fewest
    /// units remaining (the first of those in the plan's order).
    pub fn most_constraining(&self) -> (&Limit, LimitState) {
        let i = self.most_constraining_index();
        let limit = &self.plan.limits()[i];
        (limit, self.states[i].state(limit))
    }
}

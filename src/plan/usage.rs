//! [`Usage`]: one request to count against a plan, and [`UsageDecision`], the answer for every
//! limit of the plan.

use std::time::Duration;

use super::{Limit, Plan};
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

/// A usage limiter's answer: admitted or not, and where each of the plan's limits stands,
/// in the plan's order. A refused request spent nothing on any limit.
#[derive(Debug, Clone)]
pub struct UsageDecision {
    plan: Plan,
    states: Box<[LimitState]>,
    refused: Option<usize>,
}

impl UsageDecision {
    /// An admitting decision under `plan`, its states to be filled in.
    pub(crate) fn admitting(plan: &Plan) -> Self {
        Self {
            plan: plan.clone(),
            states: vec![LimitState::default(); plan.limits().len()].into_boxed_slice(),
            refused: None,
        }
    }

    /// The states, one per limit in the plan's order, to fill in.
    pub(crate) fn states_mut(&mut self) -> &mut [LimitState] {
        &mut self.states
    }

    /// Records the limit (by its index in the plan) that refused, if any.
    pub(crate) fn refuse(&mut self, refused: Option<usize>) {
        self.refused = refused;
    }

    /// Whether every limit admitted the request.
    pub fn allowed(&self) -> bool {
        self.refused.is_none()
    }

    /// The plan the request was counted under.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The first limit (in the plan's order) that refused the request.
    pub fn refused_by(&self) -> Option<&Limit> {
        self.refused.map(|i| &self.plan.limits()[i])
    }

    /// Each limit with its state, in the plan's order.
    pub fn limits(&self) -> impl Iterator<Item = (&Limit, &LimitState)> {
        self.plan.limits().iter().zip(self.states.iter())
    }

    /// The state of the limit called `name`.
    pub fn state(&self, name: &str) -> Option<&LimitState> {
        self.limits()
            .find(|(limit, _)| limit.name().as_str() == name)
            .map(|(_, state)| state)
    }

    /// The most constraining limit: the one that refused, else the one with the fewest
    /// units remaining (the first of those in the plan's order).
    pub fn most_constraining(&self) -> (&Limit, &LimitState) {
        let i = self.refused.unwrap_or_else(|| {
            (0..self.plan.limits().len())
                .min_by_key(|&i| self.states[i].remaining)
                .unwrap_or(0)
        });
        (&self.plan.limits()[i], &self.states[i])
    }
}

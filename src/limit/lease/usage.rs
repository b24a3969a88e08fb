//! [`UsageLease`]: units of every limit of a key's plan
//! ([`RateLimiter::admit`](crate::RateLimiter::admit)), held by a node for the calendar
//! periods they were counted in.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::table::{Aging, Lease};
use crate::plan::{LimitKind, LimitState, MAX_LIMITS, Plan, UsageDecision};

/// Units of one key under one plan, taken in one call and counted at `counted_at`.
#[derive(Debug, Clone)]
pub(super) struct UsageLease {
    pub(super) plan: Plan,
    pub(super) counted_at: SystemTime,
    /// The calendar periods of `counted_at`, as one span: the lease is spent only inside it.
    periods: Span,
    pub(super) balance: u64,
    taken_at: Duration,
    /// Per limit: what Redis reported remaining once the lease was taken, and when the limit
    /// is whole again (monotonic).
    states: [(u64, Duration); MAX_LIMITS],
}

/// The wall times from which and until which every calendar period of a plan is the same
/// (no end for a plan without calendar periods).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    from: SystemTime,
    until: Option<SystemTime>,
}

impl Span {
    /// The periods of `plan`'s quotas and credit refills at `at`; all time for a plan without.
    fn of(plan: &Plan, at: SystemTime) -> Self {
        let mut span = Self {
            from: UNIX_EPOCH,
            until: None,
        };
        for limit in plan.limits() {
            let period = match limit.kind() {
                LimitKind::Quota { period, .. } => period,
                LimitKind::Credits {
                    refill: Some(refill),
                    ..
                } => &refill.period,
                _ => continue,
            };
            let window = period.window(at);
            span.from = span.from.max(window.start());
            span.until = Some(span.until.map_or(window.end(), |u| u.min(window.end())));
        }
        span
    }

    fn contains(&self, at: SystemTime) -> bool {
        self.from <= at && self.until.is_none_or(|until| at < until)
    }
}

impl UsageLease {
    /// `taken` units of `decision`'s plan, counted at its `counted_at`, at monotonic `now`.
    pub(super) fn new(decision: &UsageDecision, taken: u32, now: Duration) -> Self {
        let mut states = [(0, Duration::ZERO); MAX_LIMITS];
        for (kept, (_, state)) in states.iter_mut().zip(decision.limits()) {
            *kept = (state.remaining, now + state.reset);
        }
        Self {
            plan: decision.plan().clone(),
            counted_at: decision.counted_at(),
            periods: Span::of(decision.plan(), decision.counted_at()),
            balance: u64::from(taken),
            taken_at: now,
            states,
        }
    }

    /// Whether the lease holds units of `plan` that may be spent, or given back, at wall time
    /// `at` (in the periods that counted them).
    pub(super) fn serves(&self, plan: &Plan, at: SystemTime) -> bool {
        self.plan == *plan && self.periods.contains(at)
    }

    /// Adds the units of `newer`, a lease of the same plan and periods, and takes its view.
    pub(super) fn absorb(&mut self, newer: Self) {
        let balance = self.balance.saturating_add(newer.balance);
        *self = Self { balance, ..newer };
    }

    /// Spends `cost` units of `plan` at `now` (monotonic) and `wall`, if the lease holds them
    /// in the periods of `wall`: the decision, reporting for each limit what Redis reported
    /// remaining plus the units still held.
    pub(super) fn spend(
        &mut self,
        plan: &Plan,
        cost: u32,
        now: Duration,
        wall: SystemTime,
    ) -> Option<UsageDecision> {
        if self.balance < u64::from(cost) || !self.serves(plan, wall) {
            return None;
        }
        self.balance -= u64::from(cost);
        let mut decision = UsageDecision::admitting(&self.plan, self.counted_at);
        for (i, (limit, (remaining, whole_at))) in
            self.plan.limits().iter().zip(self.states).enumerate()
        {
            let state = LimitState {
                capacity: limit.capacity(),
                remaining: remaining.saturating_add(self.balance).min(limit.capacity()),
                reset: whole_at.saturating_sub(now),
                retry_after: None,
            };
            decision.set(i, &state);
        }
        Some(decision)
    }
}

impl Lease for UsageLease {
    fn balance(&self) -> u64 {
        self.balance
    }

    fn taken_at(&self) -> Duration {
        self.taken_at
    }
}

impl Aging for UsageDecision {
    /// The plan and the cost refused.
    type Ask = (Plan, u32);

    /// A refusal under the same plan covers the same cost or more (a cheaper request may pass).
    fn covers((plan, cost): &(Plan, u32), (asked, asked_cost): &(Plan, u32)) -> bool {
        plan == asked && asked_cost >= cost
    }

    fn aged(&self, elapsed: Duration) -> Self {
        let mut aged = self.clone();
        for (i, (_, state)) in self.limits().enumerate() {
            let state = LimitState {
                reset: state.reset.saturating_sub(elapsed),
                retry_after: state.retry_after.map(|r| r.saturating_sub(elapsed)),
                ..state
            };
            aged.set(i, &state);
        }
        aged
    }

    fn retry_after(&self) -> Option<Duration> {
        self.most_constraining().1.retry_after
    }

    fn refuses(&self) -> bool {
        !self.allowed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Limit, Period};

    /// 2025-11-29T12:00:00Z.
    fn noon() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(20_421 * 86_400 + 43_200)
    }

    fn daily(max: u64) -> Plan {
        Plan::new(
            "p".parse().unwrap(),
            vec![Limit::quota("daily".parse().unwrap(), max, Period::Day)],
        )
        .unwrap()
    }

    fn lease(plan: &Plan, taken: u32, remaining: u64) -> UsageLease {
        let mut decision = UsageDecision::admitting(plan, noon());
        let state = LimitState {
            capacity: 100,
            remaining,
            reset: Duration::from_secs(43_200),
            retry_after: None,
        };
        decision.set(0, &state);
        UsageLease::new(&decision, taken, Duration::ZERO)
    }

    #[test]
    fn a_lease_spends_a_routes_cost_and_reports_what_redis_left_plus_what_it_holds() {
        let plan = daily(100);
        let mut lease = lease(&plan, 10, 50);
        let d = lease
            .spend(&plan, 3, Duration::from_secs(2), noon())
            .unwrap();
        assert!(d.allowed());
        let state = d.state("daily").unwrap();
        assert_eq!(state.remaining, 57);
        assert_eq!(state.reset, Duration::from_secs(43_198));
        assert_eq!(d.counted_at(), noon());
        assert_eq!(lease.balance, 7);
    }

    #[test]
    fn a_lease_spends_nothing_beyond_its_balance() {
        let plan = daily(100);
        let mut lease = lease(&plan, 2, 50);
        assert!(lease.spend(&plan, 3, Duration::ZERO, noon()).is_none());
        assert_eq!(lease.balance, 2);
    }

    #[test]
    fn a_lease_is_spent_only_in_the_period_that_counted_it() {
        let plan = daily(100);
        let mut lease = lease(&plan, 10, 50);
        let tomorrow = noon() + Duration::from_secs(43_200);
        assert!(lease.spend(&plan, 1, Duration::ZERO, tomorrow).is_none());
        let before_midnight = tomorrow - Duration::from_secs(1);
        assert!(
            lease
                .spend(&plan, 1, Duration::ZERO, before_midnight)
                .is_some()
        );
    }

    #[test]
    fn a_lease_of_another_plan_spends_nothing() {
        let mut lease = lease(&daily(100), 10, 50);
        assert!(lease.spend(&daily(99), 1, Duration::ZERO, noon()).is_none());
    }
}

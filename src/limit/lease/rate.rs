//! [`RateLease`]: units of a key's own GCRA quota ([`RateLimiter::check`](crate::RateLimiter::check)),
//! held by a node.

use std::time::Duration;

use super::table::{Aging, Lease};
use crate::decision::Decision;
use crate::quota::Quota;

/// Units of one key under one quota, taken in one call.
#[derive(Debug, Clone)]
pub(super) struct RateLease {
    pub(super) quota: Quota,
    pub(super) balance: u64,
    taken_at: Duration,
    /// What Redis reported remaining once the lease was taken.
    remaining: u32,
    /// When the bucket is full again, as Redis reported it (monotonic).
    full_at: Duration,
}

impl RateLease {
    /// `taken` units at `now`, Redis having answered `decision` for the last of them.
    pub(super) fn new(quota: Quota, taken: u32, decision: &Decision, now: Duration) -> Self {
        Self {
            quota,
            balance: u64::from(taken),
            taken_at: now,
            remaining: decision.remaining,
            full_at: now + decision.reset,
        }
    }

    /// Spends one unit at `now` if the lease holds one for `quota`: the decision, reporting
    /// what Redis reported remaining plus the units still held.
    pub(super) fn spend(&mut self, quota: &Quota, now: Duration) -> Option<Decision> {
        if self.quota != *quota || self.balance == 0 {
            return None;
        }
        self.balance -= 1;
        let held = u32::try_from(self.balance).unwrap_or(u32::MAX);
        Some(Decision {
            allowed: true,
            limit: quota.burst(),
            remaining: self.remaining.saturating_add(held).min(quota.burst()),
            reset: self.full_at.saturating_sub(now),
            retry_after: Duration::ZERO,
        })
    }
}

impl Lease for RateLease {
    fn balance(&self) -> u64 {
        self.balance
    }

    fn taken_at(&self) -> Duration {
        self.taken_at
    }
}

impl Aging for Decision {
    /// The quota refused.
    type Ask = Quota;

    fn covers(refused: &Quota, ask: &Quota) -> bool {
        refused == ask
    }

    fn aged(&self, elapsed: Duration) -> Self {
        Self {
            reset: self.reset.saturating_sub(elapsed),
            retry_after: self.retry_after.saturating_sub(elapsed),
            ..*self
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        Some(self.retry_after)
    }

    fn refuses(&self) -> bool {
        !self.allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota() -> Quota {
        Quota::new(10, Duration::from_secs(1)).unwrap()
    }

    fn taken(remaining: u32) -> Decision {
        Decision {
            allowed: true,
            limit: 10,
            remaining,
            reset: Duration::from_secs(8),
            retry_after: Duration::ZERO,
        }
    }

    #[test]
    fn a_lease_spends_one_unit_per_request_then_nothing() {
        let mut lease = RateLease::new(quota(), 2, &taken(6), Duration::ZERO);
        assert!(lease.spend(&quota(), Duration::ZERO).is_some());
        assert!(lease.spend(&quota(), Duration::ZERO).is_some());
        assert_eq!(lease.spend(&quota(), Duration::ZERO), None);
    }

    #[test]
    fn a_spent_unit_reports_what_redis_left_plus_what_the_node_still_holds() {
        let mut lease = RateLease::new(quota(), 3, &taken(6), Duration::ZERO);
        let first = lease.spend(&quota(), Duration::from_secs(1)).unwrap();
        assert_eq!(first.remaining, 8);
        assert_eq!(first.reset, Duration::from_secs(7));
        assert_eq!(lease.spend(&quota(), Duration::ZERO).unwrap().remaining, 7);
    }

    #[test]
    fn a_lease_for_another_quota_spends_nothing() {
        let mut lease = RateLease::new(quota(), 3, &taken(6), Duration::ZERO);
        let other = Quota::new(5, Duration::from_secs(1)).unwrap();
        assert_eq!(lease.spend(&other, Duration::ZERO), None);
        assert_eq!(lease.balance, 3);
    }

    #[test]
    fn a_refusal_ages_its_retry_and_reset_times() {
        let refused = Decision {
            allowed: false,
            limit: 10,
            remaining: 0,
            reset: Duration::from_secs(9),
            retry_after: Duration::from_millis(300),
        };
        let later = refused.aged(Duration::from_millis(200));
        assert_eq!(later.retry_after, Duration::from_millis(100));
        assert_eq!(later.reset, Duration::from_millis(8_800));
        assert_eq!(
            refused.aged(Duration::from_secs(1)).retry_after,
            Duration::ZERO
        );
    }
}

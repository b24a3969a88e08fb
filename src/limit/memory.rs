//! [`MemoryRateLimiter`]: GCRA state for each key in process memory.

use std::fmt;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use super::{Decision, LimiterError, Quota, RateLimiter, gcra};
use crate::clock::{Clock, SystemClock};
use crate::id_map::{IdHashMap, ShardedIdMap};
use crate::key::KeyId;
use crate::plan::{Counters, Limit, Usage, UsageFuture};
use crate::workspace::Workspace;

/// An in-process GCRA rate limiter.
///
/// - **Lock-free per key**: each key's state is one `AtomicU64` (its theoretical arrival time),
///   updated with a compare-and-swap under a shared read lock of its shard.
/// - **Per-key quota**: the quota comes with every call, so keys on different plans share one
///   limiter.
/// - **Bounded memory**: a key whose bucket is full again holds no information; such idle
///   entries are swept out of a shard before it grows, and [`MemoryRateLimiter::evict_idle`]
///   sweeps every shard.
///
/// Clones share the same state. It never fails.
pub struct MemoryRateLimiter<C = SystemClock> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    tats: ShardedIdMap<AtomicU64>,
    /// The counters of keys under a plan.
    usage: Counters,
    clock: C,
}

impl MemoryRateLimiter<SystemClock> {
    /// A limiter on the system clock.
    pub fn new() -> Self {
        Self::with_clock(SystemClock::new())
    }
}

impl Default for MemoryRateLimiter<SystemClock> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clock> MemoryRateLimiter<C> {
    /// A limiter on the given clock (a [`ManualClock`](crate::clock::ManualClock) in tests).
    pub fn with_clock(clock: C) -> Self {
        Self {
            inner: Arc::new(Inner {
                tats: ShardedIdMap::new(),
                usage: Counters::default(),
                clock,
            }),
        }
    }

    fn now_nanos(&self) -> u64 {
        // Offset by one so that a stored 0 always means "never seen".
        u64::try_from(self.inner.clock.monotonic().as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_add(1)
    }

    /// Decides one request synchronously (what [`RateLimiter::check`] does).
    pub fn decide(&self, id: &KeyId, quota: &Quota) -> Decision {
        let now = self.now_nanos();
        {
            let shard = self.inner.tats.read(id);
            if let Some(cell) = shard.get(id) {
                let mut current = cell.load(Ordering::Acquire);
                loop {
                    let (next, decision) = gcra::decide(current, now, quota);
                    if !decision.allowed || next == current {
                        return decision;
                    }
                    match cell.compare_exchange_weak(
                        current,
                        next,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => return decision,
                        Err(actual) => current = actual,
                    }
                }
            }
        }
        let mut shard = self.inner.tats.write(id);
        if shard.len() == shard.capacity() {
            sweep(&mut shard, now);
        }
        let cell = shard.entry(*id).or_insert_with(|| AtomicU64::new(0));
        let current = *cell.get_mut();
        let (next, decision) = gcra::decide(current, now, quota);
        if decision.allowed {
            *cell.get_mut() = next;
        }
        decision
    }

    /// Gives back one unit of key `id` under `quota` (what [`RateLimiter::refund`] does): its
    /// theoretical arrival time moves back by one emission interval, never earlier than now,
    /// which is a full bucket. A key not tracked is left alone.
    pub fn give_back(&self, id: &KeyId, quota: &Quota) {
        let now = self.now_nanos();
        let shard = self.inner.tats.read(id);
        let Some(cell) = shard.get(id) else {
            return;
        };
        let mut current = cell.load(Ordering::Acquire);
        while current > now {
            let back = current.saturating_sub(quota.interval_nanos()).max(now);
            match cell.compare_exchange_weak(current, back, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// Drops the state of every key whose bucket is full again; returns how many were dropped.
    pub fn evict_idle(&self) -> usize {
        let now = self.now_nanos();
        let mut dropped = 0;
        self.inner
            .tats
            .for_each_shard(|shard| dropped += sweep(shard, now));
        dropped
    }

    /// Number of keys whose state is currently held.
    pub fn tracked_keys(&self) -> usize {
        self.inner.tats.len()
    }
}

/// Removes idle entries (TAT not after `now`); shrinks a mostly empty map.
fn sweep(shard: &mut IdHashMap<AtomicU64>, now: u64) -> usize {
    let before = shard.len();
    shard.retain(|_, tat| *tat.get_mut() > now);
    if shard.capacity() > 64 && shard.len() < shard.capacity() / 4 {
        shard.shrink_to_fit();
    }
    before - shard.len()
}

impl<C> Clone for MemoryRateLimiter<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C> fmt::Debug for MemoryRateLimiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryRateLimiter")
            .field("tracked_keys", &self.inner.tats.len())
            .finish()
    }
}

impl<C: Clock> RateLimiter for MemoryRateLimiter<C> {
    type Future = Ready<Result<Decision, LimiterError>>;

    fn check(&self, id: &KeyId, quota: &Quota) -> Self::Future {
        ready(Ok(self.decide(id, quota)))
    }

    fn refund(&self, id: &KeyId, quota: &Quota) {
        self.give_back(id, quota);
    }

    fn refund_usage(&self, usage: &Usage<'_>, counted_at: SystemTime) {
        self.inner
            .usage
            .refund(usage, counted_at, &self.inner.clock);
    }

    fn admit(&self, usage: &Usage<'_>) -> UsageFuture {
        UsageFuture::ready(Ok(self.inner.usage.admit(usage, &self.inner.clock)))
    }
}

impl<C: Clock> MemoryRateLimiter<C> {
    /// The balance of credits `limit` for key `key` of `workspace` (the workspace's balance
    /// for a shared limit), as [`MemoryUsageLimiter::credits`](crate::plan::MemoryUsageLimiter::credits).
    pub fn credits(&self, key: &KeyId, workspace: &Workspace, limit: &Limit) -> Option<u64> {
        self.inner
            .usage
            .credits(key, workspace, limit, &self.inner.clock)
    }

    /// Adds credits, as [`MemoryUsageLimiter::top_up`](crate::plan::MemoryUsageLimiter::top_up).
    pub fn top_up(
        &self,
        key: &KeyId,
        workspace: &Workspace,
        limit: &Limit,
        amount: u64,
    ) -> Option<u64> {
        self.inner
            .usage
            .top_up(key, workspace, limit, amount, &self.inner.clock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::num::NonZeroU32;
    use std::time::Duration;

    fn id(n: u32) -> KeyId {
        KeyId::new(&format!("id{n:010}")).unwrap()
    }

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn each_key_has_its_own_bucket() {
        let limiter = MemoryRateLimiter::with_clock(ManualClock::new());
        let q = Quota::per_second(nz(1));
        assert!(limiter.decide(&id(1), &q).allowed);
        assert!(!limiter.decide(&id(1), &q).allowed);
        assert!(limiter.decide(&id(2), &q).allowed);
    }

    #[test]
    fn keys_on_different_plans_share_one_limiter() {
        let limiter = MemoryRateLimiter::with_clock(ManualClock::new());
        let small = Quota::per_second(nz(1));
        let large = Quota::per_second(nz(3));
        assert!(limiter.decide(&id(1), &small).allowed);
        assert!(!limiter.decide(&id(1), &small).allowed);
        for _ in 0..3 {
            assert!(limiter.decide(&id(2), &large).allowed);
        }
        assert!(!limiter.decide(&id(2), &large).allowed);
    }

    #[test]
    fn a_refused_key_passes_again_after_its_retry_delay() {
        let clock = ManualClock::new();
        let limiter = MemoryRateLimiter::with_clock(clock.clone());
        let q = Quota::per_second(nz(2));
        limiter.decide(&id(1), &q);
        limiter.decide(&id(1), &q);
        let refused = limiter.decide(&id(1), &q);
        assert_eq!(refused.retry_after, Duration::from_millis(500));
        clock.advance(refused.retry_after);
        assert!(limiter.decide(&id(1), &q).allowed);
    }

    #[test]
    fn idle_keys_are_evicted() {
        let clock = ManualClock::new();
        let limiter = MemoryRateLimiter::with_clock(clock.clone());
        let q = Quota::per_second(nz(10));
        for n in 0..100 {
            limiter.decide(&id(n), &q);
        }
        assert_eq!(limiter.tracked_keys(), 100);
        clock.advance(Duration::from_secs(1));
        assert_eq!(limiter.evict_idle(), 100);
        assert_eq!(limiter.tracked_keys(), 0);
    }

    #[test]
    fn memory_stays_bounded_while_keys_come_and_go() {
        let clock = ManualClock::new();
        let limiter = MemoryRateLimiter::with_clock(clock.clone());
        let q = Quota::per_second(nz(10));
        for round in 0..50 {
            for n in 0..200 {
                limiter.decide(&id(round * 1000 + n), &q);
            }
            clock.advance(Duration::from_secs(2));
        }
        // 10,000 distinct keys went through; only about the last rounds' worth can be held.
        assert!(
            limiter.tracked_keys() <= 2_000,
            "{} held",
            limiter.tracked_keys()
        );
    }

    #[test]
    fn a_refunded_unit_can_be_spent_again() {
        let limiter = MemoryRateLimiter::with_clock(ManualClock::new());
        let q = Quota::per_hour(nz(2));
        assert!(limiter.decide(&id(1), &q).allowed);
        assert!(limiter.decide(&id(1), &q).allowed);
        assert!(!limiter.decide(&id(1), &q).allowed);
        limiter.refund(&id(1), &q);
        let again = limiter.decide(&id(1), &q);
        assert!(again.allowed);
        assert_eq!(again.remaining, 0);
        assert!(!limiter.decide(&id(1), &q).allowed);
    }

    #[test]
    fn refunds_never_give_more_than_the_burst() {
        let limiter = MemoryRateLimiter::with_clock(ManualClock::new());
        let q = Quota::per_hour(nz(2));
        assert!(limiter.decide(&id(1), &q).allowed);
        for _ in 0..5 {
            limiter.refund(&id(1), &q);
        }
        assert!(limiter.decide(&id(1), &q).allowed);
        assert!(limiter.decide(&id(1), &q).allowed);
        assert!(!limiter.decide(&id(1), &q).allowed);
    }

    #[test]
    fn a_refund_for_a_key_never_seen_holds_no_state_for_it() {
        let limiter = MemoryRateLimiter::with_clock(ManualClock::new());
        let q = Quota::per_hour(nz(1));
        limiter.refund(&id(1), &q);
        assert_eq!(limiter.tracked_keys(), 0);
        assert!(limiter.decide(&id(1), &q).allowed);
        assert!(!limiter.decide(&id(1), &q).allowed);
    }

    #[test]
    fn a_refund_through_an_arc_reaches_the_limiter() {
        let limiter = Arc::new(MemoryRateLimiter::with_clock(ManualClock::new()));
        let q = Quota::per_hour(nz(1));
        assert!(limiter.decide(&id(1), &q).allowed);
        RateLimiter::refund(&limiter, &id(1), &q);
        assert!(limiter.decide(&id(1), &q).allowed);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// From two threads at once, never more than burst + elapsed / interval admitted.
        #[test]
        fn two_threads_never_exceed_burst_plus_rate_times_elapsed(
            burst in 1_u32..50,
            interval_ms in 1_u64..50,
            step_ms in 0_u64..20,
        ) {
            let clock = ManualClock::new();
            let limiter = MemoryRateLimiter::with_clock(clock.clone());
            let q = Quota::new(burst, Duration::from_millis(interval_ms)).unwrap();
            let admitted = std::sync::atomic::AtomicU64::new(0);
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        for i in 0..2_000 {
                            if i % 50 == 0 {
                                clock.advance(Duration::from_millis(step_ms));
                            }
                            if limiter.decide(&id(7), &q).allowed {
                                admitted.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    });
                }
            });
            let elapsed = clock.monotonic().as_nanos() as u64;
            let bound = u64::from(burst) + elapsed / q.interval_nanos();
            let admitted = admitted.into_inner();
            proptest::prop_assert!(admitted <= bound, "{} admitted, bound {}", admitted, bound);
            proptest::prop_assert!(admitted >= u64::from(burst));
        }
    }
}

//! [`DenyCache`]: refusals remembered locally until their retry time, so that a key hammering a
//! networked limiter after being refused costs no round trip.
//!
//! The cache never refuses a request that the limiter itself would admit: a refusal does not
//! move a key's state, and other instances' admissions only push the key's retry time later,
//! so the real retry time is never earlier than the one remembered. The remembered time is
//! counted from the moment the request was *sent* (before the backend read its own clock), so
//! network latency can only make it earlier, never later.

use std::time::Duration;

use super::{Decision, Quota};
use crate::id_map::ShardedIdMap;
use crate::key::KeyId;

/// Number of shards of [`ShardedIdMap`]; the capacity is spread over them.
const SHARDS: usize = 64;

/// A refusal: when it ends, on the limiter's monotonic clock.
#[derive(Debug, Clone, Copy)]
struct Denial {
    quota: Quota,
    retry_at: Duration,
    reset_at: Duration,
}

/// Bounded map of recently refused keys.
pub(crate) struct DenyCache {
    denials: ShardedIdMap<Denial>,
    per_shard: usize,
}

impl DenyCache {
    /// A cache holding at most about `capacity` refusals (rounded up to a multiple of 64).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            denials: ShardedIdMap::new(),
            per_shard: capacity.div_ceil(SHARDS),
        }
    }

    /// The refusal still in force for `id` under `quota` at `now`, with the delay that remains.
    pub(crate) fn get(&self, id: &KeyId, quota: &Quota, now: Duration) -> Option<Decision> {
        let shard = self.denials.read(id);
        let denial = shard.get(id)?;
        if denial.quota != *quota || now >= denial.retry_at {
            return None;
        }
        Some(Decision {
            allowed: false,
            limit: quota.burst(),
            remaining: 0,
            reset: denial.reset_at.saturating_sub(now),
            retry_after: denial.retry_at - now,
        })
    }

    /// Remembers `refused`, a refusal of `id` under `quota` for a request sent at `sent_at`.
    /// When the key's shard is full of refusals still in force, nothing is remembered: the next
    /// request asks the backend, which is always right.
    pub(crate) fn insert(&self, id: &KeyId, quota: &Quota, sent_at: Duration, refused: &Decision) {
        if self.per_shard == 0 || refused.allowed {
            return;
        }
        let denial = Denial {
            quota: *quota,
            retry_at: sent_at.saturating_add(refused.retry_after),
            reset_at: sent_at.saturating_add(refused.reset),
        };
        let mut shard = self.denials.write(id);
        if shard.len() >= self.per_shard && !shard.contains_key(id) {
            shard.retain(|_, d| d.retry_at > sent_at);
            if shard.len() >= self.per_shard {
                return;
            }
        }
        shard.insert(*id, denial);
    }

    /// Forgets the refusal of `id`, if one is held: a unit given back may have lifted it.
    pub(crate) fn remove(&self, id: &KeyId) {
        self.denials.write(id).remove(id);
    }

    /// Number of refusals held, in force or not yet swept.
    pub(crate) fn len(&self) -> usize {
        self.denials.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(burst: u32, interval_secs: u64) -> Quota {
        Quota::new(burst, Duration::from_secs(interval_secs)).unwrap()
    }

    fn refusal(retry_after: Duration, reset: Duration) -> Decision {
        Decision {
            allowed: false,
            limit: 1,
            remaining: 0,
            reset,
            retry_after,
        }
    }

    fn id(n: u32) -> KeyId {
        KeyId::new(&format!("id{n:010}")).unwrap()
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_refused_key_is_refused_with_the_delay_that_remains() {
        let cache = DenyCache::new(100);
        let q = quota(1, 10);
        cache.insert(&id(1), &q, 5 * SECOND, &refusal(4 * SECOND, 10 * SECOND));
        let later = cache.get(&id(1), &q, 7 * SECOND).unwrap();
        assert!(!later.allowed);
        assert_eq!(later.retry_after, 2 * SECOND);
        assert_eq!(later.reset, 8 * SECOND);
        assert_eq!(later.limit, 1);
    }

    #[test]
    fn a_refusal_ends_at_its_retry_time() {
        let cache = DenyCache::new(100);
        let q = quota(1, 10);
        cache.insert(&id(1), &q, SECOND, &refusal(3 * SECOND, 3 * SECOND));
        assert!(
            cache
                .get(&id(1), &q, 4 * SECOND - Duration::from_nanos(1))
                .is_some()
        );
        assert!(cache.get(&id(1), &q, 4 * SECOND).is_none());
    }

    #[test]
    fn a_refusal_under_another_quota_is_not_reused() {
        let cache = DenyCache::new(100);
        cache.insert(&id(1), &quota(1, 10), SECOND, &refusal(SECOND, SECOND));
        assert!(cache.get(&id(1), &quota(5, 10), SECOND).is_none());
    }

    #[test]
    fn other_keys_are_not_refused() {
        let cache = DenyCache::new(100);
        let q = quota(1, 10);
        cache.insert(&id(1), &q, SECOND, &refusal(SECOND, SECOND));
        assert!(cache.get(&id(2), &q, SECOND).is_none());
    }

    #[test]
    fn admissions_are_not_remembered() {
        let cache = DenyCache::new(100);
        let q = quota(1, 10);
        let admitted = Decision {
            allowed: true,
            ..refusal(Duration::ZERO, SECOND)
        };
        cache.insert(&id(1), &q, SECOND, &admitted);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn the_cache_never_holds_more_than_its_capacity() {
        let cache = DenyCache::new(SHARDS * 2);
        let q = quota(1, 10);
        for n in 0..10_000 {
            cache.insert(&id(n), &q, SECOND, &refusal(60 * SECOND, 60 * SECOND));
        }
        assert!(cache.len() <= SHARDS * 2, "{} held", cache.len());
    }

    #[test]
    fn ended_refusals_make_room_for_new_ones() {
        let cache = DenyCache::new(SHARDS);
        let q = quota(1, 10);
        for n in 0..1_000 {
            cache.insert(&id(n), &q, SECOND, &refusal(SECOND, SECOND));
        }
        for n in 1_000..2_000 {
            cache.insert(&id(n), &q, 10 * SECOND, &refusal(SECOND, SECOND));
        }
        assert!(cache.len() > 0);
        // Every refusal still held is one of the new ones, in force at 10.5 s.
        let in_force = (1_000..2_000)
            .filter(|&n| cache.get(&id(n), &q, 10 * SECOND + SECOND / 2).is_some())
            .count();
        assert_eq!(in_force, cache.len());
    }

    #[test]
    fn a_zero_capacity_cache_remembers_nothing() {
        let cache = DenyCache::new(0);
        let q = quota(1, 10);
        cache.insert(&id(1), &q, SECOND, &refusal(SECOND, SECOND));
        assert!(cache.get(&id(1), &q, SECOND).is_none());
    }
}

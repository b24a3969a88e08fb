//! [`Table`]: what a node knows of each key it leases for: how hot the key is, its lease,
//! and its last refusal.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Units held by a node for one key, spent locally.
pub(super) trait Lease {
    /// Units taken from Redis and not spent yet.
    fn balance(&self) -> u64;
    /// The monotonic time the lease was taken at.
    fn taken_at(&self) -> Duration;

    /// Whether the lease, at `now`, is younger than `ttl` (none is, with `ttl` zero): only then
    /// is it spent.
    fn fresh(&self, now: Duration, ttl: Duration) -> bool {
        now.saturating_sub(self.taken_at()) < ttl
    }
}

/// A refusal that was true at some time and ages: its durations shrink as time passes.
pub(super) trait Aging: Clone {
    /// What was asked: the refusal answers the same question, or a larger one.
    type Ask;
    /// Whether a refusal of `refused` also refuses `ask`.
    fn covers(refused: &Self::Ask, ask: &Self::Ask) -> bool;
    /// The same answer `elapsed` later.
    fn aged(&self, elapsed: Duration) -> Self;
    /// How long the refusal holds for its own reasons (`None`: until something else lifts it,
    /// such as a top-up).
    fn retry_after(&self) -> Option<Duration>;
    /// Whether the answer refuses: only a refusal may be remembered (an admitting answer would
    /// admit every later request without a unit).
    fn refuses(&self) -> bool;
}

/// A key's entry: its state, and the turn for taking a lease (one call per key at a time:
/// requests that find the balance empty while a lease is on its way wait for it).
pub(super) struct Entry<L, R: Aging> {
    slot: Mutex<Slot<L, R>>,
    pub(super) taking: tokio::sync::Mutex<()>,
}

impl<L, R: Aging> Entry<L, R> {
    /// The entry's state, even if a thread panicked while holding it (every change to a slot
    /// is one assignment: none is left half made).
    pub(super) fn slot(&self) -> MutexGuard<'_, Slot<L, R>> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A refusal from Redis, answered locally until it lapses.
struct Refusal<R: Aging> {
    at: Duration,
    until: Duration,
    ask: R::Ask,
    answer: R,
}

/// The state of one key on this node.
pub(super) struct Slot<L, R: Aging> {
    /// The whole second (monotonic) the requests in `seen` came in.
    second: u64,
    seen: u32,
    /// Whether the key was hot in the second before `second`.
    was_hot: bool,
    /// The lease being spent.
    pub(super) lease: Option<L>,
    refused: Option<Refusal<R>>,
}

impl<L: Lease, R: Aging> Slot<L, R> {
    /// Counts a request at `now`; whether the key is hot: more than `hot_after` requests in
    /// this second, or in the second before (a key that stays hot keeps its leases across
    /// seconds).
    pub(super) fn count(&mut self, now: Duration, hot_after: u32) -> bool {
        let second = now.as_secs();
        if second != self.second {
            self.was_hot = second == self.second.saturating_add(1) && self.seen > hot_after;
            self.second = second;
            self.seen = 0;
        }
        self.seen = self.seen.saturating_add(1);
        self.was_hot || self.seen > hot_after
    }

    /// Remembers the refusal of `ask` made at `now` for as long as it holds, and at most
    /// `ttl`.
    /// An answer that admits is not remembered.
    pub(super) fn refuse(&mut self, now: Duration, ask: R::Ask, answer: R, ttl: Duration) {
        if !answer.refuses() {
            return;
        }
        let hold = answer.retry_after().map_or(ttl, |retry| retry.min(ttl));
        self.refused = Some(Refusal {
            at: now,
            until: now + hold,
            ask,
            answer,
        });
    }

    /// The refusal still holding at `now` that covers `ask`, aged.
    pub(super) fn refusal(&mut self, now: Duration, ask: &R::Ask) -> Option<R> {
        match &self.refused {
            Some(r) if now >= r.until => {
                self.refused = None;
                None
            }
            Some(r) if R::covers(&r.ask, ask) => Some(r.answer.aged(now.saturating_sub(r.at))),
            _ => None,
        }
    }

    /// Forgets the refusal (units came back).
    pub(super) fn lift(&mut self) {
        self.refused = None;
    }

    /// Nothing to keep: no lease, no refusal, no request this second or the one before.
    fn idle(&self, now: Duration) -> bool {
        self.lease.is_none()
            && self.refused.as_ref().is_none_or(|r| now >= r.until)
            && self.second.saturating_add(1) < now.as_secs()
    }
}

/// Shards of a table: requests of different keys rarely wait for one another's lock.
const SHARDS: usize = 16;

type Shard<K, L, R> = Mutex<HashMap<K, Arc<Entry<L, R>>>>;

/// Every key a node leases for, by `K`, in [`SHARDS`] maps.
pub(super) struct Table<K, L, R: Aging> {
    shards: Box<[Shard<K, L, R>]>,
    hasher: RandomState,
}

impl<K: Hash + Eq + Clone, L: Lease, R: Aging> Table<K, L, R> {
    pub(super) fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }

    fn lock(shard: &Shard<K, L, R>) -> MutexGuard<'_, HashMap<K, Arc<Entry<L, R>>>> {
        shard.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The shard that holds `key`.
    fn map(&self, key: &K) -> MutexGuard<'_, HashMap<K, Arc<Entry<L, R>>>> {
        // The remainder is below SHARDS: the cast cannot truncate.
        let i = (self.hasher.hash_one(key) % SHARDS as u64) as usize;
        Self::lock(&self.shards[i])
    }

    /// The entry of `key`, made if there is none.
    pub(super) fn entry(&self, key: &K) -> Arc<Entry<L, R>> {
        let mut map = self.map(key);
        if let Some(entry) = map.get(key) {
            return Arc::clone(entry);
        }
        let entry = Arc::new(Entry {
            slot: Mutex::new(Slot {
                second: 0,
                seen: 0,
                was_hot: false,
                lease: None,
                refused: None,
            }),
            taking: tokio::sync::Mutex::new(()),
        });
        map.insert(key.clone(), Arc::clone(&entry));
        entry
    }

    /// The entry of `key`, if there is one.
    pub(super) fn get(&self, key: &K) -> Option<Arc<Entry<L, R>>> {
        self.map(key).get(key).cloned()
    }

    /// Takes out the leases taken `ttl` or more before `now` (all of them with `ttl` zero),
    /// and forgets idle keys that no request is using.
    pub(super) fn expire(&self, now: Duration, ttl: Duration) -> Vec<(K, L)> {
        let mut expired = Vec::new();
        for shard in &self.shards {
            Self::lock(shard).retain(|key, entry| {
                let mut slot = entry.slot();
                if slot.lease.as_ref().is_some_and(|l| !l.fresh(now, ttl))
                    && let Some(lease) = slot.lease.take()
                {
                    expired.push((key.clone(), lease));
                }
                // A request holding the entry may be taking a lease into it: keep it.
                !(slot.idle(now) && Arc::strong_count(entry) == 1)
            });
        }
        expired
    }

    /// The unspent units of every lease.
    pub(super) fn held(&self) -> u64 {
        let mut held = 0_u64;
        for shard in &self.shards {
            for entry in Self::lock(shard).values() {
                let balance = entry.slot().lease.as_ref().map_or(0, Lease::balance);
                held = held.saturating_add(balance);
            }
        }
        held
    }

    /// The number of keys known.
    pub(super) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| Self::lock(shard).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Units(u64, Duration);

    impl Lease for Units {
        fn balance(&self) -> u64 {
            self.0
        }

        fn taken_at(&self) -> Duration {
            self.1
        }
    }

    /// An answer: its retry time, and whether it refuses.
    #[derive(Debug, Clone, PartialEq)]
    struct Refused(Duration, bool);

    impl Aging for Refused {
        type Ask = u32;

        fn covers(refused: &u32, ask: &u32) -> bool {
            ask >= refused
        }

        fn aged(&self, elapsed: Duration) -> Self {
            Self(self.0.saturating_sub(elapsed), self.1)
        }

        fn retry_after(&self) -> Option<Duration> {
            Some(self.0)
        }

        fn refuses(&self) -> bool {
            self.1
        }
    }

    #[test]
    fn an_admitting_answer_is_never_remembered_as_a_refusal() {
        let table = T::new();
        let entry = table.entry(&1);
        let mut slot = entry.slot();
        slot.refuse(secs(1.0), 1, Refused(secs(1.0), false), secs(1.0));
        assert_eq!(slot.refusal(secs(1.1), &1), None);
        slot.refuse(secs(1.0), 1, Refused(secs(1.0), true), secs(1.0));
        assert!(slot.refusal(secs(1.1), &1).is_some());
    }

    type T = Table<u32, Units, Refused>;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn a_key_is_hot_past_its_threshold_within_one_second() {
        let table = T::new();
        let entry = table.entry(&1);
        let mut slot = entry.slot();
        assert!(!slot.count(secs(5.1), 2));
        assert!(!slot.count(secs(5.2), 2));
        assert!(slot.count(secs(5.9), 2));
        assert!(table.entry(&2).slot().count(secs(5.0), 0));
    }

    #[test]
    fn a_hot_key_stays_hot_through_the_next_second_and_cools_after_a_quiet_one() {
        let table = T::new();
        let entry = table.entry(&1);
        let mut slot = entry.slot();
        for _ in 0..3 {
            slot.count(secs(5.5), 2);
        }
        assert!(slot.count(secs(6.0), 2));
        // One request in second 6: second 7 starts cold.
        assert!(!slot.count(secs(7.0), 2));
        for _ in 0..3 {
            slot.count(secs(7.5), 2);
        }
        // Hot in second 7, but second 8 went by: second 9 starts cold.
        assert!(!slot.count(secs(9.0), 2));
    }

    #[test]
    fn a_refusal_is_answered_aged_until_its_retry_time_and_at_most_the_ttl() {
        let table = T::new();
        let entry = table.entry(&1);
        let mut slot = entry.slot();
        slot.refuse(secs(1.0), 1, Refused(secs(0.5), true), secs(10.0));
        assert_eq!(slot.refusal(secs(1.2), &1), Some(Refused(secs(0.3), true)));
        assert_eq!(slot.refusal(secs(1.5), &1), None);
        slot.refuse(secs(2.0), 1, Refused(secs(60.0), true), secs(1.0));
        assert!(slot.refusal(secs(2.9), &1).is_some());
        assert_eq!(slot.refusal(secs(3.0), &1), None);
        slot.refuse(secs(4.0), 1, Refused(secs(60.0), true), secs(1.0));
        slot.lift();
        assert_eq!(slot.refusal(secs(4.0), &1), None);
    }

    #[test]
    fn a_refusal_answers_only_what_it_covers() {
        let table = T::new();
        let entry = table.entry(&1);
        let mut slot = entry.slot();
        slot.refuse(secs(1.0), 5, Refused(secs(9.0), true), secs(10.0));
        assert_eq!(slot.refusal(secs(1.0), &4), None);
        assert!(slot.refusal(secs(1.0), &5).is_some());
        assert!(slot.refusal(secs(1.0), &6).is_some());
    }

    #[test]
    fn expiry_takes_out_old_leases_and_forgets_idle_keys_no_request_holds() {
        let table = T::new();
        table.entry(&1).slot().lease = Some(Units(5, secs(0.0)));
        table.entry(&2).slot().lease = Some(Units(5, secs(9.5)));
        table.entry(&3).slot().count(secs(9.8), 0);
        let held = table.entry(&4);
        let expired = table.expire(secs(10.0), secs(1.0));
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].0, 1);
        // 1 is idle once its lease is out (no request since second 0): it goes; 2 holds a
        // lease; 3 had a request in the second before; 4 is held by a request.
        assert!(table.get(&1).is_none());
        assert!(table.get(&2).is_some() && table.get(&3).is_some() && table.get(&4).is_some());
        drop(held);
        assert_eq!(table.len(), 3);
        // A zero ttl takes every lease (shutdown); 2 and 4 are idle then, 3 is not yet.
        assert_eq!(table.expire(secs(10.0), Duration::ZERO).len(), 1);
        assert!(table.get(&3).is_some());
        assert_eq!(table.len(), 1);
    }
}

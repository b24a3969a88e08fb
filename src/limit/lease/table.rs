//! [`Table`]: what a node knows of each key it leases for: how hot the key is, its lease,
//! and its last refusal.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Units held by a node for one key, spent locally.
pub(super) trait Lease {
    /// Units taken from Redis and not spent yet.
    fn balance(&self) -> u64;
    /// The monotonic time the lease was taken at.
    fn taken_at(&self) -> Duration;
}

/// An answer that was true at some time and ages: its durations shrink as time passes.
pub(super) trait Aging: Clone {
    /// The same answer `elapsed` later.
    fn aged(&self, elapsed: Duration) -> Self;
    /// How long the refusal holds for its own reasons (`None`: until something else lifts it,
    /// such as a top-up).
    fn retry_after(&self) -> Option<Duration>;
}

/// A key's entry: its state, and the turn for taking a lease (one call per key at a time:
/// requests that find the balance empty while a lease is on its way wait for it).
pub(super) struct Entry<L, R> {
    slot: Mutex<Slot<L, R>>,
    pub(super) taking: tokio::sync::Mutex<()>,
}

impl<L, R> Entry<L, R> {
    /// The entry's state, even if a thread panicked while holding it (every change to a slot
    /// is one assignment: none is left half made).
    pub(super) fn slot(&self) -> MutexGuard<'_, Slot<L, R>> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A refusal from Redis, answered locally until it lapses.
struct Refusal<R> {
    at: Duration,
    until: Duration,
    answer: R,
}

/// The state of one key on this node.
pub(super) struct Slot<L, R> {
    /// The whole second (monotonic) the requests in `seen` came in.
    second: u64,
    seen: u32,
    /// The lease being spent.
    pub(super) lease: Option<L>,
    refused: Option<Refusal<R>>,
}

impl<L: Lease, R: Aging> Slot<L, R> {
    /// Counts a request at `now`; whether the key is hot: more than `hot_after` requests in
    /// this second.
    pub(super) fn count(&mut self, now: Duration, hot_after: u32) -> bool {
        let second = now.as_secs();
        if second != self.second {
            self.second = second;
            self.seen = 0;
        }
        self.seen = self.seen.saturating_add(1);
        self.seen > hot_after
    }

    /// Remembers a refusal made at `now` for as long as it holds, and at most `ttl`.
    pub(super) fn refuse(&mut self, now: Duration, answer: R, ttl: Duration) {
        let hold = answer.retry_after().map_or(ttl, |retry| retry.min(ttl));
        self.refused = Some(Refusal {
            at: now,
            until: now + hold,
            answer,
        });
    }

    /// The refusal still holding at `now`, aged.
    pub(super) fn refusal(&mut self, now: Duration) -> Option<R> {
        match &self.refused {
            Some(r) if now < r.until => Some(r.answer.aged(now.saturating_sub(r.at))),
            Some(_) => {
                self.refused = None;
                None
            }
            None => None,
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

/// Every key a node leases for, by `K`.
pub(super) struct Table<K, L, R> {
    map: Mutex<HashMap<K, Arc<Entry<L, R>>>>,
}

impl<K: Hash + Eq + Clone, L: Lease, R: Aging> Table<K, L, R> {
    pub(super) fn new() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> MutexGuard<'_, HashMap<K, Arc<Entry<L, R>>>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The entry of `key`, made if there is none.
    pub(super) fn entry(&self, key: &K) -> Arc<Entry<L, R>> {
        let mut map = self.map();
        if let Some(entry) = map.get(key) {
            return Arc::clone(entry);
        }
        let entry = Arc::new(Entry {
            slot: Mutex::new(Slot {
                second: 0,
                seen: 0,
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
        self.map().get(key).cloned()
    }

    /// Takes out the leases taken `ttl` or more before `now` (all of them with `ttl` zero),
    /// and forgets idle keys that no request is using.
    pub(super) fn expire(&self, now: Duration, ttl: Duration) -> Vec<(K, L)> {
        let mut expired = Vec::new();
        self.map().retain(|key, entry| {
            let mut slot = entry.slot();
            if slot
                .lease
                .as_ref()
                .is_some_and(|l| ttl.is_zero() || now.saturating_sub(l.taken_at()) >= ttl)
                && let Some(lease) = slot.lease.take()
            {
                expired.push((key.clone(), lease));
            }
            // A request holding the entry may be taking a lease into it: keep it.
            !(slot.idle(now) && Arc::strong_count(entry) == 1)
        });
        expired
    }

    /// Calls `f` with every lease held.
    pub(super) fn each_lease(&self, mut f: impl FnMut(&L)) {
        for entry in self.map().values() {
            if let Some(lease) = &entry.slot().lease {
                f(lease);
            }
        }
    }

    /// The number of keys known.
    pub(super) fn len(&self) -> usize {
        self.map().len()
    }
}

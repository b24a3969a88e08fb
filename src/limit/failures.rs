//! [`FailureLimit`]: throttling failed authentication per client address.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::{Decision, Quota, gcra};
use crate::clock::Clock;
use crate::id_map::Padded;

/// Number of shards of the client map; a power of two.
const SHARDS: usize = 16;

/// How failed authentications are throttled; set with
/// [`ApiKeyLayerBuilder::failure_limit`](crate::ApiKeyLayerBuilder::failure_limit).
///
/// | setting | default |
/// |---|---|
/// | [`per_client`](Self::per_client) | 100 failures at once, then 1 per second |
/// | [`global`](Self::global) | 1000 failures at once, then 200 per second |
/// | [`unattributed`](Self::unattributed) | as `global`: the shared bucket of requests with no address |
/// | [`max_clients`](Self::max_clients) | 100 000 |
///
/// The defaults never touch a client that fails now and then; they stop a script that retries
/// a bad key in a loop, and one client's flood of random keys, after a few seconds. The limit
/// is on by default because without it every bad key costs a hash and a store lookup, which a
/// single client can repeat as fast as the store answers; the price is that a client over its
/// budget is refused even with a valid key until its budget refills (one failure a second),
/// and that clients behind one address (NAT, a proxy, or no address known) share a budget.
///
///
/// An unknown id, a wrong secret, a revoked or an expired key each cost a SHA-256 and a store
/// lookup. The layer counts these failures per client address (see
/// [`ClientAddr`](crate::ClientAddr)) with the same GCRA rule as the per-key limiters, and
/// keeps one global count besides:
///
/// - a client **over its own failure budget** is answered 429 `rate_limited`, with
///   `Retry-After`, before its key is hashed or looked up (what GitHub and most APIs answer to
///   repeated failed authentication); this holds for every request it sends, valid keys
///   included, until its budget refills;
/// - while the **global failure budget** is spent, clients that failed recently are answered
///   the same way, while clients without recent failures (the valid-key users) still go
///   through: a flood of bad keys does not starve valid keys;
/// - malformed keys do not count: they are refused before any hash or lookup anyway.
///
/// IPv6 clients are counted per /64 (one host's usual allocation); IPv4 clients per address.
/// Requests with no known address share one bucket with the
/// [`unattributed`](FailureLimit::unattributed) budget, so one flooding client then throttles
/// every such request: give the layer the address. At most
/// [`max_clients`](FailureLimit::max_clients) clients are tracked; clients whose budget is
/// full again are forgotten first, and a client that finds no room is not tracked (only the
/// global count sees its failures).
///
/// ```
/// use std::num::NonZeroU32;
/// use keygate::{FailureLimit, Quota};
///
/// // 10 failures at once per client, then one a minute.
/// let strict = FailureLimit::default()
///     .per_client(Quota::per_minute(NonZeroU32::MIN).allow_burst(NonZeroU32::new(10).unwrap()));
/// assert_eq!(strict.per_client_quota().burst(), 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureLimit {
    per_client: Quota,
    global: Quota,
    unattributed: Quota,
    max_clients: usize,
}

fn quota(burst: u32, per_second: u32) -> Quota {
    let nz = |n| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(nz(per_second)).allow_burst(nz(burst))
}

impl Default for FailureLimit {
    fn default() -> Self {
        let global = quota(1000, 200);
        Self {
            per_client: quota(100, 1),
            global,
            unattributed: global,
            max_clients: 100_000,
        }
    }
}

impl FailureLimit {
    /// The failures each client address may cause.
    pub fn per_client(mut self, quota: Quota) -> Self {
        self.per_client = quota;
        self
    }

    /// The failures all clients together may cause before clients that failed recently are
    /// refused.
    pub fn global(mut self, quota: Quota) -> Self {
        self.global = quota;
        self
    }

    /// The failures requests with no known client address may cause, together.
    pub fn unattributed(mut self, quota: Quota) -> Self {
        self.unattributed = quota;
        self
    }

    /// The most client addresses tracked at once (at least one per shard, 16).
    pub fn max_clients(mut self, clients: usize) -> Self {
        self.max_clients = clients;
        self
    }

    /// See [`per_client`](Self::per_client).
    pub fn per_client_quota(&self) -> Quota {
        self.per_client
    }

    /// See [`global`](Self::global).
    pub fn global_quota(&self) -> Quota {
        self.global
    }

    /// See [`unattributed`](Self::unattributed).
    pub fn unattributed_quota(&self) -> Quota {
        self.unattributed
    }

    /// See [`max_clients`](Self::max_clients).
    pub fn max_tracked_clients(&self) -> usize {
        self.max_clients
    }
}

/// Whom a failure is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Client {
    /// No address known: one shared bucket.
    Unattributed,
    V4([u8; 4]),
    /// The /64 prefix.
    V6([u8; 8]),
}

impl Client {
    pub(crate) fn of(addr: Option<IpAddr>) -> Self {
        match addr.map(|ip| ip.to_canonical()) {
            None => Client::Unattributed,
            Some(IpAddr::V4(v4)) => Client::V4(v4.octets()),
            Some(IpAddr::V6(v6)) => {
                let mut prefix = [0_u8; 8];
                prefix.copy_from_slice(&v6.octets()[..8]);
                Client::V6(prefix)
            }
        }
    }
}

/// Why a client is refused before its key is looked up: the quota that applied and the
/// decision, for `Retry-After` and the rate-limit headers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refusal {
    pub(crate) quota: Quota,
    pub(crate) decision: Decision,
}

type Shard = HashMap<Client, u64>;

/// The failure counts: one GCRA state per client, and one for everyone.
pub(crate) struct FailureLimiter {
    limit: FailureLimit,
    /// Padded: see [`Padded`].
    shards: Box<[Padded<Mutex<Shard>>]>,
    picker: RandomState,
    per_shard: usize,
    /// Clients tracked; while zero, checking a request reads neither a map nor the clock.
    tracked: AtomicUsize,
    global: AtomicU64,
    clock: Arc<dyn Clock>,
}

impl FailureLimiter {
    pub(crate) fn new(limit: FailureLimit, clock: Arc<dyn Clock>) -> Self {
        Self {
            limit,
            shards: (0..SHARDS)
                .map(|_| Padded(Mutex::new(Shard::new())))
                .collect(),
            picker: RandomState::new(),
            per_shard: limit.max_clients.div_ceil(SHARDS).max(1),
            tracked: AtomicUsize::new(0),
            global: AtomicU64::new(0),
            clock,
        }
    }

    fn shard(&self, client: &Client) -> MutexGuard<'_, Shard> {
        let index = (self.picker.hash_one(client) >> 32) as usize & (SHARDS - 1);
        // A poisoned lock is recovered: the map holds plain numbers.
        self.shards[index]
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn now_nanos(&self) -> u64 {
        // Offset by one so that a stored 0 always means "never failed".
        u64::try_from(self.clock.monotonic().as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_add(1)
    }

    fn quota_for(&self, client: &Client) -> &Quota {
        match client {
            Client::Unattributed => &self.limit.unattributed,
            _ => &self.limit.per_client,
        }
    }

    /// Whether `client` may have its key looked up now.
    pub(crate) fn admit(&self, client: Client) -> Result<(), Refusal> {
        if self.tracked.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        let Some(tat) = self.shard(&client).get(&client).copied() else {
            return Ok(());
        };
        let now = self.now_nanos();
        if tat <= now {
            // No failure left in its budget's memory: a client like any other.
            return Ok(());
        }
        let quota = *self.quota_for(&client);
        let (_, own) = gcra::decide(tat, now, &quota);
        if !own.allowed {
            return Err(Refusal {
                quota,
                decision: own,
            });
        }
        let global = self.limit.global;
        let (_, everyone) = gcra::decide(self.global.load(Ordering::Acquire), now, &global);
        if everyone.allowed {
            return Ok(());
        }
        // Refused until the global budget refills or this client's failures are forgotten,
        // whichever comes first.
        let forgotten = Duration::from_nanos(tat - now);
        Err(Refusal {
            quota: global,
            decision: Decision {
                retry_after: everyone.retry_after.min(forgotten),
                ..everyone
            },
        })
    }

    /// Counts one failed authentication of `client`.
    pub(crate) fn record(&self, client: Client) {
        let now = self.now_nanos();
        let quota = *self.quota_for(&client);
        {
            let mut shard = self.shard(&client);
            let tracked_before = shard.len();
            if !shard.contains_key(&client) && shard.len() >= self.per_shard {
                shard.retain(|_, tat| *tat > now);
            }
            if shard.contains_key(&client) || shard.len() < self.per_shard {
                let tat = shard.entry(client).or_insert(0);
                *tat = gcra::decide(*tat, now, &quota).0;
            }
            let tracked_after = shard.len();
            drop(shard);
            if tracked_after >= tracked_before {
                self.tracked
                    .fetch_add(tracked_after - tracked_before, Ordering::AcqRel);
            } else {
                self.tracked
                    .fetch_sub(tracked_before - tracked_after, Ordering::AcqRel);
            }
        }
        let global = self.limit.global;
        let mut current = self.global.load(Ordering::Acquire);
        loop {
            let (next, decision) = gcra::decide(current, now, &global);
            if !decision.allowed || next == current {
                return;
            }
            match self.global.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// Forgets every client whose failures are all refilled; returns how many.
    #[cfg(test)]
    fn evict_idle(&self) -> usize {
        let now = self.now_nanos();
        let mut dropped = 0;
        for shard in self.shards.iter() {
            let mut shard = shard.0.lock().unwrap_or_else(|e| e.into_inner());
            let before = shard.len();
            shard.retain(|_, tat| *tat > now);
            dropped += before - shard.len();
        }
        self.tracked.fetch_sub(dropped, Ordering::AcqRel);
        dropped
    }

    /// Number of clients tracked.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.tracked.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn limiter(limit: FailureLimit) -> (FailureLimiter, ManualClock) {
        let clock = ManualClock::new();
        (FailureLimiter::new(limit, Arc::new(clock.clone())), clock)
    }

    fn v4(last: u8) -> Client {
        Client::of(Some(IpAddr::from([192, 0, 2, last])))
    }

    #[test]
    fn a_client_is_refused_once_its_failures_exceed_its_burst_and_admitted_after_the_retry_delay() {
        let (limiter, clock) = limiter(FailureLimit::default().per_client(quota(3, 1)));
        for _ in 0..3 {
            assert!(limiter.admit(v4(1)).is_ok());
            limiter.record(v4(1));
        }
        let refused = limiter.admit(v4(1)).unwrap_err();
        assert_eq!(refused.decision.retry_after, Duration::from_secs(1));
        assert!(
            limiter.admit(v4(2)).is_ok(),
            "another client is not touched"
        );
        clock.advance(refused.decision.retry_after);
        assert!(limiter.admit(v4(1)).is_ok());
    }

    #[test]
    fn a_spent_global_budget_refuses_only_clients_with_recent_failures() {
        let limit = FailureLimit::default()
            .per_client(quota(10, 1))
            .global(quota(4, 1));
        let (limiter, _clock) = limiter(limit);
        for client in [v4(1), v4(2)] {
            for _ in 0..2 {
                limiter.record(client);
            }
        }
        let refused = limiter.admit(v4(1)).unwrap_err();
        assert_eq!(refused.quota, quota(4, 1));
        assert!(limiter.admit(v4(3)).is_ok(), "no failures: goes through");
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Client::of(Some(a)), Client::of(Some(b)));
        assert_ne!(Client::of(Some(a)), Client::of(Some(c)));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(Client::of(Some(mapped)), v4(1));
    }

    #[test]
    fn memory_stays_bounded_whatever_the_number_of_clients() {
        let (limiter, clock) = limiter(FailureLimit::default().max_clients(64));
        for n in 0..10_000_u32 {
            limiter.record(Client::of(Some(IpAddr::from(n.to_be_bytes()))));
        }
        let held = limiter.tracked();
        assert!(held <= 64, "{held} tracked");
        clock.advance(Duration::from_secs(3600));
        assert_eq!(limiter.evict_idle(), held);
        assert_eq!(limiter.tracked(), 0);
    }

    #[test]
    fn idle_clients_make_room_for_new_ones() {
        let (limiter, clock) = limiter(FailureLimit::default().max_clients(16));
        for n in 0..1_000_u32 {
            limiter.record(Client::of(Some(IpAddr::from(n.to_be_bytes()))));
        }
        clock.advance(Duration::from_secs(3600));
        let newcomer = v4(200);
        for _ in 0..200 {
            limiter.record(newcomer);
        }
        assert!(limiter.admit(newcomer).is_err(), "the newcomer is tracked");
    }
}

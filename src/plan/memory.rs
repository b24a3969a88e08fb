//! [`MemoryUsageLimiter`]: every limit of a plan decided in one atomic step, in process
//! memory.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::usage::{LimitState, Usage, UsageDecision};
use super::{Limit, LimitKind, LimitName, MAX_LIMITS, Period, Sharing};
use crate::clock::{Clock, SystemClock};
use crate::id_map::{IdHasher, Padded, ShardedIdMap};
use crate::key::KeyId;
use crate::limit::gcra;
use crate::workspace::Workspace;

const WORKSPACE_SHARDS: usize = 16;

/// Decides usage against plans in process memory: rates, calendar quotas and credits, per key
/// or per workspace, all of a plan's limits in one atomic step.
///
/// Each key and each workspace has one entry holding its counters, by limit name. A request
/// locks its key's entry, then its workspace's (always in that order, so two requests never
/// wait for each other), decides every limit, and writes the counters back only if all of
/// them admit it: a refused request spends nothing. Concurrent requests never over-admit a
/// quota or spend credits twice.
///
/// Calendar periods are read on the clock's coarse wall time (a few milliseconds of
/// resolution); rates on its monotonic time. Counters are kept by limit name, so a plan whose
/// values change keeps what was counted. Nothing survives a restart: calendar quotas and
/// credits start again. Clones share the counters.
pub struct MemoryUsageLimiter<C = SystemClock> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    counters: Counters,
    clock: C,
}

/// Every key's and workspace's counters: the state of a [`MemoryUsageLimiter`], also held by
/// [`MemoryRateLimiter`](crate::MemoryRateLimiter) for keys under a plan. The clock is the
/// holder's.
pub(crate) struct Counters {
    keys: ShardedIdMap<Mutex<KeyEntry>>,
    workspaces: Box<[Padded<RwLock<WorkspaceMap>>]>,
}

/// Workspaces' entries. Workspace ids are the operator's, not a client's: a fast hash.
type WorkspaceMap = HashMap<Workspace, Arc<Mutex<Entry>>, BuildHasherDefault<IdHasher>>;

/// A key's counters, and the entry of the workspace its shared limits last counted in (so
/// that a request reaches both with one map lookup).
#[derive(Default)]
struct KeyEntry {
    counters: Entry,
    workspace: Option<(Workspace, Arc<Mutex<Entry>>)>,
}

/// One subject's counters, by limit name (a handful: a linear scan beats hashing). A slot
/// holds `None` until its limit first spends.
#[derive(Default)]
struct Entry {
    counters: Vec<(LimitName, Option<Counter>)>,
}

impl Entry {
    fn get(&self, name: &LimitName) -> Option<Counter> {
        self.counters
            .iter()
            .find(|(n, _)| n.same(name))
            .and_then(|(_, counter)| *counter)
    }

    /// The index of `name`'s slot, made if needed.
    fn slot(&mut self, name: &LimitName) -> usize {
        match self.counters.iter().position(|(n, _)| n.same(name)) {
            Some(i) => i,
            None => {
                self.counters.push((name.clone(), None));
                self.counters.len() - 1
            }
        }
    }

    fn set(&mut self, name: &LimitName, counter: Counter) {
        let slot = self.slot(name);
        self.counters[slot].1 = Some(counter);
    }
}

/// A period as a counter remembers it: its bounds in seconds since the epoch, so that a
/// request within it needs no calendar arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u64,
    end: u64,
}

impl Span {
    const NONE: Span = Span { start: 0, end: 0 };

    fn contains(&self, secs: u64) -> bool {
        self.start <= secs && secs < self.end
    }

    /// The span of `period` at `now`, reusing `known` when `now` lies in it.
    fn at(known: Span, period: Period, now: Now) -> Span {
        if known.contains(now.secs) {
            return known;
        }
        let window = period.window(now.wall);
        let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Span {
            start: secs(window.start()),
            end: secs(window.end()),
        }
    }

    fn remaining(&self, now: Now) -> Duration {
        Duration::from_secs(self.end.saturating_sub(now.secs))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counter {
    /// GCRA's theoretical arrival time, in the clock's monotonic nanoseconds.
    Rate { tat: u64 },
    /// Units admitted in the period `span`.
    Quota { span: Span, used: u64 },
    /// The balance, and the refill period it was last refilled in.
    Credits { span: Span, balance: u64 },
}

impl MemoryUsageLimiter<SystemClock> {
    /// A limiter on the system clock.
    pub fn new() -> Self {
        Self::with_clock(SystemClock::new())
    }
}

impl Default for MemoryUsageLimiter<SystemClock> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C> Clone for MemoryUsageLimiter<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C> fmt::Debug for MemoryUsageLimiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryUsageLimiter").finish_non_exhaustive()
    }
}

/// The time a decision is made at: coarse wall time for calendar periods, monotonic for
/// rates.
#[derive(Clone, Copy)]
struct Now {
    wall: SystemTime,
    secs: u64,
    mono: u64,
}

fn locked<T>(entry: &Mutex<T>) -> MutexGuard<'_, T> {
    // Counters are written whole, after every decision is made: a panic elsewhere cannot
    // leave one half-written.
    entry.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<C: Clock> MemoryUsageLimiter<C> {
    /// A limiter on `clock` (a [`ManualClock`](crate::clock::ManualClock) in tests of period
    /// ends and refills).
    pub fn with_clock(clock: C) -> Self {
        Self {
            inner: Arc::new(Inner {
                counters: Counters::default(),
                clock,
            }),
        }
    }

    /// Counts `usage` against every limit of its plan: admitted only if all admit it, and
    /// then each limit spends the request's cost; refused, nothing is spent.
    pub fn admit(&self, usage: &Usage<'_>) -> UsageDecision {
        self.inner.counters.admit(usage, &self.inner.clock)
    }

    /// Gives back what an admitted [`admit`](Self::admit) of `usage` spent, the decision
    /// having counted calendar periods at `counted_at`
    /// ([`UsageDecision::counted_at`]): its cost on every limit of its plan, as far as each
    /// still holds it. A rate's bucket is never made fuller than it is now; a quota's units
    /// go back only while its counter is still in the period that counted them, and credits
    /// only within the refill period that spent them (a refill since has made the balance
    /// whole), so that no period ever admits more than its maximum. Nothing happens for a
    /// key or workspace with no counters.
    pub fn refund(&self, usage: &Usage<'_>, counted_at: SystemTime) {
        self.inner
            .counters
            .refund(usage, counted_at, &self.inner.clock);
    }

    /// The balance of credits `limit` for key `key` of `workspace` (the workspace's balance
    /// for a shared limit), refills applied. `None` if `limit` is not a credits limit.
    pub fn credits(&self, key: &KeyId, workspace: &Workspace, limit: &Limit) -> Option<u64> {
        self.inner
            .counters
            .credits(key, workspace, limit, &self.inner.clock)
    }

    /// Adds `amount` credits to `limit`'s balance for key `key` of `workspace` (the
    /// workspace's balance for a shared limit) and returns the new balance (saturating).
    /// `None`, and nothing changed, if `limit` is not a credits limit.
    pub fn top_up(
        &self,
        key: &KeyId,
        workspace: &Workspace,
        limit: &Limit,
        amount: u64,
    ) -> Option<u64> {
        self.inner
            .counters
            .top_up(key, workspace, limit, amount, &self.inner.clock)
    }
}

/// The time, reading only the clocks the limits need: the (coarse) wall clock for calendar
/// periods, the monotonic one for rates.
fn now_for(clock: &impl Clock, wall: bool, mono: bool) -> Now {
    let (wall, secs) = if wall {
        let at = clock.coarse_now();
        (at, at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
    } else {
        (UNIX_EPOCH, 0)
    };
    let mono = if mono {
        u64::try_from(clock.monotonic().as_nanos()).unwrap_or(u64::MAX)
    } else {
        0
    };
    Now { wall, secs, mono }
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            keys: ShardedIdMap::new(),
            workspaces: (0..WORKSPACE_SHARDS)
                .map(|_| Padded(RwLock::default()))
                .collect(),
        }
    }
}

impl Counters {
    /// Runs `f` on the entry of key `id`, locked, creating the entry if needed.
    fn with_key<T>(&self, id: &KeyId, f: impl FnOnce(&mut KeyEntry) -> T) -> T {
        {
            let shard = self.keys.read(id);
            if let Some(entry) = shard.get(id) {
                return f(&mut locked(entry));
            }
        }
        let mut shard = self.keys.write(id);
        let entry = shard.entry(*id).or_default();
        f(&mut locked(entry))
    }

    /// The entry of `workspace`, created if needed.
    fn workspace(&self, workspace: &Workspace) -> Arc<Mutex<Entry>> {
        // The modulo keeps the index below the shard count, which fits any usize.
        let shard = &self.workspaces[(BuildHasherDefault::<IdHasher>::default().hash_one(workspace)
            % WORKSPACE_SHARDS as u64) as usize]
            .0;
        {
            let map = shard.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(entry) = map.get(workspace) {
                return Arc::clone(entry);
            }
        }
        let mut map = shard.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(map.entry(workspace.clone()).or_default())
    }

    /// Runs `f` on the entry of `workspace`, locked, creating the entry if needed.
    fn with_workspace<T>(&self, workspace: &Workspace, f: impl FnOnce(&mut Entry) -> T) -> T {
        f(&mut locked(&self.workspace(workspace)))
    }

    /// Runs `f` on the locked entries the plan's limits count in: the key's (if any limit
    /// counts per key), then the workspace's (if any counts per workspace).
    fn with_entries<T>(
        &self,
        usage: &Usage<'_>,
        f: impl FnOnce(Option<&mut Entry>, Option<&mut Entry>) -> T,
    ) -> T {
        let shape = usage.plan.shape();
        match (shape.per_key, shape.per_workspace) {
            (true, true) => self.with_key(usage.key, |key| {
                let KeyEntry {
                    counters,
                    workspace,
                } = key;
                let ws = match workspace {
                    Some((name, ws)) if name.same(usage.workspace) => ws,
                    _ => {
                        let ws = self.workspace(usage.workspace);
                        &workspace.insert((usage.workspace.clone(), ws)).1
                    }
                };
                f(Some(counters), Some(&mut locked(ws)))
            }),
            (true, false) => self.with_key(usage.key, |key| f(Some(&mut key.counters), None)),
            (false, _) => self.with_workspace(usage.workspace, |ws| f(None, Some(ws))),
        }
    }

    /// Counts `usage` against every limit of its plan, on `clock`: admitted only if all admit
    /// it, and then each limit spends the request's cost; refused, nothing is spent.
    pub(crate) fn admit(&self, usage: &Usage<'_>, clock: &impl Clock) -> UsageDecision {
        let limits = usage.plan.limits();
        let shape = usage.plan.shape();
        let now = now_for(clock, shape.wall, shape.mono);
        let mut decision = UsageDecision::admitting(usage.plan, now.wall);
        let refused = self.with_entries(usage, |mut key, mut ws| {
            // Each limit's slot in its entry, found once, and the counter it would store.
            let mut slots = [0; MAX_LIMITS];
            let mut next = [None; MAX_LIMITS];
            let mut refused = None;
            for (i, limit) in limits.iter().enumerate() {
                let entry = match limit.sharing() {
                    Sharing::Key => key.as_deref_mut(),
                    Sharing::Workspace => ws.as_deref_mut(),
                };
                // `with_entries` locked an entry for every sharing the plan uses.
                let Some(entry) = entry else { continue };
                let slot = entry.slot(limit.name());
                let (counter, state, admitted) =
                    decide(limit, entry.counters[slot].1, now, usage.cost);
                slots[i] = slot;
                decision.set(i, &state);
                next[i] = Some(counter);
                if !admitted && refused.is_none() {
                    refused = Some(i);
                }
            }
            for (i, limit) in limits.iter().enumerate() {
                let entry = match limit.sharing() {
                    Sharing::Key => key.as_deref_mut(),
                    Sharing::Workspace => ws.as_deref_mut(),
                };
                let Some(entry) = entry else { continue };
                match refused {
                    None => entry.counters[slots[i]].1 = next[i],
                    // A refused request leaves every state as it was before it.
                    Some(r) if r != i => {
                        decision.set(i, &decide(limit, entry.counters[slots[i]].1, now, 0).1);
                    }
                    Some(_) => {}
                }
            }
            refused
        });
        decision.refuse(refused);
        decision
    }

    /// See [`MemoryUsageLimiter::refund`].
    pub(crate) fn refund(&self, usage: &Usage<'_>, counted_at: SystemTime, clock: &impl Clock) {
        let shape = usage.plan.shape();
        // Periods as the decision counted them; rates on the clock's time now.
        let now = Now {
            wall: counted_at,
            secs: counted_at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            mono: now_for(clock, false, shape.mono).mono,
        };
        self.with_entries(usage, |mut key, mut ws| {
            for limit in usage.plan.limits() {
                let entry = match limit.sharing() {
                    Sharing::Key => key.as_deref_mut(),
                    Sharing::Workspace => ws.as_deref_mut(),
                };
                let Some(entry) = entry else { continue };
                if let Some(counter) = entry.get(limit.name()) {
                    entry.set(limit.name(), give_back(limit, counter, now, usage.cost));
                }
            }
        });
    }

    /// Runs `f` on the entry that holds `limit`'s counter for key `key` of `workspace`.
    fn with_counter_entry<T>(
        &self,
        key: &KeyId,
        workspace: &Workspace,
        limit: &Limit,
        f: impl FnOnce(&mut Entry) -> T,
    ) -> T {
        match limit.sharing() {
            Sharing::Key => self.with_key(key, |entry| f(&mut entry.counters)),
            Sharing::Workspace => self.with_workspace(workspace, f),
        }
    }

    /// See [`MemoryUsageLimiter::credits`].
    pub(crate) fn credits(
        &self,
        key: &KeyId,
        workspace: &Workspace,
        limit: &Limit,
        clock: &impl Clock,
    ) -> Option<u64> {
        let LimitKind::Credits { .. } = limit.kind() else {
            return None;
        };
        let now = now_for(clock, true, false);
        self.with_counter_entry(key, workspace, limit, |entry| {
            Some(credits(limit, entry.get(limit.name()), now).1)
        })
    }

    /// See [`MemoryUsageLimiter::top_up`].
    pub(crate) fn top_up(
        &self,
        key: &KeyId,
        workspace: &Workspace,
        limit: &Limit,
        amount: u64,
        clock: &impl Clock,
    ) -> Option<u64> {
        let LimitKind::Credits { .. } = limit.kind() else {
            return None;
        };
        let now = now_for(clock, true, false);
        self.with_counter_entry(key, workspace, limit, |entry| {
            let (span, balance) = credits(limit, entry.get(limit.name()), now);
            let balance = balance.saturating_add(amount);
            entry.set(limit.name(), Counter::Credits { span, balance });
            Some(balance)
        })
    }
}

/// A credits counter as it stands at `now`, as `(refill period, balance)`: a new one at the
/// initial balance, a refill applied if a refill period began since the last. `(none, 0)`
/// for a limit that is not credits.
fn credits(limit: &Limit, stored: Option<Counter>, now: Now) -> (Span, u64) {
    let LimitKind::Credits { initial, refill } = *limit.kind() else {
        return (Span::NONE, 0);
    };
    match (stored, refill) {
        (Some(Counter::Credits { span, balance }), Some(r)) => {
            let current = Span::at(span, r.period, now);
            if current == span {
                (span, balance)
            } else {
                (current, balance.max(r.amount))
            }
        }
        (Some(Counter::Credits { span, balance }), None) => (span, balance),
        // New, or counted as another kind before the plan changed.
        (_, refill) => {
            let span = refill.map_or(Span::NONE, |r| Span::at(Span::NONE, r.period, now));
            (span, initial)
        }
    }
}

/// `counter` with `cost` units given back to `limit`, as far as it still holds them:
/// `now.mono` is the time now, `now.wall` the time the units were counted at.
fn give_back(limit: &Limit, counter: Counter, now: Now, cost: u32) -> Counter {
    let units = u64::from(cost);
    match (*limit.kind(), counter) {
        (LimitKind::Rate(quota), Counter::Rate { tat }) if tat > now.mono => Counter::Rate {
            tat: tat
                .saturating_sub(quota.interval_nanos().saturating_mul(units))
                .max(now.mono),
        },
        (LimitKind::Quota { .. }, Counter::Quota { span, used }) if span.contains(now.secs) => {
            Counter::Quota {
                span,
                used: used.saturating_sub(units),
            }
        }
        (LimitKind::Credits { refill, .. }, Counter::Credits { span, balance }) => {
            let same_refill = refill.is_none_or(|r| Span::at(span, r.period, now) == span);
            if same_refill {
                Counter::Credits {
                    span,
                    balance: balance.saturating_add(units),
                }
            } else {
                counter
            }
        }
        _ => counter,
    }
}

/// Decides one limit for a request costing `cost` units (0: only report the state): the
/// counter to store if every limit admits, the state to report, and whether it admits.
fn decide(
    limit: &Limit,
    stored: Option<Counter>,
    now: Now,
    cost: u32,
) -> (Counter, LimitState, bool) {
    let units = u64::from(cost);
    let capacity = limit.capacity();
    match *limit.kind() {
        LimitKind::Rate(quota) => {
            let tat = match stored {
                Some(Counter::Rate { tat }) => tat,
                _ => 0,
            };
            if cost == 0 {
                // The state without spending: what a zero-cost request would see.
                let ahead = tat.saturating_sub(now.mono);
                let remaining = quota.window_nanos().saturating_sub(ahead) / quota.interval_nanos();
                let state = LimitState {
                    capacity,
                    remaining,
                    reset: Duration::from_nanos(ahead),
                    retry_after: None,
                };
                return (Counter::Rate { tat }, state, true);
            }
            let (tat, d) = gcra::decide_units(tat, now.mono, &quota, cost);
            let never = units > capacity;
            let state = LimitState {
                capacity,
                remaining: u64::from(d.remaining),
                reset: d.reset,
                retry_after: (!d.allowed && !never).then_some(d.retry_after),
            };
            (Counter::Rate { tat }, state, d.allowed)
        }
        LimitKind::Quota { max, period } => {
            let (known, used) = match stored {
                Some(Counter::Quota { span, used }) => (span, used),
                _ => (Span::NONE, 0),
            };
            let span = Span::at(known, period, now);
            let used = if span == known { used } else { 0 };
            let admitted = used.saturating_add(units) <= max;
            let after = if admitted { used + units } else { used };
            let reset = span.remaining(now);
            let state = LimitState {
                capacity,
                remaining: max.saturating_sub(after),
                reset,
                retry_after: (!admitted && units <= max).then_some(reset),
            };
            (Counter::Quota { span, used: after }, state, admitted)
        }
        LimitKind::Credits { refill, .. } => {
            let (span, balance) = credits(limit, stored, now);
            let admitted = balance >= units;
            let after = if admitted { balance - units } else { balance };
            let reset = if refill.is_some() {
                span.remaining(now)
            } else {
                Duration::ZERO
            };
            let state = LimitState {
                capacity,
                remaining: after,
                reset,
                retry_after: refill
                    .filter(|r| !admitted && r.amount >= units)
                    .map(|_| reset),
            };
            (
                Counter::Credits {
                    span,
                    balance: after,
                },
                state,
                admitted,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::clock::ManualClock;
    use crate::plan::{AnchorDay, Period, Plan, Refill};
    use crate::quota::Quota;

    const DAY: Duration = Duration::from_secs(86_400);

    fn name(s: &str) -> LimitName {
        s.parse().unwrap()
    }

    fn plan(limits: Vec<Limit>) -> Plan {
        Plan::new("test".parse().unwrap(), limits).unwrap()
    }

    /// 2026-11-29T00:00:00Z.
    fn start() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_795_910_400)
    }

    fn limiter() -> (MemoryUsageLimiter<ManualClock>, ManualClock) {
        let clock = ManualClock::starting_at(start());
        (MemoryUsageLimiter::with_clock(clock.clone()), clock)
    }

    fn key(n: u8) -> KeyId {
        KeyId::new(&format!("AbCdEfGh12{n:02}")).unwrap()
    }

    fn acme() -> Workspace {
        "acme".parse().unwrap()
    }

    fn admitted(
        limiter: &MemoryUsageLimiter<ManualClock>,
        plan: &Plan,
        key: &KeyId,
        cost: u32,
    ) -> bool {
        limiter
            .admit(&Usage::new(key, &acme(), plan).cost(cost))
            .allowed()
    }

    #[test]
    fn a_daily_quota_admits_its_maximum_then_refuses_until_utc_midnight() {
        let (limiter, clock) = limiter();
        let trial = plan(vec![Limit::quota(name("daily"), 5, Period::Day)]);
        clock.advance(Duration::from_secs(3600));
        for _ in 0..5 {
            assert!(admitted(&limiter, &trial, &key(1), 1));
        }
        let refused = limiter.admit(&Usage::new(&key(1), &acme(), &trial));
        assert_eq!(refused.refused_by().unwrap().name().as_str(), "daily");
        let state = refused.state("daily").unwrap();
        assert_eq!(state.remaining, 0);
        assert_eq!(state.retry_after, Some(DAY - Duration::from_secs(3600)));
        clock.advance(DAY - Duration::from_secs(3600));
        assert!(admitted(&limiter, &trial, &key(1), 1));
    }

    #[test]
    fn a_refused_request_spends_nothing_on_any_limit() {
        let (limiter, _) = limiter();
        let daily = Limit::quota(name("daily"), 10, Period::Day);
        let credits = Limit::credits(name("credits"), 2, None);
        let p = plan(vec![daily, credits.clone()]);
        assert!(admitted(&limiter, &p, &key(1), 1));
        assert!(admitted(&limiter, &p, &key(1), 1));
        let refused = limiter.admit(&Usage::new(&key(1), &acme(), &p));
        assert_eq!(refused.refused_by(), Some(&credits));
        assert_eq!(refused.state("daily").unwrap().remaining, 8);
        assert_eq!(refused.state("credits").unwrap().retry_after, None);
        limiter.top_up(&key(1), &acme(), &credits, 1).unwrap();
        let next = limiter.admit(&Usage::new(&key(1), &acme(), &p));
        assert!(next.allowed());
        assert_eq!(next.state("daily").unwrap().remaining, 7);
    }

    #[test]
    fn a_request_costs_its_units_on_every_limit() {
        let (limiter, _) = limiter();
        let p = plan(vec![
            Limit::rate(
                name("burst"),
                Quota::per_second(NonZeroU32::new(20).unwrap()),
            ),
            Limit::quota(name("daily"), 100, Period::Day),
        ]);
        let d = limiter.admit(&Usage::new(&key(1), &acme(), &p).cost(10));
        assert!(d.allowed());
        assert_eq!(d.state("burst").unwrap().remaining, 10);
        assert_eq!(d.state("daily").unwrap().remaining, 90);
    }

    #[test]
    fn a_cost_beyond_what_a_limit_can_ever_admit_has_no_retry_time() {
        let (limiter, _) = limiter();
        let p = plan(vec![Limit::quota(name("daily"), 5, Period::Day)]);
        let d = limiter.admit(&Usage::new(&key(1), &acme(), &p).cost(6));
        assert!(!d.allowed());
        assert_eq!(d.state("daily").unwrap().retry_after, None);
        assert_eq!(d.state("daily").unwrap().remaining, 5);
    }

    #[test]
    fn a_workspace_shared_limit_counts_every_key_of_the_workspace_once() {
        let (limiter, _) = limiter();
        let shared = plan(vec![
            Limit::quota(name("daily"), 3, Period::Day).shared_by(Sharing::Workspace),
        ]);
        assert!(admitted(&limiter, &shared, &key(1), 1));
        assert!(admitted(&limiter, &shared, &key(2), 1));
        assert!(admitted(&limiter, &shared, &key(3), 1));
        assert!(!admitted(&limiter, &shared, &key(4), 1));
        let globex: Workspace = "globex".parse().unwrap();
        assert!(
            limiter
                .admit(&Usage::new(&key(4), &globex, &shared))
                .allowed()
        );
    }

    #[test]
    fn a_per_key_limit_counts_each_key_on_its_own() {
        let (limiter, _) = limiter();
        let per_key = plan(vec![Limit::quota(name("daily"), 1, Period::Day)]);
        assert!(admitted(&limiter, &per_key, &key(1), 1));
        assert!(admitted(&limiter, &per_key, &key(2), 1));
        assert!(!admitted(&limiter, &per_key, &key(1), 1));
    }

    #[test]
    fn credits_refill_to_their_amount_each_period_and_keep_a_larger_balance() {
        let (limiter, clock) = limiter();
        let refill = Refill {
            amount: 3,
            period: Period::Day,
        };
        let credits = Limit::credits(name("credits"), 1, Some(refill));
        let p = plan(vec![credits.clone()]);
        assert!(admitted(&limiter, &p, &key(1), 1));
        let refused = limiter.admit(&Usage::new(&key(1), &acme(), &p));
        assert!(!refused.allowed());
        assert_eq!(refused.state("credits").unwrap().retry_after, Some(DAY));
        clock.advance(DAY);
        assert_eq!(limiter.credits(&key(1), &acme(), &credits), Some(3));
        assert_eq!(limiter.top_up(&key(1), &acme(), &credits, 7), Some(10));
        clock.advance(DAY);
        assert_eq!(limiter.credits(&key(1), &acme(), &credits), Some(10));
    }

    #[test]
    fn a_monthly_quota_starts_again_on_the_anchor_day() {
        let (limiter, clock) = limiter();
        // Billed on the 1st: 2026-11-29 is in November's period, 2026-12-01 starts December's.
        let p = plan(vec![Limit::quota(
            name("monthly"),
            2,
            Period::Month(AnchorDay::FIRST),
        )]);
        assert!(admitted(&limiter, &p, &key(1), 2));
        assert!(!admitted(&limiter, &p, &key(1), 1));
        clock.advance(DAY);
        assert!(!admitted(&limiter, &p, &key(1), 1));
        clock.advance(DAY);
        assert!(admitted(&limiter, &p, &key(1), 1));
    }

    #[test]
    fn top_up_and_credits_ignore_limits_that_are_not_credits() {
        let (limiter, _) = limiter();
        let daily = Limit::quota(name("daily"), 5, Period::Day);
        assert_eq!(limiter.top_up(&key(1), &acme(), &daily, 5), None);
        assert_eq!(limiter.credits(&key(1), &acme(), &daily), None);
    }

    #[test]
    fn many_threads_on_one_shared_quota_are_admitted_exactly_its_maximum() {
        let limiter = MemoryUsageLimiter::new();
        let p = plan(vec![
            Limit::rate(
                name("burst"),
                Quota::per_second(NonZeroU32::new(1_000_000).unwrap()),
            ),
            Limit::quota(name("daily"), 500, Period::Day).shared_by(Sharing::Workspace),
            Limit::credits(name("credits"), 10_000, None).shared_by(Sharing::Workspace),
        ]);
        let admitted: usize = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..8u8)
                .map(|t| {
                    let (limiter, p) = (limiter.clone(), &p);
                    scope.spawn(move || {
                        (0..200)
                            .filter(|_| limiter.admit(&Usage::new(&key(t), &acme(), p)).allowed())
                            .count()
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).sum()
        });
        assert_eq!(admitted, 500);
        let credits = &p.limits()[2];
        assert_eq!(limiter.credits(&key(0), &acme(), credits), Some(9_500));
    }

    /// Admits `cost` on `plan` for key 1 and gives it back at once.
    fn spend_and_refund(limiter: &MemoryUsageLimiter<ManualClock>, plan: &Plan, cost: u32) {
        let (k, ws) = (key(1), acme());
        let usage = Usage::new(&k, &ws, plan).cost(cost);
        let decision = limiter.admit(&usage);
        assert!(decision.allowed());
        limiter.refund(&usage, decision.counted_at());
    }

    fn three_limits() -> Plan {
        plan(vec![
            Limit::rate(name("burst"), Quota::per_hour(NonZeroU32::new(2).unwrap())),
            Limit::quota(name("daily"), 2, Period::Day).shared_by(Sharing::Workspace),
            Limit::credits(name("credits"), 2, None),
        ])
    }

    #[test]
    fn a_refund_gives_the_cost_back_to_every_limit() {
        let (limiter, _) = limiter();
        let p = three_limits();
        for _ in 0..5 {
            spend_and_refund(&limiter, &p, 2);
        }
        assert!(admitted(&limiter, &p, &key(1), 2));
        assert!(!admitted(&limiter, &p, &key(1), 1));
    }

    #[test]
    fn repeated_refunds_never_fill_a_rate_or_a_quota_beyond_full() {
        let (limiter, _) = limiter();
        let p = plan(vec![
            Limit::rate(name("burst"), Quota::per_hour(NonZeroU32::new(2).unwrap())),
            Limit::quota(name("daily"), 2, Period::Day),
        ]);
        let (k, ws) = (key(1), acme());
        let usage = Usage::new(&k, &ws, &p);
        let decision = limiter.admit(&usage);
        for _ in 0..3 {
            limiter.refund(&usage, decision.counted_at());
        }
        let d = limiter.admit(&usage);
        assert_eq!(d.state("burst").unwrap().remaining, 1);
        assert_eq!(d.state("daily").unwrap().remaining, 1);
    }

    #[test]
    fn a_refund_of_yesterdays_request_gives_nothing_to_today() {
        let (limiter, clock) = limiter();
        let p = plan(vec![Limit::quota(name("daily"), 1, Period::Day)]);
        clock.advance(DAY - Duration::from_secs(1));
        let (k, ws) = (key(1), acme());
        let usage = Usage::new(&k, &ws, &p);
        let yesterday = limiter.admit(&usage);
        assert!(yesterday.allowed());
        clock.advance(Duration::from_secs(1));
        assert!(admitted(&limiter, &p, &key(1), 1));
        limiter.refund(&usage, yesterday.counted_at());
        assert!(!admitted(&limiter, &p, &key(1), 1));
    }

    #[test]
    fn a_refund_after_a_refill_leaves_the_refilled_balance() {
        let (limiter, clock) = limiter();
        let credits = Limit::credits(
            name("credits"),
            3,
            Some(Refill {
                amount: 3,
                period: Period::Day,
            }),
        );
        let p = plan(vec![credits.clone()]);
        let (k, ws) = (key(1), acme());
        let usage = Usage::new(&k, &ws, &p).cost(3);
        let spent = limiter.admit(&usage);
        assert!(spent.allowed());
        clock.advance(DAY);
        limiter.refund(&usage, spent.counted_at());
        assert_eq!(limiter.credits(&key(1), &acme(), &credits), Some(3));
    }

    proptest::proptest! {
        /// Any sequence of requests (keys, costs, time steps) across periods: per period the
        /// admitted units never pass the quota, credits never go below zero, and a refused
        /// request changes nothing.
        #[test]
        fn admitted_never_pass_a_quota_and_refusals_never_spend(
            steps in proptest::collection::vec((0u8..3, 1u32..4, 0u64..30_000), 1..200)
        ) {
            let (limiter, clock) = limiter();
            let credits = Limit::credits(name("credits"), 40, None).shared_by(Sharing::Workspace);
            let p = plan(vec![
                Limit::quota(name("daily"), 25, Period::Day).shared_by(Sharing::Workspace),
                credits.clone(),
            ]);
            let mut per_day: HashMap<i64, u64> = HashMap::new();
            let mut spent = 0u64;
            for (k, cost, seconds) in steps {
                clock.advance(Duration::from_secs(seconds));
                let before = limiter.credits(&key(k), &acme(), &credits).unwrap();
                let d = limiter.admit(&Usage::new(&key(k), &acme(), &p).cost(cost));
                let after = limiter.credits(&key(k), &acme(), &credits).unwrap();
                if d.allowed() {
                    *per_day.entry(Period::Day.window(clock.now()).number()).or_default() += u64::from(cost);
                    spent += u64::from(cost);
                    proptest::prop_assert_eq!(after, before - u64::from(cost));
                } else {
                    proptest::prop_assert_eq!(after, before);
                }
            }
            proptest::prop_assert!(per_day.values().all(|&n| n <= 25), "{:?}", per_day);
            proptest::prop_assert!(spent <= 40);
        }
    }
}

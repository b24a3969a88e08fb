//! [`LeasedLimiter`]: hot keys spend units taken from Redis in batches, so that a key at
//! thousands of requests per second makes a few Redis calls per second, not one per request.
//!
//! A [`RedisRateLimiter`] asks Redis once per request: every request of one key lands on one
//! Redis slot, and a single hot key tops out at what one Redis master serves. A
//! `LeasedLimiter` wraps it. A key that makes more than
//! [`hot_after`](LeaseConfig::hot_after) requests within one second on this node becomes
//! **hot** (and stays hot through the next second): the node then takes a **lease**, up to [`batch`](LeaseConfig::batch) units in one
//! script call, and admits the key's next requests from that local balance without asking
//! Redis. Redis calls for a hot key drop to about requests ÷ batch; cold keys keep the exact
//! per-request path, with the decisions of [`RedisRateLimiter`].
//!
//! - **Both paths**: a key's own quota ([`check`](RateLimiter::check), GCRA) and a key under
//!   a [plan](crate::plan) ([`admit`](RateLimiter::admit)): one lease spends its units on
//!   every limit of the plan at once (rates, calendar quotas, credits), the largest number
//!   up to the batch that every limit admits, all or nothing. A route's
//!   [cost](crate::plan::Usage::cost) spends that many units of the balance.
//! - **Refusals**: when a lease cannot get even one request's units, the request is refused
//!   with the state Redis reported (`Retry-After`, the refusing limit), and the key's
//!   further requests on this node get that refusal, aged, without a call, until its retry
//!   time and for at most [`lease_ttl`](LeaseConfig::lease_ttl) (so that a top-up or another
//!   node's returned units are seen within that time).
//! - **Periods**: a lease taken in a calendar period (a day, a month, a credit refill) is
//!   spent only in that period; at the period's end the rest is given back to the period
//!   that counted it, which ends it (the new period starts whole).
//! - **Giving back**: a lease older than [`lease_ttl`](LeaseConfig::lease_ttl) is no longer
//!   spent. Its unspent units go back to Redis, only to the periods that counted them, and
//!   never making a rate's bucket fuller than full: when the key's next request takes a new
//!   lease, or else when a task spawned on the first request, which looks every half
//!   `lease_ttl` (10 ms to 1 s), finds it; and on [`shutdown`](LeasedLimiter::shutdown),
//!   for every lease. A 403 from a route
//!   layer ([`refund`](RateLimiter::refund), [`refund_usage`](RateLimiter::refund_usage))
//!   puts the units back into the local balance.
//! - **Headers**: a decision from a lease reports what Redis reported remaining when the
//!   lease was taken plus the units this node still holds: never more than the limit's
//!   capacity, and for quotas and credits never more than what is truly left to this node.
//! - **Failures**: a request that needs a lease when Redis cannot answer gets the
//!   [`LimiterError`] of [`RedisRateLimiter`], within its timeout (twice it, at most, for a
//!   request that waited for another request's lease); the layer then fails closed (503) or
//!   open. Units already held are still spent.
//!
//! # The bound
//!
//! With `nodes` nodes sharing one Redis, for one key:
//! - **Quotas and credits are never over-admitted**: units are taken in Redis, atomically,
//!   before they are spent.
//! - **A rate admits at most `burst + nodes × batch` requests within one window** (and in
//!   any time span, at most `nodes × batch` more than [`RedisRateLimiter`] would): units
//!   taken earlier may be spent later.
//! - **Under-admission**: while a node holds unspent units, other nodes may be refused
//!   although the key's limit is not reached: at most one batch per node per key, for at most
//!   [`lease_ttl`](LeaseConfig::lease_ttl) and one look of the task that gives units back
//!   (1.5 × `lease_ttl` at most, and at most `lease_ttl` + 1 s).
//!
//! # What a crash costs
//!
//! Call [`shutdown`](LeasedLimiter::shutdown) when a node stops gracefully: it gives every
//! unspent unit back. A node that crashes (or is dropped without it) loses its leases: for
//! rates and quotas the units come back at the next window or period; **credits are lost**.
//! That is why plans with a credits limit are leased only when
//! [`LeaseConfig::credits`] is on; by default they take the exact per-request path.
//!
//! ```no_run
//! use keygate::limit::lease::{LeaseConfig, LeasedLimiter};
//! use keygate::limit::redis::RedisRateLimiter;
//! use keygate::{ApiKeyLayer, MemoryKeyStore};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let redis = RedisRateLimiter::connect("redis://127.0.0.1:6379/").await?;
//! let limiter = LeasedLimiter::new(redis, LeaseConfig::default().batch(100).hot_after(50))?;
//! let layer = ApiKeyLayer::new(MemoryKeyStore::new(), limiter.clone());
//! # let _ = layer;
//! // … serve until asked to stop, then give the unspent units back:
//! limiter.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod config;
mod rate;
mod table;
mod usage;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

pub use config::{InvalidLeaseConfig, LeaseConfig};

use super::redis::{RedisCheck, RedisRateLimiter};
use super::{Decision, LimiterError, Quota, RateLimiter};
use crate::clock::{Clock, SystemClock};
use crate::key::KeyId;
use crate::plan::{LimitKind, MAX_COST, Plan, Usage, UsageDecision, UsageFuture};
use crate::workspace::Workspace;
use rate::RateLease;
use table::{Entry, Lease, Table};
use usage::UsageLease;

/// A [`RateLimiter`] that admits the requests of hot keys from units leased from Redis in
/// batches. See [the module docs](self).
///
/// Clones share their leases.
#[derive(Clone)]
pub struct LeasedLimiter {
    inner: Arc<Inner>,
}

type Keys = Table<KeyId, RateLease, Decision>;
type Plans = Table<(KeyId, Workspace), UsageLease, UsageDecision>;

struct Inner {
    redis: RedisRateLimiter,
    config: LeaseConfig,
    clock: Arc<dyn Clock>,
    keys: Keys,
    plans: Plans,
    /// Set by `shutdown`: no new lease is kept.
    closed: AtomicBool,
    /// Set when the task that gives expired leases back has been started.
    sweeping: AtomicBool,
}

impl LeasedLimiter {
    /// Leases for `limiter`'s keys, with `config`; fails if the config is not
    /// [valid](LeaseConfig::validate).
    pub fn new(limiter: RedisRateLimiter, config: LeaseConfig) -> Result<Self, InvalidLeaseConfig> {
        Self::with_clock(limiter, config, SystemClock::new())
    }

    /// As [`new`](Self::new), with the clock that counts requests per second, ages leases,
    /// and places leased requests in calendar periods (a
    /// [`ManualClock`](crate::clock::ManualClock) in tests). Rates still run on the Redis
    /// server's clock.
    pub fn with_clock(
        limiter: RedisRateLimiter,
        config: LeaseConfig,
        clock: impl Clock,
    ) -> Result<Self, InvalidLeaseConfig> {
        config.validate()?;
        Ok(Self {
            inner: Arc::new(Inner {
                redis: limiter,
                config,
                clock: Arc::new(clock),
                keys: Table::new(),
                plans: Table::new(),
                closed: AtomicBool::new(false),
                sweeping: AtomicBool::new(false),
            }),
        })
    }

    /// The settings.
    pub fn config(&self) -> &LeaseConfig {
        &self.inner.config
    }

    /// The limiter that takes the leases and decides cold keys.
    pub fn redis(&self) -> &RedisRateLimiter {
        &self.inner.redis
    }

    /// Unspent units this node holds, over every lease.
    pub fn held(&self) -> u64 {
        self.inner
            .keys
            .held()
            .saturating_add(self.inner.plans.held())
    }

    /// Gives every unspent unit back to Redis and takes no lease from then on (every request
    /// takes the exact path). Call it when the node stops gracefully; see
    /// [what a crash costs](self#what-a-crash-costs). Returns once every unit is back, or
    /// its call failed (logged) within the limiter's timeout.
    pub async fn shutdown(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.inner.give_back_expired(Duration::ZERO).await;
    }
}

impl Inner {
    /// Starts, once, the task that gives expired leases back (when on a Tokio runtime).
    fn start_sweeping(self: &Arc<Self>) {
        if self.sweeping.load(Ordering::Relaxed) || self.sweeping.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.sweeping.store(false, Ordering::Release);
            return;
        };
        let every =
            (self.config.lease_ttl / 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let inner: Weak<Self> = Arc::downgrade(self);
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = inner.upgrade() else {
                    return;
                };
                if inner.closed.load(Ordering::SeqCst) {
                    return;
                }
                inner.give_back_expired(inner.config.lease_ttl).await;
            }
        });
    }

    /// Gives back the leases older than `ttl` (all of them with zero), and forgets idle keys.
    async fn give_back_expired(&self, ttl: Duration) {
        let now = self.clock.monotonic();
        for (id, lease) in self.keys.expire(now, ttl) {
            self.give_back_rate(id, lease).await;
        }
        for ((id, workspace), lease) in self.plans.expire(now, ttl) {
            self.give_back_usage(id, workspace, lease).await;
        }
    }

    /// Gives a rate lease's unspent units back; a failure is logged.
    async fn give_back_rate(&self, id: KeyId, lease: RateLease) {
        let units = u32::try_from(lease.balance).unwrap_or(u32::MAX);
        if units == 0 {
            return;
        }
        if let Err(error) = self.redis.give_back(&id, &lease.quota, units).await {
            tracing::warn!(key_id = %id, %error, units, "lease give-back failed; the units stay spent");
        }
    }

    /// Gives a plan lease's unspent units back to the periods that counted them; a failure
    /// is logged.
    async fn give_back_usage(&self, id: KeyId, workspace: Workspace, lease: UsageLease) {
        let mut left = lease.balance;
        while left > 0 {
            let units = u32::try_from(left.min(u64::from(MAX_COST))).unwrap_or(MAX_COST);
            let usage = Usage::new(&id, &workspace, &lease.plan).cost(units);
            if let Err(error) = self.redis.usage().refund(&usage, lease.counted_at).await {
                tracing::warn!(key_id = %id, %error, units = left, "lease give-back failed; the units stay spent");
                return;
            }
            left -= u64::from(units);
        }
    }

    /// Runs `give_back` on a task of its own (when on a Tokio runtime).
    fn spawn(give_back: impl Future<Output = ()> + Send + 'static) {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(give_back);
        }
    }

    /// Waits for the key's turn to take a lease, within the limiter's timeout.
    async fn turn<'a, L, R: table::Aging>(
        &self,
        entry: &'a Entry<L, R>,
    ) -> Result<tokio::sync::MutexGuard<'a, ()>, LimiterError> {
        let timeout = self.redis.timeout();
        tokio::time::timeout(timeout, entry.taking.lock())
            .await
            .map_err(|_| LimiterError::Timeout(timeout))
    }

    /// A key's own quota, once its balance is empty: one request takes a lease at a time;
    /// the others wait and spend from it.
    async fn take_rate(
        self: Arc<Self>,
        entry: Arc<Entry<RateLease, Decision>>,
        id: KeyId,
        quota: Quota,
    ) -> Result<Decision, LimiterError> {
        let _turn = self.turn(&entry).await?;
        let ttl = self.config.lease_ttl;
        let stale = {
            let now = self.clock.monotonic();
            let mut slot = entry.slot();
            if let Some(spent) = slot
                .lease
                .as_mut()
                .filter(|l| l.fresh(now, ttl))
                .and_then(|l| l.spend(&quota, now))
            {
                return Ok(spent);
            }
            if let Some(refused) = slot.refusal(now, &quota) {
                return Ok(refused);
            }
            slot.lease.take()
        };
        if let Some(stale) = stale.filter(|l| l.balance > 0) {
            let inner = Arc::clone(&self);
            Self::spawn(async move { inner.give_back_rate(id, stale).await });
        }
        let (taken, decision) = self.redis.lease(&id, &quota, self.config.batch).await?;
        let now = self.clock.monotonic();
        let mut slot = entry.slot();
        if taken == 0 {
            slot.refuse(now, quota, decision, self.config.lease_ttl);
            return Ok(decision);
        }
        let mut lease = RateLease::new(quota, taken, &decision, now);
        let spent = lease.spend(&quota, now).unwrap_or(decision);
        if self.closed.load(Ordering::SeqCst) {
            drop(slot);
            let inner = Arc::clone(&self);
            Self::spawn(async move { inner.give_back_rate(id, lease).await });
        } else {
            slot.lease = Some(lease);
        }
        Ok(spent)
    }

    /// A key under a plan, once its balance cannot pay the request's cost.
    async fn take_usage(
        self: Arc<Self>,
        entry: Arc<Entry<UsageLease, UsageDecision>>,
        (id, workspace): (KeyId, Workspace),
        plan: Plan,
        cost: u32,
    ) -> Result<UsageDecision, LimiterError> {
        let _turn = self.turn(&entry).await?;
        let (wall, ttl) = (self.clock.coarse_now(), self.config.lease_ttl);
        let stale = {
            let now = self.clock.monotonic();
            let mut slot = entry.slot();
            if let Some(spent) = slot
                .lease
                .as_mut()
                .filter(|l| l.fresh(now, ttl))
                .and_then(|l| l.spend(&plan, cost, now, wall))
            {
                return Ok(spent);
            }
            if let Some(refused) = slot.refusal(now, &(plan.clone(), cost)) {
                return Ok(refused);
            }
            // A lease of these periods keeps its few units (fewer than the cost) to add to
            // the next; any other goes back.
            let keep = slot
                .lease
                .as_ref()
                .is_some_and(|l| l.serves(&plan, wall) && l.fresh(now, ttl));
            if keep { None } else { slot.lease.take() }
        };
        if let Some(stale) = stale.filter(|l| l.balance > 0) {
            let (inner, ws) = (Arc::clone(&self), workspace.clone());
            Self::spawn(async move { inner.give_back_usage(id, ws, stale).await });
        }
        let usage = Usage::new(&id, &workspace, &plan).cost(cost);
        let (taken, decision) = self
            .redis
            .usage()
            .lease(&usage, wall, self.config.batch)
            .await?;
        let now = self.clock.monotonic();
        let mut slot = entry.slot();
        if taken == 0 {
            slot.refuse(now, (plan, cost), decision.clone(), self.config.lease_ttl);
            return Ok(decision);
        }
        let mut lease = UsageLease::new(&decision, taken, now);
        if let Some(mut held) = slot.lease.take() {
            if held.serves(&plan, decision.counted_at()) {
                held.absorb(lease);
                lease = held;
            } else if held.balance > 0 {
                // A period ended while the lease was on its way.
                let (inner, ws) = (Arc::clone(&self), workspace.clone());
                Self::spawn(async move { inner.give_back_usage(id, ws, held).await });
            }
        }
        let spent = lease.spend(&plan, cost, now, wall).unwrap_or(decision);
        if self.closed.load(Ordering::SeqCst) {
            drop(slot);
            let inner = Arc::clone(&self);
            Self::spawn(async move { inner.give_back_usage(id, workspace, lease).await });
        } else {
            slot.lease = Some(lease);
        }
        Ok(spent)
    }
}

impl RateLimiter for LeasedLimiter {
    type Future = LeaseCheck;

    fn check(&self, id: &KeyId, quota: &Quota) -> Self::Future {
        let inner = &self.inner;
        if inner.closed.load(Ordering::Relaxed) {
            return LeaseCheck::exact(inner.redis.check(id, quota));
        }
        inner.start_sweeping();
        let (now, ttl) = (inner.clock.monotonic(), inner.config.lease_ttl);
        let entry = inner.keys.entry(id);
        {
            let mut slot = entry.slot();
            let hot = slot.count(now, inner.config.hot_after);
            if let Some(spent) = slot
                .lease
                .as_mut()
                .filter(|l| l.fresh(now, ttl))
                .and_then(|l| l.spend(quota, now))
            {
                return LeaseCheck::ready(Ok(spent));
            }
            if let Some(refused) = slot.refusal(now, quota) {
                return LeaseCheck::ready(Ok(refused));
            }
            if !hot {
                drop(slot);
                return LeaseCheck::exact(inner.redis.check(id, quota));
            }
        }
        LeaseCheck::taking(Arc::clone(inner).take_rate(entry, *id, *quota))
    }

    /// Into the key's lease when it holds one for `quota` (the units were counted in Redis
    /// when the lease was taken), else back to Redis as [`RedisRateLimiter`] gives it.
    fn refund(&self, id: &KeyId, quota: &Quota) {
        if let Some(entry) = self.inner.keys.get(id) {
            let mut slot = entry.slot();
            if let Some(lease) = slot.lease.as_mut().filter(|l| l.quota == *quota) {
                lease.balance += 1;
                slot.lift();
                return;
            }
        }
        self.inner.redis.refund(id, quota);
    }

    /// Into the key's lease when it holds one of the plan counted in the periods of
    /// `counted_at`, else back to Redis as [`RedisRateLimiter`] gives it.
    fn refund_usage(&self, usage: &Usage<'_>, counted_at: SystemTime) {
        if let Some(entry) = self.inner.plans.get(&(*usage.key, usage.workspace.clone())) {
            let mut slot = entry.slot();
            if let Some(lease) = slot
                .lease
                .as_mut()
                .filter(|l| l.serves(usage.plan, counted_at))
            {
                lease.balance = lease.balance.saturating_add(u64::from(usage.cost));
                slot.lift();
                return;
            }
        }
        self.inner.redis.refund_usage(usage, counted_at);
    }

    fn admit(&self, usage: &Usage<'_>) -> UsageFuture {
        let inner = &self.inner;
        let credits = || {
            usage
                .plan
                .limits()
                .iter()
                .any(|l| matches!(l.kind(), LimitKind::Credits { .. }))
        };
        if inner.closed.load(Ordering::Relaxed) || (!inner.config.credits && credits()) {
            return inner.redis.admit(usage);
        }
        inner.start_sweeping();
        let (now, wall) = (inner.clock.monotonic(), inner.clock.coarse_now());
        let ttl = inner.config.lease_ttl;
        let key = (*usage.key, usage.workspace.clone());
        let entry = inner.plans.entry(&key);
        {
            let mut slot = entry.slot();
            let hot = slot.count(now, inner.config.hot_after);
            if let Some(spent) = slot
                .lease
                .as_mut()
                .filter(|l| l.fresh(now, ttl))
                .and_then(|l| l.spend(usage.plan, usage.cost, now, wall))
            {
                return UsageFuture::ready(Ok(spent));
            }
            if let Some(refused) = slot.refusal(now, &(usage.plan.clone(), usage.cost)) {
                return UsageFuture::ready(Ok(refused));
            }
            if !hot {
                drop(slot);
                return inner.redis.admit(usage);
            }
        }
        UsageFuture::boxed(Arc::clone(inner).take_usage(entry, key, usage.plan.clone(), usage.cost))
    }
}

impl fmt::Debug for LeasedLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeasedLimiter")
            .field("redis", &self.inner.redis)
            .field("config", &self.inner.config)
            .field("keys", &(self.inner.keys.len() + self.inner.plans.len()))
            .finish_non_exhaustive()
    }
}

type Taking = Pin<Box<dyn Future<Output = Result<Decision, LimiterError>> + Send>>;

/// The answer of [`LeasedLimiter::check`]: ready at once from a lease or a remembered
/// refusal, [`RedisRateLimiter`]'s check for a cold key, or a lease on its way.
#[must_use = "futures do nothing unless polled"]
pub struct LeaseCheck {
    kind: Kind,
}

enum Kind {
    Ready(Option<Result<Decision, LimiterError>>),
    Exact(RedisCheck),
    Taking(Taking),
}

impl LeaseCheck {
    fn ready(answer: Result<Decision, LimiterError>) -> Self {
        Self {
            kind: Kind::Ready(Some(answer)),
        }
    }

    fn exact(check: RedisCheck) -> Self {
        Self {
            kind: Kind::Exact(check),
        }
    }

    fn taking(
        future: impl Future<Output = Result<Decision, LimiterError>> + Send + 'static,
    ) -> Self {
        Self {
            kind: Kind::Taking(Box::pin(future)),
        }
    }
}

impl Future for LeaseCheck {
    type Output = Result<Decision, LimiterError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().kind {
            Kind::Ready(answer) => Poll::Ready(answer.take().unwrap_or_else(|| {
                Err(LimiterError::Unavailable(
                    "rate-limit check polled after completion".into(),
                ))
            })),
            Kind::Exact(check) => Pin::new(check).poll(cx),
            Kind::Taking(future) => future.as_mut().poll(cx),
        }
    }
}

impl fmt::Debug for LeaseCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Ready(_) => "Ready",
            Kind::Exact(_) => "Exact",
            Kind::Taking(_) => "Taking",
        };
        f.debug_struct("LeaseCheck").field("kind", &kind).finish()
    }
}

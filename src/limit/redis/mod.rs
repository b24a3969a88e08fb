//! [`RedisRateLimiter`]: GCRA in Redis, so that every instance of a service enforces one limit
//! per key.
//!
//! Each check is **one round trip**: `EVALSHA` of a Lua script (`src/limit/gcra.lua`) that reads
//! the server's `TIME`, applies the rule of [`gcra::decide`](crate::limit::gcra::decide) to the
//! key's stored theoretical arrival time, stores the new one with a TTL equal to the time the
//! bucket takes to fill again, and answers allowed / remaining / retry delay / reset.
//!
//! - **One clock**: time comes from the Redis server, so clock skew between application
//!   instances cannot mint extra burst.
//! - **One Redis key per API key**, `<namespace><key prefix>_<key id>` (`keygate:rl:kg_<id>`
//!   by default; set the prefix with [`key_prefix`](RedisRateLimiterBuilder::key_prefix) to
//!   the one the layer's keys use), touched by one script call: Redis Cluster friendly. Idle
//!   keys expire on their own. Services with different key prefixes never share state.
//! - **Integer microseconds**: see [the rounding of quotas](self#rounding).
//! - **Bounded**: every check answers within its timeout (100 ms by default):
//!   [`LimiterError::Timeout`] when Redis is slow,
//!   [`LimiterError::Unavailable`] when it is unreachable or
//!   answers with an error. The layer then fails closed (503 `auth_unavailable`) or open, as its
//!   [`FailurePolicy`](crate::FailurePolicy) says. The connection is a redis-rs
//!   `ConnectionManager`: after Redis restarts, checks succeed again with no manual step.
//! - **Redis Cluster** (feature `redis-cluster`): the same limiter on a cluster, see
//!   [below](#redis-cluster).
//! - **Refunds**: [`RateLimiter::refund`] gives a unit back (a 403 from a route layer spends
//!   no quota) with a second small script, on a spawned task, never making the caller wait.
//! - **Local deny cache** (on by default): a key just refused is refused locally until its
//!   retry time, with the delay that remains, without asking Redis. It never refuses beyond the
//!   real retry time, and holds at most [`deny_cache_capacity`](RedisRateLimiterBuilder::deny_cache_capacity)
//!   refusals.
//!
//! ```no_run
//! use std::num::NonZeroU32;
//! use std::time::Duration;
//! use keygate::limit::redis::RedisRateLimiter;
//! use keygate::{ApiKeyLayer, FailurePolicy, MemoryKeyStore, Quota};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let limiter = RedisRateLimiter::builder()
//!     .namespace("myapp:rl:")
//!     .timeout(Duration::from_millis(50))
//!     .connect("redis://127.0.0.1:6379/")
//!     .await?;
//! let layer = ApiKeyLayer::builder(MemoryKeyStore::new(), limiter)
//!     .default_quota(Quota::per_second(NonZeroU32::new(10).unwrap()))
//!     .on_limiter_failure(FailurePolicy::FailClosed)
//!     .build();
//! # let _ = layer;
//! # Ok(())
//! # }
//! ```
//!
//! # Rounding
//!
//! The script counts in integer microseconds (Lua numbers are doubles: every value stays below
//! 2^53, so the arithmetic is exact). A [`Quota`]'s interval is in nanoseconds, so it is
//! **rounded up** to a whole microsecond: a quota whose interval is a whole number of
//! microseconds (any interval in ms or s, `per_second(n)` for any `n` dividing 1,000,000) gets
//! exactly the decisions of `gcra::decide`; any other refills up to 1 µs per request more slowly,
//! never faster (`per_second(3)`: 333,334 µs instead of 333,333,333 ns). Windows
//! (`burst × interval`) longer than 2^50 µs, about 35 years, are treated as 35 years.
//!
//! # Redis Cluster
//!
//! With the feature `redis-cluster`, [`connect_cluster`](RedisRateLimiterBuilder::connect_cluster)
//! (or [`build`](RedisRateLimiterBuilder::build) on a redis-rs
//! `cluster_async::ClusterConnection`) runs every script of this limiter and of its
//! [`usage`](RedisRateLimiter::usage) limiter on a Redis Cluster, with the same decisions and
//! the same Redis key names as on one server:
//!
//! - A rate-limit check, a refund and a lease each touch one key, `<namespace><key
//!   prefix>_<key id>`: keys spread over the cluster's slots by key id.
//! - A plan's script touches every counter of the request at once: per-key counters and the
//!   workspace's shared ones. Their names carry the workspace as a hash tag
//!   (`…k:{acme}:<key id>:burst`, `…w:{acme}:monthly`), so that they all lie in the slot of
//!   `acme`. Plans' counters thus spread by **workspace**, not by key: every key of one
//!   workspace is counted on the master that owns its slot, and one very busy workspace
//!   loads one master. Keep `{` and `}` out of namespaces: they would move the tag.
//! - **Bounded** as on one server: the limiter's timeout bounds each call, redirections and
//!   retries included. A master that dies fails the checks of its slots (and, once the
//!   cluster marks it failed, `CLUSTERDOWN` fails every check while the cluster requires
//!   full coverage) with [`LimiterError`]: 503 or fail-open, as the layer's
//!   [`FailurePolicy`](crate::FailurePolicy) says. When the master comes back, or a replica
//!   takes its place, the client reconnects and refreshes its slot map by itself.
//! - A restarted or promoted node that does not know a script yet answers `NOSCRIPT`; the
//!   limiter then sends the script's source, in the same call.
//!
//! ```no_run
//! # #[cfg(feature = "redis-cluster")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use keygate::limit::redis::RedisRateLimiter;
//!
//! let limiter = RedisRateLimiter::builder()
//!     .namespace("myapp:rl:")
//!     .timeout(Duration::from_millis(50))
//!     .connect_cluster(["redis://10.0.0.1:6379/", "redis://10.0.0.2:6379/"])
//!     .await?;
//! # let _ = limiter;
//! # Ok(())
//! # }
//! ```
//!
//! # Panics
//!
//! Checks must be awaited inside a Tokio runtime with its time driver enabled, as every
//! axum, hyper or tonic server's is: the connection and the timeout live there.

mod builder;
mod check;
mod connection;
mod counters;
mod script;
mod usage;

/// What the fuzz targets reach inside the limiter; built only under `cargo fuzz`.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    pub use super::script::decision;
}

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use builder::RedisRateLimiterBuilder;
pub use check::RedisCheck;
pub use connection::RedisConnection;
pub use usage::{RedisUsageLimiter, RedisUsageLimiterBuilder};

use self::counters::{ErrorKind, RedisCounters};
use super::deny_cache::DenyCache;
use super::{Decision, LimiterError, Quota, RateLimiter};
use crate::clock::{Clock, SystemClock};
use crate::key::KeyId;
use crate::plan::{Usage, UsageFuture};

/// A rate limiter whose state lives in Redis, shared by every instance that uses the same
/// server and namespace. See [the module docs](self).
///
/// Clones share one connection and one deny cache.
#[derive(Clone)]
pub struct RedisRateLimiter {
    shared: Arc<Shared>,
}

/// What every clone and every in-flight check share.
struct Shared {
    conn: RedisConnection,
    /// Plans' counters, on the same connection (`<namespace>usage:…`).
    usage: RedisUsageLimiter,
    /// The namespace, then the key prefix and `_`: the key id completes a Redis key name.
    key_base: String,
    namespace_len: usize,
    timeout: Duration,
    hash: String,
    /// The SHA-1 of the refund script.
    refund_hash: String,
    /// The SHA-1 of the lease script.
    lease_hash: String,
    deny_cache: Option<DenyCache>,
    clock: SystemClock,
    /// Failed calls and deny-cache hits, for [`crate::metrics`].
    counters: RedisCounters,
}

impl RedisRateLimiter {
    /// A builder: namespace, timeout, deny cache, then a URL or a connection.
    pub fn builder() -> RedisRateLimiterBuilder {
        RedisRateLimiterBuilder::new()
    }

    /// A limiter with the default settings, connected to `url` (e.g. `redis://127.0.0.1/`).
    /// See [`RedisRateLimiterBuilder::connect`].
    pub async fn connect(url: impl ::redis::IntoConnectionInfo) -> ::redis::RedisResult<Self> {
        Self::builder().connect(url).await
    }

    /// The Redis key holding the state of key `id`: `<namespace><key prefix>_<id>`.
    pub fn redis_key(&self, id: &KeyId) -> String {
        let mut key = String::with_capacity(self.shared.key_base.len() + id.as_str().len());
        key.push_str(&self.shared.key_base);
        key.push_str(id.as_str());
        key
    }

    /// The namespace that prefixes every Redis key of this limiter.
    pub fn namespace(&self) -> &str {
        &self.shared.key_base[..self.shared.namespace_len]
    }

    /// The time a check may take before it fails with [`LimiterError::Timeout`].
    pub fn timeout(&self) -> Duration {
        self.shared.timeout
    }

    /// Number of refusals held by the local deny cache (0 when it is off).
    pub fn cached_refusals(&self) -> usize {
        self.shared.deny_cache.as_ref().map_or(0, DenyCache::len)
    }

    fn from_parts(
        conn: RedisConnection,
        key_base: String,
        namespace_len: usize,
        timeout: Duration,
        deny_cache: Option<DenyCache>,
        usage: RedisUsageLimiter,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                usage,
                conn,
                key_base,
                namespace_len,
                timeout,
                hash: script::hash(script::SOURCE),
                refund_hash: script::hash(script::REFUND_SOURCE),
                lease_hash: script::hash(LEASE_SOURCE),
                deny_cache,
                clock: SystemClock::new(),
                counters: RedisCounters::new(),
            }),
        }
    }
}

impl Shared {
    /// Asks Redis, within the timeout; remembers a refusal in the deny cache.
    async fn ask(
        self: Arc<Self>,
        id: KeyId,
        key: String,
        quota: Quota,
    ) -> Result<Decision, LimiterError> {
        let sent_at = self.clock.monotonic();
        let decided = self.run_check(&key, &quota).await;
        let decision = self.counters.counted(decided)?;
        if let Some(cache) = &self.deny_cache {
            cache.insert(&id, &quota, sent_at, &decision);
        }
        Ok(decision)
    }

    /// The script's decision for `key` under `quota`, within the timeout.
    async fn run_check(&self, key: &str, quota: &Quota) -> Result<Decision, LimiterError> {
        let mut conn = self.conn.clone();
        let args = script::Args::new(quota);
        let reply =
            tokio::time::timeout(self.timeout, script::run(&mut conn, &self.hash, key, args))
                .await
                .map_err(|_| LimiterError::Timeout(self.timeout))?
                .map_err(|error| LimiterError::Unavailable(Box::new(error)))?;
        script::decision(reply, quota)
    }
}

impl Shared {
    /// Gives one unit of `key` back in Redis, within the timeout; then forgets any refusal of
    /// `id` in the deny cache, which the unit may have lifted. Failures are logged.
    async fn give_back(self: Arc<Self>, id: KeyId, key: String, quota: Quota) {
        let mut conn = self.conn.clone();
        let args = [script::Args::new(&quota).interval_micros()];
        let script = (self.refund_hash.as_str(), script::REFUND_SOURCE);
        let sent = script::eval::<_, i64>(&mut conn, script, &key, &args);
        match tokio::time::timeout(self.timeout, sent).await {
            Ok(Ok(_)) => {
                if let Some(cache) = &self.deny_cache {
                    cache.remove(&id);
                }
            }
            Ok(Err(error)) => {
                self.counters.failed(ErrorKind::of_redis(&error));
                tracing::warn!(key_id = %id, %error, "rate-limit refund failed; the unit stays spent");
            }
            Err(_) => {
                self.counters.failed(ErrorKind::Timeout);
                tracing::warn!(
                    key_id = %id,
                    timeout = ?self.timeout,
                    "rate-limit refund timed out; the unit stays spent"
                );
            }
        }
    }
}

impl RateLimiter for RedisRateLimiter {
    type Future = RedisCheck;

    fn check(&self, id: &KeyId, quota: &Quota) -> Self::Future {
        if let Some(cache) = &self.shared.deny_cache
            && let Some(refused) = cache.get(id, quota, self.shared.clock.monotonic())
        {
            self.shared.counters.deny_cache_hit();
            return RedisCheck::cached(refused);
        }
        let key = self.redis_key(id);
        RedisCheck::remote(Arc::clone(&self.shared).ask(*id, key, *quota))
    }

    /// Runs a small script (`refund.lua`) that moves the key's theoretical arrival time back
    /// by one interval, never earlier than a full bucket, on a task spawned on the current
    /// Tokio runtime: the caller never waits. It is bounded by the limiter's timeout; a
    /// failure, or a call outside any runtime, is logged and the unit stays spent.
    fn refund(&self, id: &KeyId, quota: &Quota) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(key_id = %id, "rate-limit refund outside a Tokio runtime; the unit stays spent");
            return;
        };
        let key = self.redis_key(id);
        runtime.spawn(Arc::clone(&self.shared).give_back(*id, key, *quota));
    }

    /// Gives back in one script call, on a task of its own, by this limiter's
    /// [`usage`](RedisRateLimiter::usage) limiter; a failure is logged.
    fn refund_usage(&self, usage: &Usage<'_>, counted_at: SystemTime) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(key_id = %usage.key, "usage refund outside a Tokio runtime; the units stay spent");
            return;
        };
        let id = *usage.key;
        let refund = self.shared.usage.refund(usage, counted_at);
        runtime.spawn(async move {
            if let Err(error) = refund.await {
                tracing::warn!(key_id = %id, %error, "usage refund failed; the units stay spent");
            }
        });
    }

    /// Every limit of the key's plan in one script call, by this limiter's
    /// [`usage`](RedisRateLimiter::usage) limiter.
    fn admit(&self, usage: &Usage<'_>) -> UsageFuture {
        UsageFuture::boxed(self.shared.usage.admit(usage))
    }
}

/// The source of the script that takes a lease of units for one key (`lease.lua`).
const LEASE_SOURCE: &str = include_str!("lease.lua");

impl RedisRateLimiter {
    /// Takes a lease for [`LeasedLimiter`](crate::limit::lease::LeasedLimiter): up to `want`
    /// units of key `id` under `quota`, as many requests in a row, in one script call
    /// (`lease.lua`). Answers the units taken and the decision for the last of them; none
    /// taken, the refusal of one request (remembered in the deny cache, as a check's is).
    pub(crate) fn lease(
        &self,
        id: &KeyId,
        quota: &Quota,
        want: u32,
    ) -> impl std::future::Future<Output = Result<(u32, Decision), LimiterError>> + Send + 'static + use<>
    {
        let (shared, key, id, quota) = (Arc::clone(&self.shared), self.redis_key(id), *id, *quota);
        async move {
            let leased = shared.run_lease(id, &key, quota, want).await;
            shared.counters.counted(leased)
        }
    }

    /// Gives `units` units of key `id` under `quota` back in one script call (`refund.lua`,
    /// never making the bucket fuller than full), for
    /// [`LeasedLimiter`](crate::limit::lease::LeasedLimiter); the caller awaits it.
    pub(crate) fn give_back(
        &self,
        id: &KeyId,
        quota: &Quota,
        units: u32,
    ) -> impl std::future::Future<Output = Result<(), LimiterError>> + Send + 'static + use<> {
        let (shared, key, id) = (Arc::clone(&self.shared), self.redis_key(id), *id);
        let back = [script::Args::new(quota)
            .interval_micros()
            .saturating_mul(u64::from(units))];
        async move {
            let mut conn = shared.conn.clone();
            let script = (shared.refund_hash.as_str(), script::REFUND_SOURCE);
            let sent = script::eval::<_, i64>(&mut conn, script, &key, &back);
            let given = tokio::time::timeout(shared.timeout, sent)
                .await
                .map_err(|_| LimiterError::Timeout(shared.timeout))
                .and_then(|given| {
                    given.map_err(|error| LimiterError::Unavailable(Box::new(error)))
                });
            shared.counters.counted(given)?;
            if let Some(cache) = &shared.deny_cache {
                cache.remove(&id);
            }
            Ok(())
        }
    }
}

impl Shared {
    /// The lease script for `id` under `quota`, within the timeout: the units taken and the
    /// decision; a refusal is remembered in the deny cache.
    async fn run_lease(
        &self,
        id: KeyId,
        key: &str,
        quota: Quota,
        want: u32,
    ) -> Result<(u32, Decision), LimiterError> {
        let sent_at = self.clock.monotonic();
        let mut conn = self.conn.clone();
        let args = script::Args::new(&quota);
        let argv = [
            args.interval_micros(),
            args.window_micros(),
            u64::from(want),
        ];
        let script = (self.lease_hash.as_str(), LEASE_SOURCE);
        let [taken, remaining, retry, reset]: [i64; 4] =
            tokio::time::timeout(self.timeout, script::eval(&mut conn, script, key, &argv))
                .await
                .map_err(|_| LimiterError::Timeout(self.timeout))?
                .map_err(|error| LimiterError::Unavailable(Box::new(error)))?;
        let taken = u32::try_from(taken)
            .ok()
            .filter(|&n| n <= want)
            .ok_or_else(|| {
                LimiterError::Unavailable(
                    format!("unexpected reply from the lease script: {taken}").into(),
                )
            })?;
        let decision =
            script::decision([i64::from(taken.min(1)), remaining, retry, reset], &quota)?;
        if let Some(cache) = &self.deny_cache {
            cache.insert(&id, &quota, sent_at, &decision);
        }
        Ok((taken, decision))
    }
}

impl RedisRateLimiter {
    /// The limiter of keys under [plans](crate::plan), on this limiter's connection, with its
    /// namespace followed by `usage:` (`keygate:rl:usage:` by default), its key prefix and
    /// timeout: read and top up credits with it.
    pub fn usage(&self) -> &RedisUsageLimiter {
        &self.shared.usage
    }
}

impl fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("namespace", &self.namespace())
            .field("timeout", &self.shared.timeout)
            .field("deny_cache", &self.shared.deny_cache.is_some())
            .finish_non_exhaustive()
    }
}

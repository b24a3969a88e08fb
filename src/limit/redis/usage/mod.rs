//! [`RedisUsageLimiter`]: plans and usage limits (rates, calendar quotas, credits) in Redis,
//! every limit of a request decided in one script call.

mod builder;
mod script;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use builder::RedisUsageLimiterBuilder;

use super::RedisConnection;
use super::counters::RedisCounters;
use super::script::hash;
use crate::clock::Clock;
use crate::key::KeyId;
use crate::limit::LimiterError;
use crate::plan::{Limit, LimitKind, Sharing, Usage, UsageDecision};
use crate::workspace::Workspace;
use script::LimitArgs;

/// The source of the script that takes a lease (`lease.lua`) for
/// [`RedisUsageLimiter::lease`]: `admit.lua` wrapped in a function, which `lease.lua` runs
/// with the cost set to the units it takes.
const LEASE: &str = concat!(
    include_str!("counters.lua"),
    include_str!("lease.lua"),
    "local function admit()\n",
    include_str!("admit.lua"),
    "end\nlocal taken = lease_units()\nlocal reply = admit()\n",
    // admit.lua reads the server's clock again: a rate that had no room for the request when
    // lease_units looked may have it a microsecond later. What admit.lua spent is then the
    // request's own cost, and that is what was taken.
    "if taken == 0 and reply[1] == 0 then taken = tonumber(ARGV[1]) end\n",
    "table.insert(reply, 1, taken)\nreturn reply\n",
);

/// A usage limiter for plans (rates, calendar quotas, credits) whose counters live in Redis,
/// shared by every instance that uses the same server and namespace, with the decisions of
/// [`MemoryUsageLimiter`](crate::plan::MemoryUsageLimiter) (for the few differences, see
/// [below](#differences-from-the-memory-limiter)).
///
/// - **One round trip per request**: one `EVALSHA` of one Lua script (`admit.lua`) reads every
///   counter of the request's plan, decides every limit, and writes the counters only if all
///   of them admit it: a refused request spends nothing on any limit. Scripts run atomically,
///   so concurrent requests from any number of instances never over-admit a quota or spend a
///   credit twice.
/// - **Rates** are GCRA on the Redis server's `TIME`, in integer microseconds, as in
///   [`RedisRateLimiter`](super::RedisRateLimiter) (the same [rounding](super#rounding)).
/// - **Calendar quotas**: the application places the request in its period with
///   [`Period::window`](crate::plan::Period::window) on its own wall clock (the builder's
///   [`clock`](RedisUsageLimiterBuilder::clock)) and sends the period's number; the counter
///   keeps the period number and its count, and expires an hour after the period ends. A
///   period that has ended is never counted again: an instance whose clock lags another's
///   across a period's end counts its requests in the newer period.
/// - **Credits**: a balance that starts at the limit's initial value, is raised back to the
///   refill's amount at each new refill period (a larger balance, from a top-up, is kept), is
///   never spent below zero, and never expires. Read it with
///   [`credits`](Self::credits), add to it with
///   [`top_up`](Self::top_up): one atomic script each.
/// - **Bounded**: every call answers within the timeout (100 ms by default) with
///   [`LimiterError::Timeout`], or [`LimiterError::Unavailable`] when Redis is unreachable or
///   answers with an error; it never hangs.
///
/// # Redis keys
///
/// One string per counter, named `<namespace><key prefix>_<subject>:<limit name>`, where the
/// subject is `k:{<workspace>}:<key id>` for a limit counted per key and `w:{<workspace>}` for
/// one shared by a workspace: with the defaults, `keygate:usage:kg_k:{acme}:AbCdEfGh1234:burst`
/// and `keygate:usage:kg_w:{acme}:monthly`. [`redis_key`](Self::redis_key) names
/// them. A key's workspace never changes, so its counters are always found under it.
///
/// `{<workspace>}` is a Redis Cluster **hash tag**: every counter of one request, per key or
/// per workspace, lies in the same slot, so the script may touch them all in one call. (A
/// namespace that contains `{` and `}` would take the tag's place: keep them out of it.)
///
/// The values are decimal text: `r:<tat>` (a rate's theoretical arrival time, µs), `q:<period
/// number>:<used>` (a quota), `c:<refill period number>:<balance>` (credits). Counters are
/// kept by limit name, so a plan whose values change keeps what was counted; a counter
/// counted as another kind before the plan changed starts again. Counts are held at or below
/// 2^53 − 1 (Lua numbers are doubles): larger maxima, balances and top-ups are held there.
///
/// # Differences from the memory limiter
///
/// On quotas and credits, for one application clock, the decisions and the reported states
/// are the memory limiter's, request by request. Beyond that:
/// - rates run on the Redis server's clock (not the builder's), in whole microseconds;
/// - counts are held at 2^53 − 1;
/// - when application clocks disagree across a period's end, a period that has ended is never
///   counted or refilled again (one process, with one clock, never meets this case).
///
/// # Persistence
///
/// Counters survive an application restart: they live in Redis. A Redis restart without
/// persistence loses them all: rates and quotas start again, and **credits go back to their
/// initial balance**. RDB snapshots alone (`save 60 1000`) bring back the counters of the
/// last snapshot: what was spent since is spent again. Run Redis with AOF (`appendonly yes`,
/// `appendfsync everysec`: at most about a second of spending is lost) for credits that must
/// survive, and with
/// `maxmemory-policy noeviction`: an evicted counter starts again as a new one (a quota at
/// zero, credits at their initial balance).
///
/// ```no_run
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use keygate::key::KeyId;
/// use keygate::limit::redis::RedisUsageLimiter;
/// use keygate::plan::{AnchorDay, Limit, Period, Plan, Sharing, Usage};
/// use keygate::{Quota, Workspace};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let pro = Plan::new(
///     "pro".parse()?,
///     vec![
///         Limit::rate("burst".parse()?, Quota::per_second(NonZeroU32::new(100).unwrap())),
///         Limit::quota("monthly".parse()?, 1_000_000, Period::Month(AnchorDay::new(15)?))
///             .shared_by(Sharing::Workspace),
///     ],
/// )?;
/// let limiter = RedisUsageLimiter::builder()
///     .namespace("myapp:usage:")
///     .timeout(Duration::from_millis(50))
///     .connect("redis://127.0.0.1:6379/")
///     .await?;
/// let (key, workspace) = (KeyId::new("AbCdEfGh1234")?, "acme".parse::<Workspace>()?);
/// let decision = limiter.admit(&Usage::new(&key, &workspace, &pro).cost(10)).await?;
/// if let Some(limit) = decision.refused_by() {
///     println!("refused by {}", limit.name());
/// }
/// # Ok(())
/// # }
/// ```
///
/// # Panics
///
/// Calls must be awaited inside a Tokio runtime with its time driver enabled.
///
/// Clones share one connection.
#[derive(Clone)]
pub struct RedisUsageLimiter {
    shared: Arc<Shared>,
}

struct Shared {
    conn: RedisConnection,
    /// The namespace, then the key prefix and `_`.
    key_base: String,
    namespace_len: usize,
    timeout: Duration,
    clock: Arc<dyn Clock>,
    admit_hash: String,
    lease_hash: String,
    refund_hash: String,
    credits_hash: String,
    top_up_hash: String,
    /// Failed calls, for [`crate::metrics`].
    counters: RedisCounters,
}

impl RedisUsageLimiter {
    /// A builder: namespace, key prefix, timeout, clock, then a URL or a connection.
    pub fn builder() -> RedisUsageLimiterBuilder {
        RedisUsageLimiterBuilder::new()
    }

    fn from_parts(builder: RedisUsageLimiterBuilder, conn: RedisConnection) -> Self {
        let namespace_len = builder.namespace.len();
        let mut key_base = builder.namespace;
        key_base.push_str(builder.key_prefix.as_str());
        key_base.push('_');
        Self {
            shared: Arc::new(Shared {
                conn,
                key_base,
                namespace_len,
                timeout: builder.timeout,
                clock: builder.clock,
                admit_hash: hash(script::ADMIT),
                lease_hash: hash(LEASE),
                refund_hash: hash(script::REFUND),
                credits_hash: hash(script::CREDITS),
                top_up_hash: hash(script::TOP_UP),
                counters: RedisCounters::new(),
            }),
        }
    }

    /// The Redis key of `limit`'s counter for key `key` of `workspace` (the workspace's
    /// counter for a shared limit): see [Redis keys](Self#redis-keys).
    pub fn redis_key(&self, key: &KeyId, workspace: &Workspace, limit: &Limit) -> String {
        let base = &self.shared.key_base;
        let (ws, name) = (workspace.as_str(), limit.name().as_str());
        match limit.sharing() {
            Sharing::Key => format!("{base}k:{{{ws}}}:{}:{name}", key.as_str()),
            Sharing::Workspace => format!("{base}w:{{{ws}}}:{name}"),
        }
    }

    /// The namespace that prefixes every Redis key of this limiter.
    pub fn namespace(&self) -> &str {
        &self.shared.key_base[..self.shared.namespace_len]
    }

    /// The time a call may take before it fails with [`LimiterError::Timeout`].
    pub fn timeout(&self) -> Duration {
        self.shared.timeout
    }

    /// Counts `usage` against every limit of its plan, in one round trip: admitted only if all
    /// admit it, and then each limit spends the request's cost; refused, nothing is spent.
    /// The decisions are [`MemoryUsageLimiter::admit`](crate::plan::MemoryUsageLimiter::admit)'s.
    ///
    /// The future owns what it needs: it may outlive `usage`.
    pub fn admit(
        &self,
        usage: &Usage<'_>,
    ) -> impl Future<Output = Result<UsageDecision, LimiterError>> + Send + 'static + use<> {
        let decide = self.decide(usage, self.shared.clock.coarse_now(), None);
        async move { decide.await.map(|(_, decision)| decision) }
    }

    /// Takes a lease for [`LeasedLimiter`](crate::limit::lease::LeasedLimiter): the most
    /// units, up to `want` (at least the cost), that every limit of the plan admits, spent at
    /// once in one script call (`lease.lua`, then `admit.lua` for that many), counted in the
    /// periods of `now`. Answers how many were taken and the decision for them; none taken,
    /// the decision refusing a request of `usage`'s cost, as [`admit`](Self::admit) does.
    pub(crate) fn lease(
        &self,
        usage: &Usage<'_>,
        now: SystemTime,
        want: u32,
    ) -> impl Future<Output = Result<(u32, UsageDecision), LimiterError>> + Send + 'static + use<>
    {
        self.decide(usage, now, Some(want.max(usage.cost)))
    }

    /// Runs `admit.lua` (`lease: None`) or `lease.lua` (`Some(want)`) for `usage` at `now`:
    /// the units taken (the cost, or the lease's size) and the decision.
    fn decide(
        &self,
        usage: &Usage<'_>,
        now: SystemTime,
        lease: Option<u32>,
    ) -> impl Future<Output = Result<(u32, UsageDecision), LimiterError>> + Send + 'static + use<>
    {
        let plan = usage.plan.clone();
        let (keys, args) = self.script_input(usage, now);
        let cost = usage.cost;
        let shared = Arc::clone(&self.shared);
        let decided = async move {
            let source = match lease {
                None => (shared.admit_hash.as_str(), script::ADMIT),
                Some(_) => (shared.lease_hash.as_str(), LEASE),
            };
            let fill = |cmd: &mut ::redis::Cmd| {
                script::admit_args(cmd, cost, &args);
                if let Some(want) = lease {
                    cmd.arg(want);
                }
            };
            let reply: Vec<i64> = shared.run(source, &keys, fill).await?;
            let (taken, reply) = match lease {
                None => (cost, &reply[..]),
                Some(want) => match reply.split_first() {
                    Some((&taken, rest)) if (0..=i64::from(want)).contains(&taken) => {
                        (u32::try_from(taken).unwrap_or(0), rest)
                    }
                    _ => {
                        return Err(LimiterError::Unavailable(
                            format!("unexpected reply from the lease script: {reply:?}").into(),
                        ));
                    }
                },
            };
            let (states, refused) = script::states(reply, plan.limits(), &args)?;
            let mut decision = UsageDecision::admitting(&plan, now);
            for (i, state) in states.iter().enumerate() {
                decision.set(i, state);
            }
            decision.refuse(refused);
            Ok((if refused.is_some() { 0 } else { taken }, decision))
        };
        let shared = Arc::clone(&self.shared);
        async move { shared.counters.counted(decided.await) }
    }

    /// The counters of `usage`'s limits and their script arguments, periods numbered at
    /// `at`: what `admit.lua` and `refund.lua` take.
    fn script_input(&self, usage: &Usage<'_>, at: SystemTime) -> (Vec<String>, Vec<LimitArgs>) {
        let limits = usage.plan.limits();
        let keys = limits
            .iter()
            .map(|limit| self.redis_key(usage.key, usage.workspace, limit))
            .collect();
        let args = limits
            .iter()
            .map(|limit| LimitArgs::new(limit, at))
            .collect();
        (keys, args)
    }

    /// Gives back what an admitted [`admit`](Self::admit) of `usage` spent, the decision
    /// having counted calendar periods at `counted_at` ([`UsageDecision::counted_at`]), in one
    /// round trip; the rule of
    /// [`MemoryUsageLimiter::refund`](crate::plan::MemoryUsageLimiter::refund).
    ///
    /// The future owns what it needs: it may outlive `usage`.
    pub fn refund(
        &self,
        usage: &Usage<'_>,
        counted_at: SystemTime,
    ) -> impl Future<Output = Result<(), LimiterError>> + Send + 'static + use<> {
        let (keys, args) = self.script_input(usage, counted_at);
        let cost = usage.cost;
        let shared = Arc::clone(&self.shared);
        async move {
            let source = (shared.refund_hash.as_str(), script::REFUND);
            let fill = |cmd: &mut ::redis::Cmd| script::admit_args(cmd, cost, &args);
            let changed = shared.run::<i64>(source, &keys, fill).await;
            shared.counters.counted(changed).map(|_| ())
        }
    }

    /// The balance of credits `limit` for key `key` of `workspace` (the workspace's balance
    /// for a shared limit), refills applied; nothing is written. `Ok(None)`, without asking
    /// Redis, if `limit` is not a credits limit.
    pub async fn credits(
        &self,
        key: &KeyId,
        workspace: &Workspace,
        limit: &Limit,
    ) -> Result<Option<u64>, LimiterError> {
        let source = (self.shared.credits_hash.as_str(), script::CREDITS);
        self.on_credits(key, workspace, limit, source, None).await
    }

    /// Adds `amount` credits to `limit`'s balance for key `key` of `workspace` (the
    /// workspace's balance for a shared limit), refills applied first, and returns the new
    /// balance (held at 2^53 − 1). `Ok(None)`, and nothing changed, if `limit` is not a
    /// credits limit.
    pub async fn top_up(
        &self,
        key: &KeyId,
        workspace: &Workspace,
        limit: &Limit,
        amount: u64,
    ) -> Result<Option<u64>, LimiterError> {
        let source = (self.shared.top_up_hash.as_str(), script::TOP_UP);
        self.on_credits(key, workspace, limit, source, Some(amount))
            .await
    }

    /// Runs `credits.lua` or `top_up.lua` (with `amount`) on `limit`'s counter.
    async fn on_credits(
        &self,
        key: &KeyId,
        workspace: &Workspace,
        limit: &Limit,
        source: (&str, &str),
        amount: Option<u64>,
    ) -> Result<Option<u64>, LimiterError> {
        let LimitKind::Credits { initial, refill } = *limit.kind() else {
            return Ok(None);
        };
        let (values, _) = script::credit_args(initial, refill, self.shared.clock.coarse_now());
        let keys = [self.redis_key(key, workspace, limit)];
        let fill = |cmd: &mut ::redis::Cmd| {
            cmd.arg(&values[..]);
            if let Some(amount) = amount {
                cmd.arg(amount.min(script::MAX_COUNT));
            }
        };
        let balance = self
            .shared
            .run(source, &keys, fill)
            .await
            .and_then(|balance: i64| {
                u64::try_from(balance).map(Some).map_err(|_| {
                    LimiterError::Unavailable(
                        format!("unexpected reply from the credits script: {balance}").into(),
                    )
                })
            });
        self.shared.counters.counted(balance)
    }
}

impl Shared {
    /// Runs a script within the timeout.
    async fn run<T: ::redis::FromRedisValue>(
        &self,
        source: (&str, &str),
        keys: &[String],
        fill: impl Fn(&mut ::redis::Cmd),
    ) -> Result<T, LimiterError> {
        let mut conn = self.conn.clone();
        tokio::time::timeout(self.timeout, script::eval(&mut conn, source, keys, fill))
            .await
            .map_err(|_| LimiterError::Timeout(self.timeout))?
            .map_err(|error| LimiterError::Unavailable(Box::new(error)))
    }
}

impl fmt::Debug for RedisUsageLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisUsageLimiter")
            .field("namespace", &self.namespace())
            .field("timeout", &self.shared.timeout)
            .finish_non_exhaustive()
    }
}

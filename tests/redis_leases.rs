//! `LeasedLimiter` against a real redis-server (`KEYGATE_TEST_REDIS_URL`), two instances
//! standing for two nodes: quotas never over-admitted, a rate within `burst + nodes × batch`,
//! about one Redis call per batch for a hot key and one per request for a cold one, units
//! given back on expiry and shutdown, periods kept apart, credits leased only on request,
//! and bounded errors when Redis is gone.

mod conformance;
mod redis_common;
mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use keygate::clock::ManualClock;
use keygate::key::KeyId;
use keygate::limit::gcra;
use keygate::limit::lease::{LeaseConfig, LeasedLimiter};
use keygate::limit::redis::RedisRateLimiter;
use keygate::plan::{Limit, Period, Plan, Usage, UsageDecision};
use keygate::{Quota, RateLimiter, Workspace};
use proptest::prelude::*;
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use redis_common::{RestartRedis, SERVER, fresh_namespace, name, noon, plan, server, services};
use tokio::sync::RwLockReadGuard;

fn daily(max: u64) -> Limit {
    Limit::quota(name("daily"), max, Period::Day)
}

/// A Redis limiter in `namespace`, without a deny cache (every refusal asks Redis).
async fn redis_in(url: &str, namespace: &str) -> RedisRateLimiter {
    RedisRateLimiter::builder()
        .namespace(namespace)
        .timeout(Duration::from_secs(2))
        .deny_cache(false)
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

/// A node: a leased limiter of its own (its own connection) in `namespace`.
async fn node(url: &str, namespace: &str, config: LeaseConfig) -> LeasedLimiter {
    LeasedLimiter::new(redis_in(url, namespace).await, config).unwrap()
}

/// A node on a manual clock (every key leases: the clock places leased requests).
async fn node_on(
    url: &str,
    namespace: &str,
    config: LeaseConfig,
    clock: &ManualClock,
) -> LeasedLimiter {
    let redis = redis_in(url, namespace).await;
    LeasedLimiter::with_clock(redis, config.hot_after(0), clock.clone()).unwrap()
}

async fn inspector(url: &str) -> MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Scripts run by the server so far (`EVALSHA` and `EVAL`), from `INFO commandstats`.
async fn script_calls(redis: &mut MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(redis)
        .await
        .unwrap();
    info.lines()
        .filter_map(|line| {
            let (command, rest) = line.strip_prefix("cmdstat_")?.split_once(":calls=")?;
            let calls: u64 = rest.split(',').next()?.parse().ok()?;
            matches!(command, "evalsha" | "eval").then_some(calls)
        })
        .sum()
}

/// The value of a usage counter.
async fn counter(url: &str, limiter: &LeasedLimiter, key: &KeyId, limit: &Limit) -> String {
    let name = limiter
        .redis()
        .usage()
        .redis_key(key, &Workspace::default(), limit);
    inspector(url).await.get(name).await.unwrap()
}

/// Waits up to 5 s for the counter of `limit` to read `expected`.
async fn until_counter(
    url: &str,
    limiter: &LeasedLimiter,
    key: &KeyId,
    limit: &Limit,
    expected: &str,
) {
    let started = Instant::now();
    loop {
        let value = counter(url, limiter, key, limit).await;
        if value == expected {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the counter stays at {value}, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `tasks` tasks on each of `nodes`, each making `requests` requests of `key` under `p`;
/// returns how many were admitted.
async fn hammer_plan(
    nodes: &[LeasedLimiter],
    p: &Plan,
    key: KeyId,
    tasks: usize,
    requests: usize,
) -> usize {
    let admitted = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for node in nodes {
        for _ in 0..tasks {
            let (node, p, admitted) = (node.clone(), p.clone(), Arc::clone(&admitted));
            handles.push(tokio::spawn(async move {
                let ws = Workspace::default();
                for _ in 0..requests {
                    let d = node.admit(&Usage::new(&key, &ws, &p)).await.unwrap();
                    admitted.fetch_add(usize::from(d.allowed()), Ordering::Relaxed);
                }
            }));
        }
    }
    for handle in handles {
        handle.await.unwrap();
    }
    admitted.load(Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_hammering_a_daily_quota_admit_exactly_n() {
    let Some((_server, url)) = server().await else {
        return;
    };
    let namespace = fresh_namespace();
    let config = LeaseConfig::default()
        .batch(40)
        .hot_after(5)
        .lease_ttl(Duration::from_secs(60));
    let nodes = [
        node(&url, &namespace, config).await,
        node(&url, &namespace, config).await,
    ];
    let limit = daily(500);
    let p = plan(vec![limit.clone()]);
    let key = KeyId::random().unwrap();
    assert_eq!(hammer_plan(&nodes, &p, key, 8, 100).await, 500);
    let value = counter(&url, &nodes[0], &key, &limit).await;
    assert!(value.ends_with(":500"), "{value}");
    assert_eq!(nodes[0].held() + nodes[1].held(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_whose_leases_expire_while_they_hammer_a_rate_and_a_quota_never_pass_the_quota() {
    let Some((_server, url)) = server().await else {
        return;
    };
    let namespace = fresh_namespace();
    let config = LeaseConfig::default()
        .batch(40)
        .hot_after(5)
        .lease_ttl(Duration::from_millis(20));
    let nodes = [
        node(&url, &namespace, config).await,
        node(&url, &namespace, config).await,
    ];
    let limit = daily(2_000);
    let p = plan(vec![
        Limit::rate(
            "burst".parse().unwrap(),
            Quota::new(200, Duration::from_millis(2)).unwrap(),
        ),
        limit.clone(),
    ]);
    let key = KeyId::random().unwrap();
    let admitted = hammer_plan(&nodes, &p, key, 16, 300).await;
    for node in &nodes {
        node.shutdown().await;
    }
    let value = counter(&url, &nodes[0], &key, &limit).await;
    assert!(admitted <= 2_000, "admitted {admitted}, counter {value}");
    assert!(
        value.ends_with(&format!(":{admitted}")),
        "admitted {admitted}, counter {value}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_admit_at_most_burst_plus_two_batches_of_a_rate_in_a_window() {
    let Some((_server, url)) = server().await else {
        return;
    };
    let namespace = fresh_namespace();
    let (burst, batch) = (20, 8);
    let config = LeaseConfig::default()
        .batch(batch)
        .hot_after(0)
        .lease_ttl(Duration::from_secs(60));
    let nodes = [
        node(&url, &namespace, config).await,
        node(&url, &namespace, config).await,
    ];
    // One unit a second: a window of 20 s.
    let quota = Quota::new(burst, Duration::from_secs(1)).unwrap();
    let key = KeyId::random().unwrap();
    // Both nodes take a lease before the window: units taken earlier, spent within it.
    for node in &nodes {
        assert!(node.check(&key, &quota).await.unwrap().allowed);
    }
    let admitted = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for node in &nodes {
        for _ in 0..8 {
            let (node, admitted) = (node.clone(), Arc::clone(&admitted));
            handles.push(tokio::spawn(async move {
                let until = Instant::now() + Duration::from_millis(600);
                while Instant::now() < until {
                    if node.check(&key, &quota).await.unwrap().allowed {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                    // A local answer is ready at once: let the connection's task run.
                    tokio::task::yield_now().await;
                }
            }));
        }
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let refilled = started.elapsed().as_secs() as usize + 1;
    let admitted = admitted.load(Ordering::Relaxed);
    let bound = burst as usize + refilled + 2 * batch as usize;
    assert!(admitted <= bound, "{admitted} admitted, bound {bound}");
    // And the nodes did not starve the key: the burst was spent, less what they hold.
    let held = (nodes[0].held() + nodes[1].held()) as usize;
    assert!(
        admitted + 2 + held >= burst as usize,
        "{admitted} admitted, {held} held"
    );
}

/// The lease script with `TIME` replaced by `ARGV[4]` seconds and `ARGV[5]` microseconds.
fn lease_script_on_given_time() -> String {
    let source = include_str!("../src/limit/redis/lease.lua");
    assert_eq!(source.matches("redis.call('TIME')").count(), 1);
    source.replace("redis.call('TIME')", "{ARGV[4], ARGV[5]}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A lease of up to `want` units at one instant takes exactly what `want` checks in a row
    /// would admit then, by `gcra::decide`, and answers as the last of them (as the first
    /// refusal when none is admitted), whatever came before.
    #[test]
    fn a_lease_takes_what_checks_in_a_row_would_admit(
        burst in 1_u32..30,
        interval_micros in 1_000_000_u64..100_000_000,
        steps in proptest::collection::vec((0_u64..60_000_000, 1_u32..40), 1..30),
    ) {
        let Some(url) = conformance::backend_url("KEYGATE_TEST_REDIS_URL") else {
            return Ok(());
        };
        let _server = SERVER.blocking_read();
        let mut redis = redis::Client::open(url.as_str()).unwrap().get_connection().unwrap();
        let script = redis::Script::new(&lease_script_on_given_time());
        let key = format!("{}reference", fresh_namespace());
        let q = Quota::new(burst, Duration::from_micros(interval_micros)).unwrap();
        let window = interval_micros * u64::from(burst);
        let mut now = 1_800_000_000_000_000_u64;
        let mut tat = 0;
        let micros = |d: Duration| i64::try_from(d.as_nanos() / 1_000).unwrap();
        for (gap, want) in steps {
            now += gap;
            let reply: [i64; 4] = script
                .key(&key)
                .arg(interval_micros)
                .arg(window)
                .arg(want)
                .arg(now / 1_000_000)
                .arg(now % 1_000_000)
                .invoke(&mut redis)
                .unwrap();
            let mut taken = 0;
            let mut last = None;
            for _ in 0..want {
                let (next, decision) = gcra::decide(tat, now * 1_000, &q);
                if !decision.allowed {
                    last = last.or(Some(decision));
                    break;
                }
                (tat, taken, last) = (next, taken + 1, Some(decision));
            }
            let last = last.unwrap();
            prop_assert_eq!(
                reply,
                [taken, i64::from(last.remaining), micros(last.retry_after), micros(last.reset)]
            );
        }
        let _: () = redis::cmd("DEL").arg(&key).query(&mut redis).unwrap();
    }
}

/// Script calls for `requests` sequential requests of one key, made by `request`.
async fn calls_for<F, Fut>(url: &str, requests: usize, mut request: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut redis = inspector(url).await;
    let before = script_calls(&mut redis).await;
    for n in 0..requests {
        assert!(request().await, "request {n} was refused");
    }
    script_calls(&mut redis).await - before
}

#[tokio::test]
async fn a_hot_key_makes_about_one_redis_call_per_batch() {
    let _alone = SERVER.write().await;
    let Some(url) = conformance::backend_url("KEYGATE_TEST_REDIS_URL") else {
        return;
    };
    let config = LeaseConfig::default().batch(50).hot_after(10);
    let limiter = node(&url, &fresh_namespace(), config).await;
    let quota = Quota::new(100_000, Duration::from_millis(1)).unwrap();
    let key = KeyId::random().unwrap();
    // The scripts' first calls may load them.
    limiter
        .check(&KeyId::random().unwrap(), &quota)
        .await
        .unwrap();
    let calls = calls_for(&url, 1_000, || async {
        limiter.check(&key, &quota).await.unwrap().allowed
    })
    .await;
    // Ten cold requests, then one lease per 50 requests, even across a second's end.
    assert!((20..=32).contains(&calls), "{calls} calls");
}

#[tokio::test]
async fn a_hot_key_under_a_plan_makes_about_one_redis_call_per_batch() {
    let _alone = SERVER.write().await;
    let Some(url) = conformance::backend_url("KEYGATE_TEST_REDIS_URL") else {
        return;
    };
    let config = LeaseConfig::default().batch(50).hot_after(10);
    let limiter = node(&url, &fresh_namespace(), config).await;
    let rate = Limit::rate(
        name("burst"),
        Quota::new(100_000, Duration::from_millis(1)).unwrap(),
    );
    let p = plan(vec![rate, daily(1_000_000)]);
    let (key, ws) = (KeyId::random().unwrap(), Workspace::default());
    limiter
        .admit(&Usage::new(&KeyId::random().unwrap(), &ws, &p))
        .await
        .unwrap();
    let calls = calls_for(&url, 1_000, || async {
        limiter
            .admit(&Usage::new(&key, &ws, &p))
            .await
            .unwrap()
            .allowed()
    })
    .await;
    assert!((20..=32).contains(&calls), "{calls} calls");
}

/// A node on which every key stays cold, and a plain Redis limiter in a namespace of its own.
async fn cold_and_exact(url: &str) -> (LeasedLimiter, RedisRateLimiter) {
    let config = LeaseConfig::default().hot_after(1_000);
    let cold = node(url, &fresh_namespace(), config).await;
    // The scripts' first calls may load them.
    let (id, ws) = (KeyId::random().unwrap(), Workspace::default());
    let quota = Quota::new(1, Duration::from_secs(1)).unwrap();
    cold.check(&id, &quota).await.unwrap();
    let p = plan(vec![daily(1)]);
    cold.admit(&Usage::new(&id, &ws, &p)).await.unwrap();
    (cold, redis_in(url, &fresh_namespace()).await)
}

/// Awaits `call`, which must make exactly one script call.
async fn in_one_call<T>(
    redis: &mut MultiplexedConnection,
    call: impl std::future::Future<Output = T>,
) -> T {
    let before = script_calls(redis).await;
    let answer = call.await;
    assert_eq!(script_calls(redis).await - before, 1);
    answer
}

#[tokio::test]
async fn a_cold_key_makes_one_call_per_request_and_decides_as_the_redis_limiter() {
    let _alone = SERVER.write().await;
    let Some(url) = conformance::backend_url("KEYGATE_TEST_REDIS_URL") else {
        return;
    };
    let (limiter, exact) = cold_and_exact(&url).await;
    // Five a minute.
    let quota = Quota::new(5, Duration::from_secs(12)).unwrap();
    let key = KeyId::random().unwrap();
    let mut redis = inspector(&url).await;
    for n in 0..8 {
        let got = in_one_call(&mut redis, limiter.check(&key, &quota))
            .await
            .unwrap();
        let want = exact.check(&key, &quota).await.unwrap();
        let view = |d: &keygate::Decision| (d.allowed, d.limit, d.remaining, d.reset.as_secs());
        assert_eq!(view(&got), view(&want), "request {n}");
    }
    assert_eq!(limiter.held(), 0);
}

#[tokio::test]
async fn a_cold_key_under_a_plan_makes_one_call_per_request_and_decides_as_the_redis_limiter() {
    let _alone = SERVER.write().await;
    let Some(url) = conformance::backend_url("KEYGATE_TEST_REDIS_URL") else {
        return;
    };
    let (limiter, exact) = cold_and_exact(&url).await;
    let p = plan(vec![daily(5)]);
    let (key, ws) = (KeyId::random().unwrap(), Workspace::default());
    let usage = Usage::new(&key, &ws, &p);
    let mut redis = inspector(&url).await;
    for n in 0..8 {
        let got = in_one_call(&mut redis, limiter.admit(&usage))
            .await
            .unwrap();
        let want = exact.admit(&usage).await.unwrap();
        let view = |d: &UsageDecision| (d.allowed(), d.state("daily").unwrap().remaining);
        assert_eq!(view(&got), view(&want), "request {n}");
    }
    assert_eq!(limiter.held(), 0);
}

/// One node on a manual clock, every key leasing, and a fresh key on a plan of one daily
/// quota.
struct Daily {
    limiter: LeasedLimiter,
    clock: ManualClock,
    limit: Limit,
    plan: Plan,
    key: KeyId,
    ws: Workspace,
    url: String,
    _server: RwLockReadGuard<'static, ()>,
}

impl Daily {
    /// `max` a day, the clock at `start`; `None` when the test is skipped.
    async fn new(config: LeaseConfig, max: u64, start: SystemTime) -> Option<Self> {
        let (server, url) = server().await?;
        let clock = ManualClock::starting_at(start);
        let limit = daily(max);
        Some(Self {
            limiter: node_on(&url, &fresh_namespace(), config, &clock).await,
            clock,
            plan: plan(vec![limit.clone()]),
            limit,
            key: KeyId::random().unwrap(),
            ws: Workspace::default(),
            url,
            _server: server,
        })
    }

    fn usage(&self, cost: u32) -> Usage<'_> {
        Usage::new(&self.key, &self.ws, &self.plan).cost(cost)
    }

    /// The limiter's decision for a request of `cost`.
    async fn admit(&self, cost: u32) -> UsageDecision {
        self.limiter.admit(&self.usage(cost)).await.unwrap()
    }

    /// The quota's counter in Redis.
    async fn counter(&self) -> String {
        counter(&self.url, &self.limiter, &self.key, &self.limit).await
    }
}

#[tokio::test]
async fn a_leased_decision_reports_what_redis_left_plus_what_the_node_holds() {
    let Some(t) = Daily::new(LeaseConfig::default().batch(10), 100, noon()).await else {
        return;
    };
    for expected in [99, 98, 97] {
        let d = t.admit(1).await;
        assert_eq!(d.state("daily").unwrap().remaining, expected);
    }
    assert_eq!(t.counter().await, "q:20421:10");
    assert_eq!(t.limiter.held(), 7);
}

#[tokio::test]
async fn a_route_cost_spends_that_many_units_of_the_lease() {
    let Some(t) = Daily::new(LeaseConfig::default().batch(10), 100, noon()).await else {
        return;
    };
    assert!(t.admit(4).await.allowed());
    assert_eq!(t.limiter.held(), 6);
    // 6 held, 7 asked: a new lease adds to the few units left.
    assert!(t.admit(7).await.allowed());
    assert_eq!(t.limiter.held(), 9);
    assert_eq!(t.counter().await, "q:20421:20");
}

#[tokio::test]
async fn a_refused_costly_request_does_not_refuse_a_cheaper_one() {
    let Some(t) = Daily::new(LeaseConfig::default().batch(4), 10, noon()).await else {
        return;
    };
    assert!(t.admit(8).await.allowed());
    assert_eq!(t.limiter.held(), 0);
    let refused = t.admit(5).await;
    assert_eq!(refused.refused_by().unwrap().name().as_str(), "daily");
    // Remembered for requests of that cost or more, not for a cheaper one that fits.
    assert!(!t.admit(6).await.allowed());
    assert!(t.admit(2).await.allowed());
    assert_eq!(t.counter().await, "q:20421:10");
}

#[tokio::test]
async fn a_refund_puts_the_units_back_into_the_local_balance() {
    let Some(t) = Daily::new(LeaseConfig::default().batch(10), 100, noon()).await else {
        return;
    };
    let d = t.admit(3).await;
    assert_eq!(t.limiter.held(), 7);
    t.limiter.refund_usage(&t.usage(3), d.counted_at());
    assert_eq!(t.limiter.held(), 10);
    assert_eq!(t.counter().await, "q:20421:10");

    let quota = Quota::new(10, Duration::from_secs(1)).unwrap();
    assert!(t.limiter.check(&t.key, &quota).await.unwrap().allowed);
    assert_eq!(t.limiter.held(), 10 + 9);
    t.limiter.refund(&t.key, &quota);
    assert_eq!(t.limiter.held(), 10 + 10);
}

#[tokio::test]
async fn an_expired_lease_gives_its_units_back() {
    let config = LeaseConfig::default()
        .batch(10)
        .lease_ttl(Duration::from_millis(100));
    let Some(t) = Daily::new(config, 100, noon()).await else {
        return;
    };
    assert!(t.admit(1).await.allowed());
    assert_eq!(t.counter().await, "q:20421:10");
    t.clock.advance(Duration::from_millis(150));
    until_counter(&t.url, &t.limiter, &t.key, &t.limit, "q:20421:1").await;
    assert_eq!(t.limiter.held(), 0);
}

#[tokio::test]
async fn an_expired_lease_is_never_spent() {
    let config = LeaseConfig::default()
        .batch(10)
        .lease_ttl(Duration::from_secs(30));
    let Some(t) = Daily::new(config, 100, noon()).await else {
        return;
    };
    assert!(t.admit(1).await.allowed());
    t.clock.advance(Duration::from_secs(31));
    // The old lease's 9 go back, a new one takes 10 and spends 1.
    assert!(t.admit(1).await.allowed());
    assert_eq!(t.limiter.held(), 9);
    until_counter(&t.url, &t.limiter, &t.key, &t.limit, "q:20421:11").await;
}

#[tokio::test]
async fn shutdown_gives_a_plans_unspent_units_back() {
    let config = LeaseConfig::default()
        .batch(10)
        .lease_ttl(Duration::from_secs(60));
    let Some(t) = Daily::new(config, 100, noon()).await else {
        return;
    };
    for _ in 0..3 {
        assert!(t.admit(1).await.allowed());
    }
    assert_eq!(t.counter().await, "q:20421:10");
    t.limiter.shutdown().await;
    assert_eq!(t.counter().await, "q:20421:3");
    assert_eq!(t.limiter.held(), 0);
    // After shutdown, every request takes the exact path: no lease is kept.
    assert!(t.admit(1).await.allowed());
    assert_eq!(t.limiter.held(), 0);
}

#[tokio::test]
async fn shutdown_gives_a_rates_unspent_units_back() {
    let Some((_server, url)) = server().await else {
        return;
    };
    let namespace = fresh_namespace();
    let config = LeaseConfig::default()
        .batch(5)
        .hot_after(0)
        .lease_ttl(Duration::from_secs(60));
    let limiter = node(&url, &namespace, config).await;
    let quota = Quota::new(10, Duration::from_secs(10)).unwrap();
    let key = KeyId::random().unwrap();
    assert_eq!(limiter.check(&key, &quota).await.unwrap().remaining, 9);
    limiter.shutdown().await;
    // One unit spent by the node, one by this check: four came back.
    let exact = redis_in(&url, &namespace).await;
    assert_eq!(exact.check(&key, &quota).await.unwrap().remaining, 8);
}

#[tokio::test]
async fn a_new_period_never_spends_the_old_periods_units() {
    let config = LeaseConfig::default()
        .batch(4)
        .lease_ttl(Duration::from_secs(3600));
    // 23:59:30 the day before noon().
    let start = noon() - Duration::from_secs(12 * 3600 + 30);
    let Some(t) = Daily::new(config, 10, start).await else {
        return;
    };
    assert!(t.admit(1).await.allowed());
    assert_eq!(t.limiter.held(), 3);
    t.clock.advance(Duration::from_secs(60));
    let mut admitted = 0;
    for _ in 0..20 {
        admitted += usize::from(t.admit(1).await.allowed());
    }
    assert_eq!(admitted, 10);
    assert_eq!(t.counter().await, "q:20421:10");
}

#[tokio::test]
async fn the_lease_scripts_are_loaded_again_after_the_server_forgets_them() {
    let Some((_server, url)) = server().await else {
        return;
    };
    let config = LeaseConfig::default().batch(5).hot_after(0);
    let limiter = node(&url, &fresh_namespace(), config).await;
    let quota = Quota::new(100, Duration::from_secs(1)).unwrap();
    let p = plan(vec![daily(100)]);
    let ws = Workspace::default();
    for _ in 0..2 {
        let _: () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut inspector(&url).await)
            .await
            .unwrap();
        // A fresh key each time: no lease held, so each request takes one.
        let key = KeyId::random().unwrap();
        assert!(limiter.check(&key, &quota).await.unwrap().allowed);
        assert!(
            limiter
                .admit(&Usage::new(&key, &ws, &p))
                .await
                .unwrap()
                .allowed()
        );
    }
    assert_eq!(limiter.held(), 2 * (4 + 4));
}

#[tokio::test]
async fn credits_are_leased_only_when_opted_in() {
    let Some((_server, url)) = server().await else {
        return;
    };
    let clock = ManualClock::starting_at(noon());
    let credits = Limit::credits(name("credits"), 1000, None);
    let p = plan(vec![credits.clone()]);
    let ws = Workspace::default();
    for (opt_in, balance, held) in [(false, 995, 0), (true, 990, 5)] {
        let config = LeaseConfig::default().batch(10).credits(opt_in);
        let limiter = node_on(&url, &fresh_namespace(), config, &clock).await;
        let key = KeyId::random().unwrap();
        for _ in 0..5 {
            assert!(
                limiter
                    .admit(&Usage::new(&key, &ws, &p))
                    .await
                    .unwrap()
                    .allowed()
            );
        }
        let left = limiter
            .redis()
            .usage()
            .credits(&key, &ws, &credits)
            .await
            .unwrap();
        assert_eq!(
            (left, limiter.held()),
            (Some(balance), held),
            "credits({opt_in})"
        );
    }
}

/// `scripts/services.sh <action>` on the server of `url` (its port): a test stops only the

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_redis_gets_a_bounded_503_from_the_layer_with_leases() {
    use http::{Request, Response, StatusCode};
    use keygate::{ApiKeyLayer, KeyManager, MemoryKeyStore, NewKey};
    use tower::{ServiceBuilder, ServiceExt, service_fn};

    let _alone = SERVER.write().await;
    let Some(url) = conformance::backend_url("KEYGATE_TEST_REDIS_URL") else {
        return;
    };
    let redis = RedisRateLimiter::builder()
        .namespace(fresh_namespace())
        .timeout(Duration::from_millis(100))
        .connect(url.as_str())
        .await
        .unwrap();
    let limiter = LeasedLimiter::new(redis, LeaseConfig::default().hot_after(0)).unwrap();
    let store = MemoryKeyStore::new();
    let key = store
        .create(NewKey::new(name("ci"), name("read:all")))
        .await
        .unwrap()
        .plaintext;
    let svc = ServiceBuilder::new()
        .layer(
            ApiKeyLayer::builder(store, limiter.clone())
                .default_quota(Quota::new(100, Duration::from_secs(1)).unwrap())
                .build(),
        )
        .service(service_fn(|_req: Request<String>| async {
            Ok::<_, std::convert::Infallible>(Response::new(String::new()))
        }));
    let guard = RestartRedis(url.clone());
    assert!(services(&url, "stop-redis").unwrap().success());
    let bound = Duration::from_secs(2);
    for _ in 0..3 {
        let started = Instant::now();
        let request = Request::get("/v1/records")
            .header("authorization", format!("Bearer {}", key.expose_secret()))
            .body(String::new())
            .unwrap();
        let response = svc.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(started.elapsed() < bound, "took {:?}", started.elapsed());
        let plan_answer = limiter
            .admit(&Usage::new(
                &KeyId::random().unwrap(),
                &Workspace::default(),
                &plan(vec![daily(5)]),
            ))
            .await;
        assert!(plan_answer.is_err(), "{plan_answer:?}");
        assert!(started.elapsed() < bound, "took {:?}", started.elapsed());
    }
    assert!(services(&url, "start-redis").unwrap().success());
    drop(guard);
}

/// A hot key on a daily quota of 200, through the layer on a real socket with two nodes'
/// worth of leases: 200 × 200, then 429 `quota_exceeded`.
#[tokio::test]
async fn a_hot_key_through_the_layer_gets_its_quota_of_200s_then_quota_exceeded() {
    use axum::Router;
    use axum::routing::get;
    use keygate::{ApiKeyLayer, KeyManager, MemoryKeyStore, NewKey, PlanManager};

    let Some((_server, url)) = server().await else {
        return;
    };
    let config = LeaseConfig::default().batch(50).hot_after(10);
    let limiter = node(&url, &fresh_namespace(), config).await;
    let store = MemoryKeyStore::new();
    let trial = Plan::new(name("trial"), vec![daily(200)]).unwrap();
    store.put_plan(trial).await.unwrap();
    let created = store
        .create(NewKey::new(name("ci"), name("read:all")).plan(name("trial")))
        .await
        .unwrap();
    let app = Router::new()
        .route("/v1/records", get(|| async { "records" }))
        .layer(ApiKeyLayer::new(store, limiter.clone()));
    let addr = wire::serve_axum(app).await;
    let secret = created.plaintext.expose_secret();
    for n in 0..200 {
        let ok = wire::send(addr, wire::request("GET", "/v1/records", Some(secret))).await;
        assert_eq!(ok.status(), 200, "request {n}");
    }
    let over = wire::send(addr, wire::request("GET", "/v1/records", Some(secret))).await;
    assert_eq!(over.status(), 429);
    assert_eq!(wire::problem_code(&over), "quota_exceeded");
    assert!(over.headers().contains_key("retry-after"));
    assert_eq!(limiter.held(), 0);
}

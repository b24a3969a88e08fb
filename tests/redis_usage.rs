//! `RedisUsageLimiter` against a real redis-server (`KEYGATE_TEST_REDIS_URL`): the decisions
//! of `MemoryUsageLimiter` on quotas and credits, all-or-nothing, counters shared by
//! instances and surviving a restart of the application, one round trip per request, and
//! bounded answers when Redis is silent or gone.

mod conformance;
mod redis_common;
mod wire;

use std::future::Future;
use std::num::NonZeroU32;
use std::time::{Duration, Instant, SystemTime};

use keygate::clock::ManualClock;
use keygate::key::KeyId;
use keygate::limit::redis::{RedisUsageLimiter, RedisUsageLimiterBuilder};
use keygate::plan::{
    AnchorDay, Limit, LimitState, MemoryUsageLimiter, Period, Plan, Refill, Sharing, Usage,
    UsageDecision,
};
use keygate::{LimiterError, Quota, Workspace};
use proptest::prelude::*;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis_common::{RestartRedis, SERVER, fresh_namespace, name, noon, plan, server, services};
use tokio::sync::RwLockReadGuard;

const DAY: Duration = Duration::from_secs(86_400);

fn fresh_key() -> KeyId {
    KeyId::random().unwrap()
}

fn builder(namespace: &str, clock: &ManualClock) -> RedisUsageLimiterBuilder {
    RedisUsageLimiter::builder()
        .namespace(namespace)
        .timeout(Duration::from_secs(2))
        .clock(clock.clone())
}

/// A limiter in a namespace of its own on `clock`'s wall time.
async fn limiter_on(url: &str, namespace: &str, clock: &ManualClock) -> RedisUsageLimiter {
    builder(namespace, clock)
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

/// The reference and the limiter under test, on one manual clock.
struct Pair {
    memory: MemoryUsageLimiter<ManualClock>,
    redis: RedisUsageLimiter,
    clock: ManualClock,
    url: String,
    _server: RwLockReadGuard<'static, ()>,
}

impl Pair {
    async fn new() -> Option<Self> {
        let (server, url) = server().await?;
        let clock = ManualClock::starting_at(noon());
        Some(Self {
            memory: MemoryUsageLimiter::with_clock(clock.clone()),
            redis: limiter_on(&url, &fresh_namespace(), &clock).await,
            clock,
            url,
            _server: server,
        })
    }

    /// Both limiters decide `usage`; their decisions must be the same. Returns Redis's.
    async fn admit(&self, usage: Usage<'_>) -> UsageDecision {
        let expected = self.memory.admit(&usage);
        let got = self.redis.admit(&usage).await.unwrap();
        assert_eq!(view(&got), view(&expected), "cost {}", usage.units());
        got
    }

    /// Whether both limiters admit `usage` (they must agree).
    async fn allowed(&self, usage: Usage<'_>) -> bool {
        self.admit(usage).await.allowed()
    }

    /// Both limiters top up; the balances must be the same.
    async fn top_up(&self, key: &KeyId, ws: &Workspace, limit: &Limit, amount: u64) -> u64 {
        let expected = self.memory.top_up(key, ws, limit, amount);
        let got = self.redis.top_up(key, ws, limit, amount).await.unwrap();
        assert_eq!(got, expected);
        got.unwrap()
    }

    /// Both limiters read a balance; it must be the same.
    async fn credits(&self, key: &KeyId, ws: &Workspace, limit: &Limit) -> u64 {
        let expected = self.memory.credits(key, ws, limit);
        let got = self.redis.credits(key, ws, limit).await.unwrap();
        assert_eq!(got, expected);
        got.unwrap()
    }
}

/// What a decision says: admitted, the refusing limit, and every limit's state.
fn view(d: &UsageDecision) -> (bool, Option<String>, Vec<LimitState>) {
    (
        d.allowed(),
        d.refused_by().map(|l| l.name().to_string()),
        d.limits().map(|(_, s)| s).collect(),
    )
}

async fn inspector(url: &str) -> MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test]
async fn quota_decisions_match_the_memory_limiter_request_by_request() {
    let Some(pair) = Pair::new().await else {
        return;
    };
    let p = plan(vec![Limit::quota(name("daily"), 7, Period::Day)]);
    let (key, ws) = (fresh_key(), Workspace::default());
    let mut admitted = 0;
    for cost in [1, 2, 3, 2, 1, 1, 5] {
        let d = pair.admit(Usage::new(&key, &ws, &p).cost(cost)).await;
        admitted += u32::from(d.allowed()) * cost;
    }
    assert_eq!(admitted, 7);
}

#[tokio::test]
async fn a_request_costing_more_than_the_quota_is_refused_with_no_retry_time() {
    let Some(pair) = Pair::new().await else {
        return;
    };
    let p = plan(vec![Limit::quota(name("daily"), 5, Period::Day)]);
    let (key, ws) = (fresh_key(), Workspace::default());
    let d = pair.admit(Usage::new(&key, &ws, &p).cost(6)).await;
    assert!(!d.allowed());
    assert_eq!(d.state("daily").unwrap().retry_after, None);
    assert!(pair.allowed(Usage::new(&key, &ws, &p).cost(5)).await);
}

#[tokio::test]
async fn a_refused_request_spends_nothing_on_any_limit() {
    let Some(pair) = Pair::new().await else {
        return;
    };
    let mut redis = inspector(&pair.url).await;
    let credits = Limit::credits(name("credits"), 3, None);
    let p = plan(vec![
        Limit::rate(
            name("burst"),
            Quota::per_hour(NonZeroU32::new(100).unwrap()),
        ),
        Limit::quota(name("daily"), 10, Period::Day).shared_by(Sharing::Workspace),
        credits.clone(),
    ]);
    let (key, ws) = (fresh_key(), name::<Workspace>("acme"));
    assert!(
        pair.redis
            .admit(&Usage::new(&key, &ws, &p).cost(3))
            .await
            .unwrap()
            .allowed()
    );
    let keys: Vec<String> = p
        .limits()
        .iter()
        .map(|l| pair.redis.redis_key(&key, &ws, l))
        .collect();
    let before: Vec<Option<String>> = redis.mget(&keys).await.unwrap();
    for _ in 0..3 {
        let refused = pair.redis.admit(&Usage::new(&key, &ws, &p)).await.unwrap();
        assert_eq!(refused.refused_by().unwrap().name().as_str(), "credits");
        assert_eq!(refused.state("daily").unwrap().remaining, 7);
        assert_eq!(refused.state("burst").unwrap().remaining, 97);
    }
    let after: Vec<Option<String>> = redis.mget(&keys).await.unwrap();
    assert_eq!(after, before);
    assert!(after.iter().all(Option::is_some));
    assert_eq!(
        pair.redis.credits(&key, &ws, &credits).await.unwrap(),
        Some(0)
    );
}

impl Pair {
    /// Both limiters give back `usage`, counted at `counted_at`.
    async fn refund(&self, usage: Usage<'_>, counted_at: SystemTime) {
        self.memory.refund(&usage, counted_at);
        self.redis.refund(&usage, counted_at).await.unwrap();
    }
}

#[tokio::test]
async fn a_refund_gives_the_cost_back_to_quotas_and_credits_as_the_memory_limiter_does() {
    let Some(pair) = Pair::new().await else {
        return;
    };
    let p = plan(vec![
        Limit::quota(name("daily"), 4, Period::Day).shared_by(Sharing::Workspace),
        Limit::credits(name("credits"), 4, None),
    ]);
    let (key, ws) = (fresh_key(), name::<Workspace>("acme"));
    for _ in 0..5 {
        let d = pair.admit(Usage::new(&key, &ws, &p).cost(3)).await;
        assert!(d.allowed());
        pair.refund(Usage::new(&key, &ws, &p).cost(3), d.counted_at())
            .await;
    }
    assert!(pair.allowed(Usage::new(&key, &ws, &p).cost(4)).await);
    assert!(!pair.allowed(Usage::new(&key, &ws, &p)).await);
}

#[tokio::test]
async fn a_refund_gives_a_rate_its_units_back_and_never_more_than_its_burst() {
    let Some(pair) = Pair::new().await else {
        return;
    };
    let p = plan(vec![
        Limit::rate(name("burst"), Quota::per_hour(NonZeroU32::new(4).unwrap())),
        Limit::quota(name("daily"), 4, Period::Day),
    ]);
    let (key, ws) = (fresh_key(), name::<Workspace>("acme"));
    let usage = Usage::new(&key, &ws, &p).cost(3);
    let d = pair.redis.admit(&usage).await.unwrap();
    assert!(d.allowed());
    for _ in 0..3 {
        pair.redis.refund(&usage, d.counted_at()).await.unwrap();
    }
    let d = pair.redis.admit(&Usage::new(&key, &ws, &p)).await.unwrap();
    assert_eq!(d.state("burst").unwrap().remaining, 3);
    assert_eq!(d.state("daily").unwrap().remaining, 3);
}

#[tokio::test]
async fn a_refund_of_yesterdays_request_gives_nothing_to_today() {
    let Some(pair) = Pair::new().await else {
        return;
    };
    let p = plan(vec![Limit::quota(name("daily"), 1, Period::Day)]);
    let (key, ws) = (fresh_key(), name::<Workspace>("acme"));
    pair.clock.advance(DAY / 2 - Duration::from_secs(1));
    let yesterday = pair.admit(Usage::new(&key, &ws, &p)).await;
    assert!(yesterday.allowed());
    pair.clock.advance(Duration::from_secs(1));
    assert!(pair.allowed(Usage::new(&key, &ws, &p)).await);
    pair.refund(Usage::new(&key, &ws, &p), yesterday.counted_at())
        .await;
    assert!(!pair.allowed(Usage::new(&key, &ws, &p)).await);
}

#[tokio::test]
async fn a_refund_after_a_refill_leaves_the_refilled_balance() {
    let Some(pair) = Pair::new().await else {
        return;
    };
    let credits = Limit::credits(
        name("credits"),
        3,
        Some(Refill {
            amount: 3,
            period: Period::Day,
        }),
    );
    let p = plan(vec![credits.clone()]);
    let (key, ws) = (fresh_key(), name::<Workspace>("acme"));
    let spent = pair.admit(Usage::new(&key, &ws, &p).cost(3)).await;
    assert!(spent.allowed());
    pair.clock.advance(DAY);
    pair.refund(Usage::new(&key, &ws, &p).cost(3), spent.counted_at())
        .await;
    assert_eq!(pair.credits(&key, &ws, &credits).await, 3);
}

#[tokio::test]
async fn refused_requests_report_every_limit_as_the_memory_limiter_does() {
    let Some(pair) = Pair::new().await else {
        return;
    };
    let p = plan(vec![
        Limit::quota(name("daily"), 4, Period::Day),
        Limit::quota(
            name("monthly"),
            6,
            Period::Month(AnchorDay::new(15).unwrap()),
        )
        .shared_by(Sharing::Workspace),
        Limit::credits(
            name("credits"),
            5,
            Some(Refill {
                amount: 5,
                period: Period::Day,
            }),
        ),
    ]);
    let (a, b, ws) = (fresh_key(), fresh_key(), name::<Workspace>("acme"));
    for (key, cost) in [
        (&a, 2),
        (&b, 3),
        (&a, 2),
        (&b, 1),
        (&b, 1),
        (&a, 3),
        (&b, 2),
    ] {
        pair.admit(Usage::new(key, &ws, &p).cost(cost)).await;
    }
}

#[tokio::test]
async fn a_new_day_starts_a_new_quota_period() {
    let Some(pair) = Pair::new().await else {
        return;
    };
    let p = plan(vec![Limit::quota(name("daily"), 2, Period::Day)]);
    let (key, ws) = (fresh_key(), Workspace::default());
    for _ in 0..3 {
        pair.admit(Usage::new(&key, &ws, &p)).await;
    }
    let refused = pair.admit(Usage::new(&key, &ws, &p)).await;
    assert_eq!(
        refused.state("daily").unwrap().retry_after,
        Some(Duration::from_secs(12 * 3600))
    );
    pair.clock.advance(Duration::from_secs(12 * 3600));
    assert!(pair.allowed(Usage::new(&key, &ws, &p)).await);
}

#[tokio::test]
async fn a_monthly_quota_starts_again_on_its_anchor_day() {
    let Some(pair) = Pair::new().await else {
        return;
    };
    // 29 November: the period anchored on the 30th ends tomorrow.
    let p = plan(vec![Limit::quota(
        name("monthly"),
        3,
        Period::Month(AnchorDay::new(30).unwrap()),
    )]);
    let (key, ws) = (fresh_key(), Workspace::default());
    for _ in 0..4 {
        pair.admit(Usage::new(&key, &ws, &p)).await;
    }
    pair.clock.advance(DAY);
    for _ in 0..4 {
        pair.admit(Usage::new(&key, &ws, &p)).await;
    }
    assert!(!pair.allowed(Usage::new(&key, &ws, &p)).await);
}

#[tokio::test]
async fn credits_refill_at_a_new_period_and_keep_a_larger_balance() {
    let Some(pair) = Pair::new().await else {
        return;
    };
    let credits = Limit::credits(
        name("credits"),
        2,
        Some(Refill {
            amount: 4,
            period: Period::Day,
        }),
    );
    let p = plan(vec![credits.clone()]);
    let (key, ws) = (fresh_key(), Workspace::default());
    for _ in 0..3 {
        pair.admit(Usage::new(&key, &ws, &p)).await;
    }
    assert_eq!(pair.credits(&key, &ws, &credits).await, 0);
    pair.clock.advance(DAY);
    assert_eq!(pair.credits(&key, &ws, &credits).await, 4);
    pair.admit(Usage::new(&key, &ws, &p).cost(3)).await;
    assert_eq!(pair.top_up(&key, &ws, &credits, 10).await, 11);
    pair.clock.advance(DAY);
    // 11 is more than the refill: it is kept.
    assert_eq!(pair.credits(&key, &ws, &credits).await, 11);
    pair.admit(Usage::new(&key, &ws, &p).cost(11)).await;
    let refused = pair.admit(Usage::new(&key, &ws, &p)).await;
    assert_eq!(
        refused.state("credits").unwrap().retry_after,
        Some(Duration::from_secs(12 * 3600))
    );
}

#[tokio::test]
async fn credits_without_a_refill_wait_for_a_top_up_and_never_expire() {
    let Some(pair) = Pair::new().await else {
        return;
    };
    let credits = Limit::credits(name("credits"), 1, None);
    let p = plan(vec![credits.clone()]);
    let (key, ws) = (fresh_key(), Workspace::default());
    pair.admit(Usage::new(&key, &ws, &p)).await;
    let refused = pair.admit(Usage::new(&key, &ws, &p)).await;
    assert_eq!(refused.state("credits").unwrap().retry_after, None);
    let pttl: i64 = inspector(&pair.url)
        .await
        .pttl(pair.redis.redis_key(&key, &ws, &credits))
        .await
        .unwrap();
    assert_eq!(pttl, -1, "a credits counter has no TTL");
    pair.clock.advance(DAY * 40);
    assert!(!pair.allowed(Usage::new(&key, &ws, &p)).await);
    assert_eq!(pair.top_up(&key, &ws, &credits, 2).await, 2);
    assert!(pair.allowed(Usage::new(&key, &ws, &p).cost(2)).await);
}

#[tokio::test]
async fn credits_and_top_up_answer_none_for_a_limit_that_is_not_credits() {
    let Some(pair) = Pair::new().await else {
        return;
    };
    let daily = Limit::quota(name("daily"), 5, Period::Day);
    let (key, ws) = (fresh_key(), Workspace::default());
    assert_eq!(pair.redis.credits(&key, &ws, &daily).await.unwrap(), None);
    assert_eq!(pair.redis.top_up(&key, &ws, &daily, 5).await.unwrap(), None);
}

#[tokio::test]
async fn a_workspace_limit_counts_every_key_of_the_workspace_and_a_key_limit_one_key() {
    let Some(pair) = Pair::new().await else {
        return;
    };
    let p = plan(vec![
        Limit::quota(name("per-key"), 2, Period::Day),
        Limit::quota(name("shared"), 3, Period::Day).shared_by(Sharing::Workspace),
    ]);
    let (a, b, c) = (fresh_key(), fresh_key(), fresh_key());
    let (acme, other) = (name::<Workspace>("acme"), name::<Workspace>("other"));
    for key in [&a, &a, &a, &b, &b] {
        pair.admit(Usage::new(key, &acme, &p)).await;
    }
    let refused = pair.admit(Usage::new(&c, &acme, &p)).await;
    assert_eq!(refused.refused_by().unwrap().name().as_str(), "shared");
    assert!(pair.allowed(Usage::new(&c, &other, &p)).await);
}

#[tokio::test]
async fn a_rate_in_a_plan_admits_its_burst_then_refuses_with_a_retry_time() {
    let Some(pair) = Pair::new().await else {
        return;
    };
    let p = plan(vec![Limit::rate(
        name("burst"),
        Quota::new(3, Duration::from_secs(60)).unwrap(),
    )]);
    let (key, ws) = (fresh_key(), Workspace::default());
    let too_big = pair
        .redis
        .admit(&Usage::new(&key, &ws, &p).cost(4))
        .await
        .unwrap();
    assert!(!too_big.allowed());
    assert_eq!(too_big.state("burst").unwrap().retry_after, None);
    for remaining in [1, 0] {
        let d = pair
            .redis
            .admit(&Usage::new(&key, &ws, &p).cost(if remaining == 1 { 2 } else { 1 }))
            .await
            .unwrap();
        assert!(d.allowed());
        assert_eq!(d.state("burst").unwrap().remaining, remaining);
    }
    let refused = pair.redis.admit(&Usage::new(&key, &ws, &p)).await.unwrap();
    let state = refused.state("burst").unwrap();
    assert!(!refused.allowed());
    let retry = state.retry_after.unwrap();
    assert!(
        retry > Duration::from_secs(59) && retry <= Duration::from_secs(60),
        "{retry:?}"
    );
    assert!(state.reset > Duration::from_secs(179) && state.reset <= Duration::from_secs(180));
}

#[tokio::test]
async fn keys_are_named_by_subject_and_share_the_workspace_hash_tag() {
    let Some((_server, url)) = server().await else {
        return;
    };
    let namespace = fresh_namespace();
    let limiter = limiter_on(&url, &namespace, &ManualClock::starting_at(noon())).await;
    let per_key = Limit::quota(name("daily"), 5, Period::Day);
    let shared = Limit::quota(name("monthly"), 5, Period::Month(AnchorDay::FIRST))
        .shared_by(Sharing::Workspace);
    let (key, ws) = (fresh_key(), name::<Workspace>("acme"));
    assert_eq!(
        limiter.redis_key(&key, &ws, &per_key),
        format!("{namespace}kg_k:{{acme}}:{}:daily", key.as_str())
    );
    assert_eq!(
        limiter.redis_key(&key, &ws, &shared),
        format!("{namespace}kg_w:{{acme}}:monthly")
    );
    let p = plan(vec![per_key.clone(), shared.clone()]);
    assert!(
        limiter
            .admit(&Usage::new(&key, &ws, &p))
            .await
            .unwrap()
            .allowed()
    );
    let mut redis = inspector(&url).await;
    let stored: Vec<Option<String>> = redis
        .mget(&[
            limiter.redis_key(&key, &ws, &per_key),
            limiter.redis_key(&key, &ws, &shared),
        ])
        .await
        .unwrap();
    // Days from 1970-01-01: 20,421 is 2025-11-29, 20,393 is 2025-11-01.
    assert_eq!(
        stored,
        [Some("q:20421:1".to_owned()), Some("q:20393:1".to_owned())]
    );
}

#[tokio::test]
async fn a_quota_counter_expires_an_hour_after_its_period_ends() {
    let Some(pair) = Pair::new().await else {
        return;
    };
    let daily = Limit::quota(name("daily"), 5, Period::Day);
    let (key, ws) = (fresh_key(), Workspace::default());
    pair.admit(Usage::new(&key, &ws, &plan(vec![daily.clone()])))
        .await;
    let pttl: i64 = inspector(&pair.url)
        .await
        .pttl(pair.redis.redis_key(&key, &ws, &daily))
        .await
        .unwrap();
    // Noon: 12 hours to midnight, and one more.
    let expected = 13 * 3_600_000;
    assert!(
        pttl <= expected && pttl > expected - 5_000,
        "PTTL {pttl} ms"
    );
}

#[tokio::test]
async fn a_lagging_clock_never_reopens_a_period_that_has_ended() {
    let Some((_server, url)) = server().await else {
        return;
    };
    let namespace = fresh_namespace();
    let ahead = ManualClock::starting_at(noon() + DAY);
    let behind = ManualClock::starting_at(noon());
    let (a, b) = (
        limiter_on(&url, &namespace, &ahead).await,
        limiter_on(&url, &namespace, &behind).await,
    );
    let p = plan(vec![Limit::quota(name("daily"), 3, Period::Day)]);
    let (key, ws) = (fresh_key(), Workspace::default());
    for limiter in [&a, &b, &a] {
        assert!(
            limiter
                .admit(&Usage::new(&key, &ws, &p))
                .await
                .unwrap()
                .allowed()
        );
    }
    for limiter in [&b, &a] {
        assert!(
            !limiter
                .admit(&Usage::new(&key, &ws, &p))
                .await
                .unwrap()
                .allowed()
        );
    }
}

#[tokio::test]
async fn counters_survive_a_new_limiter_instance() {
    let Some((_server, url)) = server().await else {
        return;
    };
    let (namespace, clock) = (fresh_namespace(), ManualClock::starting_at(noon()));
    let credits = Limit::credits(name("credits"), 10, None);
    let p = plan(vec![
        Limit::quota(name("daily"), 5, Period::Day).shared_by(Sharing::Workspace),
        credits.clone(),
    ]);
    let (key, ws) = (fresh_key(), name::<Workspace>("acme"));
    let first = limiter_on(&url, &namespace, &clock).await;
    assert!(
        first
            .admit(&Usage::new(&key, &ws, &p).cost(4))
            .await
            .unwrap()
            .allowed()
    );
    drop(first);

    let restarted = limiter_on(&url, &namespace, &clock).await;
    assert_eq!(
        restarted.credits(&key, &ws, &credits).await.unwrap(),
        Some(6)
    );
    let d = restarted.admit(&Usage::new(&key, &ws, &p)).await.unwrap();
    assert_eq!(d.state("daily").unwrap().remaining, 0);
    assert!(
        !restarted
            .admit(&Usage::new(&key, &ws, &p))
            .await
            .unwrap()
            .allowed()
    );
}

/// `requests` requests of keys of one workspace, from `tasks` tasks spread over `instances`
/// limiters with connections of their own; returns how many were admitted.
async fn hammer(url: &str, p: &Plan, instances: usize, tasks: usize, requests: usize) -> usize {
    let (namespace, clock) = (fresh_namespace(), ManualClock::starting_at(noon()));
    let mut limiters = Vec::new();
    for _ in 0..instances {
        limiters.push(limiter_on(url, &namespace, &clock).await);
    }
    let ws = name::<Workspace>("acme");
    let keys: Vec<KeyId> = (0..4).map(|_| fresh_key()).collect();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (limiter, p, ws, key) = (
            limiters[t % instances].clone(),
            p.clone(),
            ws.clone(),
            keys[t % keys.len()],
        );
        handles.push(tokio::spawn(async move {
            let mut admitted = 0;
            for _ in 0..requests {
                let d = limiter.admit(&Usage::new(&key, &ws, &p)).await.unwrap();
                admitted += usize::from(d.allowed());
            }
            admitted
        }));
    }
    let mut admitted = 0;
    for handle in handles {
        admitted += handle.await.unwrap();
    }
    let check = &limiters[0];
    for key in &keys {
        assert!(
            !check
                .admit(&Usage::new(key, &ws, p))
                .await
                .unwrap()
                .allowed()
        );
        if let Some(credits) = p.limit("credits") {
            assert_eq!(check.credits(key, &ws, credits).await.unwrap(), Some(0));
        }
    }
    admitted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_instances_hammering_a_shared_quota_admit_exactly_n() {
    let Some((_server, url)) = server().await else {
        return;
    };
    let p = plan(vec![
        Limit::quota(name("daily"), 150, Period::Day).shared_by(Sharing::Workspace),
    ]);
    assert_eq!(hammer(&url, &p, 4, 32, 10).await, 150);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_instances_spending_shared_credits_spend_exactly_n() {
    let Some((_server, url)) = server().await else {
        return;
    };
    let p = plan(vec![
        Limit::credits(name("credits"), 150, None).shared_by(Sharing::Workspace),
    ]);
    assert_eq!(hammer(&url, &p, 4, 32, 10).await, 150);
}

/// `INFO commandstats` as (command, calls).
async fn command_calls(redis: &mut MultiplexedConnection) -> Vec<(String, u64)> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(redis)
        .await
        .unwrap();
    info.lines()
        .filter_map(|line| {
            let (command, rest) = line.strip_prefix("cmdstat_")?.split_once(":calls=")?;
            let calls = rest.split(',').next()?.parse().ok()?;
            Some((command.to_owned(), calls))
        })
        .collect()
}

fn calls_of(stats: &[(String, u64)], command: &str) -> u64 {
    stats
        .iter()
        .find(|(c, _)| c == command)
        .map_or(0, |(_, n)| *n)
}

#[tokio::test]
async fn a_three_limit_plan_is_one_round_trip() {
    let _alone = SERVER.write().await;
    let Some(url) = conformance::backend_url("KEYGATE_TEST_REDIS_URL") else {
        return;
    };
    let limiter = limiter_on(&url, &fresh_namespace(), &ManualClock::starting_at(noon())).await;
    let p = plan(vec![
        Limit::rate(
            name("burst"),
            Quota::per_second(NonZeroU32::new(100).unwrap()),
        ),
        Limit::quota(name("monthly"), 1000, Period::Month(AnchorDay::FIRST))
            .shared_by(Sharing::Workspace),
        Limit::credits(name("credits"), 1000, None),
    ]);
    let (key, ws) = (fresh_key(), name::<Workspace>("acme"));
    // The first call may load the script.
    limiter.admit(&Usage::new(&key, &ws, &p)).await.unwrap();
    let mut redis = inspector(&url).await;
    let before = command_calls(&mut redis).await;
    assert!(
        limiter
            .admit(&Usage::new(&key, &ws, &p))
            .await
            .unwrap()
            .allowed()
    );
    let after = command_calls(&mut redis).await;
    let delta = |command: &str| calls_of(&after, command) - calls_of(&before, command);
    assert_eq!(delta("evalsha"), 1);
    assert_eq!(delta("eval"), 0);
    // Inside that one call: every counter read and written.
    assert_eq!((delta("mget"), delta("set")), (1, 3));
}

#[tokio::test]
async fn the_script_is_loaded_again_after_the_server_forgets_it() {
    let Some(pair) = Pair::new().await else {
        return;
    };
    let p = plan(vec![Limit::quota(name("daily"), 2, Period::Day)]);
    let (key, ws) = (fresh_key(), Workspace::default());
    pair.admit(Usage::new(&key, &ws, &p)).await;
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut inspector(&pair.url).await)
        .await
        .unwrap();
    pair.admit(Usage::new(&key, &ws, &p)).await;
    assert!(!pair.allowed(Usage::new(&key, &ws, &p)).await);
}

/// A TCP server that accepts connections and never answers.
async fn silent_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("redis://{addr}/")
}

fn lazy(url: &str) -> ConnectionManager {
    ConnectionManager::new_lazy_with_config(
        redis::Client::open(url).unwrap(),
        ConnectionManagerConfig::new(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_silent_redis_gets_a_timeout_from_every_call() {
    let url = silent_server().await;
    let limiter = RedisUsageLimiter::builder()
        .timeout(Duration::from_millis(100))
        .build(lazy(&url));
    let credits = Limit::credits(name("credits"), 5, None);
    let p = plan(vec![credits.clone()]);
    let (key, ws) = (fresh_key(), Workspace::default());
    let bound = Duration::from_secs(2);
    let started = Instant::now();
    let admit = limiter.admit(&Usage::new(&key, &ws, &p)).await;
    assert!(matches!(admit, Err(LimiterError::Timeout(_))), "{admit:?}");
    let read = limiter.credits(&key, &ws, &credits).await;
    assert!(matches!(read, Err(LimiterError::Timeout(_))), "{read:?}");
    let top_up = limiter.top_up(&key, &ws, &credits, 1).await;
    assert!(
        matches!(top_up, Err(LimiterError::Timeout(_))),
        "{top_up:?}"
    );
    assert!(
        started.elapsed() < bound * 3,
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_redis_gets_a_bounded_error_and_the_limiter_recovers_by_itself() {
    let _alone = SERVER.write().await;
    let Some(url) = conformance::backend_url("KEYGATE_TEST_REDIS_URL") else {
        return;
    };
    let clock = ManualClock::starting_at(noon());
    let limiter = builder(&fresh_namespace(), &clock)
        .timeout(Duration::from_millis(100))
        .connect(url.as_str())
        .await
        .unwrap();
    let credits = Limit::credits(name("credits"), 1000, None);
    let p = plan(vec![credits.clone()]);
    let (key, ws) = (fresh_key(), Workspace::default());
    assert!(
        limiter
            .admit(&Usage::new(&key, &ws, &p))
            .await
            .unwrap()
            .allowed()
    );

    let guard = RestartRedis(url.clone());
    assert!(services(&url, "stop-redis").unwrap().success());
    let bound = Duration::from_secs(2);
    let outage = Instant::now();
    while outage.elapsed() < Duration::from_secs(3) {
        let started = Instant::now();
        let admit = limiter.admit(&Usage::new(&key, &ws, &p)).await;
        assert!(
            matches!(
                admit,
                Err(LimiterError::Timeout(_) | LimiterError::Unavailable(_))
            ),
            "{admit:?}"
        );
        let top_up = limiter.top_up(&key, &ws, &credits, 1).await;
        assert!(top_up.is_err(), "{top_up:?}");
        assert!(started.elapsed() < bound, "took {:?}", started.elapsed());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    assert!(services(&url, "start-redis").unwrap().success());
    for _ in 0..300 {
        if let Ok(d) = limiter.admit(&Usage::new(&key, &ws, &p)).await {
            assert!(d.allowed());
            drop(guard);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the limiter did not recover within 30 s of Redis restarting");
}

/// One step of a random run: the clock moves, then a key requests or is topped up.
#[derive(Debug, Clone)]
enum Step {
    Admit { key: usize, cost: u32 },
    TopUp { key: usize, amount: u64 },
    Wait { hours: u64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0_usize..3, 1_u32..5).prop_map(|(key, cost)| Step::Admit { key, cost }),
        1 => (0_usize..3, 1_u64..6).prop_map(|(key, amount)| Step::TopUp { key, amount }),
        1 => (1_u64..40).prop_map(|hours| Step::Wait { hours }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Any run of requests, top-ups and waits on quotas and credits, per key and per
    /// workspace, decides exactly as the memory limiter.
    #[test]
    fn any_run_on_quotas_and_credits_decides_as_the_memory_limiter(
        steps in proptest::collection::vec(step(), 1..60),
        anchor in 1_u32..=31,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let Some(pair) = Pair::new().await else {
                return;
            };
            let credits = Limit::credits(
                name("credits"),
                6,
                Some(Refill { amount: 8, period: Period::Month(AnchorDay::new(anchor).unwrap()) }),
            );
            let p = plan(vec![
                Limit::quota(name("daily"), 5, Period::Day),
                Limit::quota(name("monthly"), 12, Period::Month(AnchorDay::new(anchor).unwrap()))
                    .shared_by(Sharing::Workspace),
                credits.clone(),
            ]);
            let ws = name::<Workspace>("acme");
            let keys = [fresh_key(), fresh_key(), fresh_key()];
            for step in steps {
                match step {
                    Step::Admit { key, cost } => {
                        pair.admit(Usage::new(&keys[key], &ws, &p).cost(cost)).await;
                    }
                    Step::TopUp { key, amount } => {
                        pair.top_up(&keys[key], &ws, &credits, amount).await;
                    }
                    Step::Wait { hours } => pair.clock.advance(Duration::from_secs(hours * 3600)),
                }
            }
            for key in &keys {
                pair.credits(key, &ws, &credits).await;
            }
        });
    }
}

/// A request whose key, workspace, plan and usage live only in this function: its future
/// may still be returned, spawned and awaited.
fn admit_from_locals(
    limiter: &RedisUsageLimiter,
) -> impl Future<Output = Result<UsageDecision, LimiterError>> + Send + 'static {
    let p = plan(vec![Limit::quota(name("daily"), 1, Period::Day)]);
    let (key, ws) = (fresh_key(), Workspace::default());
    let usage = Usage::new(&key, &ws, &p);
    limiter.admit(&usage)
}

#[tokio::test]
async fn the_admit_future_outlives_the_usage_and_plan_it_was_made_from() {
    let Some(pair) = Pair::new().await else {
        return;
    };
    let decision = tokio::spawn(admit_from_locals(&pair.redis))
        .await
        .unwrap()
        .unwrap();
    assert!(decision.allowed());
    assert_eq!(decision.plan().name().as_str(), "test");
}

/// The layer with `RedisRateLimiter` (plans decided by its `usage()` limiter) and a key on
/// `trial`: five 200s in a UTC day, then 429 `quota_exceeded` naming `trial`.
#[tokio::test]
async fn a_key_on_trial_through_the_layer_and_redis_gets_five_200s_then_quota_exceeded() {
    use http::{Request, Response, StatusCode};
    use keygate::limit::redis::RedisRateLimiter;
    use keygate::{ApiKeyLayer, KeyManager, MemoryKeyStore, NewKey, PlanManager, Rejection};
    use tower::{ServiceBuilder, ServiceExt, service_fn};

    let Some((_guard, url)) = server().await else {
        return;
    };
    let limiter = RedisRateLimiter::builder()
        .namespace(fresh_namespace())
        .connect(url.as_str())
        .await
        .unwrap();
    let store = MemoryKeyStore::new();
    let trial: Plan = Plan::new(
        name("trial"),
        vec![Limit::quota(name("daily"), 5, Period::Day)],
    )
    .unwrap();
    store.put_plan(trial).await.unwrap();
    let key = store
        .create(NewKey::new(name("ci-pipeline"), name("read:all")).plan(name("trial")))
        .await
        .unwrap()
        .plaintext;
    let svc = ServiceBuilder::new()
        .layer(ApiKeyLayer::new(store, limiter))
        .service(service_fn(|_req: Request<String>| async {
            Ok::<_, std::convert::Infallible>(Response::new(String::new()))
        }));
    let call = || {
        let request = Request::get("/v1/records")
            .header("authorization", format!("Bearer {}", key.expose_secret()))
            .body(String::new())
            .unwrap();
        svc.clone().oneshot(request)
    };
    for _ in 0..5 {
        assert_eq!(call().await.unwrap().status(), StatusCode::OK);
    }
    let refused = call().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let rejection = refused.extensions().get::<Rejection>().unwrap();
    assert_eq!(rejection.code().as_str(), "quota_exceeded");
    assert_eq!(rejection.plan().unwrap().name().as_str(), "trial");
    assert!(refused.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn route_layer_403s_spend_nothing_on_a_plan_counted_in_redis() {
    use axum::Router;
    use axum::routing::get;
    use keygate::limit::redis::RedisRateLimiter;
    use keygate::{
        ApiKeyLayer, KeyManager, MemoryKeyStore, NewKey, PlanManager, RequireScopeLayer, Scope,
    };

    let Some((_guard, url)) = server().await else {
        return;
    };
    let limiter = RedisRateLimiter::builder()
        .namespace(fresh_namespace())
        .connect(url.as_str())
        .await
        .unwrap();
    let store = MemoryKeyStore::new();
    let daily = Limit::quota(name("daily"), 3, Period::Day);
    let trial = Plan::new(name("trial"), vec![daily.clone()]).unwrap();
    store.put_plan(trial).await.unwrap();
    let created = store
        .create(NewKey::new(name("ci"), name("read:all")).plan(name("trial")))
        .await
        .unwrap();
    let counter = limiter
        .usage()
        .redis_key(&created.info.id, &Workspace::default(), &daily);
    let mut redis = inspector(&url).await;
    let app = Router::new()
        .route("/v1/records", get(|| async { "records" }))
        .route(
            "/v1/admin/keys",
            get(|| async { "keys" }).route_layer(RequireScopeLayer::new(Scope::Admin)),
        )
        .layer(ApiKeyLayer::new(store, limiter));
    let addr = wire::serve_axum(app).await;
    let secret = created.plaintext.expose_secret();
    for _ in 0..5 {
        let refused = wire::send(addr, wire::request("GET", "/v1/admin/keys", Some(secret))).await;
        assert_eq!(refused.status(), 403);
        // The refund runs on a task of its own: wait until the unit is back.
        let back = async {
            loop {
                let value: String = redis.get(&counter).await.unwrap();
                if value.ends_with(":0") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), back)
            .await
            .unwrap();
    }
    for n in 0..3 {
        let ok = wire::send(addr, wire::request("GET", "/v1/records", Some(secret))).await;
        assert_eq!(ok.status(), 200, "request {n} after five 403s");
    }
    let over = wire::send(addr, wire::request("GET", "/v1/records", Some(secret))).await;
    assert_eq!(over.status(), 429);
    assert_eq!(wire::problem_code(&over), "quota_exceeded");
}

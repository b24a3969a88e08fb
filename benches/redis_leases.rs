//! Leases for a hot key: Redis calls per 1,000 requests and nanoseconds per request for one
//! key hammered through `RedisRateLimiter` (one script call per request) and through
//! `LeasedLimiter` (one call per batch), for a key's own quota and for a plan of a rate and a
//! monthly quota, all in this process against a local redis-server (`KEYGATE_TEST_REDIS_URL`).
//! Redis calls are the server's own count (`INFO commandstats`: `EVALSHA` and `EVAL`), so
//! nothing else may use the server meanwhile.
//!
//! `KEYGATE_TEST_REDIS_URL=redis://127.0.0.1:6390/ cargo bench --features redis --bench redis_leases`
//! (`KEYGATE_BENCH_REQUESTS`, default 20,000 per row and caller count).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keygate::key::KeyId;
use keygate::limit::lease::{LeaseConfig, LeasedLimiter};
use keygate::limit::redis::RedisRateLimiter;
use keygate::plan::{AnchorDay, Limit, Period, Plan, Usage};
use keygate::{Quota, RateLimiter, Workspace};
use redis::aio::MultiplexedConnection;

/// Scripts the server has run so far.
async fn script_calls(redis: &mut MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(redis)
        .await
        .expect("INFO commandstats");
    info.lines()
        .filter_map(|line| {
            let (command, rest) = line.strip_prefix("cmdstat_")?.split_once(":calls=")?;
            let calls: u64 = rest.split(',').next()?.parse().ok()?;
            matches!(command, "evalsha" | "eval").then_some(calls)
        })
        .sum()
}

/// `requests` requests of one fresh key, from `callers` tasks: (Redis calls per 1,000
/// requests, wall nanoseconds per request). Panics on an error or a refusal.
async fn run<F, Fut>(
    redis: &mut MultiplexedConnection,
    callers: usize,
    requests: usize,
    call: F,
) -> (f64, f64)
where
    F: Fn(KeyId) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let id = KeyId::random().expect("OS randomness");
    let call = Arc::new(call);
    let before = script_calls(redis).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let call = Arc::clone(&call);
        tasks.push(tokio::spawn(async move {
            for _ in 0..requests / callers {
                assert!(call(id).await, "every request is admitted");
                // A local answer is ready at once: let the connection's task run.
                tokio::task::yield_now().await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("a caller panicked");
    }
    let elapsed = started.elapsed();
    let calls = script_calls(redis).await - before;
    let done = (requests / callers * callers) as f64;
    (
        calls as f64 * 1_000.0 / done,
        elapsed.as_nanos() as f64 / done,
    )
}

fn main() {
    let Ok(url) = std::env::var("KEYGATE_TEST_REDIS_URL") else {
        println!("skipped: KEYGATE_TEST_REDIS_URL is not set");
        return;
    };
    let requests: usize = std::env::var("KEYGATE_BENCH_REQUESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(async {
        let namespace = format!("keygate:bench:{}:", KeyId::random().expect("randomness"));
        let exact = RedisRateLimiter::builder()
            .namespace(namespace)
            .timeout(Duration::from_secs(1))
            .connect(url.as_str())
            .await
            .expect("redis-server reachable");
        let config = LeaseConfig::default();
        let leased = LeasedLimiter::new(exact.clone(), config).expect("valid config");
        let mut redis = redis::Client::open(url.as_str())
            .expect("URL")
            .get_multiplexed_async_connection()
            .await
            .expect("redis-server reachable");
        // Never refuses.
        let quota = Quota::new(u32::MAX, Duration::from_micros(1)).expect("quota");
        let plan = Plan::new(
            "bench".parse().expect("name"),
            vec![
                Limit::rate("burst".parse().expect("name"), quota),
                Limit::quota(
                    "monthly".parse().expect("name"),
                    u64::MAX,
                    Period::Month(AnchorDay::FIRST),
                ),
            ],
        )
        .expect("plan");
        let workspace = Workspace::default();
        // Load the scripts.
        let warm = KeyId::random().expect("randomness");
        for _ in 0..=config.hot_after {
            leased.check(&warm, &quota).await.expect("no error");
            leased
                .admit(&Usage::new(&warm, &workspace, &plan))
                .await
                .expect("no error");
        }

        println!(
            "batch {}, hot after {} requests/s, {requests} requests of one key per row",
            config.batch, config.hot_after
        );
        println!(
            "| path | callers | exact: Redis calls / 1,000 req | leased: Redis calls / 1,000 req | exact: ns/req | leased: ns/req | leased / exact time |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for callers in [1_usize, 16] {
            let exact_run = run(&mut redis, callers, requests, checks(exact.clone(), quota)).await;
            let leased_run = run(&mut redis, callers, requests, checks(leased.clone(), quota)).await;
            row("key quota", callers, exact_run, leased_run);
            let exact_run = run(&mut redis, callers, requests, admits(exact.clone(), &plan)).await;
            let leased_run = run(&mut redis, callers, requests, admits(leased.clone(), &plan)).await;
            row("plan (rate + monthly quota)", callers, exact_run, leased_run);
        }
        leased.shutdown().await;
    });
}

fn row(path: &str, callers: usize, exact: (f64, f64), leased: (f64, f64)) {
    println!(
        "| {path} | {callers} | {:.1} | {:.1} | {:.0} | {:.0} | {:.3} |",
        exact.0,
        leased.0,
        exact.1,
        leased.1,
        leased.1 / exact.1
    );
}

/// A request of a key under its own `quota` through `limiter`.
fn checks<L: RateLimiter + Clone>(
    limiter: L,
    quota: Quota,
) -> impl Fn(KeyId) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync + 'static
{
    move |id| {
        let check = limiter.check(&id, &quota);
        Box::pin(async move { check.await.expect("no error").allowed })
    }
}

/// A request of a key under `plan` through `limiter`.
fn admits<L: RateLimiter + Clone>(
    limiter: L,
    plan: &Plan,
) -> impl Fn(KeyId) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync + 'static
{
    let plan = plan.clone();
    move |id| {
        let admit = limiter.admit(&Usage::new(&id, &Workspace::default(), &plan));
        Box::pin(async move { admit.await.expect("no error").allowed() })
    }
}

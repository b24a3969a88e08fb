//! Redis usage limiter throughput: requests per second for a plan of one limit and a plan of
//! three (rate, monthly quota shared by the workspace, credits), beside `RedisRateLimiter`'s
//! single check as the baseline, all in this process against a local redis-server
//! (`KEYGATE_TEST_REDIS_URL`). Each request of either plan is one `EVALSHA`, so the ratios
//! show what the extra counters cost inside the script.
//!
//! `KEYGATE_TEST_REDIS_URL=redis://127.0.0.1:6390/ cargo bench --features redis --bench redis_usage`

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use keygate::key::KeyId;
use keygate::limit::redis::{RedisRateLimiter, RedisUsageLimiter};
use keygate::plan::{AnchorDay, Limit, Period, Plan, Sharing, Usage};
use keygate::{Quota, RateLimiter, Workspace};

/// Requests per second of `call` from `callers` tasks for `secs`; panics on any error.
async fn rate<F, Fut>(callers: usize, secs: u64, call: F) -> f64
where
    F: Fn(KeyId) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let (call, stop, done) = (call.clone(), stop.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let id = KeyId::random().expect("OS randomness");
            while !stop.load(Ordering::Relaxed) {
                assert!(call(id).await, "every request is admitted");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("a caller panicked");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn plan(limits: Vec<Limit>) -> Plan {
    Plan::new("bench".parse().expect("name"), limits).expect("plan")
}

fn main() {
    let Ok(url) = std::env::var("KEYGATE_TEST_REDIS_URL") else {
        println!("skipped: KEYGATE_TEST_REDIS_URL is not set");
        return;
    };
    let secs: u64 = std::env::var("KEYGATE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(async {
        let namespace = format!("keygate:bench:{}:", KeyId::random().expect("randomness"));
        let rate_limiter = RedisRateLimiter::builder()
            .namespace(namespace.clone())
            .timeout(Duration::from_secs(1))
            .deny_cache(false)
            .connect(url.as_str())
            .await
            .expect("redis-server reachable");
        let usage = RedisUsageLimiter::builder()
            .namespace(namespace)
            .timeout(Duration::from_secs(1))
            .connect(url.as_str())
            .await
            .expect("redis-server reachable");
        // Never refuses: every request is a full round trip that writes every counter.
        let quota = Quota::new(u32::MAX, Duration::from_micros(1)).expect("quota");
        let burst = Limit::rate("burst".parse().expect("name"), quota);
        let one = plan(vec![burst.clone()]);
        let three = plan(vec![
            burst,
            Limit::quota(
                "monthly".parse().expect("name"),
                u64::MAX,
                Period::Month(AnchorDay::FIRST),
            )
            .shared_by(Sharing::Workspace),
            Limit::credits("credits".parse().expect("name"), u64::MAX, None),
        ]);
        let workspace: Workspace = "bench".parse().expect("workspace");

        println!("| callers | RedisRateLimiter checks/s | 1-limit plan admits/s | 3-limit plan admits/s | 3-limit / 1-limit | 3-limit / rate limiter |");
        println!("|---:|---:|---:|---:|---:|---:|");
        for callers in [1_usize, 64] {
            let baseline = {
                let limiter = rate_limiter.clone();
                rate(callers, secs, move |id| {
                    let check = limiter.check(&id, &quota);
                    async move { check.await.expect("no error").allowed }
                })
                .await
            };
            let plan_rate = |p: Plan| {
                let (limiter, workspace) = (usage.clone(), workspace.clone());
                rate(callers, secs, move |id| {
                    let admit = limiter.admit(&Usage::new(&id, &workspace, &p));
                    async move { admit.await.expect("no error").allowed() }
                })
            };
            let single = plan_rate(one.clone()).await;
            let triple = plan_rate(three.clone()).await;
            println!(
                "| {callers} | {baseline:.0} | {single:.0} | {triple:.0} | {:.2} | {:.2} |",
                triple / single,
                triple / baseline
            );
        }
    });
}

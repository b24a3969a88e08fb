//! Redis limiter throughput: checks per second with 1 and with 64 concurrent callers against a
//! local redis-server (`KEYGATE_TEST_REDIS_URL`). `benches/run.sh` prints the ceiling beside it:
//! `redis-benchmark` sending the same script with `EVALSHA`, with no client library in between.
//!
//! `KEYGATE_TEST_REDIS_URL=redis://127.0.0.1:6390/ cargo bench --features redis --bench redis_throughput`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use keygate::key::KeyId;
use keygate::limit::redis::RedisRateLimiter;
use keygate::{Quota, RateLimiter};

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
        let limiter = Arc::new(
            RedisRateLimiter::builder()
                .namespace("keygate:bench:")
                .timeout(Duration::from_secs(1))
                .deny_cache(false)
                .connect(url.as_str())
                .await
                .expect("redis-server reachable"),
        );
        // Never refuses: every check is a full round trip that writes the key.
        let quota = Quota::new(u32::MAX, Duration::from_micros(1)).expect("quota");
        println!("| callers | checks/s | errors |");
        println!("|---:|---:|---:|");
        for callers in [1_usize, 64] {
            let stop = Arc::new(AtomicBool::new(false));
            let done = Arc::new(AtomicU64::new(0));
            let errors = Arc::new(AtomicU64::new(0));
            let mut tasks = Vec::new();
            for _ in 0..callers {
                let (limiter, stop, done, errors) =
                    (limiter.clone(), stop.clone(), done.clone(), errors.clone());
                tasks.push(tokio::spawn(async move {
                    let id = KeyId::random().expect("OS randomness");
                    while !stop.load(Ordering::Relaxed) {
                        match limiter.check(&id, &quota).await {
                            Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                            Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                }));
            }
            let start = Instant::now();
            tokio::time::sleep(Duration::from_secs(secs)).await;
            stop.store(true, Ordering::Relaxed);
            for task in tasks {
                let _ = task.await;
            }
            let rate = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
            println!(
                "| {callers} | {rate:.0} | {} |",
                errors.load(Ordering::Relaxed)
            );
        }
    });
}

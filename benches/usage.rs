//! The cost of plans: a request under a plan of three limits (a rate, a workspace-shared daily
//! quota, monthly credits) against a single-limit check, in memory. The target: at most 1.5×
//! the single-limit check.
//!
//! Peers, run in this process, interleaved round by round:
//! - `rate_limiter`: `MemoryRateLimiter::check`, one GCRA limit per key (what a key's quota is
//!   without a plan);
//! - `plan_1_limit`: `MemoryUsageLimiter::admit` under a plan of that one rate;
//! - `plan_3_limits`: `MemoryUsageLimiter::admit` under a plan of three limits.
//!
//! Every request is admitted (the limits are large), so each row measures the full
//! all-or-nothing step. `cargo bench --bench usage` prints the median nanoseconds per request
//! of 15 rounds and the ratios.

use std::hint::black_box;
use std::time::{Duration, Instant};

use keygate::key::KeyId;
use keygate::plan::{Limit, MemoryUsageLimiter, Period, Plan, Sharing, Usage};
use keygate::{MemoryRateLimiter, Quota, RateLimiter, Workspace};

const ROUNDS: usize = 15;
const PER_ROUND: u32 = 200_000;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn per_op(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..PER_ROUND {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(PER_ROUND)
}

fn main() {
    // A burst no run can exhaust: every request is admitted.
    let rate = Quota::new(u32::MAX, Duration::from_micros(1)).expect("valid quota");
    let name = |s: &str| s.parse().expect("valid limit name");
    let one = Plan::new(
        "one".parse().expect("name"),
        vec![Limit::rate(name("burst"), rate)],
    )
    .expect("valid plan");
    let three = Plan::new(
        "three".parse().expect("name"),
        vec![
            Limit::rate(name("burst"), rate),
            Limit::quota(name("daily"), u64::MAX / 2, Period::Day).shared_by(Sharing::Workspace),
            Limit::credits(name("credits"), u64::MAX / 2, None),
        ],
    )
    .expect("valid plan");

    let key = KeyId::new("AbCdEfGh1234").expect("valid id");
    let workspace: Workspace = "acme".parse().expect("valid workspace");
    let rate_limiter = MemoryRateLimiter::new();
    let usage = MemoryUsageLimiter::new();

    let mut rows: [(&str, Vec<f64>); 3] = [
        ("rate_limiter", Vec::new()),
        ("plan_1_limit", Vec::new()),
        ("plan_3_limits", Vec::new()),
    ];
    for _ in 0..ROUNDS {
        rows[0].1.push(per_op(|| {
            let _ = black_box(rate_limiter.check(black_box(&key), &rate).into_inner());
        }));
        rows[1].1.push(per_op(|| {
            black_box(usage.admit(&Usage::new(black_box(&key), &workspace, &one)));
        }));
        rows[2].1.push(per_op(|| {
            black_box(usage.admit(&Usage::new(black_box(&key), &workspace, &three)));
        }));
    }
    let medians: Vec<(&str, f64)> = rows.into_iter().map(|(n, v)| (n, median(v))).collect();
    println!("| row | ns per request (median of {ROUNDS} rounds) |");
    println!("|---|---|");
    for (name, ns) in &medians {
        println!("| {name} | {ns:.1} |");
    }
    let ratio = medians[2].1 / medians[0].1;
    println!();
    println!(
        "plan_3_limits / rate_limiter: {ratio:.2}× (target ≤ 1.5×: {})",
        if ratio <= 1.5 { "met" } else { "missed" }
    );
    println!(
        "plan_3_limits / plan_1_limit: {:.2}×",
        medians[2].1 / medians[1].1
    );
}

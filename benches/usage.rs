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
//! And the same comparison for a whole request through `ApiKeyLayer` (memory store and
//! limiter, the default layer), a handler answering an empty 200:
//! - `request_own_quota`: a key with its own quota, one GCRA limit;
//! - `request_plan_3_limits`: a key on the three-limit plan.
//!
//! Every request is admitted (the limits are large), so each row measures the full
//! all-or-nothing step. `cargo bench --bench usage` prints the median nanoseconds per request
//! of 15 rounds and the ratios.

mod support;

use std::hint::black_box;
use std::time::Duration;

use http::StatusCode;
use keygate::key::KeyId;
use keygate::plan::{Limit, MemoryUsageLimiter, Period, Plan, Sharing, Usage};
use keygate::{
    ApiKeyLayer, KeyManager, MemoryKeyStore, MemoryRateLimiter, NewKey, PlanManager, Quota,
    RateLimiter, Workspace,
};
use support::{bearer, call, hello, median, now, per_op, request};
use tower::{Layer, service_fn};

const ROUNDS: usize = 15;
const PER_ROUND: u32 = 200_000;

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

    // Two keys in one store behind one layer: one with its own quota, one on `three`.
    let store = MemoryKeyStore::new();
    let (own, planned) = now(async {
        store.put_plan(three.clone()).await.expect("plan stored");
        let new = |name: &str| {
            NewKey::new(
                name.parse().expect("name"),
                "read:all".parse().expect("scope"),
            )
        };
        let own = store.create(new("own").quota(rate)).await.expect("created");
        let planned = store
            .create(new("planned").plan(three.name().clone()))
            .await
            .expect("created");
        (
            bearer(own.plaintext.expose_secret()),
            bearer(planned.plaintext.expose_secret()),
        )
    });
    let mut svc = ApiKeyLayer::new(store, MemoryRateLimiter::new()).layer(service_fn(hello));
    for auth in [&own, &planned] {
        assert_eq!(call(&mut svc, request(Some(auth))).status(), StatusCode::OK);
    }

    let mut rows: [(&str, Vec<f64>); 5] = [
        ("rate_limiter", Vec::new()),
        ("plan_1_limit", Vec::new()),
        ("plan_3_limits", Vec::new()),
        ("request_own_quota", Vec::new()),
        ("request_plan_3_limits", Vec::new()),
    ];
    for _ in 0..ROUNDS {
        rows[0].1.push(per_op(PER_ROUND, || {
            let _ = black_box(rate_limiter.check(black_box(&key), &rate).into_inner());
        }));
        rows[1].1.push(per_op(PER_ROUND, || {
            black_box(usage.admit(&Usage::new(black_box(&key), &workspace, &one)));
        }));
        rows[2].1.push(per_op(PER_ROUND, || {
            black_box(usage.admit(&Usage::new(black_box(&key), &workspace, &three)));
        }));
        rows[3].1.push(per_op(PER_ROUND, || {
            black_box(call(&mut svc, request(Some(&own))));
        }));
        rows[4].1.push(per_op(PER_ROUND, || {
            black_box(call(&mut svc, request(Some(&planned))));
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
    let request = medians[4].1 / medians[3].1;
    println!(
        "request_plan_3_limits / request_own_quota: {request:.2}× (target ≤ 1.5×: {})",
        if request <= 1.5 { "met" } else { "missed" }
    );
}

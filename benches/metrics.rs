//! The cost of observing decisions: the success path of a request through `ApiKeyLayer`
//! (memory store and limiter, a key with its own quota, a handler answering an empty 200)
//! with metrics and the decision hook on and off. The target: metrics on, in their default
//! configuration, cost ≤ 50 ns more than off.
//!
//! Rows, run in this process, interleaved round by round:
//! - `off`: no hook, metrics off (`.metrics(false)`: what the layer costs without the feature);
//! - `metrics_noop_recorder`: metrics on, no recorder installed (the facade's no-op): the
//!   layer's own share (finding the series' counter);
//! - `metrics_prometheus`: metrics on, recorded by `metrics-exporter-prometheus`'s recorder
//!   (what an operator who scrapes `/metrics` pays);
//! - `metrics_prometheus_latency`: the same with `.metrics_latency(true)`: the latency
//!   histograms' clock reads and samples on top;
//! - `hook`: a trivial `on_decision` hook (it counts events), metrics off.
//!
//! And, for scale, one clock read each: `std::time::Instant::now` (the hook's clock, two
//! reads a request) and `quanta::Instant::now` (the latency histograms' clock, three reads a
//! request with a limiter).
//!
//! `cargo bench --bench metrics --features metrics` prints the median nanoseconds per
//! request of 21 rounds, and each row's difference from and ratio to `off`: the median, over
//! the rounds, of the row's time minus (divided by) `off`'s in the same round.

mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::StatusCode;
use keygate::events::DecisionEvent;
use keygate::{ApiKeyLayer, KeyManager, MemoryKeyStore, MemoryRateLimiter, NewKey, Quota};
use metrics_exporter_prometheus::PrometheusBuilder;
use support::{bearer, call, hello, median, now, per_op, request};
use tower::{Layer, service_fn};

const ROUNDS: usize = 21;
const PER_ROUND: u32 = 200_000;
const TARGET_NS: f64 = 50.0;

fn main() {
    // A burst no run can exhaust: every request is admitted.
    let quota = Quota::new(u32::MAX, Duration::from_micros(1)).expect("valid quota");
    let store = MemoryKeyStore::new();
    let auth = now(async {
        let new = NewKey::new(
            "ci-pipeline".parse().expect("name"),
            "read:all".parse().expect("scope"),
        )
        .workspace("acme".parse().expect("workspace"))
        .quota(quota);
        let created = store.create(new).await.expect("created");
        bearer(created.plaintext.expose_secret())
    });
    let builder = || ApiKeyLayer::builder(store.clone(), MemoryRateLimiter::new());
    let events = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&events);

    let mut off = builder().metrics(false).build().layer(service_fn(hello));
    // Two layers with metrics on: a layer registers its handles with the recorder in effect
    // when it first records, so each recorder gets its own.
    let mut on_noop = builder().build().layer(service_fn(hello));
    let mut on_prometheus = builder().build().layer(service_fn(hello));
    let mut on_latency = builder()
        .metrics_latency(true)
        .build()
        .layer(service_fn(hello));
    let mut hooked = builder()
        .metrics(false)
        .on_decision(move |event: &DecisionEvent<'_>| {
            black_box(event.outcome());
            seen.fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .layer(service_fn(hello));
    let prometheus = PrometheusBuilder::new().build_recorder();
    let handle = prometheus.handle();

    for svc in [&mut off, &mut on_noop, &mut hooked] {
        assert_eq!(call(svc, request(Some(&auth))).status(), StatusCode::OK);
    }
    metrics::with_local_recorder(&prometheus, || {
        for svc in [&mut on_prometheus, &mut on_latency] {
            assert_eq!(call(svc, request(Some(&auth))).status(), StatusCode::OK);
        }
    });

    let mut rows: [(&str, Vec<f64>); 7] = [
        ("off", Vec::new()),
        ("metrics_noop_recorder", Vec::new()),
        ("metrics_prometheus", Vec::new()),
        ("metrics_prometheus_latency", Vec::new()),
        ("hook", Vec::new()),
        ("std_instant_now", Vec::new()),
        ("quanta_instant_now", Vec::new()),
    ];
    for _ in 0..ROUNDS {
        rows[0].1.push(per_op(PER_ROUND, || {
            black_box(call(&mut off, request(Some(&auth))));
        }));
        rows[1].1.push(per_op(PER_ROUND, || {
            black_box(call(&mut on_noop, request(Some(&auth))));
        }));
        rows[2]
            .1
            .push(metrics::with_local_recorder(&prometheus, || {
                per_op(PER_ROUND, || {
                    black_box(call(&mut on_prometheus, request(Some(&auth))));
                })
            }));
        rows[3]
            .1
            .push(metrics::with_local_recorder(&prometheus, || {
                per_op(PER_ROUND, || {
                    black_box(call(&mut on_latency, request(Some(&auth))));
                })
            }));
        rows[4].1.push(per_op(PER_ROUND, || {
            black_box(call(&mut hooked, request(Some(&auth))));
        }));
        rows[5].1.push(per_op(PER_ROUND, || {
            black_box(Instant::now());
        }));
        rows[6].1.push(per_op(PER_ROUND, || {
            black_box(quanta::Instant::now());
        }));
    }
    assert!(events.load(Ordering::Relaxed) > 0);
    let scraped = handle.render();
    assert!(
        scraped.contains("keygate_decisions_total{outcome=\"ok\",workspace=\"acme\"}"),
        "{scraped}"
    );
    assert!(
        scraped.contains("keygate_limiter_seconds_count"),
        "{scraped}"
    );

    // Against `off` round by round: the rows of one round ran within a second of each other,
    // so a round's difference is not moved by what else the machine did over the run.
    let off = rows[0].1.clone();
    let paired = |samples: &[f64], of: fn(f64, f64) -> f64| {
        median(samples.iter().zip(&off).map(|(&x, &o)| of(x, o)).collect())
    };
    let table: Vec<(&str, f64, f64, f64)> = rows
        .iter()
        .map(|(name, samples)| {
            let extra = paired(samples, |x, o| x - o);
            let ratio = paired(samples, |x, o| x / o);
            (*name, median(samples.clone()), extra, ratio)
        })
        .collect();
    println!(
        "| row | ns per request (median of {ROUNDS} rounds) | − off (median of the rounds' differences) | ÷ off |"
    );
    println!("|---|---|---|---|");
    for (name, ns, extra, ratio) in &table[..5] {
        println!("| {name} | {ns:.1} | {extra:+.1} | {ratio:.3} |");
    }
    println!();
    for (row, label) in [
        (1, "metrics on, no-op recorder"),
        (2, "metrics on, Prometheus"),
    ] {
        let extra = table[row].2;
        println!(
            "{label}: {extra:+.1} ns over off (target ≤ {TARGET_NS} ns: {})",
            if extra <= TARGET_NS { "met" } else { "missed" }
        );
    }
    println!(
        "metrics on, Prometheus, latency histograms: {:+.1} ns over off",
        table[3].2
    );
    println!("hook: {:+.1} ns over off", table[4].2);
    println!();
    for (name, ns, ..) in &table[5..] {
        println!("one {name}: {ns:.1} ns");
    }
}

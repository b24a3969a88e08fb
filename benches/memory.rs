//! Memory and allocations: bytes held per tracked key in the limiter and the store, whether
//! idle limiter state is given back, and heap allocations per request.
//!
//! `cargo bench --bench memory` prints a Markdown table (a counting global allocator measures;
//! nothing here is timed).

mod support;

use std::alloc::System;
use std::num::NonZeroU32;
use std::time::Duration;

use keygate::clock::ManualClock;
use keygate::key::KeyId;
use keygate::{MemoryRateLimiter, Quota};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use support::*;
use tower::{ServiceBuilder, service_fn};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn net_bytes(region: &Region<'_, System>) -> i64 {
    let c = region.change();
    c.bytes_allocated as i64 - c.bytes_deallocated as i64 + c.bytes_reallocated as i64
}

fn id(n: usize) -> KeyId {
    KeyId::new(&format!("k{n:011}")).expect("valid id")
}

fn main() {
    const N: usize = 100_000;
    println!("| measure | value |");
    println!("|---|---|");

    // Limiter: state per tracked key, and eviction of idle keys.
    let clock = ManualClock::new();
    let limiter = MemoryRateLimiter::with_clock(clock.clone());
    let quota = Quota::per_second(NonZeroU32::new(10).expect("non-zero"));
    let ids: Vec<KeyId> = (0..N).map(id).collect();
    let region = Region::new(GLOBAL);
    for id in &ids {
        limiter.decide(id, &quota);
    }
    let held = net_bytes(&region);
    println!(
        "| limiter bytes per tracked key ({N} keys) | {:.1} |",
        held as f64 / N as f64
    );
    clock.advance(Duration::from_secs(2));
    let evicted = limiter.evict_idle();
    let after = net_bytes(&region);
    println!(
        "| limiter keys evicted once idle | {evicted} of {N} (tracked now: {}) |",
        limiter.tracked_keys()
    );
    println!("| limiter bytes still held after eviction | {after} |");

    // Store: bytes per key (record, name, scopes, map entry).
    let region = Region::new(GLOBAL);
    let keys = Keys::new(N);
    let per_key = net_bytes(&region) as f64 / (N + 68) as f64;
    println!("| memory store bytes per key ({N} keys) | {per_key:.0} |");

    // Allocations per request.
    let auth = bearer(&keys.valid);
    let mut bare = ServiceBuilder::new().service(service_fn(hello));
    let mut gated = ServiceBuilder::new()
        .layer(keys.layer())
        .service(service_fn(hello));
    const REQUESTS: u64 = 10_000;
    for (name, run) in [
        (
            "bare stack",
            &mut (|| {
                call(&mut bare, request(Some(&auth)));
            }) as &mut dyn FnMut(),
        ),
        (
            "keygate stack",
            &mut (|| {
                call(&mut gated, request(Some(&auth)));
            }) as &mut dyn FnMut(),
        ),
    ] {
        run();
        let region = Region::new(GLOBAL);
        for _ in 0..REQUESTS {
            run();
        }
        let c = region.change();
        println!(
            "| allocations per request, {name} (incl. building the request) | {:.2} ({:.0} bytes) |",
            c.allocations as f64 / REQUESTS as f64,
            c.bytes_allocated as f64 / REQUESTS as f64
        );
    }
}

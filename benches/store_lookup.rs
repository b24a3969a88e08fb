//! What a key lookup costs: the in-memory store, a cache hit in front of it, and, when
//! `KEYGATE_TEST_POSTGRES_URL` is set, a PostgreSQL round trip (for a key with empty metadata,
//! one with nearly 1 KiB, and one on a plan, joined in the same query) against a cache hit in
//! front of PostgreSQL. Run with `cargo bench --features postgres,cache --bench store_lookup`.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, criterion_group, criterion_main};
use keygate::key::KeyId;
use keygate::plan::{Limit, Period, Plan};
use keygate::store::cache::CachedKeyStore;
use keygate::store::postgres::PostgresKeyStore;
use keygate::{KeyManager, KeyStore, MemoryKeyStore, Metadata, NewKey, PlanManager};

fn new_key() -> NewKey {
    let unique = KeyId::random().unwrap().as_str().to_ascii_lowercase();
    NewKey::new(
        format!("bench-{unique}").parse().unwrap(),
        "read:all".parse().unwrap(),
    )
}

/// Metadata of nearly the largest size a key may carry: 16 string fields.
fn large_metadata() -> Metadata {
    let fields: serde_json::Map<_, _> = (0..16)
        .map(|i| (format!("field-{i:02}"), "x".repeat(44).into()))
        .collect();
    Metadata::from_map(fields).unwrap()
}

/// Polls a lookup that must be ready at once, as the layer does inside `call`.
fn poll_ready<K: KeyStore>(store: &K, id: &KeyId) {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(store.get(id)).poll(&mut cx) {
        Poll::Ready(found) => {
            black_box(found.unwrap());
        }
        Poll::Pending => panic!("a lookup in memory is ready at once"),
    }
}

fn lookups(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("lookup");

    let memory = MemoryKeyStore::new();
    let id = runtime.block_on(memory.create(new_key())).unwrap().info.id;
    group.bench_function("memory", |b| b.iter(|| poll_ready(&memory, &id)));
    let cached = CachedKeyStore::new(memory.clone());
    runtime.block_on(cached.get(&id)).unwrap();
    group.bench_function("cached_memory_hit", |b| b.iter(|| poll_ready(&cached, &id)));

    if let Ok(url) = std::env::var("KEYGATE_TEST_POSTGRES_URL") {
        let _guard = runtime.enter();
        let postgres = PostgresKeyStore::connect(&url).unwrap();
        runtime.block_on(postgres.migrate()).unwrap();
        let id = runtime
            .block_on(postgres.create(new_key()))
            .unwrap()
            .info
            .id;
        group.bench_function("postgres_round_trip", |b| {
            b.iter(|| black_box(runtime.block_on(postgres.get(&id)).unwrap()))
        });
        let large = new_key().metadata(large_metadata());
        let large_id = runtime.block_on(postgres.create(large)).unwrap().info.id;
        group.bench_function("postgres_round_trip_1kib_metadata", |b| {
            b.iter(|| black_box(runtime.block_on(postgres.get(&large_id)).unwrap()))
        });
        let unique = KeyId::random().unwrap().as_str().to_ascii_lowercase();
        let plan = Plan::new(
            format!("bench-{unique}").parse().unwrap(),
            vec![
                Limit::quota("daily".parse().unwrap(), 50_000, Period::Day),
                Limit::quota(
                    "monthly".parse().unwrap(),
                    1_000_000,
                    Period::Month(keygate::plan::AnchorDay::FIRST),
                ),
            ],
        )
        .unwrap();
        runtime.block_on(postgres.put_plan(plan.clone())).unwrap();
        let on_plan = new_key().plan(plan.name().clone());
        let plan_id = runtime.block_on(postgres.create(on_plan)).unwrap().info.id;
        group.bench_function("postgres_round_trip_on_a_plan", |b| {
            b.iter(|| black_box(runtime.block_on(postgres.get(&plan_id)).unwrap()))
        });
        let cached = CachedKeyStore::new(postgres.clone());
        runtime.block_on(cached.get(&id)).unwrap();
        group.bench_function("cached_postgres_hit", |b| {
            b.iter(|| poll_ready(&cached, &id))
        });
    }
    group.finish();
}

criterion_group!(benches, lookups);
criterion_main!(benches);

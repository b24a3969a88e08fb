//! What a lookup and a recorded use cost on `SqliteKeyStore`, beside `MemoryKeyStore`, what
//! a key's metadata adds to a lookup (the row's JSON is parsed on every one), and what a plan
//! adds (joined in the same query; its definition parsed once, then remembered).
//!
//! ```text
//! cargo bench --features sqlite --bench sqlite_store
//! ```

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keygate::plan::{Limit, Period, Plan};
use keygate::store::sqlite::SqliteKeyStore;
use keygate::{
    KeyManager, KeyStore, MAX_METADATA_BYTES, MemoryKeyStore, Metadata, NewKey, PlanManager, Quota,
    Workspace,
};

fn new_key(i: usize) -> NewKey {
    NewKey::new(
        format!("key-{i}").parse().expect("valid name"),
        "read:all".parse().expect("valid scope"),
    )
}

/// Metadata of nearly the largest size a key may carry: 16 string fields.
fn large_metadata() -> Metadata {
    let fields: serde_json::Map<_, _> = (0..16)
        .map(|i| (format!("field-{i:02}"), "x".repeat(44).into()))
        .collect();
    let metadata = Metadata::from_map(fields).expect("within the bound");
    assert!(metadata.as_json().len() > MAX_METADATA_BYTES - 100);
    metadata
}

/// A plan of three limits: a rate, a monthly quota and a daily one.
fn pro() -> Plan {
    fn name<T: std::str::FromStr>(s: &str) -> T {
        s.parse().ok().expect("valid name")
    }
    let burst = Quota::per_second(std::num::NonZeroU32::new(100).expect("non-zero"));
    Plan::new(
        name("pro"),
        vec![
            Limit::rate(name("burst"), burst),
            Limit::quota(
                name("monthly"),
                1_000_000,
                Period::Month(keygate::plan::AnchorDay::FIRST),
            ),
            Limit::quota(name("daily"), 50_000, Period::Day),
        ],
    )
    .expect("valid plan")
}

fn lookups(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let (sqlite, memory, id, large_id) = runtime.block_on(async {
        let sqlite = SqliteKeyStore::open(dir.path().join("bench.db"))
            .await
            .expect("open");
        let memory = MemoryKeyStore::new();
        let mut id = None;
        for i in 0..1_000 {
            id = Some(sqlite.create(new_key(i)).await.expect("create").info.id);
            memory.create(new_key(i)).await.expect("create");
        }
        let large = new_key(1_000).metadata(large_metadata());
        let large_id = sqlite.create(large).await.expect("create").info.id;
        (sqlite, memory, id.expect("a key"), large_id)
    });
    let (plan_id, workspace_plan_id) = runtime.block_on(async {
        sqlite.put_plan(pro()).await.expect("put plan");
        let own = new_key(1_001).plan(pro().name().clone());
        let own = sqlite.create(own).await.expect("create").info.id;
        let team: Workspace = "team".parse().expect("valid workspace");
        sqlite
            .set_workspace_plan(&team, Some(pro().name().clone()))
            .await
            .expect("set workspace plan");
        let inherited = new_key(1_002).workspace(team);
        let inherited = sqlite.create(inherited).await.expect("create").info.id;
        (own, inherited)
    });
    let memory_id =
        runtime.block_on(async { memory.list(&Workspace::default()).await.expect("list")[999].id });

    let mut group = c.benchmark_group("lookup among 1000 keys");
    group.bench_function("MemoryKeyStore::get", |b| {
        b.iter(|| black_box(runtime.block_on(memory.get(&memory_id)).expect("get")))
    });
    group.bench_function("SqliteKeyStore::get", |b| {
        b.iter(|| black_box(runtime.block_on(sqlite.get(&id)).expect("get")))
    });
    group.bench_function("SqliteKeyStore::get, 1 KiB metadata", |b| {
        b.iter(|| black_box(runtime.block_on(sqlite.get(&large_id)).expect("get")))
    });
    group.bench_function("SqliteKeyStore::get, own plan of 3 limits", |b| {
        b.iter(|| black_box(runtime.block_on(sqlite.get(&plan_id)).expect("get")))
    });
    group.bench_function("SqliteKeyStore::get, workspace's plan of 3 limits", |b| {
        b.iter(|| {
            black_box(
                runtime
                    .block_on(sqlite.get(&workspace_plan_id))
                    .expect("get"),
            )
        })
    });
    group.finish();

    c.bench_function("SqliteKeyStore::touch (batched)", |b| {
        b.iter(|| sqlite.touch(black_box(&id)))
    });
}

criterion_group!(benches, lookups);
criterion_main!(benches);

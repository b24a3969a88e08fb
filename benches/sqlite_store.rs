//! What a lookup and a recorded use cost on `SqliteKeyStore`, beside `MemoryKeyStore`.
//!
//! ```text
//! cargo bench --features sqlite --bench sqlite_store
//! ```

use keygate::Workspace;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keygate::store::sqlite::SqliteKeyStore;
use keygate::{KeyManager, KeyStore, MemoryKeyStore, NewKey};

fn new_key(i: usize) -> NewKey {
    NewKey::new(
        format!("key-{i}").parse().expect("valid name"),
        "read:all".parse().expect("valid scope"),
    )
}

fn lookups(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let (sqlite, memory, id) = runtime.block_on(async {
        let sqlite = SqliteKeyStore::open(dir.path().join("bench.db"))
            .await
            .expect("open");
        let memory = MemoryKeyStore::new();
        let mut id = None;
        for i in 0..1_000 {
            id = Some(sqlite.create(new_key(i)).await.expect("create").info.id);
            memory.create(new_key(i)).await.expect("create");
        }
        (sqlite, memory, id.expect("a key"))
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
    group.finish();

    c.bench_function("SqliteKeyStore::touch (batched)", |b| {
        b.iter(|| sqlite.touch(black_box(&id)))
    });
}

criterion_group!(benches, lookups);
criterion_main!(benches);

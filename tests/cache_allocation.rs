//! A cache hit allocates nothing: counted with a global allocator that counts per thread.
//!
//! moka sets up its expiry timer wheel during the first reads of a new cache (about 170
//! allocations over the first thousand); what is measured is the steady state after that.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use keygate::store::cache::CachedKeyStore;
use keygate::{KeyManager, KeyStore, MemoryKeyStore, NewKey};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to the system allocator unchanged; counting touches only a
// const-initialised thread-local without a destructor.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: as the caller promised for `layout`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn cache_hit_allocates_nothing() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = MemoryKeyStore::new();
    let id = runtime
        .block_on(store.create(NewKey::new(
            "ci-pipeline".parse().unwrap(),
            "read:all".parse().unwrap(),
        )))
        .unwrap()
        .info
        .id;
    let cache = CachedKeyStore::new(store);
    assert!(runtime.block_on(cache.get(&id)).unwrap().is_some());

    let hits = |n: usize| {
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..n {
            let lookup = pin!(cache.get(&id));
            match lookup.poll(&mut cx) {
                Poll::Ready(Ok(Some(record))) => assert_eq!(record.id, id),
                _ => panic!("a cached key is answered at once"),
            }
        }
    };
    hits(2_000);
    let before = allocations();
    hits(10_000);
    assert_eq!(allocations() - before, 0);
}

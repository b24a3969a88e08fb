//! The conformance suite against the cache, in front of PostgreSQL and of the in-memory store:
//! a cache must not change what a store answers.

mod common;
mod conformance;
mod postgres_common;

use std::time::Duration;

use keygate::MemoryKeyStore;
use keygate::store::cache::CachedKeyStore;

mod postgres {
    use super::*;
    store_conformance!(async {
        let store = postgres_common::store().await?;
        Some(postgres_common::cached(&store, Duration::from_secs(60)))
    });
    mod plans {
        use super::*;
        plan_conformance!(async {
            let store = postgres_common::store().await?;
            Some(postgres_common::cached(&store, Duration::from_secs(60)))
        });
    }
}

mod memory {
    use super::*;
    store_conformance!(async { Some(CachedKeyStore::new(MemoryKeyStore::new())) });
    mod plans {
        use super::*;
        plan_conformance!(async { Some(CachedKeyStore::new(MemoryKeyStore::new())) });
    }
}

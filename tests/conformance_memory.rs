//! The conformance suite against the in-memory store and limiter.

mod conformance;

use keygate::{MemoryKeyStore, MemoryRateLimiter};

async fn store() -> Option<MemoryKeyStore> {
    Some(MemoryKeyStore::new())
}

async fn limiter() -> Option<MemoryRateLimiter> {
    Some(MemoryRateLimiter::new())
}

mod store {
    use super::*;
    store_conformance!(store());
}

mod plans {
    use super::*;
    plan_conformance!(store());
}

mod limiter {
    use super::*;
    limiter_conformance!(limiter());
}

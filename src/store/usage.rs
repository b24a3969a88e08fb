//! [`UsageLog`]: last-use times collected on the hot path and written by a store in batches.
//!
//! `KeyStore::touch` runs on every successful request; a persistent store must not write a row
//! each time. It records the time here instead (a shared read lock and an atomic store when the
//! key was seen since the last flush) and a background task of the store drains the log every
//! so often, writing one batch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::id_map::ShardedIdMap;
use crate::key::KeyId;

/// Last-use times not yet written, newest per key.
pub(crate) struct UsageLog {
    pending: ShardedIdMap<AtomicU64>,
}

fn to_micros(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl UsageLog {
    pub(crate) fn new() -> Self {
        Self {
            pending: ShardedIdMap::new(),
        }
    }

    /// Notes that `id` was used at `at`.
    pub(crate) fn record(&self, id: &KeyId, at: SystemTime) {
        let micros = to_micros(at);
        if let Some(cell) = self.pending.read(id).get(id) {
            cell.fetch_max(micros, Ordering::Relaxed);
            return;
        }
        self.pending
            .write(id)
            .entry(*id)
            .or_insert_with(|| AtomicU64::new(0))
            .fetch_max(micros, Ordering::Relaxed);
    }

    /// Takes every pending use, leaving the log empty.
    pub(crate) fn drain(&self) -> Vec<(KeyId, SystemTime)> {
        let mut out = Vec::new();
        self.pending.for_each_shard(|shard| {
            out.extend(
                shard
                    .drain()
                    .map(|(id, at)| (id, UNIX_EPOCH + Duration::from_micros(at.into_inner()))),
            );
        });
        out
    }

    /// Number of keys with a pending use.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_uses_of_a_key_collapse_to_the_latest() {
        let log = UsageLog::new();
        let id = KeyId::new("AAAAAAAAAAAA").unwrap();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000);
        log.record(&id, t0 + Duration::from_secs(5));
        log.record(&id, t0);
        assert_eq!(log.len(), 1);
        assert_eq!(log.drain(), vec![(id, t0 + Duration::from_secs(5))]);
        assert_eq!(log.len(), 0);
    }
}

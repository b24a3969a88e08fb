//! [`UsageLog`]: last-use times collected on the hot path and written by a store in batches.
//!
//! `KeyStore::touch` runs on every successful request; a persistent store must not write a row
//! each time. It records the time here instead (a shared read lock and an atomic store when the
//! key was seen since the last flush) and a background task of the store drains the log every
//! so often, writing one batch.
//!
//! **Throttled.** With a last-use interval, the log also remembers, per key, the last-use time
//! known to be in the database: written by this store, or found there by its flush (another
//! instance wrote it). A use within the interval of that time is not recorded at all, and the
//! store's conditional write skips a row written within the interval by anyone, so a key's row
//! is written at most once per interval across every instance sharing the database. The
//! remembered times are swept of those older than the interval whenever their number doubles.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::id_map::ShardedIdMap;
use crate::key::KeyId;

/// Fewest remembered write times before the first sweep.
const FIRST_SWEEP: usize = 1024;

/// Last-use times not yet written, newest per key, and the ones known to be written.
pub(crate) struct UsageLog {
    pending: ShardedIdMap<AtomicU64>,
    /// Per key, the latest last-use time known to be in the database (microseconds).
    written: ShardedIdMap<AtomicU64>,
    /// A use this close after a written one is not recorded; 0 records every use.
    interval_micros: u64,
    /// How many remembered write times trigger the next sweep.
    sweep_at: AtomicUsize,
}

fn to_micros(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl UsageLog {
    /// A log that records a use only if it comes more than `interval` after the last use known
    /// to be written (zero: every use).
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            pending: ShardedIdMap::new(),
            written: ShardedIdMap::new(),
            interval_micros: u64::try_from(interval.as_micros()).unwrap_or(u64::MAX),
            sweep_at: AtomicUsize::new(FIRST_SWEEP),
        }
    }

    /// The interval, in whole microseconds, for the store's conditional write.
    pub(crate) fn interval_micros(&self) -> i64 {
        i64::try_from(self.interval_micros).unwrap_or(i64::MAX)
    }

    /// Notes that `id` was used at `at`, unless a use within the interval before it is known
    /// to be written.
    pub(crate) fn record(&self, id: &KeyId, at: SystemTime) {
        let micros = to_micros(at);
        if self.interval_micros > 0
            && let Some(known) = self.written.read(id).get(id)
            && micros
                <= known
                    .load(Ordering::Relaxed)
                    .saturating_add(self.interval_micros)
        {
            return;
        }
        raise(&self.pending, id, micros);
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

    /// Remembers the last-use times a flush found in the database (written by it or by
    /// another instance), so that uses within the interval after them are not recorded. Does
    /// nothing without an interval.
    pub(crate) fn written(&self, known: &[(KeyId, SystemTime)]) {
        if self.interval_micros == 0 || known.is_empty() {
            return;
        }
        let mut latest = 0;
        for (id, at) in known {
            let micros = to_micros(*at);
            latest = latest.max(micros);
            raise(&self.written, id, micros);
        }
        self.sweep(latest);
    }

    /// Once the remembered times have doubled since the last sweep, forgets those older than
    /// the interval before `now` (a use after them is recorded anyway).
    fn sweep(&self, now: u64) {
        let size = self.written.len();
        if size < self.sweep_at.load(Ordering::Relaxed) {
            return;
        }
        let horizon = now.saturating_sub(self.interval_micros);
        self.written.for_each_shard(|shard| {
            shard.retain(|_, at| at.load(Ordering::Relaxed) >= horizon);
        });
        let kept = self.written.len();
        self.sweep_at
            .store(kept.saturating_mul(2).max(FIRST_SWEEP), Ordering::Relaxed);
    }

    /// Number of keys with a pending use.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// Number of keys whose write time is remembered.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.written.len()
    }
}

/// Raises the time of `id` in `map` to `micros`, adding it if missing.
fn raise(map: &ShardedIdMap<AtomicU64>, id: &KeyId, micros: u64) {
    if let Some(cell) = map.read(id).get(id) {
        cell.fetch_max(micros, Ordering::Relaxed);
        return;
    }
    map.write(id)
        .entry(*id)
        .or_insert_with(|| AtomicU64::new(0))
        .fetch_max(micros, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn id(n: u64) -> KeyId {
        let text: String = format!("{n:0>12}");
        KeyId::new(&text).unwrap()
    }

    fn t0() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_000_000)
    }

    #[test]
    fn repeated_uses_of_a_key_collapse_to_the_latest() {
        let log = UsageLog::new(Duration::ZERO);
        let id = KeyId::new("AAAAAAAAAAAA").unwrap();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000);
        log.record(&id, t0 + Duration::from_secs(5));
        log.record(&id, t0);
        assert_eq!(log.len(), 1);
        assert_eq!(log.drain(), vec![(id, t0 + Duration::from_secs(5))]);
        assert_eq!(log.len(), 0);
    }

    #[test]
    fn use_within_the_interval_after_a_written_one_is_not_recorded() {
        let log = UsageLog::new(5 * MINUTE);
        log.written(&[(id(1), t0())]);
        log.record(&id(1), t0() + 4 * MINUTE);
        log.record(&id(1), t0() + 5 * MINUTE);
        assert_eq!(log.len(), 0);
    }

    #[test]
    fn use_past_the_interval_after_a_written_one_is_recorded() {
        let log = UsageLog::new(5 * MINUTE);
        log.written(&[(id(1), t0())]);
        let later = t0() + 5 * MINUTE + Duration::from_micros(1);
        log.record(&id(1), later);
        assert_eq!(log.drain(), vec![(id(1), later)]);
    }

    #[test]
    fn without_an_interval_every_use_is_recorded() {
        let log = UsageLog::new(Duration::ZERO);
        log.written(&[(id(1), t0())]);
        log.record(&id(1), t0());
        assert_eq!(log.len(), 1);
        assert_eq!(
            log.remembered(),
            0,
            "nothing to remember without an interval"
        );
    }

    #[test]
    fn remembered_times_older_than_the_interval_are_swept_when_they_double() {
        let log = UsageLog::new(MINUTE);
        let old: Vec<_> = (0..FIRST_SWEEP as u64).map(|n| (id(n), t0())).collect();
        log.written(&old[..FIRST_SWEEP - 1]);
        assert_eq!(log.remembered(), FIRST_SWEEP - 1, "below the mark: kept");
        // The mark is reached by a time two intervals later: every older one goes.
        log.written(&[(id(999_999), t0() + 2 * MINUTE)]);
        assert_eq!(log.remembered(), 1);
    }
}

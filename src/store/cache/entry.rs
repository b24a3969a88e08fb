//! [`Cached`]: what the cache keeps per key id, and how long.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;

use crate::key::KeyId;
use crate::record::KeyRecord;

/// A looked-up answer: the record, or `None` for an unknown id (negative entry).
#[derive(Clone)]
pub(super) struct Cached {
    pub(super) record: Option<Arc<KeyRecord>>,
    /// Until then the entry is served without asking the inner store.
    pub(super) fresh_until: Instant,
    /// Until then a record may be served while the inner store fails; the entry is dropped
    /// then. Equal to `fresh_until` for negative entries, which are never served stale.
    pub(super) keep_until: Instant,
    /// Unique per answer: a stale record is put back, or served, only while the entry it was
    /// read from is still there, never after a tombstone replaced it.
    pub(super) stamp: u64,
}

/// A record that is no longer fresh but may still be served if the inner store fails.
#[derive(Clone)]
pub(super) struct Stale {
    pub(super) record: Arc<KeyRecord>,
    pub(super) keep_until: Instant,
    pub(super) stamp: u64,
}

/// How long after a failed refresh a stale record is served before the store is asked again.
pub(super) const RETRY_STALE_AFTER: Duration = Duration::from_secs(1);

impl Cached {
    /// An answer of the inner store, just loaded.
    pub(super) fn loaded(
        record: Option<Arc<KeyRecord>>,
        now: Instant,
        ttl: Duration,
        negative_ttl: Duration,
        stale_limit: Duration,
        stamp: u64,
    ) -> Self {
        match record {
            Some(record) => {
                let fresh_until = now + ttl;
                Self {
                    record: Some(record),
                    fresh_until,
                    keep_until: fresh_until + stale_limit,
                    stamp,
                }
            }
            None => Self {
                record: None,
                fresh_until: now + negative_ttl,
                keep_until: now + negative_ttl,
                stamp,
            },
        }
    }

    /// What stays of an entry the cache was told changed: a mark that the next lookup must ask
    /// the inner store. Only a revoked record is kept in it (revocation is final, and such a
    /// record never lets a request through): served if that lookup fails. A live record is
    /// never kept, so while the store fails its key gets 503, not the old record.
    pub(super) fn tombstone(
        previous: Option<Arc<KeyRecord>>,
        now: Instant,
        keep: Duration,
        stamp: u64,
    ) -> Self {
        Self {
            record: previous.filter(|record| record.revoked_at.is_some()),
            fresh_until: now,
            keep_until: now + keep,
            stamp,
        }
    }

    /// A stale record kept after a failed refresh: served for a moment before the store is
    /// asked again, and never past its limit.
    pub(super) fn retried(stale: Stale, now: Instant) -> Self {
        Self {
            record: Some(stale.record),
            fresh_until: (now + RETRY_STALE_AFTER).min(stale.keep_until),
            keep_until: stale.keep_until,
            stamp: stale.stamp,
        }
    }

    /// What may be served of this entry at `now` if the inner store fails.
    pub(super) fn stale(self, now: Instant) -> Option<Stale> {
        let (keep_until, stamp) = (self.keep_until, self.stamp);
        self.record
            .filter(|_| now < keep_until)
            .map(|record| Stale {
                record,
                keep_until,
                stamp,
            })
    }
}

/// Drops each entry at its `keep_until`.
pub(super) struct KeepUntil;

impl Expiry<KeyId, Cached> for KeepUntil {
    fn expire_after_create(
        &self,
        _: &KeyId,
        value: &Cached,
        created_at: Instant,
    ) -> Option<Duration> {
        Some(value.keep_until.saturating_duration_since(created_at))
    }

    fn expire_after_update(
        &self,
        _: &KeyId,
        value: &Cached,
        updated_at: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.keep_until.saturating_duration_since(updated_at))
    }
}

//! [`Cached`]: what the cache keeps per key id, and how long.
//!
//! Times are the cache clock's monotonic time ([`Clock::monotonic`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;

use crate::clock::Clock;
use crate::record::KeyRecord;

/// How long entries live: the cache's settings.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ttls {
    /// Records, while changes may go unheard.
    pub(super) ttl: Duration,
    /// Records, while the invalidation stream is connected.
    pub(super) listener_ttl: Duration,
    /// Unknown ids.
    pub(super) negative_ttl: Duration,
    /// Past freshness, while the inner store fails.
    pub(super) stale_limit: Duration,
}

/// A looked-up answer: the record, or `None` for an unknown id (negative entry).
#[derive(Clone)]
pub(super) struct Cached {
    pub(super) record: Option<Arc<KeyRecord>>,
    /// Until then the entry is served without asking the inner store, whatever the stream.
    pub(super) short_until: Duration,
    /// Until then the entry is served without asking the inner store while the invalidation
    /// stream stays connected (past `short_until` only then). Equal to `short_until` for an
    /// entry loaded while it was not.
    pub(super) fresh_until: Duration,
    /// Until then a record may be served while the inner store fails; the entry is dropped
    /// then. Equal to `fresh_until` for negative entries, which are never served stale.
    pub(super) keep_until: Duration,
    /// Unique per answer: a stale record is put back, or served, only while the entry it was
    /// read from is still there, never after a tombstone replaced it.
    pub(super) stamp: u64,
}

/// A record that is no longer fresh but may still be served if the inner store fails.
#[derive(Clone)]
pub(super) struct Stale {
    pub(super) record: Arc<KeyRecord>,
    pub(super) keep_until: Duration,
    pub(super) stamp: u64,
}

/// How long after a failed refresh a stale record is served before the store is asked again.
pub(super) const RETRY_STALE_AFTER: Duration = Duration::from_secs(1);

impl Cached {
    /// An answer of the inner store, just loaded; `connected`: whether the invalidation
    /// stream is (a record then lives for the listener TTL while it stays so).
    pub(super) fn loaded(
        record: Option<Arc<KeyRecord>>,
        now: Duration,
        ttls: &Ttls,
        connected: bool,
        stamp: u64,
    ) -> Self {
        match record {
            Some(record) => {
                let short_until = now.saturating_add(ttls.ttl);
                let fresh_until = if connected {
                    now.saturating_add(ttls.listener_ttl)
                } else {
                    short_until
                };
                Self {
                    record: Some(record),
                    short_until,
                    fresh_until,
                    keep_until: fresh_until
                        .max(short_until)
                        .saturating_add(ttls.stale_limit),
                    stamp,
                }
            }
            None => {
                let until = now.saturating_add(ttls.negative_ttl);
                Self {
                    record: None,
                    short_until: until,
                    fresh_until: until,
                    keep_until: until,
                    stamp,
                }
            }
        }
    }

    /// What stays of an entry the cache was told changed: a mark that the next lookup must ask
    /// the inner store. Only a revoked record is kept in it (revocation is final, and such a
    /// record never lets a request through): served if that lookup fails. A live record is
    /// never kept, so while the store fails its key gets 503, not the old record.
    pub(super) fn tombstone(
        previous: Option<Arc<KeyRecord>>,
        now: Duration,
        ttls: &Ttls,
        stamp: u64,
    ) -> Self {
        let short_until = now.saturating_add(ttls.ttl);
        Self {
            record: previous.filter(|record| record.revoked_at.is_some()),
            short_until,
            fresh_until: now,
            keep_until: short_until.saturating_add(ttls.stale_limit),
            stamp,
        }
    }

    /// A stale record kept after a failed refresh: served for a moment before the store is
    /// asked again, and never past its limit.
    pub(super) fn retried(stale: Stale, now: Duration) -> Self {
        let fresh_until = now.saturating_add(RETRY_STALE_AFTER).min(stale.keep_until);
        Self {
            record: Some(stale.record),
            short_until: fresh_until,
            fresh_until,
            keep_until: stale.keep_until,
            stamp: stale.stamp,
        }
    }

    /// Whether the entry may be served at `now` without asking the inner store. Past its
    /// short TTL, only while the invalidation stream is `connected`.
    pub(super) fn is_fresh(&self, now: Duration, connected: bool) -> bool {
        now < self.fresh_until && (now < self.short_until || connected)
    }

    /// What may be served of this entry at `now` if the inner store fails. While the
    /// invalidation stream is not `connected`, a record loaded while it was is held to the
    /// short TTL's limit: at most `stale_limit` past `short_until`.
    pub(super) fn stale(
        self,
        now: Duration,
        connected: bool,
        stale_limit: Duration,
    ) -> Option<Stale> {
        let keep_until = if connected {
            self.keep_until
        } else {
            self.keep_until
                .min(self.short_until.saturating_add(stale_limit))
        };
        let stamp = self.stamp;
        self.record
            .filter(|_| now < keep_until)
            .map(|record| Stale {
                record,
                keep_until,
                stamp,
            })
    }
}

/// An entry that says until when (on the cache clock's monotonic time) it is kept.
pub(super) trait KeptUntil {
    /// When the cache drops it.
    fn keep_until(&self) -> Duration;
}

impl KeptUntil for Cached {
    fn keep_until(&self) -> Duration {
        self.keep_until
    }
}

/// Drops each entry at its `keep_until`, on the cache's clock.
pub(super) struct KeepUntil {
    pub(super) clock: Arc<dyn Clock>,
}

impl KeepUntil {
    fn left(&self, value: &impl KeptUntil) -> Option<Duration> {
        Some(value.keep_until().saturating_sub(self.clock.monotonic()))
    }
}

impl<K, V: KeptUntil> Expiry<K, V> for KeepUntil {
    fn expire_after_create(&self, _: &K, value: &V, _: Instant) -> Option<Duration> {
        self.left(value)
    }

    fn expire_after_update(
        &self,
        _: &K,
        value: &V,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        self.left(value)
    }
}

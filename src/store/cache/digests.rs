//! [`Digests`]: which key the digest of an imported key's token belongs to, as the cache
//! remembers it, for [`KeyStore::get_by_digest`](crate::KeyStore::get_by_digest).
//!
//! Only the id is kept here, never the record: a digest the cache knows is answered from the
//! id's entry, so every rule of the id cache (invalidations, tombstones, revocations, stale
//! serving while the inner store fails) applies to imported keys unchanged. A key id never
//! changes its digest (rotation keeps it as the key's legacy digest), and a deleted key's id
//! is never used again: a remembered id of a deleted key reads as unknown from its own entry,
//! and the digest is then asked again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::clock::Clock;
use crate::key::{KeyDigest, KeyId};

use super::entry::{KeepUntil, KeptUntil, Ttls};

/// What the cache knows of a digest: the id of its key, or that no key has it.
#[derive(Clone, Copy)]
struct DigestEntry {
    id: Option<KeyId>,
    /// Until then (the cache clock's monotonic time) the entry is served, then dropped.
    until: Duration,
}

impl KeptUntil for DigestEntry {
    fn keep_until(&self) -> Duration {
        self.until
    }
}

/// The digests of imported keys' tokens that the cache has looked up: known ones as long as
/// their key's record may be served, unknown ones for the negative TTL, at most
/// `max_capacity` of them.
pub(super) struct Digests {
    entries: moka::sync::Cache<KeyDigest, DigestEntry>,
    /// Moves whenever a digest is forgotten: a lookup that began before does not remember
    /// its answer.
    epoch: AtomicU64,
    clock: Arc<dyn Clock>,
}

impl Digests {
    pub(super) fn new(max_capacity: u64, clock: Arc<dyn Clock>) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(max_capacity)
                .expire_after(KeepUntil {
                    clock: Arc::clone(&clock),
                })
                .build(),
            epoch: AtomicU64::new(0),
            clock,
        }
    }

    /// What the cache knows of `digest` now: `Some(Some(id))` its key's id, `Some(None)` that
    /// no key has it, `None` nothing (ask the inner store).
    pub(super) fn get(&self, digest: &KeyDigest) -> Option<Option<KeyId>> {
        let now = self.clock.monotonic();
        self.entries
            .get(digest)
            .filter(|entry| now < entry.until)
            .map(|entry| entry.id)
    }

    /// The epoch to give [`remember`](Self::remember), read before asking the inner store.
    pub(super) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Remembers the inner store's answer for `digest` (the id of its key, or `None`), asked
    /// at `epoch`, unless a digest was forgotten since.
    pub(super) fn remember(&self, digest: KeyDigest, id: Option<KeyId>, ttls: &Ttls, epoch: u64) {
        if self.epoch() != epoch {
            return;
        }
        // A known digest is kept as long as its key's record may be: its id's entry says
        // whether the record is still served.
        let ttl = if id.is_some() {
            ttls.ttl
                .max(ttls.listener_ttl)
                .saturating_add(ttls.stale_limit)
        } else {
            ttls.negative_ttl
        };
        let until = self.clock.monotonic().saturating_add(ttl);
        self.entries.insert(digest, DigestEntry { id, until });
        // Forgotten between the check and the insert: the answer may predate it.
        if self.epoch() != epoch {
            self.entries.invalidate(&digest);
        }
    }

    /// Forgets `digest` (a key imported with it through this cache).
    pub(super) fn forget(&self, digest: &KeyDigest) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate(digest);
    }

    /// Forgets every digest.
    pub(super) fn forget_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate_all();
    }

    /// How many digests are held (for `Debug`).
    pub(super) fn len(&self) -> u64 {
        self.entries.entry_count()
    }
}

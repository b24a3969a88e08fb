//! [`Inflight`]: loads in progress, one per key id, so that concurrent misses for one id ask
//! the inner store once.

use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::id_map::ShardedIdMap;
use crate::key::KeyId;
use crate::record::KeyRecord;
use crate::store::StoreError;

/// The result of one load, shared by everyone who waited for it.
pub(super) type Outcome = Result<Option<Arc<KeyRecord>>, Arc<StoreError>>;

/// One load: the first waiter runs it, the others wait for its outcome. If the waiter running
/// it is cancelled, another waiter takes over.
pub(super) type Flight = Arc<OnceCell<Outcome>>;

/// The loads in progress.
pub(super) struct Inflight {
    flights: ShardedIdMap<Flight>,
}

/// A waiter's membership of a flight: leaving removes the flight once it is over or nobody
/// else waits for it.
pub(super) struct Joined<'a> {
    inflight: &'a Inflight,
    id: KeyId,
    pub(super) flight: Flight,
}

impl Inflight {
    pub(super) fn new() -> Self {
        Self {
            flights: ShardedIdMap::new(),
        }
    }

    /// Joins the load of `id` in progress, or starts one.
    pub(super) fn join(&self, id: KeyId) -> Joined<'_> {
        let mut shard = self.flights.write(&id);
        let flight = shard.entry(id).or_default();
        if flight.initialized() {
            // Over, and left behind by a cancelled waiter: its answer is old news.
            *flight = Flight::default();
        }
        Joined {
            inflight: self,
            id,
            flight: Arc::clone(flight),
        }
    }

    /// Detaches the load of `id` in progress: whoever asks next starts a new one.
    pub(super) fn forget(&self, id: &KeyId) {
        self.flights.write(id).remove(id);
    }

    /// Detaches every load in progress.
    pub(super) fn forget_all(&self) {
        self.flights.for_each_shard(|shard| shard.clear());
    }

    /// Number of loads tracked.
    pub(super) fn len(&self) -> usize {
        self.flights.len()
    }
}

impl Drop for Joined<'_> {
    fn drop(&mut self) {
        let mut shard = self.inflight.flights.write(&self.id);
        // Under the shard lock nobody can join: a count of two is the map and this waiter.
        let last = Arc::strong_count(&self.flight) <= 2;
        if let Some(flight) = shard.get(&self.id)
            && Arc::ptr_eq(flight, &self.flight)
            && (self.flight.initialized() || last)
        {
            shard.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> KeyId {
        KeyId::new("AAAAAAAAAAAA").unwrap()
    }

    #[test]
    fn concurrent_waiters_share_one_flight() {
        let inflight = Inflight::new();
        let a = inflight.join(id());
        let b = inflight.join(id());
        assert!(Arc::ptr_eq(&a.flight, &b.flight));
    }

    #[test]
    fn finished_flight_is_removed_when_its_waiters_leave() {
        let inflight = Inflight::new();
        let a = inflight.join(id());
        let _ = a.flight.set(Ok(None));
        drop(a);
        assert_eq!(inflight.len(), 0);
    }

    #[test]
    fn finished_flight_is_never_joined_again() {
        let inflight = Inflight::new();
        let a = inflight.join(id());
        let _ = a.flight.set(Ok(None));
        let b = inflight.join(id());
        assert!(!b.flight.initialized());
    }

    #[test]
    fn forgotten_flight_is_not_joined() {
        let inflight = Inflight::new();
        let a = inflight.join(id());
        inflight.forget(&id());
        let b = inflight.join(id());
        assert!(!Arc::ptr_eq(&a.flight, &b.flight));
    }
}

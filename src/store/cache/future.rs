//! [`CacheFuture`]: a lookup answered from memory, or still loading from the inner store.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::record::KeyRecord;
use crate::store::{BoxLookup, StoreError};

type Lookup = Result<Option<Arc<KeyRecord>>, StoreError>;

/// The future of [`CachedKeyStore::get`](crate::KeyStore::get): ready at once on a hit (no
/// allocation), boxed only when the inner store must be asked.
pub struct CacheFuture {
    kind: Kind,
}

enum Kind {
    Ready(Option<Lookup>),
    Loading(BoxLookup),
}

impl CacheFuture {
    pub(super) fn ready(lookup: Lookup) -> Self {
        Self {
            kind: Kind::Ready(Some(lookup)),
        }
    }

    pub(super) fn loading(future: BoxLookup) -> Self {
        Self {
            kind: Kind::Loading(future),
        }
    }
}

impl CacheFuture {
    /// Whether this is a record answered from memory.
    pub(super) fn has_record(&self) -> bool {
        matches!(&self.kind, Kind::Ready(Some(Ok(Some(_)))))
    }
}

impl std::fmt::Debug for CacheFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.kind {
            Kind::Ready(_) => "Ready",
            Kind::Loading(_) => "Loading",
        };
        f.debug_tuple("CacheFuture").field(&state).finish()
    }
}

impl Future for CacheFuture {
    type Output = Lookup;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.kind {
            Kind::Ready(lookup) => Poll::Ready(lookup.take().unwrap_or_else(|| {
                Err(StoreError::Unavailable(
                    "a key lookup was polled after it completed".into(),
                ))
            })),
            Kind::Loading(future) => future.as_mut().poll(cx),
        }
    }
}

//! [`Invalidation`]s: news that a key changed elsewhere, for caches to act on.
//!
//! A store that hears about changes made by other processes (PostgreSQL's `LISTEN`, a message
//! bus) sends them through an [`InvalidationSender`]; every cache holding an [`Invalidations`]
//! receiver drops the named key, or everything.
//!
//! ```
//! use keygate::key::KeyId;
//! use keygate::store::{Invalidation, invalidation_channel};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let (sender, mut receiver) = invalidation_channel();
//! let id = KeyId::new("AAAAAAAAAAAA").unwrap();
//! sender.send(Invalidation::Key(id));
//! assert_eq!(receiver.recv().await, Some(Invalidation::Key(id)));
//! # });
//! ```

use tokio::sync::broadcast;

use crate::key::KeyId;

/// How many invalidations may wait for a slow receiver before it is told to drop everything.
const CAPACITY: usize = 1024;

/// What a cache must forget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invalidation {
    /// The key with this id changed (created, updated, revoked or rotated).
    Key(KeyId),
    /// Anything may have changed (e.g. news were lost while disconnected): forget everything.
    All,
}

/// The sending side of an invalidation channel. Clones send to the same receivers.
#[derive(Debug, Clone)]
pub struct InvalidationSender {
    tx: broadcast::Sender<Invalidation>,
}

/// The receiving side of an invalidation channel.
///
/// A receiver that falls more than 1024 invalidations behind receives
/// [`Invalidation::All`] instead of the ones it missed: it is never left holding a stale key.
#[derive(Debug)]
pub struct Invalidations {
    rx: broadcast::Receiver<Invalidation>,
}

/// A new invalidation channel.
pub fn invalidation_channel() -> (InvalidationSender, Invalidations) {
    let (tx, rx) = broadcast::channel(CAPACITY);
    (InvalidationSender { tx }, Invalidations { rx })
}

impl InvalidationSender {
    /// Sends `invalidation` to every receiver (none listening is fine).
    pub fn send(&self, invalidation: Invalidation) {
        // An error only means that nobody listens at the moment.
        let _ = self.tx.send(invalidation);
    }

    /// A new receiver, getting what is sent from now on.
    pub fn subscribe(&self) -> Invalidations {
        Invalidations {
            rx: self.tx.subscribe(),
        }
    }
}

impl Invalidations {
    /// The next invalidation, or `None` once every sender is gone.
    pub async fn recv(&mut self) -> Option<Invalidation> {
        match self.rx.recv().await {
            Ok(invalidation) => Some(invalidation),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(Invalidation::All),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn receiver_that_falls_behind_is_told_to_forget_everything() {
        let (sender, mut receiver) = invalidation_channel();
        let id = KeyId::new("AAAAAAAAAAAA").unwrap();
        for _ in 0..=CAPACITY {
            sender.send(Invalidation::Key(id));
        }
        assert_eq!(receiver.recv().await, Some(Invalidation::All));
    }

    #[tokio::test]
    async fn receiver_ends_when_every_sender_is_gone() {
        let (sender, mut receiver) = invalidation_channel();
        drop(sender);
        assert_eq!(receiver.recv().await, None);
    }
}

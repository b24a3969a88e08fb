//! [`Invalidation`]s: news that a key changed elsewhere, for caches to act on.
//!
//! A store that hears about changes made by other processes (PostgreSQL's `LISTEN`, a message
//! bus) sends them through an [`InvalidationSender`]; every cache holding an [`Invalidations`]
//! receiver drops the named key, or everything, or keeps a revoked key as revoked.
//!
//! The sender also says whether the stream is connected ([`Invalidation::Connected`] /
//! [`Invalidation::Disconnected`]): while it is, every change arrives, and a cache may keep
//! records much longer. A receiver made while the stream is connected starts with a
//! `Connected`, so a late subscriber knows too.
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

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::broadcast;

use crate::key::KeyId;

/// How many invalidations may wait for a slow receiver before it is told to drop everything.
const CAPACITY: usize = 1024;

/// What a cache must forget, or know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invalidation {
    /// The key with this id changed (created, updated, revoked or rotated).
    Key(KeyId),
    /// The key with this id was revoked. Revocation is final: a cache holding its record keeps
    /// it, marked revoked, and refuses the key without asking its store.
    Revoked(KeyId),
    /// Anything may have changed (e.g. news were lost while disconnected): forget everything.
    All,
    /// The stream is connected: from now on every change arrives. Sent after the
    /// [`All`](Self::All) that resyncs a (re)connection.
    Connected,
    /// The stream is lost: changes may go unheard until it is back (with an
    /// [`All`](Self::All), then [`Connected`](Self::Connected)).
    Disconnected,
}

/// The sending side of an invalidation channel. Clones send to the same receivers.
#[derive(Debug, Clone)]
pub struct InvalidationSender {
    tx: broadcast::Sender<Invalidation>,
    /// Whether the last word about the stream was `Connected`.
    connected: Arc<AtomicBool>,
}

/// The receiving side of an invalidation channel.
///
/// A receiver that falls more than 1024 invalidations behind receives
/// [`Invalidation::All`] instead of the ones it missed, then whether the stream is connected
/// now: it is never left holding a stale key, nor believing a lost stream connected.
#[derive(Debug)]
pub struct Invalidations {
    rx: broadcast::Receiver<Invalidation>,
    connected: Arc<AtomicBool>,
    /// Given before the next one received.
    pending: Option<Invalidation>,
}

/// A new invalidation channel, not connected until [`Invalidation::Connected`] is sent.
pub fn invalidation_channel() -> (InvalidationSender, Invalidations) {
    let (tx, _) = broadcast::channel(CAPACITY);
    let sender = InvalidationSender {
        tx,
        connected: Arc::new(AtomicBool::new(false)),
    };
    let receiver = sender.subscribe();
    (sender, receiver)
}

/// What a receiver is told about the stream now.
fn state(connected: &AtomicBool) -> Invalidation {
    if connected.load(Ordering::SeqCst) {
        Invalidation::Connected
    } else {
        Invalidation::Disconnected
    }
}

impl InvalidationSender {
    /// Sends `invalidation` to every receiver (none listening is fine).
    /// [`Connected`](Invalidation::Connected) and [`Disconnected`](Invalidation::Disconnected)
    /// also set what receivers made later start with.
    pub fn send(&self, invalidation: Invalidation) {
        match invalidation {
            Invalidation::Connected => self.connected.store(true, Ordering::SeqCst),
            Invalidation::Disconnected => self.connected.store(false, Ordering::SeqCst),
            _ => {}
        }
        // An error only means that nobody listens at the moment.
        let _ = self.tx.send(invalidation);
    }

    /// A new receiver, getting what is sent from now on; first
    /// [`Connected`](Invalidation::Connected) if the stream is connected now.
    pub fn subscribe(&self) -> Invalidations {
        // Subscribed first: a change of state after the look is received too.
        let rx = self.tx.subscribe();
        let pending = self
            .connected
            .load(Ordering::SeqCst)
            .then_some(Invalidation::Connected);
        Invalidations {
            rx,
            connected: Arc::clone(&self.connected),
            pending,
        }
    }
}

impl Invalidations {
    /// The next invalidation, or `None` once every sender is gone.
    pub async fn recv(&mut self) -> Option<Invalidation> {
        if let Some(pending) = self.pending.take() {
            return Some(pending);
        }
        match self.rx.recv().await {
            Ok(invalidation) => Some(invalidation),
            Err(broadcast::error::RecvError::Lagged(_)) => {
                // A `Connected` or `Disconnected` may be among the missed: say the state now.
                self.pending = Some(state(&self.connected));
                Some(Invalidation::All)
            }
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
    async fn receiver_that_falls_behind_is_told_whether_the_stream_is_connected_now() {
        let (sender, mut receiver) = invalidation_channel();
        sender.send(Invalidation::Connected);
        for _ in 0..=CAPACITY {
            sender.send(Invalidation::All);
        }
        sender.send(Invalidation::Disconnected);
        assert_eq!(receiver.recv().await, Some(Invalidation::All));
        assert_eq!(receiver.recv().await, Some(Invalidation::Disconnected));
    }

    #[tokio::test]
    async fn receiver_made_while_the_stream_is_connected_is_told_so_first() {
        let (sender, _first) = invalidation_channel();
        sender.send(Invalidation::Connected);
        let id = KeyId::new("AAAAAAAAAAAA").unwrap();
        let mut late = sender.subscribe();
        sender.send(Invalidation::Revoked(id));
        assert_eq!(late.recv().await, Some(Invalidation::Connected));
        assert_eq!(late.recv().await, Some(Invalidation::Revoked(id)));
    }

    #[tokio::test]
    async fn receiver_made_after_the_stream_is_lost_is_not_told_it_is_connected() {
        let (sender, _first) = invalidation_channel();
        sender.send(Invalidation::Connected);
        sender.send(Invalidation::Disconnected);
        let mut late = sender.subscribe();
        sender.send(Invalidation::All);
        assert_eq!(late.recv().await, Some(Invalidation::All));
    }

    #[tokio::test]
    async fn receiver_ends_when_every_sender_is_gone() {
        let (sender, mut receiver) = invalidation_channel();
        drop(sender);
        assert_eq!(receiver.recv().await, None);
    }
}

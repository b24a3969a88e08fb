//! The `LISTEN keygate_keys` task: turns notifications from every instance into
//! [`Invalidation`]s, on its own connection, reconnecting with backoff, and says when it is
//! connected and when it is lost.

use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{sleep, timeout};
use tokio_postgres::{AsyncMessage, NoTls};

use crate::key::KeyId;
use crate::store::abort::AbortOnDrop;
use crate::store::{Invalidation, InvalidationSender};

/// The channel every mutating statement notifies, with the key id as payload, the key id after
/// [`REVOKED`], or [`EVERY_KEY`].
pub(super) const CHANNEL: &str = "keygate_keys";

/// Before the key id in the payload of a revocation (`r:<id>`): caches keep the key as
/// revoked instead of asking again. (An older listener reads it as no key id: forget
/// everything, which is safe.)
pub(super) const REVOKED: &str = "r:";

/// The payload of a change that may concern any key (a plan redefined, a workspace moved to
/// another plan): caches forget everything.
pub(super) const EVERY_KEY: &str = "*";

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long the connection may stay quiet before it is checked with an empty query.
const PING_EVERY: Duration = Duration::from_secs(10);

/// What the listening task needs.
pub(super) struct Listener {
    pub(super) config: tokio_postgres::Config,
    pub(super) sender: InvalidationSender,
    pub(super) listening: Arc<AtomicBool>,
    pub(super) timeout: Duration,
}

impl Listener {
    /// Listens until aborted: after every (re)connection it sends [`Invalidation::All`],
    /// because notifications sent while it was away are lost, then
    /// [`Invalidation::Connected`]; when the connection is lost,
    /// [`Invalidation::Disconnected`].
    pub(super) async fn run(self) {
        let mut backoff = FIRST_BACKOFF;
        let mut counters = ListenerCounters::new();
        loop {
            let error = match self.listen_once(&mut counters).await {
                Ok(never) => match never {},
                Err((established, error)) => {
                    if established {
                        backoff = FIRST_BACKOFF;
                    }
                    error
                }
            };
            let was_listening = self.listening.swap(false, Ordering::SeqCst);
            if was_listening {
                self.sender.send(Invalidation::Disconnected);
                tracing::warn!(%error, "key invalidation listener lost its connection; reconnecting");
            } else {
                tracing::debug!(%error, ?backoff, "key invalidation listener could not connect");
            }
            sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One connection's life. Returns why it ended, and whether it got as far as listening.
    async fn listen_once(
        &self,
        counters: &mut ListenerCounters,
    ) -> Result<std::convert::Infallible, (bool, String)> {
        let not_yet = |e: String| (false, e);
        let (client, mut connection) = timeout(self.timeout, self.config.connect(NoTls))
            .await
            .map_err(|_| not_yet(format!("no connection within {:?}", self.timeout)))?
            .map_err(|e| not_yet(e.to_string()))?;
        let (tx, mut notifications) = mpsc::unbounded_channel();
        let _driver = AbortOnDrop(tokio::spawn(async move {
            while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
                match message {
                    Ok(AsyncMessage::Notification(n)) if n.channel() == CHANNEL => {
                        if tx.send(n.payload().to_owned()).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::debug!(%error, "key invalidation connection failed");
                        return;
                    }
                }
            }
        }));
        timeout(
            self.timeout,
            client.batch_execute(&format!("LISTEN {CHANNEL}")),
        )
        .await
        .map_err(|_| not_yet(format!("LISTEN not answered within {:?}", self.timeout)))?
        .map_err(|e| not_yet(e.to_string()))?;
        // Listening first, then the resync: whoever sees the `All` also sees `is_listening()`.
        // Then `Connected`: a cache keeps records longer only once it has forgotten those it
        // loaded while notifications could be lost.
        self.listening.store(true, Ordering::SeqCst);
        self.sender.send(Invalidation::All);
        self.sender.send(Invalidation::Connected);
        // Back to 0 when this function returns, or when the task is aborted.
        let _connected = counters.listening();
        tracing::debug!("listening for key invalidations");
        let lost = |e: String| (true, e);
        loop {
            match timeout(PING_EVERY, notifications.recv()).await {
                Ok(Some(payload)) => self.sender.send(invalidation(&payload)),
                Ok(None) => return Err(lost("connection closed".into())),
                Err(_) => {
                    timeout(self.timeout, client.simple_query(""))
                        .await
                        .map_err(|_| lost(format!("ping not answered within {:?}", self.timeout)))?
                        .map_err(|e| lost(e.to_string()))?;
                }
            }
        }
    }
}

/// What the listener tells [`crate::metrics`] (feature `metrics`): whether it is listening
/// (`keygate_postgres_listener_connected`), and how often it listened again after a loss
/// (`keygate_postgres_listener_reconnects_total`). Registered with the recorder when the
/// listener starts. Without the feature, nothing, at no cost.
struct ListenerCounters {
    #[cfg(feature = "metrics")]
    connected: metrics::Gauge,
    #[cfg(feature = "metrics")]
    reconnects: metrics::Counter,
    /// Whether the listener has listened before.
    listened: bool,
}

/// While it lives, the listener counts as connected.
struct Listening {
    #[cfg(feature = "metrics")]
    connected: metrics::Gauge,
}

impl ListenerCounters {
    fn new() -> Self {
        Self {
            #[cfg(feature = "metrics")]
            connected: metrics::gauge!(crate::metrics::POSTGRES_LISTENER_CONNECTED),
            #[cfg(feature = "metrics")]
            reconnects: metrics::counter!(crate::metrics::POSTGRES_LISTENER_RECONNECTS_TOTAL),
            listened: false,
        }
    }

    /// The listener is listening (again, if it was before), until the guard is dropped.
    fn listening(&mut self) -> Listening {
        #[cfg(feature = "metrics")]
        {
            if self.listened {
                self.reconnects.increment(1);
            }
            self.connected.increment(1.0);
        }
        self.listened = true;
        Listening {
            #[cfg(feature = "metrics")]
            connected: self.connected.clone(),
        }
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        #[cfg(feature = "metrics")]
        self.connected.decrement(1.0);
    }
}

/// What a notification's payload says: a key changed, a key was revoked, or (for `*`, or
/// anything else) forget everything.
fn invalidation(payload: &str) -> Invalidation {
    if payload == EVERY_KEY {
        return Invalidation::All;
    }
    let (revoked, id) = match payload.strip_prefix(REVOKED) {
        Some(id) => (true, id),
        None => (false, payload),
    };
    match KeyId::new(id) {
        Ok(id) if revoked => Invalidation::Revoked(id),
        Ok(id) => Invalidation::Key(id),
        Err(_) => Invalidation::All,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_a_changed_key_a_revoked_key_or_every_key() {
        let id = KeyId::new("AbCdEfGhIjKl").unwrap();
        assert_eq!(invalidation("AbCdEfGhIjKl"), Invalidation::Key(id));
        assert_eq!(invalidation("r:AbCdEfGhIjKl"), Invalidation::Revoked(id));
        for other in [EVERY_KEY, "r:", "r:*", "x:AbCdEfGhIjKl", ""] {
            assert_eq!(invalidation(other), Invalidation::All, "{other:?}");
        }
    }
}

//! The `LISTEN keygate_keys` task: turns notifications from every instance into
//! [`Invalidation`]s, on its own connection, reconnecting with backoff.

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

/// The channel every mutating statement notifies, with the key id as payload, or
/// [`EVERY_KEY`].
pub(super) const CHANNEL: &str = "keygate_keys";

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
    /// because notifications sent while it was away are lost.
    pub(super) async fn run(self) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let error = match self.listen_once().await {
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
                tracing::warn!(%error, "key invalidation listener lost its connection; reconnecting");
            } else {
                tracing::debug!(%error, ?backoff, "key invalidation listener could not connect");
            }
            sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One connection's life. Returns why it ended, and whether it got as far as listening.
    async fn listen_once(&self) -> Result<std::convert::Infallible, (bool, String)> {
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
        self.listening.store(true, Ordering::SeqCst);
        self.sender.send(Invalidation::All);
        tracing::debug!("listening for key invalidations");
        let lost = |e: String| (true, e);
        loop {
            match timeout(PING_EVERY, notifications.recv()).await {
                Ok(Some(payload)) => self.sender.send(match KeyId::new(&payload) {
                    Ok(id) if payload != EVERY_KEY => Invalidation::Key(id),
                    // `*`, or anything else that is not a key id: forget everything.
                    _ => Invalidation::All,
                }),
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

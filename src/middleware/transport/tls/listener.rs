//! [`TlsListener`]: TCP connections, their TLS handshakes done, for `axum::serve`.

use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::task::JoinSet;
use tokio::time::{Sleep, sleep, timeout};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;

/// How long a client has to finish its TLS handshake, by default.
const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How many handshakes run at once, by default.
const DEFAULT_MAX_HANDSHAKES: usize = 256;
/// How long accepting pauses after an error of the listening socket itself (such as running
/// out of file descriptors), as `axum::serve` does for a `TcpListener`.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// A TCP listener whose connections come out with their TLS handshake done: an
/// [`axum::serve::Listener`] yielding rustls streams and each client's address.
///
/// Serve it with [`SecureConnections`](super::SecureConnections), which marks every request of
/// its connections with [`SecureTransport`](crate::transport::SecureTransport) (see the
/// [module](super)).
///
/// | behaviour | default | set with |
/// |---|---|---|
/// | handshakes run concurrently, each in its own task: a slow client delays no one else | at most 256 at once; past that, no connection is accepted until one ends | [`max_handshakes`](Self::max_handshakes) |
/// | a handshake that takes too long is dropped with its connection | 10 s | [`handshake_timeout`](Self::handshake_timeout) |
/// | a failed handshake (plain HTTP, a client that does not trust the certificate, garbage) closes that connection only; it is logged at `debug` | | |
/// | an error of the listening socket (e.g. out of file descriptors) pauses accepting for 1 s, logged at `error`; handshakes under way go on | | |
///
/// Dropping the listener (as `axum::serve` does when it stops) aborts the handshakes under way.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
    max_handshakes: usize,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
    paused: Option<Pin<Box<Sleep>>>,
}

impl TlsListener {
    /// Accepts the connections of `tcp` with `config` (see
    /// [`server_config`](super::server_config)).
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> Self {
        Self {
            tcp,
            acceptor: TlsAcceptor::from(config),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_handshakes: DEFAULT_MAX_HANDSHAKES,
            handshakes: JoinSet::new(),
            paused: None,
        }
    }

    /// Binds a TCP listener to `addr` and accepts its connections with `config`.
    pub async fn bind(addr: impl ToSocketAddrs, config: Arc<ServerConfig>) -> io::Result<Self> {
        Ok(Self::new(TcpListener::bind(addr).await?, config))
    }

    /// How long a client has to finish its handshake before its connection is closed
    /// (default 10 s).
    pub fn handshake_timeout(mut self, limit: Duration) -> Self {
        self.handshake_timeout = limit;
        self
    }

    /// How many handshakes may run at once (default 256; at least 1). While that many are
    /// under way, new connections wait in the kernel's accept queue.
    pub fn max_handshakes(mut self, max: usize) -> Self {
        self.max_handshakes = max.max(1);
        self
    }

    /// The next connection whose handshake succeeded; meanwhile, accepts TCP connections and
    /// starts their handshakes.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<(TlsStream<TcpStream>, SocketAddr)> {
        loop {
            while let Poll::Ready(Some(joined)) = self.handshakes.poll_join_next(cx) {
                // A failed or timed-out handshake was logged by its task; an aborted one
                // belongs to a listener being dropped.
                if let Ok(Some(connection)) = joined {
                    return Poll::Ready(connection);
                }
            }
            if let Some(pause) = &mut self.paused {
                if pause.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.paused = None;
            }
            // When full, the next handshake to end wakes this task (polled above).
            if self.handshakes.len() >= self.max_handshakes {
                return Poll::Pending;
            }
            match self.tcp.poll_accept(cx) {
                Poll::Ready(Ok((stream, peer))) => self.start_handshake(stream, peer),
                Poll::Ready(Err(error)) if is_connection_error(&error) => {}
                Poll::Ready(Err(error)) => {
                    tracing::error!(%error, "accepting a TCP connection failed; pausing for 1 s");
                    self.paused = Some(Box::pin(sleep(ACCEPT_ERROR_PAUSE)));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn start_handshake(&mut self, stream: TcpStream, peer: SocketAddr) {
        let handshake = self.acceptor.accept(stream);
        let limit = self.handshake_timeout;
        self.handshakes.spawn(async move {
            match timeout(limit, handshake).await {
                Ok(Ok(tls)) => Some((tls, peer)),
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "TLS handshake failed");
                    None
                }
                Err(_) => {
                    tracing::debug!(%peer, ?limit, "TLS handshake timed out");
                    None
                }
            }
        });
    }
}

/// Errors of one connection, not of the listening socket: the next accept may succeed at once.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

impl fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsListener")
            .field("local_addr", &self.tcp.local_addr().ok())
            .field("handshake_timeout", &self.handshake_timeout)
            .field("max_handshakes", &self.max_handshakes)
            .field("handshakes", &self.handshakes.len())
            .finish_non_exhaustive()
    }
}

//! [`SecureConnections`] and [`MarkSecure`]: every request read off a TLS connection carries
//! [`SecureTransport`] and the client's address.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::task::{Context, Poll};

use axum::extract::ConnectInfo;
use axum::serve::IncomingStream;
use http::Request;
use tower_service::Service;

use super::TlsListener;
use crate::transport::SecureTransport;

/// What `axum::serve` serves on a [`TlsListener`]: `service` (a `Router`, or any clonable
/// service) once per connection, wrapped in [`MarkSecure`].
///
/// It is a make-service for [`TlsListener`] connections only, so it cannot be served on a
/// plain `TcpListener` by mistake:
///
/// ```compile_fail
/// # async fn serve(router: axum::Router) {
/// use keygate::transport::tls::SecureConnections;
/// let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// axum::serve(plain, SecureConnections::new(router)).await.unwrap();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SecureConnections<S> {
    service: S,
}

impl<S> SecureConnections<S> {
    /// Serves `service` on the connections of a [`TlsListener`].
    pub fn new(service: S) -> Self {
        Self { service }
    }
}

impl<S: Clone> Service<IncomingStream<'_, TlsListener>> for SecureConnections<S> {
    type Response = MarkSecure<S>;
    type Error = Infallible;
    type Future = Ready<Result<MarkSecure<S>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, connection: IncomingStream<'_, TlsListener>) -> Self::Future {
        ready(Ok(MarkSecure::new(
            self.service.clone(),
            *connection.remote_addr(),
        )))
    }
}

/// The service of one TLS connection: inserts [`SecureTransport`] and
/// `ConnectInfo<SocketAddr>` (the client's address, which the layer's failure limit reads)
/// into every request's extensions, then calls `inner`.
///
/// [`SecureConnections`] makes one per connection for `axum::serve`. A server built on hyper
/// directly makes one for each connection it accepted from a
/// [`TlsListener`] (its `accept` gives the stream and the address) and serves that
/// connection with it, e.g. through `hyper_util::service::TowerToHyperService`. Wrap only the
/// services of TLS connections: the marker is what makes a request count as HTTPS.
#[derive(Debug, Clone)]
pub struct MarkSecure<S> {
    inner: S,
    peer: SocketAddr,
}

impl<S> MarkSecure<S> {
    /// `inner`, for the requests of the TLS connection from `peer`.
    pub fn new(inner: S, peer: SocketAddr) -> Self {
        Self { inner, peer }
    }
}

impl<S, B> Service<Request<B>> for MarkSecure<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let extensions = request.extensions_mut();
        extensions.insert(SecureTransport);
        extensions.insert(ConnectInfo(self.peer));
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;
    use tower::service_fn;

    #[tokio::test]
    async fn every_request_gets_the_marker_and_the_peer_address() {
        let peer: SocketAddr = "192.0.2.7:41000".parse().unwrap();
        let seen = service_fn(|request: Request<()>| async move {
            let marked = request.extensions().get::<SecureTransport>().is_some();
            let addr = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0);
            Ok::<_, Infallible>((marked, addr))
        });
        let answer = MarkSecure::new(seen, peer)
            .oneshot(Request::new(()))
            .await
            .unwrap();
        assert_eq!(answer, (true, Some(peer)));
    }
}

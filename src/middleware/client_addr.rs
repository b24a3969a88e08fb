//! [`ClientAddr`]: the address a request came from.

use std::net::IpAddr;

/// The address of the client that sent a request, as a request extension.
///
/// The layer counts failed authentications per client address (see
/// [`FailureLimit`](crate::limit::FailureLimit)). It reads the address from the request's
/// extensions, in this order:
///
/// 1. a [`ClientAddr`] that you inserted;
/// 2. with feature `axum`, the `axum::extract::ConnectInfo<SocketAddr>` that
///    `into_make_service_with_connect_info::<SocketAddr>()` inserts.
///
/// It never reads `Forwarded` or `X-Forwarded-For`: any client can send those. Behind a
/// reverse proxy, every request comes from the proxy's address; insert a [`ClientAddr`] taken
/// from the header *your* proxy sets, in a layer placed before keygate, or all clients share
/// the proxy's failure budget. A request with no address known is counted in one bucket shared
/// by all such requests.
///
/// With hyper, insert the peer address of each connection:
///
/// ```
/// use std::net::SocketAddr;
/// use http::Request;
/// use keygate::ClientAddr;
///
/// fn tag<B>(mut request: Request<B>, peer: SocketAddr) -> Request<B> {
///     request.extensions_mut().insert(ClientAddr(peer.ip()));
///     request
/// }
/// # let request = tag(Request::new(()), "192.0.2.7:41000".parse().unwrap());
/// # assert_eq!(request.extensions().get::<ClientAddr>(), Some(&ClientAddr("192.0.2.7".parse().unwrap())));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// The client's address from `extensions`: a [`ClientAddr`], else (feature `axum`)
    /// `ConnectInfo<SocketAddr>`, else `None`.
    pub(crate) fn of(extensions: &http::Extensions) -> Option<IpAddr> {
        if let Some(ClientAddr(ip)) = extensions.get::<ClientAddr>() {
            return Some(*ip);
        }
        #[cfg(feature = "axum")]
        if let Some(info) = extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>() {
            return Some(info.0.ip());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inserted_client_addr_is_found() {
        let mut extensions = http::Extensions::new();
        assert_eq!(ClientAddr::of(&extensions), None);
        extensions.insert(ClientAddr("192.0.2.1".parse().unwrap()));
        assert_eq!(
            ClientAddr::of(&extensions),
            Some("192.0.2.1".parse().unwrap())
        );
    }

    #[cfg(feature = "axum")]
    #[test]
    fn client_addr_wins_over_connect_info() {
        let mut extensions = http::Extensions::new();
        let peer: std::net::SocketAddr = "10.0.0.1:5000".parse().unwrap();
        extensions.insert(axum::extract::ConnectInfo(peer));
        assert_eq!(ClientAddr::of(&extensions), Some(peer.ip()));
        extensions.insert(ClientAddr("192.0.2.1".parse().unwrap()));
        assert_eq!(
            ClientAddr::of(&extensions),
            Some("192.0.2.1".parse().unwrap())
        );
    }
}

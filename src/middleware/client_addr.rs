//! [`ClientAddr`]: the address a request came from.

use std::net::IpAddr;

use http::HeaderMap;

use super::trusted_proxies::TrustedProxies;

/// The address of the client that sent a request, as a request extension.
///
/// The layer checks keys' IP allowlists against the client address, and counts failed
/// authentications per client address (see [`FailureLimit`](crate::limit::FailureLimit)).
/// It reads the connection's address from the request's extensions, in this order:
///
/// 1. a [`ClientAddr`] that you inserted;
/// 2. with feature `axum`, the `axum::extract::ConnectInfo<SocketAddr>` that
///    `into_make_service_with_connect_info::<SocketAddr>()` (and, feature `tls`,
///    `transport::tls::SecureConnections`) inserts.
///
/// It reads `Forwarded`, `X-Forwarded-For` or another forwarding header only when you name your
/// reverse proxies with [`trusted_proxies`](crate::ApiKeyLayerBuilder::trusted_proxies), and
/// only on requests whose connection comes from one of them: any client can send those
/// headers. A key with an IP allowlist is refused (403 `ip_not_allowed`) when no address is
/// known; for the failure budget, requests with no address known share one bucket.
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

    /// The client's address: the connection's ([`ClientAddr::of`] `extensions`), or, when it
    /// is one of `proxies`, the address their forwarding header in `headers` names.
    pub(crate) fn resolve(
        extensions: &http::Extensions,
        headers: &HeaderMap,
        proxies: Option<&TrustedProxies>,
    ) -> Option<IpAddr> {
        let peer = Self::of(extensions)?;
        Some(match proxies {
            Some(proxies) => proxies.client(peer, headers),
            None => peer,
        })
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

    #[test]
    fn forwarding_headers_are_read_only_behind_trusted_proxies() {
        let mut extensions = http::Extensions::new();
        extensions.insert(ClientAddr("127.0.0.1".parse().unwrap()));
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
        let proxies = TrustedProxies::new("127.0.0.1".parse().unwrap());
        assert_eq!(
            ClientAddr::resolve(&extensions, &headers, None),
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(
            ClientAddr::resolve(&extensions, &headers, Some(&proxies)),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(
            ClientAddr::resolve(&http::Extensions::new(), &headers, Some(&proxies)),
            None
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

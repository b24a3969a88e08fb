//! [`TrustedProxies`]: the operator's reverse proxies, whose forwarding header names the
//! client.

use std::net::IpAddr;

use http::HeaderMap;

use crate::allowlist::IpAllowlist;

use super::forwarded_header::ForwardedHeader;

/// The reverse proxies in front of the service, and the header they name the client in.
///
/// Set with [`ApiKeyLayerBuilder::trusted_proxies`](crate::ApiKeyLayerBuilder::trusted_proxies).
/// Without it the layer never reads a forwarding header: any client can send one. With it,
/// the client address of a request (for keys' IP allowlists and the failed-authentication
/// budget) is found so:
///
/// 1. the connection's peer ([`ClientAddr`](crate::ClientAddr), else axum's `ConnectInfo`);
///    a peer that is not one of the proxies is the client, whatever the request says;
/// 2. from a proxy, the header's addresses are walked from the right (each proxy appends the
///    address it received the request from), past the addresses of proxies, and the first
///    address that is not a proxy's is the client. Whatever a client wrote into the header
///    itself sits to the left of that address and is never read;
/// 3. when every address in the header is a proxy's, the leftmost one is the client;
/// 4. when the header is absent, or an entry met before the client's is no address (garbage,
///    `for=unknown`), the header is not believed: the peer (the proxy) is the client.
///
/// An IPv4-mapped IPv6 address (`::ffff:10.0.0.2`, as a dual-stack socket reports IPv4 peers)
/// matches the IPv4 networks. [`IpAllowlist::any()`] trusts every peer: only for a server no
/// client can reach but through the proxies.
///
/// ```
/// use http::{HeaderMap, HeaderValue};
/// use keygate::{ForwardedHeader, TrustedProxies};
///
/// let proxies = TrustedProxies::new("10.0.0.0/8".parse().unwrap())
///     .header(ForwardedHeader::XForwardedFor);
/// let mut headers = HeaderMap::new();
/// // The client sent "192.0.2.66"; the proxies appended what they saw.
/// headers.insert("x-forwarded-for", HeaderValue::from_static("192.0.2.66, 203.0.113.9, 10.0.0.3"));
///
/// let proxy = "10.0.0.2".parse().unwrap();
/// assert_eq!(proxies.client(proxy, &headers), "203.0.113.9".parse::<std::net::IpAddr>().unwrap());
/// let stranger = "198.51.100.1".parse().unwrap();
/// assert_eq!(proxies.client(stranger, &headers), stranger);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies {
    proxies: IpAllowlist,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// The proxies in `proxies` (addresses or CIDR ranges), naming the client in
    /// `X-Forwarded-For` unless [`header`](Self::header) says otherwise.
    pub fn new(proxies: IpAllowlist) -> Self {
        Self {
            proxies,
            header: ForwardedHeader::XForwardedFor,
        }
    }

    /// The header the proxies write the client's address into.
    pub fn header(mut self, header: ForwardedHeader) -> Self {
        self.header = header;
        self
    }

    /// The networks of the proxies.
    pub fn proxies(&self) -> &IpAllowlist {
        &self.proxies
    }

    /// The header read.
    pub fn forwarded_header(&self) -> &ForwardedHeader {
        &self.header
    }

    /// Whether `addr` is one of the proxies.
    pub fn is_proxy(&self, addr: IpAddr) -> bool {
        self.proxies.allows(addr)
    }

    /// The client of a request that came from `peer` with `headers` (see the type's docs).
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.is_proxy(peer) {
            return peer;
        }
        let mut farthest = None;
        for hop in self.header.hops(headers) {
            match hop {
                None => return peer,
                Some(addr) if !self.is_proxy(addr) => return addr,
                Some(proxy) => farthest = Some(proxy),
            }
        }
        farthest.unwrap_or(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn loopback() -> TrustedProxies {
        TrustedProxies::new("127.0.0.0/8, ::1".parse().unwrap())
    }

    fn xff(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn a_peer_that_is_no_proxy_is_the_client_whatever_the_header_says() {
        assert_eq!(
            loopback().client(ip("192.0.2.1"), &xff("203.0.113.9")),
            ip("192.0.2.1")
        );
    }

    #[test]
    fn the_rightmost_address_that_is_no_proxy_is_the_client() {
        let headers = xff("198.51.100.66, 203.0.113.9, 127.0.0.2");
        assert_eq!(
            loopback().client(ip("127.0.0.1"), &headers),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_mapped_peer_matches_ipv4_proxies() {
        assert_eq!(
            loopback().client(ip("::ffff:127.0.0.1"), &xff("203.0.113.9")),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn when_every_address_is_a_proxy_the_leftmost_is_the_client() {
        let headers = xff("127.0.0.3, 127.0.0.2");
        assert_eq!(
            loopback().client(ip("127.0.0.1"), &headers),
            ip("127.0.0.3")
        );
    }

    #[test]
    fn an_absent_header_leaves_the_peer() {
        assert_eq!(loopback().client(ip("::1"), &HeaderMap::new()), ip("::1"));
    }

    #[test]
    fn an_unreadable_entry_before_the_client_leaves_the_peer() {
        let headers = xff("203.0.113.9, not-an-address");
        assert_eq!(
            loopback().client(ip("127.0.0.1"), &headers),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn garbage_left_of_the_client_is_never_read() {
        let headers = xff("not-an-address, 203.0.113.9");
        assert_eq!(
            loopback().client(ip("127.0.0.1"), &headers),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn only_the_named_header_is_read() {
        let proxies = loopback().header(ForwardedHeader::Forwarded);
        let mut headers = xff("203.0.113.9");
        assert_eq!(proxies.client(ip("127.0.0.1"), &headers), ip("127.0.0.1"));
        headers.insert("forwarded", HeaderValue::from_static("for=198.51.100.7"));
        assert_eq!(
            proxies.client(ip("127.0.0.1"), &headers),
            ip("198.51.100.7")
        );
    }
}

//! [`ForwardedHeader`]: the header in which the operator's proxies name the address they
//! forwarded a request for, and how its addresses are read, nearest hop first.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use http::header::{FORWARDED, HeaderName};

/// The header the operator's trusted proxies write the client's address into (see
/// [`TrustedProxies`](crate::TrustedProxies)).
///
/// Each proxy appends the address it received the request from, so the header is a list,
/// farthest hop first. Several lines of the header count as one list, in order. An entry may
/// carry a port (`192.0.2.7:41000`, `[2001:db8::7]:41000`), which is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: 203.0.113.9, 10.0.0.2` (de facto standard): comma-separated addresses.
    XForwardedFor,
    /// `Forwarded: for=203.0.113.9;proto=https, for="[2001:db8::7]"` (RFC 7239): the `for`
    /// parameter of each element. An element without an address in `for` (`for=unknown`,
    /// an obfuscated `for=_hidden`, none at all) makes the header unreadable.
    Forwarded,
    /// `X-Real-IP: 203.0.113.9`: one address, set (not appended) by the proxy in front.
    XRealIp,
    /// Another header holding comma-separated addresses, as `X-Forwarded-For` does (for
    /// instance `CF-Connecting-IP` or `True-Client-IP`, which a CDN sets).
    Named(HeaderName),
}

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

impl ForwardedHeader {
    /// The header's name.
    pub fn name(&self) -> &HeaderName {
        match self {
            ForwardedHeader::XForwardedFor => &X_FORWARDED_FOR,
            ForwardedHeader::Forwarded => &FORWARDED,
            ForwardedHeader::XRealIp => &X_REAL_IP,
            ForwardedHeader::Named(name) => name,
        }
    }

    /// The header's entries in `headers`, nearest hop (rightmost) first, each `Some` address
    /// or `None` for an entry that names none (a line that is not text is one such entry).
    /// Empty when the header is absent.
    pub(crate) fn hops<'a>(
        &'a self,
        headers: &'a HeaderMap,
    ) -> impl Iterator<Item = Option<IpAddr>> + 'a {
        let entry: fn(&str) -> Option<IpAddr> = match self {
            ForwardedHeader::Forwarded => forwarded_for,
            _ => address,
        };
        headers
            .get_all(self.name())
            .iter()
            .rev()
            .flat_map(move |line| line.to_str().unwrap_or("").rsplit(',').map(entry))
    }
}

/// The address of one `X-Forwarded-For`-style entry: `192.0.2.7`, `2001:db8::7`, or either
/// with a port (`192.0.2.7:41000`, `[2001:db8::7]:41000`, `[2001:db8::7]`).
fn address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = entry.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    entry
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse::<std::net::Ipv6Addr>().ok())
        .map(IpAddr::V6)
}

/// The address in the `for` parameter of one `Forwarded` element (RFC 7239 §4, §6), quoted or
/// not; `None` when there is no `for`, or it names no address (`unknown`, `_obfuscated`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("for") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        address(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn hops(header: &ForwardedHeader, lines: &[&str]) -> Vec<Option<IpAddr>> {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(header.name(), HeaderValue::from_str(line).unwrap());
        }
        header.hops(&headers).collect()
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn x_forwarded_for_entries_come_nearest_hop_first() {
        assert_eq!(
            hops(
                &ForwardedHeader::XForwardedFor,
                &["192.0.2.1, 2001:db8::1 ,10.0.0.2"]
            ),
            vec![ip("10.0.0.2"), ip("2001:db8::1"), ip("192.0.2.1")]
        );
    }

    #[test]
    fn several_header_lines_are_one_list_in_order() {
        assert_eq!(
            hops(
                &ForwardedHeader::XForwardedFor,
                &["192.0.2.1, 192.0.2.2", "10.0.0.2"]
            ),
            vec![ip("10.0.0.2"), ip("192.0.2.2"), ip("192.0.2.1")]
        );
    }

    #[test]
    fn ports_and_brackets_are_read_past() {
        assert_eq!(
            hops(
                &ForwardedHeader::XForwardedFor,
                &["192.0.2.1:41000, [2001:db8::1]:443, [2001:db8::2]"]
            ),
            vec![ip("2001:db8::2"), ip("2001:db8::1"), ip("192.0.2.1")]
        );
    }

    #[test]
    fn entries_that_are_no_address_read_as_none() {
        assert_eq!(
            hops(&ForwardedHeader::XForwardedFor, &["nonsense, , 192.0.2.1"]),
            vec![ip("192.0.2.1"), None, None]
        );
    }

    #[test]
    fn forwarded_elements_give_their_for_parameter() {
        assert_eq!(
            hops(
                &ForwardedHeader::Forwarded,
                &["for=192.0.2.1;proto=https, By=x;FOR=\"[2001:db8::1]:4711\""]
            ),
            vec![ip("2001:db8::1"), ip("192.0.2.1")]
        );
    }

    #[test]
    fn forwarded_elements_without_an_address_read_as_none() {
        assert_eq!(
            hops(
                &ForwardedHeader::Forwarded,
                &["for=unknown, for=_hidden, proto=https"]
            ),
            vec![None, None, None]
        );
    }

    #[test]
    fn x_real_ip_and_named_headers_read_their_own_header() {
        let named = ForwardedHeader::Named(HeaderName::from_static("cf-connecting-ip"));
        assert_eq!(
            hops(&ForwardedHeader::XRealIp, &["192.0.2.1"]),
            vec![ip("192.0.2.1")]
        );
        assert_eq!(hops(&named, &["2001:db8::1"]), vec![ip("2001:db8::1")]);
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("192.0.2.1"));
        assert_eq!(named.hops(&headers).count(), 0);
        assert_eq!(ForwardedHeader::XRealIp.hops(&headers).count(), 0);
    }
}

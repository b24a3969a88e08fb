//! [`IpAllowlist`]: the networks a key may be used from.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

/// The most networks one key's allowlist holds.
pub const MAX_ALLOWED_NETWORKS: usize = 64;

/// The networks (CIDR ranges, IPv4 and IPv6) a key may be used from; empty: anywhere.
///
/// A request from another address gets 403 `ip_not_allowed`, told only to a caller that proved
/// the key's secret. Networks are kept in their canonical form (`10.1.2.3/8` is `10.0.0.0/8`),
/// without repeats, in the order given. An IPv4-mapped IPv6 address (`::ffff:192.0.2.7`, as a
/// dual-stack socket reports IPv4 clients) is matched as the IPv4 address it carries.
///
/// ```
/// use keygate::IpAllowlist;
///
/// let list: IpAllowlist = "192.0.2.0/24, 2001:db8::/32".parse().unwrap();
/// assert!(list.allows("192.0.2.7".parse().unwrap()));
/// assert!(list.allows("::ffff:192.0.2.7".parse().unwrap()));
/// assert!(list.allows("2001:db8::1".parse().unwrap()));
/// assert!(!list.allows("198.51.100.1".parse().unwrap()));
/// assert!(IpAllowlist::any().allows("198.51.100.1".parse().unwrap()));
/// assert!("10.0.0.0/33".parse::<IpAllowlist>().is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct IpAllowlist(Vec<IpNet>);

/// Why an allowlist is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidAllowlist {
    /// An entry that is neither an address nor a CIDR range.
    #[error("{0:?} is not an IP address or CIDR range (such as 192.0.2.0/24 or 2001:db8::/32)")]
    NotANetwork(String),
    /// More than [`MAX_ALLOWED_NETWORKS`] networks.
    #[error("a key allows at most 64 networks ({0} given)")]
    TooMany(usize),
}

impl IpAllowlist {
    /// No restriction: the key may be used from anywhere.
    pub fn any() -> Self {
        Self(Vec::new())
    }

    /// An allowlist of `networks` (canonical, without repeats); refused beyond
    /// [`MAX_ALLOWED_NETWORKS`].
    pub fn new(networks: impl IntoIterator<Item = IpNet>) -> Result<Self, InvalidAllowlist> {
        let mut kept: Vec<IpNet> = Vec::new();
        for network in networks {
            let network = canonical(network.trunc());
            if !kept.contains(&network) {
                kept.push(network);
            }
        }
        if kept.len() > MAX_ALLOWED_NETWORKS {
            return Err(InvalidAllowlist::TooMany(kept.len()));
        }
        Ok(Self(kept))
    }

    /// Parses each entry: an address (`192.0.2.7`, a /32 or /128) or a CIDR range.
    pub fn parse_all<'a>(
        entries: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, InvalidAllowlist> {
        let mut networks = Vec::new();
        for entry in entries {
            networks.push(parse_network(entry)?);
            if networks.len() > MAX_ALLOWED_NETWORKS {
                return Err(InvalidAllowlist::TooMany(networks.len()));
            }
        }
        Self::new(networks)
    }

    /// Whether the list restricts nothing.
    pub fn is_any(&self) -> bool {
        self.0.is_empty()
    }

    /// The networks, in their canonical form.
    pub fn networks(&self) -> &[IpNet] {
        &self.0
    }

    /// Whether a request from `addr` may use the key (always, for an empty list).
    pub fn allows(&self, addr: IpAddr) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let addr = unmapped(addr);
        self.0.iter().any(|network| network.contains(&addr))
    }

    /// The networks as strings (`["192.0.2.0/24"]`), as JSON shows them.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

/// `addr`, with an IPv4-mapped IPv6 address read as the IPv4 address it carries.
fn unmapped(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// `network`, with an IPv4-mapped IPv6 range (`::ffff:192.0.2.0/120`) read as the IPv4 range it
/// covers, so that it matches the (unmapped) addresses it is meant for.
fn canonical(network: IpNet) -> IpNet {
    if let IpNet::V6(v6) = network
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && v6.prefix_len() >= 96
        && let Ok(mapped) = ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
    {
        return IpNet::V4(mapped.trunc());
    }
    network
}

fn parse_network(entry: &str) -> Result<IpNet, InvalidAllowlist> {
    let entry = entry.trim();
    let refused = || InvalidAllowlist::NotANetwork(entry.chars().take(64).collect());
    if entry.contains('/') {
        entry.parse::<IpNet>().map_err(|_| refused())
    } else {
        entry
            .parse::<IpAddr>()
            .map(IpNet::from)
            .map_err(|_| refused())
    }
}

impl FromStr for IpAllowlist {
    type Err = InvalidAllowlist;
    /// A comma-separated list (`192.0.2.0/24, 2001:db8::/32`); an empty string is
    /// [`IpAllowlist::any`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_all(s.split(',').filter(|entry| !entry.trim().is_empty()))
    }
}

impl fmt::Display for IpAllowlist {
    /// The networks, comma-separated (empty for [`IpAllowlist::any`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_strings().join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &str) -> IpAllowlist {
        text.parse().unwrap()
    }

    #[test]
    fn a_single_address_allows_only_itself() {
        let only = list("192.0.2.7");
        assert!(only.allows("192.0.2.7".parse().unwrap()));
        assert!(!only.allows("192.0.2.8".parse().unwrap()));
    }

    #[test]
    fn networks_are_kept_canonical_and_once() {
        assert_eq!(list("10.1.2.3/8, 10.0.0.0/8").to_string(), "10.0.0.0/8");
    }

    #[test]
    fn an_ipv6_network_allows_its_addresses_only() {
        let v6 = list("2001:db8::/32");
        assert!(v6.allows("2001:db8:ffff::1".parse().unwrap()));
        assert!(!v6.allows("2001:db9::1".parse().unwrap()));
        assert!(!v6.allows("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn an_ipv4_mapped_range_matches_the_ipv4_clients_it_names() {
        let mapped = list("::ffff:192.0.2.0/120");
        assert_eq!(mapped.to_string(), "192.0.2.0/24");
        assert!(mapped.allows("192.0.2.9".parse().unwrap()));
        assert!(mapped.allows("::ffff:192.0.2.9".parse().unwrap()));
    }

    #[test]
    fn an_ipv4_list_does_not_allow_an_ipv6_address_sharing_its_bits() {
        // ::c000:207 is not ::ffff:192.0.2.7: only mapped addresses are read as IPv4.
        assert!(!list("192.0.2.0/24").allows("::c000:207".parse().unwrap()));
    }

    #[test]
    fn entries_that_are_no_network_are_refused_saying_which() {
        for bad in [
            "10.0.0.0/33",
            "2001:db8::/129",
            "example.com",
            "10.0.0",
            "1.2.3.4/x",
        ] {
            assert!(
                matches!(bad.parse::<IpAllowlist>(), Err(InvalidAllowlist::NotANetwork(e)) if e == bad),
                "{bad}"
            );
        }
    }

    #[test]
    fn more_than_the_bound_is_refused() {
        let many: Vec<String> = (0..=MAX_ALLOWED_NETWORKS)
            .map(|i| format!("10.0.{i}.0/24"))
            .collect();
        assert_eq!(
            IpAllowlist::parse_all(many.iter().map(String::as_str)),
            Err(InvalidAllowlist::TooMany(MAX_ALLOWED_NETWORKS + 1))
        );
    }

    #[test]
    fn an_empty_list_allows_everyone() {
        assert!(list("").is_any());
        assert!(list(" , ").allows("203.0.113.1".parse().unwrap()));
    }
}

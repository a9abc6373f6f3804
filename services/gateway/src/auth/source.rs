//! Where a request comes from, for the sign-in limiter: the TCP peer, unless the peer
//! is a proxy the deployer named in `TRUSTED_PROXIES` (the ingress controller); then the
//! nearest address in `X-Forwarded-For` that is not itself a trusted proxy. With no
//! trusted proxy configured the header is never read: anyone can write it.

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    str::FromStr,
};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::request::Parts,
};
use sportello_kit::ServiceError;

use crate::app::AppState;

/// A network block: `10.0.0.0/8`, `fd00::/8`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is in the block (an IPv4-mapped IPv6 address as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = s.trim().split_once('/').unwrap_or((s.trim(), ""));
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("{address:?} is not an IP address"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = if prefix.is_empty() {
            max
        } else {
            prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{prefix:?} is not a prefix length 0-{max}"))?
        };
        Ok(Self { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The proxies whose `X-Forwarded-For` is believed: `TRUSTED_PROXIES`, blocks separated
/// by commas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<Cidr>);

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(Cidr::from_str)
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client: `peer` itself, or, when `peer` is trusted, the rightmost address of
    /// `forwarded` (the `X-Forwarded-For` values, in order) that is not trusted. A
    /// malformed entry stops the walk at the last trusted hop's word: what is left of it
    /// was written by whoever the proxy heard, and may be anything.
    pub fn client(&self, peer: IpAddr, forwarded: &[&str]) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        for hop in forwarded.iter().flat_map(|v| v.split(',')).rev() {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                return client;
            };
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        client
    }
}

/// The network source of a request (see the module's documentation).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ServiceError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Served without connection info only in handler tests: the unspecified address.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(addr)| addr.ip());
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(ClientIp(
            state.settings.trusted_proxies.client(peer, &forwarded),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_parse_and_contain() {
        let proxies: TrustedProxies = "10.0.0.0/8, fd00::/8 ,192.0.2.1".parse().unwrap();
        assert!(proxies.trusts(ip("10.42.0.7")));
        assert!(proxies.trusts(ip("::ffff:10.1.2.3")));
        assert!(proxies.trusts(ip("fd12::1")));
        assert!(proxies.trusts(ip("192.0.2.1")));
        assert!(!proxies.trusts(ip("192.0.2.2")));
        assert!(!proxies.trusts(ip("11.0.0.1")));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "ten/8", "10.0.0.0/x", "::/129"] {
            assert!(bad.parse::<TrustedProxies>().is_err(), "{bad}");
        }
        assert_eq!(
            "".parse::<TrustedProxies>().unwrap(),
            TrustedProxies::default()
        );
    }

    #[test]
    fn the_header_is_read_only_from_a_trusted_proxy() {
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("10.0.0.5"), &["1.2.3.4"]), ip("10.0.0.5"));
        let ingress: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        // From the internet directly: the header is the client's own word.
        assert_eq!(
            ingress.client(ip("203.0.113.9"), &["1.2.3.4"]),
            ip("203.0.113.9")
        );
        // Through the ingress: the address it appended, not what the client wrote.
        assert_eq!(
            ingress.client(ip("10.0.0.5"), &["6.6.6.6, 203.0.113.9"]),
            ip("203.0.113.9")
        );
        // Through two trusted hops, over two header lines.
        assert_eq!(
            ingress.client(ip("10.0.0.5"), &["6.6.6.6", "203.0.113.9, 10.1.1.1"]),
            ip("203.0.113.9")
        );
        // Garbage where the client wrote: stop at the last trusted word.
        assert_eq!(
            ingress.client(ip("10.0.0.5"), &["not-an-ip"]),
            ip("10.0.0.5")
        );
        assert_eq!(ingress.client(ip("10.0.0.5"), &[]), ip("10.0.0.5"));
    }
}

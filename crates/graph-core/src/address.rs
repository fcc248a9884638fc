//! Where a link goes and what the transport learned when it came up.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use crate::identity::PeerIdentity;

/// Where to reach a peer: a socket address and, optionally, the identity that must answer there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerAddress {
    /// The transport address.
    pub socket: SocketAddr,
    /// When set, the transport fails the link unless the remote proves this identity.
    pub identity: Option<PeerIdentity>,
}

impl PeerAddress {
    /// An address without a pinned identity.
    pub fn new(socket: SocketAddr) -> Self {
        Self {
            socket,
            identity: None,
        }
    }

    /// An address that only the node with `identity` may answer.
    pub fn pinned(socket: SocketAddr, identity: PeerIdentity) -> Self {
        Self {
            socket,
            identity: Some(identity),
        }
    }
}

/// What the transport learned when a link came up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkUp {
    /// The remote node's verified identity.
    pub remote_identity: PeerIdentity,
    /// The remote socket address.
    pub remote_addr: SocketAddr,
    /// 32 bytes exported from the link's TLS session (label in docs/PROTOCOL.md); both ends of a
    /// link must report the same value.
    pub exporter: [u8; 32],
}

/// The source a connection is counted under for per-source limits: its IPv4 address (an
/// IPv4-mapped IPv6 address counts as its IPv4 address), or the /64 network of its IPv6
/// address (one host commonly holds a whole /64).
pub fn source_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !((1u128 << 64) - 1))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_ipv4_addresses_and_ipv6_slash_64_networks() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(source_of(v4), v4);
        assert_eq!(source_of("::ffff:192.0.2.7".parse().unwrap()), v4);
        let network: IpAddr = "2001:db8:1:2::".parse().unwrap();
        assert_eq!(
            source_of("2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().unwrap()),
            network
        );
        assert_ne!(source_of("2001:db8:1:3::1".parse().unwrap()), network);
    }
}

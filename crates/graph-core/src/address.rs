//! Where a link goes and what the transport learned when it came up.

use std::net::SocketAddr;

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

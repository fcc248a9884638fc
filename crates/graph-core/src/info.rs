//! Plain data the node takes and returns: addresses, link commands, enumeration items.

use std::net::SocketAddr;

use crate::event::Direction;
use crate::identity::PeerIdentity;
use crate::ids::{ConnectionId, GraphHandle, LinkId, NodeId};
use crate::status::GraphStatus;

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

/// Something the runtime must do to a link. Drain with [`Node::poll_link_command`](crate::Node::poll_link_command).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum LinkCommand {
    /// Open a link to `address`, then report [`Node::handle_link_up`](crate::Node::handle_link_up)
    /// or [`Node::handle_link_closed`](crate::Node::handle_link_closed) for `link`.
    Dial {
        /// The link to open.
        link: LinkId,
        /// Where to.
        address: PeerAddress,
    },
    /// Write what [`Node::poll_transmit`](crate::Node::poll_transmit) still yields for `link`,
    /// close it, then report [`Node::handle_link_closed`](crate::Node::handle_link_closed).
    Close {
        /// The link to close.
        link: LinkId,
    },
}

/// The connection kinds `enum_connections` may list (`PEER_CONNECTION_FLAGS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionKinds(u32);

impl ConnectionKinds {
    /// Neighbor connections (`PEER_CONNECTION_NEIGHBOR`); none exist in this crate.
    pub const NEIGHBOR: Self = Self(0x1);
    /// Direct connections (`PEER_CONNECTION_DIRECT`).
    pub const DIRECT: Self = Self(0x2);
    /// Both kinds.
    pub const ALL: Self = Self(0x3);

    /// Kinds from Windows flag bits; `None` if any bit is unknown.
    pub fn from_bits(bits: u32) -> Option<Self> {
        (bits & !Self::ALL.0 == 0).then_some(Self(bits))
    }

    /// The flag bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every kind of `other` is included.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    pub(crate) const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// The kind of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionKind {
    /// A direct connection.
    Direct,
}

/// Where a listed connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// Opened, not yet established.
    Connecting,
    /// Established.
    Connected,
}

/// One item of `enum_connections` (`PEER_CONNECTION_INFO`, plus counters).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// The local connection id.
    pub id: ConnectionId,
    /// Direct (neighbor connections do not exist here).
    pub kind: ConnectionKind,
    /// The remote node id, once known.
    pub node_id: Option<NodeId>,
    /// The remote peer id (for an outbound connection, the one asked for).
    pub peer_id: String,
    /// The remote address, once known.
    pub address: Option<std::net::SocketAddr>,
    /// The remote verified identity, once known.
    pub identity: Option<PeerIdentity>,
    /// Which side opened it.
    pub direction: Direction,
    /// Pending or established.
    pub state: ConnectionState,
    /// Frame bytes handed to the link.
    pub bytes_sent: u64,
    /// Frame bytes received from the link.
    pub bytes_received: u64,
    /// Data messages sent.
    pub messages_sent: u64,
    /// Data messages received.
    pub messages_received: u64,
}

/// The local node in one graph (`GetNodeInfo(0)`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeInfo {
    /// The handle this describes.
    pub graph: GraphHandle,
    /// The graph id.
    pub graph_id: String,
    /// This node's peer id in the graph.
    pub peer_id: String,
    /// This node's node id in the graph.
    pub node_id: NodeId,
    /// Current status flags.
    pub status: GraphStatus,
}

/// The version pair `startup` reports (`PEER_VERSION_DATA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionData {
    /// The version in use (`0x0001`).
    pub version: u16,
    /// The highest version this library supports (`0x0001`).
    pub highest_version: u16,
}

/// What a graph is: its id, this node's peer id in it, and an optional membership secret.
#[derive(Clone, PartialEq, Eq)]
pub struct GraphConfig {
    /// The graph id (1..=256 characters, no control characters).
    pub graph_id: String,
    /// This node's peer id in the graph (same rules).
    pub peer_id: String,
    /// When set, peers must prove knowledge of it (HMAC over the TLS exporter) before anything
    /// about the graph is revealed or reaches the application.
    pub secret: Option<Vec<u8>>,
}

impl GraphConfig {
    /// A graph without a secret.
    pub fn new(graph_id: impl Into<String>, peer_id: impl Into<String>) -> Self {
        Self {
            graph_id: graph_id.into(),
            peer_id: peer_id.into(),
            secret: None,
        }
    }

    /// The same graph, requiring `secret` of every peer.
    pub fn with_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.secret = Some(secret.into());
        self
    }
}

impl std::fmt::Debug for GraphConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphConfig")
            .field("graph_id", &self.graph_id)
            .field("peer_id", &self.peer_id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

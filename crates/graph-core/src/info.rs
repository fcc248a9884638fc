//! What the node reports about itself: the version pair of `startup`, the local node of a
//! graph, and the items of `enum_connections`.

use crate::event::Direction;
use crate::identity::PeerIdentity;
use crate::ids::{ConnectionId, GraphHandle, NodeId};
use crate::status::GraphStatus;

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
    /// A direct connection (`PEER_CONNECTION_DIRECT`).
    Direct,
    /// A neighbor connection, one of the graph's own links (`PEER_CONNECTION_NEIGHBOR`).
    Neighbor,
}

impl ConnectionKind {
    /// The flag of this kind in [`ConnectionKinds`].
    pub const fn flag(self) -> ConnectionKinds {
        match self {
            Self::Direct => ConnectionKinds::DIRECT,
            Self::Neighbor => ConnectionKinds::NEIGHBOR,
        }
    }
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
    /// Copies of this connection's messages waiting in registration queues, counted against its
    /// receive window ([`Limits::receive_window_messages`](crate::Limits::receive_window_messages)).
    pub unread_messages: u64,
    /// Their payload bytes.
    pub unread_bytes: u64,
    /// The receive window is full: the node reads nothing more from this connection until its
    /// application takes events, so the sender waits.
    pub receive_held: bool,
}

/// A node of a graph (`PEER_NODE_INFO`): this node, or one that announces itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeInfo {
    /// The handle this describes.
    pub graph: GraphHandle,
    /// The graph id.
    pub graph_id: String,
    /// The node's peer id in the graph.
    pub peer_id: String,
    /// The node's id in the graph.
    pub node_id: NodeId,
    /// This node's status flags; empty for another node.
    pub status: GraphStatus,
    /// The node's transport identity, if it listens.
    pub identity: Option<PeerIdentity>,
    /// Where it accepts links.
    pub addresses: Vec<std::net::SocketAddr>,
    /// The free text its application set (`set_node_attributes`).
    pub attributes: String,
}

/// The version pair `startup` reports (`PEER_VERSION_DATA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionData {
    /// The version in use (`0x0001`).
    pub version: u16,
    /// The highest version this library supports (`0x0001`).
    pub highest_version: u16,
}

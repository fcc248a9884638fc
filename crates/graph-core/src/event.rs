//! Events a node delivers to its registrations, and the reasons they carry.

use bytes::Bytes;

use crate::identity::PeerIdentity;
use crate::ids::{ConnectionId, NodeId};
pub use crate::presence::NodeChangeKind;
use crate::records::RecordChange;
use crate::status::GraphStatus;

/// The event types an application can register for (`PEER_GRAPH_EVENT_TYPE`, values 1..=9).
///
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EventType {
    /// The graph's status flags changed.
    StatusChanged = 1,
    /// The graph's properties changed.
    PropertyChanged = 2,
    /// A record was added, updated, deleted or expired.
    RecordChanged = 3,
    /// A direct connection opened, failed or closed.
    DirectConnection = 4,
    /// A neighbor connection opened, failed or closed.
    NeighborConnection = 5,
    /// Data arrived on a connection.
    IncomingData = 6,
    /// The graph has no neighbor and knows no node to connect to: the application should call
    /// `connect`.
    ConnectionRequired = 7,
    /// A node of the graph announced itself, changed, or left.
    NodeChanged = 8,
    /// A record type of the graph's sync precedence list finished synchronizing.
    Synchronized = 9,
}

impl EventType {
    /// Every event type, in numeric order.
    pub const ALL: [EventType; 9] = [
        Self::StatusChanged,
        Self::PropertyChanged,
        Self::RecordChanged,
        Self::DirectConnection,
        Self::NeighborConnection,
        Self::IncomingData,
        Self::ConnectionRequired,
        Self::NodeChanged,
        Self::Synchronized,
    ];

    /// The type with the Windows numeric value, if it is one of 1..=9.
    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| *kind as u32 == code)
    }

    pub(crate) const fn bit(self) -> u16 {
        1 << self as u8
    }
}

/// One event, as taken from a registration's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraphEvent {
    /// The graph's status flags changed; carries the new flags.
    StatusChanged(GraphStatus),
    /// A direct connection's state changed.
    DirectConnection(ConnectionChange),
    /// A neighbor connection's state changed (`PEER_GRAPH_EVENT_NEIGHBOR_CONNECTION`).
    NeighborConnection(ConnectionChange),
    /// A message arrived on a direct or neighbor connection.
    IncomingData(IncomingData),
    /// The graph has no neighbor and knows no node to try (`PEER_GRAPH_EVENT_CONNECTION_REQUIRED`).
    ConnectionRequired,
    /// A node of the graph changed (`PEER_GRAPH_EVENT_NODE_CHANGED`).
    NodeChanged(NodeChange),
    /// A record changed (`PEER_GRAPH_EVENT_RECORD_CHANGED`).
    RecordChanged(RecordChange),
    /// The graph's properties changed (`PEER_GRAPH_EVENT_PROPERTY_CHANGED`): read them with
    /// `graph_properties`.
    PropertyChanged,
    /// The records of this type (from the graph's sync precedence list) are synchronized
    /// (`PEER_GRAPH_EVENT_SYNCHRONIZED`).
    Synchronized {
        /// The record type.
        record_type: [u8; 16],
    },
}

/// How a node of the graph changed (`PEER_EVENT_NODE_CHANGE_DATA`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeChange {
    /// The node.
    pub node_id: NodeId,
    /// Its peer id.
    pub peer_id: String,
    /// What happened.
    pub change: NodeChangeKind,
}

impl GraphEvent {
    pub(crate) fn event_type(&self) -> EventType {
        match self {
            Self::StatusChanged(_) => EventType::StatusChanged,
            Self::DirectConnection(_) => EventType::DirectConnection,
            Self::NeighborConnection(_) => EventType::NeighborConnection,
            Self::IncomingData(_) => EventType::IncomingData,
            Self::ConnectionRequired => EventType::ConnectionRequired,
            Self::NodeChanged(_) => EventType::NodeChanged,
            Self::RecordChanged(_) => EventType::RecordChanged,
            Self::PropertyChanged => EventType::PropertyChanged,
            Self::Synchronized { .. } => EventType::Synchronized,
        }
    }

    /// Whether this event ends a connection id's life (exactly one per id).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::DirectConnection(ConnectionChange {
                status: ConnectionStatus::Failed(_) | ConnectionStatus::Disconnected(_),
                ..
            }) | Self::NeighborConnection(ConnectionChange {
                status: ConnectionStatus::Failed(_) | ConnectionStatus::Disconnected(_),
                ..
            })
        )
    }
}

/// What happened to a direct connection (`PEER_EVENT_CONNECTION_CHANGE_DATA`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionChange {
    /// The local id of the connection.
    pub connection: ConnectionId,
    /// The new state.
    pub status: ConnectionStatus,
}

/// The states a connection event reports. Each id sees either `Connected` followed by exactly one
/// `Disconnected`, or exactly one `Failed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionStatus {
    /// The connection is up (outbound: the target accepted; inbound: we accepted).
    Connected(RemotePeer),
    /// An outbound attempt ended without a connection.
    Failed(FailReason),
    /// An established connection ended.
    Disconnected(DisconnectReason),
}

/// Who is at the other end of an established connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePeer {
    /// The remote node's id in the graph.
    pub node_id: NodeId,
    /// The remote peer id.
    pub peer_id: String,
    /// The remote node's verified transport identity.
    pub identity: PeerIdentity,
    /// Which side opened the connection.
    pub direction: Direction,
}

/// Which side opened a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// This node called `open_direct_connection`.
    Outbound,
    /// The remote node opened it.
    Inbound,
}

/// Why an outbound attempt failed (`hrConnectionFailedReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum FailReason {
    /// The target has no such graph and peer, no `DirectConnection` registration, or is at a limit.
    #[error("the target refused the connection")]
    Refused,
    /// Authentication failed; the cause says which check.
    #[error("the connection could not be authenticated: {0}")]
    NotAuthenticated(AuthFailure),
    /// The address could not be reached.
    #[error("the address could not be reached")]
    Unreachable,
    /// The handshake did not finish within the handshake timeout.
    #[error("the handshake timed out")]
    TimedOut,
    /// The target does not speak this protocol version.
    #[error("the target does not support this protocol version")]
    UnsupportedVersion,
    /// The link dropped before the handshake finished.
    #[error("the link was lost during the handshake")]
    LinkLost,
    /// The target broke the protocol.
    #[error("the target broke the protocol: {0}")]
    ProtocolViolation(ProtocolViolation),
    /// The application closed the connection before it was established.
    #[error("the connection was closed before it was established")]
    Cancelled,
}

/// Which authentication check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum AuthFailure {
    /// The remote proved an identity other than the one pinned in the address.
    #[error("the peer's identity is not the pinned one")]
    IdentityMismatch,
    /// TLS failed: no valid certificate, bad handshake signature, wrong protocol.
    #[error("the TLS handshake failed")]
    Tls,
    /// The graph membership exchange (graph secret) failed, on either side: another secret or
    /// none, or a confirmation that did not verify.
    #[error("the graph membership exchange failed (another secret, or none)")]
    MembershipProof,
}

/// Why an established connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// This node's application closed it.
    #[error("closed locally")]
    ClosedLocally,
    /// The remote application closed it.
    #[error("closed by the peer")]
    ClosedByPeer,
    /// The remote node closed its graph or shut down.
    #[error("the peer closed its graph")]
    PeerGraphClosed,
    /// Nothing arrived within the idle timeout (here or at the peer).
    #[error("the connection timed out")]
    TimedOut,
    /// The link dropped without a close.
    #[error("the link was lost")]
    LinkLost,
    /// The peer broke the protocol.
    #[error("the peer broke the protocol: {0}")]
    ProtocolViolation(ProtocolViolation),
    /// The peer says this node broke the protocol.
    #[error("the peer reported a protocol violation")]
    PeerReportedViolation,
}

/// A peer fault. The connection it happened on is closed; nothing else is affected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolViolation {
    /// A frame did not decode as a `Frame`, or had no known kind.
    #[error("malformed frame")]
    MalformedFrame,
    /// A frame arrived that is not allowed in the link's state.
    #[error("unexpected message for the connection state")]
    UnexpectedMessage,
    /// A frame exceeded the maximum frame length.
    #[error("frame too large")]
    FrameTooLarge,
    /// A `Hello` or `Accept` carried an invalid field.
    #[error("invalid handshake field")]
    InvalidHandshake,
    /// A `Data` frame's type id was not 16 bytes.
    #[error("invalid data type id")]
    InvalidTypeId,
    /// A `Data` payload exceeded the maximum message size.
    #[error("message too large")]
    MessageTooLarge,
    /// A flooded item broke the rules of flooding or of its kind (an empty or long id, a long
    /// payload, no lifetime, an announcement that does not decode).
    #[error("invalid flooded item")]
    InvalidFloodItem,
    /// A record did not decode, or its id or signature is not its author's.
    #[error("invalid or forged record")]
    InvalidRecord,
    /// A reconciliation round was malformed, or its ranges not sorted and disjoint.
    #[error("invalid reconciliation round")]
    InvalidReconcile,
}

/// A message that arrived on a direct connection (`PEER_EVENT_INCOMING_DATA`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingData {
    /// The local id of the connection it arrived on.
    pub connection: ConnectionId,
    /// The application-defined type.
    pub type_id: [u8; 16],
    /// The message bytes.
    pub data: Bytes,
}

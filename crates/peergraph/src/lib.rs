//! peergraph: Windows Peer Graphing direct connections for Rust, over TLS 1.3 or QUIC.
//!
//! A [`PeerGraph`] is one node. It mirrors the Windows API: [`startup`](PeerGraph::startup),
//! graphs, event registrations (here async [`EventStream`]s), direct connections opened to a
//! named peer at an address, typed messages, enumeration and close, with every outcome
//! reported as an event keyed by the connection id returned at once.
//!
//! ```no_run
//! use peergraph::{Config, EventType, GraphConfig, PeerGraph, PEER_GRAPH_VERSION, TransportKind};
//!
//! # async fn run(bob: peergraph::PeerLocator) -> Result<(), Box<dyn std::error::Error>> {
//! let node = PeerGraph::new(Config::new(TransportKind::Quic))?; // or TransportKind::Tcp
//! node.startup(PEER_GRAPH_VERSION)?;
//! node.listen("127.0.0.1:0".parse()?).await?;
//! let graph = node.create_graph(GraphConfig::new("chat", "alice"))?;
//! let mut events = node.register_event(graph, &[EventType::DirectConnection, EventType::IncomingData])?;
//! let id = node.open_direct_connection(graph, &bob.peer_id, bob.address)?;
//! while let Some(event) = events.next().await {
//!     println!("{event:?}"); // Connected, IncomingData, Disconnected ... for `id`
//! #   let _ = id; break;
//! }
//! # Ok(()) }
//! ```
//!
//! Underneath, the sans-IO [`peergraph_core::Node`] holds all protocol state; this crate runs
//! it on tokio with the transports of `peergraph-transport-tcp` and `-quic`. See
//! docs/ARCHITECTURE.md for the layers and docs/PROTOCOL.md for the wire.

mod address;
mod config;
mod driver;
mod error;
mod events;
mod link;
mod peer_graph;
mod records;
mod store;
mod transport;

pub use address::{LocatorError, PeerLocator};
pub use config::{Config, IdentitySource, InboundLimits};
pub use error::{BatchSendError, BuildError, ListenError};
pub use events::EventStream;
pub use peer_graph::PeerGraph;
pub use records::{DeleteGraphError, GraphData, GraphOpenError, RecordsError, TransferError};
pub use store::DatabaseError;
pub use transport::{TransportKind, UnknownTransport};

pub use peergraph_core::{
    ArgumentProblem, AuthFailure, CloseError, ConfigError, ConnectError, ConnectionChange,
    ConnectionId, ConnectionInfo, ConnectionKind, ConnectionKinds, ConnectionState,
    ConnectionStatus, Direction, DisconnectReason, EnumError, EventError, EventType,
    FIRST_APPLICATION_KIND, FailReason, FloodItem, GraphConfig, GraphError, GraphEvent,
    GraphHandle, GraphStatus, HandleError, IncomingData, InvalidArgument, Limits,
    MAX_ATTRIBUTES_LEN, NodeChange, NodeChangeKind, NodeConfig, NodeError, NodeId, NodeInfo,
    NotInitialized, OpenError, PEER_GRAPH_VERSION, PeerAddress, PeerIdentity, PresenceError,
    ProtocolViolation, PublishError, RegisterError, RegistrationHandle, RemotePeer, SendError,
    StartupError, Timeouts, VersionData,
};
pub use peergraph_core::{
    Attribute, AttributeValue, Comparison, Condition, GraphProperties, MAX_COMMENT_CHARS,
    MAX_FRIENDLY_NAME_CHARS, Record, RecordChange, RecordChangeKind, RecordContent, RecordError,
    RecordId, RecordQuery, RecordStats, RestoreError,
};

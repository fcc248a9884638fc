//! The sans-IO peergraph engine.
//!
//! `peergraph-core` implements the Windows Peer Graphing direct-connection model (graphs, event
//! registrations, direct connections, typed messages) as a deterministic state machine:
//!
//! - **No I/O.** No sockets, no threads, no async. The runtime moves frames between links and the
//!   [`Node`].
//! - **No clock.** Time is an argument of every input and of `poll_output` (`Instant::now` is
//!   banned in this crate).
//! - **No global state, no ambient randomness.** Node ids come from [`NodeConfig::rng_seed`];
//!   connection ids are allocated by the node and never reused.
//! - **One output stream.** [`Node::poll_output`] yields everything a driver must do, one
//!   [`Output`] at a time, and ends with [`Output::Timeout`]: the type says when a drain is done.
//! - **A peer cannot make an input fail.** Malformed or unexpected frames end that connection with
//!   a named [`ProtocolViolation`].
//!
//! # Run loop
//!
//! Every driver (the tokio runtime, the simulator, the benches, the fuzz targets) is this loop:
//!
//! ```
//! use std::time::Instant;
//! use peergraph_core::{Node, NodeConfig, Output, PEER_GRAPH_VERSION};
//!
//! let mut node = Node::new(NodeConfig::with_seed(7));
//! node.startup(PEER_GRAPH_VERSION).unwrap();
//! # let mut rounds = 0;
//! loop {
//!     // 1. Feed what happened: node.handle_frame(now, link, bytes), node.handle_link_up(..),
//!     //    node.accept_link(..), node.handle_link_closed(..), or commands such as send_data.
//!     // 2. Drain the output; deadlines due at `now` fire inside `poll_output`.
//!     let wake_at = loop {
//!         match node.poll_output(Instant::now()) {
//!             Output::Store { graph } => {
//!                 for write in node.take_store_writes(graph) { /* make it durable, in order */ }
//!             }
//!             Output::Dial { link, address } => { /* dial, then handle_link_up or _closed */ }
//!             Output::Transmit { link } => {
//!                 while let Some(frame) = node.poll_transmit(link) { /* write it on link */ }
//!             }
//!             Output::Close { link } => { /* write what is left, close, handle_link_closed */ }
//!             Output::Resume { link } => { /* read link again (held while !link_readable) */ }
//!             Output::Events { registration } => {
//!                 while let Some(event) = node.take_event(registration).unwrap() { /* deliver */ }
//!             }
//!             Output::Timeout(at) => break at,
//!         }
//!     };
//!     // 3. Wait until `wake_at` or the next input.
//! #   let _ = wake_at; rounds += 1; if rounds == 1 { break; }
//! }
//! ```
//!
//! The `manual_loop` example runs two nodes this way with an in-memory network.

mod address;
mod codec;
mod config;
mod error;
mod event;
mod flood;
mod graphs;
mod id_hash;
mod identity;
mod ids;
mod info;
mod links;
mod node;
mod output;
mod presence;
mod proof;
mod records;
mod registrations;
mod rng;
mod slots;
mod status;
mod timers;
mod validate;

pub use address::{LinkUp, PeerAddress, source_of};
pub use codec::Transmit;
pub use config::{ConfigError, GraphConfig, Limits, NodeConfig, Timeouts};
pub use error::{
    ArgumentProblem, CloseError, ConnectError, EnumError, EventError, GraphError, HandleError,
    InvalidArgument, LinkCloseReason, NodeError, NotInitialized, OpenError, PresenceError,
    PublishError, RecordError, RegisterError, RestoreError, SendError, StartupError,
};
pub use event::{
    AuthFailure, ConnectionChange, ConnectionStatus, Direction, DisconnectReason, EventType,
    FailReason, GraphEvent, IncomingData, NodeChange, NodeChangeKind, ProtocolViolation,
    RemotePeer,
};
pub use flood::{FIRST_APPLICATION_KIND, FloodItem, MAX_ITEM_ID_LEN};
pub use id_hash::{IdBuildHasher, IdHasher};
pub use identity::{ParseIdentityError, PeerIdentity};
pub use ids::{ConnectionId, GraphHandle, LinkId, NodeId, RegistrationHandle};
pub use info::{
    ConnectionInfo, ConnectionKind, ConnectionKinds, ConnectionState, NodeInfo, VersionData,
};
pub use node::{Node, PEER_GRAPH_VERSION};
pub use output::Output;
pub use presence::{MAX_ADDRESSES, MAX_ATTRIBUTES_LEN};
pub use records::{
    Attribute, AttributeValue, Comparison, Condition, GraphProperties, MAX_ATTRIBUTE_NAME_LEN,
    MAX_ATTRIBUTES, MAX_COMMENT_CHARS, MAX_FRIENDLY_NAME_CHARS, PROPERTIES_RECORD_TYPE,
    ParseRecordIdError, RECORD_SIZE_BOUNDS, Record, RecordChange, RecordChangeKind, RecordContent,
    RecordId, RecordQuery, RecordStats, SigningKeyError, StoreWrite,
};
/// The seeded generator behind node ids, shared with the simulation so both replay from seeds.
#[doc(hidden)]
pub use rng::SplitMix64;
pub use status::GraphStatus;
pub use validate::MAX_NAME_CHARS;

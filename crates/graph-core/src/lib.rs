//! The sans-IO peergraph engine.
//!
//! `peergraph-core` implements the Windows Peer Graphing direct-connection model (graphs, event
//! registrations, direct connections, typed messages) as a deterministic state machine:
//!
//! - **No I/O.** No sockets, no threads, no async. The runtime moves frames between links and the
//!   [`Node`].
//! - **No clock.** Time is an argument of every input (`Instant::now` is banned in this crate).
//! - **No global state, no ambient randomness.** Node ids come from [`NodeConfig::rng_seed`];
//!   connection ids are allocated by the node and never reused.
//! - **Outputs are pulled**, in the order documented on [`Node`], until they return `None`.
//! - **A peer cannot make an input fail.** Malformed or unexpected frames end that connection with
//!   a named [`ProtocolViolation`].
//!
//! # Run loop
//!
//! ```
//! use std::time::Instant;
//! use peergraph_core::{Node, NodeConfig, LinkCommand, PEER_GRAPH_VERSION};
//!
//! let mut node = Node::new(NodeConfig::with_seed(7));
//! node.startup(PEER_GRAPH_VERSION).unwrap();
//! # let mut rounds = 0;
//! loop {
//!     let now = Instant::now();
//!     // 1. feed inputs: node.handle_frame(now, link, bytes), node.handle_link_up(..),
//!     //    node.accept_link(..), node.handle_link_closed(..), node.handle_timeout(now)
//!     node.handle_timeout(now);
//!     // 2. drain outputs, in order
//!     while let Some(command) = node.poll_link_command() {
//!         match command {
//!             LinkCommand::Dial { link, address } => { /* dial, then handle_link_up */ }
//!             LinkCommand::Close { link } => { /* flush, close, then handle_link_closed */ }
//!         }
//!     }
//!     while let Some(link) = node.poll_ready_link() {
//!         while let Some(frame) = node.poll_transmit(link) { /* write frame on link */ }
//!     }
//!     while let Some(registration) = node.poll_ready_registration() {
//!         while let Some(event) = node.take_event(registration).unwrap() { /* deliver */ }
//!     }
//!     let _wake_at = node.poll_timeout(); // 3. sleep until then or until the next input
//! #   rounds += 1; if rounds == 1 { break; }
//! }
//! ```

mod config;
mod error;
mod event;
mod frame;
mod id_hash;
mod identity;
mod ids;
mod info;
mod input;
mod link;
mod node;
mod proof;
mod rng;
mod slots;
mod status;
mod timers;
mod transmit;
mod validate;

pub use config::{ConfigError, Limits, NodeConfig, Timeouts};
pub use error::{
    ArgumentProblem, CloseError, EnumError, EventError, GraphError, HandleError, InvalidArgument,
    LinkCloseReason, NotInitialized, OpenError, RegisterError, SendError, StartupError,
};
pub use event::{
    AuthFailure, ConnectionChange, ConnectionStatus, Direction, DisconnectReason, EventType,
    FailReason, GraphEvent, IncomingData, ProtocolViolation, RemotePeer,
};
pub use id_hash::{IdBuildHasher, IdHasher};
pub use identity::{ParseIdentityError, PeerIdentity};
pub use ids::{ConnectionId, GraphHandle, LinkId, NodeId, RegistrationHandle};
pub use info::{
    ConnectionInfo, ConnectionKind, ConnectionKinds, ConnectionState, GraphConfig, LinkCommand,
    LinkUp, NodeInfo, PeerAddress, VersionData,
};
pub use node::{Node, PEER_GRAPH_VERSION};
/// The seeded generator behind node ids, shared with the simulation so both replay from seeds.
#[doc(hidden)]
pub use rng::SplitMix64;
pub use status::GraphStatus;
pub use transmit::Transmit;
pub use validate::MAX_NAME_CHARS;

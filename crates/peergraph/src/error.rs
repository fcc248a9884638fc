//! Errors of the runtime's own operations; the core's errors are re-exported as they are.

use peergraph_transport::{IdentityError, TransportError};

/// The node could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The identity could not be generated, read or stored.
    #[error("identity unavailable")]
    Identity(#[from] IdentityError),
    /// The transport rejected its configuration.
    #[error("transport configuration rejected")]
    Transport(#[from] TransportError),
    /// The core's limits or timeouts are unusable.
    #[error("invalid node configuration")]
    InvalidConfig(#[from] peergraph_core::ConfigError),
    /// The identity's key cannot sign records (it is not an ECDSA P-256 key).
    #[error("the identity key cannot sign records")]
    SigningKey,
    /// `PeerGraph::new` was called outside a tokio runtime.
    #[error("a tokio runtime is required")]
    NoRuntime,
}

/// `listen` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    /// No `startup` is outstanding.
    #[error("the node is not initialized: call startup first")]
    NotInitialized,
    /// The node already listens (`PEER_E_ALREADY_LISTENING`).
    #[error("the node already listens on {0}")]
    AlreadyListening(std::net::SocketAddr),
    /// The address could not be bound (`PEER_E_UNABLE_TO_LISTEN`).
    #[error("unable to listen")]
    UnableToListen(#[source] std::io::Error),
}

/// A [`send_data_batch`](crate::PeerGraph::send_data_batch) stopped before the end: the first
/// `queued` messages were queued (and will be delivered like any others), the next one failed
/// with `error`, and none after it were tried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error} (after {queued} messages of the batch were queued)")]
pub struct BatchSendError {
    /// How many messages, from the start of the batch, were queued.
    pub queued: usize,
    /// Why the next one was not.
    #[source]
    pub error: peergraph_core::SendError,
}

//! What every peergraph transport shares.
//!
//! A transport dials and accepts *links*: authenticated, ordered, message-framed byte pipes
//! that know nothing about graphs. This crate holds the parts that do not depend on the wire:
//!
//! - [`Identity`]: a node's key pair and self-signed certificate. A node *is* the SHA-256 of its
//!   SubjectPublicKeyInfo ([`PeerIdentity`]); no certificate authority is involved.
//! - [`client_config`] / [`server_config`]: rustls configurations with the `ring` provider,
//!   TLS 1.3 only, ALPN [`ALPN`], client certificates required, and verifiers that accept any
//!   self-signed certificate whose validity period covers the current time while still checking
//!   that the peer signed the handshake with the key the certificate names.
//! - [`FrameReader`] / [`FrameWriter`]: the 4-byte big-endian length-prefixed framing used by
//!   every transport, with the maximum frame length checked before any allocation.
//! - [`LinkInfo`], [`TransportConfig`] and the error types shared by the transports.
//!
//! Both ends of a link derive the same 32-byte value from the TLS exporter
//! (RFC 8446 section 7.5, label [`EXPORTER_LABEL`], empty context); the core turns it into graph
//! the graph membership exchange.
//!
//! Nothing here panics on peer input: malformed certificates and oversized frames are errors.

mod certificate;
mod config;
mod connector;
mod error;
mod framing;
mod identity;
mod link;
mod sources;
mod tls;
mod verify;

pub use certificate::identity_of_certificate;
pub use config::TransportConfig;
pub use connector::{Acceptor, Connector, Handshake};
pub use error::{AcceptError, AuthError, BoxError, DialError, LinkError, TransportError};
pub use framing::{FrameReader, FrameWriter, OutgoingFrame};
pub use identity::{Identity, IdentityError};
pub use link::{Link, LinkGuard, LinkReader, LinkWriter, ReadStream, WriteStream};
pub use peergraph_core::PeerIdentity;
pub use sources::{SourceLimit, SourcePermit};
pub use tls::{
    ALPN, EXPORTER_LABEL, EXPORTER_LEN, SERVER_NAME, check_alpn, client_config, crypto_provider,
    server_config,
};
pub use verify::{SelfSignedClientVerifier, SelfSignedServerVerifier};

use std::net::SocketAddr;

/// What a transport learned about the far end of a freshly authenticated link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkInfo {
    /// The peer's socket address as seen by this node.
    pub remote_addr: SocketAddr,
    /// The peer's verified identity: the SHA-256 of its certificate's SubjectPublicKeyInfo.
    pub remote_identity: PeerIdentity,
    /// The TLS exporter value for [`EXPORTER_LABEL`]; equal on both ends of the link.
    pub exporter: [u8; EXPORTER_LEN],
}

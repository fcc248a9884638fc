//! One error type per operation; each peer fault is a named variant.

use std::io;

use peergraph_core::PeerIdentity;

/// A boxed error from the underlying TLS or QUIC library, kept as the `source` of a named
/// variant so the cause is never flattened into a string.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a peer could not be authenticated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The peer proved an identity other than the one pinned for this dial.
    #[error("peer is {actual}, expected {expected}")]
    IdentityMismatch {
        /// The identity pinned by the dialer.
        expected: PeerIdentity,
        /// The identity the peer proved.
        actual: PeerIdentity,
    },
    /// The TLS handshake failed: a bad or expired certificate, a bad handshake signature, an
    /// alert from the peer, or malformed TLS records. The source is a `rustls::Error` on TCP
    /// and a `quinn::ConnectionError` on QUIC.
    #[error("TLS handshake failed")]
    Tls(#[source] BoxError),
    /// The handshake finished without the peer presenting a certificate.
    #[error("peer presented no certificate")]
    MissingCertificate,
    /// The handshake finished without agreeing on ALPN `peergraph/1`, so the peer is not
    /// speaking this protocol.
    #[error("peer did not negotiate ALPN peergraph/1")]
    AlpnMismatch,
}

/// Why a dial failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DialError {
    /// Nothing answered at the address, or the network refused to carry the connection.
    #[error("peer unreachable")]
    Unreachable(#[source] io::Error),
    /// The connection and TLS handshake did not finish within the handshake timeout.
    #[error("handshake timed out")]
    TimedOut,
    /// The peer was reached but not authenticated.
    #[error("peer not authenticated")]
    NotAuthenticated(#[from] AuthError),
    /// The connection was lost or closed by the peer during the handshake or while
    /// opening the link.
    #[error("connection lost while opening the link")]
    ConnectionLost(#[source] BoxError),
    /// The transport has been shut down locally.
    #[error("transport closed")]
    TransportClosed,
}

/// Why an incoming connection did not become a link.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AcceptError {
    /// The peer did not finish the handshake within the handshake timeout.
    #[error("handshake timed out")]
    TimedOut,
    /// The peer sent something other than a valid TLS 1.3 handshake from a peergraph node.
    #[error("peer not authenticated")]
    NotAuthenticated(#[from] AuthError),
    /// The connection was lost before the handshake finished.
    #[error("connection lost during the handshake")]
    ConnectionLost(#[source] BoxError),
}

/// Why reading or writing frames on an established link failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// A frame longer than the configured maximum was announced by the peer or offered for
    /// sending; nothing was allocated for it.
    #[error("frame of {len} bytes exceeds the maximum of {max}")]
    FrameTooLarge {
        /// The announced or offered frame length.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The peer closed the link in the middle of a frame.
    #[error("link closed in the middle of a frame")]
    TruncatedFrame,
    /// The underlying connection failed.
    #[error("link I/O failed")]
    Io(#[from] io::Error),
}

/// Why a transport could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The maximum frame length must be between 1 and `u32::MAX`.
    #[error("max_frame_len {max_frame_len} is not between 1 and 2^32 - 1")]
    MaxFrameLenOutOfRange {
        /// The configured value.
        max_frame_len: usize,
    },
    /// A zero handshake timeout would fail every handshake.
    #[error("handshake_timeout is zero")]
    ZeroHandshakeTimeout,
    /// The idle timeout is too large for the transport to encode.
    #[error("idle_timeout out of range")]
    IdleTimeoutOutOfRange,
    /// The TLS configuration could not be built from the identity.
    #[error("TLS configuration rejected")]
    Tls(#[from] rustls::Error),
}

//! peergraph links as QUIC bidirectional streams.
//!
//! The QUIC handshake carries TLS 1.3 (ALPN `peergraph/1`, client certificates required, see
//! [`peergraph_transport`]). A link is one bidirectional stream; on it, each frame is a 4-byte
//! big-endian length followed by that many bytes, exactly as on TCP. A clean close is the
//! stream's FIN after the last frame.
//!
//! Links share connections: every dial to the same address with the same pinned identity opens
//! a new stream on one cached connection, which is replaced once it dies and closed once its
//! last dialed link is dropped. Identity and exporter value belong to the connection, so every
//! link on it reports the same [`LinkInfo`].
//!
//! A new stream becomes visible to the peer only when data is written on it, so the dialing
//! side must write first; the accepting side learns of the link with that first frame.
//!
//! Accepting never waits on one peer: the listener runs every QUIC handshake on its own task
//! (bounded by [`TransportConfig::handshake_timeout`]) and queues each accepted stream, or each
//! failed handshake, as an [`Incoming`]. [`Handshake::handshake`] then yields it.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use peergraph_transport_quic::{
//!     Acceptor, Connector, Handshake, Identity, QuicTransport, TransportConfig,
//! };
//!
//! let transport = QuicTransport::new(&Identity::generate()?, TransportConfig::default())?;
//! let listener = transport.listen("127.0.0.1:0".parse()?).await?;
//! loop {
//!     let incoming = listener.accept().await?;
//!     tokio::spawn(async move {
//!         if let Ok(mut link) = incoming.handshake().await {
//!             while let Ok(Some(frame)) = link.reader.read_frame().await {
//!                 let _ = (link.info.remote_identity, frame);
//!             }
//!         }
//!     });
//! }
//! # }
//! ```

mod errors;
mod link;
mod listener;
mod pool;
mod session;
mod transport;

pub use link::{close_connection, connection};
pub use listener::{Incoming, Listener};
pub use peergraph_transport::{
    AcceptError, Acceptor, AuthError, Connector, DialError, Handshake, Identity, Link, LinkError,
    LinkInfo, LinkReader, LinkWriter, PeerIdentity, TransportConfig, TransportError,
};
pub use transport::QuicTransport;

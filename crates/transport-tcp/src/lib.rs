//! peergraph links over TLS 1.3 on TCP.
//!
//! Each link is one TCP connection carrying one TLS 1.3 session (ALPN `peergraph/1`, client
//! certificates required, see [`peergraph_transport`]). On top of TLS, each frame is a 4-byte
//! big-endian length followed by that many bytes; a length above
//! [`TransportConfig::max_frame_len`] fails the read with [`LinkError::FrameTooLarge`] before
//! anything is allocated. A clean close is a TLS `close_notify` after the last frame.
//!
//! The transport knows nothing about graphs. Accepting is split in two so a slow or hostile
//! client never holds up the accept loop:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use peergraph_transport_tcp::{
//!     Acceptor, Connector, Handshake, Identity, TcpTransport, TransportConfig,
//! };
//!
//! let transport = TcpTransport::new(&Identity::generate()?, TransportConfig::default())?;
//! let listener = transport.listen("127.0.0.1:0".parse()?).await?;
//! loop {
//!     let incoming = listener.accept().await?;
//!     tokio::spawn(async move {
//!         // Bounded by TransportConfig::handshake_timeout.
//!         if let Ok(mut link) = incoming.handshake().await {
//!             while let Ok(Some(frame)) = link.reader.read_frame().await {
//!                 let _ = (link.info.remote_identity, frame);
//!             }
//!         }
//!     });
//! }
//! # }
//! ```

mod handshake;
mod link;
mod listener;
mod transport;

pub use listener::{Incoming, Listener};
pub use peergraph_transport::{
    AcceptError, Acceptor, AuthError, Connector, DialError, Handshake, Identity, Link, LinkError,
    LinkInfo, LinkReader, LinkWriter, PeerIdentity, TransportConfig, TransportError,
};
pub use transport::TcpTransport;

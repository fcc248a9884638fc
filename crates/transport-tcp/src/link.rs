//! A TLS stream over TCP as a [`Link`]: its two halves are the link's byte streams.

use peergraph_transport::{Link, LinkInfo, TransportConfig};
use tokio::net::TcpStream;
use tokio_rustls::TlsStream;

/// The link over an established TLS stream. Shutting its write half sends TLS `close_notify`,
/// then TCP FIN.
pub(crate) fn link(info: LinkInfo, stream: TlsStream<TcpStream>, config: &TransportConfig) -> Link {
    let (read, write) = tokio::io::split(stream);
    Link::new(info, Box::new(read), Box::new(write), None, config)
}

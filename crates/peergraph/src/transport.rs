//! The transports the runtime can drive, behind one enum each so the choice is a config value.

use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use bytes::Bytes;
use peergraph_core::{AuthFailure, LinkCloseReason, PeerIdentity, Transmit};
use peergraph_transport::{
    AcceptError, AuthError, DialError, Identity, LinkError, LinkInfo, TransportConfig,
    TransportError,
};
use peergraph_transport_quic as quic;
use peergraph_transport_tcp as tcp;

/// Which transport carries a node's links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TransportKind {
    /// TLS 1.3 over TCP, one TCP connection per direct connection.
    #[default]
    Tcp,
    /// QUIC, one bidirectional stream per direct connection; direct connections to the same
    /// node share one QUIC connection.
    Quic,
}

impl std::str::FromStr for TransportKind {
    type Err = UnknownTransport;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Self::Tcp),
            "quic" => Ok(Self::Quic),
            _ => Err(UnknownTransport),
        }
    }
}

impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tcp => "tcp",
            Self::Quic => "quic",
        })
    }
}

/// A transport name other than `tcp` or `quic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown transport: expected `tcp` or `quic`")]
pub struct UnknownTransport;

#[derive(Clone)]
pub(crate) enum Transport {
    Tcp(tcp::TcpTransport),
    Quic(quic::QuicTransport),
}

pub(crate) enum Listener {
    Tcp(tcp::Listener),
    Quic(quic::Listener),
}

pub(crate) enum Incoming {
    Tcp(tcp::Incoming),
    Quic(quic::Incoming),
}

pub(crate) enum LinkReader {
    Tcp(tcp::LinkReader),
    Quic(quic::LinkReader),
}

pub(crate) enum LinkWriter {
    Tcp(tcp::LinkWriter),
    Quic(quic::LinkWriter),
}

pub(crate) struct Link {
    pub(crate) info: LinkInfo,
    pub(crate) reader: LinkReader,
    pub(crate) writer: LinkWriter,
}

impl From<tcp::Link> for Link {
    fn from(link: tcp::Link) -> Self {
        Self {
            info: link.info,
            reader: LinkReader::Tcp(link.reader),
            writer: LinkWriter::Tcp(link.writer),
        }
    }
}

impl From<quic::Link> for Link {
    fn from(link: quic::Link) -> Self {
        Self {
            info: link.info,
            reader: LinkReader::Quic(link.reader),
            writer: LinkWriter::Quic(link.writer),
        }
    }
}

impl Transport {
    pub(crate) fn new(
        kind: TransportKind,
        identity: &Identity,
        config: TransportConfig,
    ) -> Result<Self, TransportError> {
        Ok(match kind {
            TransportKind::Tcp => Self::Tcp(tcp::TcpTransport::new(identity, config)?),
            TransportKind::Quic => Self::Quic(quic::QuicTransport::new(identity, config)?),
        })
    }

    pub(crate) async fn listen(&self, addr: SocketAddr) -> io::Result<Listener> {
        Ok(match self {
            Self::Tcp(transport) => Listener::Tcp(transport.listen(addr).await?),
            Self::Quic(transport) => Listener::Quic(transport.listen(addr).await?),
        })
    }

    pub(crate) async fn dial(
        &self,
        addr: SocketAddr,
        expected: Option<PeerIdentity>,
    ) -> Result<Link, DialError> {
        Ok(match self {
            Self::Tcp(transport) => transport.dial(addr, expected).await?.into(),
            Self::Quic(transport) => transport.dial(addr, expected).await?.into(),
        })
    }
}

impl Listener {
    pub(crate) fn local_addr(&self) -> SocketAddr {
        match self {
            Self::Tcp(listener) => listener.local_addr(),
            Self::Quic(listener) => listener.local_addr(),
        }
    }

    pub(crate) async fn accept(&self) -> io::Result<Incoming> {
        Ok(match self {
            Self::Tcp(listener) => Incoming::Tcp(listener.accept().await?),
            Self::Quic(listener) => Incoming::Quic(listener.accept().await?),
        })
    }
}

impl Incoming {
    pub(crate) async fn handshake(self) -> Result<Link, AcceptError> {
        Ok(match self {
            Self::Tcp(incoming) => incoming.handshake().await?.into(),
            Self::Quic(incoming) => incoming.handshake().await?.into(),
        })
    }
}

impl LinkReader {
    pub(crate) fn poll_read_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Bytes>, LinkError>> {
        match self {
            Self::Tcp(reader) => reader.poll_read_frame(cx),
            Self::Quic(reader) => reader.poll_read_frame(cx),
        }
    }

    /// The link's handshake is done: accept frames up to the full limit from now on.
    pub(crate) fn lift_frame_limit(&mut self) {
        match self {
            Self::Tcp(reader) => reader.lift_frame_limit(),
            Self::Quic(reader) => reader.lift_frame_limit(),
        }
    }

    pub(crate) fn buffered_frame(&mut self) -> Option<Bytes> {
        match self {
            Self::Tcp(reader) => reader.buffered_frame(),
            Self::Quic(reader) => reader.buffered_frame(),
        }
    }
}

impl LinkWriter {
    /// Encodes the frames into the writer's own queue; nothing is written yet.
    pub(crate) fn queue_frames(&mut self, frames: &[Transmit]) -> Result<(), LinkError> {
        match self {
            Self::Tcp(writer) => writer.queue_frames(frames),
            Self::Quic(writer) => writer.queue_frames(frames),
        }
    }

    /// Writes what is queued and flushes; cancel-safe.
    pub(crate) fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        match self {
            Self::Tcp(writer) => writer.poll_send(cx),
            Self::Quic(writer) => writer.poll_send(cx),
        }
    }

    /// Whether everything queued has been written and flushed.
    pub(crate) fn is_idle(&self) -> bool {
        match self {
            Self::Tcp(writer) => writer.is_idle(),
            Self::Quic(writer) => writer.is_idle(),
        }
    }

    pub(crate) async fn close(self) -> Result<(), LinkError> {
        match self {
            Self::Tcp(writer) => writer.close().await,
            Self::Quic(writer) => writer.close().await,
        }
    }
}

/// How the core should read a failed dial.
pub(crate) fn dial_failure(error: &DialError) -> LinkCloseReason {
    match error {
        DialError::Unreachable(_) => LinkCloseReason::Unreachable,
        DialError::TimedOut => LinkCloseReason::TimedOut,
        DialError::NotAuthenticated(AuthError::IdentityMismatch { .. }) => {
            LinkCloseReason::NotAuthenticated(AuthFailure::IdentityMismatch)
        }
        DialError::NotAuthenticated(_) => LinkCloseReason::NotAuthenticated(AuthFailure::Tls),
        _ => LinkCloseReason::Lost,
    }
}

/// How the core should read a failed read.
pub(crate) fn read_failure(error: &LinkError) -> LinkCloseReason {
    match error {
        LinkError::FrameTooLarge { .. } => LinkCloseReason::FrameTooLarge,
        _ => LinkCloseReason::Lost,
    }
}

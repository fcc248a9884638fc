//! The transports the runtime can drive, behind one enum each so the choice is a config value.

use std::io;
use std::net::SocketAddr;

use peergraph_core::{AuthFailure, LinkCloseReason, PeerIdentity};
use peergraph_transport::{
    AcceptError, AuthError, DialError, Identity, Link, LinkError, TransportConfig, TransportError,
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
            Self::Tcp(transport) => transport.dial(addr, expected).await?,
            Self::Quic(transport) => transport.dial(addr, expected).await?,
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
            Self::Tcp(incoming) => incoming.handshake().await?,
            Self::Quic(incoming) => incoming.handshake().await?,
        })
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

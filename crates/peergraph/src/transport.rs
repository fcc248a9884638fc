//! The transports the runtime can drive, behind one type so that the choice is a config value.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use peergraph_core::{AuthFailure, LinkCloseReason, PeerIdentity};
use peergraph_transport::{
    AcceptError, Acceptor, AuthError, Connector, DialError, Handshake, Identity, Link, LinkError,
    TransportConfig, TransportError,
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

/// A transport, whichever it is: a [`Connector`] behind a pointer, its futures boxed (one
/// allocation per dial or accepted connection, which the handshake dwarfs).
#[derive(Clone)]
pub(crate) struct Transport(Arc<dyn DynConnector>);

/// A bound listener of either transport.
pub(crate) struct Listener(Box<dyn DynAcceptor>);

/// An inbound connection of either transport, before its handshake.
pub(crate) struct Incoming(Box<dyn DynHandshake>);

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl Transport {
    pub(crate) fn new(
        kind: TransportKind,
        identity: &Identity,
        config: TransportConfig,
    ) -> Result<Self, TransportError> {
        Ok(Self(match kind {
            TransportKind::Tcp => Arc::new(tcp::TcpTransport::new(identity, config)?),
            TransportKind::Quic => Arc::new(quic::QuicTransport::new(identity, config)?),
        }))
    }

    pub(crate) async fn listen(&self, addr: SocketAddr) -> io::Result<Listener> {
        self.0.listen(addr).await
    }

    /// See [`Connector::finish_closing`].
    pub(crate) async fn finish_closing(&self) {
        self.0.finish_closing().await;
    }

    pub(crate) async fn dial(
        &self,
        addr: SocketAddr,
        expected: Option<PeerIdentity>,
    ) -> Result<Link, DialError> {
        self.0.dial(addr, expected).await
    }
}

impl Listener {
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.0.local_addr()
    }

    pub(crate) async fn accept(&self) -> io::Result<Incoming> {
        self.0.accept().await
    }
}

impl Incoming {
    pub(crate) async fn handshake(self) -> Result<Link, AcceptError> {
        self.0.handshake().await
    }
}

/// [`Connector`] with boxed futures, so that a transport can sit behind a pointer.
trait DynConnector: Send + Sync {
    fn dial(
        &self,
        addr: SocketAddr,
        expected: Option<PeerIdentity>,
    ) -> BoxFuture<'_, Result<Link, DialError>>;
    fn listen(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<Listener>>;
    fn finish_closing(&self) -> BoxFuture<'_, ()>;
}

trait DynAcceptor: Send + Sync {
    fn accept(&self) -> BoxFuture<'_, io::Result<Incoming>>;
    fn local_addr(&self) -> SocketAddr;
}

trait DynHandshake: Send {
    fn handshake(self: Box<Self>) -> BoxFuture<'static, Result<Link, AcceptError>>;
}

impl<C: Connector> DynConnector for C {
    fn dial(
        &self,
        addr: SocketAddr,
        expected: Option<PeerIdentity>,
    ) -> BoxFuture<'_, Result<Link, DialError>> {
        Box::pin(Connector::dial(self, addr, expected))
    }

    fn finish_closing(&self) -> BoxFuture<'_, ()> {
        Box::pin(Connector::finish_closing(self))
    }

    fn listen(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<Listener>> {
        Box::pin(async move {
            let listener = Connector::listen(self, addr).await?;
            Ok(Listener(Box::new(listener)))
        })
    }
}

impl<A: Acceptor> DynAcceptor for A {
    fn accept(&self) -> BoxFuture<'_, io::Result<Incoming>> {
        Box::pin(async move {
            let incoming = Acceptor::accept(self).await?;
            Ok(Incoming(Box::new(incoming)))
        })
    }

    fn local_addr(&self) -> SocketAddr {
        Acceptor::local_addr(self)
    }
}

impl<H: Handshake> DynHandshake for H {
    fn handshake(self: Box<Self>) -> BoxFuture<'static, Result<Link, AcceptError>> {
        Box::pin(Handshake::handshake(*self))
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

//! Accepting TCP connections and finishing their handshakes separately.

use std::io;
use std::net::SocketAddr;

use peergraph_transport::{AcceptError, TransportConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::Link;
use crate::handshake::{Failure, classify, link_info};

/// A bound TCP socket accepting links.
pub struct Listener {
    listener: TcpListener,
    local_addr: SocketAddr,
    acceptor: TlsAcceptor,
    config: TransportConfig,
}

impl Listener {
    pub(crate) fn new(
        listener: TcpListener,
        acceptor: TlsAcceptor,
        config: TransportConfig,
    ) -> io::Result<Self> {
        let local_addr = listener.local_addr()?;
        Ok(Self {
            listener,
            local_addr,
            acceptor,
            config,
        })
    }

    /// The next TCP connection, before any TLS. Finish it with [`Incoming::handshake`],
    /// preferably on its own task so the next accept is not delayed.
    pub async fn accept(&self) -> io::Result<Incoming> {
        let (tcp, remote_addr) = self.listener.accept().await?;
        // A connection that cannot take the option is still usable; only latency suffers.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%remote_addr, %error, "cannot set TCP_NODELAY");
        }
        Ok(Incoming {
            tcp,
            remote_addr,
            acceptor: self.acceptor.clone(),
            config: self.config.clone(),
        })
    }

    /// The address the listener is bound to, with the real port if 0 was asked for.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

/// An accepted TCP connection whose TLS handshake has not run yet.
pub struct Incoming {
    tcp: TcpStream,
    remote_addr: SocketAddr,
    acceptor: TlsAcceptor,
    config: TransportConfig,
}

impl Incoming {
    /// The peer's address, known before it is authenticated.
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote_addr
    }

    /// Runs the TLS handshake, giving up after the handshake timeout.
    pub async fn handshake(self) -> Result<Link, AcceptError> {
        let accept = self.acceptor.accept(self.tcp);
        let tls = tokio::time::timeout(self.config.handshake_timeout, accept)
            .await
            .map_err(|_| AcceptError::TimedOut)?
            .map_err(|error| match classify(error) {
                Failure::Tls(auth) => AcceptError::NotAuthenticated(auth),
                Failure::Lost(source) => AcceptError::ConnectionLost(source),
            })?;
        let info = link_info(self.remote_addr, tls.get_ref().1)?;
        Ok(Link::new(info, tls.into(), self.config.max_frame_len))
    }
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming")
            .field("remote_addr", &self.remote_addr)
            .finish_non_exhaustive()
    }
}

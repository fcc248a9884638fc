//! Accepting TCP connections and finishing their handshakes separately.

use std::io;
use std::net::SocketAddr;

use peergraph_transport::{
    AcceptError, Acceptor, Handshake, SourceLimit, SourcePermit, TransportConfig,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::Link;
use crate::handshake::{Failure, classify, link_info};
use crate::link::link;

/// A bound TCP socket accepting links.
pub struct Listener {
    listener: TcpListener,
    local_addr: SocketAddr,
    acceptor: TlsAcceptor,
    config: TransportConfig,
    /// Connections between accept and the end of their TLS handshake.
    handshakes: SourceLimit,
}

impl Listener {
    pub(crate) fn new(
        listener: TcpListener,
        acceptor: TlsAcceptor,
        config: TransportConfig,
    ) -> io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let handshakes = SourceLimit::new(
            config.max_inbound_handshakes,
            config.max_inbound_handshakes_per_source,
        );
        Ok(Self {
            listener,
            local_addr,
            handshakes,
            acceptor,
            config,
        })
    }
}

/// An accepted TCP connection whose TLS handshake has not run yet.
pub struct Incoming {
    tcp: TcpStream,
    remote_addr: SocketAddr,
    acceptor: TlsAcceptor,
    config: TransportConfig,
    /// Its place among the handshakes in progress, given back when the handshake ends.
    _slot: SourcePermit,
}

impl Incoming {
    /// The peer's address, known before it is authenticated.
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote_addr
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

impl Acceptor for Listener {
    type Incoming = Incoming;

    /// The next TCP connection, before any TLS. Finish it with [`Handshake::handshake`],
    /// preferably on its own task so the next accept is not delayed.
    ///
    /// A connection beyond [`TransportConfig::max_inbound_handshakes`] in progress, or beyond
    /// its source's share ([`TransportConfig::max_inbound_handshakes_per_source`]), is closed
    /// at once and the next one awaited.
    async fn accept(&self) -> io::Result<Incoming> {
        loop {
            let (tcp, remote_addr) = self.listener.accept().await?;
            let Some(slot) = self.handshakes.try_acquire(remote_addr.ip()) else {
                tracing::debug!(%remote_addr, "too many TLS handshakes in progress; closing");
                continue;
            };
            // A connection that cannot take the option is still usable; only latency suffers.
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%remote_addr, %error, "cannot set TCP_NODELAY");
            }
            return Ok(Incoming {
                tcp,
                remote_addr,
                acceptor: self.acceptor.clone(),
                config: self.config.clone(),
                _slot: slot,
            });
        }
    }

    /// The address the listener is bound to, with the real port if 0 was asked for.
    fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Handshake for Incoming {
    /// Runs the TLS handshake, giving up after the handshake timeout, or after the first-byte
    /// timeout if the peer has sent nothing by then.
    async fn handshake(self) -> Result<Link, AcceptError> {
        let mut first = [0u8; 1];
        match tokio::time::timeout(self.config.first_byte_timeout, self.tcp.peek(&mut first)).await
        {
            Err(_) => return Err(AcceptError::TimedOut),
            Ok(Ok(0)) => {
                let closed = io::Error::from(io::ErrorKind::UnexpectedEof);
                return Err(AcceptError::ConnectionLost(closed.into()));
            }
            Ok(Err(error)) => return Err(AcceptError::ConnectionLost(error.into())),
            Ok(Ok(_)) => {}
        }
        let accept = self.acceptor.accept(self.tcp);
        let tls = tokio::time::timeout(self.config.handshake_timeout, accept)
            .await
            .map_err(|_| AcceptError::TimedOut)?
            .map_err(|error| match classify(error) {
                Failure::Tls(auth) => AcceptError::NotAuthenticated(auth),
                Failure::Lost(source) => AcceptError::ConnectionLost(source),
            })?;
        let info = link_info(self.remote_addr, tls.get_ref().1)?;
        Ok(link(info, tls.into(), &self.config))
    }
}

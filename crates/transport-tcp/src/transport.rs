//! Dialing, and the configuration shared by every link of a node.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use peergraph_transport::{
    AuthError, Connector, DialError, Identity, PeerIdentity, SERVER_NAME, TransportConfig,
    TransportError, client_config, server_config,
};
use rustls::pki_types::ServerName;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::handshake::{Failure, classify, link_info};
use crate::link::link;
use crate::{Link, Listener};

/// Dials and listens for TLS-over-TCP links as one node. Cheap to clone.
#[derive(Clone)]
pub struct TcpTransport {
    inner: Arc<Inner>,
}

struct Inner {
    connector: TlsConnector,
    acceptor: TlsAcceptor,
    config: TransportConfig,
}

impl std::fmt::Debug for TcpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpTransport")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl TcpTransport {
    /// A transport presenting `identity` in every handshake.
    pub fn new(identity: &Identity, config: TransportConfig) -> Result<Self, TransportError> {
        config.validate()?;
        let connector = TlsConnector::from(Arc::new(client_config(identity)?));
        let acceptor = TlsAcceptor::from(Arc::new(server_config(identity)?));
        Ok(Self {
            inner: Arc::new(Inner {
                connector,
                acceptor,
                config,
            }),
        })
    }
}

impl Connector for TcpTransport {
    type Listener = Listener;

    /// Listens on `addr`; port 0 picks a free port, see
    /// [`Acceptor::local_addr`](peergraph_transport::Acceptor::local_addr).
    async fn listen(&self, addr: SocketAddr) -> io::Result<Listener> {
        let listener = TcpListener::bind(addr).await?;
        Listener::new(
            listener,
            self.inner.acceptor.clone(),
            self.inner.config.clone(),
        )
    }

    /// Opens a link to `addr`. If `expected` is given, the peer must prove that identity or the
    /// dial fails with [`AuthError::IdentityMismatch`].
    async fn dial(
        &self,
        addr: SocketAddr,
        expected: Option<PeerIdentity>,
    ) -> Result<Link, DialError> {
        let handshake = async {
            let tcp = TcpStream::connect(addr)
                .await
                .map_err(DialError::Unreachable)?;
            // Frames are already batched; Nagle would only add latency to small ones.
            tcp.set_nodelay(true).map_err(DialError::Unreachable)?;
            let name = ServerName::try_from(SERVER_NAME).expect("SERVER_NAME is a valid DNS name");
            self.inner
                .connector
                .connect(name, tcp)
                .await
                .map_err(|error| match classify(error) {
                    Failure::Tls(auth) => DialError::NotAuthenticated(auth),
                    Failure::Lost(source) => DialError::ConnectionLost(source),
                })
        };
        let tls = tokio::time::timeout(self.inner.config.handshake_timeout, handshake)
            .await
            .map_err(|_| DialError::TimedOut)??;
        let info = link_info(addr, tls.get_ref().1)?;
        if let Some(expected) = expected {
            if expected != info.remote_identity {
                return Err(AuthError::IdentityMismatch {
                    expected,
                    actual: info.remote_identity,
                }
                .into());
            }
        }
        Ok(link(info, tls.into(), &self.inner.config))
    }
}

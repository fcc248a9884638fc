//! Dialing over shared connections, and the configuration common to all of a node's links.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use peergraph_transport::{
    AuthError, Connector, DialError, Identity, PeerIdentity, SERVER_NAME, TransportConfig,
    TransportError, client_config, server_config,
};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{Endpoint, IdleTimeout, VarInt};
use tokio::sync::OnceCell;

use crate::errors::{connect_error, dial_error};
use crate::link::link;
use crate::pool::{Lease, Pool, Session};
use crate::session::{NOT_AUTHENTICATED, link_info};
use crate::{Link, Listener};

/// How many streams one peer may have open on one connection at a time. Four times the links a
/// dialer puts on one connection, so streams of closed links that are still draining never hold
/// up a new link's stream; no more, because quinn sets up state for every allowed stream when a
/// connection starts (4,096 made a fresh open 1.9M instructions slower than 1,024).
const MAX_STREAMS_PER_CONNECTION: u32 = 4 * crate::pool::LINKS_PER_CONNECTION as u32;

/// Dials and listens for QUIC links as one node. Cheap to clone.
#[derive(Clone)]
pub struct QuicTransport {
    inner: Arc<Inner>,
}

struct Inner {
    client: quinn::ClientConfig,
    server: quinn::ServerConfig,
    config: TransportConfig,
    pool: Arc<Pool>,
    // Dialing uses one wildcard-bound endpoint per address family, created on first use
    // because binding needs the runtime.
    endpoint_v4: OnceCell<Endpoint>,
    endpoint_v6: OnceCell<Endpoint>,
}

impl std::fmt::Debug for QuicTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuicTransport")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl QuicTransport {
    /// A transport presenting `identity` in every handshake.
    pub fn new(identity: &Identity, config: TransportConfig) -> Result<Self, TransportError> {
        config.validate()?;
        let idle = IdleTimeout::try_from(config.idle_timeout)
            .map_err(|_| TransportError::IdleTimeoutOutOfRange)?;
        let mut transport = quinn::TransportConfig::default();
        transport
            .keep_alive_interval(Some(config.keepalive_interval))
            .max_idle_timeout(Some(idle))
            .max_concurrent_bidi_streams(VarInt::from_u32(MAX_STREAMS_PER_CONNECTION))
            // Links are bidirectional streams only.
            .max_concurrent_uni_streams(VarInt::from_u32(0));
        let transport = Arc::new(transport);

        // Both configurations are TLS 1.3 with the ring suites, which always include the
        // initial suite QUIC needs; failure would be a bug in client_config/server_config.
        let client_crypto = QuicClientConfig::try_from(client_config(identity)?)
            .expect("TLS 1.3 ring config offers TLS13_AES_128_GCM_SHA256");
        let server_crypto = QuicServerConfig::try_from(server_config(identity)?)
            .expect("TLS 1.3 ring config offers TLS13_AES_128_GCM_SHA256");
        let mut client = quinn::ClientConfig::new(Arc::new(client_crypto));
        client.transport_config(Arc::clone(&transport));
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(server_crypto));
        server.transport_config(transport);
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                server,
                config,
                pool: Arc::default(),
                endpoint_v4: OnceCell::new(),
                endpoint_v6: OnceCell::new(),
            }),
        })
    }

    async fn open(
        &self,
        lease: &Lease,
        addr: SocketAddr,
        expected: Option<PeerIdentity>,
    ) -> Result<(Session, (quinn::SendStream, quinn::RecvStream)), DialError> {
        let session = lease.session(|| self.connect(addr, expected)).await?;
        let streams = session.connection.open_bi().await.map_err(dial_error)?;
        Ok((session, streams))
    }

    async fn connect(
        &self,
        addr: SocketAddr,
        expected: Option<PeerIdentity>,
    ) -> Result<Session, DialError> {
        let endpoint = self
            .endpoint_for(addr)
            .await
            .map_err(DialError::Unreachable)?;
        let connecting = endpoint
            .connect_with(self.inner.client.clone(), addr, SERVER_NAME)
            .map_err(connect_error)?;
        let connection = connecting.await.map_err(dial_error)?;
        let info = link_info(&connection);
        let info = match (info, expected) {
            (Ok(info), Some(expected)) if info.remote_identity != expected => {
                Err(AuthError::IdentityMismatch {
                    expected,
                    actual: info.remote_identity,
                })
            }
            (result, _) => result,
        }
        .inspect_err(|_| connection.close(NOT_AUTHENTICATED, b"not authenticated"))?;
        Ok(Session { connection, info })
    }

    async fn endpoint_for(&self, addr: SocketAddr) -> io::Result<Endpoint> {
        let (cell, bind) = match addr {
            SocketAddr::V4(_) => (
                &self.inner.endpoint_v4,
                SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            ),
            SocketAddr::V6(_) => (
                &self.inner.endpoint_v6,
                SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
            ),
        };
        cell.get_or_try_init(|| async { Endpoint::client(bind) })
            .await
            .cloned()
    }

    /// Established, still-open cached connections made by dialing.
    #[doc(hidden)]
    pub fn connection_count(&self) -> usize {
        self.inner.pool.live_connections()
    }
}

impl Connector for QuicTransport {
    type Listener = Listener;

    /// Waits until no dialed connection is in use (the last links' halves may still be on
    /// their way out), then until each has told its peer (`CONNECTION_CLOSE`) and drained. For a
    /// caller whose links have all ended: while a link uses a dialed connection, this waits.
    async fn finish_closing(&self) {
        self.inner.pool.until_unused().await;
        for endpoint in [&self.inner.endpoint_v4, &self.inner.endpoint_v6] {
            if let Some(endpoint) = endpoint.get() {
                endpoint.wait_idle().await;
            }
        }
    }

    /// Listens on `addr`; port 0 picks a free port, see
    /// [`Acceptor::local_addr`](peergraph_transport::Acceptor::local_addr).
    async fn listen(&self, addr: SocketAddr) -> io::Result<Listener> {
        let endpoint = Endpoint::server(self.inner.server.clone(), addr)?;
        Listener::start(endpoint, self.inner.config.clone())
    }

    /// Opens a link to `addr` as a new stream, on the cached connection for
    /// (`addr`, `expected`) if it is alive. If `expected` is given, the peer must prove that
    /// identity or the dial fails with [`AuthError::IdentityMismatch`].
    async fn dial(
        &self,
        addr: SocketAddr,
        expected: Option<PeerIdentity>,
    ) -> Result<Link, DialError> {
        let timeout = self.inner.config.handshake_timeout;
        let attempt = async {
            let lease = self.inner.pool.lease((addr, expected));
            let reused = lease.was_established();
            match self.open(&lease, addr, expected).await {
                // A cached connection may have died since it was last used: the slot is now
                // marked dead, so one retry makes a fresh connection.
                Err(DialError::ConnectionLost(_) | DialError::TimedOut) if reused => {
                    drop(lease);
                    let lease = self.inner.pool.lease((addr, expected));
                    self.open(&lease, addr, expected)
                        .await
                        .map(|link| (link, lease))
                }
                result => result.map(|link| (link, lease)),
            }
        };
        let ((session, streams), lease) = tokio::time::timeout(timeout, attempt)
            .await
            .map_err(|_| DialError::TimedOut)??;
        Ok(link(
            session.info,
            session.connection,
            streams,
            Some(lease),
            &self.inner.config,
        ))
    }
}

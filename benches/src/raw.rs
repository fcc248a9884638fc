//! The baselines: rustls (ring, TLS 1.3) over tokio TCP through tokio-rustls, and quinn, built
//! from the same `client_config` / `server_config` as peergraph's transports so the
//! cryptography is identical. A raw server runs one [`Serve`] behaviour on every stream it
//! accepts.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use peergraph_core::NodeConfig;
use peergraph_transport::{Identity, SERVER_NAME, client_config, server_config};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{Endpoint, IdleTimeout, VarInt};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::client::TlsStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::loopback::{Progress, read_frame, write_frame};

/// Streams one QUIC connection may carry at once: peergraph's limit.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 1024;

/// What a raw server does with each stream it accepts.
#[derive(Clone, Debug)]
pub enum Serve {
    /// Sends every length-prefixed frame back as it arrives, flushing after each, until the
    /// stream ends: the other end of open-latency and round-trip measurements, and of idle
    /// connections.
    EchoFrames,
    /// [`Serve::EchoFrames`], then adds one to the counter when the stream has ended.
    EchoFramesCountingEnds(Arc<Progress>),
    /// Reads everything, adding the bytes to the counter.
    CountBytes(Arc<Progress>),
    /// Reads length-prefixed frames through a buffer, adding one per frame to the counter.
    CountFrames(Arc<Progress>),
}

impl Serve {
    /// Runs this behaviour on one accepted stream until it ends.
    pub async fn run<R, W>(self, read: R, write: W)
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        match self {
            Serve::EchoFrames => echo_frames(read, write).await,
            Serve::EchoFramesCountingEnds(ended) => {
                echo_frames(read, write).await;
                ended.add(1);
            }
            Serve::CountBytes(progress) => {
                let mut read = read;
                let mut buffer = vec![0u8; 64 * 1024];
                while let Ok(read @ 1..) = read.read(&mut buffer).await {
                    progress.add(read as u64);
                }
            }
            Serve::CountFrames(progress) => {
                let mut read = BufReader::with_capacity(64 * 1024, read);
                let mut buffer = Vec::new();
                while read_frame(&mut read, &mut buffer).await {
                    progress.add(1);
                }
            }
        }
    }
}

async fn echo_frames<R, W>(read: R, write: W)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (mut read, mut write) = (BufReader::new(read), BufWriter::new(write));
    let mut buffer = Vec::new();
    while read_frame(&mut read, &mut buffer).await {
        write_frame(&mut write, &buffer).await;
        if write.flush().await.is_err() {
            return;
        }
    }
}

/// Raw TLS over TCP: a connector and an acceptor with peergraph's configurations, each with
/// its own identity.
pub struct Tls {
    connector: TlsConnector,
    acceptor: TlsAcceptor,
}

impl Default for Tls {
    fn default() -> Self {
        let [client, server] = [(), ()].map(|()| Identity::generate().expect("keys generate"));
        Self {
            connector: TlsConnector::from(Arc::new(
                client_config(&client).expect("peergraph's client config builds"),
            )),
            acceptor: TlsAcceptor::from(Arc::new(
                server_config(&server).expect("peergraph's server config builds"),
            )),
        }
    }
}

impl Tls {
    /// Listens on loopback and runs `serve` on every connection; returns the address.
    pub async fn serve(&self, serve: Serve) -> SocketAddr {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("loopback binds");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let acceptor = self.acceptor.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, serve) = (acceptor.clone(), serve.clone());
                tokio::spawn(async move {
                    // Like peergraph's listener.
                    tcp.set_nodelay(true).ok();
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let (read, write) = tokio::io::split(tls);
                        serve.run(read, write).await;
                    }
                });
            }
        });
        addr
    }

    /// TCP connect and TLS handshake, complete on this (client) side.
    pub async fn connect(&self, addr: SocketAddr) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(addr).await.expect("loopback connects");
        tcp.set_nodelay(true).expect("nodelay can be set");
        let name = ServerName::try_from(SERVER_NAME).expect("a valid DNS name");
        self.connector
            .connect(name, tcp)
            .await
            .expect("the raw TLS handshake succeeds")
    }
}

/// Raw quinn: a client endpoint and server endpoints, with peergraph's TLS configurations and
/// the transport settings `peergraph-transport-quic` uses.
pub struct Quic {
    client: Endpoint,
    servers: Vec<Endpoint>,
}

impl Quic {
    /// A client endpoint and one server endpoint, bound on loopback (the client on the
    /// wildcard address, as peergraph's dialer is).
    pub fn new() -> Self {
        Self::with_servers(1)
    }

    /// The same with `count` server endpoints, each with its own identity (as distinct
    /// peergraph nodes have), so a client rotating over them cannot use TLS resumption.
    pub fn with_servers(count: usize) -> Self {
        let client_id = Identity::generate().expect("keys generate");
        let timeouts = NodeConfig::default().timeouts;
        let mut transport = quinn::TransportConfig::default();
        transport
            .keep_alive_interval(Some(timeouts.keepalive))
            .max_idle_timeout(Some(
                IdleTimeout::try_from(timeouts.idle).expect("the default idle timeout fits"),
            ))
            .max_concurrent_bidi_streams(VarInt::from_u32(MAX_STREAMS_PER_CONNECTION))
            .max_concurrent_uni_streams(VarInt::from_u32(0));
        let transport = Arc::new(transport);
        let client_crypto =
            QuicClientConfig::try_from(client_config(&client_id).expect("client config builds"))
                .expect("TLS 1.3 ring config suits QUIC");
        let mut client_config = quinn::ClientConfig::new(Arc::new(client_crypto));
        client_config.transport_config(Arc::clone(&transport));
        let servers = (0..count)
            .map(|_| {
                let identity = Identity::generate().expect("keys generate");
                let crypto = QuicServerConfig::try_from(
                    server_config(&identity).expect("server config builds"),
                )
                .expect("TLS 1.3 ring config suits QUIC");
                let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
                config.transport_config(Arc::clone(&transport));
                Endpoint::server(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                    .expect("loopback binds")
            })
            .collect();
        let mut client = Endpoint::client(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))
            .expect("the wildcard address binds");
        client.set_default_client_config(client_config);
        Self { client, servers }
    }

    /// Accepts connections on the first server and runs `serve` on every bidirectional stream
    /// of each; returns its address.
    pub fn serve(&self, serve: Serve) -> SocketAddr {
        self.serve_all(serve)[0]
    }

    /// [`Self::serve`] on every server; returns their addresses.
    pub fn serve_all(&self, serve: Serve) -> Vec<SocketAddr> {
        self.servers
            .iter()
            .map(|server| Self::serve_on(server.clone(), serve.clone()))
            .collect()
    }

    fn serve_on(server: Endpoint, serve: Serve) -> SocketAddr {
        let port = server
            .local_addr()
            .expect("a bound endpoint has an address")
            .port();
        tokio::spawn(async move {
            while let Some(incoming) = server.accept().await {
                let serve = serve.clone();
                tokio::spawn(async move {
                    let Ok(connection) = incoming.await else {
                        return;
                    };
                    while let Ok((send, recv)) = connection.accept_bi().await {
                        tokio::spawn(serve.clone().run(recv, send));
                    }
                });
            }
        });
        SocketAddr::from((Ipv4Addr::LOCALHOST, port))
    }

    /// A new connection to `addr`, established on this (client) side.
    pub async fn connect(&self, addr: SocketAddr) -> quinn::Connection {
        self.client
            .connect(addr, SERVER_NAME)
            .expect("the client endpoint has a config")
            .await
            .expect("the raw QUIC handshake succeeds")
    }
}

impl Default for Quic {
    fn default() -> Self {
        Self::new()
    }
}

/// Writes a 1-byte frame and waits for it to come back: the first application byte making a
/// round trip, which proves the server finished its side of the handshake too.
pub async fn echo_first_byte<S>(stream: &mut S)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream
        .write_all(&[0, 0, 0, 1, 1])
        .await
        .expect("the raw peer is reading");
    stream.flush().await.expect("the raw peer is reading");
    let mut buffer = Vec::new();
    assert!(read_frame(stream, &mut buffer).await, "the raw peer echoes");
}

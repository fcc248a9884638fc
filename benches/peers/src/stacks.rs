//! The stacks that hand the application a byte stream: raw TLS over TCP, raw quinn,
//! rust-libp2p (TCP + noise + yamux, QUIC) and iroh. Each has servers that run one
//! [`Serve`] behaviour (peergraph-benches' raw servers' behaviours) on every stream they accept,
//! and a client that opens fresh connections and streams to them. The same measuring code then
//! drives all of them.

use std::net::{Ipv4Addr, SocketAddr};

use iroh::endpoint::{Connection, QuicTransportConfig, VarInt, presets};
use iroh::{Endpoint, EndpointAddr, EndpointId};
use libp2p::swarm::ConnectionId;
use libp2p::{Multiaddr, PeerId};
use peergraph_benches::raw::{Quic, Serve, Tls};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::compat::FuturesAsyncReadCompatExt;

use crate::p2p::{self, PROTOCOL, QUIC_STREAMS};

/// The ALPN of the iroh bench protocol.
pub const IROH_ALPN: &[u8] = b"peergraph-bench/1";

/// A bidirectional byte stream of any stack.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A boxed stream.
pub type Stream = Box<dyn Io>;

/// A byte-stream stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// tokio TCP + tokio-rustls with peergraph's TLS configurations.
    RawTcp,
    /// quinn with peergraph's TLS configurations and transport settings.
    RawQuic,
    /// rust-libp2p over TCP + noise + yamux.
    Libp2pTcp,
    /// rust-libp2p over QUIC.
    Libp2pQuic,
    /// iroh, direct addresses only.
    Iroh,
}

/// One client-side connection with the stream opened on it.
pub struct Conn {
    /// The stream; nothing has been written on it yet.
    pub stream: Stream,
    /// The connection.
    pub handle: Handle,
}

/// What identifies a client connection: enough to open more streams on it or close it.
#[derive(Clone)]
pub enum Handle {
    Tcp,
    Quic(quinn::Connection),
    Libp2p(ConnectionId),
    Iroh(Connection),
}

/// Where a client dials: one server of a stack.
#[derive(Clone)]
pub enum Addr {
    /// A raw TLS or raw QUIC server.
    Socket(SocketAddr),
    /// A libp2p swarm.
    Libp2p(PeerId, Multiaddr),
    /// An iroh endpoint, dialed by its id and direct address.
    Iroh(EndpointAddr),
}

impl Addr {
    /// One line a child process prints for its parent.
    pub fn to_line(&self) -> String {
        match self {
            Addr::Socket(addr) => addr.to_string(),
            Addr::Libp2p(peer, addr) => format!("{peer} {addr}"),
            Addr::Iroh(addr) => {
                let ip = addr.ip_addrs().next().expect("a direct address");
                format!("{} {ip}", addr.id)
            }
        }
    }

    /// The inverse of [`Addr::to_line`] for `kind`.
    pub fn from_line(kind: Kind, line: &str) -> Self {
        let mut parts = line.split_whitespace();
        let mut next = || parts.next().expect("a full address line");
        match kind {
            Kind::RawTcp | Kind::RawQuic => Addr::Socket(next().parse().expect("an address")),
            Kind::Libp2pTcp | Kind::Libp2pQuic => {
                let peer = next().parse().expect("a peer id");
                Addr::Libp2p(peer, next().parse().expect("a multiaddr"))
            }
            Kind::Iroh => {
                let id: EndpointId = next().parse().expect("an endpoint id");
                let ip: SocketAddr = next().parse().expect("a socket address");
                Addr::Iroh(EndpointAddr::new(id).with_ip_addr(ip))
            }
        }
    }
}

/// iroh's transport settings: its defaults, with peergraph's concurrent stream limit (iroh's
/// default, 100, would stall the 1,000-stream memory run).
fn iroh_transport() -> QuicTransportConfig {
    QuicTransportConfig::builder()
        .max_concurrent_bidi_streams(VarInt::from_u32(QUIC_STREAMS))
        .build()
}

/// An iroh endpoint bound to 127.0.0.1 only: no relay, no address lookup (the `Minimal`
/// preset: ring as the crypto provider, nothing else), no port mapping.
async fn iroh_endpoint(alpns: Vec<Vec<u8>>) -> Endpoint {
    Endpoint::builder(presets::Minimal)
        .relay_mode(iroh::RelayMode::Disabled)
        .clear_ip_transports()
        .bind_addr(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .expect("a valid bind address")
        .alpns(alpns)
        .transport_config(iroh_transport())
        .bind()
        .await
        .expect("the iroh endpoint binds")
}

/// Servers of a stack, kept alive by holding this.
pub struct Servers {
    /// Where to dial each.
    pub addrs: Vec<Addr>,
    _keep: Box<dyn Send + Sync>,
}

impl Servers {
    /// `count` servers of `kind`, each with its own identity, running `serve` on every stream.
    pub async fn start(kind: Kind, count: usize, serve: Serve) -> Self {
        match kind {
            Kind::RawTcp => {
                let mut keep = Vec::new();
                let mut addrs = Vec::new();
                for _ in 0..count {
                    let tls = Tls::default();
                    addrs.push(Addr::Socket(tls.serve(serve.clone()).await));
                    keep.push(tls);
                }
                Self {
                    addrs,
                    _keep: Box::new(keep),
                }
            }
            Kind::RawQuic => {
                let quic = Quic::with_servers(count);
                let addrs = quic
                    .serve_all(serve)
                    .into_iter()
                    .map(Addr::Socket)
                    .collect();
                Self {
                    addrs,
                    _keep: Box::new(quic),
                }
            }
            Kind::Libp2pTcp | Kind::Libp2pQuic => {
                let transport = if kind == Kind::Libp2pTcp {
                    p2p::Transport::Tcp
                } else {
                    p2p::Transport::Quic
                };
                let mut keep = Vec::new();
                let mut addrs = Vec::new();
                for _ in 0..count {
                    let mut node = p2p::Node::new(transport).await;
                    let mut incoming = node
                        .control
                        .accept(PROTOCOL)
                        .expect("the protocol is registered once");
                    let serve = serve.clone();
                    tokio::spawn(async move {
                        use futures::StreamExt;
                        while let Some((_, stream)) = incoming.next().await {
                            let (read, write) = tokio::io::split(stream.compat());
                            tokio::spawn(serve.clone().run(read, write));
                        }
                    });
                    addrs.push(Addr::Libp2p(node.peer_id, node.addr.clone()));
                    keep.push(node);
                }
                Self {
                    addrs,
                    _keep: Box::new(keep),
                }
            }
            Kind::Iroh => {
                let mut keep = Vec::new();
                let mut addrs = Vec::new();
                for _ in 0..count {
                    let endpoint = iroh_endpoint(vec![IROH_ALPN.to_vec()]).await;
                    let ip = endpoint.bound_sockets()[0];
                    addrs.push(Addr::Iroh(
                        EndpointAddr::new(endpoint.id()).with_ip_addr(ip),
                    ));
                    let server = endpoint.clone();
                    let serve = serve.clone();
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
                    keep.push(endpoint);
                }
                Self {
                    addrs,
                    _keep: Box::new(keep),
                }
            }
        }
    }
}

/// The client side of a stack.
pub enum Client {
    /// Raw TLS over TCP.
    RawTcp(Tls),
    /// Raw quinn.
    RawQuic(Quic),
    /// A libp2p swarm that listens too (libp2p-quic dials from its listening socket).
    Libp2p(p2p::Node),
    /// An iroh endpoint.
    Iroh(Endpoint),
}

impl Client {
    /// A client of `kind`.
    pub async fn new(kind: Kind) -> Self {
        match kind {
            Kind::RawTcp => Client::RawTcp(Tls::default()),
            Kind::RawQuic => Client::RawQuic(Quic::new()),
            Kind::Libp2pTcp => Client::Libp2p(p2p::Node::new(p2p::Transport::Tcp).await),
            Kind::Libp2pQuic => Client::Libp2p(p2p::Node::new(p2p::Transport::Quic).await),
            Kind::Iroh => Client::Iroh(iroh_endpoint(Vec::new()).await),
        }
    }

    /// A fresh connection to `addr` (never a reused one) and one stream on it.
    pub async fn connect(&self, addr: &Addr) -> Conn {
        match (self, addr) {
            (Client::RawTcp(tls), Addr::Socket(addr)) => Conn {
                stream: Box::new(tls.connect(*addr).await),
                handle: Handle::Tcp,
            },
            (Client::RawQuic(quic), Addr::Socket(addr)) => {
                let connection = quic.connect(*addr).await;
                let (send, recv) = connection.open_bi().await.expect("a stream opens");
                Conn {
                    stream: Box::new(tokio::io::join(recv, send)),
                    handle: Handle::Quic(connection),
                }
            }
            (Client::Libp2p(node), Addr::Libp2p(peer, addr)) => {
                let id = node.dial(*peer, addr.clone()).await;
                let stream = node
                    .control
                    .clone()
                    .open_stream(*peer, PROTOCOL)
                    .await
                    .expect("a libp2p stream opens");
                Conn {
                    stream: Box::new(stream.compat()),
                    handle: Handle::Libp2p(id),
                }
            }
            (Client::Iroh(endpoint), Addr::Iroh(addr)) => {
                let connection = endpoint
                    .connect(addr.clone(), IROH_ALPN)
                    .await
                    .expect("the iroh connection opens");
                let (send, recv) = connection.open_bi().await.expect("a stream opens");
                Conn {
                    stream: Box::new(tokio::io::join(recv, send)),
                    handle: Handle::Iroh(connection),
                }
            }
            _ => panic!("an address of another stack"),
        }
    }

    /// Another stream on `conn`'s connection (libp2p: on a connection to the same peer, which
    /// `libp2p_stream` picks).
    pub async fn open_stream(&self, handle: &Handle, addr: &Addr) -> Stream {
        match (handle, self, addr) {
            (Handle::Quic(connection), _, _) => {
                let (send, recv) = connection.open_bi().await.expect("a stream opens");
                Box::new(tokio::io::join(recv, send))
            }
            (Handle::Iroh(connection), _, _) => {
                let (send, recv) = connection.open_bi().await.expect("a stream opens");
                Box::new(tokio::io::join(recv, send))
            }
            (Handle::Libp2p(_), Client::Libp2p(node), Addr::Libp2p(peer, _)) => {
                let stream = node
                    .control
                    .clone()
                    .open_stream(*peer, PROTOCOL)
                    .await
                    .expect("a libp2p stream opens");
                Box::new(stream.compat())
            }
            _ => panic!("no second stream on a TLS connection"),
        }
    }

    /// Closes `conn`'s connection.
    pub async fn close(&self, conn: Conn) {
        let Conn { mut stream, handle } = conn;
        match handle {
            Handle::Tcp => {
                stream.shutdown().await.ok();
            }
            Handle::Quic(connection) => connection.close(0u32.into(), b"done"),
            Handle::Libp2p(id) => {
                drop(stream);
                if let Client::Libp2p(node) = self {
                    node.close(id).await;
                }
            }
            Handle::Iroh(connection) => connection.close(VarInt::from_u32(0), b"done"),
        }
    }
}

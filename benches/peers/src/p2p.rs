//! rust-libp2p: a `Swarm` of `libp2p_stream::Behaviour` alone, over TCP + noise + yamux or over
//! QUIC, driven by a task that dials and closes connections on request. Bytes move on
//! `libp2p_stream` streams, the raw streams libp2p's own protocols are built on.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use libp2p::core::ConnectedPoint;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, SwarmEvent};
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm, noise, tcp, yamux};
use tokio::sync::{mpsc, oneshot};

/// The protocol every bench stream negotiates.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/peergraph-bench/1");

/// Concurrent streams one QUIC connection admits: peergraph's limit, and the raw quinn
/// baseline's (libp2p-quic's default is 256, which would stall the 1,000-stream memory run).
pub const QUIC_STREAMS: u32 = 1024;

/// How long a connection without streams stays open. libp2p's default is zero: a connection
/// with no stream would close at once. The benches close connections themselves.
const IDLE: Duration = Duration::from_secs(3600);

/// Which libp2p transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// TCP, noise (XX), yamux: libp2p's usual TCP stack, all at their defaults.
    Tcp,
    /// QUIC v1 (libp2p-quic, quinn inside).
    Quic,
}

enum Command {
    Dial {
        peer: PeerId,
        addr: Multiaddr,
        reply: oneshot::Sender<ConnectionId>,
    },
    Close {
        id: ConnectionId,
        reply: oneshot::Sender<()>,
    },
}

/// One swarm, listening on loopback, driven by its own task until dropped.
pub struct Node {
    commands: mpsc::UnboundedSender<Command>,
    /// Opens and accepts streams.
    pub control: libp2p_stream::Control,
    /// The swarm's identity.
    pub peer_id: PeerId,
    /// Where it listens.
    pub addr: Multiaddr,
}

fn swarm(transport: Transport) -> Swarm<libp2p_stream::Behaviour> {
    let builder = libp2p::SwarmBuilder::with_new_identity().with_tokio();
    match transport {
        Transport::Tcp => builder
            .with_tcp(
                tcp::Config::default(),
                noise::Config::new,
                yamux::Config::default,
            )
            .expect("tcp + noise + yamux build")
            .with_behaviour(|_| libp2p_stream::Behaviour::new())
            .expect("the behaviour builds")
            .with_swarm_config(|config| config.with_idle_connection_timeout(IDLE))
            .build(),
        Transport::Quic => builder
            .with_quic_config(|mut config| {
                config.max_concurrent_stream_limit = QUIC_STREAMS;
                config
            })
            .with_behaviour(|_| libp2p_stream::Behaviour::new())
            .expect("the behaviour builds")
            .with_swarm_config(|config| config.with_idle_connection_timeout(IDLE))
            .build(),
    }
}

impl Node {
    /// A swarm over `transport` listening on 127.0.0.1, its task started.
    pub async fn new(transport: Transport) -> Self {
        let mut swarm = swarm(transport);
        let listen: Multiaddr = match transport {
            Transport::Tcp => "/ip4/127.0.0.1/tcp/0",
            Transport::Quic => "/ip4/127.0.0.1/udp/0/quic-v1",
        }
        .parse()
        .expect("a valid multiaddr");
        swarm.listen_on(listen).expect("loopback listens");
        let addr = loop {
            if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                break address;
            }
        };
        let control = swarm.behaviour().new_control();
        let peer_id = *swarm.local_peer_id();
        let (commands, receiver) = mpsc::unbounded_channel();
        tokio::spawn(drive(swarm, receiver));
        Self {
            commands,
            control,
            peer_id,
            addr,
        }
    }

    /// Dials a new connection to `peer` at `addr` (never reusing one) and waits until it is
    /// established (noise and yamux negotiated).
    pub async fn dial(&self, peer: PeerId, addr: Multiaddr) -> ConnectionId {
        let (reply, established) = oneshot::channel();
        self.commands
            .send(Command::Dial { peer, addr, reply })
            .expect("the swarm task runs");
        established.await.expect("the dial succeeds")
    }

    /// Closes connection `id` and waits until the swarm has closed it.
    pub async fn close(&self, id: ConnectionId) {
        let (reply, closed) = oneshot::channel();
        self.commands
            .send(Command::Close { id, reply })
            .expect("the swarm task runs");
        closed.await.expect("the swarm task runs");
    }
}

async fn drive(
    mut swarm: Swarm<libp2p_stream::Behaviour>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut dials: HashMap<ConnectionId, oneshot::Sender<ConnectionId>> = HashMap::new();
    let mut closes: HashMap<ConnectionId, oneshot::Sender<()>> = HashMap::new();
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                None => return,
                Some(Command::Dial { peer, addr, reply }) => {
                    let opts = DialOpts::peer_id(peer)
                        .addresses(vec![addr])
                        .condition(PeerCondition::Always)
                        .build();
                    let id = opts.connection_id();
                    swarm.dial(opts).expect("the dial starts");
                    dials.insert(id, reply);
                }
                Some(Command::Close { id, reply }) => {
                    if swarm.close_connection(id) {
                        closes.insert(id, reply);
                    } else {
                        let _ = reply.send(());
                    }
                }
            },
            event = swarm.select_next_some() => match event {
                SwarmEvent::ConnectionEstablished {
                    connection_id,
                    endpoint: ConnectedPoint::Dialer { .. },
                    ..
                } => {
                    if let Some(reply) = dials.remove(&connection_id) {
                        let _ = reply.send(connection_id);
                    }
                }
                SwarmEvent::OutgoingConnectionError { error, .. } => {
                    panic!("a libp2p dial failed: {error}")
                }
                SwarmEvent::ConnectionClosed { connection_id, .. } => {
                    if let Some(reply) = closes.remove(&connection_id) {
                        let _ = reply.send(());
                    }
                }
                _ => {}
            },
        }
    }
}

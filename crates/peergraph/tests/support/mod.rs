//! Nodes on loopback for the conformance suite, and waits that fail instead of hanging.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

/// Instantiates each listed `async fn name(kind: TransportKind)` as two tests, `tcp::name` and
/// `quic::name`, so one suite runs on both transports.
#[macro_export]
macro_rules! on_both_transports {
    ($($test:ident),* $(,)?) => {
        mod tcp {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(peergraph::TransportKind::Tcp).await
                }
            )*
        }
        mod quic {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(peergraph::TransportKind::Quic).await
                }
            )*
        }
    };
}

use std::future::Future;
use std::time::Duration;

use peergraph::{
    Config, ConnectionId, ConnectionStatus, EventStream, EventType, GraphConfig, GraphEvent,
    GraphHandle, IncomingData, PEER_GRAPH_VERSION, PeerGraph, PeerLocator, TransportKind,
};

pub const GRAPH: &str = "conformance";
pub const TYPE_A: [u8; 16] = *b"conformance-type";
pub const EVENTS: &[EventType] = &[
    EventType::DirectConnection,
    EventType::IncomingData,
    EventType::StatusChanged,
];

/// How long any single expected thing may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

pub struct TestNode {
    pub node: PeerGraph,
    pub graph: GraphHandle,
    pub events: EventStream,
    pub peer_id: String,
}

impl TestNode {
    pub async fn new(kind: TransportKind, peer_id: &str) -> Self {
        Self::with_graph(kind, GraphConfig::new(GRAPH, peer_id)).await
    }

    pub async fn with_graph(kind: TransportKind, graph: GraphConfig) -> Self {
        Self::with_config(Config::new(kind), graph).await
    }

    pub async fn with_config(config: Config, graph: GraphConfig) -> Self {
        let node = PeerGraph::new(config).unwrap();
        node.startup(PEER_GRAPH_VERSION).unwrap();
        node.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let peer_id = graph.peer_id.clone();
        let graph = node.create_graph(graph).unwrap();
        let events = node.register_event(graph, EVENTS).unwrap();
        Self {
            node,
            graph,
            events,
            peer_id,
        }
    }

    pub fn locator(&self) -> PeerLocator {
        self.node.locator(&self.peer_id).unwrap()
    }

    pub fn open_to(&self, target: &TestNode) -> ConnectionId {
        let locator = target.locator();
        self.node
            .open_direct_connection(self.graph, &locator.peer_id, locator.address)
            .unwrap()
    }

    /// The next connection event for `id`, skipping everything else.
    pub async fn change_for(&mut self, id: ConnectionId) -> ConnectionStatus {
        within("a connection event", async {
            loop {
                match self.events.next().await.expect("stream open") {
                    GraphEvent::DirectConnection(change) if change.connection == id => {
                        return change.status;
                    }
                    _ => {}
                }
            }
        })
        .await
    }

    /// The next `Connected` event for any id (an inbound connection).
    pub async fn accepted(&mut self) -> ConnectionId {
        within("an inbound connection", async {
            loop {
                if let GraphEvent::DirectConnection(change) =
                    self.events.next().await.expect("open")
                {
                    if matches!(change.status, ConnectionStatus::Connected(_)) {
                        return change.connection;
                    }
                }
            }
        })
        .await
    }

    pub async fn incoming(&mut self) -> IncomingData {
        within("incoming data", async {
            loop {
                if let GraphEvent::IncomingData(data) = self.events.next().await.expect("open") {
                    return data;
                }
            }
        })
        .await
    }
}

/// Opens `from` -> `to` and waits for both ends; returns (initiator id, acceptor id).
pub async fn connect(from: &mut TestNode, to: &mut TestNode) -> (ConnectionId, ConnectionId) {
    let id = from.open_to(to);
    let status = from.change_for(id).await;
    assert!(
        matches!(status, ConnectionStatus::Connected(_)),
        "{status:?}"
    );
    (id, to.accepted().await)
}

/// A node with these limits and timeouts, listening on loopback, registered for [`EVENTS`].
pub async fn node_with(
    kind: TransportKind,
    node: peergraph::NodeConfig,
    graph: GraphConfig,
) -> TestNode {
    TestNode::with_config(Config::new(kind).with_node(node), graph).await
}

/// Checks `condition` every few milliseconds until it holds; fails the test after [`PATIENCE`].
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    within(what, async {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        while !condition() {
            tick.tick().await;
        }
    })
    .await;
}

/// The resident set size of this process in bytes, from /proc/self/status.
pub fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .unwrap();
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .unwrap();
    kib * 1024
}

/// How many file descriptors this process has open, from /proc/self/fd.
pub fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// A QUIC handshake that stays half-open, as from an address that never answers: a relay bound
/// to `relay` (an address and port 0) forwards the client's first datagram to `target` and
/// nothing back, so the node waits for a client Finished that never comes.
pub struct HalfOpenQuic {
    dial: tokio::task::JoinHandle<()>,
    _relay: tokio::net::UdpSocket,
}

impl HalfOpenQuic {
    pub async fn start(relay: &str, target: std::net::SocketAddr) -> Self {
        use peergraph_transport::Connector;

        let relay = tokio::net::UdpSocket::bind(relay).await.unwrap();
        let relay_addr = relay.local_addr().unwrap();
        let dial = tokio::spawn(async move {
            let identity = peergraph_transport::Identity::generate().unwrap();
            let config = peergraph_transport::TransportConfig::default()
                .with_handshake_timeout(Duration::from_secs(60));
            let transport =
                peergraph_transport_quic::QuicTransport::new(&identity, config).unwrap();
            let _ = transport.dial(relay_addr, None).await;
        });
        let mut datagram = vec![0u8; 65_536];
        let (len, _) = within(
            "the client's first datagram",
            relay.recv_from(&mut datagram),
        )
        .await
        .unwrap();
        relay.send_to(&datagram[..len], target).await.unwrap();
        Self {
            dial,
            _relay: relay,
        }
    }
}

impl Drop for HalfOpenQuic {
    fn drop(&mut self) {
        self.dial.abort();
    }
}

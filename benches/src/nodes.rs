//! peergraph nodes on loopback for the transport benches: a dialer whose events the measuring
//! code reads, and targets whose events a task consumes (counting or echoing what arrives).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use peergraph::{
    Config, ConnectionId, ConnectionStatus, EventStream, EventType, GraphConfig, GraphEvent,
    GraphHandle, NodeConfig, PEER_GRAPH_VERSION, PeerGraph, PeerLocator, TransportKind,
};

use crate::loopback::{Progress, within};

/// Events a target takes from its registration at once.
const TAKE_BATCH: usize = 1024;

/// The graph every bench node joins.
pub const GRAPH: &str = "bench";
/// The type id of every bench message.
pub const TYPE_ID: [u8; 16] = *b"peergraph/bench.";

/// Events one registration may hold: a bench receiver must see every message, and a sender
/// that runs ahead of it would otherwise make the core drop data events (by design: the
/// default bound is 65,536).
const QUEUED_EVENTS: usize = 1 << 24;

/// Core limits that admit `connections` direct connections with `pending` handshakes at once,
/// and a receiver whose unread connection events never hold new connections back.
pub fn node_config(connections: usize, pending: usize) -> NodeConfig {
    let mut config = NodeConfig::default();
    config.limits.max_direct_connections_per_graph = connections.max(1);
    config.limits.max_pending_handshakes = pending.max(1);
    config.limits.max_queued_events_per_registration = QUEUED_EVENTS;
    config
}

/// A started, listening node in [`GRAPH`] as `peer_id`, registered for connection and data
/// events.
pub struct BenchNode {
    /// The node.
    pub node: PeerGraph,
    /// Its graph.
    pub graph: GraphHandle,
    /// Its one registration.
    pub events: EventStream,
    /// Where others dial it, identity pinned.
    pub locator: PeerLocator,
}

impl BenchNode {
    /// A node over `kind` with the given core limits.
    pub async fn new(kind: TransportKind, peer_id: &str, config: NodeConfig) -> Self {
        let node = PeerGraph::new(Config::new(kind).with_node(config).single_source())
            .expect("a node builds");
        node.startup(PEER_GRAPH_VERSION).expect("version 1.0");
        node.listen("127.0.0.1:0".parse().expect("a socket address"))
            .await
            .expect("loopback binds");
        let graph = node
            .create_graph(GraphConfig::new(GRAPH, peer_id))
            .expect("a valid graph");
        let events = node
            .register_event(
                graph,
                &[EventType::DirectConnection, EventType::IncomingData],
            )
            .expect("one registration");
        let locator = node.locator(peer_id).expect("the node listens");
        Self {
            node,
            graph,
            events,
            locator,
        }
    }

    /// Opens a direct connection to `target`; the outcome arrives on [`Self::events`].
    pub fn open(&self, target: &PeerLocator) -> ConnectionId {
        self.node
            .open_direct_connection(self.graph, &target.peer_id, target.address)
            .expect("the bench's limits admit every open")
    }

    /// Waits for the `DirectConnection` event of `id`, skipping anything else; panics unless
    /// its status is the one `expect` accepts.
    pub async fn status_of(
        &mut self,
        id: ConnectionId,
        expect: fn(&ConnectionStatus) -> bool,
    ) -> ConnectionStatus {
        within("a connection event", async {
            loop {
                match self.events.next().await.expect("the registration lives") {
                    GraphEvent::DirectConnection(change) if change.connection == id => {
                        assert!(expect(&change.status), "unexpected {:?}", change.status);
                        return change.status;
                    }
                    _ => {}
                }
            }
        })
        .await
    }

    /// Opens a direct connection to `target` and waits for `Connected`.
    pub async fn connect(&mut self, target: &PeerLocator) -> ConnectionId {
        let id = self.open(target);
        self.status_of(id, is_connected).await;
        id
    }

    /// Closes `id` and waits for its `Disconnected`.
    pub async fn disconnect(&mut self, id: ConnectionId) {
        self.node
            .close_direct_connection(self.graph, id)
            .expect("the connection is open");
        self.status_of(id, is_disconnected).await;
    }

    /// Sends one message on `id`, waiting for queue room.
    pub async fn send(&self, id: ConnectionId, payload: Bytes) {
        self.node
            .send_data(self.graph, id, TYPE_ID, payload)
            .await
            .expect("the connection is open");
    }

    /// Sends `messages` on `id` in order, one batch, waiting for queue room.
    pub async fn send_batch(&self, id: ConnectionId, messages: &[Bytes]) {
        self.node
            .send_data_batch(self.graph, id, TYPE_ID, messages)
            .await
            .expect("the connection is open");
    }

    /// The next `IncomingData` payload, skipping anything else.
    pub async fn incoming(&mut self) -> Bytes {
        within("incoming data", async {
            loop {
                if let GraphEvent::IncomingData(data) =
                    self.events.next().await.expect("the registration lives")
                {
                    return data.data;
                }
            }
        })
        .await
    }
}

/// True for `Connected`.
pub fn is_connected(status: &ConnectionStatus) -> bool {
    matches!(status, ConnectionStatus::Connected(_))
}

/// True for `Disconnected`.
pub fn is_disconnected(status: &ConnectionStatus) -> bool {
    matches!(status, ConnectionStatus::Disconnected(_))
}

/// What a target node does with its events.
#[derive(Clone, Debug)]
pub enum Target {
    /// Takes and drops every event, adding one to `closed` per `Disconnected`.
    Drain {
        /// Direct connections that ended at the target.
        closed: Arc<Progress>,
    },
    /// Adds each message's payload bytes to `bytes` and one per message to `messages`, once
    /// per batch of events taken.
    Count {
        /// Payload bytes received.
        bytes: Arc<Progress>,
        /// Messages received.
        messages: Arc<Progress>,
    },
    /// Sends each message back on its connection.
    Echo,
}

/// Starts a target node over `kind` whose events a task handles as `behaviour` says, until
/// the node shuts down; returns the node (keep it alive) and where to dial it.
pub async fn target(
    kind: TransportKind,
    config: NodeConfig,
    behaviour: Target,
) -> (PeerGraph, PeerLocator) {
    let BenchNode {
        node,
        graph,
        mut events,
        locator,
    } = BenchNode::new(kind, "target", config).await;
    let sender = node.clone();
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(TAKE_BATCH);
        while events.next_batch(&mut batch, TAKE_BATCH).await > 0 {
            let mut messages = 0;
            let mut bytes = 0;
            for event in batch.drain(..) {
                let data = match event {
                    GraphEvent::IncomingData(data) => data,
                    GraphEvent::DirectConnection(change) => {
                        if let (Target::Drain { closed }, ConnectionStatus::Disconnected(_)) =
                            (&behaviour, change.status)
                        {
                            closed.add(1);
                        }
                        continue;
                    }
                    _ => continue,
                };
                messages += 1;
                bytes += data.data.len() as u64;
                if let Target::Echo = behaviour {
                    if sender
                        .send_data(graph, data.connection, TYPE_ID, data.data)
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
            if let Target::Count {
                bytes: total_bytes,
                messages: total_messages,
            } = &behaviour
            {
                total_bytes.add(bytes);
                total_messages.add(messages);
            }
        }
    });
    (node, locator)
}

/// Opens `count` direct connections to the node whose locator is `line`, at most `window`
/// opening at once, from a new dialer that opened one connection first: returns the memory
/// `reading` gave before the `count` (after `settle`), after them (after `settle` again), and
/// how long they took to open. The dialer and its connections live until the second reading.
pub async fn open_direct_connections(
    transport: TransportKind,
    line: &str,
    count: usize,
    window: usize,
    settle: Duration,
    reading: impl Fn() -> u64,
) -> (u64, u64, Duration) {
    let locator: PeerLocator = line.parse().expect("the target prints its locator");
    let config = node_config(count + 16, 2 * window);
    let mut dialer = BenchNode::new(transport, "dialer", config).await;
    let _warm_up = dialer.connect(&locator).await;
    tokio::time::sleep(settle).await;
    let before = reading();
    let start = Instant::now();
    let (mut opened, mut pending, mut connected) = (0, 0, 0);
    while connected < count {
        while pending < window && opened < count {
            dialer.open(&locator);
            opened += 1;
            pending += 1;
        }
        let event = within("a connection event", dialer.events.next())
            .await
            .expect("the registration lives");
        if let GraphEvent::DirectConnection(change) = event {
            match change.status {
                ConnectionStatus::Connected(_) => {
                    connected += 1;
                    pending -= 1;
                }
                status => panic!("a connection did not open: {status:?}"),
            }
        }
    }
    let opening = start.elapsed();
    tokio::time::sleep(settle).await;
    let after = reading();
    drop(dialer);
    (before, after, opening)
}

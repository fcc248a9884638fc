//! Two core nodes wired back to back with no delay, no sockets and no TLS.
//!
//! [`CorePair`] is the smallest runtime that can drive two [`Node`]s: a dial is accepted at once
//! by the other node, every frame is handed to the other end as soon as it is polled, and a
//! closed link is reported to both ends. It does what a real runtime does minus the I/O, so a
//! benchmark built on it measures the core's own cost.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;

use bytes::Bytes;
use peergraph_core::{
    ConnectionId, ConnectionStatus, EventType, GraphConfig, GraphEvent, GraphHandle,
    LinkCloseReason, LinkId, LinkUp, Node, NodeConfig, Output, PEER_GRAPH_VERSION, PeerAddress,
    PeerIdentity, RegistrationHandle,
};
use rustc_hash::FxHashMap;

/// The node that opens connections.
pub const INITIATOR: usize = 0;
/// The node that accepts them.
pub const TARGET: usize = 1;

const GRAPH_ID: &str = "bench";
const PEER_IDS: [&str; 2] = ["initiator", "target"];

/// The type id every benchmark message carries.
pub const TYPE_ID: [u8; 16] = *b"peergraph/bench.";

/// What each node's registration has seen since the last [`CorePair::reset_tally`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// `Connected` events, per node.
    pub connected: [u64; 2],
    /// `Disconnected` events, per node.
    pub disconnected: [u64; 2],
    /// Payload bytes of `IncomingData` events, per node.
    pub received_bytes: [u64; 2],
    /// `IncomingData` events, per node.
    pub received_messages: [u64; 2],
}

/// An initiator and a target node in one graph: open (no secret, so no cryptography) or with a
/// secret (the SPAKE2 exchange of every handshake).
pub struct CorePair {
    nodes: [Node; 2],
    graphs: [GraphHandle; 2],
    /// What each node's runtime reports about the other end of a link.
    ups: [LinkUp; 2],
    /// Per node: its end of a link -> the other node's end.
    peers: [FxHashMap<LinkId, LinkId>; 2],
    target_address: PeerAddress,
    now: Instant,
    tally: Tally,
}

impl CorePair {
    /// Two started nodes whose limits allow `connections` direct connections, all of them
    /// handshaking at once if need be.
    pub fn new(connections: usize) -> Self {
        Self::with_secret(connections, None)
    }

    /// As [`new`](Self::new), in a graph with `secret` on both nodes.
    pub fn with_secret(connections: usize, secret: Option<&[u8]>) -> Self {
        let config = |seed| {
            let mut config = NodeConfig::with_seed(seed);
            config.limits.max_direct_connections_per_graph = connections.max(1);
            config.limits.max_pending_handshakes = 2 * connections.max(1);
            // Every link comes from the other node's one address.
            config.limits.max_pending_handshakes_per_source = config.limits.max_pending_handshakes;
            config.limits.max_dials_per_target = config.limits.max_pending_handshakes;
            config
        };
        let mut nodes = [Node::new(config(1)), Node::new(config(2))];
        let addrs = [7001, 7002].map(|port| SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
        let identities = [[1u8; 32], [2u8; 32]].map(PeerIdentity::from_spki_sha256);
        let mut graphs = Vec::with_capacity(2);
        for (node, peer_id) in nodes.iter_mut().zip(PEER_IDS) {
            node.startup(PEER_GRAPH_VERSION)
                .expect("version 1.0 is supported");
            node.set_listening(true).expect("started up above");
            let graph = node
                .create_graph(GraphConfig {
                    secret: secret.map(<[u8]>::to_vec),
                    ..GraphConfig::new(GRAPH_ID, peer_id)
                })
                .expect("one valid graph per node");
            node.register_event(
                graph,
                &[EventType::DirectConnection, EventType::IncomingData],
            )
            .expect("one registration per node");
            graphs.push(graph);
        }
        let exporter = [7u8; 32];
        // `ups[i]` is what node i learns about the other node when a link comes up.
        let ups = [TARGET, INITIATOR].map(|other| LinkUp {
            remote_identity: identities[other],
            remote_addr: addrs[other],
            exporter,
        });
        #[allow(clippy::disallowed_methods)] // the only clock read: the pump's time never moves
        let now = Instant::now();
        Self {
            nodes,
            graphs: [graphs[0], graphs[1]],
            ups,
            peers: Default::default(),
            target_address: PeerAddress::new(addrs[TARGET]),
            now,
            tally: Tally::default(),
        }
    }

    /// Node `index` ([`INITIATOR`] or [`TARGET`]).
    pub fn node(&mut self, index: usize) -> &mut Node {
        &mut self.nodes[index]
    }

    /// The events seen since the last reset.
    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// Forgets the events seen so far.
    pub fn reset_tally(&mut self) {
        self.tally = Tally::default();
    }

    /// Opens `count` direct connections from the initiator, appending their ids to `ids`, then
    /// pumps until both ends have settled. Every handshake has then completed (or failed, which
    /// the tally shows).
    pub fn open(&mut self, count: usize, ids: &mut Vec<ConnectionId>) {
        let (node, graph) = (&mut self.nodes[INITIATOR], self.graphs[INITIATOR]);
        for _ in 0..count {
            let id = node
                .open_direct_connection(self.now, graph, PEER_IDS[TARGET], self.target_address)
                .expect("the pair's limits admit every open");
            ids.push(id);
        }
        self.pump();
    }

    /// Closes the initiator's connections in `ids` (emptying it), then pumps until settled.
    pub fn close(&mut self, ids: &mut Vec<ConnectionId>) {
        let graph = self.graphs[INITIATOR];
        for id in ids.drain(..) {
            self.nodes[INITIATOR]
                .close_direct_connection(graph, id)
                .expect("the connection is open");
        }
        self.pump();
    }

    /// Sends one message from the initiator on `connection`, then pumps until it is delivered.
    pub fn send(&mut self, connection: ConnectionId, payload: Bytes) {
        let graph = self.graphs[INITIATOR];
        self.nodes[INITIATOR]
            .send_data(self.now, graph, connection, TYPE_ID, payload)
            .expect("the connection is open and the message fits");
        self.pump();
    }

    /// Drains both nodes until neither has output left.
    pub fn pump(&mut self) {
        while self.drain(INITIATOR) | self.drain(TARGET) {}
    }

    /// Drains one node's output stream; true if it had anything to do.
    fn drain(&mut self, side: usize) -> bool {
        let mut progressed = false;
        loop {
            match self.nodes[side].poll_output(self.now) {
                Output::Dial { link, .. } => self.connect(side, link),
                Output::Transmit { link } => self.transmit(side, link),
                Output::Close { link } => self.close_link(side, link),
                Output::Events { registration } => self.take_events(side, registration),
                // Events are taken as they come, so no receive window fills.
                Output::Resume { .. } => {}
                // The pair writes no records.
                Output::Store { .. } => {}
                Output::Timeout(_) => return progressed,
            }
            progressed = true;
        }
    }

    /// A dial from `side` reaches the other node, which accepts it; the dialer's link is up.
    fn connect(&mut self, side: usize, link: LinkId) {
        let other = 1 - side;
        let accepted = self.nodes[other].accept_link(self.now, self.ups[other]);
        self.peers[side].insert(link, accepted);
        self.peers[other].insert(accepted, link);
        self.nodes[side].handle_link_up(self.now, link, self.ups[side]);
    }

    /// `side` closes its end after sending what it queued; both ends see the link closed.
    fn close_link(&mut self, side: usize, link: LinkId) {
        self.transmit(side, link);
        let reason = LinkCloseReason::Closed;
        self.nodes[side].handle_link_closed(self.now, link, reason);
        if let Some(peer) = self.peers[side].remove(&link) {
            self.peers[1 - side].remove(&peer);
            self.nodes[1 - side].handle_link_closed(self.now, peer, reason);
        }
    }

    /// Hands every frame queued on `link` to the other end, in order.
    fn transmit(&mut self, side: usize, link: LinkId) {
        let peer = self.peers[side].get(&link).copied();
        let [initiator, target] = &mut self.nodes;
        let (from, to) = if side == INITIATOR {
            (initiator, target)
        } else {
            (target, initiator)
        };
        while let Some(frame) = from.poll_transmit(link) {
            if let Some(peer) = peer {
                // One buffer, as a transport's reader would deliver it.
                to.handle_frame(self.now, peer, frame.into_bytes());
            }
        }
    }

    fn take_events(&mut self, side: usize, registration: RegistrationHandle) {
        let node = &mut self.nodes[side];
        while let Some(event) = node
            .take_event(registration)
            .expect("the registration lives as long as the pair")
        {
            match event {
                GraphEvent::DirectConnection(change) => match change.status {
                    ConnectionStatus::Connected(_) => self.tally.connected[side] += 1,
                    ConnectionStatus::Disconnected(_) => self.tally.disconnected[side] += 1,
                    ConnectionStatus::Failed(reason) => {
                        panic!("a benchmark connection failed: {reason:?}")
                    }
                },
                GraphEvent::IncomingData(data) => {
                    self.tally.received_bytes[side] += data.data.len() as u64;
                    self.tally.received_messages[side] += 1;
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_transfers_and_closes() {
        let mut pair = CorePair::new(16);
        let mut ids = Vec::new();
        pair.open(16, &mut ids);
        assert_eq!(pair.tally().connected, [16, 16]);
        pair.send(ids[0], Bytes::from_static(&[1; 64]));
        assert_eq!(pair.tally().received_bytes, [0, 64]);
        pair.close(&mut ids);
        assert_eq!(pair.tally().disconnected, [16, 16]);
        assert!(ids.is_empty());
        // Every link is gone from both nodes, so the pair can run forever without growing.
        assert!(pair.peers.iter().all(|peers| peers.is_empty()));
        pair.reset_tally();
        pair.open(16, &mut ids);
        assert_eq!(pair.tally().connected, [16, 16]);
    }
}

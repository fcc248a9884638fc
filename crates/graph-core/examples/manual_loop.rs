//! Two peergraph-core nodes driven by a plain loop: no tokio, no sockets, no threads.
//!
//! `drive` is the whole runtime: one `match` on `poll_output`. The "network" is a queue of frames
//! between the two nodes, and the application opens a connection, sends one message and closes.
//! Run with `cargo run -p peergraph-core --example manual_loop`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // an example fails loudly
#![allow(missing_docs)]

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use peergraph_core::{
    ConnectionKinds, ConnectionStatus, EventType, GraphConfig, GraphEvent, GraphHandle,
    LinkCloseReason, LinkId, LinkUp, Node, NodeConfig, Output, PEER_GRAPH_VERSION, PeerAddress,
    PeerIdentity,
};

/// What travels to node `to` on its link `link`.
enum Packet {
    Frame(Bytes),
    Closed,
}

#[derive(Default)]
struct Network {
    in_flight: VecDeque<(usize, LinkId, Packet)>,
    /// Each link as (node, link id) on both ends.
    wires: Vec<[(usize, LinkId); 2]>,
}

impl Network {
    fn peer_of(&self, end: (usize, LinkId)) -> Option<(usize, LinkId)> {
        let wire = self.wires.iter().find(|wire| wire.contains(&end))?;
        Some(if wire[0] == end { wire[1] } else { wire[0] })
    }

    fn send(&mut self, from: (usize, LinkId), packet: Packet) {
        if let Some((to, link)) = self.peer_of(from) {
            self.in_flight.push_back((to, link, packet));
        }
    }
}

// This loop is the runtime, so it is where the clock is read.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

fn address(index: usize) -> PeerAddress {
    PeerAddress::new(([127, 0, 0, 1 + index as u8], 1).into())
}

fn link_up(index: usize) -> LinkUp {
    LinkUp {
        remote_identity: PeerIdentity::from_spki_sha256([index as u8; 32]),
        remote_addr: address(index).socket,
        exporter: [7; 32], // what TLS would export on both ends
    }
}

/// Acts on everything node `index` asks for, until it says when to come back.
fn drive(nodes: &mut [Node; 2], graphs: &[GraphHandle; 2], index: usize, net: &mut Network) {
    loop {
        match nodes[index].poll_output(now()) {
            Output::Dial { link, .. } => {
                let accepted = nodes[1 - index].accept_link(now(), link_up(index));
                net.wires.push([(index, link), (1 - index, accepted)]);
                nodes[index].handle_link_up(now(), link, link_up(1 - index));
            }
            Output::Transmit { link } => {
                while let Some(frame) = nodes[index].poll_transmit(link) {
                    net.send((index, link), Packet::Frame(frame.into_bytes()));
                }
            }
            Output::Close { link } => {
                while let Some(frame) = nodes[index].poll_transmit(link) {
                    net.send((index, link), Packet::Frame(frame.into_bytes()));
                }
                net.send((index, link), Packet::Closed);
                nodes[index].handle_link_closed(now(), link, LinkCloseReason::Closed);
            }
            // This application takes every event at once, so no receive window fills and no
            // link is ever held (a runtime stops reading while `link_readable` is false).
            Output::Resume { .. } => {}
            // This application writes no records; a runtime makes the writes durable.
            Output::Store { .. } => {}
            Output::Events { registration } => {
                while let Some(event) = nodes[index].take_event(registration).unwrap() {
                    on_event(nodes, graphs, index, event);
                }
            }
            // A real runtime sleeps until then or until the next input.
            Output::Timeout(_) => return,
        }
    }
}

/// The application: alice greets bob once connected; bob closes once greeted.
fn on_event(nodes: &mut [Node; 2], graphs: &[GraphHandle; 2], index: usize, event: GraphEvent) {
    println!("[{}] {event:?}", ["alice", "bob"][index]);
    match event {
        GraphEvent::DirectConnection(change) if index == 0 => {
            if let ConnectionStatus::Connected(_) = change.status {
                let greeting = Bytes::from_static(b"hello from a plain loop");
                let (graph, id, type_id) = (graphs[0], change.connection, *b"example-message!");
                nodes[0]
                    .send_data(now(), graph, id, type_id, greeting)
                    .unwrap();
            }
        }
        GraphEvent::IncomingData(data) => {
            nodes[index]
                .close_direct_connection(graphs[index], data.connection)
                .unwrap();
        }
        _ => {}
    }
}

/// Starts the node and joins graph `example` as `peer_id`, registered for connections and data.
fn join(node: &mut Node, peer_id: &str) -> GraphHandle {
    node.startup(PEER_GRAPH_VERSION).unwrap();
    node.set_listening(true).unwrap();
    let graph = node
        .create_graph(GraphConfig::new("example", peer_id))
        .unwrap();
    let kinds = [EventType::DirectConnection, EventType::IncomingData];
    node.register_event(graph, &kinds).unwrap();
    graph
}

fn main() {
    let mut nodes = [
        Node::new(NodeConfig::with_seed(1)),
        Node::new(NodeConfig::with_seed(2)),
    ];
    let graphs = [join(&mut nodes[0], "alice"), join(&mut nodes[1], "bob")];
    nodes[0]
        .open_direct_connection(now(), graphs[0], "bob", address(1))
        .unwrap();

    let mut net = Network::default();
    for _round in 0..100 {
        for index in 0..2 {
            drive(&mut nodes, &graphs, index, &mut net);
        }
        let open =
            |index: usize| nodes[index].enum_connections(graphs[index], ConnectionKinds::ALL);
        if net.in_flight.is_empty() && open(0).unwrap().is_empty() && open(1).unwrap().is_empty() {
            println!("both ends saw their connection end; done");
            return;
        }
        while let Some((to, link, packet)) = net.in_flight.pop_front() {
            match packet {
                Packet::Frame(frame) => nodes[to].handle_frame(now(), link, frame),
                Packet::Closed => {
                    nodes[to].handle_link_closed(now(), link, LinkCloseReason::Closed)
                }
            }
        }
    }
    panic!("the exchange did not finish");
}

//! Drives two peergraph-core nodes by hand in a plain loop: no tokio, no sockets, no threads.
//!
//! The "network" is a pair of in-memory queues; the loop plays the runtime's part: it dials,
//! accepts, moves frames, reads the clock, and drains each node's outputs in the documented
//! order. Run with `cargo run -p peergraph-core --example manual_loop`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // an example fails loudly
#![allow(missing_docs)]

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use peergraph_core::{
    ConnectionStatus, EventType, GraphConfig, GraphEvent, LinkCloseReason, LinkCommand, LinkId,
    LinkUp, Node, NodeConfig, PEER_GRAPH_VERSION, PeerAddress, PeerIdentity,
};

/// One in-memory link: which link id each node uses for it.
struct Wire {
    ends: [Option<LinkId>; 2],
}

/// What travels between the two nodes.
enum Packet {
    Frame(Bytes),
    Closed,
}

fn main() {
    let addresses = [
        PeerAddress::new(([127, 0, 0, 1], 1).into()),
        PeerAddress::new(([127, 0, 0, 2], 1).into()),
    ];
    let identities = [
        PeerIdentity::from_spki_sha256([1; 32]),
        PeerIdentity::from_spki_sha256([2; 32]),
    ];
    let mut nodes = [
        Node::new(NodeConfig::with_seed(1)),
        Node::new(NodeConfig::with_seed(2)),
    ];
    let mut graphs = Vec::new();
    let mut registrations = Vec::new();
    for (index, node) in nodes.iter_mut().enumerate() {
        node.startup(PEER_GRAPH_VERSION).unwrap();
        node.set_listening(true).unwrap();
        let graph = node
            .create_graph(GraphConfig::new("example", ["alice", "bob"][index]))
            .unwrap();
        let kinds = [EventType::DirectConnection, EventType::IncomingData];
        registrations.push(node.register_event(graph, &kinds).unwrap());
        graphs.push(graph);
    }

    // This loop is the runtime, so it is where the clock is read.
    #[allow(clippy::disallowed_methods)]
    let now = || Instant::now();

    let mut wires: Vec<Wire> = Vec::new();
    let mut in_flight: VecDeque<(usize, LinkId, Packet)> = VecDeque::new();
    let alice_id = nodes[0]
        .open_direct_connection(now(), graphs[0], "bob", addresses[1])
        .unwrap();
    let mut sent_greeting = false;
    let mut closed = [false, false];

    for _round in 0..100 {
        // Deliver what is in flight.
        while let Some((to, link, packet)) = in_flight.pop_front() {
            match packet {
                Packet::Frame(frame) => nodes[to].handle_frame(now(), link, frame),
                Packet::Closed => {
                    nodes[to].handle_link_closed(now(), link, LinkCloseReason::Closed)
                }
            }
        }
        for index in 0..2 {
            nodes[index].handle_timeout(now());
            // 1. Link commands.
            while let Some(command) = nodes[index].poll_link_command() {
                match command {
                    LinkCommand::Dial { link, address } => {
                        let target = addresses.iter().position(|a| *a == address).expect("known");
                        let exporter = [7; 32]; // what TLS would export on both ends
                        let accepted = nodes[target].accept_link(
                            now(),
                            LinkUp {
                                remote_identity: identities[index],
                                remote_addr: addresses[index].socket,
                                exporter,
                            },
                        );
                        let mut ends = [None, None];
                        ends[index] = Some(link);
                        ends[target] = Some(accepted);
                        wires.push(Wire { ends });
                        nodes[index].handle_link_up(
                            now(),
                            link,
                            LinkUp {
                                remote_identity: identities[target],
                                remote_addr: address.socket,
                                exporter,
                            },
                        );
                    }
                    LinkCommand::Close { link } => {
                        flush_link(&mut nodes[index], index, link, &wires, &mut in_flight);
                        if let Some((peer, peer_link)) = peer_of(&wires, index, link) {
                            in_flight.push_back((peer, peer_link, Packet::Closed));
                        }
                        nodes[index].handle_link_closed(now(), link, LinkCloseReason::Closed);
                    }
                }
            }
            // 2. Frames.
            while let Some(link) = nodes[index].poll_ready_link() {
                flush_link(&mut nodes[index], index, link, &wires, &mut in_flight);
            }
            // 3. Events.
            while let Some(registration) = nodes[index].poll_ready_registration() {
                while let Some(event) = nodes[index].take_event(registration).unwrap() {
                    println!("[{}] {}", ["alice", "bob"][index], describe(&event));
                    match event {
                        GraphEvent::DirectConnection(change) => match change.status {
                            ConnectionStatus::Connected(_) if index == 0 && !sent_greeting => {
                                sent_greeting = true;
                                let hello = Bytes::from_static(b"hello from a plain loop");
                                nodes[0]
                                    .send_data(
                                        now(),
                                        graphs[0],
                                        alice_id,
                                        *b"example-message!",
                                        hello,
                                    )
                                    .unwrap();
                            }
                            ConnectionStatus::Disconnected(_) | ConnectionStatus::Failed(_) => {
                                closed[index] = true
                            }
                            _ => {}
                        },
                        GraphEvent::IncomingData(_) if index == 1 => {
                            let bob_id = nodes[1]
                                .enum_connections(
                                    graphs[1],
                                    peergraph_core::ConnectionKinds::DIRECT,
                                )
                                .unwrap()[0]
                                .id;
                            nodes[1].close_direct_connection(graphs[1], bob_id).unwrap();
                        }
                        _ => {}
                    }
                }
            }
            // 4. A real runtime would now sleep until `poll_timeout()` or the next input.
        }
        if closed == [true, true] && in_flight.is_empty() {
            println!("both ends saw their one terminal event; done");
            return;
        }
    }
    panic!("the exchange did not finish");
}

fn peer_of(wires: &[Wire], index: usize, link: LinkId) -> Option<(usize, LinkId)> {
    let wire = wires.iter().find(|wire| wire.ends[index] == Some(link))?;
    let peer = 1 - index;
    Some((peer, wire.ends[peer]?))
}

fn flush_link(
    node: &mut Node,
    index: usize,
    link: LinkId,
    wires: &[Wire],
    in_flight: &mut VecDeque<(usize, LinkId, Packet)>,
) {
    while let Some(frame) = node.poll_transmit(link) {
        if let Some((peer, peer_link)) = peer_of(wires, index, link) {
            in_flight.push_back((peer, peer_link, Packet::Frame(frame.into_bytes())));
        }
    }
}

fn describe(event: &GraphEvent) -> String {
    match event {
        GraphEvent::DirectConnection(change) => {
            format!("{}: {:?}", change.connection, change.status)
        }
        GraphEvent::IncomingData(data) => {
            format!(
                "{}: {:?}",
                data.connection,
                String::from_utf8_lossy(&data.data)
            )
        }
        other => format!("{other:?}"),
    }
}

//! Arbitrary sequences of commands, injected frames and faults against a small cluster, with
//! every node's events and enumeration checked after each step.

#![no_main]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use peergraph_core::{
    EventType, GraphConfig, LinkCloseReason, LinkId, LinkUp, NodeConfig, OpenError,
    PEER_GRAPH_VERSION, PeerIdentity,
};
use peergraph_fuzz::{FrameSpec, Watch};
use peergraph_sim::{Cluster, NetConfig};

const GRAPH: &str = "fuzz-graph";
const MAX_CONNECTIONS: usize = 4;
const TYPE: [u8; 16] = *b"peergraph-fuzz-t";

#[derive(Debug, Arbitrary)]
enum Op {
    Open {
        from: u8,
        to: u8,
        wrong_peer: bool,
        pinned: bool,
    },
    Send {
        node: u8,
        pick: u8,
        len: u8,
    },
    Close {
        node: u8,
        pick: u8,
    },
    CloseGraph {
        node: u8,
    },
    OpenGraph {
        node: u8,
    },
    Register {
        node: u8,
        types: u16,
    },
    Unregister {
        node: u8,
        pick: u8,
    },
    Inject {
        node: u8,
        pick: u8,
        frame: FrameSpec,
    },
    AcceptStray {
        node: u8,
        exporter: u8,
    },
    DropLink {
        node: u8,
        pick: u8,
        reason: u8,
    },
    Advance {
        millis: u16,
    },
    Settle,
    Partition {
        a: u8,
        b: u8,
    },
    Heal {
        a: u8,
        b: u8,
    },
    Restart {
        node: u8,
    },
}

#[derive(Debug, Arbitrary)]
struct Input {
    nodes: bool,
    seed: u64,
    loss: u8,
    ops: Vec<Op>,
}

fn peer(index: usize) -> String {
    format!("peer{index}")
}

fn event_types(bits: u16) -> Vec<EventType> {
    EventType::ALL
        .into_iter()
        .enumerate()
        .filter(|(bit, _)| bits & (1 << bit) != 0)
        .map(|(_, kind)| kind)
        .collect()
}

struct World {
    cluster: Cluster,
    watches: Vec<Watch>,
    /// Links accepted by hand (no simulated peer), per node.
    strays: Vec<Vec<LinkId>>,
}

impl World {
    fn new(input: &Input) -> Self {
        let count = if input.nodes { 3 } else { 2 };
        let net = NetConfig {
            seed: input.seed,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(20),
            link_loss: f64::from(input.loss % 8) / 100.0,
        };
        let cluster = Cluster::new(count, net, |index| {
            let mut config = NodeConfig::with_seed(index as u64);
            config.limits.max_direct_connections_per_graph = MAX_CONNECTIONS;
            config.limits.max_pending_handshakes = 3;
            config.limits.max_message_size = 512;
            config
        });
        let mut world = Self {
            cluster,
            watches: (0..count).map(|_| Watch::default()).collect(),
            strays: vec![Vec::new(); count],
        };
        for node in 0..count {
            world.open_graph(node);
            world.register(node, 0xffff);
        }
        world
    }

    fn count(&self) -> usize {
        self.watches.len()
    }

    fn open_graph(&mut self, node: usize) {
        if self.watches[node].graph().is_some() {
            return;
        }
        if let Ok(graph) = self
            .cluster
            .node(node)
            .create_graph(GraphConfig::new(GRAPH, peer(node)))
        {
            self.watches[node].graph_opened(graph);
        }
    }

    fn register(&mut self, node: usize, bits: u16) {
        let Some(graph) = self.watches[node].graph() else {
            return;
        };
        let types = event_types(bits);
        if let Ok(registration) = self.cluster.node(node).register_event(graph, &types) {
            self.watches[node].registered(registration, &types);
        }
    }

    /// Every link the node has: simulated ones, then those accepted by hand.
    fn links(&self, node: usize) -> Vec<LinkId> {
        let mut links = self.cluster.links(node);
        links.extend(self.strays[node].iter().copied());
        links
    }

    fn apply(&mut self, op: Op) {
        let n = self.count();
        let now = self.cluster.now();
        match op {
            Op::Open {
                from,
                to,
                wrong_peer,
                pinned,
            } => {
                let (from, to) = (usize::from(from) % n, usize::from(to) % n);
                let Some(graph) = self.watches[from].graph() else {
                    return;
                };
                let address = if pinned {
                    // Pinned to the next node's identity: wrong unless it is `to` itself.
                    let mut address = self.cluster.pinned_address((to + 1) % n);
                    address.socket = self.cluster.address(to).socket;
                    address
                } else {
                    self.cluster.address(to)
                };
                let target = if wrong_peer { peer(to + 7) } else { peer(to) };
                let listed = self.cluster.nodes[from]
                    .node
                    .enum_connections(graph, peergraph_core::ConnectionKinds::DIRECT)
                    .expect("live graph")
                    .len();
                match self
                    .cluster
                    .node(from)
                    .open_direct_connection(now, graph, &target, address)
                {
                    Ok(id) => {
                        assert!(listed < MAX_CONNECTIONS, "open beyond the connection limit");
                        self.watches[from].opened(id);
                    }
                    Err(OpenError::ConnectionLimit) => {
                        assert_eq!(listed, MAX_CONNECTIONS, "connection count drifted");
                    }
                    Err(OpenError::ConnectSelf) => assert_eq!(target, peer(from)),
                    Err(OpenError::TooManyPendingHandshakes | OpenError::EventBacklog) => {}
                    Err(error) => panic!("open failed: {error:?}"),
                }
            }
            Op::Send { node, pick, len } => {
                let node = usize::from(node) % n;
                let (Some(graph), live) = (self.watches[node].graph(), self.watches[node].live())
                else {
                    return;
                };
                if let Some(id) = live.get(usize::from(pick) % live.len().max(1)) {
                    let data = Bytes::from(vec![len; usize::from(len) * 3]);
                    let _ = self
                        .cluster
                        .node(node)
                        .send_data(now, graph, *id, TYPE, data);
                }
            }
            Op::Close { node, pick } => {
                let node = usize::from(node) % n;
                let (Some(graph), live) = (self.watches[node].graph(), self.watches[node].live())
                else {
                    return;
                };
                if let Some(id) = live.get(usize::from(pick) % live.len().max(1)) {
                    self.cluster
                        .node(node)
                        .close_direct_connection(graph, *id)
                        .expect("a listed id can be closed");
                }
            }
            Op::CloseGraph { node } => {
                let node = usize::from(node) % n;
                if let Some(graph) = self.watches[node].graph() {
                    self.cluster
                        .node(node)
                        .close_graph(graph)
                        .expect("live graph");
                    self.watches[node].graph_closed();
                }
            }
            Op::OpenGraph { node } => self.open_graph(usize::from(node) % n),
            Op::Register { node, types } => self.register(usize::from(node) % n, types),
            Op::Unregister { node, pick } => {
                let node = usize::from(node) % n;
                let registrations = self.watches[node].registrations();
                if let Some(registration) =
                    registrations.get(usize::from(pick) % registrations.len().max(1))
                {
                    self.cluster
                        .node(node)
                        .unregister_event(*registration)
                        .expect("live registration");
                    self.watches[node].unregistered(*registration);
                }
            }
            Op::Inject { node, pick, frame } => {
                let node = usize::from(node) % n;
                let links = self.links(node);
                if let Some(link) = links.get(usize::from(pick) % links.len().max(1)) {
                    self.cluster
                        .node(node)
                        .handle_frame(now, *link, frame.encode());
                }
            }
            Op::AcceptStray { node, exporter } => {
                let node = usize::from(node) % n;
                let up = LinkUp {
                    remote_identity: PeerIdentity::from_spki_sha256([exporter; 32]),
                    remote_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 9)),
                    exporter: [exporter; 32],
                };
                let link = self.cluster.node(node).accept_link(now, up);
                self.strays[node].push(link);
            }
            Op::DropLink { node, pick, reason } => {
                let node = usize::from(node) % n;
                let links = self.links(node);
                if let Some(link) = links.get(usize::from(pick) % links.len().max(1)) {
                    let reason = match reason % 5 {
                        0 => LinkCloseReason::Closed,
                        1 => LinkCloseReason::Lost,
                        2 => LinkCloseReason::TimedOut,
                        3 => LinkCloseReason::Unreachable,
                        _ => LinkCloseReason::FrameTooLarge,
                    };
                    self.cluster
                        .node(node)
                        .handle_link_closed(now, *link, reason);
                }
            }
            Op::Advance { millis } => {
                let step = Duration::from_millis(u64::from(millis) * 4);
                self.cluster.run_for(step).expect("no livelock");
            }
            Op::Settle => self.cluster.settle().expect("no livelock"),
            Op::Partition { a, b } => self
                .cluster
                .partition(usize::from(a) % n, usize::from(b) % n),
            Op::Heal { a, b } => self.cluster.heal(usize::from(a) % n, usize::from(b) % n),
            Op::Restart { node } => {
                let node = usize::from(node) % n;
                self.cluster.node(node).shutdown().expect("started");
                self.watches[node].graph_closed();
                self.cluster
                    .node(node)
                    .startup(PEER_GRAPH_VERSION)
                    .expect("version 1.0");
                self.cluster
                    .node(node)
                    .set_listening(true)
                    .expect("started");
                self.open_graph(node);
                self.register(node, 0xffff);
            }
        }
    }

    fn check(&mut self) {
        self.cluster.flush();
        for (watch, sim) in self.watches.iter_mut().zip(&self.cluster.nodes) {
            watch.check(sim, MAX_CONNECTIONS);
        }
    }
}

fuzz_target!(|input: Input| {
    let mut world = World::new(&input);
    world.cluster.step_limit = 200_000;
    world.check();
    for op in input.ops.into_iter().take(256) {
        world.apply(op);
        world.check();
    }
    // Past every timeout: whatever is left must still satisfy every rule.
    for a in 0..world.count() {
        for b in 0..world.count() {
            world.cluster.heal(a, b);
        }
    }
    world
        .cluster
        .run_for(Duration::from_secs(60))
        .expect("no livelock");
    world.check();
});

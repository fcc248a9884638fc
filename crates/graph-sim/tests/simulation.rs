//! A deterministic simulation of 50 nodes on a seeded network: delays of 1-50 ms that reorder
//! traffic across links, links that break at random, and partitions of node pairs and groups
//! that are cut and healed over virtual time, under 10,000 random operations.
//!
//! After the run every id has exactly one outcome, every message on a connection that stayed up
//! arrived once and in order, every connection across a cut ended within its timeout, and both
//! ends of every surviving connection list each other.
//!
//! `PEERGRAPH_SIM_SEED=<n>` replays one seed bit for bit; without it a fixed list of seeds runs.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use peergraph_core::{
    ConnectionId, ConnectionKinds, ConnectionState, ConnectionStatus, EventType, GraphConfig,
    GraphEvent, GraphHandle, NodeConfig,
};
use peergraph_sim::{Cluster, NetConfig, SimRng};

const NODES: usize = 50;
const OPS: usize = 10_000;
const MIN_DELAY: Duration = Duration::from_millis(1);
const MAX_DELAY: Duration = Duration::from_millis(50);
const LINK_LOSS: f64 = 0.0005;
const HANDSHAKE: Duration = Duration::from_secs(10);
const IDLE: Duration = Duration::from_secs(30);
const SEEDS: [u64; 3] = [1, 0x5eed_0002, 0xdead_beef];
const GRAPH: &str = "sim-graph";
const TYPE_SEQ: [u8; 16] = *b"peergraph-sim-sq";
const TYPE_TAG: [u8; 16] = *b"peergraph-sim-tg";

/// What a sequenced message carries: sender node, sender's id for the connection, sequence.
type Stamp = (usize, u64, u32);

fn peer(index: usize) -> String {
    format!("node{index}")
}

fn peer_index(peer_id: &str) -> usize {
    peer_id.strip_prefix("node").unwrap().parse().unwrap()
}

/// What one node's application knows about one of its ids.
#[derive(Debug, Default)]
struct Life {
    /// Set for ids this node opened: when, and to which node.
    opened: Option<(Instant, usize)>,
    /// When `Connected` arrived, and the remote node it named.
    connected: Option<(Instant, usize)>,
    /// Every terminal event, with its time (exactly one is allowed).
    terminals: Vec<(Instant, ConnectionStatus)>,
    /// Any event that came after a terminal one, or a second `Connected`.
    misordered: Vec<ConnectionStatus>,
}

impl Life {
    fn remote(&self) -> usize {
        self.connected
            .map(|(_, remote)| remote)
            .or(self.opened.map(|(_, remote)| remote))
            .expect("every tracked id was opened or connected")
    }

    fn is_live(&self) -> bool {
        self.connected.is_some() && self.terminals.is_empty()
    }

    /// Whether the id was pending or established at `at`.
    fn alive_at(&self, at: Instant) -> bool {
        let started = self
            .opened
            .map(|(t, _)| t)
            .or(self.connected.map(|(t, _)| t))
            .is_some_and(|t| t <= at);
        started && self.terminals.first().is_none_or(|(t, _)| *t > at)
    }
}

/// A message names its sender, the sender's id for the connection and its place in the stream.
fn sequenced(from: usize, id: ConnectionId, seq: u32, pad: usize) -> Bytes {
    let mut bytes = Vec::with_capacity(16 + pad);
    bytes.extend_from_slice(&(from as u32).to_le_bytes());
    bytes.extend_from_slice(&id.get().to_le_bytes());
    bytes.extend_from_slice(&seq.to_le_bytes());
    bytes.resize(16 + pad, seq as u8);
    Bytes::from(bytes)
}

fn parse_header(data: &[u8]) -> (usize, u64) {
    let from = u32::from_le_bytes(data[0..4].try_into().unwrap()) as usize;
    let id = u64::from_le_bytes(data[4..12].try_into().unwrap());
    (from, id)
}

struct Sim {
    cluster: Cluster,
    graphs: Vec<GraphHandle>,
    rng: SimRng,
    lives: Vec<BTreeMap<ConnectionId, Life>>,
    cursors: Vec<usize>,
    /// Per receiving (node, id): the (sender, sender id, seq) of every sequenced message.
    streams: HashMap<(usize, ConnectionId), Vec<Stamp>>,
    /// Per receiving (node, id): the (sender, sender id) named by the final tag message.
    tags: HashMap<(usize, ConnectionId), (usize, u64)>,
    /// Messages accepted by `send_data`, per sending (node, id).
    sent: HashMap<(usize, ConnectionId), u32>,
    /// Pairs cut now: since when, and until when at the latest.
    cuts: HashMap<(usize, usize), (Instant, Instant)>,
    /// Finished cuts: pair, start, end.
    cut_history: Vec<((usize, usize), Instant, Instant)>,
    messages_sent: u64,
    origin: Instant,
}

impl Sim {
    fn new(seed: u64) -> Self {
        let net = NetConfig {
            seed,
            min_delay: MIN_DELAY,
            max_delay: MAX_DELAY,
            link_loss: LINK_LOSS,
        };
        let mut cluster = Cluster::new(NODES, net, |index| {
            let mut config = NodeConfig::with_seed(seed.wrapping_add(index as u64));
            config.timeouts.handshake = HANDSHAKE;
            config.timeouts.idle = IDLE;
            config
        });
        let cluster_origin = cluster.now();
        let mut graphs = Vec::new();
        for index in 0..NODES {
            let node = cluster.node(index);
            let graph = node
                .create_graph(GraphConfig::new(GRAPH, peer(index)))
                .unwrap();
            node.register_event(
                graph,
                &[EventType::DirectConnection, EventType::IncomingData],
            )
            .unwrap();
            graphs.push(graph);
        }
        Self {
            cluster,
            graphs,
            rng: SimRng::new(seed ^ 0x0bad_5eed),
            lives: (0..NODES).map(|_| BTreeMap::new()).collect(),
            cursors: vec![0; NODES],
            streams: HashMap::new(),
            tags: HashMap::new(),
            sent: HashMap::new(),
            cuts: HashMap::new(),
            cut_history: Vec::new(),
            messages_sent: 0,
            origin: cluster_origin,
        }
    }

    fn pick(&mut self, bound: usize) -> usize {
        self.rng.below(bound as u64) as usize
    }

    /// Reads the events taken since the last call into the per-id records.
    fn absorb_events(&mut self) {
        for node in 0..NODES {
            let sim = &self.cluster.nodes[node];
            for index in self.cursors[node]..sim.events.len() {
                let at = sim.event_times[index];
                match &sim.events[index].1 {
                    GraphEvent::DirectConnection(change) => {
                        let life = self.lives[node].entry(change.connection).or_default();
                        match &change.status {
                            ConnectionStatus::Connected(remote) => {
                                if life.connected.is_some() || !life.terminals.is_empty() {
                                    life.misordered.push(change.status.clone());
                                }
                                life.connected = Some((at, peer_index(&remote.peer_id)));
                            }
                            ConnectionStatus::Failed(_) | ConnectionStatus::Disconnected(_) => {
                                life.terminals.push((at, change.status.clone()));
                            }
                        }
                    }
                    GraphEvent::IncomingData(data) => {
                        let key = (node, data.connection);
                        let (from, id) = parse_header(&data.data);
                        if data.type_id == TYPE_TAG {
                            assert!(
                                self.tags.insert(key, (from, id)).is_none(),
                                "one tag per connection"
                            );
                            continue;
                        }
                        let seq = u32::from_le_bytes(data.data[12..16].try_into().unwrap());
                        assert!(
                            data.data[16..].iter().all(|byte| *byte == seq as u8),
                            "payload intact on node {node} {:?}",
                            data.connection
                        );
                        self.streams.entry(key).or_default().push((from, id, seq));
                    }
                    other => panic!("node {node}: unexpected event {other:?}"),
                }
            }
            self.cursors[node] = sim.events.len();
        }
    }

    fn live(&self, node: usize) -> Vec<ConnectionId> {
        self.lives[node]
            .iter()
            .filter(|(_, life)| life.is_live())
            .map(|(id, _)| *id)
            .collect()
    }

    fn cut(&mut self, a: usize, b: usize, until: Instant) {
        if a == b {
            return;
        }
        let now = self.cluster.now();
        let key = (a.min(b), a.max(b));
        self.cuts.entry(key).or_insert_with(|| {
            self.cluster.partition(a, b);
            (now, until)
        });
    }

    fn heal(&mut self, key: (usize, usize)) {
        if let Some((start, _)) = self.cuts.remove(&key) {
            self.cluster.heal(key.0, key.1);
            self.cut_history.push((key, start, self.cluster.now()));
        }
    }

    fn heal_expired(&mut self) {
        let now = self.cluster.now();
        let mut due: Vec<(usize, usize)> = self
            .cuts
            .iter()
            .filter(|(_, (_, until))| *until <= now)
            .map(|(key, _)| *key)
            .collect();
        due.sort_unstable();
        for key in due {
            self.heal(key);
        }
    }

    fn step(&mut self) {
        let roll = self.pick(100);
        let now = self.cluster.now();
        match roll {
            // Open to a random other node.
            0..20 => {
                let from = self.pick(NODES);
                let to = (from + 1 + self.pick(NODES - 1)) % NODES;
                let (graph, address) = (self.graphs[from], self.cluster.address(to));
                let id = self
                    .cluster
                    .node(from)
                    .open_direct_connection(now, graph, &peer(to), address)
                    .unwrap();
                let life = self.lives[from].entry(id).or_default();
                assert!(
                    life.opened.is_none() && life.connected.is_none(),
                    "node {from}: open returned a used id {id:?}"
                );
                life.opened = Some((now, to));
            }
            // Send a sequenced message on a live connection.
            20..65 => {
                let from = self.pick(NODES);
                let live = self.live(from);
                if live.is_empty() {
                    return;
                }
                let id = live[self.pick(live.len())];
                let pad = self.pick(24);
                let seq = self.sent.get(&(from, id)).copied().unwrap_or(0);
                let data = sequenced(from, id, seq, pad);
                let graph = self.graphs[from];
                // A connection whose link broke this instant is not live any more: both are fine.
                if self
                    .cluster
                    .node(from)
                    .send_data(now, graph, id, TYPE_SEQ, data)
                    .is_ok()
                {
                    self.sent.insert((from, id), seq + 1);
                    self.messages_sent += 1;
                }
            }
            // Close a live connection.
            65..72 => {
                let node = self.pick(NODES);
                let live = self.live(node);
                if live.is_empty() {
                    return;
                }
                let id = live[self.pick(live.len())];
                let graph = self.graphs[node];
                self.cluster
                    .node(node)
                    .close_direct_connection(graph, id)
                    .unwrap();
            }
            // Cut a pair, or one node from a group, for 1-60 s.
            72..75 => {
                let until = now + Duration::from_millis(1000 + self.rng.below(59_000));
                let a = self.pick(NODES);
                let group = if self.pick(3) == 0 {
                    1 + self.pick(8)
                } else {
                    1
                };
                for _ in 0..group {
                    let b = self.pick(NODES);
                    self.cut(a, b, until);
                }
            }
            // Heal a random cut early.
            75..77 => {
                let mut keys: Vec<(usize, usize)> = self.cuts.keys().copied().collect();
                if keys.is_empty() {
                    return;
                }
                keys.sort_unstable();
                let key = keys[self.pick(keys.len())];
                self.heal(key);
            }
            // Let time pass.
            _ => {
                let millis = self.rng.below(1500);
                self.cluster.run_for(Duration::from_millis(millis)).unwrap();
            }
        }
        self.cluster.flush();
        self.absorb_events();
        self.heal_expired();
    }

    /// Heals everything and runs past every timeout.
    fn finish(&mut self) {
        let mut keys: Vec<(usize, usize)> = self.cuts.keys().copied().collect();
        keys.sort_unstable();
        for key in keys {
            self.heal(key);
        }
        self.cluster
            .run_for(IDLE + HANDSHAKE + MAX_DELAY * 4)
            .unwrap();
        self.cluster.settle().unwrap();
        self.absorb_events();
    }

    /// Every surviving connection names its sending end once, so both ends can be paired.
    fn exchange_tags(&mut self) {
        let now = self.cluster.now();
        for node in 0..NODES {
            for id in self.live(node) {
                let mut tag = Vec::with_capacity(12);
                tag.extend_from_slice(&(node as u32).to_le_bytes());
                tag.extend_from_slice(&id.get().to_le_bytes());
                let graph = self.graphs[node];
                self.cluster
                    .node(node)
                    .send_data(now, graph, id, TYPE_TAG, Bytes::from(tag))
                    .unwrap();
            }
        }
        self.cluster.settle().unwrap();
        self.absorb_events();
    }

    fn close_everything(&mut self) {
        for node in 0..NODES {
            for id in self.live(node) {
                let graph = self.graphs[node];
                // The other end may have closed it first in this same pass.
                let _ = self.cluster.node(node).close_direct_connection(graph, id);
            }
            self.cluster.flush();
        }
        self.cluster.settle().unwrap();
        self.absorb_events();
    }
}

#[derive(Debug, Default)]
struct Figures {
    opened: usize,
    connected: usize,
    messages_sent: u64,
    messages_received: usize,
    cuts: usize,
    cut_bounds_checked: usize,
    survivors: usize,
    virtual_secs: f64,
}

fn check_outcomes(sim: &Sim, figures: &mut Figures) {
    for (node, lives) in sim.lives.iter().enumerate() {
        for (id, life) in lives {
            assert!(
                life.misordered.is_empty(),
                "node {node} {id:?}: {:?}",
                life.misordered
            );
            assert!(
                life.opened.is_some() || life.connected.is_some(),
                "node {node}: event for an id it never opened or accepted: {id:?}"
            );
            assert!(
                life.terminals.len() <= 1,
                "node {node} {id:?}: {:?}",
                life.terminals
            );
            if let Some((opened_at, target)) = life.opened {
                figures.opened += 1;
                assert!(
                    life.connected.is_some() || !life.terminals.is_empty(),
                    "node {node} {id:?} (to {target}) never got an outcome"
                );
                match life.connected {
                    Some((at, remote)) => {
                        assert_eq!(remote, target, "node {node} {id:?} reached the wrong peer");
                        assert!(
                            at <= opened_at + HANDSHAKE,
                            "node {node} {id:?} late Connected"
                        );
                    }
                    None => {
                        let (at, status) = &life.terminals[0];
                        assert!(
                            matches!(status, ConnectionStatus::Failed(_)),
                            "node {node} {id:?}: {status:?} without Connected"
                        );
                        assert!(
                            *at <= opened_at + HANDSHAKE,
                            "node {node} {id:?}: {status:?} {:?} after the open, past the \
                             handshake timeout",
                            *at - opened_at
                        );
                    }
                }
            } else {
                assert!(
                    life.terminals
                        .iter()
                        .all(|(_, s)| matches!(s, ConnectionStatus::Disconnected(_))),
                    "node {node} {id:?}: inbound id failed: {:?}",
                    life.terminals
                );
            }
            if life.connected.is_some() {
                figures.connected += 1;
            }
        }
    }
}

/// Every connection live or pending when its pair was cut for longer than the idle timeout ended
/// within the idle timeout (plus what was already in flight) of the cut.
fn check_cut_timeouts(sim: &Sim, figures: &mut Figures) {
    let bound = IDLE + MAX_DELAY;
    for &((a, b), start, end) in &sim.cut_history {
        if end - start <= bound {
            continue;
        }
        for (node, other) in [(a, b), (b, a)] {
            for (id, life) in &sim.lives[node] {
                if life.remote() != other || !life.alive_at(start) {
                    continue;
                }
                figures.cut_bounds_checked += 1;
                let ended = life.terminals.first().map(|(t, _)| *t);
                assert!(
                    ended.is_some_and(|t| t <= start + bound),
                    "node {node} {id:?} to {other}: cut at {:?}, ended {:?} later ({:?})",
                    start - sim.origin,
                    ended.map(|t| t - start),
                    life.terminals
                );
            }
        }
    }
}

fn check_streams(sim: &Sim, figures: &mut Figures) {
    for (&(node, receiver), stream) in &sim.streams {
        figures.messages_received += stream.len();
        let (from, from_id, _) = stream[0];
        let life = &sim.lives[node][&receiver];
        assert_eq!(
            from,
            life.remote(),
            "node {node} {receiver:?}: wrong sender"
        );
        for (expected, &(f, i, seq)) in stream.iter().enumerate() {
            assert_eq!(
                (f, i, seq),
                (from, from_id, expected as u32),
                "node {node} {receiver:?}: reordered, duplicated or lost message"
            );
        }
    }
    // Connections still up at the end lost nothing, in either direction.
    for node in 0..NODES {
        for id in sim.live(node) {
            let &(from, from_id) = sim
                .tags
                .get(&(node, id))
                .unwrap_or_else(|| panic!("node {node} {id:?}: tag lost"));
            let sender_id = sim.lives[from]
                .keys()
                .find(|candidate| candidate.get() == from_id)
                .copied()
                .unwrap();
            let sent = sim.sent.get(&(from, sender_id)).copied().unwrap_or(0);
            let received = sim.streams.get(&(node, id)).map_or(0, Vec::len);
            assert_eq!(
                received as u32, sent,
                "node {node} {id:?} from node {from} {sender_id:?}: messages lost"
            );
        }
    }
}

fn check_enumerations(sim: &Sim, figures: &mut Figures) {
    for node in 0..NODES {
        let graph = sim.graphs[node];
        let listed = sim.cluster.nodes[node]
            .node
            .enum_connections(graph, ConnectionKinds::DIRECT)
            .unwrap();
        let live = sim.live(node);
        let listed_ids: Vec<ConnectionId> = listed.iter().map(|info| info.id).collect();
        assert_eq!(listed_ids, live, "node {node}: enum_connections vs events");
        for info in &listed {
            assert_eq!(
                info.state,
                ConnectionState::Connected,
                "node {node} {info:?}"
            );
            let &(other, other_id) = sim.tags.get(&(node, info.id)).unwrap();
            assert_eq!(info.peer_id, peer(other), "node {node} {info:?}");
            let other_list = sim.cluster.nodes[other]
                .node
                .enum_connections(sim.graphs[other], ConnectionKinds::DIRECT)
                .unwrap();
            let back = other_list
                .iter()
                .find(|theirs| theirs.id.get() == other_id)
                .unwrap_or_else(|| panic!("node {other} does not list node {node}'s {info:?}"));
            assert_eq!(back.peer_id, peer(node));
            assert_eq!(
                sim.tags.get(&(other, back.id)),
                Some(&(node, info.id.get()))
            );
            figures.survivors += 1;
        }
    }
}

fn check_all_ended(sim: &Sim) {
    for (node, lives) in sim.lives.iter().enumerate() {
        for (id, life) in lives {
            assert_eq!(
                life.terminals.len(),
                1,
                "node {node} {id:?}: exactly one terminal outcome: {life:?}"
            );
        }
    }
}

fn run(seed: u64) -> Figures {
    let mut sim = Sim::new(seed);
    for _ in 0..OPS {
        sim.step();
    }
    sim.finish();
    let mut figures = Figures {
        messages_sent: sim.messages_sent,
        cuts: sim.cut_history.len(),
        ..Figures::default()
    };
    check_outcomes(&sim, &mut figures);
    check_cut_timeouts(&sim, &mut figures);
    sim.exchange_tags();
    check_streams(&sim, &mut figures);
    check_enumerations(&sim, &mut figures);
    sim.close_everything();
    check_all_ended(&sim);
    figures.virtual_secs = (sim.cluster.now() - sim.origin).as_secs_f64();
    figures
}

fn run_reporting_seed(seed: u64) {
    #[allow(clippy::disallowed_methods)] // wall time of the run, for the report only
    let wall = Instant::now();
    let outcome = std::panic::catch_unwind(|| run(seed));
    match outcome {
        Ok(f) => println!(
            "seed {seed}: {OPS} ops on {NODES} nodes; {} ids opened, {} connection ends up, \
             {} messages sent / {} received, {} cuts ({} ends checked against the idle bound), \
             {} ends alive at the end; {:.0} s virtual, {:.2?} wall",
            f.opened,
            f.connected,
            f.messages_sent,
            f.messages_received,
            f.cuts,
            f.cut_bounds_checked,
            f.survivors,
            f.virtual_secs,
            wall.elapsed()
        ),
        Err(panic) => {
            eprintln!("simulation failed with seed {seed}; replay: PEERGRAPH_SIM_SEED={seed}");
            std::panic::resume_unwind(panic);
        }
    }
}

#[test]
fn fifty_nodes_on_a_lossy_partitioned_network_keep_every_promise() {
    match std::env::var("PEERGRAPH_SIM_SEED") {
        Ok(seed) => run_reporting_seed(seed.trim().parse().expect("PEERGRAPH_SIM_SEED is a u64")),
        Err(_) => SEEDS.into_iter().for_each(run_reporting_seed),
    }
}

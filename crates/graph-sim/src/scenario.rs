//! One graph of many simulated nodes (design/0006), shared by the 200-node simulation test and
//! the graph benchmark: nodes join through three bootstrap nodes on a seeded network (1-40 ms
//! delays, links that break at random), and [`GraphRun::problem`] names what breaks the graph's
//! invariants: every live node lists exactly the live nodes, every degree is within bounds, the
//! neighbor graph is connected.
//!
//! The application's part is what Windows leaves to it: a graph that raises
//! `ConnectionRequired` is connected to a bootstrap node again.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use peergraph_core::{
    ConnectionKinds, ConnectionState, EventType, FIRST_APPLICATION_KIND, GraphConfig, GraphEvent,
    GraphHandle, NodeConfig, NodeId,
};

use crate::{Cluster, NetConfig, SimRng};

/// Nodes that create the graph; the others join through one of them.
pub const BOOTSTRAPS: usize = 3;
const GRAPH: &str = "sim-graph";
/// Each node's presence lifetime in these runs.
pub const PRESENCE_LIFETIME: Duration = Duration::from_secs(120);
const SECOND: Duration = Duration::from_secs(1);

/// Node `index`'s peer id.
pub fn peer(index: usize) -> String {
    format!("node{index}")
}

fn config(index: usize, seed: u64) -> NodeConfig {
    let mut config = NodeConfig::with_seed(seed ^ (index as u64 + 1) << 16);
    config.timeouts.presence_lifetime = PRESENCE_LIFETIME;
    config
}

/// One graph of simulated nodes and what the test knows of it.
pub struct GraphRun {
    /// The simulated network and its nodes.
    pub cluster: Cluster,
    rng: SimRng,
    /// Each node's graph, once it joined (and until it left).
    pub graphs: Vec<Option<GraphHandle>>,
    /// Nodes in the graph now: joined, not left, not vanished.
    pub live: BTreeSet<usize>,
    limits: peergraph_core::Limits,
    nodes: usize,
}

impl GraphRun {
    /// `nodes` nodes on a network seeded with `seed`; the bootstrap nodes have created the
    /// graph and joined each other.
    pub fn new(seed: u64, nodes: usize) -> Self {
        let net = NetConfig {
            seed,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(40),
            link_loss: 0.0002,
        };
        let cluster = Cluster::new(nodes, net, |index| config(index, seed));
        let limits = config(0, seed).limits;
        let mut graph = Self {
            cluster,
            rng: SimRng::new(seed),
            graphs: vec![None; nodes],
            live: BTreeSet::new(),
            limits,
            nodes,
        };
        for index in 0..BOOTSTRAPS {
            graph.join(index, true);
        }
        for index in 1..BOOTSTRAPS {
            graph.connect(index, 0);
        }
        graph
    }

    /// Node `index` creates (a bootstrap) or opens the graph; an opened graph with no neighbor
    /// raises `ConnectionRequired` at its first maintenance, and the application connects it.
    pub fn join(&mut self, index: usize, create: bool) {
        let config = GraphConfig::new(GRAPH, peer(index));
        let node = self.cluster.node(index);
        let handle = if create {
            node.create_graph(config)
        } else {
            node.open_graph(config)
        }
        .expect("a valid graph");
        node.register_event(
            handle,
            &[
                EventType::ConnectionRequired,
                EventType::NodeChanged,
                EventType::NeighborConnection,
            ],
        )
        .expect("a live graph");
        self.graphs[index] = Some(handle);
        self.live.insert(index);
    }

    fn connect_to_bootstrap(&mut self, index: usize) {
        let bootstrap = self.rng.below(BOOTSTRAPS as u64) as usize;
        if bootstrap != index {
            self.connect(index, bootstrap);
        }
    }

    fn connect(&mut self, index: usize, to: usize) {
        let now = self.cluster.now();
        let address = self.cluster.address(to);
        let graph = self.graphs[index].expect("a node in the graph");
        // A refusal (the bootstrap is at its limit) raises `ConnectionRequired` again.
        let _ = self.cluster.node(index).connect(now, graph, None, address);
    }

    /// Runs one second of virtual time and plays the applications' part; checks that no node
    /// holds more neighbors than its hard limit.
    pub fn second(&mut self) {
        self.cluster.run_for(SECOND).expect("no livelock");
        for index in self.live.clone() {
            let events = self.cluster.take_events(index);
            if events
                .iter()
                .any(|(_, event)| *event == GraphEvent::ConnectionRequired)
            {
                self.connect_to_bootstrap(index);
            }
            let held = self.neighbors(index).len();
            assert!(
                held <= self.limits.max_neighbors_per_graph,
                "node {index} holds {held} neighbors"
            );
        }
    }

    /// The live nodes `index`'s established neighbor links reach.
    pub fn neighbors(&mut self, index: usize) -> Vec<NodeId> {
        let graph = self.graphs[index].expect("a node in the graph");
        self.cluster
            .node(index)
            .enum_connections(graph, ConnectionKinds::NEIGHBOR)
            .expect("a live graph")
            .into_iter()
            .filter(|info| info.state == ConnectionState::Connected)
            .filter_map(|info| info.node_id)
            .collect()
    }

    /// Node `index`'s node id.
    pub fn node_id(&mut self, index: usize) -> NodeId {
        let graph = self.graphs[index].expect("a node in the graph");
        self.cluster
            .node(index)
            .node_info(graph)
            .expect("a live graph")
            .node_id
    }

    /// What is wrong now, if anything: a node listing other than the live nodes, a degree out
    /// of bounds, or a neighbor graph that is not connected.
    pub fn problem(&mut self) -> Option<String> {
        let live: Vec<usize> = self.live.iter().copied().collect();
        let expected: BTreeSet<String> = live.iter().map(|index| peer(*index)).collect();
        for &index in &live {
            let graph = self.graphs[index].expect("a node in the graph");
            let listed: BTreeSet<String> = self
                .cluster
                .node(index)
                .enum_nodes(graph, None)
                .expect("a live graph")
                .into_iter()
                .map(|node| node.peer_id)
                .collect();
            if listed != expected {
                let missing = expected.difference(&listed).count();
                let extra: Vec<&String> = listed.difference(&expected).collect();
                return Some(format!(
                    "node {index} lists {missing} too few, {} too many ({extra:?})",
                    extra.len()
                ));
            }
            let degree = self.neighbors(index).len();
            // Exploring adds one link at a time, and a node sheds what is over its maximum at
            // its next round: one over is a node between two rounds.
            if !(self.limits.min_neighbors..=self.limits.max_neighbors + 1).contains(&degree) {
                return Some(format!("node {index} has {degree} neighbors"));
            }
        }
        let reached = self.reached();
        (reached != live.len()).then(|| {
            format!(
                "the neighbor graph reaches {reached} of {} nodes",
                live.len()
            )
        })
    }

    /// How many live nodes the first one reaches over established neighbor links.
    pub fn reached(&mut self) -> usize {
        let live: Vec<usize> = self.live.iter().copied().collect();
        let ids: HashMap<NodeId, usize> = live
            .iter()
            .map(|index| (self.node_id(*index), *index))
            .collect();
        let mut seen = BTreeSet::from([live[0]]);
        let mut queue = VecDeque::from([live[0]]);
        while let Some(index) = queue.pop_front() {
            for id in self.neighbors(index) {
                if let Some(next) = ids.get(&id)
                    && seen.insert(*next)
                {
                    queue.push_back(*next);
                }
            }
        }
        seen.len()
    }

    /// Runs until no problem is left; fails if one is still there after `bound`. Returns the
    /// virtual time it took.
    pub fn converge(&mut self, what: &str, bound: Duration) -> Duration {
        let start = self.cluster.now();
        loop {
            let Some(problem) = self.problem() else {
                return self.cluster.now() - start;
            };
            if std::env::var("PEERGRAPH_SIM_TRACE").is_ok() {
                eprintln!("{what} {:?}: {problem}", self.cluster.now() - start);
            }
            assert!(
                self.cluster.now() - start <= bound,
                "{what}: not converged after {bound:?}: {problem}"
            );
            self.second();
        }
    }

    /// Established neighbor links between live nodes.
    pub fn links(&mut self) -> usize {
        let live: Vec<usize> = self.live.iter().copied().collect();
        live.iter()
            .map(|index| self.neighbors(*index).len())
            .sum::<usize>()
            / 2
    }

    /// Every other node joins, ten a second; returns the virtual time from the last join until
    /// every invariant holds (failing after `bound`).
    pub fn join_all(&mut self, bound: Duration) -> Duration {
        for index in BOOTSTRAPS..self.nodes {
            self.join(index, false);
            if index % 10 == 0 {
                self.second();
            }
        }
        self.converge("join", bound)
    }

    /// Node `from` publishes one item; returns how many copies of it the links carried until
    /// the network was quiet, and how many neighbor links there were. Checks that every live
    /// node holds it.
    pub fn flood_one(&mut self, from: usize) -> (u64, u64) {
        let before = self.cluster.flood_items_delivered(FIRST_APPLICATION_KIND);
        let now = self.cluster.now();
        let handle = self.graphs[from].expect("a live node");
        self.cluster
            .node(from)
            .publish(
                now,
                handle,
                FIRST_APPLICATION_KIND,
                b"hello",
                1,
                PRESENCE_LIFETIME,
                "all".into(),
            )
            .expect("a valid item");
        self.cluster.settle().expect("no livelock");
        let copies = self.cluster.flood_items_delivered(FIRST_APPLICATION_KIND) - before;
        for index in self.live.clone() {
            let handle = self.graphs[index].expect("a live node");
            let held = self
                .cluster
                .node(index)
                .flooded_items(handle, FIRST_APPLICATION_KIND)
                .expect("a live graph");
            assert_eq!(held.len(), 1, "node {index} holds the item");
        }
        (copies, self.links() as u64)
    }
}

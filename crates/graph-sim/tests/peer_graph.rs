//! The peer graph at scale (design/0006): 200 simulated nodes join one graph through three
//! bootstrap nodes on a seeded network (1-40 ms delays, links that break at random), then live
//! through churn (nodes that leave, nodes that vanish without a word) and a partition that
//! heals. The invariants, checked after each change within a bound of virtual time:
//!
//! - every live node lists exactly the live nodes (`enum_nodes`);
//! - no node ever holds more than `max_neighbors_per_graph` neighbors, and once settled each
//!   holds between `min_neighbors` and `max_neighbors`;
//! - the graph of neighbor links is connected;
//! - a flooded item reaches every node, crossing each neighbor link at most once each way.
//!
//! The application's part is what Windows leaves to it: a graph that raises
//! `ConnectionRequired` is connected to a bootstrap node again.
//!
//! `PEERGRAPH_SIM_SEED=<n>` replays one seed bit for bit; without it a fixed list of seeds runs.
//! `PEERGRAPH_SIM_TRACE=1` prints what is still wrong at each second of a convergence. The figures it prints (time to converge, items per flood) are the ones docs/PERFORMANCE.md
//! quotes.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use peergraph_core::{
    ConnectionKinds, ConnectionState, EventType, FIRST_APPLICATION_KIND, GraphConfig, GraphEvent,
    GraphHandle, NodeConfig, NodeId,
};
use peergraph_sim::{Cluster, NetConfig, SimRng};

const NODES: usize = 200;
const BOOTSTRAPS: usize = 3;
const SEEDS: [u64; 2] = [7, 0x5eed_0200];
const GRAPH: &str = "sim-graph";
const PRESENCE_LIFETIME: Duration = Duration::from_secs(120);
const SECOND: Duration = Duration::from_secs(1);

fn peer(index: usize) -> String {
    format!("node{index}")
}

fn config(index: usize, seed: u64) -> NodeConfig {
    let mut config = NodeConfig::with_seed(seed ^ (index as u64 + 1) << 16);
    config.timeouts.presence_lifetime = PRESENCE_LIFETIME;
    config
}

struct Graph {
    cluster: Cluster,
    rng: SimRng,
    graphs: Vec<Option<GraphHandle>>,
    /// Nodes in the graph now: joined, not left, not vanished.
    live: BTreeSet<usize>,
    /// Nodes cut off from every other for good.
    vanished: BTreeSet<usize>,
    limits: peergraph_core::Limits,
}

impl Graph {
    fn new(seed: u64) -> Self {
        let net = NetConfig {
            seed,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(40),
            link_loss: 0.0002,
        };
        let cluster = Cluster::new(NODES, net, |index| config(index, seed));
        let limits = config(0, seed).limits;
        let mut graph = Self {
            cluster,
            rng: SimRng::new(seed),
            graphs: vec![None; NODES],
            live: BTreeSet::new(),
            vanished: BTreeSet::new(),
            limits,
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
    fn join(&mut self, index: usize, create: bool) {
        let config = GraphConfig::new(GRAPH, peer(index));
        let node = self.cluster.node(index);
        let handle = if create {
            node.create_graph(config)
        } else {
            node.open_graph(config)
        }
        .unwrap();
        node.register_event(
            handle,
            &[
                EventType::ConnectionRequired,
                EventType::NodeChanged,
                EventType::NeighborConnection,
            ],
        )
        .unwrap();
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
        let graph = self.graphs[index].unwrap();
        // A refusal (the bootstrap is at its limit) raises `ConnectionRequired` again.
        let _ = self.cluster.node(index).connect(now, graph, None, address);
    }

    /// Runs one second of virtual time and plays the applications' part; checks that no node
    /// holds more neighbors than its hard limit.
    fn second(&mut self) {
        self.cluster.run_for(SECOND).unwrap();
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
    fn neighbors(&mut self, index: usize) -> Vec<NodeId> {
        let graph = self.graphs[index].unwrap();
        self.cluster
            .node(index)
            .enum_connections(graph, ConnectionKinds::NEIGHBOR)
            .unwrap()
            .into_iter()
            .filter(|info| info.state == ConnectionState::Connected)
            .filter_map(|info| info.node_id)
            .collect()
    }

    fn node_id(&mut self, index: usize) -> NodeId {
        let graph = self.graphs[index].unwrap();
        self.cluster.node(index).node_info(graph).unwrap().node_id
    }

    /// What is wrong now, if anything: a node listing other than the live nodes, a degree out
    /// of bounds, or a neighbor graph that is not connected.
    fn problem(&mut self) -> Option<String> {
        let live: Vec<usize> = self.live.iter().copied().collect();
        let expected: BTreeSet<String> = live.iter().map(|index| peer(*index)).collect();
        for &index in &live {
            let graph = self.graphs[index].unwrap();
            let listed: BTreeSet<String> = self
                .cluster
                .node(index)
                .enum_nodes(graph, None)
                .unwrap()
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
    fn reached(&mut self) -> usize {
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
    fn converge(&mut self, what: &str, bound: Duration) -> Duration {
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
    fn links(&mut self) -> usize {
        let live: Vec<usize> = self.live.iter().copied().collect();
        live.iter()
            .map(|index| self.neighbors(*index).len())
            .sum::<usize>()
            / 2
    }
}

fn run(seed: u64) {
    let mut graph = Graph::new(seed);
    // 197 more nodes join, ten a second.
    for index in BOOTSTRAPS..NODES {
        graph.join(index, false);
        if index % 10 == 0 {
            graph.second();
        }
    }
    let joined = graph.converge("join", Duration::from_secs(120));

    // One item from one node reaches every node, at most once per link and direction.
    let before = graph.cluster.flood_items_delivered(FIRST_APPLICATION_KIND);
    let now = graph.cluster.now();
    let handle = graph.graphs[42].unwrap();
    graph
        .cluster
        .node(42)
        .publish(
            now,
            handle,
            FIRST_APPLICATION_KIND,
            b"hello",
            1,
            PRESENCE_LIFETIME,
            "all".into(),
        )
        .unwrap();
    graph.cluster.settle().unwrap();
    let copies = graph.cluster.flood_items_delivered(FIRST_APPLICATION_KIND) - before;
    let links = graph.links() as u64;
    for index in graph.live.clone() {
        let handle = graph.graphs[index].unwrap();
        let held = graph
            .cluster
            .node(index)
            .flooded_items(handle, FIRST_APPLICATION_KIND)
            .unwrap();
        assert_eq!(held.len(), 1, "node {index} holds the item");
    }
    assert!(
        copies >= NODES as u64 - 1 && copies <= 2 * links,
        "{copies} copies over {links} links"
    );

    // Churn: ten nodes leave, ten vanish without a word.
    for index in (100..110).chain(150..160) {
        graph.live.remove(&index);
        if index < 150 {
            let handle = graph.graphs[index].take().unwrap();
            graph.cluster.node(index).close_graph(handle).unwrap();
        } else {
            graph.vanished.insert(index);
            for other in 0..NODES {
                if other != index {
                    graph.cluster.partition(index, other);
                }
            }
        }
    }
    let churned = graph.converge("churn", PRESENCE_LIFETIME + Duration::from_secs(60));

    // A partition in two halves for 45 s (the links across time out), then healed.
    let live: Vec<usize> = graph.live.iter().copied().collect();
    let (even, odd): (Vec<usize>, Vec<usize>) = live.iter().partition(|index| *index % 2 == 0);
    for a in &even {
        for b in &odd {
            graph.cluster.partition(*a, *b);
        }
    }
    for _ in 0..45 {
        graph.second();
    }
    assert!(
        graph.reached() <= live.len() / 2 + 1,
        "the partition cut the graph in two"
    );
    for a in &even {
        for b in &odd {
            graph.cluster.heal(*a, *b);
        }
    }
    let healed = graph.converge("partition", Duration::from_secs(120));
    let copies_per_link = copies as f64 / links as f64;
    println!(
        "seed {seed}: {NODES} nodes converged {joined:?} after the last join, {churned:?} after \
         churn, {healed:?} after the partition healed; one item: {copies} copies over {links} \
         links ({copies_per_link:.2} per link)"
    );
}

#[test]
fn two_hundred_nodes_join_churn_and_heal_into_one_graph() {
    match std::env::var("PEERGRAPH_SIM_SEED") {
        Ok(seed) => run(seed.trim().parse().expect("PEERGRAPH_SIM_SEED is a u64")),
        Err(_) => SEEDS.into_iter().for_each(run),
    }
}

//! Shared set-up for the behaviour tests: two or more simulated nodes with a graph each.

#![allow(dead_code, unreachable_pub)]

use peergraph_core::{
    ConnectError, ConnectionChange, ConnectionId, ConnectionStatus, EventType, GraphConfig,
    GraphEvent, GraphHandle, IncomingData, Node, Output, RegistrationHandle,
};
use peergraph_sim::Cluster;

pub const TYPE_A: [u8; 16] = *b"peergraph-test-a";
pub const GRAPH: &str = "test-graph";

pub const ALL_DIRECT: &[EventType] = &[
    EventType::DirectConnection,
    EventType::IncomingData,
    EventType::StatusChanged,
];

/// A cluster in which node `i` has graph `GRAPH` with peer id `peer{i}` and one registration for
/// `ALL_DIRECT`.
pub struct World {
    pub cluster: Cluster,
    pub graphs: Vec<GraphHandle>,
    pub registrations: Vec<RegistrationHandle>,
}

/// Drains a node driven by hand: every output before the timeout, in order.
pub fn outputs(node: &mut Node, now: std::time::Instant) -> Vec<Output> {
    let mut outputs = Vec::new();
    loop {
        match node.poll_output(now) {
            Output::Timeout(_) => return outputs,
            output => outputs.push(output),
        }
    }
}

pub fn peer(index: usize) -> String {
    format!("peer{index}")
}

impl World {
    pub fn new(count: usize) -> Self {
        Self::from_cluster(Cluster::with_defaults(count), |_| {
            GraphConfig::new(GRAPH, "")
        })
    }

    pub fn from_cluster(mut cluster: Cluster, graph: impl Fn(usize) -> GraphConfig) -> Self {
        let mut graphs = Vec::new();
        let mut registrations = Vec::new();
        for index in 0..cluster.nodes.len() {
            let mut config = graph(index);
            config.peer_id = peer(index);
            let handle = cluster
                .node(index)
                .create_graph(config)
                .expect("valid graph");
            let registration = cluster
                .node(index)
                .register_event(handle, ALL_DIRECT)
                .expect("valid registration");
            graphs.push(handle);
            registrations.push(registration);
        }
        Self {
            cluster,
            graphs,
            registrations,
        }
    }

    /// Node `from` starts a neighbor connection to node `to` (`peer_id`: the peer expected
    /// there, `None` for any).
    pub fn neighbor(
        &mut self,
        from: usize,
        to: usize,
        peer_id: Option<&str>,
    ) -> Result<ConnectionId, ConnectError> {
        let now = self.cluster.now();
        let address = self.cluster.address(to);
        let graph = self.graphs[from];
        self.cluster
            .node(from)
            .connect(now, graph, peer_id, address)
    }

    pub fn open(&mut self, from: usize, to: usize) -> ConnectionId {
        let now = self.cluster.now();
        let address = self.cluster.address(to);
        let graph = self.graphs[from];
        self.cluster
            .node(from)
            .open_direct_connection(now, graph, &peer(to), address)
            .expect("open accepted")
    }

    /// Opens from `from` to `to`, settles, and returns both ends' ids.
    pub fn connect(&mut self, from: usize, to: usize) -> (ConnectionId, ConnectionId) {
        let before = self.connected_ids(to).len();
        let id = self.open(from, to);
        self.cluster.settle().expect("no livelock");
        assert!(
            self.connection_changes(from)
                .iter()
                .any(|change| change.connection == id
                    && matches!(change.status, ConnectionStatus::Connected(_))),
            "initiator saw Connected for {id:?}: {:?}",
            self.connection_changes(from)
        );
        let accepted = self.connected_ids(to);
        assert_eq!(accepted.len(), before + 1, "target saw one new Connected");
        (id, *accepted.last().expect("checked above"))
    }

    pub fn events(&self, index: usize) -> Vec<GraphEvent> {
        self.cluster.nodes[index]
            .events
            .iter()
            .map(|(_, event)| event.clone())
            .collect()
    }

    pub fn connection_changes(&self, index: usize) -> Vec<ConnectionChange> {
        self.events(index)
            .into_iter()
            .filter_map(|event| match event {
                GraphEvent::DirectConnection(change) => Some(change),
                _ => None,
            })
            .collect()
    }

    pub fn changes_for(&self, index: usize, id: ConnectionId) -> Vec<ConnectionStatus> {
        self.connection_changes(index)
            .into_iter()
            .filter(|change| change.connection == id)
            .map(|change| change.status)
            .collect()
    }

    pub fn connected_ids(&self, index: usize) -> Vec<ConnectionId> {
        self.connection_changes(index)
            .into_iter()
            .filter(|change| matches!(change.status, ConnectionStatus::Connected(_)))
            .map(|change| change.connection)
            .collect()
    }

    pub fn incoming(&self, index: usize) -> Vec<IncomingData> {
        self.events(index)
            .into_iter()
            .filter_map(|event| match event {
                GraphEvent::IncomingData(data) => Some(data),
                _ => None,
            })
            .collect()
    }

    /// Closes connection `id` of node `index`, which must be open or pending there.
    pub fn close(&mut self, index: usize, id: ConnectionId) {
        let graph = self.graphs[index];
        self.cluster
            .node(index)
            .close_direct_connection(graph, id)
            .expect("the connection is open or pending");
    }

    pub fn send(&mut self, index: usize, id: ConnectionId, payload: &[u8]) {
        let now = self.cluster.now();
        let graph = self.graphs[index];
        self.cluster
            .node(index)
            .send_data(
                now,
                graph,
                id,
                TYPE_A,
                bytes::Bytes::copy_from_slice(payload),
            )
            .expect("send accepted");
    }
}

//! The graphs this node is in: their ids, this node's identity and membership key in each, their
//! status flags, their registrations, the connection counts their limits need, and what they
//! flood (items, presence, the nodes they know).

use std::time::{Duration, Instant};

use crate::config::GraphConfig;
use crate::flood::Store;
use crate::ids::{GraphHandle, NodeId, RegistrationHandle};
use crate::info::ConnectionKind;
use crate::presence::{LocalPresence, Nodes};
use crate::proof::GraphKey;
use crate::records::RecordStore;
use crate::rng::SplitMix64;
use crate::slots::Slots;
use crate::status::GraphStatus;

/// One graph as this node holds it.
pub(crate) struct Graph {
    graph_id: String,
    peer_id: String,
    node_id: NodeId,
    key: GraphKey,
    registrations: Vec<RegistrationHandle>,
    /// Pending and established direct connections.
    connections: usize,
    /// Pending and established neighbor connections.
    neighbors: usize,
    /// Established connections of both kinds.
    established: usize,
    status: GraphStatus,
    /// The items the graph floods.
    pub(crate) items: Store,
    /// The graph's records.
    pub(crate) records: RecordStore,
    /// Record types to raise `Synchronized` for, in order.
    pub(crate) sync_precedence: Vec<[u8; 16]>,
    /// A neighbor's greeting arrived once (or the graph was created here).
    pub(crate) greeted: bool,
    /// This node's own announcement.
    pub(crate) presence: LocalPresence,
    /// The other nodes that announce themselves.
    pub(crate) nodes: Nodes,
    /// When maintenance next runs; `None`: at the next chance.
    pub(crate) maintain_at: Option<Instant>,
    /// The graph's live entry in the node's graph deadlines.
    pub(crate) timer_at: Option<Instant>,
    /// A neighbor connection was established once.
    pub(crate) had_neighbor: bool,
    /// `ConnectionRequired` was raised since the graph last had a neighbor.
    pub(crate) connection_required: bool,
}

impl Graph {
    pub(crate) fn graph_id(&self) -> &str {
        &self.graph_id
    }

    /// This node's peer id in the graph.
    pub(crate) fn peer_id(&self) -> &str {
        &self.peer_id
    }

    /// This node's node id in the graph.
    pub(crate) fn node_id(&self) -> NodeId {
        self.node_id
    }

    pub(crate) fn key(&self) -> &GraphKey {
        &self.key
    }

    pub(crate) fn status(&self) -> GraphStatus {
        self.status
    }

    /// The graph's live registrations, oldest first.
    pub(crate) fn registrations(&self) -> &[RegistrationHandle] {
        &self.registrations
    }

    pub(crate) fn add_registration(&mut self, registration: RegistrationHandle) {
        self.registrations.push(registration);
    }

    pub(crate) fn remove_registration(&mut self, registration: RegistrationHandle) {
        self.registrations.retain(|handle| *handle != registration);
    }

    /// Pending and established direct connections.
    pub(crate) fn connections(&self) -> usize {
        self.connections
    }

    /// Pending and established neighbor connections.
    pub(crate) fn neighbors(&self) -> usize {
        self.neighbors
    }

    /// A connection of `kind` was opened or admitted: it counts against its limit.
    pub(crate) fn add(&mut self, kind: ConnectionKind) {
        match kind {
            ConnectionKind::Direct => self.connections += 1,
            ConnectionKind::Neighbor => self.neighbors += 1,
        }
    }

    /// A connection of `kind` ended (or its admission was undone).
    pub(crate) fn remove(&mut self, kind: ConnectionKind) {
        match kind {
            ConnectionKind::Direct => self.connections -= 1,
            ConnectionKind::Neighbor => self.neighbors -= 1,
        }
    }

    /// A connection was established; returns whether it is the graph's only one.
    pub(crate) fn add_established(&mut self) -> bool {
        self.established += 1;
        self.established == 1
    }

    /// An established connection ended; returns whether it was the graph's last.
    pub(crate) fn remove_established(&mut self) -> bool {
        self.established -= 1;
        self.established == 0
    }

    /// The earliest of the graph's own deadlines: an item's expiry, its presence refresh, its
    /// maintenance. `None` only while something is due at the next chance.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        [
            self.items.next_expiry(),
            self.presence.refresh_at,
            self.maintain_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Sets or clears `flag`; returns the new status if it changed.
    pub(crate) fn set_status(&mut self, flag: GraphStatus, on: bool) -> Option<GraphStatus> {
        let before = self.status;
        self.status.set(flag, on);
        (self.status != before).then_some(self.status)
    }
}

/// The node's graphs, under generation-checked handles.
pub(crate) struct Graphs {
    slots: Slots<Graph>,
    /// Draws node ids.
    rng: SplitMix64,
}

impl Graphs {
    pub(crate) fn new(rng_seed: u64) -> Self {
        Self {
            slots: Slots::new(),
            rng: SplitMix64::new(rng_seed),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// 64 random bits (record nonces).
    pub(crate) fn random(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// Adds a graph with a fresh node id. The caller has validated `config`. A graph this node
    /// created starts synchronized; one it opened is once a neighbor has sent it what it holds.
    pub(crate) fn insert(
        &mut self,
        config: GraphConfig,
        listening: bool,
        synchronized: bool,
    ) -> GraphHandle {
        let mut status = GraphStatus::empty();
        status.set(GraphStatus::SYNCHRONIZED, synchronized);
        status.set(GraphStatus::LISTENING, listening);
        let graph = Graph {
            node_id: NodeId(self.rng.next_u64()),
            key: GraphKey::new(config.secret.as_deref()),
            graph_id: config.graph_id,
            peer_id: config.peer_id,
            registrations: Vec::new(),
            connections: 0,
            neighbors: 0,
            established: 0,
            items: Store::default(),
            records: RecordStore::new(synchronized),
            sync_precedence: config.sync_precedence,
            greeted: synchronized,
            presence: LocalPresence::default(),
            nodes: Nodes::default(),
            maintain_at: None,
            timer_at: None,
            had_neighbor: false,
            connection_required: false,
            status,
        };
        GraphHandle(self.slots.insert(graph))
    }

    pub(crate) fn remove(&mut self, handle: GraphHandle) -> Option<Graph> {
        self.slots.remove(handle.0)
    }

    pub(crate) fn get(&self, handle: GraphHandle) -> Option<&Graph> {
        self.slots.get(handle.0)
    }

    pub(crate) fn get_mut(&mut self, handle: GraphHandle) -> Option<&mut Graph> {
        self.slots.get_mut(handle.0)
    }

    /// The graph this node is in as `peer_id` under `graph_id`.
    /// The graph with `graph_id` and `peer_id`.
    pub(crate) fn find(&self, graph_id: &str, peer_id: &str) -> Option<GraphHandle> {
        self.slots
            .iter()
            .find(|(_, graph)| graph.graph_id == graph_id && graph.peer_id == peer_id)
            .map(|(key, _)| GraphHandle(key))
    }

    /// A graph with `graph_id` whose peer id is not `initiator`'s: the target of a neighbor
    /// Hello that named no peer.
    pub(crate) fn find_other(&self, graph_id: &str, initiator: &str) -> Option<GraphHandle> {
        self.slots
            .iter()
            .find(|(_, graph)| graph.graph_id == graph_id && graph.peer_id != initiator)
            .map(|(key, _)| GraphHandle(key))
    }

    /// `base`, give or take a quarter, at random.
    pub(crate) fn jitter(&mut self, base: Duration) -> Duration {
        let quarter = base / 4;
        let spread = u32::try_from(self.rng.next_u64() % 1024).expect("below 1024");
        base - quarter + quarter * 2 * spread / 1024
    }

    /// A random index below `len` (which is not zero).
    pub(crate) fn pick(&mut self, len: usize) -> usize {
        (self.rng.next_u64() % len as u64) as usize
    }

    pub(crate) fn handles(&self) -> Vec<GraphHandle> {
        self.slots.keys().into_iter().map(GraphHandle).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_registration_leaves_the_graphs_list_and_only_it_does() {
        let mut graphs = Graphs::new(1);
        let handle = graphs.insert(GraphConfig::new("chat", "bob"), false, true);
        let graph = graphs.get_mut(handle).unwrap();
        let mut keys = Slots::new();
        let [first, second] = [(), ()].map(|()| RegistrationHandle(keys.insert(())));
        graph.add_registration(first);
        graph.add_registration(second);
        graph.remove_registration(first);
        assert_eq!(graph.registrations(), [second]);
    }
}

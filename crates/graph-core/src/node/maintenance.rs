//! Each graph's own deadlines (design/0006): its items expire, its announcement is refreshed,
//! and its maintenance keeps between `min_neighbors` and `max_neighbors` neighbors.

use std::time::Instant;

use crate::address::PeerAddress;
use crate::codec::CloseReason;
use crate::event::{ConnectionStatus, Direction, DisconnectReason, GraphEvent};
use crate::ids::{GraphHandle, LinkId, NodeId};
use crate::info::ConnectionKind;
use crate::links::LinkState;
use crate::status::GraphStatus;

use super::Node;

/// A graph with fewer than `max_neighbors` neighbors connects to one more node it knows about
/// once in this many maintenance rounds, so that the graph keeps mixing: two parts that were
/// cut off from each other find each other again while they still know each other's nodes.
const EXPLORE_ONE_ROUND_IN: usize = 8;

impl Node {
    /// Runs what is due for the graphs listed as due, then every graph deadline due at `now`.
    pub(super) fn fire_graph_deadlines(&mut self, now: Instant) {
        while let Some(graph) = self.graphs_due.pop() {
            self.graph_tick(now, graph);
        }
        loop {
            let graphs = &self.graphs;
            let due = self.graph_timers.pop_due(now, |at, graph| {
                graphs
                    .get(graph)
                    .is_some_and(|state| state.timer_at == Some(at))
            });
            let Some((_, graph)) = due else {
                break;
            };
            if let Some(state) = self.graphs.get_mut(graph) {
                state.timer_at = None;
            }
            self.graph_tick(now, graph);
        }
    }

    /// Expires the graph's items, refreshes its announcement and maintains its neighbors, as
    /// far as each is due; then schedules the graph's next deadline.
    fn graph_tick(&mut self, now: Instant, graph: GraphHandle) {
        let Some(state) = self.graphs.get_mut(graph) else {
            return;
        };
        let expired = state.items.expire(now);
        let maintain = state.maintain_at.is_none_or(|at| at <= now);
        self.forget_nodes(graph, &expired);
        self.expire_records(now, graph);
        self.refresh_presence(now, graph);
        if maintain {
            self.maintain(now, graph);
        }
        self.schedule_graph(graph);
    }

    /// Keeps the graph's entry in the graph deadlines at its earliest deadline.
    pub(super) fn schedule_graph(&mut self, graph: GraphHandle) {
        let Some(state) = self.graphs.get_mut(graph) else {
            return;
        };
        let next = match (state.next_deadline(), self.next_record_expiry(graph)) {
            (Some(own), Some(records)) => Some(own.min(records)),
            (own, records) => own.or(records),
        };
        let state = self.graphs.get_mut(graph).expect("looked up above");
        if next == state.timer_at {
            return;
        }
        state.timer_at = next;
        if let Some(at) = next {
            self.graph_timers.push(at, graph);
        }
        let graphs = &self.graphs;
        self.graph_timers.prune(graphs.len(), |at, graph| {
            graphs
                .get(graph)
                .is_some_and(|state| state.timer_at == Some(at))
        });
    }

    /// One round of neighbor maintenance: above `max_neighbors` established neighbors, sheds
    /// the surplus, links that peers opened first, at random; below `min_neighbors`, connects to as many nodes it
    /// knows from their presence and is not linked to, and below `max_neighbors` to one more
    /// once in [`EXPLORE_ONE_ROUND_IN`] rounds; with no neighbor and no node to try, raises
    /// `ConnectionRequired` (once, until the graph next has a neighbor).
    fn maintain(&mut self, now: Instant, graph: GraphHandle) {
        let interval = self.graphs.jitter(self.config.timeouts.maintenance);
        let limits = self.config.limits;
        let Some(state) = self.graphs.get_mut(graph) else {
            return;
        };
        state.maintain_at = Some(now + interval);
        let neighbors = state.neighbors();
        if neighbors > 0 {
            state.connection_required = false;
        }
        let mut linked_nodes = Vec::new();
        let mut linked_addresses = Vec::new();
        let mut established: Vec<(LinkId, Direction)> = Vec::new();
        for (id, link) in self.links.live() {
            if link.graph != Some(graph) || link.kind != ConnectionKind::Neighbor {
                continue;
            }
            linked_nodes.extend(link.remote_node_id);
            linked_addresses.extend(link.remote_addr);
            if link.state == LinkState::Connected {
                established.push((id, link.direction));
            }
        }
        if established.len() > limits.max_neighbors {
            // Links peers opened, first: their initiators know the nodes they learned here and
            // find others. At random, so that a node at its maximum still takes new links.
            established.sort_by_key(|(id, direction)| (*direction == Direction::Inbound, *id));
            let mut surplus = established.len() - limits.max_neighbors;
            while surplus > 0 {
                let inbound = established
                    .iter()
                    .rev()
                    .take_while(|(_, direction)| *direction == Direction::Inbound)
                    .count();
                let last = established.len() - 1;
                let shed = match inbound {
                    0 => last,
                    count => last - self.graphs.pick(count),
                };
                let (link, _) = established.remove(shed);
                self.end_link(
                    link,
                    Some(ConnectionStatus::Disconnected(
                        DisconnectReason::ClosedLocally,
                    )),
                    Some(CloseReason::Application),
                );
                surplus -= 1;
            }
            return;
        }
        let wanted = if neighbors < limits.min_neighbors {
            limits.min_neighbors - neighbors
        } else if neighbors < limits.max_neighbors && self.graphs.pick(EXPLORE_ONE_ROUND_IN) == 0 {
            1
        } else {
            return;
        };
        let Some(state) = self.graphs.get_mut(graph) else {
            return;
        };
        let mut candidates: Vec<(String, PeerAddress)> = state
            .nodes
            .iter()
            .filter(|node| !linked_nodes.contains(&node.node_id))
            .filter_map(|node| {
                let address = PeerAddress::pinned(*node.addresses.first()?, node.identity?);
                (!linked_addresses.contains(&address.socket))
                    .then(|| (node.peer_id.clone(), address))
            })
            .collect();
        if candidates.is_empty() {
            let alone = neighbors == 0
                && (state.had_neighbor || !state.status().contains(GraphStatus::SYNCHRONIZED));
            if alone && !state.connection_required {
                state.connection_required = true;
                self.emit(graph, GraphEvent::ConnectionRequired);
            }
            return;
        }
        for _ in 0..wanted {
            if candidates.is_empty()
                || self.links.pending(Direction::Outbound) >= limits.max_pending_handshakes
            {
                break;
            }
            let pick = self.graphs.pick(candidates.len());
            let (peer_id, address) = candidates.swap_remove(pick);
            self.dial(now, graph, ConnectionKind::Neighbor, &peer_id, address);
        }
    }

    /// Of two established neighbor links between the same two nodes (they dialed each other
    /// at once), both keep the one the lower node id opened. Returns the link this node closes
    /// because `link_id` came up, if any.
    pub(super) fn duplicate_neighbor(&self, link_id: LinkId) -> Option<LinkId> {
        let link = self.links.get(link_id)?;
        let graph = link.graph?;
        let local = self.graphs.get(graph)?.node_id();
        let remote = link.remote_node_id?;
        let opener = |direction: Direction| match direction {
            Direction::Outbound => local,
            Direction::Inbound => remote,
        };
        let (other, other_direction) = self.links.live().find_map(|(id, other)| {
            (id != link_id
                && other.graph == Some(graph)
                && other.kind == ConnectionKind::Neighbor
                && other.state == LinkState::Connected
                && other.remote_node_id == Some(remote))
            .then_some((id, other.direction))
        })?;
        let (mine, theirs): (NodeId, NodeId) = (opener(link.direction), opener(other_direction));
        if mine == theirs {
            // One node opened both: it closes the newer one, and the other end follows.
            return (mine == local).then_some(link_id.max(other));
        }
        Some(if mine > theirs { link_id } else { other })
    }
}

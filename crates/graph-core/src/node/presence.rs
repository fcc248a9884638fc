//! Presence (design/0006): each graph floods this node's announcement of itself, refreshed at
//! half its lifetime and withdrawn on close; the announcements of the others are the graph's
//! list of nodes (`enum_nodes`, `node_info_of`, `NodeChanged`), and dialing one by its node id
//! takes its address and identity from there.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use crate::address::PeerAddress;
use crate::error::{ArgumentProblem, InvalidArgument, NodeError, OpenError, PresenceError};
use crate::event::{GraphEvent, NodeChange, NodeChangeKind};
use crate::flood::{FloodItem, PRESENCE_KIND};
use crate::identity::PeerIdentity;
use crate::ids::{ConnectionId, GraphHandle, NodeId};
use crate::info::NodeInfo;
use crate::presence::{Announcement, MAX_ADDRESSES, MAX_ATTRIBUTES_LEN, item_id};
use crate::status::GraphStatus;

use super::Node;

/// Where this node accepts links, as its announcements say.
#[derive(Debug, Default)]
pub(super) struct Listening {
    pub(super) identity: Option<PeerIdentity>,
    pub(super) addresses: Vec<SocketAddr>,
}

impl Node {
    /// Tells the node its transport identity and the addresses it accepts links on (at most
    /// [`MAX_ADDRESSES`] are kept): every graph announces them, and other nodes dial them by
    /// node id. A runtime calls it once it listens.
    pub fn set_listen_addresses(&mut self, identity: PeerIdentity, addresses: &[SocketAddr]) {
        let addresses = addresses[..addresses.len().min(MAX_ADDRESSES)].to_vec();
        self.listening_at = Listening {
            identity: Some(identity),
            addresses,
        };
        for graph in self.graphs.handles() {
            self.presence_changed(graph);
        }
    }

    /// Sets this node's attribute text in a graph (`PeerGraphSetNodeAttributes`; `None` clears
    /// it): at most [`MAX_ATTRIBUTES_LEN`] bytes. The other nodes see `NodeChanged(Updated)`.
    pub fn set_node_attributes(
        &mut self,
        graph: GraphHandle,
        attributes: Option<&str>,
    ) -> Result<(), PresenceError> {
        self.graph(graph)?;
        let attributes = attributes.unwrap_or_default();
        if attributes.len() > MAX_ATTRIBUTES_LEN {
            let argument = InvalidArgument {
                argument: "attributes",
                problem: ArgumentProblem::TooLong,
            };
            return Err(PresenceError::InvalidArgument { argument });
        }
        let state = self.graphs.get_mut(graph).expect("checked live above");
        attributes.clone_into(&mut state.presence.attributes);
        self.presence_changed(graph);
        Ok(())
    }

    /// Whether this node announces itself in a graph (`PeerGraphSetPresence`; on by default).
    /// Off withdraws the announcement: the other nodes see `NodeChanged(Disconnected)` and no
    /// longer list it.
    pub fn set_presence(&mut self, graph: GraphHandle, present: bool) -> Result<(), PresenceError> {
        self.graph(graph)?;
        let state = self.graphs.get_mut(graph).expect("checked live above");
        if state.presence.present != present {
            state.presence.present = present;
            self.presence_changed(graph);
        }
        Ok(())
    }

    /// The nodes of a graph that announce themselves, this node first if it does
    /// (`PeerGraphEnumNodes`); only those with `peer_id` if given.
    pub fn enum_nodes(
        &self,
        graph: GraphHandle,
        peer_id: Option<&str>,
    ) -> Result<Vec<NodeInfo>, NodeError> {
        let state = self.graph(graph)?;
        let local = state.presence.present.then(|| self.local_node(graph));
        let mut others: Vec<NodeInfo> = state
            .nodes
            .iter()
            .map(|announcement| remote_node(graph, state.graph_id(), announcement))
            .collect();
        others.sort_by_key(|node| node.node_id);
        Ok(local
            .into_iter()
            .chain(others)
            .filter(|node| peer_id.is_none_or(|peer_id| node.peer_id == peer_id))
            .collect())
    }

    /// One node of a graph (`PeerGraphGetNodeInfo`): this node, or one that announces itself.
    pub fn node_info_of(&self, graph: GraphHandle, node: NodeId) -> Result<NodeInfo, NodeError> {
        let state = self.graph(graph)?;
        if node == state.node_id() {
            return Ok(self.local_node(graph));
        }
        let announcement = state.nodes.get(node).ok_or(NodeError::NodeNotFound)?;
        Ok(remote_node(graph, state.graph_id(), announcement))
    }

    /// Opens a direct connection to a node found in the graph, at the first address its
    /// announcement lists and pinned to the identity it announced: as
    /// [`open_direct_connection`](Self::open_direct_connection), without an address from the
    /// caller. Should an address be unreachable, the next one announced is dialed, under the
    /// same id and within the same handshake timeout.
    pub fn open_direct_connection_to_node(
        &mut self,
        now: Instant,
        graph: GraphHandle,
        node: NodeId,
    ) -> Result<ConnectionId, OpenError> {
        let state = self.graph(graph)?;
        if node == state.node_id() {
            return Err(OpenError::ConnectSelf);
        }
        let announcement = state.nodes.get(node).ok_or(OpenError::NodeNotFound)?;
        let (Some(identity), Some(socket)) =
            (announcement.identity, announcement.addresses.first())
        else {
            return Err(OpenError::NoAddress);
        };
        let peer_id = announcement.peer_id.clone();
        let address = PeerAddress::pinned(*socket, identity);
        let fallbacks: Vec<PeerAddress> = announcement.addresses[1..]
            .iter()
            .map(|socket| PeerAddress::pinned(*socket, identity))
            .collect();
        let connection = self.open_direct_connection(now, graph, &peer_id, address)?;
        if !fallbacks.is_empty()
            && let Some(link) = self
                .links
                .link_of(connection)
                .and_then(|link| self.links.get_mut(link))
        {
            link.fallbacks = fallbacks.into_boxed_slice();
        }
        Ok(connection)
    }

    /// This node in `graph`, which the caller checked is live.
    pub(super) fn local_node(&self, graph: GraphHandle) -> NodeInfo {
        let state = self
            .graphs
            .get(graph)
            .expect("the caller checked the graph");
        NodeInfo {
            graph,
            graph_id: state.graph_id().to_owned(),
            peer_id: state.peer_id().to_owned(),
            node_id: state.node_id(),
            status: state.status(),
            identity: self.listening_at.identity,
            addresses: self.listening_at.addresses.clone(),
            attributes: state.presence.attributes.clone(),
        }
    }

    /// The graph's announcement must be published again at the next chance.
    fn presence_changed(&mut self, graph: GraphHandle) {
        if let Some(state) = self.graphs.get_mut(graph) {
            state.presence.changed = true;
            self.graphs_due.push(graph);
        }
    }

    /// Publishes the graph's announcement if it changed or its refresh is due; a node that does
    /// not announce itself publishes one withdrawal and then nothing.
    pub(super) fn refresh_presence(&mut self, now: Instant, graph: GraphHandle) {
        let lifetime = self.config.timeouts.presence_lifetime;
        let Some(state) = self.graphs.get_mut(graph) else {
            return;
        };
        let (node_id, peer_id) = (state.node_id(), state.peer_id().to_owned());
        let presence = &mut state.presence;
        if !presence.changed && presence.refresh_at.is_none_or(|at| at > now) {
            return;
        }
        presence.changed = false;
        if !presence.present && !presence.published {
            presence.refresh_at = None;
            return;
        }
        presence.version += 1;
        presence.published = presence.present;
        presence.refresh_at = presence.present.then(|| now + lifetime / 2);
        let announcement = Announcement {
            node_id,
            peer_id,
            identity: self.listening_at.identity,
            addresses: self.listening_at.addresses.clone(),
            attributes: presence.attributes.clone(),
            present: presence.present,
        };
        let item = FloodItem {
            kind: PRESENCE_KIND,
            id: Bytes::copy_from_slice(&item_id(announcement.node_id)),
            version: presence.version,
            lifetime,
            payload: announcement.encode(),
        };
        // Kept, unless the store is full: it goes to the neighbors all the same.
        let limit = self.config.limits.max_flood_items_per_graph;
        state.items.offer(&item, now, limit);
        self.forward(graph, None, std::slice::from_ref(&item));
    }

    /// Withdraws the graph's announcement from its neighbors as the graph closes.
    pub(super) fn withdraw_presence(&mut self, graph: GraphHandle) {
        let Some(now) = self.now else {
            return;
        };
        let Some(state) = self.graphs.get_mut(graph) else {
            return;
        };
        state.presence.present = false;
        state.presence.changed = true;
        self.refresh_presence(now, graph);
    }

    /// A presence item from a neighbor, checked and not this node's own: the list of nodes
    /// follows it.
    pub(super) fn on_announcement(&mut self, graph: GraphHandle, announcement: Announcement) {
        let Some(state) = self.graphs.get_mut(graph) else {
            return;
        };
        let node_id = announcement.node_id;
        let peer_id = announcement.peer_id.clone();
        if let Some(change) = state.nodes.update(announcement) {
            self.emit_node_change(graph, node_id, peer_id, change);
        }
    }

    /// Presence items of `graph` expired: their nodes leave the list.
    pub(super) fn forget_nodes(&mut self, graph: GraphHandle, expired: &[(u32, Bytes)]) {
        for (kind, id) in expired {
            let Ok(id) = <[u8; 8]>::try_from(id.as_ref()) else {
                continue;
            };
            if *kind != PRESENCE_KIND {
                continue;
            }
            let Some(state) = self.graphs.get_mut(graph) else {
                return;
            };
            if let Some(gone) = state.nodes.remove(NodeId(u64::from_be_bytes(id))) {
                self.emit_node_change(
                    graph,
                    gone.node_id,
                    gone.peer_id,
                    NodeChangeKind::Disconnected,
                );
            }
        }
    }

    fn emit_node_change(
        &mut self,
        graph: GraphHandle,
        node_id: NodeId,
        peer_id: String,
        change: NodeChangeKind,
    ) {
        let event = GraphEvent::NodeChanged(NodeChange {
            node_id,
            peer_id,
            change,
        });
        self.emit(graph, event);
    }

    /// A neighbor's greeting is complete: an opened graph is now synchronized.
    pub(super) fn greeting_received(&mut self, graph: GraphHandle) {
        if let Some(state) = self.graphs.get_mut(graph) {
            state.greeted = true;
        }
        self.check_synchronized(graph);
    }
}

/// A node known from its announcement.
fn remote_node(graph: GraphHandle, graph_id: &str, announcement: &Announcement) -> NodeInfo {
    NodeInfo {
        graph,
        graph_id: graph_id.to_owned(),
        peer_id: announcement.peer_id.clone(),
        node_id: announcement.node_id,
        status: GraphStatus::empty(),
        identity: announcement.identity,
        addresses: announcement.addresses.clone(),
        attributes: announcement.attributes.clone(),
    }
}

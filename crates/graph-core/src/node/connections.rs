//! Commands on direct connections, and how a connection starts and ends.

use std::time::Instant;

use bytes::Bytes;

use crate::address::PeerAddress;
use crate::codec::{self, CloseReason};
use crate::error::{
    ArgumentProblem, CloseError, ConnectError, EnumError, InvalidArgument, OpenError, SendError,
};
use crate::event::{
    ConnectionChange, ConnectionStatus, Direction, DisconnectReason, FailReason, GraphEvent,
    RemotePeer,
};
use crate::ids::{ConnectionId, GraphHandle, LinkId};
use crate::info::{ConnectionInfo, ConnectionKind, ConnectionKinds, ConnectionState};
use crate::links::{Link, LinkState};
use crate::status::GraphStatus;
use crate::validate;

use super::Node;

impl Node {
    /// Starts a direct connection to `peer_id` at `address` (`PeerGraphOpenDirectConnection`).
    ///
    /// Returns the id at once; its outcome arrives later as exactly one
    /// `DirectConnection` event: `Connected` or `Failed`.
    pub fn open_direct_connection(
        &mut self,
        now: Instant,
        graph: GraphHandle,
        peer_id: &str,
        address: PeerAddress,
    ) -> Result<ConnectionId, OpenError> {
        let now = self.advance(now);
        let state = self.graph(graph)?;
        validate::name("peer_id", peer_id)
            .map_err(|argument| OpenError::InvalidArgument { argument })?;
        if peer_id == state.peer_id() {
            return Err(OpenError::ConnectSelf);
        }
        if state.connections() >= self.config.limits.max_direct_connections_per_graph {
            return Err(OpenError::ConnectionLimit);
        }
        if self.registrations.backlogged(state.registrations()) {
            return Err(OpenError::EventBacklog);
        }
        if self.links.pending(Direction::Outbound) >= self.config.limits.max_pending_handshakes {
            return Err(OpenError::TooManyPendingHandshakes);
        }
        Ok(self.dial(now, graph, ConnectionKind::Direct, peer_id, address))
    }

    /// Starts a neighbor connection to the graph's node at `address` (`PeerGraphConnect`):
    /// `peer_id` names the peer expected there, or `None` for whichever peer of the graph it is.
    ///
    /// Returns the id at once; its outcome arrives later as exactly one `NeighborConnection`
    /// event: `Connected` or `Failed`. A neighbor link is authenticated as a direct one is, graph
    /// secret included; `send_data` works on its id.
    pub fn connect(
        &mut self,
        now: Instant,
        graph: GraphHandle,
        peer_id: Option<&str>,
        address: PeerAddress,
    ) -> Result<ConnectionId, ConnectError> {
        let now = self.advance(now);
        let state = self.graph(graph)?;
        if let Some(peer_id) = peer_id {
            validate::name("peer_id", peer_id)
                .map_err(|argument| ConnectError::InvalidArgument { argument })?;
            if peer_id == state.peer_id() {
                return Err(ConnectError::ConnectSelf);
            }
        }
        let already = self.links.select(|link| {
            link.graph == Some(graph)
                && link.kind == ConnectionKind::Neighbor
                && link.remote_addr == Some(address.socket)
        });
        if !already.is_empty() {
            return Err(ConnectError::AlreadyExists);
        }
        if state.neighbors() >= self.config.limits.max_neighbors_per_graph {
            return Err(ConnectError::NeighborLimit);
        }
        if self.links.pending(Direction::Outbound) >= self.config.limits.max_pending_handshakes {
            return Err(ConnectError::TooManyPendingHandshakes);
        }
        let peer_id = peer_id.unwrap_or_default();
        Ok(self.dial(now, graph, ConnectionKind::Neighbor, peer_id, address))
    }

    /// An outbound link of `kind` to `peer_id` (empty: any peer of the graph) at `address`,
    /// counted against its graph's limit and dialed.
    pub(super) fn dial(
        &mut self,
        now: Instant,
        graph: GraphHandle,
        kind: ConnectionKind,
        peer_id: &str,
        address: PeerAddress,
    ) -> ConnectionId {
        let connection = self.links.allocate_connection();
        let deadline = now + self.config.timeouts.handshake;
        let mut link = Link::new(LinkState::Dialing, Direction::Outbound, now, deadline);
        link.kind = kind;
        link.graph = Some(graph);
        link.connection = Some(connection);
        link.remote_peer_id = peer_id.to_owned();
        link.remote_addr = Some(address.socket);
        let link_id = self.links.insert(link);
        let state = self
            .graphs
            .get_mut(graph)
            .expect("the caller checked the graph");
        state.add(kind);
        // A graph that tries a neighbor asks for a connection again if this one fails.
        state.connection_required &= kind != ConnectionKind::Neighbor;
        self.links.dial(link_id, address);
        self.links.schedule(link_id, &self.config.timeouts);
        connection
    }

    /// A link dialed by node id could not reach its address: its connection goes on to the
    /// node's next announced address, as a new link, within the same handshake deadline, and no
    /// event is raised for the address that failed.
    pub(super) fn dial_fallback(&mut self, now: Instant, link_id: LinkId) {
        let Some(link) = self.links.get_mut(link_id) else {
            return;
        };
        let Some((&address, rest)) = link.fallbacks.split_first() else {
            return;
        };
        let rest: Box<[PeerAddress]> = rest.into();
        let mut next = Link::new(
            LinkState::Dialing,
            Direction::Outbound,
            now,
            link.handshake_deadline,
        );
        next.kind = link.kind;
        next.graph = link.graph;
        next.connection = link.connection;
        next.remote_peer_id = std::mem::take(&mut link.remote_peer_id);
        next.remote_addr = Some(address.socket);
        next.fallbacks = rest;
        // Released without an event and without touching the graph's counts: the connection
        // lives on in the new link.
        self.links.release(link_id);
        self.links.remove(link_id);
        let next = self.links.insert(next);
        self.links.dial(next, address);
        self.links.schedule(next, &self.config.timeouts);
    }

    /// Queues a typed message on an established connection (`PeerGraphSendData`). Returns once
    /// queued; the peer's `IncomingData` events arrive in send order.
    pub fn send_data(
        &mut self,
        now: Instant,
        graph: GraphHandle,
        connection: ConnectionId,
        type_id: [u8; 16],
        data: Bytes,
    ) -> Result<(), SendError> {
        let now = self.advance(now);
        self.graph(graph)?;
        let max = self.config.limits.max_message_size;
        let limit = self.config.limits.max_queued_bytes_per_connection;
        let link_id = self
            .established_link(graph, connection)
            .ok_or(SendError::ConnectionNotFound)?;
        if data.len() > max {
            return Err(SendError::MessageTooLarge {
                size: data.len(),
                max,
            });
        }
        let link = self
            .links
            .get_mut(link_id)
            .expect("established_link returned a live link");
        let queued = link.queued_bytes();
        if queued > 0 && queued + data.len() > limit {
            return Err(SendError::QueueFull { queued, limit });
        }
        link.counters.messages_sent += 1;
        self.links.queue_data(link_id, type_id, data, now);
        Ok(())
    }

    /// Queues several messages of one type on one connection, in order, as far as the send queue
    /// takes them; returns how many were queued. Like `std::io::Write::write`, a batch stops
    /// early rather than failing part-way: an error is returned only when the first message
    /// cannot be queued (the same error [`send_data`](Self::send_data) would return for it), and
    /// a shorter count means the next message would have failed. The messages queued are exactly
    /// those that many `send_data` calls would have queued, for one lookup of the connection.
    /// An empty slice queues nothing and returns `Ok(0)` without looking at the connection.
    pub fn send_data_batch(
        &mut self,
        now: Instant,
        graph: GraphHandle,
        connection: ConnectionId,
        type_id: [u8; 16],
        messages: &[Bytes],
    ) -> Result<usize, SendError> {
        let Some((first, rest)) = messages.split_first() else {
            return Ok(0);
        };
        self.send_data(now, graph, connection, type_id, first.clone())?;
        let max = self.config.limits.max_message_size;
        let limit = self.config.limits.max_queued_bytes_per_connection;
        let link_id = self
            .links
            .link_of(connection)
            .expect("send_data found the connection");
        let link = self
            .links
            .get_mut(link_id)
            .expect("send_data found the link");
        let mut queued = 1;
        for data in rest {
            if data.len() > max || link.queued_bytes() + data.len() > limit {
                break;
            }
            link.counters.messages_sent += 1;
            // Already listed as ready by the first message.
            link.push_data(type_id, data.clone(), None);
            queued += 1;
        }
        Ok(queued)
    }

    /// Closes a pending or established direct connection (`PeerGraphCloseDirectConnection`).
    ///
    /// Established: both sides get `Disconnected` (here `ClosedLocally`); data queued before the
    /// close is still sent first. Pending: the id gets `Failed(Cancelled)`.
    pub fn close_direct_connection(
        &mut self,
        graph: GraphHandle,
        connection: ConnectionId,
    ) -> Result<(), CloseError> {
        self.graph(graph)?;
        let link_id = self
            .links
            .link_of(connection)
            .ok_or(CloseError::ConnectionNotFound)?;
        let link = self
            .links
            .get(link_id)
            .ok_or(CloseError::ConnectionNotFound)?;
        // A neighbor connection is the graph's, not the application's to close.
        if link.graph != Some(graph) || link.kind != ConnectionKind::Direct {
            return Err(CloseError::ConnectionNotFound);
        }
        let (status, farewell) = match link.state {
            LinkState::Connected => (
                ConnectionStatus::Disconnected(DisconnectReason::ClosedLocally),
                Some(CloseReason::Application),
            ),
            LinkState::AwaitingAccept => (
                ConnectionStatus::Failed(FailReason::Cancelled),
                Some(CloseReason::Application),
            ),
            _ => (ConnectionStatus::Failed(FailReason::Cancelled), None),
        };
        self.end_link(link_id, Some(status), farewell);
        Ok(())
    }

    /// Lists the connections of a graph (`PeerGraphEnumConnections`).
    pub fn enum_connections(
        &self,
        graph: GraphHandle,
        kinds: ConnectionKinds,
    ) -> Result<Vec<ConnectionInfo>, EnumError> {
        self.graph(graph)?;
        if kinds.is_empty() {
            let argument = InvalidArgument {
                argument: "kinds",
                problem: ArgumentProblem::Empty,
            };
            return Err(EnumError::InvalidArgument { argument });
        }
        let mut list: Vec<ConnectionInfo> = self
            .links
            .connections()
            .filter(|(_, link)| {
                link.graph == Some(graph)
                    && link.state != LinkState::Closing
                    && kinds.contains(link.kind.flag())
            })
            .map(|(id, link)| ConnectionInfo {
                id,
                kind: link.kind,
                node_id: link.remote_node_id,
                peer_id: link.remote_peer_id.clone(),
                address: link.remote_addr,
                identity: link.remote_identity,
                direction: link.direction,
                state: if link.state == LinkState::Connected {
                    ConnectionState::Connected
                } else {
                    ConnectionState::Connecting
                },
                bytes_sent: link.counters.bytes_sent,
                bytes_received: link.counters.bytes_received,
                messages_sent: link.counters.messages_sent,
                messages_received: link.counters.messages_received,
                unread_messages: link.unread().messages as u64,
                unread_bytes: link.unread().bytes as u64,
                receive_held: link.is_held(),
            })
            .collect();
        list.sort_by_key(|info| info.id);
        Ok(list)
    }

    /// What a link carries, once known: its graph, the local connection id and the remote peer
    /// id (outbound links from the start, inbound ones once their Hello is admitted). For logs.
    pub fn link_connection(&self, link: LinkId) -> Option<(GraphHandle, ConnectionId, &str)> {
        let link = self.links.get(link)?;
        Some((link.graph?, link.connection?, link.remote_peer_id.as_str()))
    }

    /// Bytes queued on a connection and not yet taken by `poll_transmit`; `None` if the id is not
    /// an established connection of `graph`.
    pub fn queued_bytes(&self, graph: GraphHandle, connection: ConnectionId) -> Option<usize> {
        let link = self.established_link(graph, connection)?;
        self.links.get(link).map(Link::queued_bytes)
    }

    fn established_link(&self, graph: GraphHandle, connection: ConnectionId) -> Option<LinkId> {
        let link_id = self.links.link_of(connection)?;
        let link = self.links.get(link_id)?;
        (link.graph == Some(graph) && link.state == LinkState::Connected).then_some(link_id)
    }

    /// Makes the link an established direct connection of `graph` and raises `Connected`.
    pub(super) fn establish(&mut self, link_id: LinkId, graph: GraphHandle) {
        let Some((link, connection)) = self.links.establish(link_id) else {
            return;
        };
        let kind = link.kind;
        let remote = RemotePeer {
            node_id: link
                .remote_node_id
                .expect("set from the handshake before establish"),
            peer_id: link.remote_peer_id.clone(),
            identity: link
                .remote_identity
                .expect("set at link up before establish"),
            direction: link.direction,
        };
        let state = self
            .graphs
            .get_mut(graph)
            .expect("caller holds a live graph");
        state.had_neighbor |= kind == ConnectionKind::Neighbor;
        let first = state.add_established();
        let change = ConnectionChange {
            connection,
            status: ConnectionStatus::Connected(remote),
        };
        self.emit(graph, connection_event(kind, change));
        if first {
            self.update_status(graph, GraphStatus::HAS_CONNECTIONS, true);
        }
        self.links.schedule(link_id, &self.config.timeouts);
        if kind == ConnectionKind::Neighbor {
            match self.duplicate_neighbor(link_id) {
                Some(duplicate) => {
                    let status = ConnectionStatus::Disconnected(DisconnectReason::ClosedLocally);
                    self.end_link(duplicate, Some(status), Some(CloseReason::Application));
                    if duplicate != link_id {
                        self.greet_neighbor(link_id, graph);
                        self.start_reconcile(link_id, graph);
                    }
                }
                None => {
                    self.greet_neighbor(link_id, graph);
                    self.start_reconcile(link_id, graph);
                }
            }
        }
    }

    /// Ends whatever the link carries: raises `status` for its connection (if it has one and its
    /// graph is live), releases counts, optionally sends a Close frame, and asks the driver to
    /// close the link.
    pub(super) fn end_link(
        &mut self,
        link_id: LinkId,
        status: Option<ConnectionStatus>,
        farewell: Option<CloseReason>,
    ) {
        if !self.release_link(link_id, status) {
            return;
        }
        if let Some(reason) = farewell {
            self.links
                .queue_frame(link_id, codec::close(reason), self.now);
        }
        self.links.close(link_id);
    }

    /// The bookkeeping half of ending a link; leaves it `Closing`. False if already closing/gone.
    pub(super) fn release_link(
        &mut self,
        link_id: LinkId,
        status: Option<ConnectionStatus>,
    ) -> bool {
        let Some(released) = self.links.release(link_id) else {
            return false;
        };
        let Some(graph) = released.graph else {
            return true;
        };
        let Some(graph_state) = self.graphs.get_mut(graph) else {
            return true;
        };
        // An inbound link waiting for its Confirm holds a place in the limit before it has an id.
        if released.connection.is_some() || released.previous == LinkState::AwaitingConfirm {
            graph_state.remove(released.kind);
        }
        graph_state.records.sessions.remove(&link_id);
        let last = released.previous == LinkState::Connected && graph_state.remove_established();
        if let (Some(connection), Some(status)) = (released.connection, status) {
            let change = ConnectionChange { connection, status };
            self.emit(graph, connection_event(released.kind, change));
        }
        if last {
            self.update_status(graph, GraphStatus::HAS_CONNECTIONS, false);
        }
        true
    }
}

/// The event that reports `change` for a connection of `kind`.
fn connection_event(kind: ConnectionKind, change: ConnectionChange) -> GraphEvent {
    match kind {
        ConnectionKind::Direct => GraphEvent::DirectConnection(change),
        ConnectionKind::Neighbor => GraphEvent::NeighborConnection(change),
    }
}

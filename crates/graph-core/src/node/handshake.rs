//! Inputs from the driver: links coming up, frames, links going down, and the handshake they
//! carry. None of them fails; a peer's fault ends its link with a named event.

use std::time::Instant;

use bytes::Bytes;

use crate::address::LinkUp;
use crate::codec::{self, CloseReason, Inbound, RefuseReason};
use crate::error::LinkCloseReason;
use crate::event::{
    AuthFailure, ConnectionStatus, Direction, DisconnectReason, EventType, FailReason, GraphEvent,
    IncomingData, ProtocolViolation,
};
use crate::graphs::Graphs;
use crate::ids::{ConnectionId, GraphHandle, LinkId, NodeId};
use crate::info::ConnectionKind;
use crate::links::{Link, LinkState, Unread};
use crate::proof::{Membership, Role, SHARE_LEN};
use crate::registrations::Registrations;

use super::Node;

impl Node {
    /// A link the node asked to dial is up: the initiator sends its Hello.
    pub fn handle_link_up(&mut self, now: Instant, link_id: LinkId, up: LinkUp) {
        let now = self.advance(now);
        let Some(link) = self.links.get_mut(link_id) else {
            return;
        };
        if link.state != LinkState::Dialing {
            return;
        }
        link.state = LinkState::AwaitingAccept;
        link.remote_identity = Some(up.remote_identity);
        link.remote_addr = Some(up.remote_addr);
        link.exporter = up.exporter;
        link.last_received = now;
        let graph_handle = link
            .graph
            .expect("outbound links have a graph from the start");
        let Some(graph) = self.graphs.get(graph_handle) else {
            // The graph closed while dialing; release_graph already ended this link.
            return;
        };
        let exchange = graph.key().start(graph.graph_id(), &up.exporter);
        let hello = codec::hello(
            graph.graph_id(),
            &link.remote_peer_id,
            graph.peer_id(),
            graph.node_id().0,
            exchange.share(),
            self.config.limits.announced_batch_limit(),
            link.kind == ConnectionKind::Neighbor,
        );
        link.membership = Membership::Started(exchange);
        self.links.queue_frame(link_id, hello, Some(now));
    }

    /// The runtime accepted a link from a remote node. Returns the id the node gives it; the node
    /// may ask to close it at once (not initialized, or too many handshakes in progress).
    pub fn accept_link(&mut self, now: Instant, up: LinkUp) -> LinkId {
        let now = self.advance(now);
        let timeouts = self.config.timeouts;
        let deadline = now + timeouts.handshake.min(timeouts.hello);
        let mut link = Link::new(LinkState::AwaitingHello, Direction::Inbound, now, deadline);
        link.remote_identity = Some(up.remote_identity);
        link.remote_addr = Some(up.remote_addr);
        link.exporter = up.exporter;
        let link_id = self.links.insert(link);
        let limits = &self.config.limits;
        let over_limit = self.links.pending(Direction::Inbound) > limits.max_pending_handshakes
            || self.links.pending_from(up.remote_addr.ip())
                > limits.max_pending_handshakes_per_source;
        if !self.is_initialized() || over_limit {
            // The initiator's Hello is in flight; answering it at once tells the initiator it
            // was refused instead of leaving it to guess from a dropped link.
            self.refuse(link_id, RefuseReason::Refused);
        } else {
            self.links.schedule(link_id, &self.config.timeouts);
        }
        link_id
    }

    /// A frame arrived on a link.
    pub fn handle_frame(&mut self, now: Instant, link_id: LinkId, mut frame: Bytes) {
        let now = self.advance(now);
        let limits = &self.config.limits;
        let max_message = limits.max_message_size;
        let window = self.links.window();
        let Some(link) = self.links.get_mut(link_id) else {
            return;
        };
        let max_frame = match link.state {
            LinkState::Closing => return,
            LinkState::Connected => limits.max_frame_len(),
            _ => limits.max_handshake_frame_len,
        };
        link.counters.bytes_received += frame.len() as u64;
        link.last_received = now;
        if frame.len() > max_frame {
            return self.violation(link_id, ProtocolViolation::FrameTooLarge);
        }
        let state = link.state;
        let frame_len = frame.len();
        let message = match codec::decode(&mut frame) {
            Ok(message) => message,
            Err(violation) => return self.violation(link_id, violation),
        };
        match (state, message) {
            (LinkState::AwaitingHello, Inbound::Hello(hello)) => self.on_hello(link_id, hello),
            (LinkState::AwaitingAccept, Inbound::Accept(accept)) => self.on_accept(link_id, accept),
            (LinkState::AwaitingConfirm, Inbound::Confirm(confirmation)) => {
                self.on_confirm(link_id, &confirmation);
            }
            (LinkState::AwaitingAccept, Inbound::Refuse(reason)) => {
                let reason = match reason {
                    RefuseReason::NotAuthenticated => {
                        FailReason::NotAuthenticated(AuthFailure::MembershipProof)
                    }
                    RefuseReason::UnsupportedVersion => FailReason::UnsupportedVersion,
                    RefuseReason::Refused | RefuseReason::Unspecified => FailReason::Refused,
                };
                self.end_link(link_id, Some(ConnectionStatus::Failed(reason)), None);
            }
            (LinkState::Connected, Inbound::Data { type_id, payload }) => {
                // A small payload must not pin a large frame (padded with unknown fields) in
                // the event queues.
                let payload = if payload.len() < frame_len / 2 {
                    Bytes::copy_from_slice(&payload)
                } else {
                    payload
                };
                if payload.len() > max_message {
                    return self.violation(link_id, ProtocolViolation::MessageTooLarge);
                }
                // The link found above, still borrowed: a message costs one lookup.
                let mut deliver =
                    Delivery::new(&self.graphs, &mut self.registrations, link, type_id);
                if deliver.next(link, payload, window) {
                    self.links.count_held();
                }
            }
            (LinkState::Connected, Inbound::DataBatch { type_id, payloads }) => {
                let accepted = self.config.limits.announced_batch_limit() as usize;
                if accepted == 0 {
                    return self.violation(link_id, ProtocolViolation::UnexpectedMessage);
                }
                if frame_len > accepted || payloads.len() > codec::MAX_BATCH_MESSAGES {
                    return self.violation(link_id, ProtocolViolation::FrameTooLarge);
                }
                if payloads.iter().any(|payload| payload.len() > max_message) {
                    return self.violation(link_id, ProtocolViolation::MessageTooLarge);
                }
                // As for one message: small payloads must not pin a padded frame.
                let total: usize = payloads.iter().map(Bytes::len).sum();
                let copy = total < frame_len / 2;
                let mut deliver =
                    Delivery::new(&self.graphs, &mut self.registrations, link, type_id);
                let mut held = false;
                for payload in payloads {
                    let payload = if copy {
                        Bytes::copy_from_slice(&payload)
                    } else {
                        payload
                    };
                    held |= deliver.next(link, payload, window);
                }
                if held {
                    self.links.count_held();
                }
            }
            (LinkState::Connected, Inbound::Keepalive) => {}
            (
                LinkState::Connected,
                Inbound::Flood {
                    items,
                    greeting_done,
                },
            ) => self.on_flood(link_id, items, greeting_done),
            (LinkState::Connected, Inbound::Records(records)) => self.on_records(link_id, records),
            (LinkState::Connected, Inbound::Reconcile(round)) => {
                self.on_reconcile(link_id, round);
            }
            (LinkState::Connected, Inbound::Close(reason)) => {
                let reason = match reason {
                    CloseReason::GraphClosed => DisconnectReason::PeerGraphClosed,
                    CloseReason::IdleTimeout => DisconnectReason::TimedOut,
                    CloseReason::ProtocolViolation => DisconnectReason::PeerReportedViolation,
                    CloseReason::Application | CloseReason::Unspecified => {
                        DisconnectReason::ClosedByPeer
                    }
                };
                self.end_link(link_id, Some(ConnectionStatus::Disconnected(reason)), None);
            }
            (LinkState::AwaitingHello | LinkState::AwaitingConfirm, Inbound::Close(_)) => {
                self.end_link(link_id, None, None);
            }
            // The target ended the attempt without a Refuse (it found the Hello malformed, or is
            // closing): for the initiator that is a refusal.
            (LinkState::AwaitingAccept, Inbound::Close(_)) => self.end_link(
                link_id,
                Some(ConnectionStatus::Failed(FailReason::Refused)),
                None,
            ),
            _ => self.violation(link_id, ProtocolViolation::UnexpectedMessage),
        }
    }

    /// A link ended (dial failure, clean close, loss, or the close the node asked for).
    pub fn handle_link_closed(&mut self, now: Instant, link_id: LinkId, reason: LinkCloseReason) {
        let now = self.advance(now);
        let Some(link) = self.links.get(link_id) else {
            return;
        };
        if link.state == LinkState::Dialing
            && reason == LinkCloseReason::Unreachable
            && !link.fallbacks.is_empty()
        {
            return self.dial_fallback(now, link_id);
        }
        let status = match (link.state, reason) {
            (LinkState::Closing | LinkState::AwaitingHello | LinkState::AwaitingConfirm, _) => None,
            (LinkState::Dialing | LinkState::AwaitingAccept, reason) => {
                Some(ConnectionStatus::Failed(match reason {
                    LinkCloseReason::Unreachable => FailReason::Unreachable,
                    LinkCloseReason::NotAuthenticated(cause) => FailReason::NotAuthenticated(cause),
                    LinkCloseReason::TimedOut => FailReason::TimedOut,
                    LinkCloseReason::FrameTooLarge => {
                        FailReason::ProtocolViolation(ProtocolViolation::FrameTooLarge)
                    }
                    LinkCloseReason::Closed | LinkCloseReason::Lost => FailReason::LinkLost,
                }))
            }
            (LinkState::Connected, reason) => Some(ConnectionStatus::Disconnected(match reason {
                LinkCloseReason::FrameTooLarge => {
                    DisconnectReason::ProtocolViolation(ProtocolViolation::FrameTooLarge)
                }
                LinkCloseReason::TimedOut => DisconnectReason::TimedOut,
                _ => DisconnectReason::LinkLost,
            })),
        };
        self.release_link(link_id, status);
        self.links.remove(link_id);
    }

    pub(super) fn violation(&mut self, link_id: LinkId, violation: ProtocolViolation) {
        let Some(link) = self.links.get(link_id) else {
            return;
        };
        let status = match link.state {
            LinkState::Connected => Some(ConnectionStatus::Disconnected(
                DisconnectReason::ProtocolViolation(violation),
            )),
            LinkState::Dialing | LinkState::AwaitingAccept => Some(ConnectionStatus::Failed(
                FailReason::ProtocolViolation(violation),
            )),
            LinkState::AwaitingHello | LinkState::AwaitingConfirm | LinkState::Closing => None,
        };
        self.end_link(link_id, status, Some(CloseReason::ProtocolViolation));
    }

    fn refuse(&mut self, link_id: LinkId, reason: RefuseReason) {
        self.links
            .queue_frame(link_id, codec::refuse(reason), self.now);
        self.end_link(link_id, None, None);
    }

    /// The target's gate. Before the initiator's Confirm it reveals nothing about its graphs
    /// except whether a graph with exactly the named graph id and peer id exists, has a secret,
    /// and admits connections now (see PROTOCOL.md).
    fn on_hello(&mut self, link_id: LinkId, hello: codec::Hello<'_>) {
        if hello.version != codec::PROTOCOL_VERSION {
            return self.refuse(link_id, RefuseReason::UnsupportedVersion);
        }
        // A neighbor Hello may leave the target's peer id out: any peer of the graph.
        let any_peer = hello.neighbor && hello.target_peer_id.is_empty();
        let well_formed = codec::valid_name(&hello.graph_id)
            && (any_peer || codec::valid_name(&hello.target_peer_id))
            && codec::valid_name(&hello.source_peer_id)
            && hello.pake_share.len() <= SHARE_LEN;
        if !well_formed {
            return self.violation(link_id, ProtocolViolation::InvalidHandshake);
        }
        let found = if any_peer {
            self.graphs
                .find_other(&hello.graph_id, &hello.source_peer_id)
        } else {
            self.graphs.find(&hello.graph_id, &hello.target_peer_id)
        };
        let Some(graph_handle) = found else {
            return self.refuse(link_id, RefuseReason::Refused);
        };
        let link = self
            .links
            .get(link_id)
            .expect("on_hello runs for a live link");
        let graph = self
            .graphs
            .get(graph_handle)
            .expect("find returned a live graph");
        if graph.key().has_secret() == hello.pake_share.is_empty() {
            return self.refuse(link_id, RefuseReason::NotAuthenticated);
        }
        let registrations = graph.registrations();
        let limits = &self.config.limits;
        let kind = if hello.neighbor {
            ConnectionKind::Neighbor
        } else {
            ConnectionKind::Direct
        };
        // Neighbors are the graph's own links: they need no registration of the application.
        let room = match kind {
            ConnectionKind::Direct => {
                self.registrations
                    .any_wants(registrations, EventType::DirectConnection)
                    && graph.connections() < limits.max_direct_connections_per_graph
            }
            ConnectionKind::Neighbor => graph.neighbors() < limits.max_neighbors_per_graph,
        };
        let admitted = room
            && !self.registrations.backlogged(registrations)
            && hello.source_peer_id != graph.peer_id();
        if !admitted {
            return self.refuse(link_id, RefuseReason::Refused);
        }
        let exchange = graph.key().start(graph.graph_id(), &link.exporter);
        let share = exchange.share().to_vec();
        let Some(confirmations) = exchange.finish(&hello.pake_share) else {
            // The initiator's share is not a point of the group.
            return self.refuse(link_id, RefuseReason::NotAuthenticated);
        };
        let accept = codec::accept(
            graph.node_id().0,
            &share,
            self.config.limits.announced_batch_limit(),
            confirmations.confirmation(Role::Target).as_ref(),
            if any_peer { graph.peer_id() } else { "" },
        );
        self.graphs
            .get_mut(graph_handle)
            .expect("live graph")
            .add(kind);
        let batch_limit = self.config.limits.send_batch_limit(hello.batch_limit);
        let link = self.links.get_mut(link_id).expect("live link");
        link.state = LinkState::AwaitingConfirm;
        link.kind = kind;
        link.membership = Membership::Agreed(Box::new(confirmations));
        link.graph = Some(graph_handle);
        link.remote_peer_id = hello.source_peer_id.into_owned();
        link.remote_node_id = Some(NodeId(hello.source_node_id));
        link.batch_limit = batch_limit;
        self.links.queue_frame(link_id, accept, self.now);
    }

    /// The initiator's Confirm: the target admits it if its confirmation verifies.
    fn on_confirm(&mut self, link_id: LinkId, confirmation: &[u8]) {
        let link = self
            .links
            .get_mut(link_id)
            .expect("on_confirm runs for a live link");
        let graph_handle = link.graph.expect("set with the Accept");
        let verified = match std::mem::take(&mut link.membership) {
            Membership::Agreed(confirmations) => {
                confirmations.verify(Role::Initiator, confirmation)
            }
            Membership::Idle | Membership::Started(_) => false,
        };
        if !verified {
            return self.refuse(link_id, RefuseReason::NotAuthenticated);
        }
        self.establish(link_id, graph_handle);
    }

    /// The target's Accept: the initiator finishes its exchange, checks the target's
    /// confirmation, and only then sends its own and is connected.
    fn on_accept(&mut self, link_id: LinkId, accept: codec::Accept<'_>) {
        let link = self
            .links
            .get_mut(link_id)
            .expect("on_accept runs for a live link");
        let graph_handle = link.graph.expect("outbound links have a graph");
        let confirmations = match std::mem::take(&mut link.membership) {
            Membership::Started(exchange) => exchange.finish(&accept.pake_share),
            Membership::Idle | Membership::Agreed(_) => None,
        };
        let confirmations = confirmations
            .filter(|confirmations| confirmations.verify(Role::Target, &accept.confirmation));
        let Some(confirmations) = confirmations else {
            return self.end_link(
                link_id,
                Some(ConnectionStatus::Failed(FailReason::NotAuthenticated(
                    AuthFailure::MembershipProof,
                ))),
                Some(CloseReason::ProtocolViolation),
            );
        };
        if self.graphs.get(graph_handle).is_none() {
            return;
        }
        // A neighbor dialed for any peer learns which one answered.
        if link.remote_peer_id.is_empty() {
            if !codec::valid_name(&accept.peer_id) {
                return self.violation(link_id, ProtocolViolation::InvalidHandshake);
            }
            link.remote_peer_id = accept.peer_id.into_owned();
        }
        link.remote_node_id = Some(NodeId(accept.node_id));
        link.batch_limit = self.config.limits.send_batch_limit(accept.batch_limit);
        let confirm = codec::confirm(confirmations.confirmation(Role::Initiator).as_ref());
        self.links.queue_frame(link_id, confirm, self.now);
        self.establish(link_id, graph_handle);
    }
}

/// Hands the messages of one data frame to the registrations of the link's graph.
struct Delivery<'a> {
    graphs: &'a Graphs,
    registrations: &'a mut Registrations,
    graph: GraphHandle,
    connection: ConnectionId,
    type_id: [u8; 16],
}

impl<'a> Delivery<'a> {
    /// Delivery of `type_id` messages arriving on `link`, which is established.
    fn new(
        graphs: &'a Graphs,
        registrations: &'a mut Registrations,
        link: &Link,
        type_id: [u8; 16],
    ) -> Self {
        Self {
            graphs,
            registrations,
            graph: link.graph.expect("established links have a graph"),
            connection: link
                .connection
                .expect("established links have a connection"),
            type_id,
        }
    }

    /// Delivers the frame's next message: an `IncomingData` for each registration that asked
    /// for it, counted against the connection's window. True if the link has just become held
    /// (a batch's later messages are delivered all the same: a frame is taken whole).
    #[inline]
    fn next(&mut self, link: &mut Link, payload: Bytes, window: Unread) -> bool {
        link.counters.messages_received += 1;
        let bytes = payload.len();
        let data = GraphEvent::IncomingData(IncomingData {
            connection: self.connection,
            type_id: self.type_id,
            data: payload,
        });
        // `Node::emit`, inline: the link stays borrowed to count the copies queued.
        let copies = self.graphs.get(self.graph).map_or(0, |graph| {
            self.registrations
                .emit(graph.registrations(), EventType::IncomingData, data)
        });
        link.add_unread(copies, bytes, window)
    }
}

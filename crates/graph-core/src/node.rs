//! The node: one instance of the library, holding graphs, registrations and links.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use crate::config::NodeConfig;
use crate::error::{
    ArgumentProblem, CloseError, EnumError, EventError, GraphError, HandleError, InvalidArgument,
    NotInitialized, OpenError, RegisterError, SendError, StartupError,
};
use crate::event::{
    ConnectionChange, ConnectionStatus, Direction, DisconnectReason, EventType, FailReason,
    GraphEvent, IncomingData,
};
use crate::frame::{self, CloseReason};
use crate::id_hash::IdMap;
use crate::ids::{ConnectionId, GraphHandle, LinkId, NodeId, RegistrationHandle};
use crate::info::{
    ConnectionInfo, ConnectionKind, ConnectionKinds, ConnectionState, GraphConfig, LinkCommand,
    NodeInfo, PeerAddress, VersionData,
};
use crate::link::{Link, LinkState};
use crate::proof::MembershipKey;
use crate::rng::SplitMix64;
use crate::slots::Slots;
use crate::status::GraphStatus;
use crate::timers::Timers;
use crate::transmit::Transmit;
use crate::validate;

/// The only version `startup` accepts: `MAKEWORD(1, 0)`.
pub const PEER_GRAPH_VERSION: u16 = 0x0001;

pub(crate) struct Graph {
    pub(crate) graph_id: String,
    pub(crate) peer_id: String,
    pub(crate) node_id: NodeId,
    pub(crate) key: MembershipKey,
    pub(crate) registrations: Vec<RegistrationHandle>,
    /// Pending and established direct connections.
    pub(crate) connections: usize,
    pub(crate) established: usize,
    pub(crate) status: GraphStatus,
}

struct Registration {
    graph: GraphHandle,
    mask: u16,
    queue: VecDeque<GraphEvent>,
    /// Payload bytes of the queued `IncomingData` events.
    queued_bytes: usize,
    dropped: u64,
    ready: bool,
}

/// The bounds of each registration's event queue.
struct QueueLimits {
    events: usize,
    bytes: usize,
}

impl Registration {
    /// Queues `event` within `limits`; returns whether the registration just became ready.
    ///
    /// Losing a connection event would leave the application wrong about which connections
    /// exist, so they are never dropped. They stay bounded all the same: while a registration
    /// for them is full, the graph admits and opens no new connection (see
    /// `direct_events_backlogged`), so only live connections can add to it, two events each.
    fn push(&mut self, event: GraphEvent, limits: &QueueLimits) -> bool {
        let bytes = match &event {
            GraphEvent::IncomingData(data) => data.data.len(),
            _ => 0,
        };
        let full = self.queue.len() >= limits.events
            || (self.queued_bytes > 0 && self.queued_bytes + bytes > limits.bytes);
        if full && !matches!(event, GraphEvent::DirectConnection(_)) {
            self.dropped += 1;
            return false;
        }
        self.queued_bytes += bytes;
        if self.dropped > 0 {
            let count = std::mem::take(&mut self.dropped);
            self.queue.push_back(GraphEvent::EventsDropped { count });
        }
        self.queue.push_back(event);
        !std::mem::replace(&mut self.ready, true)
    }
}

/// Whether the timer entry `(at, link)` is the link's live deadline (see [`Timers`]).
fn timer_is_live(links: &IdMap<LinkId, Link>, at: Instant, link: LinkId) -> bool {
    links
        .get(&link)
        .is_some_and(|link| link.timer_at == Some(at))
}

/// Queues `event` on the registration `handle` and lists it as ready if it was not.
fn deliver(
    registrations: &mut Slots<Registration>,
    ready: &mut VecDeque<RegistrationHandle>,
    handle: RegistrationHandle,
    event: GraphEvent,
    limits: &QueueLimits,
) {
    let Some(registration) = registrations.get_mut(handle.0) else {
        return;
    };
    if registration.push(event, limits) {
        ready.push_back(handle);
    }
}

/// A sans-IO peergraph node: the state of one application's use of the library.
///
/// # Method groups
///
/// - **Lifecycle and commands** (the Windows API): [`startup`](Self::startup),
///   [`shutdown`](Self::shutdown), [`create_graph`](Self::create_graph),
///   [`open_graph`](Self::open_graph), [`close_graph`](Self::close_graph),
///   [`register_event`](Self::register_event), [`unregister_event`](Self::unregister_event),
///   [`take_event`](Self::take_event), [`take_events`](Self::take_events),
///   [`open_direct_connection`](Self::open_direct_connection), [`send_data`](Self::send_data),
///   [`send_data_batch`](Self::send_data_batch),
///   [`close_direct_connection`](Self::close_direct_connection),
///   [`enum_connections`](Self::enum_connections), [`node_info`](Self::node_info),
///   [`set_listening`](Self::set_listening). They return `Result`s for the caller's mistakes.
/// - **Inputs** from the runtime: [`handle_link_up`](Self::handle_link_up),
///   [`accept_link`](Self::accept_link), [`handle_frame`](Self::handle_frame),
///   [`handle_link_closed`](Self::handle_link_closed), [`handle_timeout`](Self::handle_timeout).
///   They never fail: whatever a peer sends ends at worst in an event.
/// - **Outputs**, pulled until `None` after every input or command, in this order:
///   1. [`poll_link_command`](Self::poll_link_command): dials and closes;
///   2. [`poll_ready_link`](Self::poll_ready_link), then [`poll_transmit`](Self::poll_transmit) for
///      that link: frames to write, in order (a runtime applying backpressure may leave frames
///      queued until the link can take them);
///   3. [`poll_ready_registration`](Self::poll_ready_registration): registrations that have
///      events to [`take`](Self::take_event);
///   4. [`poll_timeout`](Self::poll_timeout): when to call `handle_timeout` next.
///
/// Time is an argument; it never goes backwards inside the node (an earlier `now` counts as the
/// latest seen).
pub struct Node {
    pub(crate) config: NodeConfig,
    startups: u32,
    now: Option<Instant>,
    rng: SplitMix64,
    pub(crate) graphs: Slots<Graph>,
    registrations: Slots<Registration>,
    pub(crate) links: IdMap<LinkId, Link>,
    pub(crate) connections: IdMap<ConnectionId, LinkId>,
    next_link: u64,
    next_connection: u64,
    /// Handshakes in progress, counted per direction: inbound ones are whoever reached the
    /// listener, so they must not be able to use up the budget of the application's own opens.
    pub(crate) pending_handshakes: Pending,
    timers: Timers,
    link_commands: VecDeque<LinkCommand>,
    ready_links: VecDeque<LinkId>,
    ready_registrations: VecDeque<RegistrationHandle>,
    listening: bool,
}

impl Node {
    /// A node with no startup outstanding. Zero timeouts become one millisecond (see
    /// [`NodeConfig::validate`]).
    pub fn new(mut config: NodeConfig) -> Self {
        let shortest = std::time::Duration::from_millis(1);
        for timeout in [
            &mut config.timeouts.handshake,
            &mut config.timeouts.idle,
            &mut config.timeouts.keepalive,
        ] {
            *timeout = (*timeout).max(shortest);
        }
        Self {
            rng: SplitMix64::new(config.rng_seed),
            config,
            startups: 0,
            now: None,
            graphs: Slots::new(),
            registrations: Slots::new(),
            links: IdMap::default(),
            connections: IdMap::default(),
            next_link: 1,
            next_connection: 1,
            pending_handshakes: Pending::default(),
            timers: Timers::default(),
            link_commands: VecDeque::new(),
            ready_links: VecDeque::new(),
            ready_registrations: VecDeque::new(),
            listening: false,
        }
    }

    /// The configuration the node was made with.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    // ---------------------------------------------------------------- lifecycle

    /// Starts one use of the library (`PeerGraphStartup`). Counted: each needs one `shutdown`.
    pub fn startup(&mut self, version: u16) -> Result<VersionData, StartupError> {
        if version != PEER_GRAPH_VERSION {
            return Err(StartupError::UnsupportedVersion { requested: version });
        }
        self.startups += 1;
        Ok(VersionData {
            version: PEER_GRAPH_VERSION,
            highest_version: PEER_GRAPH_VERSION,
        })
    }

    /// Ends one use (`PeerGraphShutdown`). The last one closes every graph (peers see their
    /// connections end), drops every registration and inbound handshake.
    pub fn shutdown(&mut self) -> Result<(), NotInitialized> {
        self.initialized()?;
        self.startups -= 1;
        if self.startups == 0 {
            for key in self.graphs.keys() {
                self.release_graph(GraphHandle(key));
            }
            let inbound: Vec<LinkId> = self
                .links
                .iter()
                .filter(|(_, link)| link.state == LinkState::AwaitingHello)
                .map(|(id, _)| *id)
                .collect();
            for link in inbound {
                self.end_link(link, None, None);
            }
            self.listening = false;
        }
        Ok(())
    }

    /// Whether a startup is outstanding.
    pub fn is_initialized(&self) -> bool {
        self.startups > 0
    }

    fn initialized(&self) -> Result<(), NotInitialized> {
        if self.startups > 0 {
            Ok(())
        } else {
            Err(NotInitialized)
        }
    }

    /// Tells the node whether its runtime accepts links; sets `LISTENING` on every graph.
    pub fn set_listening(&mut self, listening: bool) -> Result<(), NotInitialized> {
        self.initialized()?;
        self.listening = listening;
        for key in self.graphs.keys() {
            self.update_status(GraphHandle(key), GraphStatus::LISTENING, listening);
        }
        Ok(())
    }

    // ---------------------------------------------------------------- graphs

    /// Creates a graph on this node (`PeerGraphCreate`).
    pub fn create_graph(&mut self, config: GraphConfig) -> Result<GraphHandle, GraphError> {
        self.add_graph(config)
    }

    /// Joins a graph created elsewhere (`PeerGraphOpen`). Graphs hold no records here, so this
    /// differs from `create_graph` only in intent.
    pub fn open_graph(&mut self, config: GraphConfig) -> Result<GraphHandle, GraphError> {
        self.add_graph(config)
    }

    fn add_graph(&mut self, config: GraphConfig) -> Result<GraphHandle, GraphError> {
        self.initialized()?;
        validate::name("graph_id", &config.graph_id)
            .and_then(|()| validate::name("peer_id", &config.peer_id))
            .map_err(|argument| GraphError::InvalidArgument { argument })?;
        if self.find_graph(&config.graph_id, &config.peer_id).is_some() {
            return Err(GraphError::DuplicateGraph);
        }
        if self.graphs.len() >= self.config.limits.max_graphs {
            return Err(GraphError::TooManyGraphs);
        }
        let mut status = GraphStatus::SYNCHRONIZED;
        status.set(GraphStatus::LISTENING, self.listening);
        let graph = Graph {
            node_id: NodeId(self.rng.next_u64()),
            key: MembershipKey::new(config.secret.as_deref()),
            graph_id: config.graph_id,
            peer_id: config.peer_id,
            registrations: Vec::new(),
            connections: 0,
            established: 0,
            status,
        };
        Ok(GraphHandle(self.graphs.insert(graph)))
    }

    pub(crate) fn find_graph(&self, graph_id: &str, peer_id: &str) -> Option<GraphHandle> {
        self.graphs
            .iter()
            .find(|(_, graph)| graph.graph_id == graph_id && graph.peer_id == peer_id)
            .map(|(key, _)| GraphHandle(key))
    }

    /// Closes a graph (`PeerGraphClose`): its handle and registrations die at once and every
    /// connection of the graph ends; remote peers see `Disconnected(PeerGraphClosed)`.
    pub fn close_graph(&mut self, graph: GraphHandle) -> Result<(), HandleError> {
        self.graph(graph).map_err(HandleError::from)?;
        self.release_graph(graph);
        Ok(())
    }

    fn release_graph(&mut self, handle: GraphHandle) {
        let Some(graph) = self.graphs.remove(handle.0) else {
            return;
        };
        for registration in graph.registrations {
            self.registrations.remove(registration.0);
        }
        let links: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, link)| link.graph == Some(handle) && link.state != LinkState::Closing)
            .map(|(id, _)| *id)
            .collect();
        for link in links {
            // The graph's registrations are gone, so no local event is raised.
            self.end_link(link, None, Some(CloseReason::GraphClosed));
        }
    }

    pub(crate) fn graph(&self, handle: GraphHandle) -> Result<&Graph, GraphLookupError> {
        self.initialized()
            .map_err(|_| GraphLookupError::NotInitialized)?;
        self.graphs
            .get(handle.0)
            .ok_or(GraphLookupError::InvalidGraph)
    }

    /// The local node in a graph (`PeerGraphGetNodeInfo(0)`).
    pub fn node_info(&self, graph: GraphHandle) -> Result<NodeInfo, HandleError> {
        let state = self.graph(graph)?;
        Ok(NodeInfo {
            graph,
            graph_id: state.graph_id.clone(),
            peer_id: state.peer_id.clone(),
            node_id: state.node_id,
            status: state.status,
        })
    }

    fn update_status(&mut self, handle: GraphHandle, flag: GraphStatus, on: bool) {
        let Some(graph) = self.graphs.get_mut(handle.0) else {
            return;
        };
        let before = graph.status;
        graph.status.set(flag, on);
        let after = graph.status;
        if before != after {
            self.emit(handle, GraphEvent::StatusChanged(after));
        }
    }

    // ---------------------------------------------------------------- registrations

    /// Registers for a set of event types on a graph (`PeerGraphRegisterEvent`). Each registration
    /// gets its own copy of every event of those types.
    pub fn register_event(
        &mut self,
        graph: GraphHandle,
        event_types: &[EventType],
    ) -> Result<RegistrationHandle, RegisterError> {
        self.graph(graph)?;
        if event_types.is_empty() {
            let argument = InvalidArgument {
                argument: "event_types",
                problem: ArgumentProblem::Empty,
            };
            return Err(RegisterError::InvalidArgument { argument });
        }
        if self.registrations.len() >= self.config.limits.max_registrations {
            return Err(RegisterError::TooManyRegistrations);
        }
        let mask = event_types.iter().fold(0, |mask, kind| mask | kind.bit());
        let key = self.registrations.insert(Registration {
            graph,
            mask,
            queue: VecDeque::new(),
            queued_bytes: 0,
            dropped: 0,
            ready: false,
        });
        let handle = RegistrationHandle(key);
        self.graphs
            .get_mut(graph.0)
            .expect("graph checked live above")
            .registrations
            .push(handle);
        Ok(handle)
    }

    /// Ends a registration (`PeerGraphUnregisterEvent`); its queued events are dropped.
    pub fn unregister_event(&mut self, registration: RegistrationHandle) -> Result<(), EventError> {
        self.initialized()?;
        let removed = self
            .registrations
            .remove(registration.0)
            .ok_or(EventError::InvalidRegistration)?;
        if let Some(graph) = self.graphs.get_mut(removed.graph.0) {
            graph.registrations.retain(|handle| *handle != registration);
        }
        Ok(())
    }

    /// Takes the oldest queued event of a registration (`PeerGraphGetEventData`); `Ok(None)` when
    /// the queue is empty (`PEER_S_NO_EVENT_DATA`).
    pub fn take_event(
        &mut self,
        registration: RegistrationHandle,
    ) -> Result<Option<GraphEvent>, EventError> {
        self.initialized()?;
        let state = self
            .registrations
            .get_mut(registration.0)
            .ok_or(EventError::InvalidRegistration)?;
        if let Some(event) = state.queue.pop_front() {
            if let GraphEvent::IncomingData(data) = &event {
                state.queued_bytes -= data.data.len();
            }
            return Ok(Some(event));
        }
        if state.dropped > 0 {
            let count = std::mem::take(&mut state.dropped);
            return Ok(Some(GraphEvent::EventsDropped { count }));
        }
        Ok(None)
    }

    /// Moves up to `limit` of a registration's queued events, oldest first, to the end of
    /// `events`, and returns how many were moved (0 when the queue is empty). The same events, in
    /// the same order, as that many [`take_event`](Self::take_event) calls, for one call's cost.
    pub fn take_events(
        &mut self,
        registration: RegistrationHandle,
        events: &mut Vec<GraphEvent>,
        limit: usize,
    ) -> Result<usize, EventError> {
        self.initialized()?;
        let state = self
            .registrations
            .get_mut(registration.0)
            .ok_or(EventError::InvalidRegistration)?;
        let count = limit.min(state.queue.len());
        events.reserve(count);
        for event in state.queue.drain(..count) {
            if let GraphEvent::IncomingData(data) = &event {
                state.queued_bytes -= data.data.len();
            }
            events.push(event);
        }
        if count < limit && state.dropped > 0 {
            let dropped = std::mem::take(&mut state.dropped);
            events.push(GraphEvent::EventsDropped { count: dropped });
            return Ok(count + 1);
        }
        Ok(count)
    }

    /// Queues `event` on every registration of `graph` that asked for its type.
    pub(crate) fn emit(&mut self, graph: GraphHandle, event: GraphEvent) {
        let Some(state) = self.graphs.get(graph.0) else {
            return;
        };
        let Some(kind) = event.event_type() else {
            return;
        };
        let limits = QueueLimits {
            events: self.config.limits.max_queued_events_per_registration,
            bytes: self.config.limits.max_queued_event_bytes_per_registration,
        };
        // One pass: each registration that wants the event gets a copy once the next one that
        // wants it is found, and the last one gets the event itself.
        let mut wanting: Option<RegistrationHandle> = None;
        for handle in &state.registrations {
            let wants = self
                .registrations
                .get(handle.0)
                .is_some_and(|registration| registration.mask & kind.bit() != 0);
            if !wants {
                continue;
            }
            if let Some(previous) = wanting.replace(*handle) {
                deliver(
                    &mut self.registrations,
                    &mut self.ready_registrations,
                    previous,
                    event.clone(),
                    &limits,
                );
            }
        }
        if let Some(last) = wanting {
            deliver(
                &mut self.registrations,
                &mut self.ready_registrations,
                last,
                event,
                &limits,
            );
        }
    }

    /// Whether a registration of `graph` that takes connection events is full: the application
    /// is not reading them, so the graph takes no new connection until it does.
    pub(crate) fn direct_events_backlogged(&self, graph: GraphHandle) -> bool {
        let limit = self.config.limits.max_queued_events_per_registration;
        self.graphs.get(graph.0).is_some_and(|state| {
            state.registrations.iter().any(|handle| {
                self.registrations.get(handle.0).is_some_and(|r| {
                    r.mask & EventType::DirectConnection.bit() != 0 && r.queue.len() >= limit
                })
            })
        })
    }

    /// Whether any live registration of `graph` asked for `kind`.
    pub(crate) fn has_registration(&self, graph: GraphHandle, kind: EventType) -> bool {
        self.graphs.get(graph.0).is_some_and(|state| {
            state.registrations.iter().any(|handle| {
                self.registrations
                    .get(handle.0)
                    .is_some_and(|r| r.mask & kind.bit() != 0)
            })
        })
    }

    // ---------------------------------------------------------------- direct connections

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
        if peer_id == state.peer_id {
            return Err(OpenError::ConnectSelf);
        }
        if state.connections >= self.config.limits.max_direct_connections_per_graph {
            return Err(OpenError::ConnectionLimit);
        }
        if self.direct_events_backlogged(graph) {
            return Err(OpenError::EventBacklog);
        }
        if self.pending_handshakes.outbound >= self.config.limits.max_pending_handshakes {
            return Err(OpenError::TooManyPendingHandshakes);
        }
        let connection = self.allocate_connection();
        let link_id = self.allocate_link();
        let deadline = now + self.config.timeouts.handshake;
        let mut link = Link::new(LinkState::Dialing, Direction::Outbound, now, deadline);
        link.graph = Some(graph);
        link.connection = Some(connection);
        link.remote_peer_id = peer_id.to_owned();
        link.remote_addr = Some(address.socket);
        self.links.insert(link_id, link);
        self.connections.insert(connection, link_id);
        self.pending_handshakes.outbound += 1;
        self.graphs
            .get_mut(graph.0)
            .expect("graph checked live above")
            .connections += 1;
        self.link_commands.push_back(LinkCommand::Dial {
            link: link_id,
            address,
        });
        self.schedule(link_id);
        Ok(connection)
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
        self.advance(now);
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
            .get_mut(&link_id)
            .expect("established_link returned a live link");
        if link.queued_bytes > 0 && link.queued_bytes + data.len() > limit {
            return Err(SendError::QueueFull {
                queued: link.queued_bytes,
                limit,
            });
        }
        link.counters.messages_sent += 1;
        self.queue_frame(link_id, frame::data(type_id, data));
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
        let link_id = *self
            .connections
            .get(&connection)
            .expect("send_data found the connection");
        let link = self
            .links
            .get_mut(&link_id)
            .expect("send_data found the link");
        let mut queued = 1;
        for data in rest {
            if data.len() > max || link.queued_bytes + data.len() > limit {
                break;
            }
            link.counters.messages_sent += 1;
            // Already listed as ready by the first message.
            link.push_frame(frame::data(type_id, data.clone()), None);
            queued += 1;
        }
        Ok(queued)
    }

    /// What a link carries, once known: its graph, the local connection id and the remote peer
    /// id (outbound links from the start, inbound ones once their Hello is admitted). For logs.
    pub fn link_connection(&self, link: LinkId) -> Option<(GraphHandle, ConnectionId, &str)> {
        let link = self.links.get(&link)?;
        Some((link.graph?, link.connection?, link.remote_peer_id.as_str()))
    }

    /// Bytes queued on a connection and not yet taken by `poll_transmit`; `None` if the id is not
    /// an established connection of `graph`.
    pub fn queued_bytes(&self, graph: GraphHandle, connection: ConnectionId) -> Option<usize> {
        let link = self.established_link(graph, connection)?;
        self.links.get(&link).map(|link| link.queued_bytes)
    }

    fn established_link(&self, graph: GraphHandle, connection: ConnectionId) -> Option<LinkId> {
        let link_id = *self.connections.get(&connection)?;
        let link = self.links.get(&link_id)?;
        (link.graph == Some(graph) && link.state == LinkState::Connected).then_some(link_id)
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
        let link_id = *self
            .connections
            .get(&connection)
            .ok_or(CloseError::ConnectionNotFound)?;
        let link = self
            .links
            .get(&link_id)
            .ok_or(CloseError::ConnectionNotFound)?;
        if link.graph != Some(graph) {
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
        if !kinds.contains(ConnectionKinds::DIRECT) {
            return Ok(Vec::new());
        }
        let mut list: Vec<ConnectionInfo> = self
            .connections
            .iter()
            .filter_map(|(id, link_id)| {
                let link = self.links.get(link_id)?;
                if link.graph != Some(graph) || link.state == LinkState::Closing {
                    return None;
                }
                Some(ConnectionInfo {
                    id: *id,
                    kind: ConnectionKind::Direct,
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
                })
            })
            .collect();
        list.sort_by_key(|info| info.id);
        Ok(list)
    }

    // ---------------------------------------------------------------- outputs

    /// The next link command, if any.
    #[must_use]
    pub fn poll_link_command(&mut self) -> Option<LinkCommand> {
        self.link_commands.pop_front()
    }

    /// A link that has frames to transmit. Each is returned once until `poll_transmit` empties it.
    #[must_use]
    pub fn poll_ready_link(&mut self) -> Option<LinkId> {
        while let Some(id) = self.ready_links.pop_front() {
            if let Some(link) = self.links.get_mut(&id) {
                link.ready = false;
                if !link.send_queue.is_empty() {
                    return Some(id);
                }
            }
        }
        None
    }

    /// The next frame to write on `link`, in order.
    #[must_use]
    pub fn poll_transmit(&mut self, link: LinkId) -> Option<Transmit> {
        let link = self.links.get_mut(&link)?;
        let frame = link.send_queue.pop_front()?;
        link.queued_bytes -= frame.len();
        Some(frame)
    }

    /// A registration with events to take. Each is returned once until it is drained and new
    /// events arrive.
    #[must_use]
    pub fn poll_ready_registration(&mut self) -> Option<RegistrationHandle> {
        while let Some(handle) = self.ready_registrations.pop_front() {
            if let Some(registration) = self.registrations.get_mut(handle.0) {
                registration.ready = false;
                return Some(handle);
            }
        }
        None
    }

    /// When the node next needs `handle_timeout`. A call earlier or later is harmless.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ---------------------------------------------------------------- shared internals

    /// Records `now` and returns the node's clock (never earlier than before).
    pub(crate) fn advance(&mut self, now: Instant) -> Instant {
        let now = self.now.map_or(now, |seen| seen.max(now));
        self.now = Some(now);
        now
    }

    fn allocate_connection(&mut self) -> ConnectionId {
        let id = ConnectionId(self.next_connection);
        self.next_connection += 1;
        id
    }

    pub(crate) fn allocate_link(&mut self) -> LinkId {
        let id = LinkId(self.next_link);
        self.next_link += 1;
        id
    }

    pub(crate) fn queue_frame(&mut self, link_id: LinkId, frame: Transmit) {
        let now = self.now;
        let Some(link) = self.links.get_mut(&link_id) else {
            return;
        };
        if link.push_frame(frame, now) {
            self.ready_links.push_back(link_id);
        }
    }

    /// Makes the link an established direct connection of `graph` and raises `Connected`.
    pub(crate) fn establish(&mut self, link_id: LinkId, graph: GraphHandle) {
        let Some(link) = self.links.get_mut(&link_id) else {
            return;
        };
        let was_pending = link.state.is_handshaking();
        link.state = LinkState::Connected;
        let connection = match link.connection {
            Some(id) => id,
            None => {
                let id = ConnectionId(self.next_connection);
                self.next_connection += 1;
                link.connection = Some(id);
                self.connections.insert(id, link_id);
                id
            }
        };
        let remote = crate::event::RemotePeer {
            node_id: link
                .remote_node_id
                .expect("set from the handshake before establish"),
            peer_id: link.remote_peer_id.clone(),
            identity: link
                .remote_identity
                .expect("set at link up before establish"),
            direction: link.direction,
        };
        if was_pending {
            *self.pending_handshakes.of(remote.direction) -= 1;
        }
        let graph_state = self
            .graphs
            .get_mut(graph.0)
            .expect("caller holds a live graph");
        graph_state.established += 1;
        let first = graph_state.established == 1;
        self.emit(
            graph,
            GraphEvent::DirectConnection(ConnectionChange {
                connection,
                status: ConnectionStatus::Connected(remote),
            }),
        );
        if first {
            self.update_status(graph, GraphStatus::HAS_CONNECTIONS, true);
        }
        self.schedule(link_id);
    }

    /// Ends whatever the link carries: raises `status` for its connection (if it has one and its
    /// graph is live), releases counts, optionally sends a Close frame, and asks the runtime to
    /// close the link.
    pub(crate) fn end_link(
        &mut self,
        link_id: LinkId,
        status: Option<ConnectionStatus>,
        farewell: Option<CloseReason>,
    ) {
        if !self.release_link(link_id, status) {
            return;
        }
        if let Some(reason) = farewell {
            self.queue_frame(link_id, frame::close(reason));
        }
        self.link_commands
            .push_back(LinkCommand::Close { link: link_id });
    }

    /// The bookkeeping half of ending a link; leaves it `Closing`. False if already closing/gone.
    pub(crate) fn release_link(
        &mut self,
        link_id: LinkId,
        status: Option<ConnectionStatus>,
    ) -> bool {
        let Some(link) = self.links.get_mut(&link_id) else {
            return false;
        };
        if link.state == LinkState::Closing {
            return false;
        }
        let previous = std::mem::replace(&mut link.state, LinkState::Closing);
        let (graph, connection, direction) = (link.graph, link.connection, link.direction);
        if link.timer_at.take().is_some() {
            self.prune_timers();
        }
        if previous.is_handshaking() {
            *self.pending_handshakes.of(direction) -= 1;
        }
        if let Some(connection) = connection {
            self.connections.remove(&connection);
        }
        let Some(graph) = graph else { return true };
        let Some(graph_state) = self.graphs.get_mut(graph.0) else {
            return true;
        };
        if connection.is_some() {
            graph_state.connections -= 1;
        }
        let last = previous == LinkState::Connected && {
            graph_state.established -= 1;
            graph_state.established == 0
        };
        if let (Some(connection), Some(status)) = (connection, status) {
            self.emit(
                graph,
                GraphEvent::DirectConnection(ConnectionChange { connection, status }),
            );
        }
        if last {
            self.update_status(graph, GraphStatus::HAS_CONNECTIONS, false);
        }
        true
    }

    /// Puts the link's next deadline in the timer set when it is earlier than the one there.
    /// Deadlines that move later (new traffic) are left in place and re-armed when they fire.
    pub(crate) fn schedule(&mut self, link_id: LinkId) {
        let timeouts = self.config.timeouts;
        let Some(link) = self.links.get_mut(&link_id) else {
            return;
        };
        let deadline = match link.state {
            LinkState::Dialing | LinkState::AwaitingAccept | LinkState::AwaitingHello => {
                link.handshake_deadline
            }
            LinkState::Connected => {
                (link.last_received + timeouts.idle).min(link.last_sent + timeouts.keepalive)
            }
            LinkState::Closing => return,
        };
        if link.timer_at.is_some_and(|at| at <= deadline) {
            return;
        }
        let replaced = link.timer_at.replace(deadline).is_some();
        self.timers.push(deadline, link_id);
        if replaced {
            self.prune_timers();
        }
    }

    /// Drops the timer entries that no longer name a link's deadline (see [`Timers`]).
    fn prune_timers(&mut self) {
        let links = &self.links;
        self.timers
            .prune(links.len(), |at, id| timer_is_live(links, at, id));
    }

    /// Fires every deadline due at `now` (handshake expiry, idle timeout, keepalive).
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.advance(now);
        loop {
            let links = &self.links;
            let Some((_, link_id)) = self
                .timers
                .pop_due(now, |at, id| timer_is_live(links, at, id))
            else {
                break;
            };
            let Some(link) = self.links.get_mut(&link_id) else {
                continue;
            };
            link.timer_at = None;
            self.on_link_timer(now, link_id);
        }
    }

    fn on_link_timer(&mut self, now: Instant, link_id: LinkId) {
        let timeouts = self.config.timeouts;
        let Some(link) = self.links.get(&link_id) else {
            return;
        };
        match link.state {
            LinkState::Dialing | LinkState::AwaitingAccept | LinkState::AwaitingHello
                if now >= link.handshake_deadline =>
            {
                let farewell =
                    (link.state == LinkState::AwaitingAccept).then_some(CloseReason::Application);
                self.end_link(
                    link_id,
                    Some(ConnectionStatus::Failed(FailReason::TimedOut)),
                    farewell,
                );
                return;
            }
            LinkState::Connected if now >= link.last_received + timeouts.idle => {
                self.end_link(
                    link_id,
                    Some(ConnectionStatus::Disconnected(DisconnectReason::TimedOut)),
                    Some(CloseReason::IdleTimeout),
                );
                return;
            }
            LinkState::Connected if now >= link.last_sent + timeouts.keepalive => {
                if link.send_queue.is_empty() {
                    self.queue_frame(link_id, frame::keepalive());
                } else if let Some(link) = self.links.get_mut(&link_id) {
                    // Frames are already waiting to go out; they are the traffic.
                    link.last_sent = now;
                }
            }
            _ => {}
        }
        self.schedule(link_id);
    }

    pub(crate) fn emit_incoming(&mut self, graph: GraphHandle, data: IncomingData) {
        self.emit(graph, GraphEvent::IncomingData(data));
    }
}

/// Handshakes in progress, by direction.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Pending {
    pub(crate) inbound: usize,
    pub(crate) outbound: usize,
}

impl Pending {
    pub(crate) fn of(&mut self, direction: Direction) -> &mut usize {
        match direction {
            Direction::Inbound => &mut self.inbound,
            Direction::Outbound => &mut self.outbound,
        }
    }
}

/// Why a graph handle lookup failed; converts into each operation's error.
pub(crate) enum GraphLookupError {
    NotInitialized,
    InvalidGraph,
}

macro_rules! from_lookup {
    ($($error:ident),*) => {$(
        impl From<GraphLookupError> for $error {
            fn from(error: GraphLookupError) -> Self {
                match error {
                    GraphLookupError::NotInitialized => Self::NotInitialized,
                    GraphLookupError::InvalidGraph => Self::InvalidGraph,
                }
            }
        }
    )*};
}
from_lookup!(
    HandleError,
    RegisterError,
    OpenError,
    SendError,
    CloseError,
    EnumError
);

//! The node: one instance of the library. [`Node`] is a facade over the subsystems that own the
//! state ([`Graphs`], [`Registrations`], [`Links`]); the files of this module are its method
//! groups, and only they join the subsystems up.

mod connections;
mod flooding;
mod graphs;
mod handshake;
mod maintenance;
mod output;
mod presence;
mod records;

use std::time::Instant;

use crate::config::NodeConfig;
use crate::error::{
    CloseError, ConnectError, EnumError, HandleError, NodeError, NotInitialized, OpenError,
    PresenceError, PublishError, RecordError, RegisterError, RestoreError, SendError, StartupError,
};
use crate::event::GraphEvent;
use crate::graphs::{Graph, Graphs};
use crate::ids::{ConnectionId, GraphHandle};
use crate::info::VersionData;
use crate::links::{LinkState, Links, Unread};
use crate::registrations::Registrations;
use crate::status::GraphStatus;
use crate::timers::Timers;

/// The only version `startup` accepts: `MAKEWORD(1, 0)`.
pub const PEER_GRAPH_VERSION: u16 = 0x0001;

/// A sans-IO peergraph node: the state of one application's use of the library.
///
/// # Method groups
///
/// - **Commands** (the Windows API): [`startup`](Self::startup), [`shutdown`](Self::shutdown),
///   [`create_graph`](Self::create_graph), [`open_graph`](Self::open_graph),
///   [`close_graph`](Self::close_graph), [`node_info`](Self::node_info),
///   [`register_event`](Self::register_event), [`unregister_event`](Self::unregister_event),
///   [`take_event`](Self::take_event), [`take_events`](Self::take_events),
///   [`open_direct_connection`](Self::open_direct_connection), [`send_data`](Self::send_data),
///   [`send_data_batch`](Self::send_data_batch),
///   [`close_direct_connection`](Self::close_direct_connection),
///   [`enum_connections`](Self::enum_connections), [`set_listening`](Self::set_listening); the
///   record store's [`add_record`](Self::add_record), [`update_record`](Self::update_record),
///   [`delete_record`](Self::delete_record), [`get_record`](Self::get_record),
///   [`enum_records`](Self::enum_records), [`search_records`](Self::search_records),
///   [`import_records`](Self::import_records). They return `Result`s for the caller's mistakes.
/// - **Setup** from the driver: [`set_signing_key`](Self::set_signing_key) (the identity key
///   that signs records), [`set_wall_clock`](Self::set_wall_clock),
///   [`restore_records`](Self::restore_records) (a graph's database, before it joins anyone).
/// - **Inputs** from the driver: [`handle_link_up`](Self::handle_link_up),
///   [`accept_link`](Self::accept_link), [`handle_frame`](Self::handle_frame),
///   [`handle_link_closed`](Self::handle_link_closed). They never fail: whatever a peer sends
///   ends at worst in an event.
/// - **Output**: [`poll_output`](Self::poll_output), pulled after every input or command until
///   it returns [`Output::Timeout`](crate::Output::Timeout); time reaching that timeout is an
///   input too, given to the same call. A link's frames are pulled with
///   [`poll_transmit`](Self::poll_transmit), so each link's backpressure stays its own; a
///   graph's record writes with [`take_store_writes`](Self::take_store_writes).
///
/// Time is an argument; it never goes backwards inside the node (an earlier `now` counts as the
/// latest seen).
pub struct Node {
    config: NodeConfig,
    startups: u32,
    listening: bool,
    now: Option<Instant>,
    graphs: Graphs,
    registrations: Registrations,
    links: Links,
    /// Each graph's one live deadline (see `Graph::timer_at`).
    graph_timers: Timers<GraphHandle>,
    /// Graphs with something to do at the next `poll_output` (a new graph, a changed
    /// announcement).
    graphs_due: Vec<GraphHandle>,
    listening_at: presence::Listening,
    /// Signs the records this node writes.
    signer: Option<crate::records::Signer>,
    /// Reads record times.
    clock: crate::records::WallClock,
    /// Graphs whose record stores have writes for the driver.
    stores_due: Vec<GraphHandle>,
}

impl Node {
    /// A node with no startup outstanding. Zero timeouts become one millisecond (see
    /// [`NodeConfig::validate`]); timeouts and lifetimes longer than
    /// [`Timeouts::LONGEST`](crate::Timeouts::LONGEST) become that.
    pub fn new(mut config: NodeConfig) -> Self {
        let shortest = std::time::Duration::from_millis(1);
        for timeout in [
            &mut config.timeouts.handshake,
            &mut config.timeouts.idle,
            &mut config.timeouts.keepalive,
            &mut config.timeouts.hello,
            &mut config.timeouts.presence_lifetime,
            &mut config.timeouts.max_flood_lifetime,
            &mut config.timeouts.maintenance,
        ] {
            *timeout = (*timeout).clamp(shortest, crate::Timeouts::LONGEST);
        }
        Self {
            graphs: Graphs::new(config.rng_seed),
            registrations: Registrations::new(&config.limits),
            links: Links::new(&config.limits),
            graph_timers: Timers::default(),
            graphs_due: Vec::new(),
            listening_at: presence::Listening::default(),
            signer: None,
            clock: crate::records::WallClock::unset(),
            stores_due: Vec::new(),
            config,
            startups: 0,
            listening: false,
            now: None,
        }
    }

    /// The configuration the node was made with.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

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
            for graph in self.graphs.handles() {
                self.release_graph(graph);
            }
            for link in self
                .links
                .select(|link| link.state == LinkState::AwaitingHello)
            {
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
        for graph in self.graphs.handles() {
            self.update_status(graph, GraphStatus::LISTENING, listening);
        }
        Ok(())
    }

    /// Records `now` and returns the node's clock (never earlier than before).
    fn advance(&mut self, now: Instant) -> Instant {
        let now = self.now.map_or(now, |seen| seen.max(now));
        self.now = Some(now);
        now
    }

    /// A live graph, for a command on it.
    fn graph(&self, handle: GraphHandle) -> Result<&Graph, GraphLookupError> {
        self.initialized()
            .map_err(|_| GraphLookupError::NotInitialized)?;
        self.graphs
            .get(handle)
            .ok_or(GraphLookupError::InvalidGraph)
    }

    /// Queues `event` on every registration of `graph` that asked for its type.
    /// Queues `event` on every registration of `graph` that asked for its type. (A message's
    /// path does the same inline, so that the link it holds can count the copies.)
    fn emit(&mut self, graph: GraphHandle, event: GraphEvent) {
        if let Some(graph) = self.graphs.get(graph) {
            let kind = event.event_type();
            self.registrations.emit(graph.registrations(), kind, event);
        }
    }

    /// Counts `events`, just taken from (or dropped with) a registration, off their
    /// connections' receive windows: one lookup per run of messages from one connection.
    fn events_left_queue<'a>(&mut self, events: impl IntoIterator<Item = &'a GraphEvent>) {
        let mut run: Option<(ConnectionId, Unread)> = None;
        for event in events {
            let GraphEvent::IncomingData(data) = event else {
                continue;
            };
            match &mut run {
                Some((connection, taken)) if *connection == data.connection => {
                    taken.messages += 1;
                    taken.bytes += data.data.len();
                }
                _ => {
                    let next = (data.connection, Unread::one(data.data.len()));
                    if let Some((connection, taken)) = run.replace(next) {
                        self.data_left_queue(connection, taken);
                    }
                }
            }
        }
        if let Some((connection, taken)) = run {
            self.data_left_queue(connection, taken);
        }
    }

    /// `taken` of `connection`'s data left registration queues.
    #[inline]
    fn data_left_queue(&mut self, connection: ConnectionId, taken: Unread) {
        let Self {
            links, config, now, ..
        } = self;
        links.data_taken(connection, taken, *now, &config.timeouts);
    }

    fn update_status(&mut self, handle: GraphHandle, flag: GraphStatus, on: bool) {
        let changed = self
            .graphs
            .get_mut(handle)
            .and_then(|graph| graph.set_status(flag, on));
        if let Some(status) = changed {
            self.emit(handle, GraphEvent::StatusChanged(status));
        }
    }
}

/// Why a graph handle lookup failed; converts into each operation's error.
enum GraphLookupError {
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
    ConnectError,
    PublishError,
    NodeError,
    PresenceError,
    RecordError,
    RestoreError,
    SendError,
    CloseError,
    EnumError
);

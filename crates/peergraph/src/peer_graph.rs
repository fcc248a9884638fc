//! `PeerGraph`: one node, its public async API, and the tasks that drive it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use peergraph_core::{
    CloseError, ConnectError, ConnectionId, ConnectionInfo, ConnectionKinds, EnumError, EventType,
    FloodItem, GraphHandle, HandleError, Node, NodeError, NodeId, NodeInfo, NotInitialized,
    OpenError, PeerAddress, PeerIdentity, PresenceError, PublishError, RegisterError, SendError,
    StartupError, VersionData,
};
use peergraph_transport::Identity;
use tokio::task::AbortHandle;

use crate::address::PeerLocator;
use crate::config::{Config, IdentitySource};
use crate::driver::{Shared, now};
use crate::error::{BatchSendError, BuildError, ListenError};
use crate::events::EventStream;
use crate::transport::{Transport, TransportKind};

/// A peergraph node: the Windows Peer Graphing direct-connection API over real links.
///
/// Cheap to clone; every clone is the same node. The node's tasks stop when the last clone is
/// dropped, after a final shutdown that tells every peer.
///
/// Methods that return at once never wait on the network; `listen` waits for the bind and
/// `send_data` waits for room in the connection's send queue. Outcomes of connections arrive
/// as events on the streams from [`register_event`](Self::register_event).
#[derive(Clone)]
pub struct PeerGraph {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    data_dir: Option<std::path::PathBuf>,
    identity: PeerIdentity,
    transport: TransportKind,
    timer: AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.timer.abort();
        let mut state = self.shared.lock();
        state.save_all();
        state.databases.clear();
        while state.node.shutdown().is_ok() {}
        if let Some((_, listener)) = state.listener.take() {
            listener.abort();
        }
        self.shared.flush(&mut state);
        Shared::wake_all_streams(&mut state);
    }
}

impl PeerGraph {
    /// Builds a node (identity, transport, core) inside the current tokio runtime. Like the
    /// Windows library, it needs [`startup`](Self::startup) before anything else.
    pub fn new(config: Config) -> Result<Self, BuildError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| BuildError::NoRuntime)?;
        config.node.validate()?;
        let identity = match &config.identity {
            IdentitySource::Ephemeral => Identity::generate()?,
            IdentitySource::Directory(dir) => Identity::load_or_generate(dir)?,
        };
        let transport = Transport::new(config.transport, &identity, config.transport_config())?;
        let mut node_config = config.node.clone();
        if !config.deterministic_seed {
            node_config.rng_seed = fresh_seed(&identity.peer_identity());
        }
        let mut node = Node::new(node_config);
        node.set_signing_key(identity.key_pkcs8())
            .map_err(|_| BuildError::SigningKey)?;
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        node.set_wall_clock(now(), since_epoch);
        let shared = Shared::new(node, transport, runtime.clone());
        let timer = runtime.spawn(shared.clone().timer_loop()).abort_handle();
        Ok(Self {
            inner: Arc::new(Inner {
                shared,
                data_dir: config.data_dir.clone(),
                identity: identity.peer_identity(),
                transport: config.transport,
                timer,
            }),
        })
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    pub(crate) fn data_dir(&self) -> Option<&std::path::Path> {
        self.inner.data_dir.as_deref()
    }

    /// This node's verified identity, as peers see it.
    pub fn identity(&self) -> PeerIdentity {
        self.inner.identity
    }

    /// The transport this node uses.
    pub fn transport(&self) -> TransportKind {
        self.inner.transport
    }

    /// Starts one use of the library (`PeerGraphStartup`); counted.
    pub fn startup(&self, version: u16) -> Result<VersionData, StartupError> {
        self.shared().with(|state| state.node.startup(version))
    }

    /// Ends one use (`PeerGraphShutdown`); the last one closes every graph and connection
    /// (peers see `Disconnected`), ends every event stream and stops listening.
    pub fn shutdown(&self) -> Result<(), NotInitialized> {
        self.shared().with(|state| {
            state.save_all();
            state.node.shutdown()?;
            if !state.node.is_initialized() {
                state.databases.clear();
                if let Some((_, listener)) = state.listener.take() {
                    listener.abort();
                }
                Shared::wake_all_streams(state);
            }
            Ok(())
        })
    }

    /// Accepts direct connections on `addr` (port 0 picks a free port); returns the bound
    /// address. One listener serves every graph of the node. Each graph announces the bound
    /// address to the others (unless it is a wildcard address such as `0.0.0.0`: then say
    /// which addresses reach this node with
    /// [`set_listen_addresses`](Self::set_listen_addresses)).
    pub async fn listen(&self, addr: SocketAddr) -> Result<SocketAddr, ListenError> {
        {
            let state = self.shared().lock();
            if !state.node.is_initialized() {
                return Err(ListenError::NotInitialized);
            }
            if let Some((bound, _)) = state.listener {
                return Err(ListenError::AlreadyListening(bound));
            }
        }
        let listener = self
            .shared()
            .transport
            .listen(addr)
            .await
            .map_err(ListenError::UnableToListen)?;
        let bound = listener.local_addr();
        let task = self
            .shared()
            .runtime
            .spawn(self.shared().clone().accept_loop(listener))
            .abort_handle();
        self.shared().with(|state| {
            if let Err(NotInitialized) = state.node.set_listening(true) {
                task.abort();
                return Err(ListenError::NotInitialized);
            }
            // Another `listen` finished while this one was binding.
            if let Some((bound, _)) = state.listener {
                task.abort();
                return Err(ListenError::AlreadyListening(bound));
            }
            state.listener = Some((bound, task));
            if !bound.ip().is_unspecified() {
                state.node.set_listen_addresses(self.identity(), &[bound]);
            }
            Ok(bound)
        })
    }

    /// The addresses the graphs announce as this node's (at most 16; the first is the one
    /// others dial): for a node listening on a wildcard address, or behind a port mapping.
    pub fn set_listen_addresses(&self, addresses: &[SocketAddr]) {
        let identity = self.identity();
        self.shared()
            .with(|state| state.node.set_listen_addresses(identity, addresses));
    }

    /// The nodes of the graph that announce themselves (`PeerGraphEnumNodes`), this node first;
    /// only those with `peer_id` if given.
    pub fn enum_nodes(
        &self,
        graph: GraphHandle,
        peer_id: Option<&str>,
    ) -> Result<Vec<NodeInfo>, NodeError> {
        self.shared().lock().node.enum_nodes(graph, peer_id)
    }

    /// One node of the graph (`PeerGraphGetNodeInfo`): this node or one that announces itself.
    pub fn node_info_of(&self, graph: GraphHandle, node: NodeId) -> Result<NodeInfo, NodeError> {
        self.shared().lock().node.node_info_of(graph, node)
    }

    /// Sets this node's attribute text in the graph (`PeerGraphSetNodeAttributes`; `None`
    /// clears it); the other nodes see `NodeChanged(Updated)`.
    pub fn set_node_attributes(
        &self,
        graph: GraphHandle,
        attributes: Option<&str>,
    ) -> Result<(), PresenceError> {
        self.shared()
            .with(|state| state.node.set_node_attributes(graph, attributes))
    }

    /// Whether this node announces itself in the graph (`PeerGraphSetPresence`; on by default).
    pub fn set_presence(&self, graph: GraphHandle, present: bool) -> Result<(), PresenceError> {
        self.shared()
            .with(|state| state.node.set_presence(graph, present))
    }

    /// Opens a direct connection to a node found in the graph ([`enum_nodes`](Self::enum_nodes)),
    /// at the address it announced and pinned to the identity it announced.
    pub fn open_direct_connection_to_node(
        &self,
        graph: GraphHandle,
        node: NodeId,
    ) -> Result<ConnectionId, OpenError> {
        self.shared().with(|state| {
            state
                .node
                .open_direct_connection_to_node(now(), graph, node)
        })
    }

    /// The address the node listens on, if it does.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.shared()
            .lock()
            .listener
            .as_ref()
            .map(|(addr, _)| *addr)
    }

    /// Closes a graph (`PeerGraphClose`): its connections end on both sides, its event
    /// streams end, and its database is closed.
    pub fn close_graph(&self, graph: GraphHandle) -> Result<(), HandleError> {
        self.shared().with(|state| {
            state.save(graph);
            state.node.close_graph(graph)?;
            state.databases.remove(&graph);
            Shared::wake_all_streams(state);
            Ok(())
        })
    }

    /// Registers for event types on a graph (`PeerGraphRegisterEvent`); each stream gets its
    /// own copy of every matching event.
    pub fn register_event(
        &self,
        graph: GraphHandle,
        event_types: &[EventType],
    ) -> Result<EventStream, RegisterError> {
        let registration = self
            .shared()
            .with(|state| state.node.register_event(graph, event_types))?;
        Ok(EventStream::new(self.shared().clone(), registration))
    }

    /// Starts a direct connection (`PeerGraphOpenDirectConnection`). Returns its id at once; the
    /// outcome arrives as one `DirectConnection` event with that id.
    pub fn open_direct_connection(
        &self,
        graph: GraphHandle,
        peer_id: &str,
        address: PeerAddress,
    ) -> Result<ConnectionId, OpenError> {
        self.shared().with(|state| {
            state
                .node
                .open_direct_connection(now(), graph, peer_id, address)
        })
    }

    /// Starts a neighbor connection (`PeerGraphConnect`) to the graph's node at `address`:
    /// `peer_id` is the peer expected there, or `None` for whichever peer of the graph it is.
    /// Returns its id at once; the outcome arrives as one `NeighborConnection` event with that
    /// id. `send_data` works on it.
    pub fn connect(
        &self,
        graph: GraphHandle,
        peer_id: Option<&str>,
        address: PeerAddress,
    ) -> Result<ConnectionId, ConnectError> {
        self.shared()
            .with(|state| state.node.connect(now(), graph, peer_id, address))
    }

    /// Floods version `version` of item `(kind, id)` to the graph over its neighbor connections
    /// (design/0006): every node of a connected graph ends up holding the newest version, until
    /// `lifetime` after it arrived there. Kinds below [`FIRST_APPLICATION_KIND`] are the
    /// library's.
    ///
    /// [`FIRST_APPLICATION_KIND`]: peergraph_core::FIRST_APPLICATION_KIND
    pub fn publish(
        &self,
        graph: GraphHandle,
        kind: u32,
        id: &[u8],
        version: u64,
        lifetime: Duration,
        payload: impl Into<Bytes>,
    ) -> Result<(), PublishError> {
        let payload = payload.into();
        self.shared().with(|state| {
            state
                .node
                .publish(now(), graph, kind, id, version, lifetime, payload)
        })
    }

    /// The flooded items of `kind` the graph holds.
    pub fn flooded_items(
        &self,
        graph: GraphHandle,
        kind: u32,
    ) -> Result<Vec<FloodItem>, HandleError> {
        self.shared().lock().node.flooded_items(graph, kind)
    }

    /// Queues a typed message (`PeerGraphSendData`), waiting while the connection's send queue
    /// is full. Returns once queued; there is no acknowledgement.
    pub async fn send_data(
        &self,
        graph: GraphHandle,
        connection: ConnectionId,
        type_id: [u8; 16],
        data: impl Into<Bytes>,
    ) -> Result<(), SendError> {
        let data = data.into();
        self.with_room(|| self.try_send_data(graph, connection, type_id, data.clone()))
            .await
    }

    /// Queues a typed message, or fails with [`SendError::QueueFull`] at once when the
    /// connection's send queue cannot take it.
    pub fn try_send_data(
        &self,
        graph: GraphHandle,
        connection: ConnectionId,
        type_id: [u8; 16],
        data: impl Into<Bytes>,
    ) -> Result<(), SendError> {
        let data = data.into();
        self.shared().with(|state| {
            state
                .node
                .send_data(now(), graph, connection, type_id, data)
        })
    }

    /// Queues several messages of one type on one connection, in order, waiting for queue room
    /// as needed: the same as a `send_data` call per message, for one lock and one wake-up of
    /// the link per queueful. Returns once all are queued. Each message still arrives as its
    /// own `IncomingData` event.
    ///
    /// On an error, [`BatchSendError::queued`] tells how many messages from the start were
    /// queued before it; those are delivered as usual.
    ///
    /// Dropping the future while it waits for room (a timeout, a `select!`) is safe but does
    /// not say how far it got: the messages queued until then are delivered, the rest are not.
    /// To know the count at every point, call
    /// [`try_send_data_batch`](Self::try_send_data_batch) in a loop instead.
    pub async fn send_data_batch(
        &self,
        graph: GraphHandle,
        connection: ConnectionId,
        type_id: [u8; 16],
        messages: &[Bytes],
    ) -> Result<(), BatchSendError> {
        let mut queued = 0;
        while queued < messages.len() {
            let rest = &messages[queued..];
            match self
                .with_room(|| self.try_send_data_batch(graph, connection, type_id, rest))
                .await
            {
                Ok(count) => queued += count,
                Err(error) => return Err(BatchSendError { queued, error }),
            }
        }
        Ok(())
    }

    /// Queues as many of `messages` as the connection's send queue takes now, in order, and
    /// returns how many (like `std::io::Write::write`). Fails only when not even the first can
    /// be queued, with the error `try_send_data` would give for it; a short count means the
    /// next message would have failed (a full queue, or a message over the size limit). An
    /// empty slice queues nothing and returns `Ok(0)` without looking at the connection.
    pub fn try_send_data_batch(
        &self,
        graph: GraphHandle,
        connection: ConnectionId,
        type_id: [u8; 16],
        messages: &[Bytes],
    ) -> Result<usize, SendError> {
        self.shared().with(|state| {
            state
                .node
                .send_data_batch(now(), graph, connection, type_id, messages)
        })
    }

    /// Runs `attempt` until it does not fail with `QueueFull`, waiting for queue room between
    /// tries. The first try takes no waiter registration, so a send that fits costs one lock.
    async fn with_room<T>(
        &self,
        mut attempt: impl FnMut() -> Result<T, SendError>,
    ) -> Result<T, SendError> {
        loop {
            match attempt() {
                Err(SendError::QueueFull { .. }) => {}
                result => return result,
            }
            // Registered before the retry, so room made between the retry and the wait is
            // not missed.
            let room = self.shared().room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match attempt() {
                Err(SendError::QueueFull { .. }) => room.await,
                result => return result,
            }
        }
    }

    /// Closes a direct connection (`PeerGraphCloseDirectConnection`); both sides get one
    /// `Disconnected` event, after the data queued before it.
    pub fn close_direct_connection(
        &self,
        graph: GraphHandle,
        connection: ConnectionId,
    ) -> Result<(), CloseError> {
        self.shared()
            .with(|state| state.node.close_direct_connection(graph, connection))
    }

    /// Lists a graph's connections (`PeerGraphEnumConnections`).
    pub fn enum_connections(
        &self,
        graph: GraphHandle,
        kinds: ConnectionKinds,
    ) -> Result<Vec<ConnectionInfo>, EnumError> {
        self.shared().lock().node.enum_connections(graph, kinds)
    }

    /// The local node in a graph (`PeerGraphGetNodeInfo(0)`).
    pub fn node_info(&self, graph: GraphHandle) -> Result<NodeInfo, HandleError> {
        self.shared().lock().node.node_info(graph)
    }

    /// Waits until every connection this node has closed (by `close_direct_connection`,
    /// `close_graph` or `shutdown`) has written what was queued before the close, its farewell
    /// included, and its link is closed. A link gets at most the idle timeout for this. Before a
    /// process exits, call [`finish_before_exit`](Self::finish_before_exit) instead.
    pub async fn finish_closing(&self) {
        loop {
            let changed = self.shared().links_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if !Shared::closing_links(&self.shared().lock()) {
                return;
            }
            changed.await;
        }
    }

    /// [`finish_closing`](Self::finish_closing), then, if the node has no link left, waits
    /// until what the transport closed by itself has reached the peers (over QUIC: each dialed
    /// connection's `CONNECTION_CLOSE`, sent once its last link is gone), up to the idle timeout.
    /// Call it before exiting a process, so that peers see every close rather than time out.
    pub async fn finish_before_exit(&self) {
        self.finish_closing().await;
        let (bound, no_links) = {
            let state = self.shared().lock();
            (state.node.config().timeouts.idle, Shared::no_links(&state))
        };
        if no_links {
            let _ = tokio::time::timeout(bound, self.shared().transport.finish_closing()).await;
        }
    }

    /// The address peers should dial to reach this node as `peer_id`, with its identity pinned,
    /// once it listens: `peer_id@addr#identity`.
    pub fn locator(&self, peer_id: &str) -> Option<PeerLocator> {
        let socket = self.local_addr()?;
        Some(PeerLocator {
            peer_id: peer_id.to_owned(),
            address: PeerAddress::pinned(socket, self.identity()),
        })
    }
}

impl std::fmt::Debug for PeerGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerGraph")
            .field("identity", &self.inner.identity)
            .field("transport", &self.inner.transport)
            .finish_non_exhaustive()
    }
}

/// A node-id seed that differs between nodes and runs: the identity mixed with the wall clock.
fn fresh_seed(identity: &PeerIdentity) -> u64 {
    let mut seed = [0u8; 8];
    seed.copy_from_slice(&identity.as_bytes()[..8]);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    u64::from_le_bytes(seed) ^ nanos
}

//! Starting a node from the command line, dialing a peer, and printing events readably.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use peergraph::{
    Config, ConnectionId, ConnectionStatus, Direction, EventStream, EventType, GraphConfig,
    GraphError, GraphEvent, GraphHandle, GraphOpenError, NodeChangeKind, NodeConfig,
    PEER_GRAPH_VERSION, PeerGraph, PeerLocator, RemotePeer,
};

use crate::cli::NodeArgs;
use crate::exit::{ErrorClass, Failure};
use crate::shown::Shown;
use crate::transfer::Message;

/// The events every command needs.
pub(crate) const EVENTS: &[EventType] = &[EventType::DirectConnection, EventType::IncomingData];

/// The events of a node in a graph: every command's, and the graph's own.
pub(crate) const GRAPH_EVENTS: &[EventType] = &[
    EventType::DirectConnection,
    EventType::IncomingData,
    EventType::NeighborConnection,
    EventType::NodeChanged,
    EventType::ConnectionRequired,
    EventType::StatusChanged,
    EventType::RecordChanged,
    EventType::PropertyChanged,
];

/// One node with one graph and one event registration.
pub(crate) struct LocalNode {
    pub(crate) node: PeerGraph,
    pub(crate) graph: GraphHandle,
    pub(crate) events: EventStream,
    pub(crate) peer_id: String,
    /// The peer id at the other end of each connection, for readable output.
    pub(crate) peers: HashMap<ConnectionId, String>,
    /// The members this node joins the graph through (`--bootstrap`).
    pub(crate) bootstraps: Vec<PeerLocator>,
    /// Whether record changes print a line (chat prints its own).
    pub(crate) show_records: bool,
}

impl LocalNode {
    /// Builds a node from the shared options; listens on `listen` when given. The registration
    /// exists before the listener so no early peer is refused. With `--bootstrap` (or `in_graph`)
    /// the node also takes the graph's own events; with `--bootstrap` it opens the graph rather
    /// than creating it (call [`join`](Self::join) next).
    pub(crate) async fn start(
        args: &NodeArgs,
        listen: Option<SocketAddr>,
        in_graph: bool,
    ) -> Result<Self, Failure> {
        if args.connect_timeout == 0 {
            return Err(Failure::new(
                ErrorClass::Usage,
                "--connect-timeout must be at least 1",
            ));
        }
        let mut graph = GraphConfig::new(&args.graph, &args.peer_id);
        if let Some(path) = &args.secret_file {
            graph = graph.with_secret(read_secret(path)?);
        }
        if args.presence_lifetime == 0 {
            return Err(Failure::new(
                ErrorClass::Usage,
                "--presence-lifetime must be at least 1",
            ));
        }
        let mut node_config = NodeConfig::default();
        node_config.timeouts.handshake = Duration::from_secs(args.connect_timeout);
        node_config.timeouts.presence_lifetime = Duration::from_secs(args.presence_lifetime);
        let mut config = Config::new(args.transport.into()).with_node(node_config);
        if let Some(dir) = &args.identity_dir {
            config = config.with_identity_dir(dir);
        }
        if let Some(dir) = &args.data_dir {
            config = config.with_data_dir(dir);
        }
        let node = PeerGraph::new(config).map_err(Failure::other)?;
        let joining = !args.bootstrap.is_empty();
        // A node that kept the graph's records opens them again, as the creator or not.
        let stored = node
            .database_path(&args.graph, &args.peer_id)
            .is_some_and(|path| path.exists());
        let events = if joining || in_graph {
            GRAPH_EVENTS
        } else {
            EVENTS
        };
        let mut local = Self::with_graph(node, graph, listen, joining || stored, events).await?;
        local.bootstraps.clone_from(&args.bootstrap);
        if !args.advertise.is_empty() {
            local.node.set_listen_addresses(&args.advertise);
        }
        if let Some(attributes) = &args.attributes {
            local
                .node
                .set_node_attributes(local.graph, Some(attributes))
                .map_err(|error| Failure::new(ErrorClass::Usage, error.to_string()))?;
        }
        Ok(local)
    }

    /// Starts `node` with `graph` (opened when `open`, created otherwise) and a registration for
    /// `events`.
    pub(crate) async fn with_graph(
        node: PeerGraph,
        graph: GraphConfig,
        listen: Option<SocketAddr>,
        open: bool,
        events: &[EventType],
    ) -> Result<Self, Failure> {
        node.startup(PEER_GRAPH_VERSION).map_err(Failure::other)?;
        let peer_id = graph.peer_id.clone();
        let graph = if open {
            node.open_graph(graph).map(|(graph, _)| graph)
        } else {
            node.create_graph(graph)
        }
        .map_err(|error| match error {
            GraphOpenError::Graph(GraphError::InvalidArgument { argument }) => {
                Failure::new(ErrorClass::Usage, argument.to_string())
            }
            other => Failure::other(other),
        })?;
        let events = node.register_event(graph, events).map_err(Failure::other)?;
        if let Some(addr) = listen {
            node.listen(addr)
                .await
                .map_err(|error| Failure::other(format!("cannot listen on {addr}: {error}")))?;
        }
        Ok(Self {
            node,
            graph,
            events,
            peer_id,
            peers: HashMap::new(),
            bootstraps: Vec::new(),
            show_records: true,
        })
    }

    /// The text peers pass to `send --to` or `chat --connect`, once listening.
    pub(crate) fn locator(&self) -> Option<PeerLocator> {
        self.node.locator(&self.peer_id)
    }

    /// Starts a connection to `target`; its outcome arrives as an event.
    pub(crate) fn open(&mut self, target: &PeerLocator) -> Result<ConnectionId, Failure> {
        let id = self
            .node
            .open_direct_connection(self.graph, &target.peer_id, target.address)
            .map_err(|error| Failure::other(format!("cannot connect to {target}: {error}")))?;
        self.peers.insert(id, target.peer_id.clone());
        Ok(id)
    }

    /// Waits for the outcome of connection `id` to `target`, printing every event.
    pub(crate) async fn await_outcome(
        &mut self,
        id: ConnectionId,
        target: &str,
    ) -> Result<ConnectionId, Failure> {
        loop {
            let event = self.next_event().await?;
            self.print(&event);
            if let GraphEvent::DirectConnection(change) = event {
                if change.connection == id {
                    return match change.status {
                        ConnectionStatus::Connected(_) => Ok(id),
                        ConnectionStatus::Failed(reason) => Err(Failure::connect(target, reason)),
                        ConnectionStatus::Disconnected(reason) => Err(Failure::new(
                            ErrorClass::TransferFailed,
                            format!("connection to {target} lost: {reason}"),
                        )),
                    };
                }
            }
        }
    }

    /// The next event; a registration that ends means the node went away.
    pub(crate) async fn next_event(&mut self) -> Result<GraphEvent, Failure> {
        self.events
            .next()
            .await
            .ok_or_else(|| Failure::other("the node shut down"))
    }

    /// Sends one application message.
    pub(crate) async fn send(
        &self,
        connection: ConnectionId,
        message: Message,
    ) -> Result<(), Failure> {
        let (type_id, data) = message.encode();
        self.node
            .send_data(self.graph, connection, type_id, data)
            .await
            .map_err(|error| {
                Failure::new(
                    ErrorClass::TransferFailed,
                    format!(
                        "connection #{} lost while sending: {error}",
                        connection.get()
                    ),
                )
            })
    }

    /// Prints `event` as one line (data events are left to the caller, which knows their
    /// meaning) and keeps the peer names up to date.
    pub(crate) fn print(&mut self, event: &GraphEvent) {
        if let GraphEvent::DirectConnection(change) = event {
            if let ConnectionStatus::Connected(remote) = &change.status {
                self.peers.insert(change.connection, peer_name(remote));
            }
        }
        if let GraphEvent::PropertyChanged = event {
            if let Ok(line) = crate::records::properties_line(self) {
                println!("[{}] {line}", self.peer_id);
            }
        } else if let GraphEvent::RecordChanged(_) = event {
            if let Some(line) =
                crate::records::change_line(self, event).filter(|_| self.show_records)
            {
                println!("{line}");
            }
        } else if let Some(line) = describe(&self.peer_id, event, &self.peers) {
            println!("{line}");
        }
        if event.is_terminal() {
            if let GraphEvent::DirectConnection(change) = event {
                self.peers.remove(&change.connection);
            }
        }
    }
}

/// Reads a graph secret; trailing whitespace is dropped so `echo secret > file` works.
fn read_secret(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    let mut secret = std::fs::read(path).map_err(|error| {
        Failure::new(
            ErrorClass::File,
            format!("cannot read secret file {}: {error}", path.display()),
        )
    })?;
    while secret.last().is_some_and(u8::is_ascii_whitespace) {
        secret.pop();
    }
    if secret.is_empty() {
        return Err(Failure::new(
            ErrorClass::Usage,
            format!("secret file {} is empty", path.display()),
        ));
    }
    Ok(secret)
}

/// One readable line for a connection event, or `None` for data (callers summarise data).
pub(crate) fn describe(
    me: &str,
    event: &GraphEvent,
    peers: &HashMap<ConnectionId, String>,
) -> Option<String> {
    let peer_of = |id: &ConnectionId| peers.get(id).map_or("?", String::as_str);
    Some(match event {
        GraphEvent::DirectConnection(change) => {
            let id = change.connection.get();
            match &change.status {
                ConnectionStatus::Connected(remote) => {
                    format!(
                        "[{me}] connection #{id} connected {}",
                        describe_remote(remote)
                    )
                }
                ConnectionStatus::Failed(reason) => format!(
                    "[{me}] connection #{id} to {} failed: {reason}",
                    Shown(peer_of(&change.connection))
                ),
                ConnectionStatus::Disconnected(reason) => format!(
                    "[{me}] connection #{id} with {} disconnected: {reason}",
                    Shown(peer_of(&change.connection))
                ),
            }
        }
        GraphEvent::NeighborConnection(change) => {
            let id = change.connection.get();
            match &change.status {
                ConnectionStatus::Connected(remote) => {
                    format!(
                        "[{me}] neighbor #{id} connected {}",
                        describe_remote(remote)
                    )
                }
                ConnectionStatus::Failed(reason) => {
                    format!("[{me}] neighbor #{id} failed: {reason}")
                }
                ConnectionStatus::Disconnected(reason) => {
                    format!("[{me}] neighbor #{id} disconnected: {reason}")
                }
            }
        }
        GraphEvent::NodeChanged(change) => {
            let what = match change.change {
                NodeChangeKind::Connected => "joined",
                NodeChangeKind::Updated => "updated",
                NodeChangeKind::Disconnected => "left",
            };
            format!(
                "[{me}] node {} {what} (node 0x{:016x})",
                Shown(&change.peer_id),
                change.node_id.get()
            )
        }
        GraphEvent::ConnectionRequired => {
            format!("[{me}] the graph has no neighbor and knows no node to try")
        }
        GraphEvent::StatusChanged(status) => format!("[{me}] status {status:?}"),
        GraphEvent::Synchronized { record_type } => format!(
            "[{me}] synchronized type:{}",
            crate::records::type_name(record_type)
        ),
        GraphEvent::IncomingData(_) => return None,
        other => format!("[{me}] {other:?}"),
    })
}

fn describe_remote(remote: &RemotePeer) -> String {
    let (word, direction) = match remote.direction {
        Direction::Outbound => ("to", "outbound"),
        Direction::Inbound => ("from", "inbound"),
    };
    let identity = remote.identity.to_string();
    format!(
        "{word} {} ({direction}, node 0x{:016x}, identity {}…)",
        Shown(&remote.peer_id),
        remote.node_id.get(),
        &identity[..16]
    )
}

/// How a connected peer is named in what the CLI prints: its peer id (a claim, escaped) and the
/// start of its verified identity, as in a locator (`alice#6b6b6cd0`), so that a member calling
/// itself by another's peer id is told apart.
fn peer_name(remote: &RemotePeer) -> String {
    let identity = remote.identity.to_string();
    format!("{}#{}", Shown(&remote.peer_id), &identity[..8])
}

/// Lowercase hex of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Waits (up to the transport's idle timeout) until the farewells of a local close or shutdown,
/// the data queued before them and the transport's own closes are on the wire, so exiting loses
/// nothing.
pub(crate) async fn linger(node: &peergraph::PeerGraph) {
    node.finish_before_exit().await;
}

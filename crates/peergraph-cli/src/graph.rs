//! A node in a graph from the command line: joining through bootstrap members, listing the
//! graph's nodes, and reaching a peer by its peer id alone.

use peergraph::{ConnectionId, ConnectionStatus, GraphEvent, GraphStatus, NodeInfo};

use crate::cli::{NodesArgs, Target};
use crate::exit::{ErrorClass, Failure, Outcome};
use crate::node::{LocalNode, linger};
use crate::shown::Shown;

impl LocalNode {
    /// Connects to every bootstrap member as a neighbor and waits, printing events, until the
    /// graph is synchronized: the first neighbor has sent every node and item it holds. Fails
    /// when every bootstrap connection failed.
    pub(crate) async fn join(&mut self) -> Result<(), Failure> {
        let mut pending = self.connect_bootstraps();
        let mut last_failure = None;
        loop {
            let event = self.next_event().await?;
            self.print(&event);
            match event {
                GraphEvent::StatusChanged(status) if status.contains(GraphStatus::SYNCHRONIZED) => {
                    return Ok(());
                }
                GraphEvent::NeighborConnection(change) if pending.contains(&change.connection) => {
                    if let ConnectionStatus::Failed(reason) = change.status {
                        pending.retain(|id| *id != change.connection);
                        last_failure = Some(reason);
                    }
                }
                _ => {}
            }
            if pending.is_empty() {
                let reason = last_failure.expect("a bootstrap failed");
                return Err(Failure::connect("every bootstrap member", reason));
            }
        }
    }

    /// Starts a neighbor connection to each bootstrap member (after `ConnectionRequired`, again);
    /// returns their ids. One that cannot start is reported and skipped.
    pub(crate) fn connect_bootstraps(&mut self) -> Vec<ConnectionId> {
        let mut ids = Vec::new();
        for bootstrap in self.bootstraps.clone() {
            match self
                .node
                .connect(self.graph, Some(&bootstrap.peer_id), bootstrap.address)
            {
                Ok(id) => {
                    self.peers.insert(id, bootstrap.peer_id.clone());
                    ids.push(id);
                }
                Err(error) => println!("[{}] cannot connect to {bootstrap}: {error}", self.peer_id),
            }
        }
        ids
    }

    /// Opens a direct connection to `target` and waits for its outcome (see
    /// [`open_target`](Self::open_target)).
    pub(crate) async fn connect_to(&mut self, target: &Target) -> Result<ConnectionId, Failure> {
        let id = self.open_target(target)?;
        self.await_outcome(id, &target.to_string()).await
    }

    /// Starts a direct connection to `target`: at its locator, or to the node of the graph with
    /// that peer id (at the address it announced, with its identity pinned).
    pub(crate) fn open_target(&mut self, target: &Target) -> Result<ConnectionId, Failure> {
        match target {
            Target::At(locator) => self.open(locator),
            Target::Named(peer_id) => {
                let node = self.find(peer_id)?;
                let id = self
                    .node
                    .open_direct_connection_to_node(self.graph, node.node_id)
                    .map_err(|error| {
                        Failure::other(format!("cannot connect to {}: {error}", Shown(peer_id)))
                    })?;
                self.peers.insert(id, peer_id.clone());
                Ok(id)
            }
        }
    }

    /// The node of the graph with `peer_id` (the first listed, if several claim it).
    fn find(&self, peer_id: &str) -> Result<NodeInfo, Failure> {
        let nodes = self
            .node
            .enum_nodes(self.graph, Some(peer_id))
            .map_err(Failure::other)?;
        if let Some(node) = nodes.into_iter().next() {
            return Ok(node);
        }
        if self.bootstraps.is_empty() {
            return Err(Failure::new(
                ErrorClass::Usage,
                format!(
                    "{} is not a locator (PEER@HOST:PORT): a bare peer id needs --bootstrap",
                    Shown(peer_id)
                ),
            ));
        }
        Err(Failure::new(
            ErrorClass::Refused,
            format!("no node of the graph has peer id {}", Shown(peer_id)),
        ))
    }
}

/// `peergraph nodes`: joins through `--bootstrap`, prints one line per node once synchronized
/// (`node PEER 0xNODEID ADDRESS... [attributes]`), and leaves.
pub(crate) async fn nodes(args: NodesArgs) -> Outcome {
    if args.node.bootstrap.is_empty() {
        return Err(Failure::new(ErrorClass::Usage, "nodes needs --bootstrap"));
    }
    let mut local = LocalNode::start(&args.node, None, true).await?;
    let joined = local.join().await;
    if joined.is_ok() {
        let nodes = local
            .node
            .enum_nodes(local.graph, None)
            .map_err(Failure::other)?;
        // This node itself is not one of the graph's nodes the caller asked about.
        for node in nodes.iter().filter(|node| node.peer_id != local.peer_id) {
            println!("{}", node_line(node));
        }
    }
    let _ = local.node.shutdown();
    linger(&local.node).await;
    joined
}

/// `node PEER 0xNODEID ADDRESS... [attributes]`.
fn node_line(node: &NodeInfo) -> String {
    let addresses: Vec<String> = node.addresses.iter().map(ToString::to_string).collect();
    let mut line = format!(
        "node {} 0x{:016x} {}",
        Shown(&node.peer_id),
        node.node_id.get(),
        if addresses.is_empty() {
            "-".to_owned()
        } else {
            addresses.join(",")
        }
    );
    if !node.attributes.is_empty() {
        line.push_str(&format!(" [{}]", Shown(&node.attributes)));
    }
    line
}

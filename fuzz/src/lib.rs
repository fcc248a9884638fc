//! What the fuzz targets share: frames built from arbitrary fields, and a watcher that holds a
//! node's events and enumerations to the core's promises after every step.

use std::collections::{HashMap, HashSet};

use arbitrary::Arbitrary;
use bytes::Bytes;
use peergraph_core::{
    ConnectionId, ConnectionKinds, ConnectionState, ConnectionStatus, EventType, GraphEvent,
    GraphHandle, RegistrationHandle,
};
use peergraph_proto::v1::{self as wire, frame::Kind};
use peergraph_sim::SimNode;
use prost::Message;

/// A frame to put on a link: either raw bytes or a well-formed message with arbitrary fields.
#[derive(Debug, Arbitrary)]
pub enum FrameSpec {
    /// Bytes as they are.
    Raw(Vec<u8>),
    /// A Hello with every field chosen.
    Hello {
        /// Protocol version.
        version: u32,
        /// Graph id.
        graph_id: String,
        /// Target peer id.
        target_peer_id: String,
        /// Source peer id.
        source_peer_id: String,
        /// Source node id.
        source_node_id: u64,
        /// SPAKE2 share.
        share: Vec<u8>,
        /// A neighbor connection's Hello.
        neighbor: bool,
    },
    /// An Accept.
    Accept {
        /// Node id.
        node_id: u64,
        /// SPAKE2 share.
        share: Vec<u8>,
        /// Key confirmation.
        confirmation: Vec<u8>,
        /// The target's peer id.
        peer_id: String,
    },
    /// A Confirm.
    Confirm(Vec<u8>),
    /// A Refuse with any reason code.
    Refuse(i32),
    /// A Data frame; `type_id` of any length, a payload of `len` bytes.
    Data {
        /// Type id bytes.
        type_id: Vec<u8>,
        /// Payload length (small, so runs stay fast).
        len: u8,
    },
    /// A Close with any reason code.
    Close(i32),
    /// A Keepalive.
    Keepalive,
    /// A Frame with no kind.
    Empty,
}

impl FrameSpec {
    /// The bytes of this frame.
    pub fn encode(&self) -> Bytes {
        let kind = match self {
            FrameSpec::Raw(bytes) => return Bytes::copy_from_slice(bytes),
            FrameSpec::Hello {
                version,
                graph_id,
                target_peer_id,
                source_peer_id,
                source_node_id,
                share,
                neighbor,
            } => Kind::Hello(wire::Hello {
                version: *version,
                graph_id: graph_id.clone(),
                target_peer_id: target_peer_id.clone(),
                source_peer_id: source_peer_id.clone(),
                source_node_id: *source_node_id,
                pake_share: Bytes::copy_from_slice(share),
                batch_limit: 0,
                neighbor: *neighbor,
            }),
            FrameSpec::Accept {
                node_id,
                share,
                confirmation,
                peer_id,
            } => Kind::Accept(wire::Accept {
                node_id: *node_id,
                pake_share: Bytes::copy_from_slice(share),
                batch_limit: 0,
                confirmation: Bytes::copy_from_slice(confirmation),
                peer_id: peer_id.clone(),
            }),
            FrameSpec::Confirm(confirmation) => Kind::Confirm(wire::Confirm {
                confirmation: Bytes::copy_from_slice(confirmation),
            }),
            FrameSpec::Refuse(reason) => Kind::Refuse(wire::Refuse { reason: *reason }),
            FrameSpec::Data { type_id, len } => Kind::Data(wire::Data {
                type_id: Bytes::copy_from_slice(type_id),
                payload: Bytes::from(vec![0xa5; usize::from(*len)]),
            }),
            FrameSpec::Close(reason) => Kind::Close(wire::Close { reason: *reason }),
            FrameSpec::Keepalive => Kind::Keepalive(wire::Keepalive {}),
            FrameSpec::Empty => return Bytes::from(wire::Frame { kind: None }.encode_to_vec()),
        };
        Bytes::from(wire::Frame { kind: Some(kind) }.encode_to_vec())
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    connected: bool,
    terminal: bool,
}

/// The application's view of one node, checked after every step.
#[derive(Debug, Default)]
pub struct Watch {
    graph: Option<GraphHandle>,
    /// Live registrations and whether each asked for `DirectConnection`.
    registrations: HashMap<RegistrationHandle, bool>,
    /// Ids `open_direct_connection` returned.
    opened: HashSet<ConnectionId>,
    /// Ids the application has learned of: opened, listed, or announced by `Connected`.
    known: HashSet<ConnectionId>,
    /// Ids that ended (a terminal event, or gone from the list); none may come back.
    ended: HashSet<ConnectionId>,
    /// Ids listed at the last check.
    listed: HashSet<ConnectionId>,
    seen: HashMap<(RegistrationHandle, ConnectionId), Seen>,
    cursor: usize,
}

impl Watch {
    /// A graph was created or opened on the node.
    pub fn graph_opened(&mut self, graph: GraphHandle) {
        self.graph = Some(graph);
    }

    /// The node's graph was closed (or the node shut down): its registrations and ids are gone.
    pub fn graph_closed(&mut self) {
        self.graph = None;
        self.registrations.clear();
        self.ended.extend(self.listed.drain());
        self.ended.extend(self.opened.iter().copied());
    }

    /// The graph the node has open, if any.
    pub fn graph(&self) -> Option<GraphHandle> {
        self.graph
    }

    /// A registration was made for `types`.
    pub fn registered(&mut self, registration: RegistrationHandle, types: &[EventType]) {
        let direct = types.contains(&EventType::DirectConnection);
        self.registrations.insert(registration, direct);
    }

    /// A registration was removed.
    pub fn unregistered(&mut self, registration: RegistrationHandle) {
        self.registrations.remove(&registration);
    }

    /// Live registrations, in a stable order.
    pub fn registrations(&self) -> Vec<RegistrationHandle> {
        let mut list: Vec<_> = self.registrations.keys().copied().collect();
        list.sort();
        list
    }

    /// `open_direct_connection` returned `id`: it must be new.
    pub fn opened(&mut self, id: ConnectionId) {
        assert!(
            !self.known.contains(&id) && !self.ended.contains(&id),
            "open returned a used id {id:?}"
        );
        self.opened.insert(id);
        self.known.insert(id);
    }

    /// Ids the application believes established (some registration saw `Connected` and no
    /// terminal event), for picking send and close targets.
    pub fn live(&self) -> Vec<ConnectionId> {
        let mut ids: Vec<ConnectionId> = self.listed.iter().copied().collect();
        ids.sort();
        ids
    }

    /// Checks the events taken since the last call and the node's current enumeration.
    pub fn check(&mut self, sim: &SimNode, max_connections: usize) {
        for (registration, event) in &sim.events[self.cursor..] {
            let GraphEvent::DirectConnection(change) = event else {
                continue;
            };
            let id = change.connection;
            assert!(
                self.registrations.contains_key(registration),
                "event on a dead registration: {event:?}"
            );
            let seen = self.seen.entry((*registration, id)).or_default();
            match &change.status {
                ConnectionStatus::Connected(_) => {
                    assert!(!seen.terminal, "Connected after a terminal event: {id:?}");
                    assert!(!seen.connected, "two Connected events: {id:?}");
                    seen.connected = true;
                    self.known.insert(id);
                }
                ConnectionStatus::Failed(_) => {
                    assert!(!seen.terminal, "two terminal events: {id:?}");
                    assert!(!seen.connected, "Failed after Connected: {id:?}");
                    assert!(self.opened.contains(&id), "Failed for an id never opened");
                    seen.terminal = true;
                }
                ConnectionStatus::Disconnected(_) => {
                    assert!(!seen.terminal, "two terminal events: {id:?}");
                    assert!(self.known.contains(&id), "event for an unknown id {id:?}");
                    seen.terminal = true;
                }
            }
            if seen.terminal {
                self.ended.insert(id);
            }
        }
        self.cursor = sim.events.len();

        let Some(graph) = self.graph else {
            return;
        };
        let list = sim
            .node
            // The direct connections, which the events above account for.
            .enum_connections(graph, ConnectionKinds::DIRECT)
            .expect("the watched graph is live");
        assert!(
            list.len() <= max_connections,
            "{} > {max_connections}",
            list.len()
        );
        let listed: HashSet<ConnectionId> = list.iter().map(|info| info.id).collect();
        assert_eq!(listed.len(), list.len(), "an id listed twice");
        for info in &list {
            assert!(
                !self.ended.contains(&info.id),
                "an ended id is listed: {info:?}"
            );
            if info.state == ConnectionState::Connecting {
                assert!(
                    self.opened.contains(&info.id),
                    "unknown pending id: {info:?}"
                );
            }
            self.known.insert(info.id);
        }
        for id in self.listed.difference(&listed) {
            self.ended.insert(*id);
        }
        for ((registration, id), seen) in &self.seen {
            let direct = self.registrations.get(registration).copied();
            if direct == Some(true) && seen.connected && !seen.terminal {
                let info = list.iter().find(|info| info.id == *id);
                assert!(
                    info.is_some_and(|info| info.state == ConnectionState::Connected),
                    "{id:?} is up for its registration but listed as {info:?}"
                );
            }
        }
        self.listed = listed;
    }
}

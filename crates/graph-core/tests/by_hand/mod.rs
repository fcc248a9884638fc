//! A node driven by hand, as a runtime would drive it: links accepted, frames built with the
//! prost types of `peergraph-proto` fed in, and the frames the node answers read back off the
//! link. Only the node's public API; no simulation in between.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use peergraph_core::{
    ConnectionId, EventType, GraphConfig, GraphEvent, GraphHandle, LinkId, LinkUp, Node,
    NodeConfig, Output, PEER_GRAPH_VERSION, PeerAddress, PeerIdentity, RegistrationHandle,
};
use peergraph_proto::v1 as wire;
use prost::Message;

pub use wire::frame::Kind;

/// The identity every hand-made link reports for its remote end.
pub const REMOTE: PeerIdentity = PeerIdentity::from_spki_sha256([0xab; 32]);

/// The exporter of the test vector in PROTOCOL.md section 3: bytes 0x00 to 0x1f.
pub fn vector_exporter() -> [u8; 32] {
    std::array::from_fn(|index| index as u8)
}

/// What the transport reports for every hand-made link.
pub fn link_up(exporter: [u8; 32]) -> LinkUp {
    LinkUp {
        remote_identity: REMOTE,
        remote_addr: ([192, 0, 2, 1], 4000).into(),
        exporter,
    }
}

/// A version-2 Hello from peer `source` (node id 7) for `target` in `graph_id`, with the
/// initiator's SPAKE2 share (empty for a graph without a secret).
pub fn hello(graph_id: &str, target: &str, source: &str, share: &[u8]) -> wire::Hello {
    wire::Hello {
        version: 2,
        graph_id: graph_id.into(),
        target_peer_id: target.into(),
        source_peer_id: source.into(),
        source_node_id: 7,
        pake_share: Bytes::copy_from_slice(share),
        batch_limit: 0,
        neighbor: false,
    }
}

/// The initiator's Confirm with `confirmation` (empty for a graph without a secret).
pub fn confirm(confirmation: &[u8]) -> Kind {
    Kind::Confirm(wire::Confirm {
        confirmation: Bytes::copy_from_slice(confirmation),
    })
}

pub fn refuse(reason: wire::RefuseReason) -> Kind {
    Kind::Refuse(wire::Refuse {
        reason: reason.into(),
    })
}

pub fn close(reason: wire::CloseReason) -> Kind {
    Kind::Close(wire::Close {
        reason: reason.into(),
    })
}

pub fn encode(kind: Kind) -> Bytes {
    Bytes::from(wire::Frame { kind: Some(kind) }.encode_to_vec())
}

/// A started node and the clock its inputs carry.
pub struct Hand {
    pub node: Node,
    pub now: Instant,
}

impl Hand {
    pub fn new(config: NodeConfig) -> Self {
        let mut node = Node::new(config);
        node.startup(PEER_GRAPH_VERSION).expect("version 1");
        #[allow(clippy::disallowed_methods)] // any instant will do: the clock is `now`
        let now = Instant::now();
        Self { node, now }
    }

    pub fn with_seed(seed: u64) -> Self {
        Self::new(NodeConfig::with_seed(seed))
    }

    /// A graph with one registration for `events`.
    pub fn graph(
        &mut self,
        config: GraphConfig,
        events: &[EventType],
    ) -> (GraphHandle, RegistrationHandle) {
        let graph = self.node.create_graph(config).expect("valid graph");
        let registration = self
            .node
            .register_event(graph, events)
            .expect("valid registration");
        (graph, registration)
    }

    /// Moves the clock on by `by` and drains the node's output stream, which fires the deadlines
    /// due by then. Frames and events stay in the node, for `sent` and `events`.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        while !matches!(self.node.poll_output(self.now), Output::Timeout(_)) {}
    }

    /// An inbound link with `exporter`, as the runtime reports one after TLS.
    pub fn accept(&mut self, exporter: [u8; 32]) -> LinkId {
        self.node.accept_link(self.now, link_up(exporter))
    }

    /// Opens a direct connection of `graph` to `peer_id` and returns its id and the link the
    /// node asks to dial for it.
    pub fn dial(&mut self, graph: GraphHandle, peer_id: &str) -> (ConnectionId, LinkId) {
        let address = PeerAddress::new(([192, 0, 2, 2], 4000).into());
        let connection = self
            .node
            .open_direct_connection(self.now, graph, peer_id, address)
            .expect("open accepted");
        loop {
            match self.node.poll_output(self.now) {
                Output::Dial { link, .. } => return (connection, link),
                Output::Timeout(_) => panic!("no dial for {connection:?}"),
                _ => {}
            }
        }
    }

    /// The link `dial` returned is up, with `exporter`: the node sends its Hello.
    pub fn link_up(&mut self, link: LinkId, exporter: [u8; 32]) {
        self.node.handle_link_up(self.now, link, link_up(exporter));
    }

    pub fn receive(&mut self, link: LinkId, kind: Kind) {
        self.node.handle_frame(self.now, link, encode(kind));
    }

    pub fn receive_bytes(&mut self, link: LinkId, frame: impl Into<Bytes>) {
        self.node.handle_frame(self.now, link, frame.into());
    }

    /// An inbound link from peer `alice` (node id 7), connected to `peer_id` in `graph_id` (a
    /// graph without a secret): its Accept taken off the link and its Confirm received.
    pub fn inbound_connection(&mut self, graph_id: &str, peer_id: &str) -> LinkId {
        let link = self.accept([0; 32]);
        self.receive(link, Kind::Hello(hello(graph_id, peer_id, "alice", &[])));
        let answer = self.sent(link);
        assert!(matches!(answer[..], [Kind::Accept(_)]), "{answer:?}");
        self.receive(link, confirm(&[]));
        link
    }

    /// Every frame queued on `link`, as bytes, oldest first.
    pub fn sent_bytes(&mut self, link: LinkId) -> Vec<Bytes> {
        std::iter::from_fn(|| self.node.poll_transmit(link))
            .map(|transmit| {
                assert!(!transmit.is_empty(), "no frame the node makes is empty");
                let len = transmit.len();
                let (head, body) = (transmit.head().to_vec(), transmit.body().clone());
                let bytes = transmit.into_bytes();
                assert_eq!(bytes.len(), len, "len() is the frame's length");
                assert_eq!(&bytes[..head.len()], &head[..], "the head comes first");
                assert_eq!(&bytes[head.len()..], &body[..], "then the body");
                bytes
            })
            .collect()
    }

    /// Every frame queued on `link`, decoded, oldest first.
    pub fn sent(&mut self, link: LinkId) -> Vec<Kind> {
        self.sent_bytes(link)
            .into_iter()
            .map(|bytes| {
                wire::Frame::decode(bytes)
                    .expect("the node writes valid frames")
                    .kind
                    .expect("with a kind")
            })
            .collect()
    }

    /// Every event queued for `registration`, oldest first.
    pub fn events(&mut self, registration: RegistrationHandle) -> Vec<GraphEvent> {
        let mut events = Vec::new();
        while let Some(event) = self
            .node
            .take_event(registration)
            .expect("a live registration")
        {
            events.push(event);
            assert!(events.len() < 100_000, "take_event never reports the end");
        }
        events
    }
}

/// Drains the node's output stream; whether it asked to close `link`.
pub fn outputs_closing(hand: &mut Hand, link: LinkId) -> bool {
    let mut closing = false;
    loop {
        match hand.node.poll_output(hand.now) {
            Output::Close { link: closed } if closed == link => closing = true,
            Output::Timeout(_) => return closing,
            _ => {}
        }
    }
}

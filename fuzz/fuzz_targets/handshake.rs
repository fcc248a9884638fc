//! The real handshake between two nodes, with arbitrary secrets on either side and arbitrary
//! edits to the Hello and to the answer in flight. The target's application sees nothing unless
//! it admits the connection, it admits exactly when every check passes, and an admitted
//! connection the initiator accepts is reported and listed on both ends.

#![no_main]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use peergraph_core::{
    ConnectionKinds, ConnectionState, ConnectionStatus, EventType, GraphConfig, GraphEvent,
    GraphHandle, LinkCloseReason, LinkId, LinkUp, Node, NodeConfig, Output, PEER_GRAPH_VERSION,
    PeerAddress, PeerIdentity,
};
use peergraph_fuzz::FrameSpec;
use peergraph_proto::v1::{self as wire, frame::Kind};
use prost::Message;

const GRAPH: &str = "fuzz-graph";
const INITIATOR: &str = "alice";
const TARGET: &str = "bob";

#[derive(Debug, Arbitrary)]
struct HelloEdit {
    version: Option<u32>,
    graph_id: Option<String>,
    target_peer_id: Option<String>,
    source_peer_id: Option<String>,
    source_node_id: Option<u64>,
    proof: Option<Vec<u8>>,
}

#[derive(Debug, Arbitrary)]
enum AnswerEdit {
    AsSent,
    Accept {
        node_id: Option<u64>,
        proof: Option<Vec<u8>>,
    },
    Replace(FrameSpec),
}

#[derive(Debug, Arbitrary)]
struct Input {
    initiator_secret: Option<Vec<u8>>,
    target_secret: Option<Vec<u8>>,
    target_graph_id: Option<String>,
    target_registered: bool,
    exporter_mismatch: bool,
    hello: HelloEdit,
    answer: AnswerEdit,
}

/// The same rules the core applies to names from peers.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().count() <= 256 && !name.chars().any(char::is_control)
}

/// A secret as HMAC-SHA256 uses it as a key: keys up to the 64-byte block are zero-padded, so
/// secrets differing only by trailing zero bytes prove the same membership. (Longer keys are
/// hashed first; a collision between a long key and its digest is out of the fuzzer's reach.)
fn hmac_key(secret: &[u8]) -> &[u8] {
    if secret.len() <= 64 {
        let end = secret
            .iter()
            .rposition(|byte| *byte != 0)
            .map_or(0, |last| last + 1);
        &secret[..end]
    } else {
        secret
    }
}

struct End {
    node: Node,
    graph: GraphHandle,
    link: Option<LinkId>,
    events: Vec<GraphEvent>,
    outbox: Vec<Bytes>,
    close_asked: bool,
    closed: bool,
}

impl End {
    fn new(seed: u64, config: GraphConfig, types: &[EventType]) -> Self {
        let mut node = Node::new(NodeConfig::with_seed(seed));
        node.startup(PEER_GRAPH_VERSION).expect("version 1.0");
        node.set_listening(true).expect("started");
        let graph = node.create_graph(config).expect("valid graph");
        node.register_event(graph, types).expect("valid types");
        Self {
            node,
            graph,
            link: None,
            events: Vec::new(),
            outbox: Vec::new(),
            close_asked: false,
            closed: false,
        }
    }

    /// Drains the node's output stream: events into `events`, the link's frames into `outbox`,
    /// a close of the link into `close_asked`.
    fn drain(&mut self, now: Instant) {
        loop {
            match self.node.poll_output(now) {
                Output::Events { registration } => {
                    while let Some(event) = self.node.take_event(registration).expect("live") {
                        self.events.push(event);
                    }
                }
                Output::Transmit { link } => {
                    while let Some(frame) = self.node.poll_transmit(link) {
                        if Some(link) == self.link {
                            self.outbox.push(frame.into_bytes());
                        }
                    }
                }
                Output::Close { link } => self.close_asked |= Some(link) == self.link,
                Output::Dial { .. } => panic!("no dial after the first"),
                // Events are taken as they come, so no receive window fills.
                Output::Resume { .. } => panic!("no link is held"),
                Output::Timeout(_) => return,
            }
        }
    }

    /// Frames to send and whether the node asked to close its link.
    fn outputs(&mut self, now: Instant) -> (Vec<Bytes>, bool) {
        self.drain(now);
        (
            std::mem::take(&mut self.outbox),
            std::mem::take(&mut self.close_asked),
        )
    }

    fn link(&self) -> LinkId {
        self.link.expect("set once the link exists")
    }

    fn connections(&self) -> Vec<peergraph_core::ConnectionInfo> {
        self.node
            .enum_connections(self.graph, ConnectionKinds::DIRECT)
            .expect("live graph")
    }
}

fn edit_hello(frame: Bytes, edit: &HelloEdit) -> (Bytes, wire::Hello) {
    let decoded = wire::Frame::decode(frame).expect("the core encodes valid frames");
    let Some(Kind::Hello(mut hello)) = decoded.kind else {
        panic!("the first frame is a Hello");
    };
    if let Some(version) = edit.version {
        hello.version = version;
    }
    if let Some(graph_id) = &edit.graph_id {
        hello.graph_id.clone_from(graph_id);
    }
    if let Some(target) = &edit.target_peer_id {
        hello.target_peer_id.clone_from(target);
    }
    if let Some(source) = &edit.source_peer_id {
        hello.source_peer_id.clone_from(source);
    }
    if let Some(node_id) = edit.source_node_id {
        hello.source_node_id = node_id;
    }
    if let Some(proof) = &edit.proof {
        hello.membership_proof = Bytes::copy_from_slice(proof);
    }
    let frame = wire::Frame {
        kind: Some(Kind::Hello(hello.clone())),
    };
    (Bytes::from(frame.encode_to_vec()), hello)
}

/// The answer as edited, and whether the initiator must accept it.
fn edit_answer(
    frame: Bytes,
    edit: &AnswerEdit,
    proof_ok: impl Fn(&[u8], bool) -> bool,
) -> (Bytes, bool) {
    let decoded = wire::Frame::decode(frame.clone()).expect("the core encodes valid frames");
    let original = match &decoded.kind {
        Some(Kind::Accept(accept)) => Some(accept.clone()),
        _ => None,
    };
    match edit {
        AnswerEdit::AsSent => {
            let ok = original.is_some_and(|accept| proof_ok(&accept.membership_proof, true));
            (frame, ok)
        }
        AnswerEdit::Accept { node_id, proof } => {
            let untouched = original.as_ref().map(|accept| &accept.membership_proof[..]);
            let proof_bytes = match proof {
                Some(proof) => proof.clone(),
                None => untouched.unwrap_or_default().to_vec(),
            };
            let genuine = untouched == Some(&proof_bytes[..]);
            let accept = wire::Accept {
                node_id: node_id.unwrap_or(7),
                membership_proof: Bytes::from(proof_bytes.clone()),
                batch_limit: 0,
            };
            let frame = wire::Frame {
                kind: Some(Kind::Accept(accept)),
            };
            let ok = proof_ok(&proof_bytes, genuine);
            (Bytes::from(frame.encode_to_vec()), ok)
        }
        AnswerEdit::Replace(spec) => {
            let frame = spec.encode();
            let ok = match wire::Frame::decode(frame.clone()) {
                Ok(wire::Frame {
                    kind: Some(Kind::Accept(accept)),
                }) => {
                    let genuine =
                        original.is_some_and(|o| o.membership_proof == accept.membership_proof);
                    proof_ok(&accept.membership_proof, genuine)
                }
                _ => false,
            };
            (frame, ok)
        }
    }
}

fuzz_target!(|input: Input| {
    #[allow(clippy::disallowed_methods)] // the origin only; nothing here waits
    let now = Instant::now();
    let mut initiator_config = GraphConfig::new(GRAPH, INITIATOR);
    initiator_config.secret.clone_from(&input.initiator_secret);
    let target_graph_id = input
        .target_graph_id
        .clone()
        .filter(|id| valid_name(id))
        .unwrap_or_else(|| GRAPH.to_owned());
    let mut target_config = GraphConfig::new(target_graph_id.clone(), TARGET);
    target_config.secret.clone_from(&input.target_secret);
    let all = [
        EventType::DirectConnection,
        EventType::IncomingData,
        EventType::StatusChanged,
    ];
    let target_types: &[EventType] = if input.target_registered {
        &all
    } else {
        &all[1..]
    };
    let mut a = End::new(1, initiator_config, &all);
    let mut b = End::new(2, target_config, target_types);

    let (a_addr, b_addr) = (
        SocketAddr::from((Ipv4Addr::LOCALHOST, 1)),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 2)),
    );
    let (a_identity, b_identity) = (
        PeerIdentity::from_spki_sha256([1; 32]),
        PeerIdentity::from_spki_sha256([2; 32]),
    );
    let id = a
        .node
        .open_direct_connection(now, a.graph, TARGET, PeerAddress::new(b_addr))
        .expect("open accepted");
    a.link = match a.node.poll_output(now) {
        Output::Dial { link, .. } => Some(link),
        other => panic!("expected a dial, got {other:?}"),
    };
    let exporter = [0x42; 32];
    let mut a_exporter = exporter;
    if input.exporter_mismatch {
        a_exporter[0] ^= 1;
    }
    b.link = Some(b.node.accept_link(
        now,
        LinkUp {
            remote_identity: a_identity,
            remote_addr: a_addr,
            exporter,
        },
    ));
    a.node.handle_link_up(
        now,
        a.link(),
        LinkUp {
            remote_identity: b_identity,
            remote_addr: b_addr,
            exporter: a_exporter,
        },
    );

    // The Hello, edited in flight.
    let (mut frames, close) = a.outputs(now);
    assert!(!close && frames.len() == 1, "the initiator sends one Hello");
    let original_proof = wire::Frame::decode(frames[0].clone())
        .ok()
        .and_then(|frame| match frame.kind {
            Some(Kind::Hello(hello)) => Some(hello.membership_proof),
            _ => None,
        })
        .expect("a Hello");
    let (hello_frame, hello) = edit_hello(frames.remove(0), &input.hello);
    b.node.handle_frame(now, b.link(), hello_frame);

    let same_secret = input.initiator_secret.as_deref().map(hmac_key)
        == input.target_secret.as_deref().map(hmac_key);
    let hello_proof_ok = match &input.target_secret {
        None => hello.membership_proof.is_empty(),
        Some(_) => {
            same_secret
                && !input.exporter_mismatch
                && hello.graph_id == GRAPH
                && hello.membership_proof == original_proof
        }
    };
    let admit = hello.version == 1
        && valid_name(&hello.graph_id)
        && valid_name(&hello.target_peer_id)
        && valid_name(&hello.source_peer_id)
        && hello.membership_proof.len() <= 32
        && hello.graph_id == target_graph_id
        && hello.target_peer_id == TARGET
        && hello_proof_ok
        && input.target_registered
        && hello.source_peer_id != TARGET;

    b.drain(now);
    let b_connected = b.events.iter().any(|event| {
        matches!(event, GraphEvent::DirectConnection(change)
            if matches!(change.status, ConnectionStatus::Connected(_)))
    });
    assert_eq!(b_connected, admit, "the target admitted {hello:?} wrongly");
    if !admit {
        assert!(
            b.events.is_empty(),
            "a refused initiator reached the application: {:?}",
            b.events
        );
        assert!(b.connections().is_empty(), "a refused initiator is listed");
    }

    // The answer, edited in flight; then both ends run until nothing more moves.
    let accept_ok = |proof: &[u8], genuine: bool| match &input.initiator_secret {
        None => proof.is_empty(),
        Some(_) => same_secret && genuine && !input.exporter_mismatch && admit,
    };
    let (frames, b_close) = b.outputs(now);
    let mut expect_connected = false;
    for (index, frame) in frames.into_iter().enumerate() {
        let frame = if index == 0 {
            let (frame, ok) = edit_answer(frame, &input.answer, accept_ok);
            expect_connected = ok;
            frame
        } else {
            frame
        };
        a.node.handle_frame(now, a.link(), frame);
    }
    if b_close {
        b.closed = true;
        b.node
            .handle_link_closed(now, b.link(), LinkCloseReason::Closed);
        a.node
            .handle_link_closed(now, a.link(), LinkCloseReason::Closed);
        a.closed = true;
    }
    a.drain(now);
    let a_connected = a.events.iter().any(|event| {
        matches!(event, GraphEvent::DirectConnection(change)
            if change.connection == id && matches!(change.status, ConnectionStatus::Connected(_)))
    });
    assert_eq!(
        a_connected, expect_connected,
        "the initiator judged the answer wrongly"
    );

    for _ in 0..4 {
        let (frames, close) = a.outputs(now);
        if !b.closed {
            for frame in frames {
                b.node.handle_frame(now, b.link(), frame);
            }
        }
        if close && !a.closed {
            a.closed = true;
            a.node
                .handle_link_closed(now, a.link(), LinkCloseReason::Closed);
            b.node
                .handle_link_closed(now, b.link(), LinkCloseReason::Closed);
            b.closed = true;
        }
        let (frames, close) = b.outputs(now);
        if !a.closed {
            for frame in frames {
                a.node.handle_frame(now, a.link(), frame);
            }
        }
        if close && !b.closed {
            b.closed = true;
            b.node
                .handle_link_closed(now, b.link(), LinkCloseReason::Closed);
            a.node
                .handle_link_closed(now, a.link(), LinkCloseReason::Closed);
            a.closed = true;
        }
    }
    a.drain(now);
    b.drain(now);

    // Exactly one outcome for the initiator's id; the two ends agree.
    let outcomes: Vec<&ConnectionStatus> = a
        .events
        .iter()
        .filter_map(|event| match event {
            GraphEvent::DirectConnection(change) if change.connection == id => Some(&change.status),
            _ => None,
        })
        .collect();
    let shape_ok = matches!(
        outcomes[..],
        [ConnectionStatus::Failed(_)]
            | [ConnectionStatus::Connected(_)]
            | [
                ConnectionStatus::Connected(_),
                ConnectionStatus::Disconnected(_)
            ]
    );
    assert!(shape_ok, "initiator outcomes {outcomes:?}");
    let a_up: Vec<_> = a.connections();
    let b_up: Vec<_> = b.connections();
    if a_connected && admit && !a.closed {
        assert_eq!(
            a_up.len(),
            1,
            "admitted and accepted: the initiator lists it"
        );
        assert_eq!(b_up.len(), 1, "admitted and accepted: the target lists it");
        assert_eq!(a_up[0].state, ConnectionState::Connected);
        assert_eq!(b_up[0].state, ConnectionState::Connected);
        assert_eq!(a_up[0].peer_id, TARGET);
        assert_eq!(b_up[0].peer_id, hello.source_peer_id);
    } else {
        assert!(a_up.is_empty() && b_up.is_empty(), "{a_up:?} / {b_up:?}");
    }
});

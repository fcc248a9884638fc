//! The real handshake between two nodes, with arbitrary secrets on either side and arbitrary
//! edits to the Hello and to the answer in flight. The target answers a Hello with an Accept only
//! when its gate passes, its application sees nothing before the initiator's Confirm, the
//! initiator connects exactly when the Accept's confirmation is the genuine one of a target with
//! the same secret, graph and TLS session, and the target admits exactly when that initiator's
//! Confirm verifies; an admitted connection is reported and listed on both ends.

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
    share: Option<Vec<u8>>,
}

#[derive(Debug, Arbitrary)]
enum AnswerEdit {
    AsSent,
    Accept {
        node_id: Option<u64>,
        share: Option<Vec<u8>>,
        confirmation: Option<Vec<u8>>,
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
                Output::Store { .. } => panic!("no record is written"),
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
    if let Some(share) = &edit.share {
        hello.pake_share = Bytes::copy_from_slice(share);
    }
    let frame = wire::Frame {
        kind: Some(Kind::Hello(hello.clone())),
    };
    (Bytes::from(frame.encode_to_vec()), hello)
}

/// The answer as edited, and the Accept in it (if it is one).
fn edit_answer(frame: Bytes, edit: &AnswerEdit) -> (Bytes, Option<wire::Accept>) {
    let decoded = wire::Frame::decode(frame.clone()).expect("the core encodes valid frames");
    let original = match decoded.kind {
        Some(Kind::Accept(accept)) => Some(accept),
        _ => None,
    };
    match edit {
        AnswerEdit::AsSent => (frame, original),
        AnswerEdit::Accept {
            node_id,
            share,
            confirmation,
        } => {
            let untouched = original.unwrap_or_default();
            let accept = wire::Accept {
                node_id: node_id.unwrap_or(7),
                pake_share: share.clone().map_or(untouched.pake_share, Bytes::from),
                batch_limit: 0,
                confirmation: confirmation
                    .clone()
                    .map_or(untouched.confirmation, Bytes::from),
                peer_id: untouched.peer_id,
            };
            let frame = wire::Frame {
                kind: Some(Kind::Accept(accept.clone())),
            };
            (Bytes::from(frame.encode_to_vec()), Some(accept))
        }
        AnswerEdit::Replace(spec) => {
            let frame = spec.encode();
            let accept = match wire::Frame::decode(frame.clone()) {
                Ok(wire::Frame {
                    kind: Some(Kind::Accept(accept)),
                }) => Some(accept),
                _ => None,
            };
            (frame, accept)
        }
    }
}

fn connected(events: &[GraphEvent]) -> bool {
    events.iter().any(|event| {
        matches!(event, GraphEvent::DirectConnection(change)
            if matches!(change.status, ConnectionStatus::Connected(_)))
    })
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
    let original_share = wire::Frame::decode(frames[0].clone())
        .ok()
        .and_then(|frame| match frame.kind {
            Some(Kind::Hello(hello)) => Some(hello.pake_share),
            _ => None,
        })
        .expect("a Hello");
    let (hello_frame, hello) = edit_hello(frames.remove(0), &input.hello);
    b.node.handle_frame(now, b.link(), hello_frame);

    // The gate, before any cryptography: a secret on the target exactly when a share came.
    let gate = hello.version == 2
        && valid_name(&hello.graph_id)
        && valid_name(&hello.target_peer_id)
        && valid_name(&hello.source_peer_id)
        && hello.pake_share.len() <= 33
        && hello.graph_id == target_graph_id
        && hello.target_peer_id == TARGET
        && input.target_secret.is_some() != hello.pake_share.is_empty()
        && input.target_registered
        && hello.source_peer_id != TARGET;
    let (frames, b_close) = b.outputs(now);
    let b_accept = frames
        .first()
        .and_then(|frame| match wire::Frame::decode(frame.clone()) {
            Ok(wire::Frame {
                kind: Some(Kind::Accept(accept)),
            }) => Some(accept),
            _ => None,
        });
    // Past the gate, a share is a point (the initiator's, untouched) or may not be.
    let a_point = hello.pake_share.is_empty() || hello.pake_share == original_share;
    let well_shaped = hello.pake_share.is_empty()
        || (hello.pake_share.len() == 33 && hello.pake_share[0] == b'S');
    if b_accept.is_some() {
        assert!(gate && well_shaped, "the target accepted {hello:?} wrongly");
        assert!(!b_close, "an Accept keeps the link");
    } else {
        assert!(!(gate && a_point), "the target refused {hello:?} wrongly");
    }
    assert!(
        b.events.is_empty() && b.connections().is_empty(),
        "before the Confirm the target's application sees nothing: {:?}",
        b.events
    );

    // The answer, edited in flight. The initiator connects exactly on the genuine confirmation
    // of a target that agreed on its key (a forged one is out of the fuzzer's reach), or on an
    // empty one when it has no secret.
    let keys_agree = input.initiator_secret == input.target_secret
        && !input.exporter_mismatch
        && hello.graph_id == GRAPH
        && hello.pake_share == original_share;
    let mut expect_connected = false;
    for (index, frame) in frames.into_iter().enumerate() {
        let frame = if index == 0 {
            let (frame, accept) = edit_answer(frame, &input.answer);
            expect_connected = accept.is_some_and(|accept| match &input.initiator_secret {
                None => accept.pake_share.is_empty() && accept.confirmation.is_empty(),
                Some(_) => {
                    keys_agree
                        && b_accept.as_ref().is_some_and(|genuine| {
                            genuine.pake_share == accept.pake_share
                                && genuine.confirmation == accept.confirmation
                        })
                }
            });
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
    // The target admits on the initiator's Confirm exactly when it sent an Accept and the
    // initiator, connected, confirms with a key the target holds too (none without secrets).
    let admit = b_accept.is_some()
        && a_connected
        && (input.initiator_secret.is_some() || input.target_secret.is_none());

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
    assert_eq!(connected(&b.events), admit, "the target judged the Confirm wrongly");
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

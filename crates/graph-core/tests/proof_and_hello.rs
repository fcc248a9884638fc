//! The handshake driven by hand: the membership proof against the test vector PROTOCOL.md
//! publishes (on both sides), proofs replayed or reflected, and Hellos with a malformed field.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod by_hand;

use by_hand::{Hand, Kind, REMOTE, close, hello, published_proof, refuse, vector_exporter};
use bytes::Bytes;
use peergraph_core::ProtocolViolation;
use peergraph_core::{
    AuthFailure, ConnectionId, ConnectionKinds, ConnectionState, ConnectionStatus, Direction,
    EventType, FailReason, GraphConfig, GraphEvent, GraphHandle, MAX_NAME_CHARS, PeerIdentity,
    RegistrationHandle,
};
use peergraph_proto::v1 as wire;
use prost::Message;

const SECRET: &str = "s3cret";

/// A node with graph `chat` as peer `bob` (with `secret`, if any) and a DirectConnection
/// registration.
fn target(secret: Option<&str>) -> (Hand, GraphHandle, RegistrationHandle) {
    let mut hand = Hand::with_seed(11);
    let config = GraphConfig::new("chat", "bob");
    let config = match secret {
        Some(secret) => config.with_secret(secret),
        None => config,
    };
    let (graph, registration) = hand.graph(config, &[EventType::DirectConnection]);
    (hand, graph, registration)
}

/// Sends `hello` on a new link with `exporter` and returns the frames the target answers.
fn answer(hand: &mut Hand, exporter: [u8; 32], hello: wire::Hello) -> Vec<Kind> {
    let link = hand.accept(exporter);
    hand.receive(link, Kind::Hello(hello));
    hand.sent(link)
}

fn assert_nothing_reached_the_application(
    hand: &mut Hand,
    graph: GraphHandle,
    registration: RegistrationHandle,
) {
    assert_eq!(hand.events(registration), []);
    let list = hand
        .node
        .enum_connections(graph, ConnectionKinds::ALL)
        .unwrap();
    assert!(list.is_empty(), "{list:?}");
}

/// The one event the registration has, which must be `Connected`: the connection id, and the
/// remote peer's node id, peer id, identity and direction.
fn connected_remote(
    hand: &mut Hand,
    registration: RegistrationHandle,
) -> (ConnectionId, (u64, String, PeerIdentity, Direction)) {
    let events = hand.events(registration);
    let [GraphEvent::DirectConnection(change)] = &events[..] else {
        panic!("one connection event: {events:?}");
    };
    let ConnectionStatus::Connected(remote) = &change.status else {
        panic!("{change:?}");
    };
    let remote = remote.clone();
    let peer = (
        remote.node_id.get(),
        remote.peer_id,
        remote.identity,
        remote.direction,
    );
    (change.connection, peer)
}

#[test]
fn a_hello_with_the_published_initiator_proof_gets_an_accept_with_the_published_target_proof() {
    let (mut hand, graph, registration) = target(Some(SECRET));
    let hello = hello("chat", "bob", "alice", &published_proof("initiator:"));
    let answer = answer(&mut hand, vector_exporter(), hello);
    let node_id = hand.node.node_info(graph).unwrap().node_id;
    let accept = wire::Accept {
        node_id: node_id.get(),
        membership_proof: published_proof("target:"),
        batch_limit: 65_536,
    };
    assert_eq!(answer, [Kind::Accept(accept)]);
    let (connection, peer) = connected_remote(&mut hand, registration);
    assert_eq!(peer, (7, "alice".to_owned(), REMOTE, Direction::Inbound));
    let list = hand
        .node
        .enum_connections(graph, ConnectionKinds::DIRECT)
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].id, list[0].state, list[0].peer_id.as_str()),
        (connection, ConnectionState::Connected, "alice")
    );
}

#[test]
fn a_proof_reflected_replayed_or_made_for_another_graph_is_refused_as_not_authenticated() {
    let not_authenticated = [refuse(wire::RefuseReason::NotAuthenticated)];
    let initiator = published_proof("initiator:");
    let (mut hand, graph, registration) = target(Some(SECRET));
    // A second graph of the same peer id and secret on the same node.
    let (other, other_registration) = hand.graph(
        GraphConfig::new("chat2", "bob").with_secret(SECRET),
        &[EventType::DirectConnection],
    );

    // The target's own proof sent back to it.
    let reflected = hello("chat", "bob", "alice", &published_proof("target:"));
    assert_eq!(
        answer(&mut hand, vector_exporter(), reflected),
        not_authenticated,
        "reflected"
    );
    // The right proof, replayed on a link with another exporter.
    let replayed = hello("chat", "bob", "alice", &initiator);
    assert_eq!(
        answer(&mut hand, [0x55; 32], replayed),
        not_authenticated,
        "replayed on another link"
    );
    // A proof for graph `chat`, offered to graph `chat2`.
    let elsewhere = hello("chat2", "bob", "alice", &initiator);
    assert_eq!(
        answer(&mut hand, vector_exporter(), elsewhere),
        not_authenticated,
        "another graph"
    );
    // No proof, or one cut short.
    for proof in [&[][..], &initiator[..31]] {
        let short = hello("chat", "bob", "alice", proof);
        assert_eq!(
            answer(&mut hand, vector_exporter(), short),
            not_authenticated,
            "{} bytes",
            proof.len()
        );
    }
    assert_nothing_reached_the_application(&mut hand, graph, registration);
    assert_nothing_reached_the_application(&mut hand, other, other_registration);

    // A node with another secret refuses the published proof too.
    let (mut hand, graph, registration) = target(Some("guess"));
    let hello = hello("chat", "bob", "alice", &initiator);
    assert_eq!(
        answer(&mut hand, vector_exporter(), hello),
        not_authenticated
    );
    assert_nothing_reached_the_application(&mut hand, graph, registration);
}

#[test]
fn without_a_secret_only_an_empty_proof_is_accepted() {
    let (mut hand, _, registration) = target(None);
    let hello_with = |proof: &[u8]| hello("chat", "bob", "alice", proof);
    assert_eq!(
        answer(
            &mut hand,
            [0; 32],
            hello_with(&published_proof("initiator:"))
        ),
        [refuse(wire::RefuseReason::NotAuthenticated)]
    );
    let answer = answer(&mut hand, [0; 32], hello_with(&[]));
    assert!(
        matches!(&answer[..], [Kind::Accept(accept)] if accept.membership_proof.is_empty()),
        "{answer:?}"
    );
    assert_eq!(hand.events(registration).len(), 1);
}

/// Names each rule refuses: empty, one character too long, a control character.
fn bad_names() -> [String; 4] {
    [
        String::new(),
        "x".repeat(MAX_NAME_CHARS + 1),
        "é".repeat(MAX_NAME_CHARS + 1),
        "al\u{7}ice".into(),
    ]
}

/// A Hello with a malformed field ends the link with Close(PROTOCOL_VIOLATION): not a refusal,
/// not an Accept, and the application sees nothing. Each field is broken alone, the others valid,
/// so that the check of every field counts.
#[test]
fn a_hello_with_one_malformed_field_is_a_violation_whatever_the_others() {
    let violation = [close(wire::CloseReason::ProtocolViolation)];
    let (mut hand, graph, registration) = target(None);
    for bad in bad_names() {
        for field in 0..3 {
            let mut names = ["chat", "bob", "alice"].map(String::from);
            names[field] = bad.clone();
            let malformed = hello(&names[0], &names[1], &names[2], &[]);
            assert_eq!(
                answer(&mut hand, [0; 32], malformed),
                violation,
                "field {field} = {bad:?}"
            );
        }
    }
    // A proof longer than 32 bytes is malformed, whether or not the graph has a secret.
    for secret in [None, Some(SECRET)] {
        let (mut hand, graph, registration) = target(secret);
        let mut proof = published_proof("initiator:").to_vec();
        proof.push(0);
        let long = hello("chat", "bob", "alice", &proof);
        assert_eq!(
            answer(&mut hand, vector_exporter(), long),
            violation,
            "{secret:?}"
        );
        assert_nothing_reached_the_application(&mut hand, graph, registration);
    }
    assert_nothing_reached_the_application(&mut hand, graph, registration);
}

#[test]
fn names_at_the_longest_are_well_formed() {
    let long = "é".repeat(MAX_NAME_CHARS);
    let mut hand = Hand::with_seed(3);
    let (_, registration) = hand.graph(
        GraphConfig::new(long.clone(), long.clone()),
        &[EventType::DirectConnection],
    );
    let source = "s".repeat(MAX_NAME_CHARS);
    let answer = answer(&mut hand, [0; 32], hello(&long, &long, &source, &[]));
    assert!(matches!(answer[..], [Kind::Accept(_)]), "{answer:?}");
    assert_eq!(hand.events(registration).len(), 1);
}

#[test]
fn a_hello_of_version_0_or_2_is_refused_as_unsupported() {
    let (mut hand, graph, registration) = target(None);
    for version in [0, 2] {
        let mut hello = hello("chat", "bob", "alice", &[]);
        hello.version = version;
        assert_eq!(
            answer(&mut hand, [0; 32], hello),
            [refuse(wire::RefuseReason::UnsupportedVersion)]
        );
    }
    assert_nothing_reached_the_application(&mut hand, graph, registration);
}

/// A node with graph `chat` as peer `alice` and secret `s3cret` that dials `bob`; the link comes
/// up with the test vector's exporter. Returns the node, its registration and the link.
fn initiator() -> (Hand, RegistrationHandle, peergraph_core::LinkId, u64) {
    let mut hand = Hand::with_seed(12);
    let config = GraphConfig::new("chat", "alice").with_secret(SECRET);
    let (graph, registration) = hand.graph(config, &[EventType::DirectConnection]);
    let (_, link) = hand.dial(graph, "bob");
    hand.link_up(link, vector_exporter());
    let node_id = hand.node.node_info(graph).unwrap().node_id.get();
    (hand, registration, link, node_id)
}

#[test]
fn the_initiator_sends_the_published_proof_and_connects_on_the_published_target_proof() {
    let (mut hand, registration, link, node_id) = initiator();
    let mut expected = hello("chat", "bob", "alice", &published_proof("initiator:"));
    expected.source_node_id = node_id;
    expected.batch_limit = 65_536;
    assert_eq!(hand.sent(link), [Kind::Hello(expected)]);
    let accept = wire::Accept {
        node_id: 9,
        membership_proof: published_proof("target:"),
        batch_limit: 0,
    };
    hand.receive(link, Kind::Accept(accept));
    let (_, peer) = connected_remote(&mut hand, registration);
    assert_eq!(peer, (9, "bob".to_owned(), REMOTE, Direction::Outbound));
    assert_eq!(hand.sent(link), []);
}

#[test]
fn the_initiator_rejects_its_own_proof_reflected_back_and_any_other_wrong_one() {
    let initiator_proof = published_proof("initiator:").to_vec();
    let mut flipped = published_proof("target:").to_vec();
    flipped[31] ^= 1;
    let empty = Vec::new();
    for proof in [&initiator_proof, &flipped, &empty] {
        let (mut hand, registration, link, _) = initiator();
        hand.sent(link);
        let accept = wire::Accept {
            node_id: 9,
            membership_proof: proof.clone().into(),
            batch_limit: 0,
        };
        hand.receive(link, Kind::Accept(accept));
        let events = hand.events(registration);
        assert!(
            matches!(
                &events[..],
                [GraphEvent::DirectConnection(change)] if change.status
                    == ConnectionStatus::Failed(FailReason::NotAuthenticated(
                        AuthFailure::MembershipProof
                    ))
            ),
            "{proof:02x?}: {events:?}"
        );
        assert_eq!(
            hand.sent(link),
            [close(wire::CloseReason::ProtocolViolation)]
        );
    }
}

/// Bob with a connection from a peer whose Hello announced `batch_limit`, and `configure`
/// applied to his node: his link and connection, and a registration for both event types.
fn batch_peer(
    batch_limit: u32,
    configure: impl FnOnce(&mut peergraph_core::NodeConfig),
) -> (
    Hand,
    GraphHandle,
    ConnectionId,
    peergraph_core::LinkId,
    RegistrationHandle,
) {
    let mut config = peergraph_core::NodeConfig::with_seed(11);
    configure(&mut config);
    let mut hand = Hand::new(config);
    let (graph, registration) = hand.graph(
        GraphConfig::new("chat", "bob"),
        &[EventType::DirectConnection, EventType::IncomingData],
    );
    let link = hand.accept([0; 32]);
    let mut hello = hello("chat", "bob", "alice", &[]);
    hello.batch_limit = batch_limit;
    hand.receive(link, Kind::Hello(hello));
    assert!(matches!(hand.sent(link)[..], [Kind::Accept(_)]));
    let (connection, _) = connected_remote(&mut hand, registration);
    (hand, graph, connection, link, registration)
}

const TYPE: [u8; 16] = [4; 16];

/// Every message in `frames`, in order; each frame is a `Data` or a `DataBatch` of `TYPE`.
fn messages_in(frames: &[Kind]) -> Vec<Vec<u8>> {
    frames
        .iter()
        .flat_map(|frame| match frame {
            Kind::Data(data) => {
                assert_eq!(data.type_id[..], TYPE);
                vec![data.payload.to_vec()]
            }
            Kind::DataBatch(batch) => {
                assert_eq!(batch.type_id[..], TYPE);
                batch.payloads.iter().map(|p| p.to_vec()).collect()
            }
            other => panic!("not a data frame: {other:?}"),
        })
        .collect()
}

/// Queues ten messages of 20 bytes, none taken yet; returns them.
fn send_ten(hand: &mut Hand, graph: GraphHandle, connection: ConnectionId) -> Vec<Vec<u8>> {
    let messages: Vec<Vec<u8>> = (0..10u8).map(|n| vec![n; 20]).collect();
    for message in &messages {
        let now = hand.now;
        hand.node
            .send_data(now, graph, connection, TYPE, message.clone().into())
            .unwrap();
    }
    messages
}

#[test]
fn a_peer_that_announced_no_batch_limit_gets_each_message_in_a_data_frame() {
    let (mut hand, graph, connection, link, _) = batch_peer(0, |_| {});
    let messages = send_ten(&mut hand, graph, connection);
    let frames = hand.sent(link);
    assert!(frames.iter().all(|frame| matches!(frame, Kind::Data(_))));
    assert_eq!(messages_in(&frames), messages);
}

#[test]
fn a_peer_that_announced_a_batch_limit_gets_batches_no_longer_than_it() {
    let (mut hand, graph, connection, link, _) = batch_peer(100, |_| {});
    let messages = send_ten(&mut hand, graph, connection);
    let frames = hand.sent_bytes(link);
    assert!(frames.iter().all(|frame| frame.len() <= 100), "{frames:?}");
    let frames: Vec<Kind> = frames
        .into_iter()
        .map(|frame| wire::Frame::decode(frame).unwrap().kind.unwrap())
        .collect();
    assert!(
        frames
            .iter()
            .any(|frame| matches!(frame, Kind::DataBatch(_))),
        "messages queued behind each other share frames"
    );
    assert_eq!(messages_in(&frames), messages, "every message, in order");
}

#[test]
fn batches_a_node_did_not_announce_or_beyond_its_limits_end_the_connection() {
    let batch = |payloads: Vec<Bytes>| {
        Kind::DataBatch(wire::DataBatch {
            type_id: Bytes::copy_from_slice(&TYPE),
            payloads,
        })
    };
    let cases = [
        (
            0,
            batch(vec![Bytes::new(); 2]),
            ProtocolViolation::UnexpectedMessage,
        ),
        (
            64 * 1024,
            batch(vec![Bytes::new(); 257]),
            ProtocolViolation::FrameTooLarge,
        ),
        (
            200,
            batch(vec![Bytes::from(vec![1; 100]); 2]),
            ProtocolViolation::FrameTooLarge,
        ),
        (
            64 * 1024,
            batch(vec![Bytes::new(), Bytes::from(vec![1; 1025])]),
            ProtocolViolation::MessageTooLarge,
        ),
    ];
    for (batch_frame_len, frame, violation) in cases {
        let (mut hand, _, connection, link, registration) = batch_peer(0, |config| {
            config.limits.batch_frame_len = batch_frame_len;
            config.limits.max_message_size = 1024;
        });
        hand.receive(link, frame);
        assert_eq!(
            hand.sent(link),
            [close(wire::CloseReason::ProtocolViolation)],
            "{violation:?}"
        );
        let events = hand.events(registration);
        assert!(
            matches!(&events[..], [GraphEvent::DirectConnection(change)]
            if change.connection == connection
                && change.status == ConnectionStatus::Disconnected(
                    peergraph_core::DisconnectReason::ProtocolViolation(violation)
                )),
            "no message of a bad batch is delivered, and the violation is named: {events:?}"
        );
    }
}

#[test]
fn a_batch_from_a_peer_arrives_as_one_event_per_message_in_order() {
    let (mut hand, _, connection, link, registration) = batch_peer(0, |_| {});
    let payloads: Vec<Bytes> = (0..5u8).map(|n| Bytes::from(vec![n; n as usize])).collect();
    hand.receive(
        link,
        Kind::DataBatch(wire::DataBatch {
            type_id: Bytes::copy_from_slice(&TYPE),
            payloads: payloads.clone(),
        }),
    );
    let received: Vec<Bytes> = hand
        .events(registration)
        .into_iter()
        .map(|event| match event {
            GraphEvent::IncomingData(data) if data.connection == connection => {
                assert_eq!(data.type_id, TYPE);
                data.data
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(received, payloads);
}

#[test]
fn a_message_of_16_kib_or_more_travels_alone_even_behind_small_ones() {
    let (mut hand, graph, connection, link, _) = batch_peer(64 * 1024, |_| {});
    let messages = [vec![1; 20], vec![2; 20], vec![3; 16 * 1024], vec![4; 20]];
    for message in &messages {
        let now = hand.now;
        hand.node
            .send_data(now, graph, connection, TYPE, message.clone().into())
            .unwrap();
    }
    let frames = hand.sent(link);
    assert!(
        matches!(&frames[..], [Kind::DataBatch(_), Kind::Data(large), Kind::Data(_)]
            if large.payload.len() == 16 * 1024),
        "the large message in a frame of its own, its payload not copied into a batch: {frames:?}"
    );
    assert_eq!(messages_in(&frames), messages);
}

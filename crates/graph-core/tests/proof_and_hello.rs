//! The handshake driven by hand: the membership exchange of PROTOCOL.md section 3 against a peer
//! written from the document (on both sides), fake nodes trying to learn the secret, confirmations
//! replayed or reflected, and Hellos with a malformed field.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod by_hand;

use by_hand::{Hand, Kind, REMOTE, close, confirm, hello, refuse, vector_exporter};
use bytes::Bytes;
use peergraph_core::ProtocolViolation;
use peergraph_core::{
    AuthFailure, ConnectionId, ConnectionKinds, ConnectionState, ConnectionStatus, Direction,
    EventType, FailReason, GraphConfig, GraphEvent, GraphHandle, LinkId, MAX_NAME_CHARS,
    PeerIdentity, RegistrationHandle,
};
use peergraph_proto::v1 as wire;
use prost::Message;
use ring::{hkdf, hmac};
use spake2::{Ed25519Group, Identity, Password, Spake2};

const SECRET: &str = "s3cret";

/// PROTOCOL.md section 3, written from the document with the `spake2` crate and ring: what an
/// independent peer computes. It shares no code with the node.
mod recipe {
    use super::*;

    struct Length32;

    impl hkdf::KeyType for Length32 {
        fn len(&self) -> usize {
            32
        }
    }

    fn password(secret: &[u8]) -> Password {
        let mut password = [0; 32];
        hkdf::Salt::new(hkdf::HKDF_SHA256, b"peergraph/2 graph secret")
            .extract(secret)
            .expand(&[], Length32)
            .unwrap()
            .fill(&mut password)
            .unwrap();
        Password::new(password)
    }

    fn identity(graph_id: &str, exporter: &[u8; 32]) -> Identity {
        let mut identity = b"peergraph/2\0".to_vec();
        identity.extend_from_slice(graph_id.as_bytes());
        identity.push(0);
        identity.extend_from_slice(exporter);
        Identity::new(&identity)
    }

    /// One side's SPAKE2, started with a fresh scalar, and the share it sends.
    pub(super) fn start(
        secret: &str,
        graph_id: &str,
        exporter: &[u8; 32],
    ) -> (Spake2<Ed25519Group>, Vec<u8>) {
        Spake2::<Ed25519Group>::start_symmetric(
            &password(secret.as_bytes()),
            &identity(graph_id, exporter),
        )
    }

    /// The key agreed with `peer_share`, as an HMAC key for confirmations.
    pub(super) fn finish(spake: Spake2<Ed25519Group>, peer_share: &[u8]) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, &spake.finish(peer_share).unwrap())
    }

    pub(super) fn target_confirmation(key: &hmac::Key) -> Vec<u8> {
        hmac::sign(key, b"peergraph/2 target").as_ref().to_vec()
    }

    pub(super) fn initiator_confirmation(key: &hmac::Key) -> Vec<u8> {
        hmac::sign(key, b"peergraph/2 initiator").as_ref().to_vec()
    }
}

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
    answer_on(hand, exporter, hello).1
}

/// As [`answer`], with the link.
fn answer_on(hand: &mut Hand, exporter: [u8; 32], hello: wire::Hello) -> (LinkId, Vec<Kind>) {
    let link = hand.accept(exporter);
    hand.receive(link, Kind::Hello(hello));
    let answer = hand.sent(link);
    (link, answer)
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

/// The Accept in `answer`, which must be the only frame.
fn the_accept(answer: &[Kind]) -> &wire::Accept {
    let [Kind::Accept(accept)] = answer else {
        panic!("an Accept: {answer:?}");
    };
    accept
}

#[test]
fn a_peer_following_the_recipe_is_admitted_only_after_its_confirm() {
    let (mut hand, graph, registration) = target(Some(SECRET));
    let (spake, share) = recipe::start(SECRET, "chat", &vector_exporter());
    let (link, answer) = answer_on(
        &mut hand,
        vector_exporter(),
        hello("chat", "bob", "alice", &share),
    );
    let accept = the_accept(&answer);
    assert_eq!(
        accept.node_id,
        hand.node.node_info(graph).unwrap().node_id.get()
    );
    assert_eq!((accept.pake_share.len(), accept.batch_limit), (33, 65_536));
    let key = recipe::finish(spake, &accept.pake_share);
    assert_eq!(
        accept.confirmation.as_ref(),
        recipe::target_confirmation(&key),
        "the target's confirmation is the recipe's"
    );
    // Until the initiator confirms, the target's application knows nothing of it.
    assert_nothing_reached_the_application(&mut hand, graph, registration);

    hand.receive(link, confirm(&recipe::initiator_confirmation(&key)));
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
    assert_eq!(hand.sent(link), []);
}

/// A node with graph `chat` as peer `alice` and `secret` that dials `bob`; the link comes up
/// with the test vector's exporter. Returns the node, its registration, the link and the share
/// its Hello carried.
fn initiator(secret: &str) -> (Hand, RegistrationHandle, LinkId, Vec<u8>) {
    let mut hand = Hand::with_seed(12);
    let config = GraphConfig::new("chat", "alice").with_secret(secret);
    let (graph, registration) = hand.graph(config, &[EventType::DirectConnection]);
    let (_, link) = hand.dial(graph, "bob");
    hand.link_up(link, vector_exporter());
    let node_id = hand.node.node_info(graph).unwrap().node_id.get();
    let sent = hand.sent(link);
    let [Kind::Hello(hello)] = &sent[..] else {
        panic!("a Hello: {sent:?}");
    };
    let mut expected = by_hand::hello("chat", "bob", "alice", &hello.pake_share);
    expected.source_node_id = node_id;
    expected.batch_limit = 65_536;
    assert_eq!(hello, &expected);
    assert_eq!(hello.pake_share.len(), 33);
    (hand, registration, link, hello.pake_share.to_vec())
}

/// The initiator's link receives an Accept from a target following the recipe with `secret`
/// (node id 9); the key that target agreed on.
fn accept_from_recipe(hand: &mut Hand, link: LinkId, share: &[u8], secret: &str) -> hmac::Key {
    let (spake, target_share) = recipe::start(secret, "chat", &vector_exporter());
    let key = recipe::finish(spake, share);
    hand.receive(
        link,
        Kind::Accept(wire::Accept {
            node_id: 9,
            pake_share: target_share.into(),
            batch_limit: 0,
            confirmation: recipe::target_confirmation(&key).into(),
            peer_id: String::new(),
        }),
    );
    key
}

#[test]
fn the_initiator_confirms_a_target_following_the_recipe_and_is_connected() {
    let (mut hand, registration, link, share) = initiator(SECRET);
    let key = accept_from_recipe(&mut hand, link, &share, SECRET);
    let (_, peer) = connected_remote(&mut hand, registration);
    assert_eq!(peer, (9, "bob".to_owned(), REMOTE, Direction::Outbound));
    assert_eq!(
        hand.sent(link),
        [confirm(&recipe::initiator_confirmation(&key))]
    );
}

/// `events` are the one failure of an initiator whose membership exchange failed.
fn assert_failed_not_authenticated(events: &[GraphEvent], case: &str) {
    assert!(
        matches!(
            events,
            [GraphEvent::DirectConnection(change)] if change.status
                == ConnectionStatus::Failed(FailReason::NotAuthenticated(
                    AuthFailure::MembershipProof
                ))
        ),
        "{case}: {events:?}"
    );
}

/// The words a guesser tries; the right secret among them.
const WORDS: [&str; 6] = [
    "password", "123456", "sunshine", "s3cret", "letmein", "dragon",
];

/// A fake target (anyone who answers at the dialed address) captures the initiator's Hello and
/// answers with a share for one guess. The initiator checks the fake target's confirmation,
/// finds it wrong, and closes without sending anything that depends on its secret. What the
/// fake target holds then confirms no word of the list, the right secret included:
/// - the initiator's share is `x·B + w·S` with a fresh random `x`: for every candidate `w'`
///   there is an `x'` with `x'·B + w'·S` equal to it, so the share is exactly as likely under
///   every candidate and tells them apart not at all;
/// - the only value that would tell them apart is a confirmation under the initiator's key,
///   and the initiator sends it only to a target whose own confirmation verified, which needs
///   the right secret at the time of the handshake: one online guess, not an offline search.
///
/// Version 1 sent `HMAC(secret, label || graph || exporter)` in the Hello, which a word list
/// searched offline; the test tries that search too, and it finds nothing.
#[test]
fn a_fake_target_captures_nothing_that_confirms_a_guess() {
    let guess = "sunshine";
    let (mut hand, registration, link, share) = initiator(SECRET);
    accept_from_recipe(&mut hand, link, &share, guess);
    assert_failed_not_authenticated(&hand.events(registration), "a wrong guess");
    // Everything the initiator sent after its Hello: a Close, and no Confirm.
    let after_hello = hand.sent(link);
    assert_eq!(after_hello, [close(wire::CloseReason::ProtocolViolation)]);

    // The fake target's search, offline, over everything it captured.
    let mut captured: Vec<u8> = share.clone();
    captured.extend(after_hello.into_iter().flat_map(by_hand::encode));
    for word in WORDS {
        // Version 1's proof for this word.
        let v1_key = hmac::Key::new(hmac::HMAC_SHA256, word.as_bytes());
        let mut message = b"peergraph/1 initiator\0chat\0".to_vec();
        message.extend_from_slice(&vector_exporter());
        let v1_proof = hmac::sign(&v1_key, &message);
        // The initiator's confirmation under the key this word gives with the initiator's
        // share (a fresh exchange as target: the fake target's own one is spent).
        let (spake, _) = recipe::start(word, "chat", &vector_exporter());
        let confirmation = recipe::initiator_confirmation(&recipe::finish(spake, &share));
        for needle in [v1_proof.as_ref(), &confirmation[..]] {
            assert!(
                !captured
                    .windows(needle.len())
                    .any(|window| window == needle),
                "{word:?} confirmed by the capture"
            );
        }
    }

    // Online, each handshake tests one guess: a target that knows the secret is confirmed.
    let (mut hand, registration, link, share) = initiator(SECRET);
    accept_from_recipe(&mut hand, link, &share, SECRET);
    connected_remote(&mut hand, registration);
}

/// A fake initiator sends a Hello with a share for one guess and receives the target's Accept:
/// the target's share and its confirmation under the target's key. That confirmation does
/// depend on the secret, so the fake initiator tries every word against it, the only way open
/// to it: its own exchange with its scalar `x` and the word. Only the word it committed to in
/// its share could match, and that is its one online guess. For any other word `w'` it would
/// need `y·(x·B + (g − w')·S)` for the target's secret scalar `y`; it knows `y·B + w·S` but
/// not `w`, and computing `y·S` from `y·B` is the computational Diffie-Hellman problem. So the
/// right secret does not match either, and the target admits nothing without a Confirm.
#[test]
fn a_fake_initiator_captures_nothing_that_confirms_a_guess() {
    let guess = "sunshine";
    let (mut hand, graph, registration) = target(Some(SECRET));
    let (spake, share) = recipe::start(guess, "chat", &vector_exporter());
    let (link, answer) = answer_on(
        &mut hand,
        vector_exporter(),
        hello("chat", "bob", "mallory", &share),
    );
    let accept = the_accept(&answer).clone();
    let committed = recipe::finish(spake, &accept.pake_share);
    assert_ne!(
        recipe::target_confirmation(&committed),
        accept.confirmation.as_ref(),
        "the committed guess is wrong"
    );
    for word in WORDS {
        // The fake initiator's exchange redone with each word (a fresh scalar: the spake2
        // state is spent, and no scalar makes the share it sent come out of another word).
        let (spake, _) = recipe::start(word, "chat", &vector_exporter());
        let key = recipe::finish(spake, &accept.pake_share);
        assert_ne!(
            recipe::target_confirmation(&key),
            accept.confirmation.as_ref(),
            "{word:?} confirmed by the capture"
        );
    }
    // Its Confirm can only be made up; the target refuses it, and its application saw nothing.
    hand.receive(link, confirm(&recipe::initiator_confirmation(&committed)));
    assert_eq!(
        hand.sent(link),
        [refuse(wire::RefuseReason::NotAuthenticated)]
    );
    assert!(by_hand::outputs_closing(&mut hand, link));
    assert_nothing_reached_the_application(&mut hand, graph, registration);
}

#[test]
fn a_confirmation_reflected_replayed_or_made_for_another_graph_is_refused_as_not_authenticated() {
    let not_authenticated = [refuse(wire::RefuseReason::NotAuthenticated)];
    let (mut hand, graph, registration) = target(Some(SECRET));
    // A second graph of the same peer id and secret on the same node.
    let (other, other_registration) = hand.graph(
        GraphConfig::new("chat2", "bob").with_secret(SECRET),
        &[EventType::DirectConnection],
    );
    let confirmed = |hand: &mut Hand,
                     exporter: [u8; 32],
                     graph_id: &str,
                     make: &dyn Fn(&hmac::Key, &wire::Accept) -> Vec<u8>| {
        let (spake, share) = recipe::start(SECRET, "chat", &vector_exporter());
        let (link, answer) = answer_on(hand, exporter, hello(graph_id, "bob", "alice", &share));
        let accept = the_accept(&answer).clone();
        let key = recipe::finish(spake, &accept.pake_share);
        hand.receive(link, confirm(&make(&key, &accept)));
        hand.sent(link)
    };
    // The target's own confirmation sent back to it.
    assert_eq!(
        confirmed(&mut hand, vector_exporter(), "chat", &|_, accept| accept
            .confirmation
            .to_vec()),
        not_authenticated,
        "reflected"
    );
    // A confirmation from an exchange bound to another TLS session.
    assert_eq!(
        confirmed(&mut hand, [0x55; 32], "chat", &|key, _| {
            recipe::initiator_confirmation(key)
        }),
        not_authenticated,
        "made for another link"
    );
    // An exchange for graph `chat`, offered to graph `chat2`.
    assert_eq!(
        confirmed(&mut hand, vector_exporter(), "chat2", &|key, _| {
            recipe::initiator_confirmation(key)
        }),
        not_authenticated,
        "another graph"
    );
    // None, or one cut short.
    assert_eq!(
        confirmed(&mut hand, vector_exporter(), "chat", &|_, _| Vec::new()),
        not_authenticated
    );
    assert_eq!(
        confirmed(&mut hand, vector_exporter(), "chat", &|key, _| {
            recipe::initiator_confirmation(key)[..31].to_vec()
        }),
        not_authenticated,
        "31 bytes"
    );
    // A confirmation that verified on one link, replayed on another.
    let (spake, share) = recipe::start(SECRET, "chat", &vector_exporter());
    let (link, first) = answer_on(
        &mut hand,
        vector_exporter(),
        hello("chat", "bob", "alice", &share),
    );
    let key = recipe::finish(spake, &the_accept(&first).pake_share);
    let good = recipe::initiator_confirmation(&key);
    assert_eq!(
        confirmed(&mut hand, vector_exporter(), "chat", &|_, _| good.clone()),
        not_authenticated,
        "replayed"
    );
    assert_nothing_reached_the_application(&mut hand, other, other_registration);
    // The original is still good on its own link.
    hand.receive(link, confirm(&good));
    connected_remote(&mut hand, registration);
    hand.node.close_graph(graph).ok();

    // A share where the graph has no secret, or none where it has one.
    let (mut hand, graph, registration) = target(Some(SECRET));
    assert_eq!(
        answer(
            &mut hand,
            vector_exporter(),
            hello("chat", "bob", "alice", &[])
        ),
        not_authenticated
    );
    // A share that is not a point.
    let mut off_curve = [0; 33];
    off_curve[0] = b'S';
    off_curve[1] = 2;
    assert_eq!(
        answer(
            &mut hand,
            vector_exporter(),
            hello("chat", "bob", "alice", &off_curve)
        ),
        not_authenticated
    );
    assert_nothing_reached_the_application(&mut hand, graph, registration);
}

#[test]
fn without_a_secret_the_shares_and_confirmations_are_empty() {
    let (mut hand, _, registration) = target(None);
    let (_, share) = recipe::start(SECRET, "chat", &[0; 32]);
    assert_eq!(
        answer(&mut hand, [0; 32], hello("chat", "bob", "alice", &share)),
        [refuse(wire::RefuseReason::NotAuthenticated)]
    );
    let (link, answer) = answer_on(&mut hand, [0; 32], hello("chat", "bob", "alice", &[]));
    let accept = the_accept(&answer);
    assert!(
        accept.pake_share.is_empty() && accept.confirmation.is_empty(),
        "{accept:?}"
    );
    assert_eq!(hand.events(registration), []);
    hand.receive(link, confirm(&[0; 32]));
    assert_eq!(
        hand.sent(link),
        [refuse(wire::RefuseReason::NotAuthenticated)]
    );
    let (link, _) = answer_on(&mut hand, [0; 32], hello("chat", "bob", "alice", &[]));
    hand.receive(link, confirm(&[]));
    assert_eq!(hand.events(registration).len(), 1);
}

#[test]
fn before_its_confirm_the_initiator_may_send_nothing_else() {
    let data = Kind::Data(wire::Data {
        type_id: Bytes::from_static(&[1; 16]),
        payload: Bytes::from_static(b"early"),
    });
    let (mut hand, graph, registration) = target(None);
    for early in [
        data,
        Kind::Hello(hello("chat", "bob", "alice", &[])),
        Kind::Keepalive(wire::Keepalive {}),
    ] {
        let (link, _) = answer_on(&mut hand, [0; 32], hello("chat", "bob", "alice", &[]));
        hand.receive(link, early.clone());
        assert_eq!(
            hand.sent(link),
            [close(wire::CloseReason::ProtocolViolation)],
            "{early:?}"
        );
    }
    assert_nothing_reached_the_application(&mut hand, graph, registration);
}

#[test]
fn a_link_waiting_for_its_confirm_holds_its_place_until_it_ends() {
    let mut config = peergraph_core::NodeConfig::with_seed(11);
    config.limits.max_direct_connections_per_graph = 1;
    let mut hand = Hand::new(config);
    let (graph, registration) = hand.graph(
        GraphConfig::new("chat", "bob"),
        &[EventType::DirectConnection],
    );
    let (waiting, answer) = answer_on(&mut hand, [0; 32], hello("chat", "bob", "alice", &[]));
    the_accept(&answer);
    // The place is taken: a second Hello is refused.
    assert_eq!(
        self::answer(&mut hand, [0; 32], hello("chat", "bob", "carol", &[])),
        [refuse(wire::RefuseReason::Refused)]
    );
    // The first never confirms: at the Hello deadline its link ends and its place is free.
    hand.advance(std::time::Duration::from_secs(3));
    assert!(
        hand.node
            .enum_connections(graph, ConnectionKinds::ALL)
            .unwrap()
            .is_empty()
    );
    assert_eq!(hand.events(registration), []);
    assert!(hand.node.poll_transmit(waiting).is_none());
    let (link, answer) = answer_on(&mut hand, [0; 32], hello("chat", "bob", "carol", &[]));
    the_accept(&answer);
    hand.receive(link, confirm(&[]));
    connected_remote(&mut hand, registration);
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
    // A share longer than 33 bytes is malformed, whether or not the graph has a secret.
    for secret in [None, Some(SECRET)] {
        let (mut hand, graph, registration) = target(secret);
        let (_, mut share) = recipe::start(SECRET, "chat", &vector_exporter());
        share.push(0);
        let long = hello("chat", "bob", "alice", &share);
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
    let (link, answer) = answer_on(&mut hand, [0; 32], hello(&long, &long, &source, &[]));
    the_accept(&answer);
    hand.receive(link, confirm(&[]));
    assert_eq!(hand.events(registration).len(), 1);
}

#[test]
fn a_hello_of_version_0_1_or_3_is_refused_as_unsupported() {
    let (mut hand, graph, registration) = target(None);
    for version in [0, 1, 3] {
        let mut hello = hello("chat", "bob", "alice", &[]);
        hello.version = version;
        assert_eq!(
            answer(&mut hand, [0; 32], hello),
            [refuse(wire::RefuseReason::UnsupportedVersion)]
        );
    }
    assert_nothing_reached_the_application(&mut hand, graph, registration);
}

#[test]
fn the_initiator_rejects_a_reflected_wrong_or_missing_confirmation_and_a_bad_share() {
    /// From the initiator's share, the key and the genuine target share: the Accept's share and
    /// confirmation.
    type Forge = fn(&[u8], &hmac::Key, Vec<u8>) -> (Vec<u8>, Vec<u8>);
    let cases: [(&str, Forge); 5] = [
        ("its own confirmation reflected", |_, key, share| {
            (share, recipe::initiator_confirmation(key))
        }),
        ("one bit flipped", |_, key, share| {
            let mut confirmation = recipe::target_confirmation(key);
            confirmation[31] ^= 1;
            (share, confirmation)
        }),
        ("none", |_, _, share| (share, Vec::new())),
        ("its own share reflected", |own, key, _| {
            (own.to_vec(), recipe::target_confirmation(key))
        }),
        ("no share", |_, key, _| {
            (Vec::new(), recipe::target_confirmation(key))
        }),
    ];
    for (case, make) in cases {
        let (mut hand, registration, link, share) = initiator(SECRET);
        let (spake, target_share) = recipe::start(SECRET, "chat", &vector_exporter());
        let key = recipe::finish(spake, &share);
        let (pake_share, confirmation) = make(&share, &key, target_share);
        hand.receive(
            link,
            Kind::Accept(wire::Accept {
                node_id: 9,
                pake_share: pake_share.into(),
                batch_limit: 0,
                confirmation: confirmation.into(),
                peer_id: String::new(),
            }),
        );
        assert_failed_not_authenticated(&hand.events(registration), case);
        assert_eq!(
            hand.sent(link),
            [close(wire::CloseReason::ProtocolViolation)],
            "{case}"
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
    hand.receive(link, confirm(&[]));
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

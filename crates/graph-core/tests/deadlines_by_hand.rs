//! Handshake deadlines, keepalives and idle timeouts of a node driven by hand with its own clock.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod by_hand;

use std::time::Duration;

use by_hand::{Hand, Kind, close, hello};
use bytes::Bytes;
use peergraph_core::{
    ConnectionId, ConnectionStatus, EventType, FailReason, GraphConfig, GraphEvent, GraphHandle,
    LinkId, NodeConfig,
};
use peergraph_proto::v1 as wire;

const SECOND: Duration = Duration::from_secs(1);

fn keepalive() -> Kind {
    Kind::Keepalive(wire::Keepalive {})
}

fn statuses(events: &[GraphEvent]) -> Vec<ConnectionStatus> {
    events
        .iter()
        .filter_map(|event| match event {
            GraphEvent::DirectConnection(change) => Some(change.status.clone()),
            _ => None,
        })
        .collect()
}

/// A node (seeded with `seed`) whose keepalive is `keepalive`, with one inbound connection in
/// graph `chat`: the node, its graph, the link and the connection id.
fn connected_with_keepalive(
    seed: u64,
    keepalive: Duration,
) -> (Hand, GraphHandle, LinkId, ConnectionId) {
    let mut config = NodeConfig::with_seed(seed);
    config.timeouts.keepalive = keepalive;
    let mut hand = Hand::new(config);
    let (graph, registration) = hand.graph(
        GraphConfig::new("chat", "bob"),
        &[EventType::DirectConnection],
    );
    let link = hand.inbound_connection("chat", "bob");
    let [GraphEvent::DirectConnection(change)] = &hand.events(registration)[..] else {
        panic!("one Connected event");
    };
    let connection = change.connection;
    (hand, graph, link, connection)
}

#[test]
fn a_keepalive_due_before_the_handshake_deadline_is_sent_on_time() {
    let mut config = NodeConfig::with_seed(1);
    config.timeouts.handshake = Duration::from_secs(10);
    config.timeouts.keepalive = SECOND;
    let mut hand = Hand::new(config);
    hand.graph(
        GraphConfig::new("chat", "bob"),
        &[EventType::DirectConnection],
    );
    let link = hand.inbound_connection("chat", "bob");
    hand.advance(SECOND);
    assert_eq!(hand.sent(link), [keepalive()], "after 1 s, not 10");
}

#[test]
fn a_keepalive_waits_for_a_full_quiet_period_after_the_last_frame_sent() {
    let (mut hand, graph, link, connection) = connected_with_keepalive(2, 10 * SECOND);
    hand.advance(5 * SECOND);
    let now = hand.now;
    hand.node
        .send_data(now, graph, connection, [1; 16], Bytes::from_static(b"x"))
        .unwrap();
    assert_eq!(hand.sent(link).len(), 1, "the data");
    // Ten seconds after the Accept, but only five after the data: no keepalive yet.
    hand.advance(5 * SECOND);
    assert_eq!(hand.sent(link), []);
    hand.advance(5 * SECOND);
    assert_eq!(hand.sent(link), [keepalive()]);
}

#[test]
fn a_handshake_that_times_out_says_goodbye_only_after_sending_its_hello() {
    let mut config = NodeConfig::with_seed(3);
    config.timeouts.handshake = 2 * SECOND;
    let mut hand = Hand::new(config);
    let (graph, registration) = hand.graph(
        GraphConfig::new("chat", "alice"),
        &[EventType::DirectConnection],
    );
    // A link that never sends its Hello: closed, nothing said.
    let inbound = hand.accept([0; 32]);
    // An attempt that is still dialing, and one whose Hello is out.
    let (_, dialing) = hand.dial(graph, "bob");
    let (_, awaiting) = hand.dial(graph, "carol");
    hand.link_up(awaiting, [0; 32]);
    let hello_out = hand.sent(awaiting);
    assert!(matches!(hello_out[..], [Kind::Hello(_)]), "{hello_out:?}");
    hand.advance(SECOND);
    assert_eq!(hand.events(registration), [], "not yet");
    hand.advance(SECOND);
    assert_eq!(hand.sent(inbound), []);
    assert_eq!(hand.sent(dialing), []);
    assert_eq!(hand.sent(awaiting), [close(wire::CloseReason::Application)]);
    assert_eq!(
        statuses(&hand.events(registration)),
        [
            ConnectionStatus::Failed(FailReason::TimedOut),
            ConnectionStatus::Failed(FailReason::TimedOut)
        ]
    );
    // The inbound link is gone: a late Hello gets no answer.
    hand.receive(inbound, Kind::Hello(hello("chat", "alice", "dave", &[])));
    assert_eq!(hand.sent(inbound), []);
}

#[test]
fn frames_still_waiting_to_be_written_stand_in_for_a_keepalive() {
    let (mut hand, graph, link, connection) = connected_with_keepalive(3, SECOND);
    // A message queued and not yet pulled by the driver (its link is slow to take frames).
    hand.node
        .send_data(
            hand.now,
            graph,
            connection,
            [1; 16],
            Bytes::from_static(b"hi"),
        )
        .unwrap();
    hand.advance(SECOND);
    let sent = hand.sent(link);
    assert_eq!(
        sent.len(),
        1,
        "the message only, no keepalive behind it: {sent:?}"
    );
    assert!(matches!(sent[0], Kind::Data(_)));
}

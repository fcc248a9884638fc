//! Registrations, sends and connection bookkeeping of a node driven by hand: the edges of each
//! limit, and what each query reports.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod by_hand;
mod common;

use by_hand::{Hand, Kind, close, encode, hello};
use bytes::Bytes;
use peergraph_core::{
    ConnectionId, ConnectionKinds, ConnectionStatus, EventType, FailReason, GraphConfig,
    GraphEvent, GraphHandle, LinkCloseReason, LinkId, NodeConfig, Output, SendError,
};
use peergraph_proto::v1 as wire;

const TYPE: [u8; 16] = *b"node-by-hand-typ";

fn data(payload: &[u8]) -> Kind {
    Kind::Data(wire::Data {
        type_id: Bytes::copy_from_slice(&TYPE),
        payload: Bytes::copy_from_slice(payload),
    })
}

/// The length of the data frame carrying a payload of `len` bytes.
fn data_frame_len(len: usize) -> usize {
    encode(data(&vec![0; len])).len()
}

fn payload_lens(events: &[GraphEvent]) -> Vec<Option<usize>> {
    events
        .iter()
        .map(|event| match event {
            GraphEvent::IncomingData(data) => Some(data.data.len()),
            _ => None,
        })
        .collect()
}

/// The connection id a `Connected` event among `events` names.
fn connected(events: &[GraphEvent]) -> ConnectionId {
    events
        .iter()
        .find_map(|event| match event {
            GraphEvent::DirectConnection(change)
                if matches!(change.status, ConnectionStatus::Connected(_)) =>
            {
                Some(change.connection)
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("a Connected event in {events:?}"))
}

/// Whether a Hello on a new link is accepted (true, and the initiator's Confirm follows) or
/// refused (false).
fn admitted(hand: &mut Hand) -> bool {
    let link = hand.accept([0; 32]);
    hand.receive(link, Kind::Hello(hello("chat", "bob", "carol", &[])));
    match &hand.sent(link)[..] {
        [Kind::Accept(_)] => {
            hand.receive(link, by_hand::confirm(&[]));
            true
        }
        [Kind::Refuse(_)] => false,
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_event_type_listed_twice_is_still_registered() {
    let mut hand = Hand::with_seed(1);
    let graph = hand
        .node
        .create_graph(GraphConfig::new("chat", "bob"))
        .unwrap();
    let types = [EventType::DirectConnection, EventType::DirectConnection];
    let registration = hand.node.register_event(graph, &types).unwrap();
    assert!(admitted(&mut hand));
    assert_eq!(hand.events(registration).len(), 1);
}

#[test]
fn unregistering_one_registration_leaves_the_graphs_others_in_place() {
    let mut hand = Hand::with_seed(2);
    let (graph, first) = hand.graph(
        GraphConfig::new("chat", "bob"),
        &[EventType::DirectConnection],
    );
    let second = hand
        .node
        .register_event(graph, &[EventType::DirectConnection])
        .unwrap();
    hand.node.unregister_event(first).unwrap();
    assert!(admitted(&mut hand), "the second registration still counts");
    assert_eq!(hand.events(second).len(), 1);
}

#[test]
fn an_empty_queue_reports_no_event_however_often_asked() {
    let mut hand = Hand::with_seed(3);
    let (_, registration) = hand.graph(
        GraphConfig::new("chat", "bob"),
        &[EventType::DirectConnection],
    );
    for _ in 0..2 {
        assert_eq!(hand.node.take_event(registration), Ok(None));
        let mut taken = Vec::new();
        assert_eq!(hand.node.take_events(registration, &mut taken, 10), Ok(0));
        assert!(taken.is_empty());
    }
}

/// A target whose connections' receive window is `messages` messages and `bytes` bytes, with a
/// registration for connection events, one for data, and one inbound connection.
fn target_with_window(
    messages: usize,
    bytes: usize,
) -> (
    Hand,
    GraphHandle,
    peergraph_core::RegistrationHandle,
    LinkId,
) {
    let mut config = NodeConfig::with_seed(4);
    config.limits.receive_window_messages = messages;
    config.limits.receive_window_bytes = bytes;
    let mut hand = Hand::new(config);
    let (graph, _) = hand.graph(
        GraphConfig::new("chat", "bob"),
        &[EventType::DirectConnection],
    );
    let registration = hand
        .node
        .register_event(graph, &[EventType::IncomingData])
        .unwrap();
    let link = hand.inbound_connection("chat", "bob");
    (hand, graph, registration, link)
}

/// The links the node's output stream asks to read again.
fn resumed(hand: &mut Hand) -> Vec<LinkId> {
    common::outputs(&mut hand.node, hand.now)
        .into_iter()
        .filter_map(|output| match output {
            Output::Resume { link } => Some(link),
            _ => None,
        })
        .collect()
}

#[test]
fn a_full_window_in_messages_holds_the_link_until_half_is_taken() {
    let (mut hand, _, registration, link) = target_with_window(4, 1 << 20);
    for fill in 0..3 {
        hand.receive(link, data(&[fill]));
        assert!(hand.node.link_readable(link), "{} of 4", fill + 1);
    }
    hand.receive(link, data(&[3]));
    assert!(!hand.node.link_readable(link), "the window is full");
    // A frame the driver hands in anyway is taken all the same: nothing is lost.
    hand.receive(link, data(&[4]));
    assert!(resumed(&mut hand).is_empty());
    let first = hand.node.take_event(registration).unwrap().unwrap();
    let second = hand.node.take_event(registration).unwrap().unwrap();
    assert_eq!(payload_lens(&[first, second]), [Some(1), Some(1)]);
    assert!(!hand.node.link_readable(link), "3 unread is over half of 4");
    assert!(resumed(&mut hand).is_empty());
    hand.node.take_event(registration).unwrap().unwrap();
    assert!(
        hand.node.has_output(),
        "a driver taking events learns a link resumed"
    );
    assert_eq!(resumed(&mut hand), [link], "2 unread: half the window");
    assert!(hand.node.link_readable(link));
    assert!(resumed(&mut hand).is_empty(), "resumed once");
    let rest: Vec<u8> = hand
        .events(registration)
        .iter()
        .map(|event| match event {
            GraphEvent::IncomingData(data) => data.data[0],
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(rest, [3, 4], "every message, in order");
}

#[test]
fn a_full_window_in_bytes_holds_the_link_and_a_batch_take_resumes_it() {
    let (mut hand, _, registration, link) = target_with_window(100, 1000);
    hand.receive(link, data(&[0; 1]));
    hand.receive(link, data(&[1; 600]));
    assert!(hand.node.link_readable(link));
    hand.receive(link, data(&[2; 398]));
    assert!(hand.node.link_readable(link), "999 of 1000 bytes");
    hand.receive(link, data(&[3; 1]));
    assert!(!hand.node.link_readable(link), "1000 of 1000 bytes");
    let mut taken = Vec::new();
    assert_eq!(hand.node.take_events(registration, &mut taken, 1), Ok(1));
    assert!(resumed(&mut hand).is_empty(), "999 bytes left: over half");
    assert_eq!(hand.node.take_events(registration, &mut taken, 1), Ok(1));
    assert_eq!(resumed(&mut hand), [link], "399 bytes left: under half");
    assert_eq!(hand.node.take_events(registration, &mut taken, 10), Ok(2));
    assert_eq!(
        payload_lens(&taken),
        [Some(1), Some(600), Some(398), Some(1)]
    );
}

#[test]
fn a_message_larger_than_the_window_still_goes_through_an_empty_one() {
    let (mut hand, _, registration, link) = target_with_window(100, 100);
    hand.receive(link, data(&[7; 5000]));
    assert!(!hand.node.link_readable(link));
    assert_eq!(payload_lens(&hand.events(registration)), [Some(5000)]);
    assert_eq!(resumed(&mut hand), [link]);
}

#[test]
fn a_held_link_holds_only_itself() {
    let (mut hand, _, _, held) = target_with_window(1, 1 << 20);
    let other = hand.inbound_connection("chat", "bob");
    hand.receive(held, data(&[1]));
    assert!(!hand.node.link_readable(held));
    assert!(
        hand.node.link_readable(other),
        "another connection reads on"
    );
}

#[test]
fn each_registrations_copy_counts_against_the_window() {
    let (mut hand, graph, first, link) = target_with_window(4, 1 << 20);
    let second = hand
        .node
        .register_event(graph, &[EventType::IncomingData])
        .unwrap();
    hand.receive(link, data(&[1]));
    assert!(hand.node.link_readable(link), "two copies of 4");
    hand.receive(link, data(&[2]));
    assert!(!hand.node.link_readable(link), "four copies of 4");
    assert_eq!(payload_lens(&hand.events(first)), [Some(1), Some(1)]);
    assert_eq!(
        resumed(&mut hand),
        [link],
        "the first took its two: 2 of 4 left"
    );
    assert_eq!(payload_lens(&hand.events(second)), [Some(1), Some(1)]);
}

#[test]
fn unregistering_a_registration_gives_its_unread_data_back_to_the_window() {
    let (mut hand, _, registration, link) = target_with_window(2, 1 << 20);
    hand.receive(link, data(&[1]));
    hand.receive(link, data(&[2]));
    assert!(!hand.node.link_readable(link));
    hand.node.unregister_event(registration).unwrap();
    assert_eq!(resumed(&mut hand), [link]);
    assert!(hand.node.link_readable(link));
}

#[test]
fn a_link_held_by_its_application_is_not_idle_and_still_sends_keepalives() {
    let (mut hand, _, registration, link) = target_with_window(1, 1 << 20);
    let connections = hand.node.config().timeouts;
    hand.receive(link, data(&[1]));
    assert!(!hand.node.link_readable(link));
    // Twice the idle timeout with nothing received: the peer is held back by this node's own
    // application, not silent.
    for _ in 0..4 {
        hand.advance(connections.idle / 2);
        let frames = hand.sent(link);
        assert!(
            frames
                .iter()
                .all(|frame| matches!(frame, Kind::Keepalive(_))),
            "{frames:?}"
        );
    }
    assert_eq!(payload_lens(&hand.events(registration)), [Some(1)]);
    assert_eq!(resumed(&mut hand), [link]);
    // From the resume on, the idle timeout counts again, from the resume.
    hand.advance(connections.idle - std::time::Duration::from_millis(1));
    assert!(hand.node.link_readable(link));
    assert!(
        !hand
            .sent(link)
            .iter()
            .any(|frame| matches!(frame, Kind::Close(_))),
        "not idle yet"
    );
    hand.advance(std::time::Duration::from_millis(1));
    assert!(
        hand.sent(link)
            .iter()
            .any(|frame| matches!(frame, Kind::Close(_))),
        "idle a full timeout after the resume"
    );
}

#[test]
fn a_full_registration_that_takes_no_connection_events_does_not_hold_connections_back() {
    let mut config = NodeConfig::with_seed(5);
    config.limits.max_queued_events_per_registration = 2;
    let mut hand = Hand::new(config);
    let (graph, connections) = hand.graph(
        GraphConfig::new("chat", "bob"),
        &[EventType::DirectConnection],
    );
    let data_only = hand
        .node
        .register_event(graph, &[EventType::IncomingData])
        .unwrap();
    let link = hand.inbound_connection("chat", "bob");
    for fill in 0..3 {
        hand.receive(link, data(&[fill]));
    }
    hand.events(connections);
    assert!(admitted(&mut hand), "only the data registration is full");
    hand.events(connections);
    hand.dial(graph, "dave");
    assert_eq!(
        payload_lens(&hand.events(data_only)),
        [Some(1), Some(1), Some(1)],
        "nothing is dropped from a full registration"
    );
}

/// A target with one inbound connection; its graph and the target's id for the connection.
fn target_with_connection(config: NodeConfig) -> (Hand, GraphHandle, ConnectionId, LinkId) {
    let mut hand = Hand::new(config);
    let (graph, registration) = hand.graph(
        GraphConfig::new("chat", "bob"),
        &[EventType::DirectConnection],
    );
    let link = hand.inbound_connection("chat", "bob");
    let connection = connected(&hand.events(registration));
    (hand, graph, connection, link)
}

#[test]
fn a_send_that_fills_the_queue_exactly_is_taken_and_queued_bytes_counts_whole_frames() {
    let mut config = NodeConfig::with_seed(6);
    config.limits.max_queued_bytes_per_connection = 1000;
    let (mut hand, graph, connection, link) = target_with_connection(config);
    let now = hand.now;
    assert_eq!(hand.node.queued_bytes(graph, connection), Some(0));
    hand.node
        .send_data(now, graph, connection, TYPE, Bytes::from(vec![1; 100]))
        .unwrap();
    let queued = data_frame_len(100);
    assert_eq!(hand.node.queued_bytes(graph, connection), Some(queued));
    // The check counts the queued frames and the new payload: exactly at the limit is taken.
    let rest = 1000 - queued;
    hand.node
        .send_data(now, graph, connection, TYPE, Bytes::from(vec![2; rest]))
        .unwrap();
    let queued = queued + data_frame_len(rest);
    assert_eq!(hand.node.queued_bytes(graph, connection), Some(queued));
    assert_eq!(
        hand.node
            .send_data(now, graph, connection, TYPE, Bytes::from_static(b"x")),
        Err(SendError::QueueFull {
            queued,
            limit: 1000
        })
    );
    let sent = hand.sent(link);
    assert_eq!(sent, [data(&[1; 100]), data(&vec![2; rest])]);
    assert_eq!(hand.node.queued_bytes(graph, connection), Some(0));
}

#[test]
fn a_batch_takes_messages_of_exactly_the_largest_size_and_up_to_exactly_the_queue_limit() {
    let mut config = NodeConfig::with_seed(7);
    config.limits.max_queued_bytes_per_connection = 1000;
    config.limits.max_message_size = 700;
    let (mut hand, graph, connection, link) = target_with_connection(config);
    let now = hand.now;
    // 10 bytes, then exactly the largest message, then exactly what is left of the queue.
    let fill = 1000 - data_frame_len(10) - data_frame_len(700);
    let batch = [
        Bytes::from(vec![1; 10]),
        Bytes::from(vec![2; 700]),
        Bytes::from(vec![3; fill]),
        Bytes::from(vec![4; 1]),
    ];
    assert_eq!(
        hand.node
            .send_data_batch(now, graph, connection, TYPE, &batch),
        Ok(3)
    );
    let messages_sent = |hand: &Hand| {
        let list = hand
            .node
            .enum_connections(graph, ConnectionKinds::DIRECT)
            .unwrap();
        list[0].messages_sent
    };
    assert_eq!(messages_sent(&hand), 3);
    assert_eq!(hand.sent(link).len(), 3);
    // One byte over the largest size stops the batch, though the queue has room.
    let batch = [
        Bytes::from(vec![5; 10]),
        Bytes::from(vec![6; 701]),
        Bytes::from(vec![7; 10]),
    ];
    assert_eq!(
        hand.node
            .send_data_batch(now, graph, connection, TYPE, &batch),
        Ok(1)
    );
    assert_eq!(messages_sent(&hand), 4);
    assert_eq!(hand.sent(link), [data(&[5; 10])]);
}

#[test]
fn link_connection_names_what_a_link_carries_once_known() {
    let mut hand = Hand::with_seed(8);
    let (graph, registration) = hand.graph(
        GraphConfig::new("chat", "bob"),
        &[EventType::DirectConnection],
    );
    let link = hand.accept([0; 32]);
    assert_eq!(hand.node.link_connection(link), None, "before the Hello");
    hand.receive(link, Kind::Hello(hello("chat", "bob", "alice", &[])));
    assert_eq!(hand.node.link_connection(link), None, "before the Confirm");
    hand.receive(link, by_hand::confirm(&[]));
    let connection = connected(&hand.events(registration));
    assert_eq!(
        hand.node.link_connection(link),
        Some((graph, connection, "alice"))
    );
    let (outbound, dialed) = hand.dial(graph, "carol");
    assert_eq!(
        hand.node.link_connection(dialed),
        Some((graph, outbound, "carol"))
    );
}

#[test]
fn cancelling_an_attempt_tells_the_target_only_once_the_hello_is_out() {
    let mut hand = Hand::with_seed(9);
    let (graph, registration) = hand.graph(
        GraphConfig::new("chat", "alice"),
        &[EventType::DirectConnection],
    );
    // Still dialing: nothing was sent, so nothing is said.
    let (dialing, link) = hand.dial(graph, "bob");
    hand.node.close_direct_connection(graph, dialing).unwrap();
    assert_eq!(hand.sent(link), []);
    // The Hello is out: a Close follows it.
    let (awaiting, link) = hand.dial(graph, "bob");
    hand.link_up(link, [0; 32]);
    hand.node.close_direct_connection(graph, awaiting).unwrap();
    let sent = hand.sent(link);
    assert!(matches!(sent[0], Kind::Hello(_)), "{sent:?}");
    assert_eq!(sent[1..], [close(wire::CloseReason::Application)]);
    let cancelled = ConnectionStatus::Failed(FailReason::Cancelled);
    let events = hand.events(registration);
    let statuses: Vec<_> = events
        .iter()
        .map(|event| match event {
            GraphEvent::DirectConnection(change) => (change.connection, change.status.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        statuses,
        [(dialing, cancelled.clone()), (awaiting, cancelled)]
    );
}

#[test]
fn enum_connections_lists_only_the_graphs_own_live_connections() {
    let mut hand = Hand::with_seed(10);
    let (chat, registration) = hand.graph(
        GraphConfig::new("chat", "bob"),
        &[EventType::DirectConnection],
    );
    let (other, _) = hand.graph(
        GraphConfig::new("other", "bob"),
        &[EventType::DirectConnection],
    );
    hand.inbound_connection("chat", "bob");
    let connection = connected(&hand.events(registration));
    let list = |hand: &Hand, graph| {
        hand.node
            .enum_connections(graph, ConnectionKinds::ALL)
            .unwrap()
            .into_iter()
            .map(|info| info.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(list(&hand, chat), [connection]);
    assert_eq!(list(&hand, other), []);
    hand.node.close_direct_connection(chat, connection).unwrap();
    assert_eq!(list(&hand, chat), [], "closing: no longer listed");
}

#[test]
fn a_refused_handshake_frees_its_place_among_the_pending_ones() {
    let mut config = NodeConfig::with_seed(11);
    config.limits.max_pending_handshakes = 2;
    let mut hand = Hand::new(config);
    hand.graph(
        GraphConfig::new("chat", "bob"),
        &[EventType::DirectConnection],
    );
    // Many more handshakes than the limit, one after the other: each ends (refused) before the
    // next link comes, so none is turned away at once.
    for _ in 0..5 {
        let link = hand.accept([0; 32]);
        assert_eq!(hand.sent(link), [], "not refused on arrival");
        hand.receive(link, Kind::Hello(hello("chat", "nobody", "alice", &[])));
        assert_eq!(
            hand.sent(link),
            [by_hand::refuse(wire::RefuseReason::Refused)]
        );
    }
    // Admitted ones free their place too.
    for _ in 0..5 {
        assert!(admitted(&mut hand));
    }
    // Two stalled handshakes fill it: the third link is refused on arrival.
    hand.accept([0; 32]);
    hand.accept([0; 32]);
    let third = hand.accept([0; 32]);
    assert_eq!(
        hand.sent(third),
        [by_hand::refuse(wire::RefuseReason::Refused)]
    );
}

#[test]
fn an_ended_connection_frees_its_place_among_the_graphs_connections() {
    let mut config = NodeConfig::with_seed(12);
    config.limits.max_direct_connections_per_graph = 1;
    let mut hand = Hand::new(config);
    hand.graph(
        GraphConfig::new("chat", "bob"),
        &[EventType::DirectConnection],
    );
    for _ in 0..3 {
        let link = hand.inbound_connection("chat", "bob");
        assert!(!admitted(&mut hand), "the graph holds one connection");
        let now = hand.now;
        hand.node
            .handle_link_closed(now, link, peergraph_core::LinkCloseReason::Lost);
    }
    let link = hand.inbound_connection("chat", "bob");
    hand.receive(link, close(wire::CloseReason::Application));
    assert!(admitted(&mut hand), "closed by the peer: the place is free");
}

#[test]
fn the_node_keeps_its_configuration_with_zero_timeouts_raised_to_a_millisecond() {
    let mut config = NodeConfig::with_seed(13);
    config.limits.max_message_size = 4321;
    config.timeouts.idle = std::time::Duration::ZERO;
    let hand = Hand::new(config.clone());
    let kept = hand.node.config();
    assert_eq!(kept.rng_seed, 13);
    assert_eq!(kept.limits, config.limits);
    assert_eq!(kept.timeouts.idle, std::time::Duration::from_millis(1));
    assert_eq!(kept.timeouts.handshake, config.timeouts.handshake);
    assert_eq!(kept.timeouts.keepalive, config.timeouts.keepalive);
}

#[test]
fn the_last_shutdown_drops_links_still_waiting_for_their_hello() {
    let mut hand = Hand::with_seed(14);
    hand.graph(
        GraphConfig::new("chat", "bob"),
        &[EventType::DirectConnection],
    );
    let link = hand.accept([0; 32]);
    hand.node.shutdown().unwrap();
    hand.receive(link, Kind::Hello(hello("chat", "bob", "alice", &[])));
    assert_eq!(hand.sent(link), [], "the link was closed: no answer");
}

#[test]
fn closing_a_graph_leaves_the_other_graphs_connections_alone() {
    let mut hand = Hand::with_seed(15);
    let (chat, _) = hand.graph(
        GraphConfig::new("chat", "bob"),
        &[EventType::DirectConnection],
    );
    let (other, other_registration) = hand.graph(
        GraphConfig::new("other", "bob"),
        &[EventType::DirectConnection],
    );
    let closed = hand.inbound_connection("chat", "bob");
    let kept = hand.inbound_connection("other", "bob");
    hand.events(other_registration);
    hand.node.close_graph(chat).unwrap();
    assert_eq!(hand.sent(closed), [close(wire::CloseReason::GraphClosed)]);
    assert_eq!(hand.sent(kept), []);
    assert_eq!(hand.events(other_registration), []);
    let list = hand
        .node
        .enum_connections(other, ConnectionKinds::DIRECT)
        .unwrap();
    assert_eq!(list.len(), 1);
}

#[test]
fn opens_beyond_the_dials_per_target_wait_their_turn_in_order() {
    let mut config = NodeConfig::with_seed(21);
    config.limits.max_dials_per_target = 2;
    let mut hand = Hand::new(config);
    let (graph, registration) = hand.graph(
        GraphConfig::new("chat", "alice"),
        &[EventType::DirectConnection],
    );
    let to = |port: u16| peergraph_core::PeerAddress::new(([192, 0, 2, 2], port).into());
    let open = |hand: &mut Hand, port: u16| {
        hand.node
            .open_direct_connection(hand.now, graph, "bob", to(port))
            .unwrap()
    };
    let dials = |hand: &mut Hand| {
        let mut dials = Vec::new();
        loop {
            match hand.node.poll_output(hand.now) {
                Output::Dial { link, address } => dials.push((link, address.socket.port())),
                Output::Timeout(_) => return dials,
                _ => {}
            }
        }
    };
    let first = [open(&mut hand, 1), open(&mut hand, 1), open(&mut hand, 1)];
    let other = open(&mut hand, 2);
    let fourth = open(&mut hand, 1);
    let dialed = dials(&mut hand);
    assert_eq!(
        dialed.iter().map(|(_, port)| *port).collect::<Vec<_>>(),
        [1, 1, 2],
        "two to port 1, and another address has its own room"
    );
    // One dialed link fails: the oldest waiting open to the same address is dialed.
    hand.node
        .handle_link_closed(hand.now, dialed[0].0, LinkCloseReason::Unreachable);
    let next = dials(&mut hand);
    assert_eq!(next.len(), 1);
    assert_eq!(
        hand.node.link_connection(next[0].0).map(|l| l.1),
        Some(first[2])
    );
    // A waiting open that is cancelled never dials, and frees nothing it did not hold.
    hand.node.close_direct_connection(graph, fourth).unwrap();
    // The other dialed one connects (Accept and all): nothing is left waiting.
    hand.link_up(dialed[1].0, [0; 32]);
    hand.sent(dialed[1].0);
    hand.receive(
        dialed[1].0,
        Kind::Accept(wire::Accept {
            node_id: 9,
            ..Default::default()
        }),
    );
    assert_eq!(dials(&mut hand), []);
    let events = hand.events(registration);
    let outcome = |id| {
        events.iter().find_map(|event| match event {
            GraphEvent::DirectConnection(change) if change.connection == id => {
                Some(change.status.clone())
            }
            _ => None,
        })
    };
    assert!(matches!(
        outcome(first[1]),
        Some(ConnectionStatus::Connected(_))
    ));
    assert_eq!(
        outcome(fourth),
        Some(ConnectionStatus::Failed(FailReason::Cancelled))
    );
    assert_eq!(outcome(other), None, "still dialing");
}

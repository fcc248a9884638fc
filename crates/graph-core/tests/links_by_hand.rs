//! Frames and link events fed to a node by hand: the frame size limit at its edge, when a
//! payload is copied out of its frame, and how a link's end is reported.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod by_hand;

use by_hand::{Hand, Kind, close, encode, hello};
use bytes::Bytes;
use peergraph_core::{
    ConnectionStatus, DisconnectReason, EventType, GraphConfig, GraphEvent, LinkCloseReason,
    NodeConfig, ProtocolViolation,
};
use peergraph_proto::v1 as wire;

const EVENTS: &[EventType] = &[EventType::DirectConnection, EventType::IncomingData];

/// A data frame carrying `payload`, padded with an unknown field of `Frame` (number 100, which
/// receivers ignore) to exactly `len` bytes.
fn padded_data_frame(payload: &[u8], len: usize) -> Bytes {
    let data = wire::Data {
        type_id: Bytes::from_static(&[5; 16]),
        payload: Bytes::copy_from_slice(payload),
    };
    padded(encode(Kind::Data(data)), len)
}

/// `frame` padded with an unknown field of `Frame` (number 100, which receivers ignore) to
/// exactly `len` bytes.
fn padded(frame: Bytes, len: usize) -> Bytes {
    let mut frame = frame.to_vec();
    // Tag (2 bytes), a 2-byte length, then the padding.
    let padding = len - frame.len() - 4;
    assert!((128..16_384).contains(&padding), "a 2-byte length");
    frame.extend_from_slice(&[0xa2, 0x06]);
    prost::encoding::encode_varint(padding as u64, &mut frame);
    frame.resize(len, 0);
    Bytes::from(frame)
}

fn data_events(events: &[GraphEvent]) -> Vec<Bytes> {
    events
        .iter()
        .filter_map(|event| match event {
            GraphEvent::IncomingData(data) => Some(data.data.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_frame_of_exactly_the_largest_length_is_taken_and_one_byte_more_is_a_violation() {
    let mut config = NodeConfig::with_seed(1);
    config.limits.max_message_size = 100;
    let max_frame = config.limits.max_frame_len();
    let mut hand = Hand::new(config);
    let (_, registration) = hand.graph(GraphConfig::new("chat", "bob"), EVENTS);
    let link = hand.inbound_connection("chat", "bob");
    hand.events(registration);

    hand.receive_bytes(link, padded_data_frame(b"at the limit", max_frame));
    assert_eq!(
        data_events(&hand.events(registration)),
        [&b"at the limit"[..]]
    );
    assert_eq!(hand.sent(link), []);

    hand.receive_bytes(link, padded_data_frame(b"one byte over", max_frame + 1));
    let events = hand.events(registration);
    assert!(data_events(&events).is_empty());
    assert!(
        matches!(
            &events[..],
            [GraphEvent::DirectConnection(change)] if change.status
                == ConnectionStatus::Disconnected(DisconnectReason::ProtocolViolation(
                    ProtocolViolation::FrameTooLarge
                ))
        ),
        "{events:?}"
    );
    assert_eq!(
        hand.sent(link),
        [close(wire::CloseReason::ProtocolViolation)]
    );
}

/// Whether `data` points into `frame`'s buffer.
fn shares(frame: &Bytes, data: &Bytes) -> bool {
    frame.as_ptr_range().contains(&data.as_ptr())
}

#[test]
fn a_payload_of_at_least_half_its_frame_shares_the_frame_and_a_smaller_one_is_copied() {
    let mut hand = Hand::with_seed(2);
    let (_, registration) = hand.graph(GraphConfig::new("chat", "bob"), EVENTS);
    let link = hand.inbound_connection("chat", "bob");
    hand.events(registration);

    // The usual layout: the payload is nearly the whole frame.
    let data = wire::Data {
        type_id: Bytes::from_static(&[5; 16]),
        payload: Bytes::from(vec![1; 300]),
    };
    let plain = encode(Kind::Data(data));
    // Padded: the payload is exactly half the frame, then just under half.
    let half = padded_data_frame(&[2; 200], 400);
    let under_half = padded_data_frame(&[3; 199], 400);
    for frame in [&plain, &half, &under_half] {
        hand.receive_bytes(link, frame.clone());
    }
    let received = data_events(&hand.events(registration));
    assert_eq!(
        received.iter().map(Bytes::len).collect::<Vec<_>>(),
        [300, 200, 199]
    );
    assert!(shares(&plain, &received[0]), "not copied");
    assert!(shares(&half, &received[1]), "half the frame: not copied");
    assert!(!shares(&under_half, &received[2]), "under half: copied");
}

#[test]
fn a_close_before_the_hello_ends_the_link_without_an_answer() {
    let mut hand = Hand::with_seed(3);
    let (graph, registration) = hand.graph(GraphConfig::new("chat", "bob"), EVENTS);
    let link = hand.accept([0; 32]);
    hand.receive(link, close(wire::CloseReason::Application));
    assert_eq!(hand.sent(link), [], "no Close sent back: not a violation");
    // The link is closing: a Hello after it is ignored.
    hand.receive(link, Kind::Hello(hello("chat", "bob", "alice", &[])));
    assert_eq!(hand.sent(link), []);
    assert_eq!(hand.events(registration), []);
    let list = hand
        .node
        .enum_connections(graph, peergraph_core::ConnectionKinds::DIRECT)
        .unwrap();
    assert!(list.is_empty());
}

#[test]
fn each_way_a_connected_link_ends_is_reported_with_its_own_reason() {
    let cases = [
        (LinkCloseReason::TimedOut, DisconnectReason::TimedOut),
        (LinkCloseReason::Lost, DisconnectReason::LinkLost),
        (LinkCloseReason::Closed, DisconnectReason::LinkLost),
        (
            LinkCloseReason::FrameTooLarge,
            DisconnectReason::ProtocolViolation(ProtocolViolation::FrameTooLarge),
        ),
    ];
    for (reason, expected) in cases {
        let mut hand = Hand::with_seed(4);
        let (_, registration) = hand.graph(GraphConfig::new("chat", "bob"), EVENTS);
        let link = hand.inbound_connection("chat", "bob");
        hand.events(registration);
        let now = hand.now;
        hand.node.handle_link_closed(now, link, reason);
        let events = hand.events(registration);
        assert!(
            matches!(
                &events[..],
                [GraphEvent::DirectConnection(change)]
                    if change.status == ConnectionStatus::Disconnected(expected)
            ),
            "{reason:?}: {events:?}"
        );
    }
}

/// Handshake and control frames are written whole into one buffer, which `into_bytes` hands over
/// as it is.
#[test]
fn a_frame_without_a_body_comes_out_of_into_bytes_without_a_copy() {
    let mut hand = Hand::with_seed(5);
    hand.graph(GraphConfig::new("chat", "bob"), EVENTS);
    let accepted = hand.accept([0; 32]);
    hand.receive(accepted, Kind::Hello(hello("chat", "bob", "alice", &[])));
    let refused = hand.accept([0; 32]);
    hand.receive(refused, Kind::Hello(hello("chat", "nobody", "alice", &[])));
    let violated = hand.accept([0; 32]);
    hand.receive_bytes(violated, Bytes::from_static(&[0xff, 0xff]));
    for link in [accepted, refused, violated] {
        let transmit = hand.node.poll_transmit(link).unwrap();
        assert!(transmit.body().is_empty());
        let head = transmit.head().as_ptr();
        assert_eq!(transmit.into_bytes().as_ptr(), head, "{link:?}");
    }
}

/// A Hello padded (with an unknown field, which receivers ignore) to exactly `len` bytes.
fn padded_hello(len: usize) -> Bytes {
    padded(encode(Kind::Hello(hello("chat", "bob", "carol", &[]))), len)
}

#[test]
fn before_its_handshake_a_link_takes_only_small_frames() {
    let mut config = NodeConfig::with_seed(4);
    config.limits.max_handshake_frame_len = 1000;
    let mut hand = Hand::new(config);
    let (_, registration) = hand.graph(GraphConfig::new("chat", "bob"), EVENTS);

    let link = hand.accept([0; 32]);
    assert_eq!(hand.node.max_frame_len(link), 1000);
    hand.receive_bytes(link, padded_hello(1001));
    assert_eq!(
        hand.sent(link),
        [close(wire::CloseReason::ProtocolViolation)],
        "a Hello one byte over the handshake limit ends the link"
    );
    assert!(hand.events(registration).is_empty(), "and reaches nothing");

    let link = hand.accept([0; 32]);
    hand.receive_bytes(link, padded_hello(1000));
    assert!(matches!(hand.sent(link)[..], [Kind::Accept(_)]));
    assert_eq!(
        hand.node.max_frame_len(link),
        1000,
        "until the Confirm, the handshake limit"
    );
    hand.receive(link, by_hand::confirm(&[]));
    assert_eq!(
        hand.node.max_frame_len(link),
        hand.node.config().limits.max_frame_len(),
        "once connected, the full limit"
    );
    hand.receive_bytes(link, padded_data_frame(b"large", 5000));
    assert_eq!(
        data_events(&hand.events(registration)),
        [&b"large"[..]],
        "a large frame after the handshake is taken"
    );
}

#[test]
fn a_link_whose_hello_does_not_come_is_dropped_at_the_hello_deadline() {
    let mut config = NodeConfig::with_seed(5);
    config.timeouts.hello = std::time::Duration::from_secs(2);
    config.timeouts.handshake = std::time::Duration::from_secs(10);
    let mut hand = Hand::new(config);
    hand.graph(GraphConfig::new("chat", "bob"), EVENTS);
    let link = hand.accept([0; 32]);
    hand.now += std::time::Duration::from_millis(1999);
    assert!(!by_hand::outputs_closing(&mut hand, link));
    hand.now += std::time::Duration::from_millis(1);
    assert!(
        by_hand::outputs_closing(&mut hand, link),
        "dropped at 2 s, not at the 10 s handshake timeout"
    );
}

#[test]
fn one_source_holds_only_its_share_of_the_pending_handshakes() {
    let mut config = NodeConfig::with_seed(6);
    config.limits.max_pending_handshakes = 4;
    config.limits.max_pending_handshakes_per_source = 2;
    let mut hand = Hand::new(config);
    hand.graph(GraphConfig::new("chat", "bob"), EVENTS);
    let from = |ip: [u8; 4]| peergraph_core::LinkUp {
        remote_identity: by_hand::REMOTE,
        remote_addr: (ip, 4000).into(),
        exporter: [0; 32],
    };
    let now = hand.now;
    let accept = |hand: &mut Hand, ip: [u8; 4]| {
        let link = hand.node.accept_link(now, from(ip));
        let refused = matches!(hand.sent(link)[..], [Kind::Refuse(_)]);
        (link, refused)
    };
    let (first, refused) = accept(&mut hand, [192, 0, 2, 1]);
    assert!(!refused);
    assert!(!accept(&mut hand, [192, 0, 2, 1]).1);
    assert!(
        accept(&mut hand, [192, 0, 2, 1]).1,
        "a third from one source"
    );
    assert!(
        !accept(&mut hand, [192, 0, 2, 2]).1,
        "another source has room"
    );
    // One of the first source's handshakes completes: its place is free again, and only it.
    hand.receive(first, Kind::Hello(hello("chat", "bob", "carol", &[])));
    assert!(matches!(hand.sent(first)[..], [Kind::Accept(_)]));
    assert!(
        accept(&mut hand, [192, 0, 2, 1]).1,
        "until its Confirm, it is still a handshake"
    );
    hand.receive(first, by_hand::confirm(&[]));
    assert!(!accept(&mut hand, [192, 0, 2, 1]).1);
    assert!(
        accept(&mut hand, [192, 0, 2, 1]).1,
        "the source's other handshake still counts"
    );
}

/// A `DataBatch` of `payloads`, padded as [`padded`] pads, to `len` bytes if given.
fn batch_frame(payloads: &[&[u8]], len: Option<usize>) -> Bytes {
    let batch = wire::DataBatch {
        type_id: Bytes::from_static(&[5; 16]),
        payloads: payloads.iter().map(|p| Bytes::copy_from_slice(p)).collect(),
    };
    let frame = encode(Kind::DataBatch(batch));
    match len {
        Some(len) => padded(frame, len),
        None => frame,
    }
}

#[test]
fn a_batchs_payloads_share_its_frame_unless_together_they_are_under_half_of_it() {
    let mut hand = Hand::with_seed(2);
    let (_, registration) = hand.graph(GraphConfig::new("chat", "bob"), EVENTS);
    let link = hand.inbound_connection("chat", "bob");
    hand.events(registration);

    let plain = batch_frame(&[&[1; 150], &[2; 150]], None);
    // Padded: the payloads are exactly half the frame together, then just under half.
    let half = batch_frame(&[&[3; 100], &[4; 100]], Some(400));
    let under_half = batch_frame(&[&[5; 100], &[6; 99]], Some(400));
    for frame in [&plain, &half, &under_half] {
        hand.receive_bytes(link, frame.clone());
    }
    let received = data_events(&hand.events(registration));
    assert_eq!(
        received.iter().map(Bytes::len).collect::<Vec<_>>(),
        [150, 150, 100, 100, 100, 99]
    );
    assert!(
        received[..2].iter().all(|data| shares(&plain, data)),
        "not copied"
    );
    assert!(
        received[2..4].iter().all(|data| shares(&half, data)),
        "half: not copied"
    );
    assert!(
        received[4..].iter().all(|data| !shares(&under_half, data)),
        "under half: copied"
    );
}

#[test]
fn a_batch_of_exactly_the_announced_length_and_the_largest_message_is_taken() {
    let mut config = NodeConfig::with_seed(1);
    config.limits.max_message_size = 1000;
    let at_limit = batch_frame(&[&[7; 1000], &[8; 10]], None);
    config.limits.batch_frame_len = at_limit.len();
    let mut hand = Hand::new(config);
    let (_, registration) = hand.graph(GraphConfig::new("chat", "bob"), EVENTS);
    let link = hand.inbound_connection("chat", "bob");
    hand.events(registration);

    hand.receive_bytes(link, at_limit);
    assert_eq!(
        data_events(&hand.events(registration))
            .iter()
            .map(Bytes::len)
            .collect::<Vec<_>>(),
        [1000, 10]
    );
    assert_eq!(hand.sent(link), [], "no violation");
}

//! Configured limits, backpressure, and peers that break the protocol.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{GRAPH, TYPE_A, World, peer};
use peergraph_core::{
    ConnectionStatus, DisconnectReason, FailReason, GraphConfig, GraphEvent, LinkCloseReason,
    LinkUp, NodeConfig, OpenError, Output, PeerIdentity, ProtocolViolation, SendError,
};
use peergraph_proto::v1 as wire;
use peergraph_sim::{Cluster, NetConfig};
use prost::Message;

fn world_with(count: usize, configure: impl Fn(&mut NodeConfig)) -> World {
    let cluster = Cluster::new(count, NetConfig::default(), |index| {
        let mut config = NodeConfig::with_seed(index as u64 + 1);
        configure(&mut config);
        config
    });
    World::from_cluster(cluster, |_| GraphConfig::new(GRAPH, ""))
}

#[test]
fn beyond_max_direct_connections_the_target_refuses() {
    let mut world = world_with(3, |config| {
        config.limits.max_direct_connections_per_graph = 1
    });
    world.connect(0, 1);
    let refused = world.open(2, 1);
    world.cluster.settle().unwrap();
    assert_eq!(
        world.changes_for(2, refused),
        [ConnectionStatus::Failed(FailReason::Refused)]
    );
    let now = world.cluster.now();
    let (graph, address) = (world.graphs[0], world.cluster.address(2));
    assert_eq!(
        world
            .cluster
            .node(0)
            .open_direct_connection(now, graph, &peer(2), address),
        Err(OpenError::ConnectionLimit),
        "the initiator's own limit is checked synchronously"
    );
}

#[test]
fn beyond_max_pending_handshakes_opens_fail_synchronously_and_accepts_are_refused() {
    let mut world = world_with(2, |config| config.limits.max_pending_handshakes = 2);
    world.open(0, 1);
    world.open(0, 1);
    let now = world.cluster.now();
    let (graph, address) = (world.graphs[0], world.cluster.address(1));
    assert_eq!(
        world
            .cluster
            .node(0)
            .open_direct_connection(now, graph, &peer(1), address),
        Err(OpenError::TooManyPendingHandshakes)
    );
    world.cluster.settle().unwrap();
    assert_eq!(
        world.connected_ids(0).len(),
        2,
        "pending slots free up as handshakes finish"
    );

    let up = LinkUp {
        remote_identity: PeerIdentity::from_spki_sha256([9; 32]),
        remote_addr: ([127, 0, 0, 99], 1).into(),
        exporter: [0; 32],
    };
    let node = world.cluster.node(1);
    let _ = node.accept_link(now, up);
    let _ = node.accept_link(now, up);
    let third = node.accept_link(now, up);
    let closed = common::outputs(node, now);
    assert_eq!(
        closed,
        [
            Output::Close { link: third },
            Output::Transmit { link: third }
        ]
    );
    let answer = wire::Frame::decode(node.poll_transmit(third).unwrap().into_bytes()).unwrap();
    let refused = wire::Refuse {
        reason: wire::RefuseReason::Refused.into(),
    };
    assert_eq!(
        answer.kind,
        Some(wire::frame::Kind::Refuse(refused)),
        "told, not just dropped"
    );
}

#[test]
fn a_send_that_cannot_be_queued_is_queue_full_and_nothing_is_lost() {
    let mut world = world_with(2, |config| {
        config.limits.max_queued_bytes_per_connection = 1000
    });
    let (id, _) = world.connect(0, 1);
    let (now, graph) = (world.cluster.now(), world.graphs[0]);
    let node = world.cluster.node(0);
    node.send_data(now, graph, id, TYPE_A, Bytes::from(vec![1; 600]))
        .expect("fits the empty queue");
    let second = node.send_data(now, graph, id, TYPE_A, Bytes::from(vec![2; 600]));
    assert!(
        matches!(second, Err(SendError::QueueFull { limit: 1000, .. })),
        "{second:?}"
    );
    // An oversized single message still fits an empty queue once the link drains.
    world.cluster.flush();
    let node = world.cluster.node(0);
    assert_eq!(node.queued_bytes(graph, id), Some(0));
    node.send_data(now, graph, id, TYPE_A, Bytes::from(vec![3; 1500]))
        .expect("empty queue");
    world.cluster.settle().unwrap();
    let sizes: Vec<usize> = world.incoming(1).iter().map(|d| d.data.len()).collect();
    assert_eq!(
        sizes,
        [600, 1500],
        "every accepted message arrived; the refused one was never queued"
    );
}

/// Connects 0 -> 1 and returns node 1's link for the connection.
fn connected_target_link(
    world: &mut World,
) -> (peergraph_core::ConnectionId, peergraph_core::LinkId) {
    let (_, remote) = world.connect(0, 1);
    (remote, world.cluster.links(1)[0])
}

fn assert_violation(
    world: &World,
    remote: peergraph_core::ConnectionId,
    expected: ProtocolViolation,
) {
    assert_eq!(
        world.changes_for(1, remote).last(),
        Some(&ConnectionStatus::Disconnected(
            DisconnectReason::ProtocolViolation(expected)
        ))
    );
}

#[test]
fn a_malformed_frame_closes_the_connection_with_a_named_violation() {
    let mut world = World::new(2);
    let (remote, link) = connected_target_link(&mut world);
    let now = world.cluster.now();
    world
        .cluster
        .node(1)
        .handle_frame(now, link, Bytes::from_static(&[0xff, 0xff, 0xff]));
    world.cluster.settle().unwrap();
    assert_violation(&world, remote, ProtocolViolation::MalformedFrame);
    assert_eq!(
        world.connection_changes(0).last().map(|c| c.status.clone()),
        Some(ConnectionStatus::Disconnected(
            DisconnectReason::PeerReportedViolation
        )),
        "the offender is told why"
    );
}

#[test]
fn a_frame_with_no_kind_is_malformed() {
    let mut world = World::new(2);
    let (remote, link) = connected_target_link(&mut world);
    let now = world.cluster.now();
    let empty = wire::Frame { kind: None }.encode_to_vec();
    world
        .cluster
        .node(1)
        .handle_frame(now, link, Bytes::from(empty));
    world.cluster.settle().unwrap();
    assert_violation(&world, remote, ProtocolViolation::MalformedFrame);
}

#[test]
fn a_message_wrong_for_the_state_is_unexpected() {
    let mut world = World::new(2);
    let (remote, link) = connected_target_link(&mut world);
    let now = world.cluster.now();
    let accept = wire::Frame {
        kind: Some(wire::frame::Kind::Accept(wire::Accept {
            node_id: 1,
            pake_share: Bytes::new(),
            batch_limit: 0,
            confirmation: Bytes::new(),
            peer_id: String::new(),
        })),
    };
    world
        .cluster
        .node(1)
        .handle_frame(now, link, Bytes::from(accept.encode_to_vec()));
    world.cluster.settle().unwrap();
    assert_violation(&world, remote, ProtocolViolation::UnexpectedMessage);
}

#[test]
fn a_data_frame_with_a_short_type_id_is_invalid() {
    let mut world = World::new(2);
    let (remote, link) = connected_target_link(&mut world);
    let now = world.cluster.now();
    let data = wire::Frame {
        kind: Some(wire::frame::Kind::Data(wire::Data {
            type_id: Bytes::from_static(b"short"),
            payload: Bytes::new(),
        })),
    };
    world
        .cluster
        .node(1)
        .handle_frame(now, link, Bytes::from(data.encode_to_vec()));
    world.cluster.settle().unwrap();
    assert_violation(&world, remote, ProtocolViolation::InvalidTypeId);
}

#[test]
fn an_oversized_frame_is_a_named_violation() {
    let mut world = world_with(2, |config| config.limits.max_message_size = 100);
    let (remote, link) = connected_target_link(&mut world);
    let now = world.cluster.now();
    let max_frame = world.cluster.node(1).config().limits.max_frame_len();
    world
        .cluster
        .node(1)
        .handle_frame(now, link, Bytes::from(vec![0u8; max_frame + 1]));
    world.cluster.settle().unwrap();
    assert_violation(&world, remote, ProtocolViolation::FrameTooLarge);
}

#[test]
fn a_transport_reporting_an_oversized_frame_ends_the_connection_as_a_violation() {
    let mut world = World::new(2);
    let (remote, link) = connected_target_link(&mut world);
    let now = world.cluster.now();
    world
        .cluster
        .node(1)
        .handle_link_closed(now, link, LinkCloseReason::FrameTooLarge);
    world.cluster.settle().unwrap();
    assert_violation(&world, remote, ProtocolViolation::FrameTooLarge);
}

#[test]
fn a_hello_with_an_unknown_version_is_refused_as_unsupported() {
    let mut world = World::new(2);
    let up = LinkUp {
        remote_identity: PeerIdentity::from_spki_sha256([1; 32]),
        remote_addr: ([127, 0, 0, 50], 1).into(),
        exporter: [0; 32],
    };
    let now = world.cluster.now();
    let node = world.cluster.node(1);
    let link = node.accept_link(now, up);
    let hello = wire::Frame {
        kind: Some(wire::frame::Kind::Hello(wire::Hello {
            version: 3,
            graph_id: GRAPH.into(),
            target_peer_id: peer(1),
            source_peer_id: "intruder".into(),
            source_node_id: 5,
            pake_share: Bytes::new(),
            batch_limit: 0,
            neighbor: false,
        })),
    };
    node.handle_frame(now, link, Bytes::from(hello.encode_to_vec()));
    let outputs = common::outputs(node, now);
    assert!(outputs.contains(&Output::Transmit { link }), "{outputs:?}");
    let answer = wire::Frame::decode(node.poll_transmit(link).unwrap().into_bytes()).unwrap();
    let refused = wire::Refuse {
        reason: wire::RefuseReason::UnsupportedVersion.into(),
    };
    assert_eq!(answer.kind, Some(wire::frame::Kind::Refuse(refused)));
    world.cluster.settle().unwrap();
    assert!(
        world.events(1).is_empty(),
        "the application saw nothing: {:?}",
        world.events(1)
    );
}

#[test]
fn an_idle_connection_times_out_when_the_peer_goes_silent() {
    let mut world = World::new(2);
    let (id, remote) = world.connect(0, 1);
    world.cluster.partition(0, 1);
    world.cluster.run_for(Duration::from_secs(31)).unwrap();
    assert_eq!(
        world.changes_for(0, id).last(),
        Some(&ConnectionStatus::Disconnected(DisconnectReason::TimedOut))
    );
    assert_eq!(
        world.changes_for(1, remote).last(),
        Some(&ConnectionStatus::Disconnected(DisconnectReason::TimedOut))
    );
}

#[test]
fn keepalives_hold_an_idle_but_healthy_connection_open() {
    let mut world = World::new(2);
    let (id, _) = world.connect(0, 1);
    world.cluster.run_for(Duration::from_secs(300)).unwrap();
    assert_eq!(
        world.changes_for(0, id).len(),
        1,
        "still only Connected after 5 idle minutes"
    );
}

#[test]
fn a_close_from_the_target_before_it_accepts_fails_the_attempt_as_refused() {
    let mut world = World::new(2);
    let id = world.open(0, 1);
    world.cluster.run_until(|c| !c.links(1).is_empty()).unwrap();
    assert!(
        world.cluster.step(),
        "the link-up reaches the initiator, which sends its Hello"
    );
    world.cluster.partition(0, 1); // hold the target's real answer back
    let link = world.cluster.links(0)[0];
    let now = world.cluster.now();
    let close = wire::Frame {
        kind: Some(wire::frame::Kind::Close(wire::Close {
            reason: wire::CloseReason::ProtocolViolation.into(),
        })),
    };
    world
        .cluster
        .node(0)
        .handle_frame(now, link, Bytes::from(close.encode_to_vec()));
    world.cluster.flush();
    assert_eq!(
        world.changes_for(0, id),
        [ConnectionStatus::Failed(FailReason::Refused)]
    );
}

#[test]
fn a_graph_whose_connection_events_are_not_read_takes_no_new_connection() {
    let mut world = world_with(3, |config| {
        config.limits.max_queued_events_per_registration = 2
    });
    world.connect(0, 1);
    world.cluster.nodes[1].drain_events = false;
    // Node 1's application stops reading: two more connections fill its queue (limit 2).
    let first = world.open(2, 1);
    world.cluster.settle().unwrap();
    let second = world.open(2, 1);
    world.cluster.settle().unwrap();
    let third = world.open(2, 1);
    world.cluster.settle().unwrap();
    for id in [first, second] {
        assert!(matches!(
            world.changes_for(2, id)[..],
            [ConnectionStatus::Connected(_)]
        ));
    }
    assert_eq!(
        world.changes_for(2, third),
        [ConnectionStatus::Failed(FailReason::Refused)]
    );
    let now = world.cluster.now();
    let (graph, address) = (world.graphs[1], world.cluster.address(2));
    assert_eq!(
        world
            .cluster
            .node(1)
            .open_direct_connection(now, graph, &peer(2), address),
        Err(OpenError::EventBacklog)
    );
    // Connection events themselves are never dropped: closing still reaches the full queue.
    world
        .cluster
        .node(2)
        .close_direct_connection(world.graphs[2], first)
        .unwrap();
    world.cluster.settle().unwrap();
    let registration = world.registrations[1];
    let mut taken = Vec::new();
    while let Some(event) = world.cluster.node(1).take_event(registration).unwrap() {
        taken.push(event);
    }
    let ends = taken.iter().filter(|event| event.is_terminal()).count();
    assert_eq!(
        ends, 1,
        "the close arrived although the queue was over its limit: {taken:?}"
    );
}

#[test]
fn a_small_payload_padded_into_a_large_frame_does_not_pin_the_frame() {
    let mut world = World::new(2);
    let (remote, link) = connected_target_link(&mut world);
    let data = wire::Data {
        type_id: Bytes::from_static(&[5; 16]),
        payload: Bytes::from_static(b"x"),
    };
    let mut frame = wire::Frame {
        kind: Some(wire::frame::Kind::Data(data)),
    }
    .encode_to_vec();
    // An unknown field (number 100) of 64 KiB after the data: valid, and ignored.
    frame.extend_from_slice(&[0xa2, 0x06, 0x80, 0x80, 0x04]);
    frame.resize(frame.len() + 65_536, 0);
    let frame = Bytes::from(frame);
    let range = frame.as_ptr_range();
    let now = world.cluster.now();
    world.cluster.node(1).handle_frame(now, link, frame);
    world.cluster.flush();
    let data = world.incoming(1).pop().expect("delivered");
    assert_eq!((data.connection, data.data.as_ref()), (remote, &b"x"[..]));
    assert!(
        !range.contains(&data.data.as_ptr()),
        "copied out of the 64 KiB frame"
    );
}

#[test]
fn stalled_inbound_handshakes_do_not_block_the_applications_own_opens() {
    let mut world = world_with(2, |config| config.limits.max_pending_handshakes = 2);
    let up = LinkUp {
        remote_identity: PeerIdentity::from_spki_sha256([3; 32]),
        remote_addr: ([127, 0, 0, 77], 1).into(),
        exporter: [0; 32],
    };
    let now = world.cluster.now();
    // Two strangers finish TLS and never send a Hello: the inbound budget is spent.
    let _ = world.cluster.node(1).accept_link(now, up);
    let _ = world.cluster.node(1).accept_link(now, up);
    let id = world.open(1, 0);
    world.cluster.settle().unwrap();
    assert!(matches!(
        world.changes_for(1, id)[..],
        [ConnectionStatus::Connected(_)]
    ));
}

#[test]
fn a_batch_send_queues_what_fits_in_order_and_reports_the_count() {
    let mut world = world_with(2, |config| {
        config.limits.max_queued_bytes_per_connection = 1000;
        config.limits.max_message_size = 700;
    });
    let (id, _) = world.connect(0, 1);
    let (now, graph) = (world.cluster.now(), world.graphs[0]);
    let node = world.cluster.node(0);
    let batch: Vec<Bytes> = (1..=4u8).map(|i| Bytes::from(vec![i; 300])).collect();
    assert_eq!(
        node.send_data_batch(now, graph, id, TYPE_A, &batch),
        Ok(3),
        "the fourth 300-byte message would pass 1000 queued bytes"
    );
    assert!(
        matches!(
            node.send_data_batch(now, graph, id, TYPE_A, &batch[3..]),
            Err(SendError::QueueFull { limit: 1000, .. })
        ),
        "nothing fits: the error send_data would give"
    );
    world.cluster.flush();
    let node = world.cluster.node(0);
    let too_large = [
        Bytes::from(vec![4; 300]),
        Bytes::from(vec![5; 701]),
        Bytes::from(vec![6; 10]),
    ];
    assert_eq!(
        node.send_data_batch(now, graph, id, TYPE_A, &too_large),
        Ok(1),
        "the batch stops before the oversized message"
    );
    assert!(matches!(
        node.send_data_batch(now, graph, id, TYPE_A, &too_large[1..]),
        Err(SendError::MessageTooLarge {
            size: 701,
            max: 700
        })
    ));
    assert_eq!(node.send_data_batch(now, graph, id, TYPE_A, &[]), Ok(0));
    world.cluster.settle().unwrap();
    let firsts: Vec<u8> = world.incoming(1).iter().map(|d| d.data[0]).collect();
    assert_eq!(
        firsts,
        [1, 2, 3, 4],
        "exactly the queued messages, in order"
    );
}

#[test]
fn taking_events_in_batches_gives_the_same_events_as_one_at_a_time() {
    let mut world = World::new(2);
    let (id, _) = world.connect(0, 1);
    world.cluster.nodes[1].drain_events = false;
    for fill in 1u8..=5 {
        world.send(0, id, &[fill; 300]);
    }
    world.cluster.settle().unwrap();
    let registration = world.registrations[1];
    let node = world.cluster.node(1);
    let mut taken = Vec::new();
    assert_eq!(node.take_events(registration, &mut taken, 2), Ok(2));
    assert_eq!(node.take_events(registration, &mut taken, 0), Ok(0));
    assert_eq!(node.take_events(registration, &mut taken, 10), Ok(3));
    assert_eq!(node.take_events(registration, &mut taken, 10), Ok(0));
    let firsts: Vec<u8> = taken
        .iter()
        .map(|event| match event {
            GraphEvent::IncomingData(data) => data.data[0],
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(firsts, [1, 2, 3, 4, 5]);
    assert_eq!(node.take_event(registration), Ok(None));
    world.send(0, id, &[6; 900]);
    world.cluster.settle().unwrap();
    let node = world.cluster.node(1);
    assert_eq!(node.take_events(registration, &mut taken, 10), Ok(1));
    assert!(matches!(&taken[5], GraphEvent::IncomingData(d) if d.data.len() == 900));
}

//! Opening, refusing, sending on, closing and listing direct connections.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use common::{GRAPH, TYPE_A, World, peer};
use peergraph_core::{
    AuthFailure, CloseError, ConnectionKinds, ConnectionState, ConnectionStatus, Direction,
    DisconnectReason, EnumError, EventType, FailReason, GraphConfig, GraphEvent, GraphStatus,
    NodeConfig, OpenError, PeerAddress, SendError,
};
use peergraph_sim::{Cluster, NetConfig};

#[test]
fn opening_a_connection_to_this_node_fails_synchronously_with_connect_self() {
    let mut world = World::new(1);
    let now = world.cluster.now();
    let (graph, address) = (world.graphs[0], world.cluster.address(0));
    assert_eq!(
        world
            .cluster
            .node(0)
            .open_direct_connection(now, graph, &peer(0), address),
        Err(OpenError::ConnectSelf)
    );
}

#[test]
fn open_returns_an_id_at_once_and_later_exactly_one_connected_on_both_sides() {
    let mut world = World::new(2);
    let id = world.open(0, 1);
    assert!(
        world.changes_for(0, id).is_empty(),
        "no outcome before the handshake runs"
    );
    world.cluster.settle().unwrap();
    let outcome = world.changes_for(0, id);
    assert_eq!(outcome.len(), 1);
    let ConnectionStatus::Connected(remote) = &outcome[0] else {
        panic!("{outcome:?}")
    };
    assert_eq!(remote.peer_id, peer(1));
    assert_eq!(remote.direction, Direction::Outbound);
    assert_eq!(remote.identity, world.cluster.nodes[1].identity);
    let target_node = world
        .cluster
        .node(1)
        .node_info(world.graphs[1])
        .unwrap()
        .node_id;
    assert_eq!(remote.node_id, target_node);
    let accepted = world.connected_ids(1);
    assert_eq!(accepted.len(), 1);
    let ConnectionStatus::Connected(initiator) = &world.changes_for(1, accepted[0])[0] else {
        panic!("target saw Connected")
    };
    assert_eq!(
        (initiator.peer_id.as_str(), initiator.direction),
        ("peer0", Direction::Inbound)
    );
}

#[test]
fn a_target_without_a_direct_connection_registration_refuses_and_its_app_sees_nothing() {
    let mut world = World::new(2);
    let registration = world.registrations[1];
    world
        .cluster
        .node(1)
        .unregister_event(registration)
        .unwrap();
    let graph = world.graphs[1];
    let data_only = world
        .cluster
        .node(1)
        .register_event(graph, &[EventType::IncomingData])
        .unwrap();
    let id = world.open(0, 1);
    world.cluster.settle().unwrap();
    assert_eq!(
        world.changes_for(0, id),
        [ConnectionStatus::Failed(FailReason::Refused)]
    );
    assert!(
        world.cluster.nodes[1]
            .events
            .iter()
            .all(|(r, _)| *r != data_only)
    );
    let list = world
        .cluster
        .node(1)
        .enum_connections(graph, ConnectionKinds::DIRECT)
        .unwrap();
    assert!(list.is_empty());
}

#[test]
fn a_target_without_that_graph_or_peer_id_refuses() {
    let mut world = World::new(2);
    let now = world.cluster.now();
    let (graph, address) = (world.graphs[0], world.cluster.address(1));
    let id = world
        .cluster
        .node(0)
        .open_direct_connection(now, graph, "nobody", address)
        .unwrap();
    world.cluster.settle().unwrap();
    assert_eq!(
        world.changes_for(0, id),
        [ConnectionStatus::Failed(FailReason::Refused)]
    );
}

#[test]
fn an_unreachable_address_fails_with_unreachable() {
    let mut world = World::new(1);
    let now = world.cluster.now();
    let graph = world.graphs[0];
    let nowhere = PeerAddress::new(([127, 9, 9, 9], 1).into());
    let id = world
        .cluster
        .node(0)
        .open_direct_connection(now, graph, "x", nowhere)
        .unwrap();
    world.cluster.settle().unwrap();
    assert_eq!(
        world.changes_for(0, id),
        [ConnectionStatus::Failed(FailReason::Unreachable)]
    );
}

#[test]
fn a_pinned_identity_that_does_not_match_fails_not_authenticated() {
    let mut world = World::new(3);
    let now = world.cluster.now();
    let graph = world.graphs[0];
    let mut wrong = world.cluster.pinned_address(2);
    wrong.socket = world.cluster.nodes[1].addr;
    let id = world
        .cluster
        .node(0)
        .open_direct_connection(now, graph, &peer(1), wrong)
        .unwrap();
    let right = world.cluster.pinned_address(1);
    let ok = world
        .cluster
        .node(0)
        .open_direct_connection(now, graph, &peer(1), right)
        .unwrap();
    world.cluster.settle().unwrap();
    assert_eq!(
        world.changes_for(0, id),
        [ConnectionStatus::Failed(FailReason::NotAuthenticated(
            AuthFailure::IdentityMismatch
        ))]
    );
    assert!(matches!(
        world.changes_for(0, ok)[..],
        [ConnectionStatus::Connected(_)]
    ));
}

#[test]
fn a_handshake_that_does_not_finish_in_time_fails_timed_out() {
    let mut world = World::new(2);
    world.cluster.partition(0, 1);
    let id = world.open(0, 1);
    world.cluster.run_for(Duration::from_secs(11)).unwrap();
    assert_eq!(
        world.changes_for(0, id),
        [ConnectionStatus::Failed(FailReason::TimedOut)]
    );
    world.cluster.heal(0, 1);
    world.cluster.settle().unwrap();
    assert_eq!(
        world.changes_for(0, id).len(),
        1,
        "a late answer changes nothing"
    );
    assert!(
        world.connected_ids(1).is_empty(),
        "the target never admitted the abandoned dial"
    );
}

#[test]
fn the_next_timeout_is_always_the_earliest_live_deadline() {
    // The graph's own deadlines (maintenance, presence) far away, so the links' are the next.
    let cluster = Cluster::new(2, NetConfig::default(), |index| {
        let mut config = NodeConfig::with_seed(index as u64 + 1);
        config.timeouts.maintenance = Duration::from_secs(3600);
        config.timeouts.presence_lifetime = Duration::from_secs(7200);
        config
    });
    let mut world = World::from_cluster(cluster, |_| GraphConfig::new(GRAPH, ""));
    world.cluster.partition(0, 1);
    let handshake = world.cluster.node(0).config().timeouts.handshake;
    let second = Duration::from_secs(1);
    // Four attempts a second apart, none of which can finish.
    let start = world.cluster.now();
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(world.open(0, 1));
        world.cluster.run_for(second).unwrap();
    }
    let deadline = |attempt: u32| Some(start + attempt * second + handshake);
    assert_eq!(world.cluster.node(0).poll_timeout(), deadline(0));
    world.close(0, ids[0]);
    assert_eq!(
        world.cluster.node(0).poll_timeout(),
        deadline(1),
        "a closed attempt's deadline no longer wakes the node"
    );
    // The third attempt closes while its deadline is not the next one; then the second times
    // out, and the third's stale deadline must not become the next timeout.
    world.close(0, ids[2]);
    let now = world.cluster.now();
    world
        .cluster
        .run_for(start + handshake + second + second / 2 - now)
        .unwrap();
    assert_eq!(
        world.changes_for(0, ids[1]),
        [ConnectionStatus::Failed(FailReason::TimedOut)]
    );
    assert_eq!(world.cluster.node(0).poll_timeout(), deadline(3));
}

#[test]
fn a_link_that_drops_mid_handshake_fails_the_attempt() {
    let mut world = World::new(2);
    let id = world.open(0, 1);
    // Let the dial arrive and the target accept, but not the Hello's answer.
    world.cluster.run_until(|c| !c.links(1).is_empty()).unwrap();
    let target_link = world.cluster.links(1)[0];
    let now = world.cluster.now();
    world.cluster.node(1).handle_link_closed(
        now,
        target_link,
        peergraph_core::LinkCloseReason::Lost,
    );
    let dialer_link = world.cluster.links(0)[0];
    world.cluster.node(0).handle_link_closed(
        now,
        dialer_link,
        peergraph_core::LinkCloseReason::Lost,
    );
    world.cluster.settle().unwrap();
    assert_eq!(
        world.changes_for(0, id),
        [ConnectionStatus::Failed(FailReason::LinkLost)]
    );
    assert!(world.connected_ids(1).is_empty());
}

#[test]
fn send_data_on_an_unknown_or_closed_id_is_connection_not_found() {
    let mut world = World::new(2);
    let (id, _) = world.connect(0, 1);
    let (now, graph) = (world.cluster.now(), world.graphs[0]);
    let node = world.cluster.node(0);
    node.close_direct_connection(graph, id).unwrap();
    let sent = node.send_data(now, graph, id, TYPE_A, Bytes::from_static(b"x"));
    assert_eq!(sent, Err(SendError::ConnectionNotFound));
    assert_eq!(
        node.close_direct_connection(graph, id),
        Err(CloseError::ConnectionNotFound)
    );
}

#[test]
fn send_data_on_a_pending_connection_is_connection_not_found() {
    let mut world = World::new(2);
    let id = world.open(0, 1);
    let (now, graph) = (world.cluster.now(), world.graphs[0]);
    let sent = world
        .cluster
        .node(0)
        .send_data(now, graph, id, TYPE_A, Bytes::new());
    assert_eq!(sent, Err(SendError::ConnectionNotFound));
}

#[test]
fn send_data_over_the_maximum_message_size_is_message_too_large() {
    let mut world = World::new(2);
    let (id, _) = world.connect(0, 1);
    let (now, graph) = (world.cluster.now(), world.graphs[0]);
    let max = world.cluster.node(0).config().limits.max_message_size;
    let big = Bytes::from(vec![0u8; max + 1]);
    let sent = world.cluster.node(0).send_data(now, graph, id, TYPE_A, big);
    assert_eq!(sent, Err(SendError::MessageTooLarge { size: max + 1, max }));
    let exact = Bytes::from(vec![7u8; max]);
    world
        .cluster
        .node(0)
        .send_data(now, graph, id, TYPE_A, exact)
        .expect("the maximum fits");
    world.cluster.settle().unwrap();
    assert_eq!(world.incoming(1)[0].data.len(), max);
}

#[test]
fn data_arrives_in_order_with_its_type_and_the_receivers_own_id() {
    let jittery = NetConfig {
        max_delay: Duration::from_millis(20),
        ..NetConfig::default()
    };
    let cluster = Cluster::new(2, jittery, |i| NodeConfig::with_seed(i as u64));
    let mut world = World::from_cluster(cluster, |_| GraphConfig::new(GRAPH, ""));
    let (id, remote) = world.connect(0, 1);
    let messages: Vec<Vec<u8>> = (0..200u32)
        .map(|i| i.to_le_bytes().repeat(i as usize % 7))
        .collect();
    for message in &messages {
        world.send(0, id, message);
    }
    world.cluster.settle().unwrap();
    let received = world.incoming(1);
    assert_eq!(received.len(), messages.len());
    for (data, message) in received.iter().zip(&messages) {
        assert_eq!(
            (data.connection, data.type_id, data.data.as_ref()),
            (remote, TYPE_A, &message[..])
        );
    }
}

#[test]
fn a_receiver_not_registered_for_incoming_data_gets_no_data_event() {
    let mut world = World::new(2);
    let graph = world.graphs[1];
    let registration = world.registrations[1];
    world
        .cluster
        .node(1)
        .unregister_event(registration)
        .unwrap();
    world
        .cluster
        .node(1)
        .register_event(graph, &[EventType::DirectConnection])
        .unwrap();
    let (id, _) = world.connect(0, 1);
    world.send(0, id, b"dropped");
    world.cluster.settle().unwrap();
    assert!(world.incoming(1).is_empty());
    let info = world
        .cluster
        .node(1)
        .enum_connections(graph, ConnectionKinds::DIRECT)
        .unwrap();
    assert_eq!(
        info[0].messages_received, 1,
        "it did arrive; no registration wanted it"
    );
}

#[test]
fn close_gives_each_side_exactly_one_disconnected_after_the_data_sent_before_it() {
    let mut world = World::new(2);
    let (id, remote) = world.connect(0, 1);
    world.send(0, id, b"last words");
    world.close(0, id);
    world.cluster.settle().unwrap();
    assert_eq!(
        world.changes_for(0, id)[1..],
        [ConnectionStatus::Disconnected(
            DisconnectReason::ClosedLocally
        )]
    );
    assert_eq!(
        world.changes_for(1, remote)[1..],
        [ConnectionStatus::Disconnected(
            DisconnectReason::ClosedByPeer
        )]
    );
    assert_eq!(world.incoming(1).len(), 1);
    world.cluster.run_for(Duration::from_secs(60)).unwrap();
    assert_eq!(world.changes_for(0, id).len(), 2);
    assert_eq!(world.changes_for(1, remote).len(), 2);
}

#[test]
fn closing_a_pending_connection_fails_it_as_cancelled() {
    let mut world = World::new(2);
    let id = world.open(0, 1);
    world.close(0, id);
    world.cluster.settle().unwrap();
    assert_eq!(
        world.changes_for(0, id),
        [ConnectionStatus::Failed(FailReason::Cancelled)]
    );
}

#[test]
fn closing_a_graph_disconnects_all_its_connections_on_both_ends() {
    let mut world = World::new(3);
    world.connect(0, 1);
    world.connect(1, 2);
    world.connect(2, 1);
    let graph = world.graphs[1];
    world.cluster.node(1).close_graph(graph).unwrap();
    world.cluster.settle().unwrap();
    let zero = world.connection_changes(0);
    assert!(matches!(
        zero.last().unwrap().status,
        ConnectionStatus::Disconnected(DisconnectReason::PeerGraphClosed)
    ));
    let two = world.connection_changes(2);
    let ended: Vec<_> = two
        .iter()
        .filter(|c| {
            matches!(
                c.status,
                ConnectionStatus::Disconnected(DisconnectReason::PeerGraphClosed)
            )
        })
        .collect();
    assert_eq!(
        ended.len(),
        2,
        "both connections of node 2 to the closed graph ended: {two:?}"
    );
}

#[test]
fn enum_connections_lists_both_ends_with_ids_peers_addresses_and_counters() {
    let mut world = World::new(2);
    let (id, remote) = world.connect(0, 1);
    world.send(0, id, b"12345");
    world.cluster.settle().unwrap();
    let mine = world
        .cluster
        .node(0)
        .enum_connections(world.graphs[0], ConnectionKinds::DIRECT)
        .unwrap();
    let theirs = world
        .cluster
        .node(1)
        .enum_connections(world.graphs[1], ConnectionKinds::ALL)
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(theirs.len(), 1);
    let (a, b) = (&mine[0], &theirs[0]);
    assert_eq!(
        (a.id, a.peer_id.as_str(), a.direction, a.state),
        (id, "peer1", Direction::Outbound, ConnectionState::Connected)
    );
    assert_eq!(
        (b.id, b.peer_id.as_str(), b.direction),
        (remote, "peer0", Direction::Inbound)
    );
    assert_eq!(a.address, Some(world.cluster.nodes[1].addr));
    assert_eq!(b.address, Some(world.cluster.nodes[0].addr));
    assert_eq!(
        a.node_id,
        Some(
            world
                .cluster
                .node(1)
                .node_info(world.graphs[1])
                .unwrap()
                .node_id
        )
    );
    assert_eq!((a.messages_sent, b.messages_received), (1, 1));
    assert_eq!(a.bytes_sent, b.bytes_received);
    assert!(a.bytes_sent > 5);
    let neighbors = world
        .cluster
        .node(0)
        .enum_connections(world.graphs[0], ConnectionKinds::NEIGHBOR)
        .unwrap();
    assert!(
        neighbors.is_empty(),
        "a neighbor list never holds direct connections"
    );
    assert!(matches!(
        world
            .cluster
            .node(0)
            .enum_connections(world.graphs[0], ConnectionKinds::from_bits(0).unwrap()),
        Err(EnumError::InvalidArgument { .. })
    ));
    assert_eq!(ConnectionKinds::from_bits(0x4), None);
}

#[test]
fn has_connections_status_follows_the_first_and_last_connection() {
    let mut world = World::new(2);
    let (id, _) = world.connect(0, 1);
    world
        .cluster
        .node(0)
        .close_direct_connection(world.graphs[0], id)
        .unwrap();
    world.cluster.settle().unwrap();
    let flags: Vec<bool> = world
        .events(0)
        .into_iter()
        .filter_map(|e| match e {
            GraphEvent::StatusChanged(s) => Some(s.contains(GraphStatus::HAS_CONNECTIONS)),
            _ => None,
        })
        .collect();
    assert_eq!(flags, [true, false]);
}

#[test]
fn ids_are_never_reused_within_a_nodes_life() {
    let mut world = World::new(2);
    let mut seen = HashSet::new();
    for _ in 0..50 {
        let (id, remote) = world.connect(0, 1);
        assert!(seen.insert((0, id)) && seen.insert((1, remote)));
        world
            .cluster
            .node(0)
            .close_direct_connection(world.graphs[0], id)
            .unwrap();
        world.cluster.settle().unwrap();
    }
}

#[test]
fn many_connections_between_the_same_two_nodes_are_independent() {
    let mut world = World::new(2);
    let pairs: Vec<_> = (0..20).map(|_| world.connect(0, 1)).collect();
    for (index, (id, _)) in pairs.iter().enumerate() {
        world.send(0, *id, &[index as u8]);
    }
    world.cluster.settle().unwrap();
    for (index, (_, remote)) in pairs.iter().enumerate() {
        let got: Vec<_> = world
            .incoming(1)
            .into_iter()
            .filter(|d| d.connection == *remote)
            .collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].data.as_ref(), &[index as u8]);
    }
}

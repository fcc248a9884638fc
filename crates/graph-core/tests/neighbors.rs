//! Neighbor connections (`PeerGraphConnect`) between simulated nodes: the graph's own links,
//! authenticated as direct ones are, reported as `NeighborConnection` events, listed under
//! `ConnectionKinds::NEIGHBOR`, carrying data, bounded per graph.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use common::{TYPE_A, World, peer};
use peergraph_core::{
    AuthFailure, CloseError, ConnectError, ConnectionId, ConnectionKind, ConnectionKinds,
    ConnectionState, ConnectionStatus, Direction, DisconnectReason, EventType, FailReason,
    GraphConfig, GraphEvent, GraphStatus, NodeConfig,
};
use peergraph_sim::{Cluster, NetConfig};

/// A world of `count` nodes whose graphs also register for neighbor events.
fn world(count: usize, secret: impl Fn(usize) -> Option<&'static str>) -> World {
    world_with(count, secret, |_| NodeConfig::default())
}

fn world_with(
    count: usize,
    secret: impl Fn(usize) -> Option<&'static str>,
    config: impl FnMut(usize) -> NodeConfig,
) -> World {
    let cluster = Cluster::new(count, NetConfig::default(), config);
    let mut world = World::from_cluster(cluster, |index| {
        let config = GraphConfig::new(common::GRAPH, "");
        match secret(index) {
            Some(secret) => config.with_secret(secret),
            None => config,
        }
    });
    for index in 0..count {
        let graph = world.graphs[index];
        world
            .cluster
            .node(index)
            .register_event(graph, &[EventType::NeighborConnection])
            .unwrap();
    }
    world
}

/// Node `from` connects to node `to` as a neighbor (`peer_id`: the peer expected there).
fn connect(
    world: &mut World,
    from: usize,
    to: usize,
    peer_id: Option<&str>,
) -> Result<ConnectionId, ConnectError> {
    world.neighbor(from, to, peer_id)
}

/// The neighbor events of node `index`.
fn neighbor_changes(world: &World, index: usize) -> Vec<(ConnectionId, ConnectionStatus)> {
    world
        .events(index)
        .into_iter()
        .filter_map(|event| match event {
            GraphEvent::NeighborConnection(change) => Some((change.connection, change.status)),
            _ => None,
        })
        .collect()
}

fn listed(
    world: &mut World,
    index: usize,
    kinds: ConnectionKinds,
) -> Vec<(ConnectionId, ConnectionKind, String)> {
    let graph = world.graphs[index];
    world
        .cluster
        .node(index)
        .enum_connections(graph, kinds)
        .unwrap()
        .into_iter()
        .filter(|info| info.state == ConnectionState::Connected)
        .map(|info| (info.id, info.kind, info.peer_id))
        .collect()
}

#[test]
fn a_neighbor_connection_is_reported_and_listed_on_both_ends_and_carries_data() {
    let mut world = world(2, |_| Some("s3cret"));
    let id = connect(&mut world, 0, 1, None).unwrap();
    world.cluster.settle().unwrap();

    let at_0 = neighbor_changes(&world, 0);
    let [(connection, ConnectionStatus::Connected(remote))] = &at_0[..] else {
        panic!("one Connected at the initiator: {at_0:?}");
    };
    assert_eq!(*connection, id);
    assert_eq!(
        (remote.peer_id.as_str(), remote.direction),
        (peer(1).as_str(), Direction::Outbound),
        "the initiator learns the peer it reached"
    );
    let at_1 = neighbor_changes(&world, 1);
    let [(at_1_id, ConnectionStatus::Connected(remote))] = &at_1[..] else {
        panic!("one Connected at the target: {at_1:?}");
    };
    let at_1_id = *at_1_id;
    assert_eq!(
        (remote.peer_id.as_str(), remote.direction),
        (peer(0).as_str(), Direction::Inbound)
    );
    for index in 0..2 {
        assert!(
            world.connection_changes(index).is_empty(),
            "no DirectConnection event for a neighbor"
        );
        assert!(
            world.events(index).iter().any(|event| matches!(event,
                GraphEvent::StatusChanged(status) if status.contains(GraphStatus::HAS_CONNECTIONS))),
            "a neighbor counts as a connection of the graph"
        );
    }

    assert_eq!(
        listed(&mut world, 0, ConnectionKinds::NEIGHBOR),
        [(id, ConnectionKind::Neighbor, peer(1))]
    );
    assert_eq!(
        listed(&mut world, 1, ConnectionKinds::ALL),
        [(at_1_id, ConnectionKind::Neighbor, peer(0))]
    );
    assert!(listed(&mut world, 0, ConnectionKinds::DIRECT).is_empty());

    // Data both ways on the neighbor ids.
    world.send(0, id, b"to one");
    world.send(1, at_1_id, b"to zero");
    world.cluster.settle().unwrap();
    let incoming = world.incoming(1);
    assert_eq!(incoming.len(), 1);
    assert_eq!(
        (incoming[0].connection, &incoming[0].data[..]),
        (at_1_id, &b"to one"[..])
    );
    assert_eq!(incoming[0].type_id, TYPE_A);
    assert_eq!(&world.incoming(0)[0].data[..], b"to zero");

    // A neighbor is the graph's: the application cannot close it as a direct connection.
    let graph = world.graphs[0];
    assert_eq!(
        world.cluster.node(0).close_direct_connection(graph, id),
        Err(CloseError::ConnectionNotFound)
    );
}

#[test]
fn a_second_connect_to_the_same_address_already_exists_and_self_is_refused() {
    let mut world = world(2, |_| None);
    connect(&mut world, 0, 1, Some(&peer(1))).unwrap();
    assert_eq!(
        connect(&mut world, 0, 1, None),
        Err(ConnectError::AlreadyExists),
        "while pending"
    );
    world.cluster.settle().unwrap();
    assert_eq!(
        connect(&mut world, 0, 1, Some(&peer(1))),
        Err(ConnectError::AlreadyExists),
        "once connected"
    );
    assert_eq!(
        connect(&mut world, 0, 1, Some(&peer(0))),
        Err(ConnectError::ConnectSelf)
    );
    assert!(matches!(
        connect(&mut world, 0, 1, Some("")),
        Err(ConnectError::InvalidArgument { .. })
    ));
}

#[test]
fn a_neighbor_needs_no_registration_but_the_same_secret() {
    let mut world = world(3, |index| Some(if index == 2 { "other" } else { "s3cret" }));
    // Node 1's application registered for nothing that a direct connection would need.
    let registration = world.registrations[1];
    world
        .cluster
        .node(1)
        .unregister_event(registration)
        .unwrap();
    let id = connect(&mut world, 0, 1, None).unwrap();
    let wrong = connect(&mut world, 2, 1, None).unwrap();
    world.cluster.settle().unwrap();
    assert!(
        matches!(&neighbor_changes(&world, 0)[..], [(i, ConnectionStatus::Connected(_))] if *i == id)
    );
    assert_eq!(
        neighbor_changes(&world, 2),
        [(
            wrong,
            ConnectionStatus::Failed(FailReason::NotAuthenticated(AuthFailure::MembershipProof))
        )]
    );
    assert_eq!(listed(&mut world, 1, ConnectionKinds::NEIGHBOR).len(), 1);
}

#[test]
fn neighbors_beyond_the_limit_or_for_another_peer_are_refused() {
    let mut world = world_with(
        4,
        |_| None,
        |index| {
            let mut config = NodeConfig::with_seed(index as u64 + 1);
            config.limits.max_neighbors_per_graph = 1;
            config
        },
    );
    let first = connect(&mut world, 0, 1, None).unwrap();
    world.cluster.settle().unwrap();
    let second = connect(&mut world, 2, 1, None).unwrap();
    let wrong_peer = connect(&mut world, 3, 2, Some("nobody")).unwrap();
    world.cluster.settle().unwrap();
    assert!(
        matches!(&neighbor_changes(&world, 0)[..], [(i, ConnectionStatus::Connected(_))] if *i == first)
    );
    assert_eq!(
        neighbor_changes(&world, 2),
        [(second, ConnectionStatus::Failed(FailReason::Refused))]
    );
    assert_eq!(
        neighbor_changes(&world, 3),
        [(wrong_peer, ConnectionStatus::Failed(FailReason::Refused))]
    );
    // The initiator's own limit holds too.
    assert_eq!(
        connect(&mut world, 0, 2, None),
        Err(ConnectError::NeighborLimit)
    );
}

#[test]
fn closing_a_graph_disconnects_its_neighbors_and_frees_their_places() {
    let mut world = world(2, |_| None);
    let id = connect(&mut world, 0, 1, None).unwrap();
    world.cluster.settle().unwrap();
    let graph = world.graphs[1];
    world.cluster.node(1).close_graph(graph).unwrap();
    world.cluster.settle().unwrap();
    assert_eq!(
        neighbor_changes(&world, 0).last(),
        Some(&(
            id,
            ConnectionStatus::Disconnected(DisconnectReason::PeerGraphClosed)
        ))
    );
    assert!(listed(&mut world, 0, ConnectionKinds::ALL).is_empty());
    // Node 0 may connect to the address again (to whatever graph is there now).
    assert!(connect(&mut world, 0, 1, None).is_ok());
}

#[test]
fn an_ended_neighbor_frees_its_place_and_the_graph_has_connections_until_its_last_ends() {
    let mut world = world_with(
        3,
        |_| None,
        |index| {
            let mut config = NodeConfig::with_seed(index as u64 + 7);
            config.limits.max_neighbors_per_graph = 2;
            config
        },
    );
    connect(&mut world, 0, 1, None).unwrap();
    connect(&mut world, 0, 2, None).unwrap();
    world.cluster.settle().unwrap();
    let has_connections = |world: &World| {
        world
            .events(0)
            .into_iter()
            .filter_map(|event| match event {
                GraphEvent::StatusChanged(status) => {
                    Some(status.contains(GraphStatus::HAS_CONNECTIONS))
                }
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(has_connections(&world), [true], "set once, with the first");
    // One neighbor ends: the graph still has the other.
    let graph = world.graphs[1];
    world.cluster.node(1).close_graph(graph).unwrap();
    world.cluster.settle().unwrap();
    assert_eq!(
        has_connections(&world),
        [true],
        "not cleared while one is left"
    );
    // Its place is free again: a new neighbor fits under the limit of 2.
    assert_eq!(
        listed(&mut world, 0, ConnectionKinds::NEIGHBOR).len(),
        1,
        "one neighbor left"
    );
    assert!(
        world.neighbor(0, 1, None).is_ok(),
        "the ended neighbor's place is free"
    );
    world.cluster.settle().unwrap();
    // The last neighbor ends: the flag clears.
    let graph = world.graphs[2];
    world.cluster.node(2).close_graph(graph).unwrap();
    world.cluster.settle().unwrap();
    assert_eq!(has_connections(&world), [true, false]);
}

#[test]
fn a_neighbor_hello_for_any_peer_needs_the_graph_id() {
    let cluster = Cluster::new(2, NetConfig::default(), |index| {
        NodeConfig::with_seed(index as u64 + 3)
    });
    let mut world = World::from_cluster(cluster, |index| {
        GraphConfig::new(
            if index == 1 {
                "another-graph"
            } else {
                common::GRAPH
            },
            "",
        )
    });
    let graph = world.graphs[0];
    world
        .cluster
        .node(0)
        .register_event(graph, &[EventType::NeighborConnection])
        .unwrap();
    let id = connect(&mut world, 0, 1, None).unwrap();
    world.cluster.settle().unwrap();
    assert_eq!(
        neighbor_changes(&world, 0),
        [(id, ConnectionStatus::Failed(FailReason::Refused))]
    );
}

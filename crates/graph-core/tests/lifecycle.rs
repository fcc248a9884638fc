//! Startup, shutdown and graph handles.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use common::{World, peer};
use peergraph_core::{
    ArgumentProblem, ConnectionKinds, ConnectionStatus, DisconnectReason, EventError, EventType,
    GraphConfig, GraphError, GraphStatus, HandleError, MAX_NAME_CHARS, Node, NodeConfig,
    NotInitialized, OpenError, PEER_GRAPH_VERSION, PeerAddress, RegisterError, StartupError,
};

fn started() -> Node {
    let mut node = Node::new(NodeConfig::with_seed(3));
    node.startup(PEER_GRAPH_VERSION).expect("1.0 is supported");
    node
}

#[test]
fn calls_before_startup_fail_with_not_initialized() {
    let mut node = Node::new(NodeConfig::default());
    assert_eq!(
        node.create_graph(GraphConfig::new("g", "p")),
        Err(GraphError::NotInitialized)
    );
    assert_eq!(node.shutdown(), Err(NotInitialized));
    assert_eq!(node.set_listening(true), Err(NotInitialized));
}

#[test]
fn startup_rejects_versions_other_than_1_0_and_fills_both_version_fields() {
    let mut node = Node::new(NodeConfig::default());
    assert_eq!(
        node.startup(0x0002),
        Err(StartupError::UnsupportedVersion { requested: 2 })
    );
    assert_eq!(
        node.startup(0x0100),
        Err(StartupError::UnsupportedVersion { requested: 0x100 })
    );
    assert!(!node.is_initialized());
    let version = node.startup(PEER_GRAPH_VERSION).expect("1.0 is supported");
    assert_eq!((version.version, version.highest_version), (0x0001, 0x0001));
}

#[test]
fn startup_is_counted_and_one_shutdown_too_many_fails() {
    let mut node = started();
    node.startup(PEER_GRAPH_VERSION).expect("second startup");
    let graph = node
        .create_graph(GraphConfig::new("g", "p"))
        .expect("valid graph");
    node.shutdown().expect("first shutdown");
    assert!(
        node.node_info(graph).is_ok(),
        "graph survives while one startup is outstanding"
    );
    node.shutdown().expect("second shutdown");
    assert_eq!(node.shutdown(), Err(NotInitialized));
}

#[test]
fn last_shutdown_releases_graphs_and_registrations() {
    let mut node = started();
    let graph = node
        .create_graph(GraphConfig::new("g", "p"))
        .expect("valid graph");
    let registration = node
        .register_event(graph, &[EventType::DirectConnection])
        .expect("valid");
    node.shutdown().expect("shutdown");
    node.startup(PEER_GRAPH_VERSION).expect("restart");
    assert_eq!(node.node_info(graph), Err(HandleError::InvalidGraph));
    assert_eq!(
        node.take_event(registration),
        Err(EventError::InvalidRegistration)
    );
    // The released graph id is free again.
    node.create_graph(GraphConfig::new("g", "p"))
        .expect("graph id free after release");
}

#[test]
fn last_shutdown_disconnects_every_connection_and_peers_see_it() {
    let mut world = World::new(2);
    let (_, remote_id) = world.connect(0, 1);
    world.cluster.node(0).shutdown().expect("shutdown");
    world.cluster.settle().expect("settles");
    assert_eq!(
        world.changes_for(1, remote_id).last(),
        Some(&ConnectionStatus::Disconnected(
            DisconnectReason::PeerGraphClosed
        ))
    );
    let list = world
        .cluster
        .node(1)
        .enum_connections(world.graphs[1], ConnectionKinds::DIRECT);
    assert_eq!(list.map(|l| l.len()), Ok(0));
}

#[test]
fn graph_and_peer_ids_are_validated_naming_the_argument() {
    let mut node = started();
    let long = "x".repeat(MAX_NAME_CHARS + 1);
    let cases = [
        (
            GraphConfig::new("", "p"),
            "graph_id",
            ArgumentProblem::Empty,
        ),
        (
            GraphConfig::new(long.as_str(), "p"),
            "graph_id",
            ArgumentProblem::TooLong,
        ),
        (
            GraphConfig::new("g", "a\u{7}b"),
            "peer_id",
            ArgumentProblem::ControlCharacter,
        ),
        (GraphConfig::new("g", ""), "peer_id", ArgumentProblem::Empty),
    ];
    for (config, argument, problem) in cases {
        match node.create_graph(config) {
            Err(GraphError::InvalidArgument { argument: invalid }) => {
                assert_eq!((invalid.argument, invalid.problem), (argument, problem));
            }
            other => panic!("expected InvalidArgument for {argument}, got {other:?}"),
        }
    }
    let exactly_max = "é".repeat(MAX_NAME_CHARS);
    node.create_graph(GraphConfig::new(exactly_max.as_str(), "p"))
        .expect("256 characters fit");
}

#[test]
fn a_second_graph_with_the_same_ids_is_a_duplicate() {
    let mut node = started();
    node.create_graph(GraphConfig::new("g", "p"))
        .expect("first");
    assert_eq!(
        node.open_graph(GraphConfig::new("g", "p")),
        Err(GraphError::DuplicateGraph)
    );
    node.open_graph(GraphConfig::new("g", "q"))
        .expect("another peer id is another graph");
}

#[test]
fn several_graphs_per_node_each_with_its_own_node_id() {
    let mut node = started();
    let first = node.create_graph(GraphConfig::new("g1", "p")).expect("g1");
    let second = node.create_graph(GraphConfig::new("g2", "p")).expect("g2");
    let (a, b) = (
        node.node_info(first).expect("live"),
        node.node_info(second).expect("live"),
    );
    assert_ne!(a.node_id, b.node_id);
    assert_eq!((a.graph_id.as_str(), a.peer_id.as_str()), ("g1", "p"));
    assert!(a.status.contains(GraphStatus::SYNCHRONIZED));
}

#[test]
fn a_closed_graph_handle_is_invalid_everywhere_even_after_slot_reuse() {
    let mut node = started();
    let graph = node
        .create_graph(GraphConfig::new("g", "p"))
        .expect("valid");
    node.close_graph(graph).expect("close");
    let reused = node
        .create_graph(GraphConfig::new("g2", "p"))
        .expect("valid");
    assert_ne!(graph, reused);
    assert_eq!(node.close_graph(graph), Err(HandleError::InvalidGraph));
    assert_eq!(node.node_info(graph), Err(HandleError::InvalidGraph));
    assert_eq!(
        node.register_event(graph, &[EventType::IncomingData]),
        Err(RegisterError::InvalidGraph)
    );
    let address = PeerAddress::new(([127, 0, 0, 1], 9).into());
    let now = peergraph_sim::Cluster::with_defaults(0).now();
    assert_eq!(
        node.open_direct_connection(now, graph, "other", address),
        Err(OpenError::InvalidGraph)
    );
}

#[test]
fn listening_sets_the_status_flag_and_raises_status_changed() {
    let mut world = World::new(1);
    world.cluster.node(0).set_listening(false).expect("started");
    world.cluster.flush();
    world.cluster.node(0).set_listening(true).expect("started");
    world.cluster.flush();
    let statuses: Vec<bool> = world
        .events(0)
        .into_iter()
        .filter_map(|event| match event {
            peergraph_core::GraphEvent::StatusChanged(status) => {
                Some(status.contains(GraphStatus::LISTENING))
            }
            _ => None,
        })
        .collect();
    assert_eq!(statuses, [false, true]);
    let info = world
        .cluster
        .node(0)
        .node_info(world.graphs[0])
        .expect("live");
    assert_eq!(info.peer_id, peer(0));
}

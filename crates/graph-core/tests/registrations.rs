//! Event registrations: filtering, copies, order, unregistering, bounded queues.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use common::World;
use peergraph_core::{
    ArgumentProblem, ConnectionStatus, EventError, EventType, GraphConfig, GraphEvent,
    RegisterError,
};
use peergraph_sim::{Cluster, NetConfig};

#[test]
fn registering_an_empty_set_of_event_types_is_invalid() {
    let mut world = World::new(1);
    let graph = world.graphs[0];
    match world.cluster.node(0).register_event(graph, &[]) {
        Err(RegisterError::InvalidArgument { argument }) => {
            assert_eq!(
                (argument.argument, argument.problem),
                ("event_types", ArgumentProblem::Empty)
            );
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
    assert_eq!(EventType::from_code(0), None);
    assert_eq!(EventType::from_code(10), None);
    assert_eq!(EventType::from_code(6), Some(EventType::IncomingData));
}

#[test]
fn each_registration_gets_its_own_copy_of_only_the_types_it_asked_for() {
    let mut world = World::new(2);
    let graph = world.graphs[1];
    let data_only = world
        .cluster
        .node(1)
        .register_event(graph, &[EventType::IncomingData])
        .unwrap();
    let (id, _) = world.connect(0, 1);
    world.send(0, id, b"hello");
    world.cluster.settle().unwrap();
    let seen: Vec<GraphEvent> = world.cluster.nodes[1]
        .events
        .iter()
        .filter(|(registration, _)| *registration == data_only)
        .map(|(_, event)| event.clone())
        .collect();
    assert_eq!(
        seen.len(),
        1,
        "only IncomingData for the data-only registration: {seen:?}"
    );
    assert!(matches!(&seen[0], GraphEvent::IncomingData(data) if data.data.as_ref() == b"hello"));
    assert_eq!(
        world.incoming(1).len(),
        2,
        "the full registration got its own copy too"
    );
}

#[test]
fn take_event_is_fifo_and_reports_none_when_empty() {
    let mut world = World::new(2);
    let (id, remote) = world.connect(0, 1);
    world.cluster.nodes[1].drain_events = false;
    for index in 0..3u8 {
        world.send(0, id, &[index]);
    }
    world.cluster.settle().unwrap();
    let registration = world.registrations[1];
    let node = world.cluster.node(1);
    for index in 0..3u8 {
        match node.take_event(registration) {
            Ok(Some(GraphEvent::IncomingData(data))) => {
                assert_eq!(
                    (data.connection, data.data.as_ref()),
                    (remote, &[index][..])
                );
            }
            other => panic!("expected message {index}, got {other:?}"),
        }
    }
    assert_eq!(node.take_event(registration), Ok(None));
}

#[test]
fn an_unregistered_handle_is_dead() {
    let mut world = World::new(1);
    let registration = world.registrations[0];
    world
        .cluster
        .node(0)
        .unregister_event(registration)
        .expect("live");
    assert_eq!(
        world.cluster.node(0).take_event(registration),
        Err(EventError::InvalidRegistration)
    );
    assert_eq!(
        world.cluster.node(0).unregister_event(registration),
        Err(EventError::InvalidRegistration)
    );
}

#[test]
fn a_reader_that_stops_loses_nothing_its_link_waits_for_it() {
    let cluster = Cluster::new(2, NetConfig::default(), |index| {
        let mut config = peergraph_core::NodeConfig::with_seed(index as u64 + 1);
        config.limits.receive_window_messages = 4;
        // One message per frame: the window is then exact (a batch passes it by its own
        // messages at most, see below).
        config.limits.batch_frame_len = 0;
        config
    });
    let mut world = World::from_cluster(cluster, |_| GraphConfig::new(common::GRAPH, ""));
    let (id, remote) = world.connect(0, 1);
    world.cluster.nodes[1].drain_events = false;
    for index in 0..10u8 {
        world.send(0, id, &[index]);
    }
    world
        .cluster
        .node(0)
        .close_direct_connection(world.graphs[0], id)
        .unwrap();
    world.cluster.settle().unwrap();
    let registration = world.registrations[1];
    let mut taken = Vec::new();
    let mut most_queued = 0;
    loop {
        let mut queued = 0;
        while let Some(event) = world.cluster.node(1).take_event(registration).unwrap() {
            queued += 1;
            taken.push(event);
        }
        most_queued = most_queued.max(queued);
        if queued == 0 {
            break;
        }
        // What the node held back is read now that the application took its events.
        world.cluster.settle().unwrap();
    }
    let data: Vec<u8> = taken
        .iter()
        .filter_map(|event| match event {
            GraphEvent::IncomingData(data) => Some(data.data[0]),
            _ => None,
        })
        .collect();
    assert_eq!(data, (0..10).collect::<Vec<_>>(), "every message, in order");
    assert!(
        most_queued <= 4 + 1,
        "the window (4) bounded what waited at once: {most_queued}"
    );
    let terminal = taken.iter().position(GraphEvent::is_terminal);
    assert!(
        matches!(terminal.map(|at| &taken[at]), Some(GraphEvent::DirectConnection(change))
            if change.connection == remote
                && matches!(change.status, ConnectionStatus::Disconnected(_))),
        "the close comes after the data: {taken:?}"
    );
    assert!(
        terminal
            > taken
                .iter()
                .rposition(|event| matches!(event, GraphEvent::IncomingData(_)))
    );
}

#[test]
fn messages_queued_behind_each_other_share_frames_and_still_arrive_one_event_each() {
    const MESSAGES: usize = 1000;
    let cluster = Cluster::new(2, NetConfig::default(), |index| {
        let mut config = peergraph_core::NodeConfig::with_seed(index as u64 + 1);
        config.limits.receive_window_messages = 8;
        config
    });
    let mut world = World::from_cluster(cluster, |_| GraphConfig::new(common::GRAPH, ""));
    let (id, _) = world.connect(0, 1);
    world.cluster.nodes[1].drain_events = false;
    let frames_before = world.cluster.frames_delivered();
    // Queued before the driver writes anything: they pile up and travel in batches.
    for index in 0..MESSAGES {
        world.send(0, id, &(index as u32).to_le_bytes());
    }
    let registration = world.registrations[1];
    let mut data = Vec::new();
    let mut most_queued = 0;
    loop {
        world.cluster.settle().unwrap();
        let mut queued = 0;
        while let Some(event) = world.cluster.node(1).take_event(registration).unwrap() {
            if let GraphEvent::IncomingData(message) = event {
                queued += 1;
                data.push(u32::from_le_bytes(message.data[..].try_into().unwrap()));
            }
        }
        most_queued = most_queued.max(queued);
        if queued == 0 {
            break;
        }
    }
    assert_eq!(
        data,
        (0..MESSAGES as u32).collect::<Vec<_>>(),
        "every message as its own event, in order"
    );
    let frames = world.cluster.frames_delivered() - frames_before;
    assert!(
        frames <= MESSAGES.div_ceil(256) as u64 + 1,
        "{MESSAGES} small messages took {frames} frames"
    );
    assert!(
        most_queued <= 8 + 256,
        "a frame passes the window (8) by its own messages at most: {most_queued}"
    );
}

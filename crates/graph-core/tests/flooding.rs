//! Flooding over neighbor connections between simulated nodes (design/0006): a published item
//! reaches every node of a connected graph, crossing each neighbor link at most once per
//! version; a newer version replaces an older one everywhere; a stale one goes nowhere; a node
//! that joins later gets every item from its first neighbor; nothing is flooded on a direct
//! connection.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::World;
use peergraph_core::{FloodItem, GraphConfig, NodeConfig, PublishError};
use peergraph_sim::{Cluster, NetConfig};

/// An application's item kind.
const KIND: u32 = peergraph_core::FIRST_APPLICATION_KIND;
const LIFETIME: Duration = Duration::from_secs(600);

fn world(count: usize) -> World {
    let cluster = Cluster::new(count, NetConfig::default(), |index| {
        NodeConfig::with_seed(index as u64 + 11)
    });
    World::from_cluster(cluster, |_| GraphConfig::new(common::GRAPH, ""))
}

/// Node `from` becomes a neighbor of node `to`; settles.
fn link(world: &mut World, from: usize, to: usize) {
    world.neighbor(from, to, None).unwrap();
    world.cluster.settle().unwrap();
}

fn publish(
    world: &mut World,
    index: usize,
    id: &[u8],
    version: u64,
    payload: &'static [u8],
) -> Result<(), PublishError> {
    let now = world.cluster.now();
    let graph = world.graphs[index];
    world.cluster.node(index).publish(
        now,
        graph,
        KIND,
        id,
        version,
        LIFETIME,
        Bytes::from_static(payload),
    )
}

/// The (id, version, payload) of every item node `index` holds, sorted.
fn held(world: &mut World, index: usize) -> Vec<(Vec<u8>, u64, Vec<u8>)> {
    let graph = world.graphs[index];
    let mut items: Vec<_> = world
        .cluster
        .node(index)
        .flooded_items(graph, KIND)
        .unwrap()
        .into_iter()
        .map(
            |FloodItem {
                 id,
                 version,
                 payload,
                 ..
             }| (id.to_vec(), version, payload.to_vec()),
        )
        .collect();
    items.sort();
    items
}

/// A line of `count` nodes, each the neighbor of the next.
fn line(count: usize) -> World {
    let mut world = world(count);
    for index in 0..count - 1 {
        link(&mut world, index, index + 1);
    }
    world
}

#[test]
fn an_item_reaches_every_node_once_per_link_and_a_newer_version_replaces_it() {
    const NODES: usize = 6;
    let mut world = line(NODES);
    let before = world.cluster.frames_delivered();
    publish(&mut world, 0, b"node-0", 1, b"first").unwrap();
    world.cluster.settle().unwrap();
    let frames = world.cluster.frames_delivered() - before;
    for index in 0..NODES {
        assert_eq!(
            held(&mut world, index),
            [(b"node-0".to_vec(), 1, b"first".to_vec())],
            "node {index}"
        );
    }
    assert_eq!(
        frames,
        (NODES - 1) as u64,
        "one frame per link: each node sends it on once"
    );

    // A newer version from the other end replaces it everywhere.
    publish(&mut world, NODES - 1, b"node-0", 2, b"second").unwrap();
    world.cluster.settle().unwrap();
    for index in 0..NODES {
        assert_eq!(
            held(&mut world, index),
            [(b"node-0".to_vec(), 2, b"second".to_vec())],
            "node {index}"
        );
    }
    // A stale version is refused where it is published and goes nowhere.
    let before = world.cluster.frames_delivered();
    assert_eq!(
        publish(&mut world, 2, b"node-0", 2, b"stale"),
        Err(PublishError::Stale)
    );
    world.cluster.settle().unwrap();
    assert_eq!(world.cluster.frames_delivered(), before);
}

#[test]
fn a_ring_floods_each_item_across_each_link_at_most_twice() {
    const NODES: usize = 5;
    let mut world = line(NODES);
    link(&mut world, NODES - 1, 0);
    let before = world.cluster.frames_delivered();
    publish(&mut world, 2, b"node-2", 1, b"hello").unwrap();
    world.cluster.settle().unwrap();
    let frames = world.cluster.frames_delivered() - before;
    for index in 0..NODES {
        assert_eq!(held(&mut world, index).len(), 1, "node {index}");
    }
    // Each node sends a new item on to its neighbors but the one it came from; where the two
    // waves meet, the two nodes send it to each other once.
    assert!(
        frames <= 2 * NODES as u64,
        "{frames} frames for {NODES} links"
    );
}

#[test]
fn a_node_that_joins_later_gets_every_item_from_its_first_neighbor() {
    let mut world = world(3);
    link(&mut world, 0, 1);
    publish(&mut world, 0, b"a", 1, b"from zero").unwrap();
    publish(&mut world, 1, b"b", 7, b"from one").unwrap();
    world.cluster.settle().unwrap();
    link(&mut world, 2, 1);
    assert_eq!(
        held(&mut world, 2),
        [
            (b"a".to_vec(), 1, b"from zero".to_vec()),
            (b"b".to_vec(), 7, b"from one".to_vec())
        ]
    );
}

#[test]
fn nothing_is_flooded_on_a_direct_connection_and_bad_items_are_refused() {
    let mut world = world(2);
    let (id, _) = world.connect(0, 1);
    publish(&mut world, 0, b"a", 1, b"local only").unwrap();
    world.cluster.settle().unwrap();
    assert!(
        held(&mut world, 1).is_empty(),
        "a direct connection carries no item"
    );
    assert_eq!(
        world.changes_for(0, id).len(),
        1,
        "and stays up: {:?}",
        world.changes_for(0, id)
    );
    assert!(matches!(
        publish(&mut world, 0, b"", 1, b"x"),
        Err(PublishError::InvalidArgument { .. })
    ));
    assert!(matches!(
        publish(&mut world, 0, &[7; 65], 1, b"x"),
        Err(PublishError::InvalidArgument { .. })
    ));
}

#[test]
fn the_store_is_bounded() {
    let cluster = Cluster::new(1, NetConfig::default(), |_| {
        let mut config = NodeConfig::with_seed(5);
        config.limits.max_flood_items_per_graph = 2;
        config
    });
    let mut world = World::from_cluster(cluster, |_| GraphConfig::new(common::GRAPH, ""));
    publish(&mut world, 0, b"a", 1, b"x").unwrap();
    publish(&mut world, 0, b"b", 1, b"x").unwrap();
    assert_eq!(
        publish(&mut world, 0, b"c", 1, b"x"),
        Err(PublishError::StoreFull)
    );
    publish(&mut world, 0, b"a", 2, b"a newer version still fits").unwrap();
}

#[test]
fn an_item_published_while_a_neighbor_is_pending_reaches_it_once_it_is_up() {
    let mut world = world(2);
    let now = world.cluster.now();
    let address = world.cluster.address(1);
    let graph = world.graphs[0];
    world
        .cluster
        .node(0)
        .connect(now, graph, None, address)
        .unwrap();
    // The link is still in its handshake: nothing may go on it but the handshake.
    publish(&mut world, 0, b"early", 1, b"before the neighbor was up").unwrap();
    world.cluster.settle().unwrap();
    let graph = world.graphs[0];
    let neighbors = world
        .cluster
        .node(0)
        .enum_connections(graph, peergraph_core::ConnectionKinds::NEIGHBOR)
        .unwrap();
    assert_eq!(neighbors.len(), 1, "the neighbor connected");
    assert_eq!(
        held(&mut world, 1),
        [(b"early".to_vec(), 1, b"before the neighbor was up".to_vec())]
    );
}

#[test]
fn many_large_items_travel_in_several_frames_of_bounded_size() {
    static PAYLOAD: [u8; 16 * 1024] = [9; 16 * 1024];
    let mut world = world(2);
    for index in 0..10u8 {
        publish(&mut world, 0, &[index, index], 1, &PAYLOAD).unwrap();
    }
    let before = world.cluster.frames_delivered();
    link(&mut world, 1, 0);
    let frames = world.cluster.frames_delivered() - before;
    let items = held(&mut world, 1);
    assert_eq!(items.len(), 10);
    assert!(
        items
            .iter()
            .all(|(_, _, payload)| payload[..] == PAYLOAD[..])
    );
    // The handshake's frames (Hello, Accept, Confirm), node 1's greeting (its announcement),
    // then node 0's: 160 KiB of items and an announcement in frames of at most 64 KiB of
    // payload: at least three, and items share frames; and the reconciliation of two empty
    // record stores, a round and its empty answer.
    assert!(
        (3 + 1 + 3 + 2..=3 + 1 + 4 + 2).contains(&frames),
        "{frames} frames"
    );
}

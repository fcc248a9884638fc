//! Presence and maintenance between simulated nodes (design/0006): every node lists every other
//! that announces itself, with its addresses, identity and attributes; changes arrive as
//! `NodeChanged` events; a node that leaves or vanishes drops out; a node is dialed by its node
//! id; maintenance keeps each graph's neighbor count within bounds.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::{World, peer};
use peergraph_core::{
    ArgumentProblem, ConnectionInfo, ConnectionKinds, ConnectionState, ConnectionStatus, Direction,
    EventType, FIRST_APPLICATION_KIND, GraphConfig, GraphEvent, GraphStatus, InvalidArgument,
    MAX_ATTRIBUTES_LEN, NodeChange, NodeChangeKind, NodeConfig, NodeError, NodeId, OpenError,
    PresenceError, PublishError,
};
use peergraph_sim::{Cluster, NetConfig};

const GRAPH_EVENTS: &[EventType] = &[
    EventType::NodeChanged,
    EventType::ConnectionRequired,
    EventType::StatusChanged,
    EventType::NeighborConnection,
];

fn config(index: usize) -> NodeConfig {
    let mut config = NodeConfig::with_seed(index as u64 + 101);
    config.limits.min_neighbors = 2;
    config.limits.max_neighbors = 4;
    config
}

/// `count` nodes that created the graph, each also registered for the graph's own events.
fn world_with(count: usize, config: impl FnMut(usize) -> NodeConfig) -> World {
    let cluster = Cluster::new(count, NetConfig::default(), config);
    let mut world = World::from_cluster(cluster, |_| GraphConfig::new(common::GRAPH, ""));
    for index in 0..count {
        let graph = world.graphs[index];
        world
            .cluster
            .node(index)
            .register_event(graph, GRAPH_EVENTS)
            .unwrap();
    }
    world
}

/// A line of `count` nodes, each the neighbor of the next, settled.
fn line(count: usize) -> World {
    let mut world = world_with(count, config);
    for index in 0..count - 1 {
        world.neighbor(index, index + 1, None).unwrap();
        world.cluster.settle().unwrap();
    }
    world
}

fn sorted(mut list: Vec<String>) -> Vec<String> {
    list.sort();
    list
}

fn node_id(world: &mut World, index: usize) -> NodeId {
    let graph = world.graphs[index];
    world.cluster.node(index).node_info(graph).unwrap().node_id
}

/// The peer ids node `index` lists, in its order.
fn listed(world: &mut World, index: usize) -> Vec<String> {
    let graph = world.graphs[index];
    let nodes = world.cluster.node(index).enum_nodes(graph, None).unwrap();
    nodes.into_iter().map(|node| node.peer_id).collect()
}

/// The `NodeChanged` events node `index` saw, as (peer id, change).
fn node_changes(world: &World, index: usize) -> Vec<(String, NodeChangeKind)> {
    world
        .events(index)
        .into_iter()
        .filter_map(|event| match event {
            GraphEvent::NodeChanged(NodeChange {
                peer_id, change, ..
            }) => Some((peer_id, change)),
            _ => None,
        })
        .collect()
}

/// Node `index`'s neighbor connections, pending and established.
fn neighbor_links(world: &mut World, index: usize) -> Vec<ConnectionInfo> {
    let graph = world.graphs[index];
    world
        .cluster
        .node(index)
        .enum_connections(graph, ConnectionKinds::NEIGHBOR)
        .unwrap()
}

fn established_neighbors(world: &mut World, index: usize) -> usize {
    neighbor_links(world, index)
        .into_iter()
        .filter(|info| info.state == ConnectionState::Connected)
        .count()
}

#[test]
fn every_node_of_a_line_lists_every_other_with_its_address_and_identity() {
    let mut world = line(4);
    for index in 0..4 {
        let mut expected: Vec<String> = (0..4).filter(|i| *i != index).map(peer).collect();
        expected.sort();
        let mut others = listed(&mut world, index);
        assert_eq!(others.remove(0), peer(index), "the node itself comes first");
        others.sort();
        assert_eq!(others, expected, "node {index}");
        let mut connected: Vec<String> = node_changes(&world, index)
            .into_iter()
            .map(|(peer_id, change)| {
                assert_eq!(change, NodeChangeKind::Connected);
                peer_id
            })
            .collect();
        connected.sort();
        assert_eq!(connected, expected, "one Connected per other node");
    }
    let far = node_id(&mut world, 3);
    let graph = world.graphs[0];
    let info = world.cluster.node(0).node_info_of(graph, far).unwrap();
    assert_eq!(info.peer_id, peer(3));
    assert_eq!(info.addresses, [world.cluster.nodes[3].addr]);
    assert_eq!(info.identity, Some(world.cluster.nodes[3].identity));
    assert_eq!(info.status, GraphStatus::empty());
    let own = node_id(&mut world, 0);
    let local = world.cluster.node(0).node_info_of(graph, own).unwrap();
    assert_eq!(local, world.cluster.node(0).node_info(graph).unwrap());
    assert_eq!(local.addresses, [world.cluster.nodes[0].addr]);
    let only = world
        .cluster
        .node(0)
        .enum_nodes(graph, Some(&peer(2)))
        .unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].peer_id, peer(2));
    assert_eq!(
        world.cluster.node(0).node_info_of(graph, NodeId::new(1)),
        Err(NodeError::NodeNotFound)
    );
}

#[test]
fn attribute_and_presence_changes_reach_every_node() {
    let mut world = line(3);
    let graph = world.graphs[2];
    world
        .cluster
        .node(2)
        .set_node_attributes(graph, Some("room=lobby"))
        .unwrap();
    world.cluster.settle().unwrap();
    let far = node_id(&mut world, 2);
    let graph0 = world.graphs[0];
    let attributes = |world: &mut World| {
        world
            .cluster
            .node(0)
            .node_info_of(graph0, far)
            .map(|info| info.attributes)
    };
    assert_eq!(attributes(&mut world), Ok("room=lobby".to_owned()));
    assert_eq!(
        node_changes(&world, 0).last(),
        Some(&(peer(2), NodeChangeKind::Updated))
    );
    assert_eq!(
        world
            .cluster
            .node(2)
            .set_node_attributes(graph, Some(&"x".repeat(MAX_ATTRIBUTES_LEN + 1))),
        Err(PresenceError::InvalidArgument {
            argument: InvalidArgument {
                argument: "attributes",
                problem: ArgumentProblem::TooLong
            }
        })
    );
    world
        .cluster
        .node(2)
        .set_node_attributes(graph, Some(&"x".repeat(MAX_ATTRIBUTES_LEN)))
        .unwrap();
    world
        .cluster
        .node(2)
        .set_node_attributes(graph, None)
        .unwrap();
    world.cluster.settle().unwrap();
    assert_eq!(attributes(&mut world), Ok(String::new()));

    world.cluster.node(2).set_presence(graph, false).unwrap();
    world.cluster.settle().unwrap();
    assert_eq!(
        node_changes(&world, 0).last(),
        Some(&(peer(2), NodeChangeKind::Disconnected))
    );
    assert_eq!(attributes(&mut world), Err(NodeError::NodeNotFound));
    assert_eq!(listed(&mut world, 0), [peer(0), peer(1)]);
    assert_eq!(
        sorted(listed(&mut world, 2)),
        [peer(0), peer(1)],
        "a node that does not announce itself does not list itself"
    );

    world.cluster.node(2).set_presence(graph, true).unwrap();
    world.cluster.settle().unwrap();
    assert_eq!(
        node_changes(&world, 0).last(),
        Some(&(peer(2), NodeChangeKind::Connected))
    );
    assert_eq!(sorted(listed(&mut world, 0)), [peer(0), peer(1), peer(2)]);
}

#[test]
fn a_node_that_closes_its_graph_drops_out_at_once() {
    let mut world = line(3);
    let graph = world.graphs[2];
    world.cluster.node(2).close_graph(graph).unwrap();
    let closed_at = world.cluster.now();
    world.cluster.settle().unwrap();
    assert_eq!(
        node_changes(&world, 0).last(),
        Some(&(peer(2), NodeChangeKind::Disconnected))
    );
    assert!(world.cluster.now() < closed_at + Duration::from_secs(1));
    assert_eq!(listed(&mut world, 0), [peer(0), peer(1)]);
}

#[test]
fn a_node_that_vanishes_drops_out_within_its_presence_lifetime() {
    let lifetime = Duration::from_secs(40);
    let mut world = world_with(4, |index| {
        let mut config = config(index);
        config.timeouts.presence_lifetime = lifetime;
        config
    });
    for index in 0..3 {
        world.neighbor(index, index + 1, None).unwrap();
        world.cluster.settle().unwrap();
    }
    // Some refreshes go by, so the last one before the cut is at most half a lifetime old.
    world.cluster.run_for(lifetime * 2).unwrap();
    assert_eq!(sorted(listed(&mut world, 0)).len(), 4);
    for other in 0..3 {
        world.cluster.partition(3, other);
    }
    let cut = world.cluster.now();
    world.cluster.run_for(lifetime * 2).unwrap();
    let gone: Vec<_> = world.cluster.nodes[0]
        .events
        .iter()
        .zip(&world.cluster.nodes[0].event_times)
        .filter(|((_, event), _)| {
            matches!(event, GraphEvent::NodeChanged(NodeChange { change: NodeChangeKind::Disconnected, peer_id, .. }) if *peer_id == peer(3))
        })
        .map(|(_, at)| *at)
        .collect();
    assert_eq!(gone.len(), 1, "one Disconnected for the vanished node");
    assert!(
        gone[0] > cut + lifetime / 2 - Duration::from_secs(1) && gone[0] <= cut + lifetime,
        "dropped {:?} after the cut",
        gone[0] - cut
    );
    assert_eq!(sorted(listed(&mut world, 0)), [peer(0), peer(1), peer(2)]);
}

#[test]
fn a_node_found_in_the_graph_is_dialed_by_its_node_id() {
    let mut world = line(3);
    let far = node_id(&mut world, 2);
    let now = world.cluster.now();
    let graph = world.graphs[0];
    let id = world
        .cluster
        .node(0)
        .open_direct_connection_to_node(now, graph, far)
        .unwrap();
    world.cluster.settle().unwrap();
    let [ConnectionStatus::Connected(remote)] = &world.changes_for(0, id)[..] else {
        panic!("{:?}", world.changes_for(0, id));
    };
    assert_eq!(remote.peer_id, peer(2));
    assert_eq!(remote.node_id, far);
    assert_eq!(remote.identity, world.cluster.nodes[2].identity);
    assert_eq!(remote.direction, Direction::Outbound);
    let own = node_id(&mut world, 0);
    let node = world.cluster.node(0);
    assert_eq!(
        node.open_direct_connection_to_node(now, graph, NodeId::new(7)),
        Err(OpenError::NodeNotFound)
    );
    assert_eq!(
        node.open_direct_connection_to_node(now, graph, own),
        Err(OpenError::ConnectSelf)
    );
}

#[test]
fn an_opened_graph_is_synchronized_once_its_first_neighbor_has_greeted_it() {
    let mut cluster = Cluster::new(2, NetConfig::default(), config);
    let now = cluster.now();
    let created = cluster
        .node(0)
        .create_graph(GraphConfig::new(common::GRAPH, "creator"))
        .unwrap();
    let opened = cluster
        .node(1)
        .open_graph(GraphConfig::new(common::GRAPH, "joiner"))
        .unwrap();
    let registration = cluster
        .node(1)
        .register_event(opened, GRAPH_EVENTS)
        .unwrap();
    let status =
        |cluster: &mut Cluster, index, graph| cluster.node(index).node_info(graph).unwrap().status;
    assert!(status(&mut cluster, 0, created).contains(GraphStatus::SYNCHRONIZED));
    assert!(!status(&mut cluster, 1, opened).contains(GraphStatus::SYNCHRONIZED));
    let address = cluster.address(0);
    cluster.node(1).connect(now, opened, None, address).unwrap();
    cluster.settle().unwrap();
    assert!(status(&mut cluster, 1, opened).contains(GraphStatus::SYNCHRONIZED));
    let synchronized = cluster.nodes[1]
        .events
        .iter()
        .filter(|(handle, event)| {
            *handle == registration
                && matches!(event, GraphEvent::StatusChanged(status) if status.contains(GraphStatus::SYNCHRONIZED))
        })
        .count();
    assert_eq!(synchronized, 1, "one StatusChanged gains SYNCHRONIZED");
}

#[test]
fn a_lone_opened_graph_asks_for_a_connection_once_and_a_created_one_does_not() {
    let mut cluster = Cluster::new(2, NetConfig::default(), config);
    let created = cluster
        .node(0)
        .create_graph(GraphConfig::new(common::GRAPH, "creator"))
        .unwrap();
    cluster
        .node(0)
        .register_event(created, GRAPH_EVENTS)
        .unwrap();
    let opened = cluster
        .node(1)
        .open_graph(GraphConfig::new(common::GRAPH, "joiner"))
        .unwrap();
    cluster
        .node(1)
        .register_event(opened, GRAPH_EVENTS)
        .unwrap();
    cluster.run_for(Duration::from_secs(30)).unwrap();
    let required = |cluster: &Cluster, index: usize| {
        cluster.nodes[index]
            .events
            .iter()
            .filter(|(_, event)| *event == GraphEvent::ConnectionRequired)
            .count()
    };
    assert_eq!(required(&cluster, 0), 0);
    assert_eq!(required(&cluster, 1), 1);
    // A neighbor it did not dial, then none again: asked once more.
    let now = cluster.now();
    let address = cluster.address(1);
    cluster
        .node(0)
        .connect(now, created, None, address)
        .unwrap();
    cluster.run_for(Duration::from_secs(10)).unwrap();
    let neighbors = cluster
        .node(1)
        .enum_connections(opened, ConnectionKinds::NEIGHBOR)
        .unwrap();
    assert_eq!(neighbors.len(), 1);
    assert_eq!(required(&cluster, 1), 1);
    cluster.node(0).close_graph(created).unwrap();
    cluster.run_for(Duration::from_secs(10)).unwrap();
    // The creator's announcement was withdrawn with its graph: node 1 knows nobody to try.
    assert_eq!(required(&cluster, 1), 2);
}

#[test]
fn maintenance_neither_counts_nor_sheds_direct_connections() {
    let mut world = world_with(8, config);
    let max = config(0).limits.max_neighbors;
    let mut opened = Vec::new();
    for index in 1..8 {
        opened.push(world.open(0, index));
    }
    world.neighbor(1, 0, None).unwrap();
    world.cluster.run_for(Duration::from_secs(30)).unwrap();
    assert!(opened.len() > max);
    for id in opened {
        assert!(
            matches!(
                world.changes_for(0, id)[..],
                [ConnectionStatus::Connected(_)]
            ),
            "{:?}",
            world.changes_for(0, id)
        );
    }
}

#[test]
fn a_star_sheds_to_max_neighbors_and_every_node_still_lists_every_other() {
    const NODES: usize = 12;
    let mut world = world_with(NODES, config);
    for index in 1..NODES {
        world.neighbor(index, 0, None).unwrap();
    }
    world.cluster.settle().unwrap();
    assert_eq!(established_neighbors(&mut world, 0), NODES - 1);
    world.cluster.run_for(Duration::from_secs(60)).unwrap();
    let limits = config(0).limits;
    for index in 0..NODES {
        let count = established_neighbors(&mut world, index);
        assert!(
            (limits.min_neighbors..=limits.max_neighbors).contains(&count),
            "node {index} has {count} neighbors"
        );
        assert_eq!(listed(&mut world, index).len(), NODES, "node {index}");
    }
}

#[test]
fn two_nodes_that_dial_each_other_at_once_keep_the_link_the_lower_node_id_opened() {
    let mut world = world_with(2, config);
    let zero = world.neighbor(0, 1, None).unwrap();
    let one = world.neighbor(1, 0, None).unwrap();
    world.cluster.settle().unwrap();
    let lower = if node_id(&mut world, 0) < node_id(&mut world, 1) {
        0
    } else {
        1
    };
    for index in 0..2 {
        let links = neighbor_links(&mut world, index);
        assert_eq!(links.len(), 1, "node {index}: {links:?}");
        let expected = if index == lower {
            Direction::Outbound
        } else {
            Direction::Inbound
        };
        assert_eq!(links[0].direction, expected, "node {index}");
    }
    let kept = if lower == 0 { zero } else { one };
    assert_eq!(neighbor_links(&mut world, lower)[0].id, kept);
}

#[test]
fn an_item_leaves_every_node_when_its_lifetime_ends() {
    let mut world = line(3);
    let now = world.cluster.now();
    let graph = world.graphs[0];
    let lifetime = Duration::from_secs(5);
    world
        .cluster
        .node(0)
        .publish(
            now,
            graph,
            FIRST_APPLICATION_KIND,
            b"a",
            1,
            lifetime,
            "x".into(),
        )
        .unwrap();
    world.cluster.settle().unwrap();
    let held = |world: &mut World, index: usize| {
        let graph = world.graphs[index];
        let node = world.cluster.node(index);
        node.flooded_items(graph, FIRST_APPLICATION_KIND)
            .unwrap()
            .len()
    };
    assert_eq!((0..3).map(|i| held(&mut world, i)).sum::<usize>(), 3);
    world.cluster.run_for(lifetime).unwrap();
    assert_eq!((0..3).map(|i| held(&mut world, i)).sum::<usize>(), 0);
}

#[test]
fn publish_refuses_the_librarys_kinds_and_lifetimes_out_of_range() {
    let mut world = line(2);
    let now = world.cluster.now();
    let graph = world.graphs[0];
    let node = world.cluster.node(0);
    let longest = node.config().timeouts.max_flood_lifetime;
    let invalid = |argument, problem| {
        Err(PublishError::InvalidArgument {
            argument: InvalidArgument { argument, problem },
        })
    };
    let second = Duration::from_secs(1);
    assert_eq!(
        node.publish(now, graph, 1, b"a", 1, second, "x".into()),
        invalid("kind", ArgumentProblem::Reserved)
    );
    assert_eq!(
        node.publish(
            now,
            graph,
            FIRST_APPLICATION_KIND,
            b"a",
            1,
            Duration::ZERO,
            "x".into()
        ),
        invalid("lifetime", ArgumentProblem::Empty)
    );
    assert_eq!(
        node.publish(
            now,
            graph,
            FIRST_APPLICATION_KIND,
            b"a",
            1,
            longest + second,
            "x".into()
        ),
        invalid("lifetime", ArgumentProblem::TooLong)
    );
}

#[test]
fn a_node_at_exactly_max_neighbors_keeps_them_all() {
    let mut world = world_with(5, config);
    let max = config(0).limits.max_neighbors;
    for index in 1..=max {
        world.neighbor(index, 0, None).unwrap();
    }
    world.cluster.run_for(Duration::from_secs(30)).unwrap();
    assert_eq!(established_neighbors(&mut world, 0), max);
}

#[test]
fn shedding_takes_links_peers_opened_and_keeps_the_nodes_own() {
    let mut world = world_with(11, config);
    let own: Vec<_> = [1, 2]
        .map(|to| world.neighbor(0, to, None).unwrap())
        .to_vec();
    world.cluster.settle().unwrap();
    for index in 3..11 {
        world.neighbor(index, 0, None).unwrap();
    }
    world.cluster.settle().unwrap();
    assert_eq!(established_neighbors(&mut world, 0), 10);
    world.cluster.run_for(Duration::from_secs(10)).unwrap();
    assert!(established_neighbors(&mut world, 0) <= config(0).limits.max_neighbors + 1);
    let still: Vec<_> = neighbor_links(&mut world, 0)
        .into_iter()
        .map(|info| info.id)
        .collect();
    for id in own {
        assert!(still.contains(&id), "node 0's own link {id:?} was shed");
    }
}

#[test]
fn a_node_at_its_maximum_still_takes_new_links_shedding_at_random() {
    let mut world = world_with(10, config);
    let max = config(0).limits.max_neighbors;
    for index in 1..=max {
        world.neighbor(index, 0, None).unwrap();
    }
    world.cluster.run_for(Duration::from_secs(5)).unwrap();
    // Each newcomer's link makes node 0 one over its maximum; shedding the newest link would
    // undo every one of them.
    let mut kept = 0;
    for index in max + 1..10 {
        let id = world.neighbor(index, 0, None).unwrap();
        world.cluster.run_for(Duration::from_secs(3)).unwrap();
        let up = neighbor_links(&mut world, index)
            .iter()
            .any(|info| info.id == id);
        kept += usize::from(up);
    }
    assert!(kept > 0, "every newcomer's link to a full node was shed");
    assert!(established_neighbors(&mut world, 0) <= max + 1);
}

/// Whether the established neighbor links of `nodes` connect them all.
fn connected(world: &mut World, nodes: usize) -> bool {
    let ids: Vec<NodeId> = (0..nodes).map(|index| node_id(world, index)).collect();
    let mut seen = vec![false; nodes];
    let mut stack = vec![0];
    seen[0] = true;
    while let Some(index) = stack.pop() {
        let links = neighbor_links(world, index);
        for info in links {
            let Some(next) = info
                .node_id
                .and_then(|id| ids.iter().position(|known| *known == id))
            else {
                continue;
            };
            if info.state == ConnectionState::Connected && !seen[next] {
                seen[next] = true;
                stack.push(next);
            }
        }
    }
    seen.into_iter().all(|seen| seen)
}

#[test]
fn two_halves_cut_apart_until_their_links_time_out_find_each_other_again() {
    let mut world = world_with(8, config);
    // Two rings of four joined by one link: every node at its minimum or above.
    for ring in [0, 4] {
        for index in 0..4 {
            world
                .neighbor(ring + index, ring + (index + 1) % 4, None)
                .unwrap();
        }
    }
    world.neighbor(0, 4, None).unwrap();
    world.cluster.settle().unwrap();
    assert!(connected(&mut world, 8));
    for a in 0..4 {
        for b in 4..8 {
            world.cluster.partition(a, b);
        }
    }
    world.cluster.run_for(Duration::from_secs(45)).unwrap();
    assert!(!connected(&mut world, 8), "the cut ended the links across");
    for a in 0..4 {
        for b in 4..8 {
            world.cluster.heal(a, b);
        }
    }
    world.cluster.run_for(Duration::from_secs(60)).unwrap();
    assert!(
        connected(&mut world, 8),
        "the halves found each other again"
    );
}

#[test]
fn a_node_below_its_minimum_dials_only_the_neighbors_it_lacks() {
    let mut world = world_with(7, config);
    for index in 1..6 {
        world.neighbor(index, index + 1, None).unwrap();
    }
    world.neighbor(0, 1, None).unwrap();
    world.cluster.settle().unwrap();
    assert_eq!(listed(&mut world, 0).len(), 7, "node 0 knows every node");
    let min = config(0).limits.min_neighbors;
    let mut most = 0;
    for _ in 0..30 {
        world.cluster.run_for(Duration::from_millis(100)).unwrap();
        let count = neighbor_links(&mut world, 0).len();
        most = most.max(count);
    }
    // One maintenance round: the one neighbor it lacks (and no exploring in that round).
    assert_eq!(most, min, "node 0 held {most} neighbor connections");
}

#[test]
fn a_node_at_exactly_its_minimum_still_explores() {
    let mut world = world_with(3, |index| {
        let mut config = config(index);
        config.limits.min_neighbors = 1;
        config
    });
    world.neighbor(0, 1, None).unwrap();
    world.neighbor(1, 2, None).unwrap();
    world.cluster.settle().unwrap();
    assert_eq!(established_neighbors(&mut world, 0), 1);
    world.cluster.run_for(Duration::from_secs(120)).unwrap();
    assert_eq!(
        established_neighbors(&mut world, 0),
        2,
        "node 0 explored to node 2"
    );
}

#[test]
fn a_node_that_knows_fewer_nodes_than_it_lacks_connects_to_all_of_them() {
    let mut world = world_with(3, |index| {
        let mut config = config(index);
        config.limits.min_neighbors = 3;
        config
    });
    world.neighbor(0, 1, None).unwrap();
    world.neighbor(1, 2, None).unwrap();
    world.cluster.run_for(Duration::from_secs(10)).unwrap();
    assert_eq!(established_neighbors(&mut world, 0), 2);
}

#[test]
fn a_node_refreshes_its_announcement_at_half_its_lifetime_and_no_more() {
    let lifetime = Duration::from_secs(40);
    let mut world = world_with(2, |index| {
        let mut config = config(index);
        config.timeouts.presence_lifetime = lifetime;
        config
    });
    world.neighbor(0, 1, None).unwrap();
    world.cluster.settle().unwrap();
    let before = world.cluster.flood_items_delivered(1);
    world.cluster.run_for(lifetime * 5).unwrap();
    let delivered = world.cluster.flood_items_delivered(1) - before;
    // Each node announces itself every 20 s, and each announcement crosses the link once: ten
    // refreshes each over 200 s, give or take one at either end.
    assert!((18..=22).contains(&delivered), "{delivered} announcements");
    assert_eq!(listed(&mut world, 0).len(), 2, "still listed");
}

#[test]
fn a_node_at_its_maximum_does_not_explore() {
    let mut world = world_with(6, config);
    let max = config(0).limits.max_neighbors;
    for index in 1..=max {
        world.neighbor(index, 0, None).unwrap();
    }
    // Node 5 is known to node 0 and not linked to it: a node still exploring would dial it.
    world.neighbor(5, 1, None).unwrap();
    world.cluster.settle().unwrap();
    let mut most = 0;
    for _ in 0..600 {
        world.cluster.run_for(Duration::from_millis(100)).unwrap();
        let count = neighbor_links(&mut world, 0)
            .into_iter()
            .filter(|info| info.direction == Direction::Outbound)
            .count();
        most = most.max(count);
    }
    assert_eq!(
        most, 0,
        "node 0 opened a neighbor connection while at its maximum"
    );
}

#[test]
fn timeouts_and_lifetimes_of_any_length_run_without_overflow() {
    let mut world = world_with(2, |index| {
        let mut config = config(index);
        let timeouts = &mut config.timeouts;
        for timeout in [
            &mut timeouts.idle,
            &mut timeouts.keepalive,
            &mut timeouts.presence_lifetime,
            &mut timeouts.max_flood_lifetime,
            &mut timeouts.maintenance,
        ] {
            *timeout = Duration::MAX;
        }
        config
    });
    world.neighbor(0, 1, None).unwrap();
    world.cluster.settle().unwrap();
    let now = world.cluster.now();
    let graph = world.graphs[0];
    let longest = peergraph_core::Timeouts::LONGEST;
    assert_eq!(world.cluster.node(0).config().timeouts.maintenance, longest);
    world
        .cluster
        .node(0)
        .publish(
            now,
            graph,
            FIRST_APPLICATION_KIND,
            b"a",
            1,
            longest,
            "x".into(),
        )
        .unwrap();
    world.cluster.run_for(Duration::from_secs(3600)).unwrap();
    let graph = world.graphs[1];
    let held = world
        .cluster
        .node(1)
        .flooded_items(graph, FIRST_APPLICATION_KIND)
        .unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(listed(&mut world, 1).len(), 2);
}

#[test]
fn dialing_by_node_id_goes_on_to_the_next_announced_address_under_the_same_id() {
    let mut world = line(3);
    let unreachable: std::net::SocketAddr = "127.200.0.1:7000".parse().unwrap();
    let (real, identity) = (world.cluster.nodes[2].addr, world.cluster.nodes[2].identity);
    world
        .cluster
        .node(2)
        .set_listen_addresses(identity, &[unreachable, unreachable, real]);
    world.cluster.settle().unwrap();
    let far = node_id(&mut world, 2);
    let graph = world.graphs[0];
    assert_eq!(
        world
            .cluster
            .node(0)
            .node_info_of(graph, far)
            .unwrap()
            .addresses,
        [unreachable, unreachable, real]
    );
    let now = world.cluster.now();
    let id = world
        .cluster
        .node(0)
        .open_direct_connection_to_node(now, graph, far)
        .unwrap();
    world.cluster.settle().unwrap();
    let [ConnectionStatus::Connected(remote)] = &world.changes_for(0, id)[..] else {
        panic!("{:?}", world.changes_for(0, id));
    };
    assert_eq!(remote.node_id, far);

    // A node none of whose addresses answers: one failure, for the id.
    world
        .cluster
        .node(2)
        .set_listen_addresses(identity, &[unreachable, unreachable]);
    world.cluster.settle().unwrap();
    let now = world.cluster.now();
    let id = world
        .cluster
        .node(0)
        .open_direct_connection_to_node(now, graph, far)
        .unwrap();
    world.cluster.settle().unwrap();
    assert_eq!(
        world.changes_for(0, id),
        [ConnectionStatus::Failed(
            peergraph_core::FailReason::Unreachable
        )]
    );
    let pending = world
        .cluster
        .node(0)
        .enum_connections(graph, ConnectionKinds::DIRECT)
        .unwrap()
        .into_iter()
        .filter(|info| info.state == ConnectionState::Connecting)
        .count();
    assert_eq!(pending, 0, "nothing left dialing");
}

//! Neighbor connections (`PeerGraphConnect`) between two nodes over each real transport: the
//! outcome as `NeighborConnection` events on both ends, the peer the initiator reached when it
//! named none, both lists, data both ways, and a second connect that already exists.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::time::Duration;

use peergraph::{
    ConnectError, ConnectionId, ConnectionKind, ConnectionKinds, ConnectionStatus, Direction,
    EventStream, EventType, GraphConfig, GraphEvent, NodeChange, NodeChangeKind, NodeError,
    RemotePeer, TransportKind,
};
use support::{GRAPH, TYPE_A, TestNode, eventually, within};

on_both_transports!(
    neighbors_connect_list_and_carry_data,
    an_item_floods_along_a_line_of_three_nodes,
    nodes_of_a_line_see_each_other_and_dial_by_node_id,
);

/// The next neighbor event on `stream`.
async fn neighbor_change(stream: &mut EventStream) -> (ConnectionId, ConnectionStatus) {
    within("a neighbor event", async {
        loop {
            if let GraphEvent::NeighborConnection(change) = stream.next().await.expect("open") {
                return (change.connection, change.status);
            }
        }
    })
    .await
}

fn connected(status: ConnectionStatus) -> RemotePeer {
    match status {
        ConnectionStatus::Connected(remote) => remote,
        other => panic!("not connected: {other:?}"),
    }
}

async fn neighbors_connect_list_and_carry_data(kind: TransportKind) {
    let graph = |peer_id: &str| GraphConfig::new(GRAPH, peer_id).with_secret("s3cret");
    let mut alice = TestNode::with_graph(kind, graph("alice")).await;
    let mut bob = TestNode::with_graph(kind, graph("bob")).await;
    let neighbor_events = |node: &TestNode| {
        node.node
            .register_event(node.graph, &[EventType::NeighborConnection])
            .unwrap()
    };
    let (mut at_alice, mut at_bob) = (neighbor_events(&alice), neighbor_events(&bob));
    let address = bob.locator().address;
    let id = alice.node.connect(alice.graph, None, address).unwrap();

    let (connection, status) = neighbor_change(&mut at_alice).await;
    assert_eq!(connection, id);
    let remote = connected(status);
    assert_eq!(
        (remote.peer_id.as_str(), remote.direction),
        ("bob", Direction::Outbound)
    );
    assert_eq!(
        remote.identity,
        bob.node.identity(),
        "the identity TLS verified"
    );
    let (bob_id, status) = neighbor_change(&mut at_bob).await;
    let remote = connected(status);
    assert_eq!(
        (remote.peer_id.as_str(), remote.direction),
        ("alice", Direction::Inbound)
    );

    let listed = |node: &TestNode, kinds| {
        node.node
            .enum_connections(node.graph, kinds)
            .unwrap()
            .into_iter()
            .map(|info| (info.id, info.kind, info.peer_id))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listed(&alice, ConnectionKinds::NEIGHBOR),
        [(id, ConnectionKind::Neighbor, "bob".to_owned())]
    );
    assert_eq!(
        listed(&bob, ConnectionKinds::ALL),
        [(bob_id, ConnectionKind::Neighbor, "alice".to_owned())]
    );
    assert!(listed(&bob, ConnectionKinds::DIRECT).is_empty());

    alice
        .node
        .send_data(alice.graph, id, TYPE_A, &b"over a neighbor"[..])
        .await
        .unwrap();
    let data = bob.incoming().await;
    assert_eq!(
        (data.connection, data.data.as_ref()),
        (bob_id, &b"over a neighbor"[..])
    );
    bob.node
        .send_data(bob.graph, bob_id, TYPE_A, &b"and back"[..])
        .await
        .unwrap();
    assert_eq!(alice.incoming().await.data.as_ref(), b"and back");

    assert_eq!(
        alice.node.connect(alice.graph, Some("bob"), address),
        Err(ConnectError::AlreadyExists)
    );
}

/// An application's item kind.
const KIND: u32 = peergraph::FIRST_APPLICATION_KIND;
const LIFETIME: Duration = Duration::from_secs(60);

/// Alice, Bob and Carol in a line of neighbor connections: what Carol publishes reaches Alice
/// through Bob, and a newer version replaces it.
async fn an_item_floods_along_a_line_of_three_nodes(kind: TransportKind) {
    let graph = |peer_id: &str| GraphConfig::new(GRAPH, peer_id).with_secret("s3cret");
    let alice = TestNode::with_graph(kind, graph("alice")).await;
    let bob = TestNode::with_graph(kind, graph("bob")).await;
    let carol = TestNode::with_graph(kind, graph("carol")).await;
    let mut streams = Vec::new();
    for (from, to) in [(&alice, &bob), (&carol, &bob)] {
        let mut events = from
            .node
            .register_event(from.graph, &[EventType::NeighborConnection])
            .unwrap();
        let id = from
            .node
            .connect(from.graph, None, to.locator().address)
            .unwrap();
        let (connection, status) = neighbor_change(&mut events).await;
        assert_eq!(connection, id);
        connected(status);
        streams.push(events);
    }
    let held = |node: &TestNode| {
        node.node
            .flooded_items(node.graph, KIND)
            .unwrap()
            .into_iter()
            .map(|item| (item.id.to_vec(), item.version, item.payload.to_vec()))
            .collect::<Vec<_>>()
    };
    carol
        .node
        .publish(carol.graph, KIND, b"carol", 1, LIFETIME, &b"here"[..])
        .unwrap();
    eventually("alice holds carol's item", || {
        held(&alice) == [(b"carol".to_vec(), 1, b"here".to_vec())]
    })
    .await;
    carol
        .node
        .publish(carol.graph, KIND, b"carol", 2, LIFETIME, &b"still here"[..])
        .unwrap();
    eventually("alice holds the newer version", || {
        held(&alice) == [(b"carol".to_vec(), 2, b"still here".to_vec())]
    })
    .await;
    assert_eq!(held(&bob), held(&alice));
}

/// The next `NodeChanged` event on `stream`, as (peer id, change).
async fn node_change(stream: &mut EventStream) -> (String, NodeChangeKind) {
    within("a node event", async {
        loop {
            if let GraphEvent::NodeChanged(NodeChange {
                peer_id, change, ..
            }) = stream.next().await.expect("open")
            {
                return (peer_id, change);
            }
        }
    })
    .await
}

/// Alice, Bob and Carol in a line of neighbor connections: Alice lists Bob and Carol with the
/// addresses and identities they listen with, opens a direct connection to Carol by node id
/// alone, sees Carol's new attributes, and sees her leave when she closes her graph.
async fn nodes_of_a_line_see_each_other_and_dial_by_node_id(kind: TransportKind) {
    let graph = |peer_id: &str| GraphConfig::new(GRAPH, peer_id).with_secret("s3cret");
    let mut alice = TestNode::with_graph(kind, graph("alice")).await;
    let bob = TestNode::with_graph(kind, graph("bob")).await;
    let mut carol = TestNode::with_graph(kind, graph("carol")).await;
    let mut nodes = alice
        .node
        .register_event(alice.graph, &[EventType::NodeChanged])
        .unwrap();
    for (from, to) in [(&alice, &bob), (&carol, &bob)] {
        let mut events = from
            .node
            .register_event(from.graph, &[EventType::NeighborConnection])
            .unwrap();
        from.node
            .connect(from.graph, None, to.locator().address)
            .unwrap();
        connected(neighbor_change(&mut events).await.1);
    }
    let mut joined = vec![node_change(&mut nodes).await, node_change(&mut nodes).await];
    joined.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        joined,
        [
            ("bob".to_owned(), NodeChangeKind::Connected),
            ("carol".to_owned(), NodeChangeKind::Connected)
        ]
    );
    let listed = alice.node.enum_nodes(alice.graph, Some("carol")).unwrap();
    assert_eq!(listed.len(), 1);
    let found = &listed[0];
    assert_eq!(found.addresses, [carol.locator().address.socket]);
    assert_eq!(found.identity, Some(carol.node.identity()));
    assert_eq!(
        alice.node.node_info_of(alice.graph, found.node_id).unwrap(),
        *found
    );

    let id = alice
        .node
        .open_direct_connection_to_node(alice.graph, found.node_id)
        .unwrap();
    let ConnectionStatus::Connected(remote) = alice.change_for(id).await else {
        panic!("the direct connection to carol failed");
    };
    assert_eq!(remote.peer_id, "carol");
    assert_eq!(remote.identity, carol.node.identity());
    let accepted = carol.accepted().await;
    alice
        .node
        .send_data(alice.graph, id, TYPE_A, &b"found you"[..])
        .await
        .unwrap();
    let data = carol.incoming().await;
    assert_eq!(
        (data.connection, data.data.as_ref()),
        (accepted, &b"found you"[..])
    );

    carol
        .node
        .set_node_attributes(carol.graph, Some("room=kitchen"))
        .unwrap();
    assert_eq!(
        node_change(&mut nodes).await,
        ("carol".to_owned(), NodeChangeKind::Updated)
    );
    let carol_id = found.node_id;
    assert_eq!(
        alice
            .node
            .node_info_of(alice.graph, carol_id)
            .unwrap()
            .attributes,
        "room=kitchen"
    );
    carol.node.close_graph(carol.graph).unwrap();
    assert_eq!(
        node_change(&mut nodes).await,
        ("carol".to_owned(), NodeChangeKind::Disconnected)
    );
    assert_eq!(
        alice.node.node_info_of(alice.graph, carol_id),
        Err(NodeError::NodeNotFound)
    );
}

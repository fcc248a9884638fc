//! No received message is ever dropped: an application that reads slowly, or not at all, holds
//! its connection's sender back through the receive window and transport flow control, without
//! slowing any other connection. On both transports.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use peergraph::{
    Config, ConnectionId, ConnectionInfo, ConnectionKinds, ConnectionStatus, EventType,
    GraphConfig, GraphEvent, GraphHandle, NodeConfig, PeerGraph, SendError, TransportKind,
};
use support::{GRAPH, PATIENCE, TYPE_A, TestNode, connect, eventually, node_with, within};

on_both_transports! {
    a_late_reader_gets_every_message_in_order_while_its_sender_waits,
    a_connection_held_by_its_application_does_not_hold_up_another,
    a_receiver_that_never_reads_and_closes_leaves_no_sender_waiting,
    every_registration_for_data_gets_every_message_in_order,
    a_connection_held_longer_than_the_idle_timeout_stays_up,
}

/// The receive window of the receivers below, in messages.
const WINDOW: usize = 256;

/// Messages of 1 KiB each. 40 MiB is more than the receive window, the sender's queue and every
/// socket buffer and QUIC window between them together, so the sender cannot finish while its
/// receiver does not read.
const MESSAGES: usize = 40 * 1024;

/// Message `index`: 1 KiB that tells every message apart.
fn message(index: usize) -> Vec<u8> {
    let mut bytes = vec![(index % 251) as u8; 1024];
    bytes[..8].copy_from_slice(&(index as u64).to_le_bytes());
    bytes
}

/// A receiver whose connections hold at most [`WINDOW`] unread messages.
async fn receiver(kind: TransportKind, peer_id: &str) -> TestNode {
    let mut config = NodeConfig::default();
    config.limits.receive_window_messages = WINDOW;
    node_with(kind, config, GraphConfig::new(GRAPH, peer_id)).await
}

/// A sender whose connections queue at most 256 KiB.
async fn sender(kind: TransportKind) -> TestNode {
    let mut config = NodeConfig::default();
    config.limits.max_queued_bytes_per_connection = 256 * 1024;
    TestNode::with_config(
        Config::new(kind).with_node(config),
        GraphConfig::new(GRAPH, "alice"),
    )
    .await
}

/// Sends [`MESSAGES`] messages on `connection` with the waiting `send_data`, counting each one
/// queued; the task ends with the first error.
fn send_all(
    node: &PeerGraph,
    graph: GraphHandle,
    connection: ConnectionId,
) -> (
    tokio::task::JoinHandle<Result<(), SendError>>,
    Arc<AtomicUsize>,
) {
    let node = node.clone();
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let task = tokio::spawn(async move {
        for index in 0..MESSAGES {
            node.send_data(graph, connection, TYPE_A, message(index))
                .await?;
            counter.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    (task, sent)
}

/// What `node` reports about `connection` of `graph`.
fn info(node: &PeerGraph, graph: GraphHandle, connection: ConnectionId) -> ConnectionInfo {
    node.enum_connections(graph, ConnectionKinds::DIRECT)
        .unwrap()
        .into_iter()
        .find(|info| info.id == connection)
        .expect("the connection is listed")
}

/// Waits until `node` holds `connection` with a full window: [`WINDOW`] messages unread.
async fn wait_until_held(node: &PeerGraph, graph: GraphHandle, connection: ConnectionId) {
    eventually("the receive window fills and holds the link", || {
        info(node, graph, connection).receive_held
    })
    .await;
    let held = info(node, graph, connection);
    assert_eq!(
        held.unread_messages, WINDOW as u64,
        "reading stopped exactly at the window"
    );
}

/// Takes events from `events` until [`MESSAGES`] messages have come, checking each is the next.
async fn read_all_in_order(events: &mut peergraph::EventStream) {
    let mut next = 0;
    let mut batch = Vec::new();
    while next < MESSAGES {
        within("the next messages", events.next_batch(&mut batch, 512)).await;
        for event in batch.drain(..) {
            if let GraphEvent::IncomingData(data) = event {
                assert!(data.data == message(next), "message {next} differs");
                next += 1;
            }
        }
    }
}

async fn a_late_reader_gets_every_message_in_order_while_its_sender_waits(kind: TransportKind) {
    let mut alice = sender(kind).await;
    let mut bob = receiver(kind, "bob").await;
    let (at_alice, at_bob) = connect(&mut alice, &mut bob).await;
    let (sending, sent) = send_all(&alice.node, alice.graph, at_alice);
    // Bob's application reads nothing yet: his node stops reading at the window.
    wait_until_held(&bob.node, bob.graph, at_bob).await;
    assert!(
        !sending.is_finished(),
        "the sender waits while its receiver does not read ({} of {MESSAGES} queued)",
        sent.load(Ordering::Relaxed)
    );
    // A connection held by its own application is not idle: it is still listed as connected.
    assert!(matches!(
        info(&alice.node, alice.graph, at_alice).state,
        peergraph::ConnectionState::Connected
    ));
    read_all_in_order(&mut bob.events).await;
    within("the sender finishes", sending)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info(&bob.node, bob.graph, at_bob).unread_messages, 0);
}

async fn a_connection_held_by_its_application_does_not_hold_up_another(kind: TransportKind) {
    let mut alice = sender(kind).await;
    let mut bob = receiver(kind, "bob").await;
    let (held_at_alice, held_at_bob) = connect(&mut alice, &mut bob).await;
    // A second graph on both nodes, with its own registration that bob reads.
    let other = GraphConfig::new("other-graph", "bob");
    let bob_other = bob.node.create_graph(other).unwrap();
    let mut bob_other_events = bob
        .node
        .register_event(
            bob_other,
            &[EventType::DirectConnection, EventType::IncomingData],
        )
        .unwrap();
    let alice_other = alice
        .node
        .create_graph(GraphConfig::new("other-graph", "alice"))
        .unwrap();
    let mut alice_other_events = alice
        .node
        .register_event(alice_other, &[EventType::DirectConnection])
        .unwrap();
    let locator = bob.locator();
    let free_at_alice = alice
        .node
        .open_direct_connection(alice_other, "bob", locator.address)
        .unwrap();
    within("the second connection", async {
        loop {
            if let Some(GraphEvent::DirectConnection(change)) = alice_other_events.next().await {
                assert!(
                    matches!(change.status, ConnectionStatus::Connected(_)),
                    "{change:?}"
                );
                return;
            }
        }
    })
    .await;

    let (held_sending, _) = send_all(&alice.node, alice.graph, held_at_alice);
    wait_until_held(&bob.node, bob.graph, held_at_bob).await;
    let (free_sending, _) = send_all(&alice.node, alice_other, free_at_alice);
    read_all_in_order(&mut bob_other_events).await;
    within("the free sender finishes", free_sending)
        .await
        .unwrap()
        .unwrap();
    let held = info(&bob.node, bob.graph, held_at_bob);
    assert!(
        held.receive_held && held.unread_messages == WINDOW as u64,
        "the first connection stayed held all along: {held:?}"
    );
    assert!(!held_sending.is_finished());
    read_all_in_order(&mut bob.events).await;
    within("the held sender finishes", held_sending)
        .await
        .unwrap()
        .unwrap();
}

async fn a_receiver_that_never_reads_and_closes_leaves_no_sender_waiting(kind: TransportKind) {
    let mut alice = sender(kind).await;
    let mut bob = receiver(kind, "bob").await;
    let (at_alice, at_bob) = connect(&mut alice, &mut bob).await;
    let (sending, _) = send_all(&alice.node, alice.graph, at_alice);
    wait_until_held(&bob.node, bob.graph, at_bob).await;
    bob.node.close_direct_connection(bob.graph, at_bob).unwrap();
    let status = alice.change_for(at_alice).await;
    assert!(
        matches!(status, ConnectionStatus::Disconnected(_)),
        "{status:?}"
    );
    let ended = tokio::time::timeout(PATIENCE, sending)
        .await
        .expect("the waiting send_data returns once the connection is gone")
        .unwrap();
    assert!(
        matches!(ended, Err(SendError::ConnectionNotFound)),
        "{ended:?}"
    );
}

async fn every_registration_for_data_gets_every_message_in_order(kind: TransportKind) {
    let mut alice = sender(kind).await;
    let mut bob = receiver(kind, "bob").await;
    let mut second = bob
        .node
        .register_event(bob.graph, &[EventType::IncomingData])
        .unwrap();
    let (at_alice, _) = connect(&mut alice, &mut bob).await;
    let (sending, _) = send_all(&alice.node, alice.graph, at_alice);
    // Each registration reads at its own pace on its own task; each copy counts against the
    // window, so the slower one sets the pace and neither loses a message.
    let other = tokio::spawn(async move {
        read_all_in_order(&mut second).await;
        second
    });
    read_all_in_order(&mut bob.events).await;
    within("the second registration", other).await.unwrap();
    within("the sender finishes", sending)
        .await
        .unwrap()
        .unwrap();
}

/// Short idle and keepalive timeouts, for a connection held longer than its idle timeout.
fn short_idle(mut config: NodeConfig) -> NodeConfig {
    config.timeouts.idle = std::time::Duration::from_secs(1);
    config.timeouts.keepalive = std::time::Duration::from_millis(300);
    config
}

async fn a_connection_held_longer_than_the_idle_timeout_stays_up(kind: TransportKind) {
    let mut receiving = NodeConfig::default();
    receiving.limits.receive_window_messages = WINDOW;
    let mut bob = node_with(kind, short_idle(receiving), GraphConfig::new(GRAPH, "bob")).await;
    let mut sending = NodeConfig::default();
    sending.limits.max_queued_bytes_per_connection = 256 * 1024;
    let mut alice = node_with(kind, short_idle(sending), GraphConfig::new(GRAPH, "alice")).await;
    let (at_alice, at_bob) = connect(&mut alice, &mut bob).await;
    let (sending, _) = send_all(&alice.node, alice.graph, at_alice);
    wait_until_held(&bob.node, bob.graph, at_bob).await;
    // Bob's node reads nothing from the link and alice's writes are blocked. Wait until alice
    // has received ten of bob's keepalives (2-byte frames, one per 300 ms): three idle timeouts
    // have passed, and each side would have timed the other out by then.
    let start = info(&alice.node, alice.graph, at_alice).bytes_received;
    eventually("ten keepalives from the holding side", || {
        info(&alice.node, alice.graph, at_alice).bytes_received >= start + 10 * 2
    })
    .await;
    for (node, graph, connection) in [(&alice, alice.graph, at_alice), (&bob, bob.graph, at_bob)] {
        let state = info(&node.node, graph, connection).state;
        assert!(
            matches!(state, peergraph::ConnectionState::Connected),
            "still connected: {state:?}"
        );
    }
    read_all_in_order(&mut bob.events).await;
    within("the sender finishes", sending)
        .await
        .unwrap()
        .unwrap();
}

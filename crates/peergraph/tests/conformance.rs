//! One conformance suite, run against both transports through the public API on loopback with
//! real TLS 1.3 and real QUIC. Numbers in test docs refer to the checklist of the Windows API
//! reference (section f).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::time::Duration;

use bytes::Bytes;
use peergraph::{
    AuthFailure, BatchSendError, Config, ConnectionKinds, ConnectionState, ConnectionStatus,
    Direction, DisconnectReason, EnumError, EventError, EventType, FailReason, GraphConfig,
    GraphError, GraphEvent, GraphOpenError, GraphStatus, HandleError, ListenError, NotInitialized,
    OpenError, PEER_GRAPH_VERSION, PeerAddress, PeerGraph, ProtocolViolation, RegisterError,
    SendError, StartupError, TransportKind,
};
use support::{GRAPH, TYPE_A, TestNode, connect, within};

on_both_transports! {
    calls_before_startup_fail_with_not_initialized,
    startup_rejects_other_versions_and_is_counted,
    last_shutdown_releases_everything_and_peers_see_disconnected,
    a_closed_graph_handle_is_invalid_and_its_peers_are_disconnected,
    listen_on_port_zero_binds_and_sets_listening,
    opening_a_connection_to_yourself_fails_with_connect_self,
    open_returns_an_id_even_when_the_target_refuses,
    an_unregistered_target_refuses_and_its_application_sees_nothing,
    the_acceptor_sees_connected_and_lists_the_initiator,
    enum_connections_filters_by_kind_and_rejects_no_kind,
    send_data_on_an_unknown_id_is_connection_not_found,
    data_arrives_in_order_identical_with_the_receivers_id,
    a_receiver_without_incoming_data_registration_gets_no_event,
    after_close_send_and_close_are_connection_not_found_and_the_peer_is_disconnected,
    closing_the_graph_disconnects_every_peer,
    registering_no_event_types_is_invalid,
    each_registration_gets_its_own_filtered_copy,
    events_are_fifo_and_try_next_reports_empty,
    an_unregistered_stream_is_dead,
    node_info_reports_the_local_peer_id_and_status,
    a_pinned_identity_that_matches_connects,
    a_pinned_identity_that_differs_fails_not_authenticated,
    the_right_graph_secret_connects,
    a_wrong_graph_secret_fails_and_the_target_sees_nothing,
    a_missing_graph_secret_fails_and_the_target_sees_nothing,
    a_frame_over_the_maximum_ends_the_connection_as_a_protocol_violation,
    a_peer_that_closes_mid_handshake_fails_the_attempt,
    many_direct_connections_between_the_same_two_nodes,
    both_sides_sending_at_once,
    a_64_mib_message_stream_arrives_intact,
    try_send_data_reports_backpressure_and_send_data_waits_for_room,
    finish_closing_lets_a_process_exit_right_after_a_close_without_losing_data,
    batches_queue_in_order_wait_for_room_and_arrive_as_separate_events,
}

/// 1.
async fn calls_before_startup_fail_with_not_initialized(kind: TransportKind) {
    let node = PeerGraph::new(Config::new(kind)).unwrap();
    assert!(matches!(
        node.create_graph(GraphConfig::new(GRAPH, "p")),
        Err(GraphOpenError::Graph(GraphError::NotInitialized))
    ));
    assert_eq!(node.shutdown(), Err(NotInitialized));
    let listened = node.listen("127.0.0.1:0".parse().unwrap()).await;
    assert!(matches!(listened, Err(ListenError::NotInitialized)));
}

/// 2, 3.
async fn startup_rejects_other_versions_and_is_counted(kind: TransportKind) {
    let node = PeerGraph::new(Config::new(kind)).unwrap();
    assert_eq!(
        node.startup(0x0002),
        Err(StartupError::UnsupportedVersion { requested: 2 })
    );
    let version = node.startup(PEER_GRAPH_VERSION).unwrap();
    assert_eq!((version.version, version.highest_version), (1, 1));
    node.startup(PEER_GRAPH_VERSION).unwrap();
    let graph = node.create_graph(GraphConfig::new(GRAPH, "p")).unwrap();
    node.shutdown().unwrap();
    assert!(node.node_info(graph).is_ok());
    node.shutdown().unwrap();
    assert_eq!(node.shutdown(), Err(NotInitialized));
}

/// 4.
async fn last_shutdown_releases_everything_and_peers_see_disconnected(kind: TransportKind) {
    let mut alice = TestNode::new(kind, "alice").await;
    let mut bob = TestNode::new(kind, "bob").await;
    let (_, at_bob) = connect(&mut alice, &mut bob).await;
    alice.node.shutdown().unwrap();
    assert_eq!(
        bob.change_for(at_bob).await,
        ConnectionStatus::Disconnected(DisconnectReason::PeerGraphClosed)
    );
    assert_eq!(
        within("stream end", alice.events.next()).await,
        None,
        "alice's stream ended"
    );
    assert_eq!(
        alice.node.node_info(alice.graph),
        Err(HandleError::NotInitialized)
    );
    assert_eq!(alice.node.local_addr(), None, "no longer listening");
}

/// 11, 29.
async fn a_closed_graph_handle_is_invalid_and_its_peers_are_disconnected(kind: TransportKind) {
    let mut alice = TestNode::new(kind, "alice").await;
    let mut bob = TestNode::new(kind, "bob").await;
    let (_, at_bob) = connect(&mut alice, &mut bob).await;
    alice.node.close_graph(alice.graph).unwrap();
    assert_eq!(
        alice.node.close_graph(alice.graph),
        Err(HandleError::InvalidGraph)
    );
    assert!(matches!(
        alice
            .node
            .open_direct_connection(alice.graph, "bob", bob.locator().address),
        Err(OpenError::InvalidGraph)
    ));
    assert_eq!(
        bob.change_for(at_bob).await,
        ConnectionStatus::Disconnected(DisconnectReason::PeerGraphClosed)
    );
}

/// 13.
async fn listen_on_port_zero_binds_and_sets_listening(kind: TransportKind) {
    let node = PeerGraph::new(Config::new(kind)).unwrap();
    node.startup(PEER_GRAPH_VERSION).unwrap();
    let graph = node.create_graph(GraphConfig::new(GRAPH, "p")).unwrap();
    let mut events = node
        .register_event(graph, &[EventType::StatusChanged])
        .unwrap();
    let bound = node.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
    assert_ne!(bound.port(), 0);
    assert_eq!(node.local_addr(), Some(bound));
    let event = within("status change", events.next()).await.unwrap();
    assert!(matches!(event, GraphEvent::StatusChanged(s) if s.contains(GraphStatus::LISTENING)));
    let again = node.listen("127.0.0.1:0".parse().unwrap()).await;
    assert!(matches!(again, Err(ListenError::AlreadyListening(addr)) if addr == bound));
}

/// 19.
async fn opening_a_connection_to_yourself_fails_with_connect_self(kind: TransportKind) {
    let alice = TestNode::new(kind, "alice").await;
    let own = alice.locator();
    assert_eq!(
        alice
            .node
            .open_direct_connection(alice.graph, &own.peer_id, own.address),
        Err(OpenError::ConnectSelf)
    );
}

/// 20.
async fn open_returns_an_id_even_when_the_target_refuses(kind: TransportKind) {
    let mut alice = TestNode::new(kind, "alice").await;
    let bob = TestNode::new(kind, "bob").await;
    let id = alice
        .node
        .open_direct_connection(alice.graph, "nobody", bob.locator().address)
        .unwrap();
    assert_eq!(
        alice.change_for(id).await,
        ConnectionStatus::Failed(FailReason::Refused)
    );
}

/// 21.
async fn an_unregistered_target_refuses_and_its_application_sees_nothing(kind: TransportKind) {
    let mut alice = TestNode::new(kind, "alice").await;
    let bob = TestNode::new(kind, "bob").await;
    let TestNode {
        node: bob_node,
        graph: bob_graph,
        events: bob_events,
        ..
    } = bob;
    let locator = bob_node.locator("bob").unwrap();
    bob_events.unregister().unwrap();
    let mut data_only = bob_node
        .register_event(bob_graph, &[EventType::IncomingData])
        .unwrap();
    let id = alice
        .node
        .open_direct_connection(alice.graph, "bob", locator.address)
        .unwrap();
    assert_eq!(
        alice.change_for(id).await,
        ConnectionStatus::Failed(FailReason::Refused)
    );
    assert_eq!(data_only.try_next(), Ok(None));
    assert!(
        bob_node
            .enum_connections(bob_graph, ConnectionKinds::DIRECT)
            .unwrap()
            .is_empty()
    );
}

/// 22.
async fn the_acceptor_sees_connected_and_lists_the_initiator(kind: TransportKind) {
    let mut alice = TestNode::new(kind, "alice").await;
    let mut bob = TestNode::new(kind, "bob").await;
    let (at_alice, at_bob) = connect(&mut alice, &mut bob).await;
    let listed = bob
        .node
        .enum_connections(bob.graph, ConnectionKinds::DIRECT)
        .unwrap();
    assert_eq!(listed.len(), 1);
    let info = &listed[0];
    assert_eq!(
        (info.id, info.peer_id.as_str(), info.direction),
        (at_bob, "alice", Direction::Inbound)
    );
    assert_eq!(info.state, ConnectionState::Connected);
    assert_eq!(info.identity, Some(alice.node.identity()));
    let mine = alice
        .node
        .enum_connections(alice.graph, ConnectionKinds::DIRECT)
        .unwrap();
    assert_eq!(mine[0].id, at_alice);
    assert_eq!(mine[0].identity, Some(bob.node.identity()));
    assert_eq!(mine[0].address, bob.node.local_addr());
    let bob_node_id = bob.node.node_info(bob.graph).unwrap().node_id;
    assert_eq!(mine[0].node_id, Some(bob_node_id));
}

/// 23.
async fn enum_connections_filters_by_kind_and_rejects_no_kind(kind: TransportKind) {
    let mut alice = TestNode::new(kind, "alice").await;
    let mut bob = TestNode::new(kind, "bob").await;
    connect(&mut alice, &mut bob).await;
    let neighbors = alice
        .node
        .enum_connections(alice.graph, ConnectionKinds::NEIGHBOR)
        .unwrap();
    assert!(neighbors.is_empty());
    assert_eq!(
        alice
            .node
            .enum_connections(alice.graph, ConnectionKinds::ALL)
            .unwrap()
            .len(),
        1
    );
    let none = ConnectionKinds::from_bits(0).unwrap();
    assert!(matches!(
        alice.node.enum_connections(alice.graph, none),
        Err(EnumError::InvalidArgument { .. })
    ));
}

/// 24.
async fn send_data_on_an_unknown_id_is_connection_not_found(kind: TransportKind) {
    let mut alice = TestNode::new(kind, "alice").await;
    let mut bob = TestNode::new(kind, "bob").await;
    let (at_alice, _) = connect(&mut alice, &mut bob).await;
    // The id is alive, but in another graph: unknown to this one.
    let other = alice
        .node
        .create_graph(GraphConfig::new("another-graph", "alice"))
        .unwrap();
    let sent = alice
        .node
        .send_data(other, at_alice, TYPE_A, Bytes::new())
        .await;
    assert_eq!(sent, Err(SendError::ConnectionNotFound));
    let sent = alice
        .node
        .send_data(alice.graph, at_alice, TYPE_A, Bytes::new())
        .await;
    assert_eq!(sent, Ok(()), "the same id is known to its own graph");
}

/// 25.
async fn data_arrives_in_order_identical_with_the_receivers_id(kind: TransportKind) {
    let mut alice = TestNode::new(kind, "alice").await;
    let mut bob = TestNode::new(kind, "bob").await;
    let (at_alice, at_bob) = connect(&mut alice, &mut bob).await;
    for index in 0..100u32 {
        let payload = index.to_be_bytes().repeat(1 + index as usize);
        alice
            .node
            .send_data(alice.graph, at_alice, TYPE_A, payload)
            .await
            .unwrap();
    }
    for index in 0..100u32 {
        let data = bob.incoming().await;
        assert_eq!((data.connection, data.type_id), (at_bob, TYPE_A));
        assert_eq!(
            data.data,
            Bytes::from(index.to_be_bytes().repeat(1 + index as usize))
        );
    }
}

/// 26.
async fn a_receiver_without_incoming_data_registration_gets_no_event(kind: TransportKind) {
    let mut alice = TestNode::new(kind, "alice").await;
    let mut bob = TestNode::new(kind, "bob").await;
    let mut connections_only = bob
        .node
        .register_event(bob.graph, &[EventType::DirectConnection])
        .unwrap();
    let (at_alice, at_bob) = connect(&mut alice, &mut bob).await;
    alice
        .node
        .send_data(alice.graph, at_alice, TYPE_A, &b"one"[..])
        .await
        .unwrap();
    bob.incoming().await; // the full registration got it, so it has arrived
    let mut seen = Vec::new();
    while let Some(event) = connections_only.try_next().unwrap() {
        seen.push(event);
    }
    assert!(
        seen.iter()
            .all(|e| matches!(e, GraphEvent::DirectConnection(c) if c.connection == at_bob))
    );
    assert_eq!(seen.len(), 1, "only Connected: {seen:?}");
}

/// 28.
async fn after_close_send_and_close_are_connection_not_found_and_the_peer_is_disconnected(
    kind: TransportKind,
) {
    let mut alice = TestNode::new(kind, "alice").await;
    let mut bob = TestNode::new(kind, "bob").await;
    let (at_alice, at_bob) = connect(&mut alice, &mut bob).await;
    alice
        .node
        .send_data(alice.graph, at_alice, TYPE_A, &b"before close"[..])
        .await
        .unwrap();
    alice
        .node
        .close_direct_connection(alice.graph, at_alice)
        .unwrap();
    let sent = alice
        .node
        .try_send_data(alice.graph, at_alice, TYPE_A, &b"x"[..]);
    assert_eq!(sent, Err(SendError::ConnectionNotFound));
    assert_eq!(
        alice.node.close_direct_connection(alice.graph, at_alice),
        Err(peergraph::CloseError::ConnectionNotFound)
    );
    assert_eq!(
        alice.change_for(at_alice).await,
        ConnectionStatus::Disconnected(DisconnectReason::ClosedLocally)
    );
    assert_eq!(
        bob.incoming().await.data,
        Bytes::from_static(b"before close")
    );
    assert_eq!(
        bob.change_for(at_bob).await,
        ConnectionStatus::Disconnected(DisconnectReason::ClosedByPeer)
    );
}

/// 29.
async fn closing_the_graph_disconnects_every_peer(kind: TransportKind) {
    let mut hub = TestNode::new(kind, "hub").await;
    let mut one = TestNode::new(kind, "one").await;
    let mut two = TestNode::new(kind, "two").await;
    let (_, at_one) = connect(&mut hub, &mut one).await;
    let (at_two, _) = connect(&mut two, &mut hub).await;
    hub.node.close_graph(hub.graph).unwrap();
    let closed = ConnectionStatus::Disconnected(DisconnectReason::PeerGraphClosed);
    assert_eq!(one.change_for(at_one).await, closed);
    assert_eq!(two.change_for(at_two).await, closed);
}

/// 30.
async fn registering_no_event_types_is_invalid(kind: TransportKind) {
    let alice = TestNode::new(kind, "alice").await;
    assert!(matches!(
        alice.node.register_event(alice.graph, &[]),
        Err(RegisterError::InvalidArgument { .. })
    ));
    assert_eq!(EventType::from_code(10), None);
}

/// 31.
async fn each_registration_gets_its_own_filtered_copy(kind: TransportKind) {
    let mut alice = TestNode::new(kind, "alice").await;
    let mut bob = TestNode::new(kind, "bob").await;
    let mut second = bob
        .node
        .register_event(bob.graph, &[EventType::IncomingData])
        .unwrap();
    let (at_alice, _) = connect(&mut alice, &mut bob).await;
    alice
        .node
        .send_data(alice.graph, at_alice, TYPE_A, &b"copy"[..])
        .await
        .unwrap();
    let first_copy = bob.incoming().await;
    let second_copy = within("second copy", second.next()).await.unwrap();
    assert_eq!(GraphEvent::IncomingData(first_copy), second_copy);
}

/// 32.
async fn events_are_fifo_and_try_next_reports_empty(kind: TransportKind) {
    let mut alice = TestNode::new(kind, "alice").await;
    let mut bob = TestNode::new(kind, "bob").await;
    let (at_alice, _) = connect(&mut alice, &mut bob).await;
    for index in 0..10u8 {
        alice
            .node
            .send_data(alice.graph, at_alice, TYPE_A, vec![index])
            .await
            .unwrap();
    }
    for index in 0..10u8 {
        assert_eq!(bob.incoming().await.data.as_ref(), &[index]);
    }
    assert_eq!(bob.events.try_next(), Ok(None));
}

/// 33.
async fn an_unregistered_stream_is_dead(kind: TransportKind) {
    let alice = TestNode::new(kind, "alice").await;
    let mut stream = alice
        .node
        .register_event(alice.graph, &[EventType::IncomingData])
        .unwrap();
    let handle = stream.handle();
    alice.node.close_graph(alice.graph).unwrap();
    assert_eq!(stream.try_next(), Err(EventError::InvalidRegistration));
    assert_eq!(within("end", stream.next()).await, None);
    let _ = handle;
}

/// 35.
async fn node_info_reports_the_local_peer_id_and_status(kind: TransportKind) {
    let alice = TestNode::new(kind, "alice").await;
    let info = alice.node.node_info(alice.graph).unwrap();
    assert_eq!(
        (info.graph_id.as_str(), info.peer_id.as_str()),
        (GRAPH, "alice")
    );
    assert!(info.status.contains(GraphStatus::LISTENING));
    assert!(info.status.contains(GraphStatus::SYNCHRONIZED));
}

async fn a_pinned_identity_that_matches_connects(kind: TransportKind) {
    let mut alice = TestNode::new(kind, "alice").await;
    let mut bob = TestNode::new(kind, "bob").await;
    assert_eq!(bob.locator().address.identity, Some(bob.node.identity()));
    connect(&mut alice, &mut bob).await;
}

async fn a_pinned_identity_that_differs_fails_not_authenticated(kind: TransportKind) {
    let mut alice = TestNode::new(kind, "alice").await;
    let mut bob = TestNode::new(kind, "bob").await;
    let wrong = PeerAddress::pinned(bob.node.local_addr().unwrap(), alice.node.identity());
    let id = alice
        .node
        .open_direct_connection(alice.graph, "bob", wrong)
        .unwrap();
    assert_eq!(
        alice.change_for(id).await,
        ConnectionStatus::Failed(FailReason::NotAuthenticated(AuthFailure::IdentityMismatch))
    );
    assert_eq!(bob.events.try_next(), Ok(None));
}

async fn secret_world(
    kind: TransportKind,
    alice: Option<&str>,
    bob: Option<&str>,
) -> (TestNode, TestNode) {
    let graph = |peer: &str, secret: Option<&str>| match secret {
        Some(secret) => GraphConfig::new(GRAPH, peer).with_secret(secret),
        None => GraphConfig::new(GRAPH, peer),
    };
    (
        TestNode::with_graph(kind, graph("alice", alice)).await,
        TestNode::with_graph(kind, graph("bob", bob)).await,
    )
}

async fn the_right_graph_secret_connects(kind: TransportKind) {
    let (mut alice, mut bob) = secret_world(kind, Some("s3cret"), Some("s3cret")).await;
    connect(&mut alice, &mut bob).await;
}

async fn a_wrong_graph_secret_fails_and_the_target_sees_nothing(kind: TransportKind) {
    let (mut alice, mut bob) = secret_world(kind, Some("guess"), Some("s3cret")).await;
    let id = alice.open_to(&bob);
    assert_eq!(
        alice.change_for(id).await,
        ConnectionStatus::Failed(FailReason::NotAuthenticated(AuthFailure::MembershipProof))
    );
    assert_eq!(bob.events.try_next(), Ok(None));
}

async fn a_missing_graph_secret_fails_and_the_target_sees_nothing(kind: TransportKind) {
    let (mut alice, mut bob) = secret_world(kind, None, Some("s3cret")).await;
    let id = alice.open_to(&bob);
    assert_eq!(
        alice.change_for(id).await,
        ConnectionStatus::Failed(FailReason::NotAuthenticated(AuthFailure::MembershipProof))
    );
    assert_eq!(bob.events.try_next(), Ok(None));
}

async fn a_frame_over_the_maximum_ends_the_connection_as_a_protocol_violation(kind: TransportKind) {
    let mut small = peergraph::NodeConfig::default();
    small.limits.max_message_size = 64 * 1024;
    let mut alice = TestNode::new(kind, "alice").await;
    let mut bob = TestNode::with_config(
        Config::new(kind).with_node(small),
        GraphConfig::new(GRAPH, "bob"),
    )
    .await;
    let (at_alice, at_bob) = connect(&mut alice, &mut bob).await;
    // Alice's limit is the default 16 MiB, so she sends what Bob refuses to read.
    alice
        .node
        .send_data(alice.graph, at_alice, TYPE_A, vec![0u8; 1 << 20])
        .await
        .unwrap();
    assert_eq!(
        bob.change_for(at_bob).await,
        ConnectionStatus::Disconnected(DisconnectReason::ProtocolViolation(
            ProtocolViolation::FrameTooLarge
        ))
    );
    let ended = alice.change_for(at_alice).await;
    assert!(
        matches!(ended, ConnectionStatus::Disconnected(_)),
        "{ended:?}"
    );
}

async fn a_peer_that_closes_mid_handshake_fails_the_attempt(kind: TransportKind) {
    let mut quick = peergraph::NodeConfig::default();
    quick.timeouts.handshake = Duration::from_secs(2);
    let config = Config::new(kind).with_node(quick);
    let mut alice = TestNode::with_config(config, GraphConfig::new(GRAPH, "alice")).await;
    // Bob accepts the link (TLS completes), then drops it when the Hello arrives: his node
    // shuts down while the attempt is in flight.
    let bob = TestNode::new(kind, "bob").await;
    let id = alice.open_to(&bob);
    bob.node.shutdown().unwrap();
    let status = alice.change_for(id).await;
    assert!(
        matches!(
            status,
            ConnectionStatus::Failed(
                FailReason::LinkLost
                    | FailReason::Unreachable
                    | FailReason::Refused
                    | FailReason::TimedOut
            )
        ),
        "{status:?}"
    );
}

async fn many_direct_connections_between_the_same_two_nodes(kind: TransportKind) {
    let mut alice = TestNode::new(kind, "alice").await;
    let mut bob = TestNode::new(kind, "bob").await;
    let ids: Vec<_> = (0..40).map(|_| alice.open_to(&bob)).collect();
    let mut pending: std::collections::HashSet<_> = ids.iter().copied().collect();
    within("all connected", async {
        while !pending.is_empty() {
            if let Some(GraphEvent::DirectConnection(change)) = alice.events.next().await {
                assert!(
                    matches!(change.status, ConnectionStatus::Connected(_)),
                    "{change:?}"
                );
                assert!(pending.remove(&change.connection));
            }
        }
    })
    .await;
    for (index, id) in ids.iter().enumerate() {
        alice
            .node
            .send_data(alice.graph, *id, TYPE_A, vec![index as u8])
            .await
            .unwrap();
    }
    let mut by_connection = std::collections::HashMap::new();
    for _ in 0..ids.len() {
        let data = bob.incoming().await;
        assert!(
            by_connection
                .insert(data.connection, data.data[0])
                .is_none()
        );
    }
    let listed = bob
        .node
        .enum_connections(bob.graph, ConnectionKinds::DIRECT)
        .unwrap();
    assert_eq!(listed.len(), ids.len());
}

async fn both_sides_sending_at_once(kind: TransportKind) {
    let mut alice = TestNode::new(kind, "alice").await;
    let mut bob = TestNode::new(kind, "bob").await;
    let (at_alice, at_bob) = connect(&mut alice, &mut bob).await;
    let (a, b) = (alice.node.clone(), bob.node.clone());
    let (ga, gb) = (alice.graph, bob.graph);
    let send_a = tokio::spawn(async move {
        for index in 0..500u32 {
            a.send_data(ga, at_alice, TYPE_A, index.to_le_bytes().to_vec())
                .await
                .unwrap();
        }
    });
    let send_b = tokio::spawn(async move {
        for index in 0..500u32 {
            b.send_data(gb, at_bob, TYPE_A, index.to_le_bytes().to_vec())
                .await
                .unwrap();
        }
    });
    for index in 0..500u32 {
        assert_eq!(alice.incoming().await.data.as_ref(), index.to_le_bytes());
        assert_eq!(bob.incoming().await.data.as_ref(), index.to_le_bytes());
    }
    send_a.await.unwrap();
    send_b.await.unwrap();
}

async fn a_64_mib_message_stream_arrives_intact(kind: TransportKind) {
    let mut alice = TestNode::new(kind, "alice").await;
    let mut bob = TestNode::new(kind, "bob").await;
    let (at_alice, _) = connect(&mut alice, &mut bob).await;
    const CHUNK: usize = 1 << 20;
    let chunk = |index: usize| -> Bytes {
        (0..CHUNK)
            .map(|offset| (offset * 31 + index * 7) as u8)
            .collect::<Vec<u8>>()
            .into()
    };
    let (sender, graph) = (alice.node.clone(), alice.graph);
    let send = tokio::spawn(async move {
        for index in 0..64 {
            sender
                .send_data(graph, at_alice, TYPE_A, chunk(index))
                .await
                .unwrap();
        }
    });
    for index in 0..64 {
        let data = tokio::time::timeout(Duration::from_secs(60), bob.incoming())
            .await
            .unwrap();
        assert!(data.data == chunk(index), "chunk {index} differs");
    }
    send.await.unwrap();
}

async fn try_send_data_reports_backpressure_and_send_data_waits_for_room(kind: TransportKind) {
    let mut tight = peergraph::NodeConfig::default();
    tight.limits.max_queued_bytes_per_connection = 256 * 1024;
    let mut alice = TestNode::with_config(
        Config::new(kind).with_node(tight),
        GraphConfig::new(GRAPH, "alice"),
    )
    .await;
    let mut bob = TestNode::new(kind, "bob").await;
    let (at_alice, _) = connect(&mut alice, &mut bob).await;
    let mut refused = 0;
    for _ in 0..64 {
        match alice
            .node
            .try_send_data(alice.graph, at_alice, TYPE_A, vec![0u8; 128 * 1024])
        {
            Ok(()) => {}
            Err(SendError::QueueFull { limit, .. }) => {
                assert_eq!(limit, 256 * 1024);
                refused += 1;
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!(refused > 0, "a 256 KiB queue cannot take 8 MiB at once");
    let accepted = 64 - refused;
    // The waiting variant never refuses; everything it queued arrives.
    for _ in 0..16 {
        alice
            .node
            .send_data(alice.graph, at_alice, TYPE_A, vec![1u8; 128 * 1024])
            .await
            .unwrap();
    }
    for _ in 0..accepted + 16 {
        bob.incoming().await;
    }
}

async fn finish_closing_lets_a_process_exit_right_after_a_close_without_losing_data(
    kind: TransportKind,
) {
    let mut bob = TestNode::new(kind, "bob").await;
    let target = bob.locator();
    // Alice lives on her own runtime, dropped right after `finish_closing` as a process would
    // exit: every task of hers dies with it.
    let alice_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sent = alice_runtime.spawn(async move {
        let mut alice = TestNode::new(kind, "alice").await;
        let id = alice
            .node
            .open_direct_connection(alice.graph, "bob", target.address)
            .unwrap();
        assert!(matches!(
            alice.change_for(id).await,
            ConnectionStatus::Connected(_)
        ));
        for index in 0..32u8 {
            alice
                .node
                .send_data(alice.graph, id, TYPE_A, vec![index; 256 * 1024])
                .await
                .unwrap();
        }
        alice.node.close_direct_connection(alice.graph, id).unwrap();
        within("finish closing", alice.node.finish_closing()).await;
    });
    within("alice's part", sent).await.unwrap();
    alice_runtime.shutdown_background();
    let at_bob = bob.accepted().await;
    for index in 0..32u8 {
        let data = bob.incoming().await;
        assert!(data.data.len() == 256 * 1024 && data.data.iter().all(|b| *b == index));
    }
    assert_eq!(
        bob.change_for(at_bob).await,
        ConnectionStatus::Disconnected(DisconnectReason::ClosedByPeer)
    );
}

async fn batches_queue_in_order_wait_for_room_and_arrive_as_separate_events(kind: TransportKind) {
    let mut tight = peergraph::NodeConfig::default();
    tight.limits.max_queued_bytes_per_connection = 64 * 1024;
    tight.limits.max_message_size = 4 * 1024;
    let mut alice = TestNode::with_config(
        Config::new(kind).with_node(tight),
        GraphConfig::new(GRAPH, "alice"),
    )
    .await;
    let mut bob = TestNode::new(kind, "bob").await;
    let (at_alice, at_bob) = connect(&mut alice, &mut bob).await;
    let mut data_events = bob
        .node
        .register_event(bob.graph, &[EventType::IncomingData])
        .unwrap();
    let message = |index: usize| Bytes::from(index.to_be_bytes().repeat(128)); // 1 KiB
    let batch: Vec<Bytes> = (0..300).map(message).collect();
    let queued = alice
        .node
        .try_send_data_batch(alice.graph, at_alice, TYPE_A, &batch)
        .unwrap();
    assert!(
        (1..=64).contains(&queued),
        "a 64 KiB queue takes at most 64 one-KiB messages at once, not {queued}"
    );
    // The waiting variant queues the rest as room appears.
    alice
        .node
        .send_data_batch(alice.graph, at_alice, TYPE_A, &batch[queued..])
        .await
        .unwrap();
    // A message over the limit stops the batch there; what came before it is queued.
    let mut with_oversized: Vec<Bytes> = (300..302).map(message).collect();
    with_oversized.push(Bytes::from(vec![0; 4 * 1024 + 1]));
    with_oversized.push(message(302));
    let stopped = alice
        .node
        .send_data_batch(alice.graph, at_alice, TYPE_A, &with_oversized)
        .await;
    assert_eq!(
        stopped,
        Err(BatchSendError {
            queued: 2,
            error: SendError::MessageTooLarge {
                size: 4 * 1024 + 1,
                max: 4 * 1024
            }
        })
    );
    // Each message arrives as its own event, in order, however they are taken.
    let mut events = Vec::new();
    within("302 messages in batches", async {
        while events.len() < 302 {
            let before = events.len();
            let taken = data_events.next_batch(&mut events, 7).await;
            assert!((1..=7).contains(&taken), "took {taken}");
            assert_eq!(events.len(), before + taken);
        }
    })
    .await;
    for (index, event) in events.iter().enumerate() {
        let GraphEvent::IncomingData(data) = event else {
            panic!("event {index} is {event:?}");
        };
        assert_eq!((data.connection, data.type_id), (at_bob, TYPE_A));
        assert!(data.data == message(index), "message {index} differs");
    }
    assert_eq!(
        data_events.try_next(),
        Ok(None),
        "nothing more: message 302 was not sent"
    );
    assert_eq!(data_events.next_batch(&mut events, 0).await, 0);
    bob.node.shutdown().unwrap();
    assert_eq!(
        data_events.next_batch(&mut events, 10).await,
        0,
        "a dead registration ends the batches"
    );
}

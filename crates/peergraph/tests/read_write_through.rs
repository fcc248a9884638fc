//! Tasks that read links while waiting for events, and write frames they queue: nothing they
//! give up or set aside holds data up for long, and concurrent senders keep their order.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::Duration;

use futures_core::Stream;
use peergraph::{EventStream, EventType, GraphConfig, GraphEvent, NodeConfig, TransportKind};
use support::{GRAPH, TYPE_A, TestNode, connect, node_with, within};

on_both_transports!(
    a_wait_given_up_holds_up_no_link,
    a_wait_set_aside_holds_up_a_link_until_the_next_timer_at_most,
    concurrent_senders_on_one_connection_keep_their_order,
);

/// Bob with keepalives `keepalive` apart (so his timer fires at least that often while a link
/// is up).
async fn bob_with_keepalive(kind: TransportKind, keepalive: Duration) -> TestNode {
    let mut config = NodeConfig::default();
    config.timeouts.keepalive = keepalive;
    config.timeouts.idle = keepalive * 3;
    node_with(kind, config, GraphConfig::new(GRAPH, "bob")).await
}

/// Polls `future` once; true if it is pending.
async fn pending_once(future: Pin<&mut impl Future>) -> bool {
    let mut future = future;
    std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx).is_pending())).await
}

/// The next event of `stream` taken through the `Stream` trait, which only waits: it reads no
/// link, so the event arrives only once some other task has read it.
async fn next_through_trait(stream: &mut EventStream) -> GraphEvent {
    std::future::poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx))
        .await
        .unwrap()
}

async fn a_wait_given_up_holds_up_no_link(kind: TransportKind) {
    let mut alice = TestNode::new(kind, "alice").await;
    // Keepalives far beyond the test's patience: a link waiting for the timer fails the test.
    let mut bob = bob_with_keepalive(kind, Duration::from_secs(120)).await;
    let (at_alice, _) = connect(&mut alice, &mut bob).await;
    let mut waiter = bob
        .node
        .register_event(bob.graph, &[EventType::IncomingData])
        .unwrap();
    let mut watcher = bob
        .node
        .register_event(bob.graph, &[EventType::IncomingData])
        .unwrap();
    {
        let given_up = pin!(waiter.next());
        assert!(pending_once(given_up).await, "nothing has been sent yet");
    }
    alice
        .node
        .send_data(alice.graph, at_alice, TYPE_A, &b"after the wait"[..])
        .await
        .unwrap();
    let GraphEvent::IncomingData(data) = within(
        "data read by the link's own task",
        next_through_trait(&mut watcher),
    )
    .await
    else {
        panic!("not data");
    };
    assert_eq!(data.data.as_ref(), b"after the wait");
    // The stream that gave up its wait has its copy queued all the same.
    assert!(matches!(
        waiter.try_next(),
        Ok(Some(GraphEvent::IncomingData(_)))
    ));
}

async fn a_wait_set_aside_holds_up_a_link_until_the_next_timer_at_most(kind: TransportKind) {
    let mut alice = TestNode::new(kind, "alice").await;
    let mut bob = bob_with_keepalive(kind, Duration::from_millis(200)).await;
    let (at_alice, _) = connect(&mut alice, &mut bob).await;
    let mut waiter = bob
        .node
        .register_event(bob.graph, &[EventType::IncomingData])
        .unwrap();
    let mut watcher = bob
        .node
        .register_event(bob.graph, &[EventType::IncomingData])
        .unwrap();
    let mut set_aside = pin!(waiter.next());
    assert!(pending_once(set_aside.as_mut()).await);
    alice
        .node
        .send_data(alice.graph, at_alice, TYPE_A, &b"while set aside"[..])
        .await
        .unwrap();
    // The link is handed to the wait set aside, which this task does not poll; the node's timer
    // (a keepalive is due within 200 ms) hands it back to the link's own task.
    let GraphEvent::IncomingData(data) = within(
        "data read once the timer gave the link back",
        next_through_trait(&mut watcher),
    )
    .await
    else {
        panic!("not data");
    };
    assert_eq!(data.data.as_ref(), b"while set aside");
    let Some(GraphEvent::IncomingData(copy)) = within("the set-aside wait", set_aside).await else {
        panic!("not data");
    };
    assert_eq!(copy, data);
}

async fn concurrent_senders_on_one_connection_keep_their_order(kind: TransportKind) {
    const SENDERS: u32 = 4;
    const MESSAGES: u32 = 2_000;
    let mut alice = TestNode::new(kind, "alice").await;
    let mut bob = TestNode::new(kind, "bob").await;
    let (at_alice, _) = connect(&mut alice, &mut bob).await;
    // Each sender's messages are (sender, index); some go one at a time, some in batches, so
    // frames are written both by the senders themselves and by the link's writer task.
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let (node, graph) = (alice.node.clone(), alice.graph);
            tokio::spawn(async move {
                let message = |index: u32| {
                    let mut bytes = sender.to_le_bytes().to_vec();
                    bytes.extend_from_slice(&index.to_le_bytes());
                    bytes::Bytes::from(bytes)
                };
                let mut index = 0;
                while index < MESSAGES {
                    if index % 3 == 0 {
                        let batch: Vec<_> =
                            (index..(index + 10).min(MESSAGES)).map(message).collect();
                        node.send_data_batch(graph, at_alice, TYPE_A, &batch)
                            .await
                            .unwrap();
                        index += batch.len() as u32;
                    } else {
                        node.send_data(graph, at_alice, TYPE_A, message(index))
                            .await
                            .unwrap();
                        index += 1;
                    }
                }
            })
        })
        .collect();
    let mut next = vec![0u32; SENDERS as usize];
    within("every message", async {
        for _ in 0..SENDERS * MESSAGES {
            let data = bob.incoming().await;
            let field = |at: usize| u32::from_le_bytes(data.data[at..at + 4].try_into().unwrap());
            let (sender, index) = (field(0) as usize, field(4));
            assert_eq!(
                index, next[sender],
                "sender {sender}'s messages out of order"
            );
            next[sender] += 1;
        }
    })
    .await;
    for sender in senders {
        sender.await.unwrap();
    }
    assert!(next.iter().all(|&count| count == MESSAGES));
}

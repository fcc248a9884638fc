//! Tasks that read links while waiting for events, and write frames they queue: nothing they
//! give up or set aside holds data up for long, and concurrent senders keep their order.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::Duration;

use futures_core::Stream;
use peergraph::{
    ConnectionId, ConnectionStatus, DisconnectReason, EventStream, EventType, GraphConfig,
    GraphEvent, IncomingData, NodeConfig, TransportKind,
};
use support::{GRAPH, TYPE_A, TestNode, connect, node_with, within};

on_both_transports!(
    a_wait_given_up_holds_up_no_link,
    a_wait_set_aside_holds_up_a_link_until_the_next_timer_at_most,
    concurrent_senders_on_one_connection_keep_their_order,
    a_thread_outside_the_runtime_sends_and_closes,
);

/// A node whose links send a keepalive `keepalive` after their last frame, so that its timer
/// runs at least that often while a link is up, and no more often if nothing else is due.
async fn with_keepalive(kind: TransportKind, peer_id: &str, keepalive: Duration) -> TestNode {
    let mut config = NodeConfig::default();
    config.timeouts.keepalive = keepalive;
    config.timeouts.idle = keepalive * 3;
    node_with(kind, config, GraphConfig::new(GRAPH, peer_id)).await
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

/// Alice connected to Bob, and two more registrations of Bob's for incoming data: `waiter`,
/// whose wait each test gives up or sets aside, and `watcher`, which only waits (see
/// [`next_through_trait`]).
struct Watched {
    alice: TestNode,
    _bob: TestNode,
    at_alice: ConnectionId,
    waiter: EventStream,
    watcher: EventStream,
}

impl Watched {
    /// Alice's and Bob's links send keepalives these intervals apart.
    async fn new(kind: TransportKind, alice: Duration, bob: Duration) -> Self {
        let mut alice = with_keepalive(kind, "alice", alice).await;
        let mut bob = with_keepalive(kind, "bob", bob).await;
        let (at_alice, _) = connect(&mut alice, &mut bob).await;
        let register = || {
            bob.node
                .register_event(bob.graph, &[EventType::IncomingData])
                .unwrap()
        };
        let (waiter, watcher) = (register(), register());
        Self {
            alice,
            _bob: bob,
            at_alice,
            waiter,
            watcher,
        }
    }
}

/// Alice sends `payload` on `at_alice`; returns it as `watcher` takes it, once some other task
/// has read it.
async fn send_and_watch(
    alice: &TestNode,
    at_alice: ConnectionId,
    watcher: &mut EventStream,
    payload: &'static [u8],
    what: &str,
) -> IncomingData {
    alice
        .node
        .send_data(alice.graph, at_alice, TYPE_A, payload)
        .await
        .unwrap();
    let GraphEvent::IncomingData(data) = within(what, next_through_trait(watcher)).await else {
        panic!("not data");
    };
    assert_eq!(data.data.as_ref(), payload);
    data
}

async fn a_wait_given_up_holds_up_no_link(kind: TransportKind) {
    // Keepalives (and so the nodes' timers) far beyond the test's patience on both sides: a link
    // that waits for a timer, or for the peer's keepalive, fails the test.
    let long = Duration::from_secs(120);
    let mut watched = Watched::new(kind, long, long).await;
    {
        let given_up = pin!(watched.waiter.next());
        assert!(pending_once(given_up).await, "nothing has been sent yet");
    }
    send_and_watch(
        &watched.alice,
        watched.at_alice,
        &mut watched.watcher,
        b"after the wait",
        "data read by the link's own task",
    )
    .await;
    // The stream that gave up its wait has its copy queued all the same.
    assert!(matches!(
        watched.waiter.try_next(),
        Ok(Some(GraphEvent::IncomingData(_)))
    ));
}

async fn a_wait_set_aside_holds_up_a_link_until_the_next_timer_at_most(kind: TransportKind) {
    const KEEPALIVE: Duration = Duration::from_millis(200);
    let mut watched = Watched::new(kind, Duration::from_secs(120), KEEPALIVE).await;
    let mut set_aside = pin!(watched.waiter.next());
    assert!(pending_once(set_aside.as_mut()).await);
    let sent = std::time::Instant::now();
    // The link is handed to the wait set aside, which this task does not poll; the node's timer
    // (a keepalive is due within 200 ms) reads it.
    let data = send_and_watch(
        &watched.alice,
        watched.at_alice,
        &mut watched.watcher,
        b"while set aside",
        "data read once the timer gave the link back",
    )
    .await;
    // Bounded by the keepalive, with room for a slow machine; without the timer the data would
    // wait for the peer's next frame, two minutes away.
    let waited = sent.elapsed();
    assert!(waited < KEEPALIVE * 25, "the data waited {waited:?}");
    let Some(GraphEvent::IncomingData(copy)) = within("the set-aside wait", set_aside).await else {
        panic!("not data");
    };
    assert_eq!(copy, data);
}

/// Tasks sending on one connection at once.
const SENDERS: u32 = 4;

async fn concurrent_senders_on_one_connection_keep_their_order(kind: TransportKind) {
    const MESSAGES: u32 = 2_000;
    let mut alice = TestNode::new(kind, "alice").await;
    let mut bob = TestNode::new(kind, "bob").await;
    let (at_alice, at_bob) = connect(&mut alice, &mut bob).await;
    // Each sender's messages are (sender, index); some go one at a time, some in batches, and
    // the senders race each other and the link's task to drive the link. Bob sends every
    // message back, so frames keep arriving at Alice while her senders write: each arrival lets
    // the next send write through (see the runtime's `LinkDriver::armed`).
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
    let echo = tokio::spawn(async move {
        let mut next = InOrder::default();
        for _ in 0..SENDERS * MESSAGES {
            let data = bob.incoming().await;
            next.check(&data.data);
            bob.node
                .send_data(bob.graph, at_bob, TYPE_A, data.data)
                .await
                .unwrap();
        }
        next
    });
    let mut echoed = InOrder::default();
    within("every message back", async {
        for _ in 0..SENDERS * MESSAGES {
            echoed.check(&alice.incoming().await.data);
        }
    })
    .await;
    for sender in senders {
        sender.await.unwrap();
    }
    let received = echo.await.unwrap();
    for seen in [received, echoed] {
        assert_eq!(seen.next, [MESSAGES; SENDERS as usize]);
    }
}

/// Checks that each sender's messages come in order.
#[derive(Default)]
struct InOrder {
    next: [u32; SENDERS as usize],
}

impl InOrder {
    fn check(&mut self, message: &[u8]) {
        let field = |at: usize| u32::from_le_bytes(message[at..at + 4].try_into().unwrap());
        let (sender, index) = (field(0) as usize, field(4));
        assert_eq!(
            index, self.next[sender],
            "sender {sender}'s messages out of order"
        );
        self.next[sender] += 1;
    }
}

/// A plain thread of the application (or a C caller of the ABI) has no runtime to drive a link
/// with: its sends and closes are left to the links' tasks, and arrive all the same. Each call
/// comes right after a frame arrived, when a call on a runtime thread would drive the link
/// itself (see the runtime's `LinkDriver::armed`).
async fn a_thread_outside_the_runtime_sends_and_closes(kind: TransportKind) {
    let mut alice = TestNode::new(kind, "alice").await;
    let mut bob = TestNode::new(kind, "bob").await;
    let (at_alice, at_bob) = connect(&mut alice, &mut bob).await;
    let outside = |call: Box<dyn FnOnce() + Send>| {
        std::thread::spawn(move || {
            assert!(tokio::runtime::Handle::try_current().is_err(), "outside");
            call();
        })
        .join()
        .expect("the call returns");
    };
    for index in 0..3u8 {
        bob.node
            .send_data(bob.graph, at_bob, TYPE_A, vec![index])
            .await
            .unwrap();
        assert_eq!(alice.incoming().await.data.as_ref(), [index]);
        let (node, graph) = (alice.node.clone(), alice.graph);
        outside(Box::new(move || {
            node.try_send_data(graph, at_alice, TYPE_A, vec![index + 10])
                .unwrap();
        }));
        assert_eq!(bob.incoming().await.data.as_ref(), [index + 10]);
    }
    bob.node
        .send_data(bob.graph, at_bob, TYPE_A, vec![99])
        .await
        .unwrap();
    assert_eq!(alice.incoming().await.data.as_ref(), [99]);
    let (node, graph) = (alice.node.clone(), alice.graph);
    outside(Box::new(move || {
        node.close_direct_connection(graph, at_alice).unwrap();
    }));
    assert_eq!(
        bob.change_for(at_bob).await,
        ConnectionStatus::Disconnected(DisconnectReason::ClosedByPeer)
    );
}

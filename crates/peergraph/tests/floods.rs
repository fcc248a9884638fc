//! Strangers flooding a listener hold only their own source's share of what it offers before
//! authentication: each flood comes from 127.0.0.2, while a real peer on 127.0.0.1 connects and
//! exchanges data as it runs.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use peergraph::{Config, GraphConfig, InboundLimits, NodeConfig, TransportKind};
use peergraph_proto::v1 as wire;
use peergraph_transport::{Identity, SERVER_NAME};
use prost::Message;
use support::{GRAPH, HalfOpenQuic, TYPE_A, TestNode, connect, within};
use tokio::io::AsyncReadExt;

on_both_transports! {
    strangers_that_never_say_hello_hold_only_their_sources_share,
}

mod tcp_only {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connections_that_never_start_tls_hold_only_their_sources_share() {
        super::connections_that_never_start_tls_hold_only_their_sources_share().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_silent_tcp_connection_is_closed_at_the_first_byte_deadline() {
        super::a_silent_tcp_connection_is_closed_at_the_first_byte_deadline().await;
    }
}

mod quic_only {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn under_load_unvalidated_addresses_get_a_retry_instead_of_a_handshake_slot() {
        super::under_load_unvalidated_addresses_get_a_retry_instead_of_a_handshake_slot().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connections_that_open_no_stream_hold_only_their_sources_share_and_are_closed() {
        super::connections_that_open_no_stream_hold_only_their_sources_share_and_are_closed().await;
    }
}

/// Where every flood comes from: another loopback address than the real peer's.
const STRANGER: &str = "127.0.0.2:0";

fn graph(peer: &str) -> GraphConfig {
    GraphConfig::new(GRAPH, peer)
}

/// A target with these inbound limits, listening on loopback.
async fn target(kind: TransportKind, node: NodeConfig, inbound: InboundLimits) -> TestNode {
    TestNode::with_config(
        Config::new(kind).with_node(node).with_inbound(inbound),
        graph("target"),
    )
    .await
}

/// The real peer connects `count` times and sends a message on each, which the target gets.
async fn real_peer_connects(good: &mut TestNode, target: &mut TestNode, count: usize) {
    for _ in 0..count {
        let (at_good, at_target) = connect(good, target).await;
        good.node
            .send_data(good.graph, at_good, TYPE_A, &b"still here"[..])
            .await
            .unwrap();
        let data = target.incoming().await;
        assert_eq!(data.connection, at_target);
    }
}

/// A TLS client over TCP from [`STRANGER`], with a self-signed certificate of its own.
async fn stranger_tls(addr: SocketAddr) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(STRANGER.parse().unwrap()).unwrap();
    let tcp = socket.connect(addr).await.unwrap();
    let identity = Identity::generate().unwrap();
    let tls = peergraph_transport::client_config(&identity).unwrap();
    let name = rustls::pki_types::ServerName::try_from(SERVER_NAME).unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(tls))
        .connect(name, tcp)
        .await
        .unwrap()
}

/// A QUIC endpoint on [`STRANGER`] with a self-signed certificate of its own.
fn stranger_quic() -> (quinn::Endpoint, quinn::ClientConfig) {
    let identity = Identity::generate().unwrap();
    let tls = peergraph_transport::client_config(&identity).unwrap();
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
    let endpoint = quinn::Endpoint::client(STRANGER.parse().unwrap()).unwrap();
    (endpoint, quinn::ClientConfig::new(Arc::new(crypto)))
}

/// Whether `frame` (length prefix included) is a Refuse.
fn is_refuse(frame: &[u8]) -> bool {
    frame.len() > 4
        && matches!(
            wire::Frame::decode(&frame[4..]).map(|frame| frame.kind),
            Ok(Some(wire::frame::Kind::Refuse(_)))
        )
}

/// Reads one frame (prefix included) from a stream, or `None` at its end.
async fn read_frame(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> Option<Vec<u8>> {
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).await.ok()?;
    let mut frame = prefix.to_vec();
    frame.resize(4 + u32::from_be_bytes(prefix) as usize, 0);
    stream.read_exact(&mut frame[4..]).await.ok()?;
    Some(frame)
}

/// Strangers that finish the transport handshake and then say nothing wait for their Hello in
/// the node's pending slots. 40 of them from one source, against 40 slots of which a source
/// may hold 8: the node refuses the 32 beyond the share at once, and the real peer finds the
/// slots it needs. Without the share, the strangers would hold every slot and the real peer
/// would be refused.
async fn strangers_that_never_say_hello_hold_only_their_sources_share(kind: TransportKind) {
    const STRANGERS: usize = 40;
    const SHARE: usize = 8;
    let mut node = NodeConfig::default();
    node.limits.max_pending_handshakes = STRANGERS;
    node.limits.max_pending_handshakes_per_source = SHARE;
    // Long enough that no stranger is dropped for its silence while the test runs.
    node.timeouts.hello = Duration::from_secs(60);
    node.timeouts.handshake = Duration::from_secs(60);
    let mut target = target(kind, node, InboundLimits::default()).await;
    let mut good = TestNode::new(kind, "good").await;
    let addr = target.node.local_addr().unwrap();
    // Each stranger waits, on its own task, for what the node says to it.
    let (answers, mut answered) = tokio::sync::mpsc::unbounded_channel();
    let mut listening = Vec::new();
    let mut keep: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
    match kind {
        TransportKind::Tcp => {
            for _ in 0..STRANGERS {
                let mut stranger = stranger_tls(addr).await;
                let answers = answers.clone();
                listening.push(tokio::spawn(async move {
                    let frame = read_frame(&mut stranger).await;
                    let _ = answers.send(frame.is_some_and(|frame| is_refuse(&frame)));
                }));
            }
        }
        TransportKind::Quic => {
            let (endpoint, config) = stranger_quic();
            let connection = endpoint
                .connect_with(config, addr, SERVER_NAME)
                .unwrap()
                .await
                .unwrap();
            for _ in 0..STRANGERS {
                let (mut send, mut recv) = connection.open_bi().await.unwrap();
                // A stream appears to the node once written to: half a length prefix.
                send.write_all(&[0, 0]).await.unwrap();
                keep.push(Box::new(send));
                let answers = answers.clone();
                listening.push(tokio::spawn(async move {
                    let frame = read_frame(&mut recv).await;
                    let _ = answers.send(frame.is_some_and(|frame| is_refuse(&frame)));
                }));
            }
            keep.push(Box::new(connection));
            keep.push(Box::new(endpoint));
        }
    }
    // Those beyond the share are refused as soon as the node accepts them.
    for _ in 0..STRANGERS - SHARE {
        let refused = within("a stranger beyond the share is refused", answered.recv()).await;
        assert_eq!(refused, Some(true), "answered with a Refuse");
    }
    real_peer_connects(&mut good, &mut target, 8).await;
    let silent = listening.iter().filter(|task| !task.is_finished()).count();
    assert_eq!(silent, SHARE, "the share still waits, unanswered");
    drop(keep);
    real_peer_connects(&mut good, &mut target, 8).await;
}

/// Plain TCP connections that never start TLS wait in the transport's handshake budget. 16 of
/// them from one source, against a budget of 16 of which a source may hold 4: the 12 beyond
/// the share are closed at once, and the real peer connects while the 4 within it wait. Without
/// the share, they would hold the whole budget and the real peer's connections would be closed
/// unanswered.
async fn connections_that_never_start_tls_hold_only_their_sources_share() {
    let mut inbound = InboundLimits::default();
    inbound.handshakes = 16;
    inbound.handshakes_per_source = 4;
    // Long enough that no silent connection is dropped for its silence while the test runs.
    inbound.first_byte_timeout = Duration::from_secs(60);
    let mut target = target(TransportKind::Tcp, NodeConfig::default(), inbound).await;
    let mut good = TestNode::new(TransportKind::Tcp, "good").await;
    let addr = target.node.local_addr().unwrap();
    let (closures, mut closed) = tokio::sync::mpsc::unbounded_channel();
    let mut silent = Vec::new();
    for _ in 0..16 {
        let mut stream = silent_tcp(addr).await;
        let closures = closures.clone();
        silent.push(tokio::spawn(async move {
            let mut byte = [0u8; 1];
            let _ = closures.send(stream.read(&mut byte).await.ok());
        }));
    }
    for _ in 0..12 {
        let read = within("a connection beyond the share is closed", closed.recv()).await;
        assert!(
            matches!(read, Some(None | Some(0))),
            "closed unanswered: {read:?}"
        );
    }
    real_peer_connects(&mut good, &mut target, 8).await;
    let waiting = silent.iter().filter(|task| !task.is_finished()).count();
    assert_eq!(waiting, 4, "the share still waits");
}

/// A TCP connection from [`STRANGER`] that sends nothing.
async fn silent_tcp(addr: SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(STRANGER.parse().unwrap()).unwrap();
    socket.connect(addr).await.unwrap()
}

/// A TCP connection that sends nothing is closed at the first-byte deadline, long before the
/// TLS handshake timeout.
async fn a_silent_tcp_connection_is_closed_at_the_first_byte_deadline() {
    let mut inbound = InboundLimits::default();
    inbound.first_byte_timeout = Duration::from_millis(500);
    let mut node = NodeConfig::default();
    node.timeouts.handshake = Duration::from_secs(60);
    let target = target(TransportKind::Tcp, node, inbound).await;
    let mut stream = silent_tcp(target.node.local_addr().unwrap()).await;
    let started = std::time::Instant::now();
    let mut byte = [0u8; 1];
    let read = within(
        "the node closes the silent connection",
        stream.read(&mut byte),
    )
    .await;
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "closed at the first-byte deadline, not the 60 s handshake timeout"
    );
}

/// QUIC connections that finish their handshake and open no stream cost the node memory: they
/// are capped in all and per source, and closed at the first-byte deadline. 20 from one source,
/// against a cap of 16 of which a source may hold 4.
async fn connections_that_open_no_stream_hold_only_their_sources_share_and_are_closed() {
    let mut inbound = InboundLimits::default();
    inbound.quic_connections = 16;
    inbound.quic_connections_per_source = 4;
    inbound.first_byte_timeout = Duration::from_secs(2);
    let mut target = target(TransportKind::Quic, NodeConfig::default(), inbound).await;
    let mut good = TestNode::new(TransportKind::Quic, "good").await;
    let addr = target.node.local_addr().unwrap();
    let (endpoint, config) = stranger_quic();
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..20 {
        match endpoint
            .connect_with(config.clone(), addr, SERVER_NAME)
            .unwrap()
            .await
        {
            Ok(connection) => held.push(connection),
            Err(_) => refused += 1,
        }
    }
    assert_eq!(
        (held.len(), refused),
        (4, 16),
        "the source got its share and no more"
    );
    real_peer_connects(&mut good, &mut target, 8).await;
    for connection in held {
        let reason = within(
            "the node closes a connection without streams",
            connection.closed(),
        )
        .await;
        assert!(
            matches!(&reason, quinn::ConnectionError::ApplicationClosed(close) if close.reason == Bytes::from_static(b"no stream in time")),
            "{reason:?}"
        );
    }
}

/// A budget of 4 QUIC handshakes. Two half-open ones from addresses that never answer take half
/// of it; from then on the listener answers an address it has not validated with a Retry, which
/// a spoofed source never completes: six more of them take no slot, and the real peer (which
/// completes its Retry) connects. Without the Retry, they would fill the budget and the real
/// peer would be refused.
async fn under_load_unvalidated_addresses_get_a_retry_instead_of_a_handshake_slot() {
    let mut inbound = InboundLimits::default();
    inbound.handshakes = 4;
    inbound.handshakes_per_source = 4;
    let mut target = target(TransportKind::Quic, NodeConfig::default(), inbound).await;
    let mut good = TestNode::new(TransportKind::Quic, "good").await;
    let addr = target.node.local_addr().unwrap();
    let mut half_open = Vec::new();
    for _ in 0..8 {
        half_open.push(HalfOpenQuic::start(STRANGER, addr).await);
    }
    real_peer_connects(&mut good, &mut target, 4).await;
    drop(half_open);
}

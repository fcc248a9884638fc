//! Faults over real transports on loopback, each run on TCP and on QUIC: a peer process killed
//! mid-transfer, hostile or broken clients that never reach the application, the handshake
//! timeout freeing pending slots and firing on time behind a later deadline, authentication
//! failures under load, the connection limit, and a registration dropped in the middle of a
//! handshake.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use peergraph::{
    AuthFailure, ConnectionId, ConnectionKinds, ConnectionStatus, DisconnectReason, EventType,
    FailReason, GraphConfig, GraphEvent, NodeConfig, PeerAddress, PeerLocator, SendError,
    TransportKind,
};
use peergraph_transport::{Connector, Identity, SERVER_NAME, TransportConfig};
use support::{GRAPH, HalfOpenQuic, TYPE_A, TestNode, connect, eventually, node_with, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_both_transports! {
    a_killed_peer_process_is_disconnected_within_the_idle_timeout,
    garbage_and_clients_that_never_speak_tls_are_dropped_while_a_good_peer_works,
    an_oversized_first_frame_is_dropped_before_the_application_sees_it,
    a_client_that_never_finishes_tls_is_dropped_without_hurting_others,
    a_client_that_never_sends_hello_is_dropped_at_the_handshake_timeout_and_frees_its_slot,
    a_deadline_earlier_than_the_one_the_timer_sleeps_until_fires_on_time,
    wrong_secrets_and_identities_under_load_never_reach_the_target,
    the_connection_limit_refuses_and_a_closed_slot_is_reused,
    unregistering_mid_handshake_gives_exactly_one_terminal_outcome,
    a_peer_that_stops_reading_cannot_hold_a_closed_connection_open,
    a_peer_that_closes_and_ends_its_side_gets_a_clean_end_back_every_time,
}

const IDLE: Duration = Duration::from_secs(3);
const KEEPALIVE: Duration = Duration::from_secs(1);
const HANDSHAKE: Duration = Duration::from_secs(2);
/// Scheduling slack on a loaded two-core machine.
const MARGIN: Duration = Duration::from_secs(2);

fn short_idle() -> NodeConfig {
    let mut config = NodeConfig::default();
    config.timeouts.idle = IDLE;
    config.timeouts.keepalive = KEEPALIVE;
    config
}

fn short_handshake() -> NodeConfig {
    let mut config = NodeConfig::default();
    config.timeouts.handshake = HANDSHAKE;
    config
}

fn graph(peer: &str) -> GraphConfig {
    GraphConfig::new(GRAPH, peer)
}

fn is_connected(status: &ConnectionStatus) -> bool {
    matches!(status, ConnectionStatus::Connected(_))
}

/// Sends one message each way on an established pair and checks both arrive.
async fn exchange(
    (a, at_a): (&mut TestNode, ConnectionId),
    (b, at_b): (&mut TestNode, ConnectionId),
) {
    a.node
        .send_data(a.graph, at_a, TYPE_A, &b"ping"[..])
        .await
        .unwrap();
    let ping = b.incoming().await;
    assert_eq!((ping.connection, ping.data.as_ref()), (at_b, &b"ping"[..]));
    b.node
        .send_data(b.graph, at_b, TYPE_A, &b"pong"[..])
        .await
        .unwrap();
    let pong = a.incoming().await;
    assert_eq!((pong.connection, pong.data.as_ref()), (at_a, &b"pong"[..]));
}

/// Every `DirectConnection` event queued on `node` is about one of `allowed`.
fn only_events_about(node: &mut TestNode, allowed: &[ConnectionId]) {
    while let Some(event) = node.events.try_next().unwrap() {
        match event {
            GraphEvent::DirectConnection(change) => assert!(
                allowed.contains(&change.connection),
                "the application saw a connection it should not have: {change:?}"
            ),
            GraphEvent::IncomingData(data) => assert!(allowed.contains(&data.connection)),
            _ => {}
        }
    }
}

// ------------------------------------------------------------------ a peer process killed

/// Set in the environment of a re-executed test binary: the transport the peer process runs.
const CHILD_ENV: &str = "PEERGRAPH_FAULT_CHILD";
/// The test the re-executed binary runs; a no-op unless [`CHILD_ENV`] is set.
const CHILD_ENTRY: &str = "peer_process_entry";
/// Prefix of the stdout line on which the peer process announces its locator.
const LOCATOR_LINE: &str = "PEERGRAPH-LOCATOR ";

/// The peer process: listens, prints its locator, and once a connection arrives streams data
/// on it until killed (or a minute passes, so a lost parent cannot leave it running).
#[test]
fn peer_process_entry() {
    let Ok(transport) = std::env::var(CHILD_ENV) else {
        return;
    };
    let kind: TransportKind = transport.parse().unwrap();
    let runtime = child_runtime();
    runtime.block_on(async {
        let mut peer = node_with(kind, short_idle(), graph("child")).await;
        println!("{LOCATOR_LINE}{}", peer.locator());
        let connection = peer.accepted().await;
        let (node, graph) = (peer.node.clone(), peer.graph);
        let stream = tokio::spawn(async move {
            for index in 0u64..10_000_000 {
                let payload = index.to_be_bytes().repeat(16);
                if node
                    .send_data(graph, connection, TYPE_A, payload)
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        let drain = async {
            // Keeps the registration's queue short while the parent streams to us.
            while peer.events.next().await.is_some() {}
        };
        let _ = tokio::time::timeout(Duration::from_secs(60), drain).await;
        stream.abort();
    });
}

/// The runtime of a child process: two workers, like the parent's tests.
fn child_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Kills the child on drop, so a failed assertion leaves no process behind.
struct PeerProcess(Child);

impl Drop for PeerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_peer_process(kind: TransportKind) -> (PeerProcess, PeerLocator) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", CHILD_ENTRY, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, kind.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let process = PeerProcess(child);
    let line = within(
        "the peer process prints its locator",
        tokio::task::spawn_blocking(move || {
            let mut lines = std::io::BufReader::new(stdout).lines();
            // The harness prints a few lines of its own first.
            for _ in 0..100 {
                let line = lines.next()?.ok()?;
                // The harness may have written `test NAME ... ` on the same line.
                if let Some((_, locator)) = line.split_once(LOCATOR_LINE) {
                    return Some(locator.to_owned());
                }
            }
            None
        }),
    )
    .await
    .unwrap()
    .expect("the peer process printed no locator");
    (process, line.parse().unwrap())
}

async fn a_killed_peer_process_is_disconnected_within_the_idle_timeout(kind: TransportKind) {
    // A small send queue, so our sender is waiting for room when the peer dies.
    let mut config = short_idle();
    config.limits.max_queued_bytes_per_connection = 64 * 1024;
    let mut me = node_with(kind, config, graph("parent")).await;
    let (mut process, child) = start_peer_process(kind).await;
    let id = me
        .node
        .open_direct_connection(me.graph, &child.peer_id, child.address)
        .unwrap();
    let status = me.change_for(id).await;
    assert!(is_connected(&status), "{status:?}");
    let (node, graph) = (me.node.clone(), me.graph);
    let sender = tokio::spawn(async move {
        for _ in 0..10_000_000 {
            let sent = node.send_data(graph, id, TYPE_A, vec![7u8; 1024]).await;
            if let Err(error) = sent {
                return error;
            }
        }
        panic!("ten million sends to a killed peer all succeeded");
    });
    // Mid-transfer: data is flowing both ways.
    for _ in 0..10 {
        assert_eq!(me.incoming().await.connection, id);
    }
    process.0.kill().unwrap(); // SIGKILL: the peer says nothing more
    let killed = Instant::now();
    process.0.wait().unwrap();
    let status = tokio::time::timeout(IDLE + MARGIN, me.change_for(id))
        .await
        .unwrap_or_else(|_| panic!("no Disconnected within {:?}", IDLE + MARGIN));
    let elapsed = killed.elapsed();
    println!("{kind}: killed peer reported as {status:?} after {elapsed:?}");
    assert!(
        matches!(
            status,
            ConnectionStatus::Disconnected(DisconnectReason::LinkLost | DisconnectReason::TimedOut)
        ),
        "{status:?}"
    );
    // A sender waiting for queue room learns that the connection is gone.
    let error = within("the blocked sender returns", sender).await.unwrap();
    assert_eq!(error, SendError::ConnectionNotFound);
    assert!(
        me.node
            .enum_connections(me.graph, ConnectionKinds::DIRECT)
            .unwrap()
            .is_empty()
    );
}

// ------------------------------------------------------------------ raw clients

/// A client that completed TLS with the node through the bare transport, below the graph
/// protocol: it can send any frame, or nothing.
enum RawLink {
    Tcp(peergraph_transport_tcp::Link),
    Quic {
        _transport: peergraph_transport_quic::QuicTransport,
        link: peergraph_transport_quic::Link,
    },
}

impl RawLink {
    async fn dial(kind: TransportKind, addr: SocketAddr) -> Self {
        let identity = Identity::generate().unwrap();
        let config = TransportConfig::default();
        match kind {
            TransportKind::Tcp => {
                let transport =
                    peergraph_transport_tcp::TcpTransport::new(&identity, config).unwrap();
                Self::Tcp(transport.dial(addr, None).await.unwrap())
            }
            TransportKind::Quic => {
                let transport =
                    peergraph_transport_quic::QuicTransport::new(&identity, config).unwrap();
                let link = transport.dial(addr, None).await.unwrap();
                Self::Quic {
                    _transport: transport,
                    link,
                }
            }
        }
    }

    async fn write(&mut self, frame: Bytes) {
        // The node may already have dropped the link: that is what is being tested.
        let _ = match self {
            Self::Tcp(link) => link.writer.write_frames(&[frame]).await,
            Self::Quic { link, .. } => link.writer.write_frames(&[frame]).await,
        };
    }

    /// Whether the node sent a frame or ended the link within `moment`.
    async fn answered_within(&mut self, moment: Duration) -> bool {
        let read = async {
            match self {
                Self::Tcp(link) => link.reader.read_frame().await,
                Self::Quic { link, .. } => link.reader.read_frame().await,
            }
        };
        tokio::time::timeout(moment, read).await.is_ok()
    }

    /// Waits until the node ends the link: a clean end or an error, never a frame.
    async fn closed_by_node(&mut self) {
        let read = match self {
            Self::Tcp(link) => link.reader.read_frame().await,
            Self::Quic { link, .. } => link.reader.read_frame().await,
        };
        assert!(
            !matches!(read, Ok(Some(_))),
            "the node answered a client that broke the protocol: {read:?}"
        );
    }
}

/// Reads a raw TCP stream until the node closes it (end of stream or reset).
async fn tcp_closed_by_node(stream: &mut tokio::net::TcpStream) {
    let mut buffer = [0u8; 4096];
    // A TLS alert may come first; a node that keeps talking fails the bound.
    for _ in 0..64 {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
    panic!("the node kept the connection open");
}

async fn garbage_and_clients_that_never_speak_tls_are_dropped_while_a_good_peer_works(
    kind: TransportKind,
) {
    let mut target = node_with(kind, short_handshake(), graph("target")).await;
    let mut good = TestNode::new(kind, "good").await;
    let addr = target.node.local_addr().unwrap();
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    let mut dropped = Vec::new();
    match kind {
        TransportKind::Tcp => {
            let mut junk = tokio::net::TcpStream::connect(addr).await.unwrap();
            junk.write_all(&garbage).await.unwrap();
            let silent = tokio::net::TcpStream::connect(addr).await.unwrap();
            dropped.push(junk);
            dropped.push(silent);
        }
        TransportKind::Quic => {
            let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            for (index, chunk) in garbage.chunks(1200).enumerate() {
                socket.send_to(chunk, addr).await.unwrap();
                // A long header claiming QUIC v1 Initial, then junk: it must fail to decrypt.
                let mut initial = vec![0xc3, 0, 0, 0, 1, 8];
                initial.extend_from_slice(&[index as u8; 8]);
                initial.extend_from_slice(chunk);
                initial.resize(1200, 0);
                socket.send_to(&initial, addr).await.unwrap();
            }
        }
    }
    let (at_good, at_target) = connect(&mut good, &mut target).await;
    exchange((&mut good, at_good), (&mut target, at_target)).await;
    for stream in &mut dropped {
        within("the node drops the client", tcp_closed_by_node(stream)).await;
    }
    // The node still accepts and serves after dropping them.
    let (again, at_target_again) = connect(&mut good, &mut target).await;
    exchange((&mut good, again), (&mut target, at_target_again)).await;
    only_events_about(&mut target, &[at_target, at_target_again]);
}

async fn an_oversized_first_frame_is_dropped_before_the_application_sees_it(kind: TransportKind) {
    let mut small = NodeConfig::default();
    small.limits.max_message_size = 64 * 1024;
    let mut target = node_with(kind, small, graph("target")).await;
    let mut good = TestNode::new(kind, "good").await;
    let (at_good, at_target) = connect(&mut good, &mut target).await;
    let mut raw = RawLink::dial(kind, target.node.local_addr().unwrap()).await;
    // Over the node's frame limit (64 KiB + envelope), within the client's own.
    raw.write(Bytes::from(vec![0u8; 256 * 1024])).await;
    within("the node drops the oversized frame", raw.closed_by_node()).await;
    exchange((&mut good, at_good), (&mut target, at_target)).await;
    let (again, at_target_again) = connect(&mut good, &mut target).await;
    exchange((&mut good, again), (&mut target, at_target_again)).await;
    only_events_about(&mut target, &[at_target, at_target_again]);
}

// ------------------------------------------------------------------ slow handshakes

/// The first connection event of each of `ids`, in whatever order they come.
async fn outcomes_of(
    node: &mut TestNode,
    ids: &[ConnectionId],
) -> HashMap<ConnectionId, ConnectionStatus> {
    let mut outcomes = HashMap::new();
    within("every attempt ends", async {
        while outcomes.len() < ids.len() {
            if let GraphEvent::DirectConnection(change) = node.events.next().await.unwrap() {
                if ids.contains(&change.connection) {
                    assert!(
                        outcomes.insert(change.connection, change.status).is_none(),
                        "two outcomes for one attempt"
                    );
                }
            }
        }
    })
    .await;
    outcomes
}

/// Opens `count` connections from `from` to `to` at once and checks that every one connects.
async fn burst_connects(from: &mut TestNode, to: &TestNode, count: usize) -> Vec<ConnectionId> {
    let ids: Vec<_> = (0..count).map(|_| from.open_to(to)).collect();
    for (id, status) in outcomes_of(from, &ids).await {
        assert!(is_connected(&status), "burst connection {id:?}: {status:?}");
    }
    ids
}

async fn a_client_that_never_finishes_tls_is_dropped_without_hurting_others(kind: TransportKind) {
    let mut config = short_handshake();
    config.limits.max_pending_handshakes = 4;
    let mut target = node_with(kind, config, graph("target")).await;
    let mut good = TestNode::new(kind, "good").await;
    let addr = target.node.local_addr().unwrap();
    let started = Instant::now();
    // Twice the pending limit: a TLS handshake in progress must not take a graph-level slot.
    let mut silent_tcp = Vec::new();
    let mut half_open_quic = Vec::new();
    for _ in 0..8 {
        match kind {
            TransportKind::Tcp => {
                silent_tcp.push(tokio::net::TcpStream::connect(addr).await.unwrap());
            }
            TransportKind::Quic => {
                half_open_quic.push(HalfOpenQuic::start("127.0.0.1:0", addr).await)
            }
        }
    }
    burst_connects(&mut good, &target, 4).await;
    let mut at_target = Vec::new();
    for _ in 0..4 {
        at_target.push(target.accepted().await);
    }
    let (at_good, at_target_pair) = connect(&mut good, &mut target).await;
    at_target.push(at_target_pair);
    exchange((&mut good, at_good), (&mut target, at_target_pair)).await;
    for stream in &mut silent_tcp {
        within(
            "the node drops the silent client",
            tcp_closed_by_node(stream),
        )
        .await;
        let elapsed = started.elapsed();
        assert!(
            elapsed >= HANDSHAKE.mul_f32(0.9),
            "dropped after {elapsed:?}, before the handshake timeout"
        );
        assert!(
            elapsed <= HANDSHAKE + MARGIN,
            "dropped only after {elapsed:?}"
        );
    }
    if !silent_tcp.is_empty() {
        println!(
            "{kind}: silent TCP clients dropped after {:?}",
            started.elapsed()
        );
    }
    exchange((&mut good, at_good), (&mut target, at_target_pair)).await;
    only_events_about(&mut target, &at_target);
    drop(half_open_quic);
}

/// A client that finished TLS and then stalls before its Hello: on QUIC it must write part of
/// a frame, since a stream becomes visible to the node only with its first bytes.
enum SilentClient {
    Tcp(RawLink),
    Quic {
        _endpoint: quinn::Endpoint,
        _connection: quinn::Connection,
        _send: quinn::SendStream,
        recv: quinn::RecvStream,
    },
}

impl SilentClient {
    async fn open(kind: TransportKind, addr: SocketAddr) -> Self {
        match kind {
            TransportKind::Tcp => Self::Tcp(RawLink::dial(kind, addr).await),
            TransportKind::Quic => {
                let identity = Identity::generate().unwrap();
                let tls = peergraph_transport::client_config(&identity).unwrap();
                let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
                let config = quinn::ClientConfig::new(Arc::new(crypto));
                let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
                let connection = endpoint
                    .connect_with(config, addr, SERVER_NAME)
                    .unwrap()
                    .await
                    .unwrap();
                let (mut send, recv) = connection.open_bi().await.unwrap();
                // Half of a length prefix, then nothing.
                send.write_all(&[0, 0]).await.unwrap();
                Self::Quic {
                    _endpoint: endpoint,
                    _connection: connection,
                    _send: send,
                    recv,
                }
            }
        }
    }

    /// Whether the node has already answered or ended this link, as it does when the client
    /// arrived while every slot was taken (a probe's handshake counts too); looks for a moment.
    async fn turned_away(&mut self) -> bool {
        let moment = Duration::from_millis(1);
        match self {
            Self::Tcp(link) => link.answered_within(moment).await,
            Self::Quic { recv, .. } => {
                let mut buffer = [0u8; 64];
                tokio::time::timeout(moment, recv.read(&mut buffer))
                    .await
                    .is_ok()
            }
        }
    }

    async fn closed_by_node(&mut self) {
        match self {
            Self::Tcp(link) => link.closed_by_node().await,
            Self::Quic { recv, .. } => {
                let mut buffer = [0u8; 64];
                let read = recv.read(&mut buffer).await;
                assert!(!matches!(read, Ok(Some(_))), "the node answered: {read:?}");
            }
        }
    }
}

async fn a_client_that_never_sends_hello_is_dropped_at_the_handshake_timeout_and_frees_its_slot(
    kind: TransportKind,
) {
    const SLOTS: usize = 4;
    let mut config = short_handshake();
    config.limits.max_pending_handshakes = SLOTS;
    let mut target = node_with(kind, config, graph("target")).await;
    let mut good = TestNode::new(kind, "good").await;
    let (at_good, at_target) = connect(&mut good, &mut target).await;
    let addr = target.node.local_addr().unwrap();
    // When the last silent client was opened: the handshake timeout runs from there.
    let mut started = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..SLOTS {
        silent.push(SilentClient::open(kind, addr).await);
    }
    // They hold every slot: the node turns a new link away. A probe that got in before the
    // last silent client was accepted is closed and the probe repeated.
    let mut allowed = vec![at_target];
    let mut dropped_while_full = false;
    for _ in 0..500 {
        let probe = good.open_to(&target);
        match good.change_for(probe).await {
            ConnectionStatus::Failed(FailReason::Refused | FailReason::LinkLost) => {
                dropped_while_full = true;
                break;
            }
            ConnectionStatus::Connected(_) => {
                allowed.push(target.accepted().await);
                good.node
                    .close_direct_connection(good.graph, probe)
                    .unwrap();
                assert!(matches!(
                    good.change_for(probe).await,
                    ConnectionStatus::Disconnected(_)
                ));
                // A silent client that arrived while this probe was handshaking found the
                // slots full and was turned away: replace it, so that the slots fill.
                for client in &mut silent {
                    if client.turned_away().await {
                        *client = SilentClient::open(kind, addr).await;
                        started = Instant::now();
                    }
                }
            }
            other => panic!("probe: {other:?}"),
        }
        assert!(
            started.elapsed() < HANDSHAKE,
            "the silent clients never filled the slots"
        );
    }
    assert!(
        dropped_while_full,
        "the pending-handshake limit was not enforced"
    );
    for client in &mut silent {
        within("the node drops the silent client", client.closed_by_node()).await;
    }
    let elapsed = started.elapsed();
    println!("{kind}: clients without Hello dropped after {elapsed:?}");
    assert!(
        elapsed >= HANDSHAKE.mul_f32(0.9),
        "dropped after {elapsed:?}, before the handshake timeout"
    );
    assert!(
        elapsed <= HANDSHAKE + MARGIN,
        "dropped only after {elapsed:?}"
    );
    // Every slot is free again: a burst up to the limit connects.
    let burst = burst_connects(&mut good, &target, SLOTS).await;
    for _ in &burst {
        allowed.push(target.accepted().await);
    }
    exchange((&mut good, at_good), (&mut target, at_target)).await;
    only_events_about(&mut target, &allowed);
}

/// The timer task sleeps until the earliest deadline it last read and is woken only for an
/// earlier one. Once an established link's keepalive (10 s) is the earliest, a new handshake
/// deadline (2 s away) must wake it, or the silent client is dropped seconds late.
async fn a_deadline_earlier_than_the_one_the_timer_sleeps_until_fires_on_time(kind: TransportKind) {
    let config = short_handshake();
    assert!(config.timeouts.keepalive > HANDSHAKE + MARGIN);
    let mut target = node_with(kind, config, graph("target")).await;
    let mut good = TestNode::new(kind, "good").await;
    let (at_good, at_target) = connect(&mut good, &mut target).await;
    let addr = target.node.local_addr().unwrap();
    // Dropped at its handshake timeout; by then the good link's handshake deadline has passed
    // too, and the timer task sleeps until the good link's keepalive.
    let mut first = SilentClient::open(kind, addr).await;
    within("the first silent client dropped", first.closed_by_node()).await;
    let started = Instant::now();
    let mut second = SilentClient::open(kind, addr).await;
    within("the second silent client dropped", second.closed_by_node()).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed <= HANDSHAKE + MARGIN,
        "dropped only after {elapsed:?}"
    );
    exchange((&mut good, at_good), (&mut target, at_target)).await;
}

// ------------------------------------------------------------------ refusals under load

async fn wrong_secrets_and_identities_under_load_never_reach_the_target(kind: TransportKind) {
    const EACH: usize = 20;
    let secret = |peer: &str, secret: &str| graph(peer).with_secret(secret);
    let mut target = TestNode::with_graph(kind, secret("target", "s3cret")).await;
    let mut member = TestNode::with_graph(kind, secret("member", "s3cret")).await;
    let mut outsider = TestNode::with_graph(kind, secret("outsider", "guess")).await;
    let locator = target.locator();
    let wrong_pin = PeerAddress::pinned(locator.address.socket, member.node.identity());
    let mut good = Vec::new();
    let mut mismatched = Vec::new();
    let mut outsiders = Vec::new();
    for index in 0..EACH {
        good.push(member.open_to(&target));
        if index % 2 == 0 {
            outsiders.push(outsider.open_to(&target));
        } else {
            let id = member
                .node
                .open_direct_connection(member.graph, "target", wrong_pin)
                .unwrap();
            mismatched.push(id);
        }
    }
    let all: Vec<_> = good.iter().chain(&mismatched).copied().collect();
    let outcomes = outcomes_of(&mut member, &all).await;
    for id in &good {
        assert!(is_connected(&outcomes[id]), "{:?}", outcomes[id]);
    }
    for id in &mismatched {
        assert_eq!(
            outcomes[id],
            ConnectionStatus::Failed(FailReason::NotAuthenticated(AuthFailure::IdentityMismatch))
        );
    }
    for (_, status) in outcomes_of(&mut outsider, &outsiders).await {
        assert_eq!(
            status,
            ConnectionStatus::Failed(FailReason::NotAuthenticated(AuthFailure::MembershipProof))
        );
    }
    let mut accepted = Vec::new();
    for _ in 0..EACH {
        accepted.push(target.accepted().await);
    }
    // Every bad attempt has ended; none of them left anything for the target's application.
    only_events_about(&mut target, &accepted);
    let listed = target
        .node
        .enum_connections(target.graph, ConnectionKinds::DIRECT)
        .unwrap();
    assert_eq!(listed.len(), EACH);
    assert!(
        listed
            .iter()
            .all(|info| info.peer_id == "member" && info.identity == Some(member.node.identity()))
    );
}

async fn the_connection_limit_refuses_and_a_closed_slot_is_reused(kind: TransportKind) {
    let mut config = NodeConfig::default();
    config.limits.max_direct_connections_per_graph = 3;
    let mut target = node_with(kind, config, graph("target")).await;
    let mut peer = TestNode::new(kind, "peer").await;
    let mut pairs = Vec::new();
    for _ in 0..3 {
        pairs.push(connect(&mut peer, &mut target).await);
    }
    let fourth = peer.open_to(&target);
    assert_eq!(
        peer.change_for(fourth).await,
        ConnectionStatus::Failed(FailReason::Refused)
    );
    let (closed, closed_at_target) = pairs.remove(0);
    peer.node
        .close_direct_connection(peer.graph, closed)
        .unwrap();
    assert_eq!(
        target.change_for(closed_at_target).await,
        ConnectionStatus::Disconnected(DisconnectReason::ClosedByPeer)
    );
    let (again, again_at_target) = connect(&mut peer, &mut target).await;
    exchange((&mut peer, again), (&mut target, again_at_target)).await;
    assert_eq!(
        target
            .node
            .enum_connections(target.graph, ConnectionKinds::DIRECT)
            .unwrap()
            .len(),
        3
    );
}

// ------------------------------------------------------------------ unregistering

async fn unregistering_mid_handshake_gives_exactly_one_terminal_outcome(kind: TransportKind) {
    const ROUNDS: usize = 24;
    let mut initiator = TestNode::new(kind, "initiator").await;
    let TestNode {
        node: target,
        graph: target_graph,
        events,
        ..
    } = TestNode::new(kind, "target").await;
    events.unregister().unwrap();
    let locator = target.locator("target").unwrap();
    let (mut refused, mut admitted) = (0, 0);
    let mut ids = HashSet::new();
    for round in 0..ROUNDS {
        let registration = target
            .register_event(target_graph, &[EventType::DirectConnection])
            .unwrap();
        let id = initiator
            .node
            .open_direct_connection(initiator.graph, "target", locator.address)
            .unwrap();
        ids.insert(id);
        // Drop the registration at a different point of the handshake each round.
        let unregister = tokio::spawn(async move {
            for _ in 0..round * 4 {
                tokio::task::yield_now().await;
            }
            drop(registration);
        });
        match initiator.change_for(id).await {
            ConnectionStatus::Failed(FailReason::Refused) => refused += 1,
            ConnectionStatus::Connected(_) => {
                admitted += 1;
                initiator
                    .node
                    .close_direct_connection(initiator.graph, id)
                    .unwrap();
                assert_eq!(
                    initiator.change_for(id).await,
                    ConnectionStatus::Disconnected(DisconnectReason::ClosedLocally)
                );
            }
            other => panic!("round {round}: {other:?}"),
        }
        unregister.await.unwrap();
    }
    println!("{kind}: {refused} refused, {admitted} admitted then closed");
    // A last connection whose events come after any late duplicate would have.
    let mut registration = target
        .register_event(target_graph, &[EventType::DirectConnection])
        .unwrap();
    let last = initiator
        .node
        .open_direct_connection(initiator.graph, "target", locator.address)
        .unwrap();
    assert!(is_connected(&initiator.change_for(last).await));
    // The new registration may first see the end of an earlier round's connection whose
    // close was still on its way; the last connection must still arrive as Connected.
    within("the target sees the last one", async {
        loop {
            match registration.next().await.unwrap() {
                GraphEvent::DirectConnection(change) if is_connected(&change.status) => break,
                GraphEvent::DirectConnection(change) => assert_eq!(
                    change.status,
                    ConnectionStatus::Disconnected(DisconnectReason::ClosedByPeer),
                    "only a late close of an earlier connection may come first"
                ),
                other => panic!("unexpected event: {other:?}"),
            }
        }
    })
    .await;
    initiator
        .node
        .close_direct_connection(initiator.graph, last)
        .unwrap();
    assert!(matches!(
        initiator.change_for(last).await,
        ConnectionStatus::Disconnected(_)
    ));
    while let Some(event) = initiator.events.try_next().unwrap() {
        if let GraphEvent::DirectConnection(change) = event {
            assert!(
                !ids.contains(&change.connection),
                "a second terminal event: {change:?}"
            );
        }
    }
    eventually("the target holds no connection", || {
        target
            .enum_connections(target_graph, ConnectionKinds::DIRECT)
            .unwrap()
            .is_empty()
    })
    .await;
}

/// `Frame { confirm: {} }`: the initiator's Confirm in a graph without a secret.
const CONFIRM_OPEN: &[u8] = &[0x42, 0x00];

/// A graph-protocol Hello from a raw client to `target` in `GRAPH` (no secret); in a graph
/// without a secret the client may send its [`CONFIRM_OPEN`] right behind it.
fn raw_hello(target: &str) -> Bytes {
    use peergraph_proto::v1 as wire;
    use prost::Message;
    let hello = wire::Hello {
        version: 2,
        graph_id: GRAPH.into(),
        target_peer_id: target.into(),
        source_peer_id: "stalled-reader".into(),
        source_node_id: 7,
        pake_share: Bytes::new(),
        batch_limit: 0,
        neighbor: false,
    };
    Bytes::from(
        wire::Frame {
            kind: Some(wire::frame::Kind::Hello(hello)),
        }
        .encode_to_vec(),
    )
}

async fn a_peer_that_stops_reading_cannot_hold_a_closed_connection_open(kind: TransportKind) {
    let mut target = node_with(kind, short_idle(), graph("target")).await;
    let addr = target.node.local_addr().unwrap();
    // A member that connects, then never reads again (and never closes).
    let mut reader_that_stalls = RawLink::dial(kind, addr).await;
    reader_that_stalls.write(raw_hello("target")).await;
    reader_that_stalls
        .write(Bytes::from_static(CONFIRM_OPEN))
        .await;
    let id = target.accepted().await;
    // Send until the queue stays full: the socket and the queue are full and the link's writer
    // is blocked in a write it started while the link was open.
    let chunk = Bytes::from(vec![0u8; 1 << 20]);
    let mut queued = 0;
    loop {
        let send = target
            .node
            .send_data(target.graph, id, TYPE_A, chunk.clone());
        match tokio::time::timeout(Duration::from_millis(500), send).await {
            Ok(sent) => sent.unwrap(),
            Err(_) => break, // no room for half a second: nothing is draining
        }
        queued += 1;
        assert!(
            queued < 4096,
            "the peer's buffers and the send queue are bounded"
        );
    }
    target
        .node
        .close_direct_connection(target.graph, id)
        .unwrap();
    // The writer is blocked on a peer that does not read; the close bounds it.
    within("the closing link gives up", async {
        tokio::time::timeout(IDLE + MARGIN, target.node.finish_closing())
            .await
            .expect("a closing link gets at most the idle timeout")
    })
    .await;
    // The node still works for others.
    let mut good = TestNode::new(kind, "good").await;
    let (at_good, _) = connect(&mut good, &mut target).await;
    good.node
        .send_data(good.graph, at_good, TYPE_A, &b"still here"[..])
        .await
        .unwrap();
    assert_eq!(target.incoming().await.data.as_ref(), b"still here");
    drop(reader_that_stalls);
}

/// `Frame { close: { reason: APPLICATION } }`, as PROTOCOL.md section 10 writes it.
const CLOSE_APPLICATION: &[u8] = &[0x2a, 0x02, 0x08, 0x01];

async fn a_peer_that_closes_and_ends_its_side_gets_a_clean_end_back_every_time(
    kind: TransportKind,
) {
    let mut target = node_with(kind, NodeConfig::default(), graph("target")).await;
    let addr = target.node.local_addr().unwrap();
    let identity = Identity::generate().unwrap();
    let config = TransportConfig::default();
    let tcp = peergraph_transport_tcp::TcpTransport::new(&identity, config.clone()).unwrap();
    let quic = peergraph_transport_quic::QuicTransport::new(&identity, config).unwrap();
    // The peer's Close and the end of its side arrive together, so the node reads the end
    // right after the Close: it must still end its own side cleanly, each time.
    for round in 0..20 {
        let link = match kind {
            TransportKind::Tcp => tcp.dial(addr, None).await.unwrap(),
            TransportKind::Quic => quic.dial(addr, None).await.unwrap(),
        };
        let peergraph_transport::Link {
            mut reader,
            mut writer,
            ..
        } = link;
        writer
            .write_frames(&[raw_hello("target"), Bytes::from_static(CONFIRM_OPEN)])
            .await
            .unwrap();
        let id = target.accepted().await;
        assert!(
            matches!(reader.read_frame().await, Ok(Some(_))),
            "the Accept"
        );
        writer
            .write_frames(&[Bytes::from_static(CLOSE_APPLICATION)])
            .await
            .unwrap();
        writer.close().await.unwrap();
        let end = within("the node's end of the link", reader.read_frame()).await;
        assert!(
            matches!(end, Ok(None)),
            "round {round}: the node ended its side without a clean end: {end:?}"
        );
        assert_eq!(
            target.change_for(id).await,
            ConnectionStatus::Disconnected(DisconnectReason::ClosedByPeer)
        );
    }
}

/// Set in the environment of the closing process: the locator it dials.
const CLOSING_ENV: &str = "PEERGRAPH_CLOSING_CHILD";

/// The closing process: dials the locator in [`CLOSING_ENV`] over QUIC, closes the connection
/// once it is up, waits in `finish_before_exit`, and exits at once, as the CLI's `send` does.
#[test]
fn closing_process_entry() {
    let Ok(locator) = std::env::var(CLOSING_ENV) else {
        return;
    };
    let locator: PeerLocator = locator.parse().unwrap();
    let runtime = child_runtime();
    runtime.block_on(async {
        let mut node = node_with(TransportKind::Quic, NodeConfig::default(), graph("closer")).await;
        let id = node
            .node
            .open_direct_connection(node.graph, &locator.peer_id, locator.address)
            .unwrap();
        assert!(matches!(
            node.change_for(id).await,
            ConnectionStatus::Connected(_)
        ));
        node.node.close_direct_connection(node.graph, id).unwrap();
        node.node.finish_before_exit().await;
    });
    std::process::exit(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_that_exits_after_finish_before_exit_has_told_its_quic_peer() {
    use peergraph_transport::{Acceptor, Handshake};
    let identity = Identity::generate().unwrap();
    let transport =
        peergraph_transport_quic::QuicTransport::new(&identity, TransportConfig::default())
            .unwrap();
    let listener = transport
        .listen("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let locator = PeerLocator {
        peer_id: "target".into(),
        address: PeerAddress::pinned(listener.local_addr(), identity.peer_identity()),
    };
    // Frame.accept { node_id: 9 }, no share or confirmation (the graph has no secret).
    let accept = Bytes::from_static(&[0x12, 0x09, 0x09, 9, 0, 0, 0, 0, 0, 0, 0]);
    for round in 0..5 {
        let mut child = PeerProcess(
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "closing_process_entry",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CLOSING_ENV, locator.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap(),
        );
        let incoming = within("the closing process dials", listener.accept())
            .await
            .unwrap();
        let link = incoming.handshake().await.unwrap();
        let connection = peergraph_transport_quic::connection(&link).unwrap();
        let peergraph_transport::Link {
            mut reader,
            mut writer,
            ..
        } = link;
        assert!(
            matches!(reader.read_frame().await, Ok(Some(_))),
            "the Hello"
        );
        writer
            .write_frames(std::slice::from_ref(&accept))
            .await
            .unwrap();
        let confirm = within("the Confirm", reader.read_frame()).await;
        assert!(
            matches!(&confirm, Ok(Some(frame)) if frame.as_ref() == CONFIRM_OPEN),
            "{confirm:?}"
        );
        let close = within("the Close", reader.read_frame()).await;
        assert!(
            matches!(&close, Ok(Some(frame)) if frame.as_ref() == CLOSE_APPLICATION),
            "{close:?}"
        );
        assert!(
            matches!(reader.read_frame().await, Ok(None)),
            "the stream's FIN"
        );
        // The process has exited, or is about to: its connection's close must have left
        // before, or this waits for the 30 s idle timeout.
        let end = tokio::time::timeout(Duration::from_secs(10), connection.closed())
            .await
            .unwrap_or_else(|_| {
                panic!("round {round}: the exiting process never closed its connection")
            });
        assert!(
            format!("{end:?}").contains("ApplicationClosed"),
            "round {round}: {end:?}"
        );
        let status = child.0.wait().unwrap();
        assert!(status.success(), "the closing process failed: {status}");
    }
}

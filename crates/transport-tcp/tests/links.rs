//! Real TLS 1.3 links over loopback TCP.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use peergraph_transport_tcp::{
    AcceptError, AuthError, DialError, Identity, Link, LinkError, Listener, TcpTransport,
    TransportConfig,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const LOOPBACK: &str = "127.0.0.1:0";

struct Node {
    identity: Identity,
    transport: TcpTransport,
}

fn node(config: TransportConfig) -> Node {
    let identity = Identity::generate().expect("key generation works");
    let transport = TcpTransport::new(&identity, config).expect("valid config");
    Node {
        identity,
        transport,
    }
}

async fn listen(node: &Node) -> Listener {
    node.transport
        .listen(LOOPBACK.parse().expect("valid address"))
        .await
        .expect("bind loopback")
}

/// Dials `listener` from `dialer` and returns (dialer's link, acceptor's link).
async fn connect(dialer: &Node, listener: &Listener) -> (Link, Link) {
    let (dialed, accepted) =
        tokio::join!(dialer.transport.dial(listener.local_addr(), None), async {
            listener.accept().await.expect("accept").handshake().await
        });
    let (mut dialed, mut accepted) = (
        dialed.expect("dial succeeds"),
        accepted.expect("handshake succeeds"),
    );
    // The links' own handshake (the core's Hello and Accept) is over: full-sized frames pass.
    dialed.reader.lift_frame_limit();
    accepted.reader.lift_frame_limit();
    (dialed, accepted)
}

fn frames(prefix: &str, count: usize) -> Vec<Bytes> {
    (0..count)
        .map(|i| Bytes::from(format!("{prefix}-{i}")))
        .collect()
}

async fn read_all(link: &mut Link, count: usize) -> Vec<Bytes> {
    let mut received = Vec::with_capacity(count);
    for _ in 0..count {
        received.push(
            link.reader
                .read_frame()
                .await
                .expect("read")
                .expect("frame, not end"),
        );
    }
    received
}

#[tokio::test]
async fn frames_flow_both_ways_in_order() {
    let (a, b) = (
        node(TransportConfig::default()),
        node(TransportConfig::default()),
    );
    let listener = listen(&b).await;
    let (dialed, accepted) = connect(&a, &listener).await;
    let mut to_b = frames("a", 1000);
    to_b.push(Bytes::from(vec![0x5a; 1 << 20]));
    to_b.extend(frames("a-after-big", 10));
    let to_a = frames("b", 500);
    // Each half on its own task, as the runtime uses them.
    let (mut a_writer, mut b_writer) = (dialed.writer, accepted.writer);
    let (sent_b, sent_a) = (to_b.clone(), to_a.clone());
    let writes = tokio::spawn(async move {
        a_writer.write_frames(&sent_b).await.expect("write a->b");
        b_writer.write_frames(&sent_a).await.expect("write b->a");
    });
    let mut b_reader = accepted.reader;
    let reads_b = tokio::spawn(async move {
        let mut got = Vec::new();
        for _ in 0..1011 {
            got.push(b_reader.read_frame().await.expect("read").expect("frame"));
        }
        got
    });
    let mut a_reader = dialed.reader;
    let mut got_a = Vec::new();
    for _ in 0..to_a.len() {
        got_a.push(a_reader.read_frame().await.expect("read").expect("frame"));
    }
    assert_eq!(got_a, to_a);
    assert_eq!(reads_b.await.expect("task"), to_b);
    writes.await.expect("task");
}

#[tokio::test]
async fn close_delivers_every_frame_then_a_clean_end() {
    let (a, b) = (
        node(TransportConfig::default()),
        node(TransportConfig::default()),
    );
    let listener = listen(&b).await;
    let (dialed, mut accepted) = connect(&a, &listener).await;
    let sent = frames("last words", 100);
    let mut writer = dialed.writer;
    writer.write_frames(&sent).await.expect("write");
    writer.close().await.expect("close");
    assert_eq!(read_all(&mut accepted, sent.len()).await, sent);
    assert!(matches!(accepted.reader.read_frame().await, Ok(None)));
}

#[tokio::test]
async fn both_ends_report_the_other_identity_and_the_same_exporter() {
    let (a, b) = (
        node(TransportConfig::default()),
        node(TransportConfig::default()),
    );
    let listener = listen(&b).await;
    let (dialed, accepted) = connect(&a, &listener).await;
    assert_eq!(dialed.info.remote_identity, b.identity.peer_identity());
    assert_eq!(accepted.info.remote_identity, a.identity.peer_identity());
    assert_eq!(dialed.info.exporter, accepted.info.exporter);
    assert_ne!(dialed.info.exporter, [0u8; 32]);
    assert_eq!(dialed.info.remote_addr, listener.local_addr());
}

#[tokio::test]
async fn pinned_identity_that_matches_connects() {
    let (a, b) = (
        node(TransportConfig::default()),
        node(TransportConfig::default()),
    );
    let listener = listen(&b).await;
    let expected = Some(b.identity.peer_identity());
    let (dialed, accepted) =
        tokio::join!(a.transport.dial(listener.local_addr(), expected), async {
            listener.accept().await.expect("accept").handshake().await
        });
    assert_eq!(
        dialed.expect("pinned dial").info.remote_identity,
        b.identity.peer_identity()
    );
    assert!(accepted.is_ok());
}

#[tokio::test]
async fn pinned_identity_that_differs_fails_with_identity_mismatch() {
    let (a, b) = (
        node(TransportConfig::default()),
        node(TransportConfig::default()),
    );
    let listener = listen(&b).await;
    let stranger = Identity::generate()
        .expect("key generation works")
        .peer_identity();
    let (dialed, _accepted) = tokio::join!(
        a.transport.dial(listener.local_addr(), Some(stranger)),
        async { listener.accept().await.expect("accept").handshake().await }
    );
    match dialed {
        Err(DialError::NotAuthenticated(AuthError::IdentityMismatch { expected, actual })) => {
            assert_eq!(expected, stranger);
            assert_eq!(actual, b.identity.peer_identity());
        }
        other => panic!("expected IdentityMismatch, got {other:?}"),
    }
}

#[tokio::test]
async fn frame_over_the_maximum_fails_the_reader() {
    let a = node(TransportConfig::default());
    let b = node(TransportConfig::default().with_max_frame_len(1024));
    let listener = listen(&b).await;
    let (mut dialed, mut accepted) = connect(&a, &listener).await;
    dialed
        .writer
        .write_frames(&[Bytes::from(vec![1u8; 1025])])
        .await
        .expect("a allows it");
    assert!(matches!(
        accepted.reader.read_frame().await,
        Err(LinkError::FrameTooLarge {
            len: 1025,
            max: 1024
        })
    ));
}

#[tokio::test]
async fn garbage_client_is_dropped_while_a_good_dial_succeeds() {
    let (a, b) = (
        node(TransportConfig::default()),
        node(TransportConfig::default()),
    );
    let listener = listen(&b).await;
    let mut garbage = TcpStream::connect(listener.local_addr())
        .await
        .expect("raw connect");
    garbage
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("raw write");
    let bad = listener.accept().await.expect("accept raw").handshake();
    let bad = tokio::spawn(bad);
    let (dialed, _accepted) = connect(&a, &listener).await;
    assert_eq!(dialed.info.remote_identity, b.identity.peer_identity());
    assert!(matches!(
        bad.await.expect("task"),
        Err(AcceptError::NotAuthenticated(_) | AcceptError::ConnectionLost(_))
    ));
}

#[tokio::test]
async fn silent_client_times_out_while_a_good_dial_succeeds() {
    let short = TransportConfig::default().with_handshake_timeout(Duration::from_millis(300));
    let (a, b) = (node(TransportConfig::default()), node(short));
    let listener = listen(&b).await;
    let _silent = TcpStream::connect(listener.local_addr())
        .await
        .expect("raw connect");
    let stalled = tokio::spawn(listener.accept().await.expect("accept raw").handshake());
    let (dialed, _accepted) = connect(&a, &listener).await;
    assert_eq!(dialed.info.remote_identity, b.identity.peer_identity());
    assert!(matches!(
        stalled.await.expect("task"),
        Err(AcceptError::TimedOut)
    ));
}

#[tokio::test]
async fn dial_to_a_closed_port_is_unreachable() {
    let a = node(TransportConfig::default());
    let closed: SocketAddr = {
        let socket = std::net::TcpListener::bind(LOOPBACK).expect("bind");
        socket.local_addr().expect("bound address")
    };
    assert!(matches!(
        a.transport.dial(closed, None).await,
        Err(DialError::Unreachable(_))
    ));
}

#[tokio::test]
async fn persisted_identity_is_the_one_peers_see() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let identity = Identity::load_or_generate(dir.path()).expect("fresh identity");
    let reloaded = Identity::load_or_generate(dir.path()).expect("reloaded identity");
    let b = Node {
        transport: TcpTransport::new(&reloaded, TransportConfig::default()).expect("valid"),
        identity: reloaded,
    };
    let a = node(TransportConfig::default());
    let listener = listen(&b).await;
    let (dialed, _accepted) = connect(&a, &listener).await;
    assert_eq!(dialed.info.remote_identity, identity.peer_identity());
}

#[tokio::test]
async fn a_new_link_takes_only_handshake_sized_frames_until_its_limit_is_lifted() {
    let (a, b) = (
        node(TransportConfig::default()),
        node(TransportConfig::default().with_max_handshake_frame_len(100)),
    );
    let listener = listen(&b).await;
    let (dialed, accepted) = tokio::join!(a.transport.dial(listener.local_addr(), None), async {
        listener.accept().await.expect("accept").handshake().await
    });
    let (mut dialed, mut accepted) = (dialed.expect("dial"), accepted.expect("handshake"));
    let fits = Bytes::from(vec![1u8; 100]);
    let over = Bytes::from(vec![2u8; 101]);
    dialed
        .writer
        .write_frames(&[fits.clone(), over.clone(), over.clone()])
        .await
        .expect("written");
    assert_eq!(
        accepted.reader.read_frame().await.expect("read"),
        Some(fits)
    );
    accepted.reader.lift_frame_limit();
    assert_eq!(
        accepted.reader.read_frame().await.expect("read"),
        Some(over)
    );
    let (mut dialed_again, mut accepted_again) = connect_strict(&a, &listener).await;
    dialed_again
        .writer
        .write_frames(&[Bytes::from(vec![3u8; 101])])
        .await
        .expect("written");
    assert!(matches!(
        accepted_again.reader.read_frame().await,
        Err(LinkError::FrameTooLarge { len: 101, max: 100 })
    ));
}

/// Dials `listener` and returns both links as the transport made them, limits not lifted.
async fn connect_strict(dialer: &Node, listener: &Listener) -> (Link, Link) {
    let (dialed, accepted) =
        tokio::join!(dialer.transport.dial(listener.local_addr(), None), async {
            listener.accept().await.expect("accept").handshake().await
        });
    (
        dialed.expect("dial succeeds"),
        accepted.expect("handshake succeeds"),
    )
}

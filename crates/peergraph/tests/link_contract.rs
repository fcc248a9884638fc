//! The contract every transport's links keep, run on TCP and on QUIC through the one
//! [`Connector`] interface: frames arrive whole and in order both ways, a close delivers every
//! frame before a clean end, both ends agree on identities and the TLS exporter, a pinned identity
//! is enforced, frames over the limit fail the reader, and a new link takes only handshake-sized
//! frames until its limit is lifted.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use bytes::Bytes;
use peergraph_transport::{
    Acceptor, AuthError, Connector, DialError, Handshake, Identity, Link, LinkError,
    TransportConfig,
};

/// Instantiates each listed `async fn name<C: Connector>(make: fn(&Identity, TransportConfig) ->
/// C)` as `tcp::name` and `quic::name`.
macro_rules! on_both_transports {
    ($($test:ident),* $(,)?) => {
        mod tcp {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(|identity, config| {
                        peergraph_transport_tcp::TcpTransport::new(identity, config).unwrap()
                    })
                    .await
                }
            )*
        }
        mod quic {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(|identity, config| {
                        peergraph_transport_quic::QuicTransport::new(identity, config).unwrap()
                    })
                    .await
                }
            )*
        }
    };
}

on_both_transports! {
    frames_flow_both_ways_whole_and_in_order,
    close_delivers_every_frame_then_a_clean_end,
    both_ends_report_the_other_identity_and_the_same_exporter,
    a_pinned_identity_that_matches_connects_and_one_that_differs_fails,
    a_frame_over_the_maximum_fails_the_reader,
    a_new_link_takes_only_handshake_sized_frames_until_its_limit_is_lifted,
    the_persisted_identity_is_the_one_peers_see,
    a_link_dropped_without_a_close_ends_as_lost_not_clean,
}

/// How a test makes a transport of the kind under test.
type Make<C> = fn(&Identity, TransportConfig) -> C;

struct Node<C> {
    identity: Identity,
    transport: C,
}

fn node<C: Connector>(make: Make<C>, config: TransportConfig) -> Node<C> {
    let identity = Identity::generate().unwrap();
    let transport = make(&identity, config);
    Node {
        identity,
        transport,
    }
}

async fn listen<C: Connector>(node: &Node<C>) -> C::Listener {
    node.transport
        .listen("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// Dials, and returns (dialer's link, acceptor's link) as the transport made them. The dialer
/// writes first, as the protocol requires (a QUIC stream appears to the acceptor only once
/// written to): a frame of `first` bytes, which the acceptor reads.
async fn connect_raw<C: Connector>(
    dialer: &Node<C>,
    listener: &C::Listener,
    first: usize,
) -> (Link, Link) {
    let hello = Bytes::from(vec![7u8; first]);
    // Both ends at once: a TLS dial over TCP finishes only as the acceptor's handshake runs.
    let (dialed, accepted) = tokio::join!(
        async {
            let mut dialed = dialer
                .transport
                .dial(listener.local_addr(), None)
                .await
                .unwrap();
            dialed
                .writer
                .write_frames(std::slice::from_ref(&hello))
                .await
                .unwrap();
            dialed
        },
        async { listener.accept().await.unwrap().handshake().await.unwrap() }
    );
    let mut accepted = accepted;
    assert_eq!(accepted.reader.read_frame().await.unwrap(), Some(hello));
    (dialed, accepted)
}

/// Dials `listener` with `expected` pinned while it accepts; the dial's outcome.
async fn dial_pinned<C: Connector>(
    dialer: &Node<C>,
    listener: &C::Listener,
    expected: peergraph_transport::PeerIdentity,
) -> Result<Link, DialError> {
    // The acceptor keeps accepting (over QUIC a dial opens no stream, so there may be nothing
    // to accept) until the dial is decided.
    let accepting = async {
        loop {
            if let Ok(incoming) = listener.accept().await {
                let _ = incoming.handshake().await;
            }
        }
    };
    tokio::select! {
        dialed = dialer.transport.dial(listener.local_addr(), Some(expected)) => dialed,
        () = accepting => unreachable!("the acceptor accepts forever"),
    }
}

/// [`connect_raw`], then both limits lifted, as after the links' own handshake.
async fn connect<C: Connector>(dialer: &Node<C>, listener: &C::Listener) -> (Link, Link) {
    let (mut dialed, mut accepted) = connect_raw(dialer, listener, 5).await;
    dialed.reader.lift_frame_limit();
    accepted.reader.lift_frame_limit();
    (dialed, accepted)
}

fn frames(prefix: &str, count: usize) -> Vec<Bytes> {
    (0..count)
        .map(|i| Bytes::from(format!("{prefix}-{i}")))
        .collect()
}

async fn frames_flow_both_ways_whole_and_in_order<C: Connector>(make: Make<C>) {
    let (a, b) = (
        node(make, TransportConfig::default()),
        node(make, TransportConfig::default()),
    );
    let listener = listen(&b).await;
    let (dialed, accepted) = connect(&a, &listener).await;
    let mut to_b = frames("a", 1000);
    to_b.push(Bytes::from(vec![0x5a; 1 << 20]));
    to_b.extend(frames("a-after-big", 10));
    let to_a = frames("b", 500);
    // Each half on its own task, as the runtime may use them.
    let (mut a_writer, mut b_writer) = (dialed.writer, accepted.writer);
    let (sent_b, sent_a) = (to_b.clone(), to_a.clone());
    let writes = tokio::spawn(async move {
        a_writer.write_frames(&sent_b).await.unwrap();
        b_writer.write_frames(&sent_a).await.unwrap();
        (a_writer, b_writer)
    });
    let mut b_reader = accepted.reader;
    let count = to_b.len();
    let reads_b = tokio::spawn(async move {
        let mut got = Vec::new();
        for _ in 0..count {
            got.push(b_reader.read_frame().await.unwrap().unwrap());
        }
        got
    });
    let mut a_reader = dialed.reader;
    let mut got_a = Vec::new();
    for _ in 0..to_a.len() {
        got_a.push(a_reader.read_frame().await.unwrap().unwrap());
    }
    assert_eq!(got_a, to_a);
    assert_eq!(reads_b.await.unwrap(), to_b);
    writes.await.unwrap();
}

async fn close_delivers_every_frame_then_a_clean_end<C: Connector>(make: Make<C>) {
    let (a, b) = (
        node(make, TransportConfig::default()),
        node(make, TransportConfig::default()),
    );
    let listener = listen(&b).await;
    let (dialed, mut accepted) = connect(&a, &listener).await;
    let sent = frames("last words", 100);
    let mut writer = dialed.writer;
    writer.write_frames(&sent).await.unwrap();
    writer.close().await.unwrap();
    for frame in &sent {
        assert_eq!(
            accepted.reader.read_frame().await.unwrap().as_ref(),
            Some(frame)
        );
    }
    assert!(matches!(accepted.reader.read_frame().await, Ok(None)));
}

async fn both_ends_report_the_other_identity_and_the_same_exporter<C: Connector>(make: Make<C>) {
    let (a, b) = (
        node(make, TransportConfig::default()),
        node(make, TransportConfig::default()),
    );
    let listener = listen(&b).await;
    let (dialed, accepted) = connect(&a, &listener).await;
    assert_eq!(dialed.info.remote_identity, b.identity.peer_identity());
    assert_eq!(accepted.info.remote_identity, a.identity.peer_identity());
    assert_eq!(dialed.info.exporter, accepted.info.exporter);
    assert_ne!(dialed.info.exporter, [0u8; 32]);
    assert_eq!(dialed.info.remote_addr, listener.local_addr());
}

async fn a_pinned_identity_that_matches_connects_and_one_that_differs_fails<C: Connector>(
    make: Make<C>,
) {
    let (a, b) = (
        node(make, TransportConfig::default()),
        node(make, TransportConfig::default()),
    );
    let listener = listen(&b).await;
    let pinned = dial_pinned(&a, &listener, b.identity.peer_identity())
        .await
        .unwrap();
    assert_eq!(pinned.info.remote_identity, b.identity.peer_identity());
    let stranger = Identity::generate().unwrap().peer_identity();
    match dial_pinned(&a, &listener, stranger).await {
        Err(DialError::NotAuthenticated(AuthError::IdentityMismatch { expected, actual })) => {
            assert_eq!(expected, stranger);
            assert_eq!(actual, b.identity.peer_identity());
        }
        other => panic!("expected IdentityMismatch, got {other:?}"),
    }
}

async fn a_frame_over_the_maximum_fails_the_reader<C: Connector>(make: Make<C>) {
    let a = node(make, TransportConfig::default());
    let b = node(make, TransportConfig::default().with_max_frame_len(1024));
    let listener = listen(&b).await;
    let (mut dialed, mut accepted) = connect(&a, &listener).await;
    dialed
        .writer
        .write_frames(&[Bytes::from(vec![1u8; 1024]), Bytes::from(vec![1u8; 1025])])
        .await
        .unwrap();
    assert_eq!(
        accepted.reader.read_frame().await.unwrap().map(|f| f.len()),
        Some(1024)
    );
    assert!(matches!(
        accepted.reader.read_frame().await,
        Err(LinkError::FrameTooLarge {
            len: 1025,
            max: 1024
        })
    ));
}

async fn a_new_link_takes_only_handshake_sized_frames_until_its_limit_is_lifted<C: Connector>(
    make: Make<C>,
) {
    let a = node(make, TransportConfig::default());
    let b = node(
        make,
        TransportConfig::default().with_max_handshake_frame_len(100),
    );
    let listener = listen(&b).await;
    // A first frame at the limit passes.
    let (mut dialed, mut accepted) = connect_raw(&a, &listener, 100).await;
    let over = Bytes::from(vec![2u8; 101]);
    dialed
        .writer
        .write_frames(&[over.clone(), over.clone()])
        .await
        .unwrap();
    accepted.reader.lift_frame_limit();
    assert_eq!(accepted.reader.read_frame().await.unwrap(), Some(over));
    // One byte over it, before the limit is lifted, fails the reader.
    let (mut dialed, mut accepted) = connect_raw(&a, &listener, 1).await;
    dialed
        .writer
        .write_frames(&[Bytes::from(vec![3u8; 101])])
        .await
        .unwrap();
    assert!(matches!(
        accepted.reader.read_frame().await,
        Err(LinkError::FrameTooLarge { len: 101, max: 100 })
    ));
}

async fn the_persisted_identity_is_the_one_peers_see<C: Connector>(make: Make<C>) {
    let dir = tempfile::tempdir().unwrap();
    let identity = Identity::load_or_generate(dir.path()).unwrap();
    let reloaded = Identity::load_or_generate(dir.path()).unwrap();
    let b = Node {
        transport: make(&reloaded, TransportConfig::default()),
        identity: reloaded,
    };
    let a = node(make, TransportConfig::default());
    let listener = listen(&b).await;
    let (dialed, _accepted) = connect(&a, &listener).await;
    assert_eq!(dialed.info.remote_identity, identity.peer_identity());
    assert_eq!(b.identity.peer_identity(), identity.peer_identity());
}

async fn a_link_dropped_without_a_close_ends_as_lost_not_clean<C: Connector>(make: Make<C>) {
    let (a, b) = (
        node(make, TransportConfig::default()),
        node(make, TransportConfig::default()),
    );
    let listener = listen(&b).await;
    let (dropped, mut dropped_there) = connect(&a, &listener).await;
    // A second link between the same nodes stays up (over QUIC, on the same connection, so that
    // only the dropped link's stream ends).
    let (mut kept, mut kept_there) = connect(&a, &listener).await;
    drop(dropped);
    let end = loop {
        match dropped_there.reader.read_frame().await {
            Ok(Some(_)) => continue,
            other => break other,
        }
    };
    assert!(end.is_err(), "an abrupt end, not a clean one: {end:?}");
    let still = Bytes::from_static(b"still here");
    kept.writer
        .write_frames(std::slice::from_ref(&still))
        .await
        .unwrap();
    assert_eq!(kept_there.reader.read_frame().await.unwrap(), Some(still));
}

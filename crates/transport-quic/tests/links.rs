//! What only QUIC links do: connections shared and replaced, refused and stalled handshakes.
//! The link contract both transports keep is in `crates/peergraph/tests/link_contract.rs`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use peergraph_transport::{ALPN, SERVER_NAME, SelfSignedServerVerifier, crypto_provider};
use peergraph_transport_quic::{
    AcceptError, Acceptor, Connector, Handshake, Identity, Link, Listener, QuicTransport,
    TransportConfig,
};
use tokio::net::UdpSocket;

const LOOPBACK: &str = "127.0.0.1:0";

struct Node {
    identity: Identity,
    transport: QuicTransport,
}

fn node(config: TransportConfig) -> Node {
    let identity = Identity::generate().expect("key generation works");
    let transport = QuicTransport::new(&identity, config).expect("valid config");
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

/// Dials, writes the first frame (a QUIC stream appears to the peer only once written to),
/// and returns (dialer's link, acceptor's link) with that frame already consumed.
async fn connect(dialer: &Node, listener: &Listener) -> (Link, Link) {
    let mut dialed = dialer
        .transport
        .dial(listener.local_addr(), None)
        .await
        .expect("dial");
    dialed
        .writer
        .write_frames(&[Bytes::from_static(b"hello")])
        .await
        .expect("first frame");
    let mut accepted = listener
        .accept()
        .await
        .expect("accept")
        .handshake()
        .await
        .expect("handshake");
    let hello = accepted
        .reader
        .read_frame()
        .await
        .expect("read")
        .expect("frame");
    assert_eq!(hello, Bytes::from_static(b"hello"));
    // The links' own handshake (the core's Hello and Accept) is over: full-sized frames pass.
    dialed.reader.lift_frame_limit();
    accepted.reader.lift_frame_limit();
    (dialed, accepted)
}

#[tokio::test]
async fn many_links_to_one_address_share_one_connection() {
    let (a, b) = (
        node(TransportConfig::default()),
        node(TransportConfig::default()),
    );
    let listener = listen(&b).await;
    let mut links = Vec::new();
    for _ in 0..8 {
        links.push(connect(&a, &listener).await);
    }
    let (first, second) = tokio::join!(
        a.transport.dial(listener.local_addr(), None),
        a.transport.dial(listener.local_addr(), None)
    );
    assert!(first.is_ok() && second.is_ok());
    assert_eq!(a.transport.connection_count(), 1);
    let exporter = links[0].0.info.exporter;
    assert!(
        links
            .iter()
            .all(|(d, acc)| d.info.exporter == exporter && acc.info.exporter == exporter)
    );
    // A different pin is a different cache entry.
    let pinned = connect_pinned(&a, &listener, b.identity.peer_identity()).await;
    assert_eq!(a.transport.connection_count(), 2);
    drop((links, first, second, pinned));
    assert_eq!(a.transport.connection_count(), 0);
}

async fn connect_pinned(
    dialer: &Node,
    listener: &Listener,
    expected: peergraph_transport_quic::PeerIdentity,
) -> Link {
    dialer
        .transport
        .dial(listener.local_addr(), Some(expected))
        .await
        .expect("pinned dial")
}

#[tokio::test]
async fn dead_connection_is_replaced_on_the_next_dial() {
    let (a, b) = (
        node(TransportConfig::default()),
        node(TransportConfig::default()),
    );
    let listener = listen(&b).await;
    let (mut dialed, accepted) = connect(&a, &listener).await;
    peergraph_transport_quic::close_connection(&accepted);
    assert!(dialed.reader.read_frame().await.is_err());
    let (fresh, mut fresh_accepted) = connect(&a, &listener).await;
    assert_eq!(a.transport.connection_count(), 1);
    let mut writer = fresh.writer;
    writer
        .write_frames(&[Bytes::from_static(b"still here")])
        .await
        .expect("write");
    let got = fresh_accepted.reader.read_frame().await.expect("read");
    assert_eq!(got, Some(Bytes::from_static(b"still here")));
}

#[tokio::test]
async fn client_without_certificate_is_refused_while_a_good_dial_succeeds() {
    let (a, b) = (
        node(TransportConfig::default()),
        node(TransportConfig::default()),
    );
    let listener = listen(&b).await;
    let mut tls = rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3 is supported")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(
            SelfSignedServerVerifier::new(crypto_provider()),
        ))
        .with_no_client_auth();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("QUIC-capable");
    let anonymous = quinn::Endpoint::client(LOOPBACK.parse().expect("valid")).expect("bind");
    let attempt = anonymous
        .connect_with(
            quinn::ClientConfig::new(Arc::new(quic)),
            listener.local_addr(),
            SERVER_NAME,
        )
        .expect("connect starts");
    // TLS 1.3 lets the client finish before the server has checked its certificate.
    let _ = attempt.await;
    let refused = listener.accept().await.expect("accept").handshake().await;
    assert!(
        matches!(refused, Err(AcceptError::NotAuthenticated(_))),
        "{refused:?}"
    );
    let (dialed, _accepted) = connect(&a, &listener).await;
    assert_eq!(dialed.info.remote_identity, b.identity.peer_identity());
}

#[tokio::test]
async fn stalled_handshake_times_out_while_a_good_dial_succeeds() {
    let short = TransportConfig::default().with_handshake_timeout(Duration::from_millis(300));
    let (a, b) = (node(TransportConfig::default()), node(short));
    let listener = listen(&b).await;
    // Capture a genuine client Initial, replay it to the listener from a socket that then
    // ignores every reply, so the server's handshake can never finish.
    let mute = UdpSocket::bind(LOOPBACK).await.expect("bind");
    let mute_addr = mute.local_addr().expect("bound");
    let transport = a.transport.clone();
    let doomed = tokio::spawn(async move { transport.dial(mute_addr, None).await });
    let mut initial = vec![0u8; 2048];
    let (len, _) = mute.recv_from(&mut initial).await.expect("client Initial");
    mute.send_to(&initial[..len], listener.local_addr())
        .await
        .expect("replay");
    let garbage = UdpSocket::bind(LOOPBACK).await.expect("bind");
    garbage
        .send_to(b"not quic at all", listener.local_addr())
        .await
        .expect("send");
    let (dialed, _accepted) = connect(&a, &listener).await;
    assert_eq!(dialed.info.remote_identity, b.identity.peer_identity());
    let stalled = listener.accept().await.expect("accept").handshake().await;
    assert!(matches!(stalled, Err(AcceptError::TimedOut)), "{stalled:?}");
    doomed.abort();
}

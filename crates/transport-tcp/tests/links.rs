//! What only TCP links do: garbage, silent and unreachable peers. The link contract both
//! transports keep is in `crates/peergraph/tests/link_contract.rs`.

use std::net::SocketAddr;
use std::time::Duration;

use peergraph_transport_tcp::{
    AcceptError, Acceptor, Connector, DialError, Handshake, Identity, Link, Listener, TcpTransport,
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

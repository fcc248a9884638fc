//! Accepting QUIC connections, each handshake on its own task, and queueing their streams.

use std::io;
use std::net::SocketAddr;

use peergraph_transport::{
    AcceptError, Acceptor, Handshake, SourceLimit, SourcePermit, TransportConfig,
};
use quinn::Endpoint;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;

use crate::Link;
use crate::errors::accept_error;
use crate::link::link;
use crate::session::{NO_STREAM, NOT_AUTHENTICATED, link_info};

/// Accepted streams and failed handshakes waiting for [`Acceptor::accept`]. When full, peers'
/// new streams wait, and QUIC flow control pushes back on them.
const QUEUE_LEN: usize = 128;

/// A bound UDP socket accepting QUIC connections and their streams as links.
#[derive(Debug)]
pub struct Listener {
    endpoint: Endpoint,
    local_addr: SocketAddr,
    queue: Mutex<mpsc::Receiver<Incoming>>,
    accepting: JoinHandle<()>,
}

impl Listener {
    pub(crate) fn start(endpoint: Endpoint, config: TransportConfig) -> io::Result<Self> {
        let local_addr = endpoint.local_addr()?;
        let (sender, receiver) = mpsc::channel(QUEUE_LEN);
        let accepting = tokio::spawn(accept_connections(endpoint.clone(), sender, config));
        Ok(Self {
            endpoint,
            local_addr,
            queue: Mutex::new(receiver),
            accepting,
        })
    }
}

impl Drop for Listener {
    /// Stops taking new connections; links already accepted keep working.
    fn drop(&mut self) {
        self.accepting.abort();
        self.endpoint.set_server_config(None);
    }
}

/// A link offered by a peer, already authenticated, or the reason its connection failed.
#[derive(Debug)]
pub struct Incoming {
    result: Result<Link, AcceptError>,
}

async fn accept_connections(
    endpoint: Endpoint,
    queue: mpsc::Sender<Incoming>,
    config: TransportConfig,
) {
    let handshakes = SourceLimit::new(
        config.max_inbound_handshakes,
        config.max_inbound_handshakes_per_source,
    );
    let connections = SourceLimit::new(
        config.max_inbound_connections,
        config.max_inbound_connections_per_source,
    );
    loop {
        let incoming = tokio::select! {
            incoming = endpoint.accept() => incoming,
            () = queue.closed() => return,
        };
        let Some(incoming) = incoming else { return };
        let ip = incoming.remote_address().ip();
        // Under load (half the handshake budget in use), an address that has not shown it can
        // receive is sent a Retry first: a spoofed source never comes back, and costs nothing.
        let loaded = handshakes.in_use() * 2 >= handshakes.max_total();
        if loaded && !incoming.remote_address_validated() && incoming.may_retry() {
            if let Err(error) = incoming.retry() {
                error.into_incoming().refuse();
            }
            continue;
        }
        let (Some(connection), Some(handshake)) =
            (connections.try_acquire(ip), handshakes.try_acquire(ip))
        else {
            tracing::debug!(%ip, "too many QUIC connections or handshakes; refusing one");
            incoming.refuse();
            continue;
        };
        let slots = Slots {
            _connection: connection,
            handshake,
        };
        tokio::spawn(serve_connection(
            incoming,
            queue.clone(),
            config.clone(),
            slots,
        ));
    }
}

/// What an accepted connection holds of the listener's budgets: a handshake slot until its
/// handshake ends, a connection slot for its whole life.
struct Slots {
    _connection: SourcePermit,
    handshake: SourcePermit,
}

async fn serve_connection(
    incoming: quinn::Incoming,
    queue: mpsc::Sender<Incoming>,
    config: TransportConfig,
    slots: Slots,
) {
    let remote_addr = incoming.remote_address();
    let handshake = async { incoming.accept()?.await };
    let connection = match tokio::time::timeout(config.handshake_timeout, handshake).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => return report(&queue, accept_error(error), remote_addr),
        Err(_) => return report(&queue, AcceptError::TimedOut, remote_addr),
    };
    let Slots {
        _connection: _held_for_life,
        handshake,
    } = slots;
    drop(handshake);
    let info = match link_info(&connection) {
        Ok(info) => info,
        Err(error) => {
            connection.close(NOT_AUTHENTICATED, b"not authenticated");
            return report(&queue, error.into(), remote_addr);
        }
    };
    // A connection is worth its slot only once it carries a link: the first stream must come
    // soon.
    let mut first = Some(config.first_byte_timeout);
    loop {
        let accept = connection.accept_bi();
        let streams = tokio::select! {
            streams = async {
                match first.take() {
                    Some(within) => tokio::time::timeout(within, accept).await.ok(),
                    None => Some(accept.await),
                }
            } => streams,
            () = queue.closed() => return,
        };
        let Some(streams) = streams else {
            tracing::debug!(%remote_addr, "QUIC connection opened no stream in time; closing it");
            connection.close(NO_STREAM, b"no stream in time");
            return;
        };
        // The connection ended; its links see that on their own streams.
        let Ok(streams) = streams else { return };
        let link = link(info, connection.clone(), streams, None, &config);
        if queue.send(Incoming { result: Ok(link) }).await.is_err() {
            return;
        }
    }
}

/// Failed handshakes are reported only if there is room: a flood of them must not hold tasks.
fn report(queue: &mpsc::Sender<Incoming>, error: AcceptError, remote_addr: SocketAddr) {
    tracing::debug!(%remote_addr, %error, "QUIC handshake failed");
    let _ = queue.try_send(Incoming { result: Err(error) });
}

impl Acceptor for Listener {
    type Incoming = Incoming;

    /// The next link offered by a peer, or the failure of a peer's handshake.
    async fn accept(&self) -> io::Result<Incoming> {
        self.queue
            .lock()
            .await
            .recv()
            .await
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "QUIC endpoint closed"))
    }

    /// The address the listener is bound to, with the real port if 0 was asked for.
    fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Handshake for Incoming {
    /// The link, or why the peer's connection could not be authenticated. The QUIC handshake
    /// itself already ran, within the handshake timeout, on the listener's own task.
    async fn handshake(self) -> Result<Link, AcceptError> {
        self.result
    }
}

//! Accepting QUIC connections, each handshake on its own task, and queueing their streams.

use std::io;
use std::net::SocketAddr;

use peergraph_transport::{AcceptError, TransportConfig};
use quinn::Endpoint;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;

use crate::Link;
use crate::errors::accept_error;
use crate::session::{NOT_AUTHENTICATED, link_info};

/// Accepted streams and failed handshakes waiting for [`Listener::accept`]. When full, peers'
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

    /// The next link offered by a peer, or the failure of a peer's handshake.
    pub async fn accept(&self) -> io::Result<Incoming> {
        self.queue
            .lock()
            .await
            .recv()
            .await
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "QUIC endpoint closed"))
    }

    /// The address the listener is bound to, with the real port if 0 was asked for.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
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

impl Incoming {
    /// The link, or why the peer's connection could not be authenticated. The QUIC handshake
    /// itself already ran, within the handshake timeout, on the listener's own task.
    pub async fn handshake(self) -> Result<Link, AcceptError> {
        self.result
    }
}

async fn accept_connections(
    endpoint: Endpoint,
    queue: mpsc::Sender<Incoming>,
    config: TransportConfig,
) {
    loop {
        let incoming = tokio::select! {
            incoming = endpoint.accept() => incoming,
            () = queue.closed() => return,
        };
        let Some(incoming) = incoming else { return };
        tokio::spawn(serve_connection(incoming, queue.clone(), config.clone()));
    }
}

async fn serve_connection(
    incoming: quinn::Incoming,
    queue: mpsc::Sender<Incoming>,
    config: TransportConfig,
) {
    let remote_addr = incoming.remote_address();
    let handshake = async { incoming.accept()?.await };
    let connection = match tokio::time::timeout(config.handshake_timeout, handshake).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => return report(&queue, accept_error(error), remote_addr),
        Err(_) => return report(&queue, AcceptError::TimedOut, remote_addr),
    };
    let info = match link_info(&connection) {
        Ok(info) => info,
        Err(error) => {
            connection.close(NOT_AUTHENTICATED, b"not authenticated");
            return report(&queue, error.into(), remote_addr);
        }
    };
    loop {
        let streams = tokio::select! {
            streams = connection.accept_bi() => streams,
            () = queue.closed() => return,
        };
        // The connection ended; its links see that on their own streams.
        let Ok(streams) = streams else { return };
        let link = Link::new(
            info,
            connection.clone(),
            streams,
            None,
            config.max_frame_len,
        );
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

//! What every transport offers: dial a peer, listen, and finish an inbound connection's
//! handshake, each ending in the same [`Link`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use crate::{AcceptError, DialError, Link, PeerIdentity};

/// A transport as the runtime sees it: it dials and listens, and every link it makes is an
/// authenticated [`Link`] (TLS 1.3 both ways, the identities checked, the exporter taken).
pub trait Connector: Send + Sync + 'static {
    /// What [`listen`](Self::listen) returns.
    type Listener: Acceptor;

    /// Opens a link to `addr`. If `expected` is given, the peer must prove that identity or the
    /// dial fails with [`AuthError::IdentityMismatch`](crate::AuthError::IdentityMismatch).
    fn dial(
        &self,
        addr: SocketAddr,
        expected: Option<PeerIdentity>,
    ) -> impl Future<Output = Result<Link, DialError>> + Send;

    /// Listens on `addr`; port 0 picks a free port, see [`Acceptor::local_addr`].
    fn listen(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Listener>> + Send;

    /// Waits until what the transport closed on its own after links ended has reached the peers,
    /// for a caller about to exit once all its links have ended. A link's own close is on the
    /// wire when the link has closed (TLS close_notify, a QUIC stream's FIN), but a transport may
    /// close more afterwards (QUIC: a dialed connection whose last link is gone, closed by the
    /// endpoint's task). Returns at once when there is nothing such (the default); callers bound
    /// the wait.
    fn finish_closing(&self) -> impl Future<Output = ()> + Send {
        std::future::ready(())
    }
}

/// A bound listener.
pub trait Acceptor: Send + Sync + 'static {
    /// An inbound connection before its handshake.
    type Incoming: Handshake;

    /// The next inbound connection; finish it with [`Handshake::handshake`], preferably on its
    /// own task so that the next accept is not delayed.
    fn accept(&self) -> impl Future<Output = io::Result<Self::Incoming>> + Send;

    /// The address the listener is bound to, with the real port if 0 was asked for.
    fn local_addr(&self) -> SocketAddr;
}

/// An inbound connection whose handshake has not finished.
pub trait Handshake: Send + 'static {
    /// Finishes the handshake: the link, or why the peer could not be authenticated.
    fn handshake(self) -> impl Future<Output = Result<Link, AcceptError>> + Send;
}

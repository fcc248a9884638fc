//! A bidirectional QUIC stream as a [`Link`].

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use peergraph_transport::{Link, LinkInfo, TransportConfig};
use quinn::{RecvStream, SendStream, StoppedError, VarInt};
use tokio::io::AsyncWrite;

use crate::pool::Lease;

/// What a QUIC link keeps alive: its connection, and a dialed link's place in the connection
/// cache.
struct Guard {
    connection: quinn::Connection,
    _lease: Option<Lease>,
}

/// The link over one bidirectional stream of `connection`; `lease` keeps a dialed connection
/// cached while either half lives.
pub(crate) fn link(
    info: LinkInfo,
    connection: quinn::Connection,
    (send, recv): (SendStream, RecvStream),
    lease: Option<Lease>,
    config: &TransportConfig,
) -> Link {
    let guard = Arc::new(Guard {
        connection,
        _lease: lease,
    });
    let send = SendHalf {
        stream: send,
        stopped: None,
    };
    Link::new(info, Box::new(recv), Box::new(send), Some(guard), config)
}

/// Closes the whole QUIC connection under `link`, and every other link sharing it.
#[doc(hidden)]
pub fn close_connection(link: &Link) {
    if let Some(guard) = link
        .writer
        .guard()
        .and_then(|guard| guard.downcast_ref::<Guard>())
    {
        guard.connection.close(VarInt::from_u32(0), b"closed");
    }
}

/// The QUIC connection under `link`; for tests that watch how it ends.
#[doc(hidden)]
pub fn connection(link: &Link) -> Option<quinn::Connection> {
    link.writer
        .guard()
        .and_then(|guard| guard.downcast_ref::<Guard>())
        .map(|guard| guard.connection.clone())
}

type Stopped = Pin<Box<dyn Future<Output = Result<Option<VarInt>, StoppedError>> + Send + Sync>>;

/// A stream's sending side whose shutdown finishes the stream and then waits until the peer has
/// acknowledged every byte, so that closing the connection afterwards loses nothing. Dropped
/// without a shutdown (the link failed, or broke the protocol), it resets the stream, so that
/// the peer sees the link lost, as it does over TCP, rather than a clean end.
struct SendHalf {
    stream: SendStream,
    /// The wait for the acknowledgement, once the stream is finished.
    stopped: Option<Stopped>,
}

impl AsyncWrite for SendHalf {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        AsyncWrite::poll_write(Pin::new(&mut self.stream), cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        AsyncWrite::poll_write_vectored(Pin::new(&mut self.stream), cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        AsyncWrite::is_write_vectored(&self.stream)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        AsyncWrite::poll_flush(Pin::new(&mut self.stream), cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.stopped.is_none() {
            ready!(AsyncWrite::poll_shutdown(Pin::new(&mut self.stream), cx))?;
            self.stopped = Some(Box::pin(self.stream.stopped()));
        }
        let stopped = self.stopped.as_mut().expect("set above");
        Poll::Ready(match ready!(stopped.as_mut().poll(cx)) {
            Ok(None) => Ok(()),
            // The peer stopped reading, so some frames may never have been delivered.
            Ok(Some(_code)) => Err(io::ErrorKind::ConnectionReset.into()),
            Err(error) => Err(error.into()),
        })
    }
}

impl Drop for SendHalf {
    fn drop(&mut self) {
        if self.stopped.is_none() {
            // Already finished or reset by the peer's side: nothing more to end.
            let _ = self.stream.reset(VarInt::from_u32(0));
        }
    }
}

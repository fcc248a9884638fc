//! A link: an authenticated, ordered, framed byte stream to one peer, split into halves that may
//! live on different tasks. Every transport makes the same [`Link`] from its own streams (TCP: the
//! two halves of a TLS stream; QUIC: one bidirectional stream), so what runs on links never
//! needs to know which transport carries them.

use std::any::Any;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{FrameReader, FrameWriter, LinkError, LinkInfo, OutgoingFrame, TransportConfig};

/// The receiving byte stream of a link.
pub type ReadStream = Box<dyn AsyncRead + Send + Unpin>;

/// The sending byte stream of a link. Its `poll_shutdown` ends the link cleanly: it returns once
/// everything written has been delivered as far as the transport can tell.
pub type WriteStream = Box<dyn AsyncWrite + Send + Unpin>;

/// What a transport keeps alive as long as either half of a link lives (QUIC: the connection
/// the link's stream belongs to, and its place in the dialer's connection cache).
pub type LinkGuard = Arc<dyn Any + Send + Sync>;

/// An authenticated, ordered, framed link to one peer.
#[derive(Debug)]
pub struct Link {
    /// Who is at the other end and the value both ends exported from TLS.
    pub info: LinkInfo,
    /// Frames from the peer.
    pub reader: LinkReader,
    /// Frames to the peer.
    pub writer: LinkWriter,
}

impl Link {
    /// A link over `read` and `write`. The reader accepts handshake-sized frames
    /// ([`TransportConfig::max_handshake_frame_len`]) until [`LinkReader::lift_frame_limit`].
    pub fn new(
        info: LinkInfo,
        read: ReadStream,
        write: WriteStream,
        guard: Option<LinkGuard>,
        config: &TransportConfig,
    ) -> Self {
        let first_limit = config.max_handshake_frame_len.min(config.max_frame_len);
        Self {
            info,
            reader: LinkReader {
                frames: FrameReader::new(read, first_limit),
                max_frame_len: config.max_frame_len,
                _guard: guard.clone(),
            },
            writer: LinkWriter {
                frames: FrameWriter::new(write, config.max_frame_len),
                guard,
            },
        }
    }
}

/// The receiving half of a [`Link`].
pub struct LinkReader {
    frames: FrameReader<ReadStream>,
    /// The frame limit once the handshake is done.
    max_frame_len: usize,
    _guard: Option<LinkGuard>,
}

impl LinkReader {
    /// The handshake is done: from now on frames up to
    /// [`TransportConfig::max_frame_len`] are accepted.
    pub fn lift_frame_limit(&mut self) {
        self.frames.set_max_frame_len(self.max_frame_len);
    }

    /// The next frame, or `None` once the peer has closed the link cleanly.
    ///
    /// Cancel-safe.
    pub async fn read_frame(&mut self) -> Result<Option<Bytes>, LinkError> {
        self.frames.read_frame().await
    }

    /// [`read_frame`](Self::read_frame) as a poll, for a caller that is not a future; `Pending`
    /// registers `cx`'s waker.
    pub fn poll_read_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Bytes>, LinkError>> {
        self.frames.poll_read_frame(cx)
    }

    /// The next frame if it has already arrived whole, without waiting: the frames that came
    /// with the last [`read_frame`](Self::read_frame). A fault is left for `read_frame` to report.
    pub fn buffered_frame(&mut self) -> Option<Bytes> {
        self.frames.buffered_frame()
    }
}

/// The sending half of a [`Link`].
pub struct LinkWriter {
    frames: FrameWriter<WriteStream>,
    guard: Option<LinkGuard>,
}

impl LinkWriter {
    /// Sends the frames in order, in as few writes as possible, then flushes.
    ///
    /// Cancel-safe: frames not yet written when the future is dropped stay queued, and the next
    /// write or [`poll_send`](Self::poll_send) sends them first.
    pub async fn write_frames<F: OutgoingFrame>(&mut self, frames: &[F]) -> Result<(), LinkError> {
        self.frames.write_frames(frames).await
    }

    /// Encodes frames in order after those already queued, writing nothing yet; see
    /// [`FrameWriter::queue_frames`].
    pub fn queue_frames<F: OutgoingFrame>(&mut self, frames: &[F]) -> Result<(), LinkError> {
        self.frames.queue_frames(frames)
    }

    /// Writes what is queued and flushes; cancel-safe, see [`FrameWriter::poll_send`].
    pub fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        self.frames.poll_send(cx)
    }

    /// Whether everything queued has been written and flushed.
    pub fn is_idle(&self) -> bool {
        self.frames.is_idle()
    }

    /// Ends the link cleanly after everything written so far: the peer reads every frame, then
    /// `None`. Returns once the transport has delivered it (QUIC: the peer acknowledged every
    /// byte), so closing the connection afterwards loses nothing.
    pub async fn close(mut self) -> Result<(), LinkError> {
        self.frames.shutdown().await
    }

    /// [`close`](Self::close) as a poll, for a caller that is not a future; `Pending` registers
    /// `cx`'s waker. Once it has returned `Ready`, the writer is done with.
    pub fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        self.frames.poll_shutdown(cx)
    }

    /// What the transport keeps alive for this link; for the transport's own tests.
    #[doc(hidden)]
    pub fn guard(&self) -> Option<&LinkGuard> {
        self.guard.as_ref()
    }
}

impl std::fmt::Debug for LinkReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkReader").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for LinkWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkWriter").finish_non_exhaustive()
    }
}

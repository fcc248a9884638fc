//! An established link, split into halves that may live on different tasks.

use std::task::{Context, Poll};

use bytes::Bytes;
use peergraph_transport::{
    FrameReader, FrameWriter, LinkError, LinkInfo, OutgoingFrame, TransportConfig,
};
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio_rustls::TlsStream;

type Stream = TlsStream<TcpStream>;

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
    /// The reader accepts handshake-sized frames until [`LinkReader::lift_frame_limit`].
    pub(crate) fn new(info: LinkInfo, stream: Stream, config: &TransportConfig) -> Self {
        let (read, write) = tokio::io::split(stream);
        Self {
            info,
            reader: LinkReader {
                frames: FrameReader::new(
                    read,
                    config.max_handshake_frame_len.min(config.max_frame_len),
                ),
                max_frame_len: config.max_frame_len,
            },
            writer: LinkWriter {
                frames: FrameWriter::new(write, config.max_frame_len),
            },
        }
    }
}

/// The receiving half of a [`Link`].
#[derive(Debug)]
pub struct LinkReader {
    frames: FrameReader<ReadHalf<Stream>>,
    /// The frame limit once the handshake is done.
    max_frame_len: usize,
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
#[derive(Debug)]
pub struct LinkWriter {
    frames: FrameWriter<WriteHalf<Stream>>,
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
    /// [`FrameWriter::queue_frames`](peergraph_transport::FrameWriter::queue_frames).
    pub fn queue_frames<F: OutgoingFrame>(&mut self, frames: &[F]) -> Result<(), LinkError> {
        self.frames.queue_frames(frames)
    }

    /// Writes what is queued and flushes; cancel-safe, see
    /// [`FrameWriter::poll_send`](peergraph_transport::FrameWriter::poll_send).
    pub fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        self.frames.poll_send(cx)
    }

    /// Whether everything queued has been written and flushed.
    pub fn is_idle(&self) -> bool {
        self.frames.is_idle()
    }

    /// Closes the sending direction after everything written so far: the peer reads every
    /// frame, then `None`.
    pub async fn close(mut self) -> Result<(), LinkError> {
        self.frames.shutdown().await
    }
}

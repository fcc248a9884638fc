//! A link: one bidirectional stream, split into halves that may live on different tasks.

use std::sync::Arc;

use std::task::{Context, Poll};

use bytes::Bytes;
use peergraph_transport::{
    FrameReader, FrameWriter, LinkError, LinkInfo, OutgoingFrame, TransportConfig,
};
use quinn::{RecvStream, SendStream};

use crate::pool::Lease;

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
    /// `lease` keeps a dialed connection cached while either half lives.
    pub(crate) fn new(
        info: LinkInfo,
        connection: quinn::Connection,
        (send, recv): (SendStream, RecvStream),
        lease: Option<Lease>,
        config: &TransportConfig,
    ) -> Self {
        let lease = lease.map(Arc::new);
        Self {
            info,
            reader: LinkReader {
                frames: FrameReader::new(
                    recv,
                    config.max_handshake_frame_len.min(config.max_frame_len),
                ),
                max_frame_len: config.max_frame_len,
                _lease: lease.clone(),
            },
            writer: LinkWriter {
                frames: FrameWriter::new(send, config.max_frame_len),
                connection,
                _lease: lease,
            },
        }
    }

    /// Closes the whole QUIC connection under this link, and every other link sharing it.
    #[doc(hidden)]
    pub fn close_connection(&self) {
        self.writer
            .connection
            .close(quinn::VarInt::from_u32(0), b"closed");
    }
}

/// The receiving half of a [`Link`].
#[derive(Debug)]
pub struct LinkReader {
    frames: FrameReader<RecvStream>,
    /// The frame limit once the handshake is done.
    max_frame_len: usize,
    _lease: Option<Arc<Lease>>,
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
    frames: FrameWriter<SendStream>,
    connection: quinn::Connection,
    _lease: Option<Arc<Lease>>,
}

impl LinkWriter {
    /// Sends the frames in order, in as few writes as possible.
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

    /// Finishes the stream and waits until the peer has acknowledged every byte, so closing
    /// the connection afterwards loses nothing.
    pub async fn close(mut self) -> Result<(), LinkError> {
        self.frames.shutdown().await?;
        match self.frames.get_mut().stopped().await {
            Ok(None) => Ok(()),
            // The peer stopped reading, so some frames may never have been delivered.
            Ok(Some(_code)) => Err(LinkError::Io(std::io::ErrorKind::ConnectionReset.into())),
            Err(error) => Err(LinkError::Io(error.into())),
        }
    }
}

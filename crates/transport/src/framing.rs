//! Length-prefixed framing: each frame is a 4-byte big-endian length, then that many bytes.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use crate::LinkError;

const PREFIX_LEN: usize = 4;
/// First read buffer: room for the handshake's frames, so a link that carries little holds
/// little.
const FIRST_READ_CHUNK: usize = 1024;
/// Read buffer once one read has filled at least half of the first: enough for many small
/// frames per read.
const READ_CHUNK: usize = 16 * 1024;
/// Frames at least this long are written from their own buffer rather than copied.
const DIRECT_WRITE_MIN: usize = 16 * 1024;
/// Copied frames are sent once this much has accumulated, bounding the batch buffer.
const BATCH_LIMIT: usize = 64 * 1024;

/// Buffers one vectored write takes at most.
const MAX_WRITE_SLICES: usize = 64;

/// Splits a byte stream into frames.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buffer: BytesMut,
    /// How much room to make when the buffer is full: [`FIRST_READ_CHUNK`] until one read fills
    /// at least half of it, [`READ_CHUNK`] after.
    chunk: usize,
    max_frame_len: usize,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Reads frames from `inner`, refusing any longer than `max_frame_len`.
    pub fn new(inner: R, max_frame_len: usize) -> Self {
        Self {
            inner,
            buffer: BytesMut::with_capacity(FIRST_READ_CHUNK),
            chunk: FIRST_READ_CHUNK,
            max_frame_len,
        }
    }

    /// The next frame, or `None` if the stream ended cleanly between frames.
    ///
    /// Cancel-safe: a partly received frame stays buffered for the next call.
    pub async fn read_frame(&mut self) -> Result<Option<Bytes>, LinkError> {
        std::future::poll_fn(|cx| self.poll_read_frame(cx)).await
    }

    /// [`read_frame`](Self::read_frame) as a poll: `Pending` once the stream has nothing more
    /// for now, with `cx`'s waker registered to be woken when it has.
    pub fn poll_read_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Bytes>, LinkError>> {
        loop {
            if let Some(frame) = self.take_frame()? {
                return Poll::Ready(Ok(Some(frame)));
            }
            let spare = self.buffer.capacity() - self.buffer.len();
            // Every frame taken shrinks the room left at the buffer's end; while the buffer is
            // small, an empty one takes its whole allocation back (or a new one) before
            // reading, so that a trickle of small frames never looks like a full buffer.
            let small_and_drained =
                self.chunk < READ_CHUNK && self.buffer.is_empty() && spare < FIRST_READ_CHUNK / 2;
            if spare == 0 || small_and_drained {
                self.buffer.reserve(self.chunk);
            }
            let room = self.buffer.capacity() - self.buffer.len();
            // `read_buf` keeps no state of its own between polls, so a fresh one per poll
            // is the same read.
            let polled = std::pin::pin!(self.inner.read_buf(&mut self.buffer)).poll(cx);
            let Poll::Ready(read) = polled else {
                if self.buffer.is_empty() && self.chunk < READ_CHUNK {
                    // An idle link that carries little holds no read buffer while it waits;
                    // the next read allocates the first chunk again.
                    self.buffer = BytesMut::new();
                }
                return Poll::Pending;
            };
            let read = read?;
            if read == room && room >= FIRST_READ_CHUNK / 2 && self.chunk < READ_CHUNK {
                // The peer sends faster than this buffer takes: from now on read in larger
                // chunks, from a buffer made for them (a `BytesMut` remembers its first capacity
                // and sizes later allocations by it).
                self.chunk = READ_CHUNK;
                let mut larger = BytesMut::with_capacity(READ_CHUNK.max(self.buffer.len()));
                larger.extend_from_slice(&self.buffer);
                self.buffer = larger;
            }
            if read == 0 {
                return Poll::Ready(if self.buffer.is_empty() {
                    Ok(None)
                } else {
                    Err(LinkError::TruncatedFrame)
                });
            }
        }
    }

    /// The next frame if it has already been received whole, without reading: after
    /// [`read_frame`](Self::read_frame), this takes the other frames that arrived with it, so a
    /// caller can handle them together. A fault in the buffered bytes (a frame over the maximum)
    /// is left for the next `read_frame` to report.
    pub fn buffered_frame(&mut self) -> Option<Bytes> {
        self.take_frame().ok().flatten()
    }

    fn take_frame(&mut self) -> Result<Option<Bytes>, LinkError> {
        let Some(prefix) = self.buffer.get(..PREFIX_LEN) else {
            return Ok(None);
        };
        let mut prefix_bytes = [0u8; PREFIX_LEN];
        prefix_bytes.copy_from_slice(prefix);
        let len = u32::from_be_bytes(prefix_bytes) as usize;
        if len > self.max_frame_len {
            return Err(LinkError::FrameTooLarge {
                len,
                max: self.max_frame_len,
            });
        }
        let needed = PREFIX_LEN + len;
        if self.buffer.len() < needed {
            // Make room for more of the frame, but never more than the bytes already received:
            // the buffer grows with what the peer has sent, not with the length it announced
            // (a peer announcing 16 MiB and sending nothing more costs a few KiB).
            let missing = needed - self.buffer.len();
            self.buffer
                .reserve(missing.min(self.buffer.len().max(READ_CHUNK)));
            return Ok(None);
        }
        // Split first and skip the prefix in the frozen `Bytes`, where skipping is a pointer
        // bump (a `BytesMut` keeps its offset packed with other state).
        let mut frame = self.buffer.split_to(needed).freeze();
        frame.advance(PREFIX_LEN);
        Ok(Some(frame))
    }

    /// Changes the largest frame accepted from now on (a link accepts small frames until its
    /// handshake is done).
    pub fn set_max_frame_len(&mut self, max_frame_len: usize) {
        self.max_frame_len = max_frame_len;
    }

    /// The largest frame accepted now.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    /// The underlying stream.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

/// The body of `frame` if it is written from its own buffer rather than copied into a batch.
fn direct_body<F: OutgoingFrame>(frame: &F) -> Option<&Bytes> {
    frame
        .shared_body()
        .filter(|body| body.len() >= DIRECT_WRITE_MIN)
}

/// The bytes `queue_frames` copies into the batch that starts with `frames[0]`: each frame's
/// prefix and head, and its body unless written directly, up to the frame that fills the batch
/// or is written directly (which seals it).
fn batch_len<F: OutgoingFrame>(frames: &[F]) -> usize {
    let mut len = 0;
    for frame in frames {
        len += PREFIX_LEN + frame.head().len();
        if direct_body(frame).is_some() {
            return len;
        }
        len += frame.body().len();
        if len >= BATCH_LIMIT {
            return len;
        }
    }
    len
}

/// A frame the writer can send: a head and a body, written back to back. A plain `Bytes` is a
/// frame that is all body; the core's `Transmit` carries a data frame's payload as its body.
pub trait OutgoingFrame {
    /// The first part.
    fn head(&self) -> &[u8];
    /// The rest (may be empty).
    fn body(&self) -> &[u8];
    /// The body as a shared buffer, if it is one, so that a large body is sent without a copy.
    fn shared_body(&self) -> Option<&Bytes> {
        None
    }
    /// The whole frame's length.
    fn len(&self) -> usize {
        self.head().len() + self.body().len()
    }
    /// Whether the frame has no bytes at all.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl OutgoingFrame for Bytes {
    fn head(&self) -> &[u8] {
        &[]
    }

    fn body(&self) -> &[u8] {
        self
    }

    fn shared_body(&self) -> Option<&Bytes> {
        Some(self)
    }
}

impl OutgoingFrame for peergraph_core::Transmit {
    fn head(&self) -> &[u8] {
        self.head()
    }

    fn body(&self) -> &[u8] {
        self.body()
    }

    fn shared_body(&self) -> Option<&Bytes> {
        Some(self.body())
    }
}

/// Writes frames to a byte stream, batching small ones into few writes.
///
/// Frames are queued first ([`queue_frames`](Self::queue_frames)), encoded at once: small
/// frames are copied together, large bodies are kept as their own shared buffers. They are then
/// written out by [`poll_send`](Self::poll_send) (or [`write_frames`](Self::write_frames), which
/// does both). Everything not yet written stays queued in the writer, so a send that is dropped
/// part-way loses nothing and the next one picks up where it stopped.
#[derive(Debug)]
pub struct FrameWriter<W> {
    inner: W,
    /// Encoded bytes not yet written, in order.
    queue: VecDeque<Bytes>,
    /// Small frames being copied together; sealed into `queue` when full or when queueing ends.
    batch: BytesMut,
    /// Bytes were written since the last flush.
    unflushed: bool,
    max_frame_len: usize,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    /// Writes frames to `inner`, refusing any longer than `max_frame_len`.
    pub fn new(inner: W, max_frame_len: usize) -> Self {
        Self {
            inner,
            queue: VecDeque::new(),
            batch: BytesMut::new(),
            unflushed: false,
            max_frame_len,
        }
    }

    /// Encodes every frame, in order, after whatever is already queued; nothing is written
    /// yet. If any frame is over the maximum, none is queued.
    pub fn queue_frames<F: OutgoingFrame>(&mut self, frames: &[F]) -> Result<(), LinkError> {
        if let Some(frame) = frames.iter().find(|frame| frame.len() > self.max_frame_len) {
            return Err(LinkError::FrameTooLarge {
                len: frame.len(),
                max: self.max_frame_len,
            });
        }
        for (index, frame) in frames.iter().enumerate() {
            if self.batch.is_empty() {
                // One allocation of exactly the batch about to be copied, instead of a buffer
                // grown (and copied) as frames are appended.
                self.batch.reserve(batch_len(&frames[index..]));
            }
            // Checked above against max_frame_len, which TransportConfig keeps within u32.
            let len = u32::try_from(frame.len()).map_err(|_| LinkError::FrameTooLarge {
                len: frame.len(),
                max: self.max_frame_len,
            })?;
            // Reuses the previous batch's buffer once it has been written, so a link that sends
            // little holds little.
            self.batch.put_u32(len);
            self.batch.extend_from_slice(frame.head());
            match direct_body(frame) {
                // Large bodies go out from their own buffer: no copy.
                Some(body) => {
                    self.seal_batch();
                    self.queue.push_back(body.clone());
                }
                None => self.batch.extend_from_slice(frame.body()),
            }
            if self.batch.len() >= BATCH_LIMIT {
                self.seal_batch();
            }
        }
        self.seal_batch();
        Ok(())
    }

    fn seal_batch(&mut self) {
        if !self.batch.is_empty() {
            self.queue.push_back(self.batch.split().freeze());
        }
    }

    /// Whether everything queued has been written and flushed.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty() && !self.unflushed
    }

    /// Writes what is queued, in order, then flushes. Cancel-safe: what is not written when it
    /// returns `Pending` stays queued.
    pub fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        while let Some(front) = self.queue.front() {
            let inner = Pin::new(&mut self.inner);
            // A stream that takes several buffers at once (TLS over TCP) gets the heads and the
            // bodies written directly together, so they fill whole records and few syscalls.
            let written = if self.queue.len() > 1 && inner.is_write_vectored() {
                let mut slices = [io::IoSlice::new(&[]); MAX_WRITE_SLICES];
                let count = self.queue.len().min(MAX_WRITE_SLICES);
                for (slice, bytes) in slices.iter_mut().zip(&self.queue) {
                    *slice = io::IoSlice::new(bytes);
                }
                ready!(inner.poll_write_vectored(cx, &slices[..count]))?
            } else {
                ready!(inner.poll_write(cx, front))?
            };
            if written == 0 {
                return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero).into()));
            }
            self.unflushed = true;
            self.consume(written);
        }
        if self.unflushed {
            ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    /// Drops the first `written` bytes of the queue.
    fn consume(&mut self, mut written: usize) {
        while written > 0 {
            let Some(front) = self.queue.front_mut() else {
                return;
            };
            if written >= front.len() {
                written -= front.len();
                self.queue.pop_front();
            } else {
                front.advance(written);
                return;
            }
        }
    }

    /// Writes every frame in order (after anything already queued) and flushes once.
    ///
    /// If any frame is over the maximum, nothing is written. Cancel-safe in the sense of
    /// [`poll_send`](Self::poll_send): frames not yet written stay queued.
    pub async fn write_frames<F: OutgoingFrame>(&mut self, frames: &[F]) -> Result<(), LinkError> {
        self.queue_frames(frames)?;
        std::future::poll_fn(|cx| self.poll_send(cx)).await
    }

    /// Writes what is queued, flushes and shuts the stream down, so the peer reads a clean end
    /// after the last frame.
    pub async fn shutdown(&mut self) -> Result<(), LinkError> {
        std::future::poll_fn(|cx| self.poll_shutdown(cx)).await
    }

    /// [`shutdown`](Self::shutdown) as a poll; cancel-safe in the sense of
    /// [`poll_send`](Self::poll_send), and polled again after `Ready` it shuts down again.
    pub fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        ready!(self.poll_send(cx))?;
        ready!(Pin::new(&mut self.inner).poll_shutdown(cx))?;
        Poll::Ready(Ok(()))
    }

    /// The underlying stream.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use super::*;
    use tokio::io::AsyncWriteExt;

    fn pair(
        max: usize,
    ) -> (
        FrameWriter<tokio::io::DuplexStream>,
        FrameReader<tokio::io::DuplexStream>,
    ) {
        let (a, b) = tokio::io::duplex(1024);
        (FrameWriter::new(a, max), FrameReader::new(b, max))
    }

    #[tokio::test]
    async fn the_read_buffer_grows_with_bytes_received_not_with_the_length_announced() {
        let (mut peer, ours) = tokio::io::duplex(64 * 1024);
        let mut reader = FrameReader::new(ours, 16 << 20);
        // A 15 MiB frame announced, 100 bytes of it sent.
        peer.write_all(&(15u32 << 20).to_be_bytes()).await.unwrap();
        peer.write_all(&[7; 100]).await.unwrap();
        let waker = std::task::Waker::noop();
        assert!(
            reader
                .poll_read_frame(&mut Context::from_waker(waker))
                .is_pending()
        );
        assert!(
            reader.buffer.capacity() <= 64 * 1024,
            "{} bytes reserved for 104 received",
            reader.buffer.capacity()
        );
        // As the bytes come, the buffer follows, and the frame arrives whole.
        let rest = vec![7u8; (15 << 20) - 100];
        let (written, read) = tokio::join!(peer.write_all(&rest), reader.read_frame());
        written.unwrap();
        assert_eq!(read.unwrap().map(|frame| frame.len()), Some(15 << 20));
    }

    #[test]
    fn a_batch_is_reserved_for_exactly_what_it_will_copy() {
        let frames = |sizes: &[usize]| -> Vec<Bytes> {
            sizes
                .iter()
                .map(|&size| Bytes::from(vec![1u8; size]))
                .collect()
        };
        // The seventh 10,000-byte frame crosses the limit and is the batch's last.
        let ten_k = frames(&[10_000; 9]);
        assert_eq!(batch_len(&ten_k), 7 * (PREFIX_LEN + 10_000));
        // A directly written body ends the batch after its prefix, and is not copied.
        let mixed = frames(&[10, DIRECT_WRITE_MIN, 10]);
        assert_eq!(batch_len(&mixed), PREFIX_LEN + 10 + PREFIX_LEN);
        assert_eq!(batch_len(&mixed[2..]), PREFIX_LEN + 10);
        assert_eq!(batch_len::<Bytes>(&[]), 0);
    }

    /// Writes `frames` in one call and shuts down; the reader gets each whole, in order, then a
    /// clean end.
    async fn send_and_read_back(frames: Vec<Bytes>) {
        let (mut writer, mut reader) = pair(1 << 20);
        let sent = frames.clone();
        let write = tokio::spawn(async move {
            writer.write_frames(&sent).await?;
            writer.shutdown().await
        });
        for expected in &frames {
            assert_eq!(
                reader.read_frame().await.ok().flatten().as_ref(),
                Some(expected)
            );
        }
        assert!(matches!(reader.read_frame().await, Ok(None)));
        assert!(matches!(write.await, Ok(Ok(()))));
    }

    #[tokio::test]
    async fn frames_spanning_many_batches_arrive_whole_and_in_order() {
        // 300 KiB of small and middling frames (several batches) around one direct body.
        let mut frames: Vec<Bytes> = (0..3_000u32)
            .map(|n| Bytes::from(vec![n as u8; (n as usize * 7) % 200]))
            .collect();
        frames.insert(1_500, Bytes::from(vec![9u8; DIRECT_WRITE_MIN + 1]));
        send_and_read_back(frames).await;
    }

    #[tokio::test]
    async fn small_and_large_frames_arrive_in_order_then_clean_end() {
        send_and_read_back(vec![
            Bytes::from_static(b"a"),
            Bytes::new(),
            Bytes::from(vec![7u8; 100_000]),
            Bytes::from_static(b"last"),
        ])
        .await;
    }

    #[tokio::test]
    async fn a_quiet_stream_keeps_a_small_read_buffer_and_a_busy_one_reads_in_large_chunks() {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let (mut writer, mut reader) = (FrameWriter::new(a, 1 << 20), FrameReader::new(b, 1 << 20));
        // A handshake-sized exchange fits the first buffer: an idle link holds 1 KiB, not 16.
        let hello = Bytes::from(vec![1u8; 200]);
        writer
            .write_frames(std::slice::from_ref(&hello))
            .await
            .unwrap();
        assert_eq!(reader.read_frame().await.unwrap(), Some(hello));
        assert!(reader.buffer.capacity() <= FIRST_READ_CHUNK);
        assert_eq!(reader.chunk, FIRST_READ_CHUNK);
        // A trickle of keepalive-sized frames, read one at a time, many times the first
        // buffer in total, never fills it.
        for i in 0..1000u16 {
            let keepalive = Bytes::from(i.to_be_bytes().to_vec());
            writer
                .write_frames(std::slice::from_ref(&keepalive))
                .await
                .unwrap();
            assert_eq!(reader.read_frame().await.unwrap(), Some(keepalive));
        }
        assert_eq!(reader.chunk, FIRST_READ_CHUNK);
        assert!(reader.buffer.capacity() <= FIRST_READ_CHUNK);
        // Many small frames at once fill it: from then on it reads up to READ_CHUNK at a time.
        let burst: Vec<Bytes> = (0..400u16)
            .map(|i| Bytes::from(i.to_be_bytes().repeat(32)))
            .collect();
        writer.write_frames(&burst).await.unwrap();
        for expected in &burst {
            assert_eq!(reader.read_frame().await.unwrap().as_ref(), Some(expected));
        }
        assert_eq!(reader.chunk, READ_CHUNK);
    }

    #[tokio::test]
    async fn announced_length_over_max_is_refused() {
        let (a, b) = tokio::io::duplex(64);
        let mut reader = FrameReader::new(b, 10);
        let mut raw = a;
        raw.write_all(&u32::MAX.to_be_bytes()).await.ok();
        let result = reader.read_frame().await;
        assert!(
            matches!(result, Err(LinkError::FrameTooLarge { len, max: 10 }) if len == u32::MAX as usize)
        );
    }

    #[tokio::test]
    async fn writer_refuses_oversized_frame_and_writes_nothing() {
        let (mut writer, mut reader) = pair(4);
        let result = writer
            .write_frames(&[Bytes::from_static(b"ok"), Bytes::from_static(b"too long")])
            .await;
        assert!(matches!(
            result,
            Err(LinkError::FrameTooLarge { len: 8, max: 4 })
        ));
        writer.shutdown().await.ok();
        assert!(matches!(reader.read_frame().await, Ok(None)));
    }

    #[tokio::test]
    async fn a_send_dropped_part_way_loses_nothing_and_the_next_one_finishes_it() {
        let (a, b) = tokio::io::duplex(100);
        let (mut writer, mut reader) = (FrameWriter::new(a, 1 << 20), FrameReader::new(b, 1 << 20));
        let frames: Vec<Bytes> = (0..50u8).map(|i| Bytes::from(vec![i; 30])).collect();
        let large = Bytes::from(vec![0xee; DIRECT_WRITE_MIN + 1]);
        writer.queue_frames(&frames).unwrap();
        writer.queue_frames(std::slice::from_ref(&large)).unwrap();
        // Nobody reads yet: the 100-byte pipe fills and the send stops part-way, mid-frame.
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(writer.poll_send(&mut cx).is_pending());
        assert!(!writer.is_idle());
        // A write dropped after a poll that could not finish keeps its frame queued too.
        let dropped = [Bytes::from_static(b"dropped")];
        {
            let mut write = std::pin::pin!(writer.write_frames(&dropped));
            assert!(write.as_mut().poll(&mut cx).is_pending());
        }
        let finish = tokio::spawn(async move {
            writer.write_frames(&[Bytes::from_static(b"last")]).await?;
            writer.shutdown().await
        });
        let last = Bytes::from_static(b"last");
        for expected in frames.iter().chain([&large, &dropped[0], &last]) {
            assert_eq!(reader.read_frame().await.unwrap().as_ref(), Some(expected));
        }
        assert!(matches!(reader.read_frame().await, Ok(None)));
        assert!(matches!(finish.await, Ok(Ok(()))));
    }

    /// A stream that takes several buffers per write, but at most `per_write` bytes, and
    /// counts its writes.
    struct Vectored {
        written: Vec<u8>,
        per_write: usize,
        writes: usize,
    }

    impl AsyncWrite for Vectored {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.poll_write_vectored(cx, &[io::IoSlice::new(buf)])
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            self.writes += 1;
            let mut taken = 0;
            for buf in bufs {
                let take = buf.len().min(self.per_write - taken);
                self.written.extend_from_slice(&buf[..take]);
                taken += take;
            }
            Poll::Ready(Ok(taken))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_stream_that_takes_several_buffers_gets_heads_and_bodies_together_in_order() {
        let frames: Vec<Bytes> = (0..6u8)
            .map(|i| Bytes::from(vec![i; DIRECT_WRITE_MIN + usize::from(i)]))
            .collect();
        let mut expected = Vec::new();
        for frame in &frames {
            expected.extend_from_slice(&(frame.len() as u32).to_be_bytes());
            expected.extend_from_slice(frame);
        }
        for per_write in [7, 1 << 20] {
            let stream = Vectored {
                written: Vec::new(),
                per_write,
                writes: 0,
            };
            let mut writer = FrameWriter::new(stream, 1 << 20);
            writer.write_frames(&frames).await.unwrap();
            let stream = writer.get_mut();
            assert_eq!(
                stream.written, expected,
                "whole and in order ({per_write} per write)"
            );
            if per_write > expected.len() {
                // Six heads and six bodies, in one write.
                assert_eq!(stream.writes, 1);
            }
        }
    }

    #[tokio::test]
    async fn end_of_stream_inside_a_frame_is_truncation() {
        let (mut raw, b) = tokio::io::duplex(64);
        let mut reader = FrameReader::new(b, 100);
        raw.write_all(&[0, 0, 0, 5, 1, 2]).await.ok();
        drop(raw);
        assert!(matches!(
            reader.read_frame().await,
            Err(LinkError::TruncatedFrame)
        ));
    }
}

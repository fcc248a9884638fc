//! A link's frames waiting to be written, and the batching of small messages into one frame.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::codec::{self, DataBatch, Transmit};

/// Messages at least this long always travel in a frame of their own, whose payload goes to the
/// socket without a copy; shorter ones may share a frame with the messages queued after them.
pub(crate) const MAX_BATCHED_PAYLOAD: usize = 16 * 1024;

/// A link's frames waiting to be written, oldest first, and the bytes they will take on the
/// wire. Most links hold at most one frame at a time (a handshake frame, a keepalive, a message
/// now and then), so the oldest waits inline and only a second one needs the queue's allocation.
///
/// A small message queued behind another small message of the same type, while neither has been
/// taken, joins it in one `DataBatch` frame (if the peer accepts batches): the frames are built
/// when taken, so a link whose socket keeps up sends each message at once in a frame of its own,
/// and one whose socket is busy sends what piled up in few frames.
#[derive(Default)]
pub(super) struct SendQueue {
    first: Option<Queued>,
    rest: VecDeque<Queued>,
    bytes: usize,
}

enum Queued {
    Frame(Transmit),
    /// A small message, alone so far: a `Data` frame when taken.
    Message {
        type_id: [u8; 16],
        payload: Bytes,
    },
    /// Small messages of one type: a `DataBatch` frame when taken.
    Batch(DataBatch),
}

impl Queued {
    /// The frame of a message or a batch. Out of line, so that taking a frame that is already
    /// one (every handshake frame) does not pay for building these.
    #[inline(never)]
    fn into_frame(self) -> Transmit {
        match self {
            Self::Frame(frame) => frame,
            Self::Message { type_id, payload } => codec::data(type_id, payload),
            Self::Batch(batch) => batch.finish(),
        }
    }

    /// The entry's length on the wire (without the transport's length prefix).
    fn len(&self) -> usize {
        match self {
            Self::Frame(frame) => frame.len(),
            Self::Message { payload, .. } => codec::data_frame_len(payload.len()),
            Self::Batch(batch) => batch.len(),
        }
    }
}

impl SendQueue {
    /// Queues a frame; returns the bytes it adds.
    pub(super) fn push_frame(&mut self, frame: Transmit) -> usize {
        self.push(Queued::Frame(frame))
    }

    /// Queues a message, in a batch of frames up to `batch_limit` bytes (0: in a frame of its
    /// own); returns the bytes it adds.
    pub(super) fn push_data(
        &mut self,
        type_id: [u8; 16],
        payload: Bytes,
        batch_limit: usize,
    ) -> usize {
        if payload.len() >= MAX_BATCHED_PAYLOAD || batch_limit == 0 {
            return self.push_frame(codec::data(type_id, payload));
        }
        let last = self.rest.back_mut().or(self.first.as_mut());
        if let Some(last) = last {
            let before = last.len();
            if join(last, type_id, &payload, batch_limit) {
                let added = last.len() - before;
                self.bytes += added;
                return added;
            }
        }
        self.push(Queued::Message { type_id, payload })
    }

    fn push(&mut self, entry: Queued) -> usize {
        let len = entry.len();
        self.bytes += len;
        if self.first.is_none() && self.rest.is_empty() {
            self.first = Some(entry);
        } else {
            self.rest.push_back(entry);
        }
        len
    }

    /// The oldest frame.
    pub(super) fn pop_front(&mut self) -> Option<Transmit> {
        let frame = match self.first.take().or_else(|| self.rest.pop_front())? {
            Queued::Frame(frame) => frame,
            messages => messages.into_frame(),
        };
        self.bytes -= frame.len();
        Some(frame)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.first.is_none() && self.rest.is_empty()
    }

    /// Bytes queued, as they will be on the wire.
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Adds a small message to `last` if it is a message or batch of the same type with room for it
/// within `limit`.
fn join(last: &mut Queued, type_id: [u8; 16], payload: &[u8], limit: usize) -> bool {
    match last {
        Queued::Message {
            type_id: first_type,
            payload: first,
        } if *first_type == type_id => {
            // A second message came while the first waited: the socket is busy, and more are
            // likely to follow. The batch gets its whole room at once rather than regrow.
            let mut batch = DataBatch::new(type_id, first, limit);
            if batch.push(&type_id, payload, limit).is_none() {
                return false;
            }
            *last = Queued::Batch(batch);
            true
        }
        Queued::Batch(batch) => batch.push(&type_id, payload, limit).is_some(),
        _ => false,
    }
}

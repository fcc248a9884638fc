//! Writing control frames (Hello, Accept, Confirm, Refuse, Close, Keepalive) exactly as prost
//! does.

use bytes::{BufMut, Bytes};
use prost::encoding::{encode_varint, encoded_len_varint};

use super::{
    ACCEPT_TAG, CLOSE_TAG, CONFIRM_TAG, CloseReason, FIXED64, HELLO_TAG, KEEPALIVE_TAG,
    LENGTH_DELIMITED, PROTOCOL_VERSION, REFUSE_TAG, RefuseReason, Transmit, VARINT,
};

/// Builds one frame in a buffer of exactly its size.
struct Writer {
    buffer: Vec<u8>,
    /// The frame's length, computed before writing it.
    len: usize,
}

impl Writer {
    /// `Frame { <kind tag>: <message of body_len bytes> }`.
    fn frame(kind_tag: u8, body_len: usize) -> Self {
        let len = 1 + encoded_len_varint(body_len as u64) + body_len;
        let mut buffer = Vec::with_capacity(len);
        buffer.put_u8(kind_tag);
        encode_varint(body_len as u64, &mut buffer);
        Self { buffer, len }
    }

    fn varint(&mut self, number: u8, value: u64) {
        if value != 0 {
            self.buffer.put_u8(number << 3 | VARINT);
            encode_varint(value, &mut self.buffer);
        }
    }

    fn fixed64(&mut self, number: u8, value: u64) {
        if value != 0 {
            self.buffer.put_u8(number << 3 | FIXED64);
            self.buffer.put_u64_le(value);
        }
    }

    fn bytes(&mut self, number: u8, value: &[u8]) {
        if !value.is_empty() {
            self.buffer.put_u8(number << 3 | LENGTH_DELIMITED);
            encode_varint(value.len() as u64, &mut self.buffer);
            self.buffer.put_slice(value);
        }
    }

    fn finish(self) -> Transmit {
        debug_assert_eq!(self.buffer.len(), self.len, "the frame's size was exact");
        Transmit::whole(Bytes::from(self.buffer))
    }
}

/// The encoded length of a field prost leaves out when it holds its default.
fn varint_field_len(value: u64) -> usize {
    if value == 0 {
        0
    } else {
        1 + encoded_len_varint(value)
    }
}

fn fixed64_field_len(value: u64) -> usize {
    if value == 0 { 0 } else { 9 }
}

fn bytes_field_len(value: &[u8]) -> usize {
    if value.is_empty() {
        0
    } else {
        1 + encoded_len_varint(value.len() as u64) + value.len()
    }
}

pub(crate) fn hello(
    graph_id: &str,
    target_peer_id: &str,
    source_peer_id: &str,
    source_node_id: u64,
    pake_share: &[u8],
    batch_limit: u32,
    neighbor: bool,
) -> Transmit {
    let version = u64::from(PROTOCOL_VERSION);
    let body_len = varint_field_len(version)
        + bytes_field_len(graph_id.as_bytes())
        + bytes_field_len(target_peer_id.as_bytes())
        + bytes_field_len(source_peer_id.as_bytes())
        + fixed64_field_len(source_node_id)
        + bytes_field_len(pake_share)
        + varint_field_len(u64::from(batch_limit))
        + varint_field_len(u64::from(neighbor));
    let mut frame = Writer::frame(HELLO_TAG, body_len);
    frame.varint(1, version);
    frame.bytes(2, graph_id.as_bytes());
    frame.bytes(3, target_peer_id.as_bytes());
    frame.bytes(4, source_peer_id.as_bytes());
    frame.fixed64(5, source_node_id);
    frame.bytes(6, pake_share);
    frame.varint(7, u64::from(batch_limit));
    frame.varint(8, u64::from(neighbor));
    frame.finish()
}

pub(crate) fn accept(
    node_id: u64,
    pake_share: &[u8],
    batch_limit: u32,
    confirmation: &[u8],
    peer_id: &str,
) -> Transmit {
    let body_len = fixed64_field_len(node_id)
        + bytes_field_len(pake_share)
        + varint_field_len(u64::from(batch_limit))
        + bytes_field_len(confirmation)
        + bytes_field_len(peer_id.as_bytes());
    let mut frame = Writer::frame(ACCEPT_TAG, body_len);
    frame.fixed64(1, node_id);
    frame.bytes(2, pake_share);
    frame.varint(3, u64::from(batch_limit));
    frame.bytes(4, confirmation);
    frame.bytes(5, peer_id.as_bytes());
    frame.finish()
}

/// `Frame { confirm: {} }`: the Confirm of a graph without a secret.
static EMPTY_CONFIRM_FRAME: [u8; 2] = [CONFIRM_TAG, 0];

pub(crate) fn confirm(confirmation: &[u8]) -> Transmit {
    if confirmation.is_empty() {
        return Transmit::whole(Bytes::from_static(&EMPTY_CONFIRM_FRAME));
    }
    let mut frame = Writer::frame(CONFIRM_TAG, bytes_field_len(confirmation));
    frame.bytes(1, confirmation);
    frame.finish()
}

/// `Frame { <kind>: { reason } }` for every reason value below 8: `[tag, 2, field 1, reason]`,
/// except reason 0, which prost leaves out (`[tag, 0]`, the rest unused).
const fn reason_frames(kind_tag: u8) -> [[u8; 4]; 8] {
    let mut frames = [[kind_tag, 2, 1 << 3 | VARINT, 0]; 8];
    frames[0] = [kind_tag, 0, 0, 0];
    let mut reason = 1;
    while reason < 8 {
        frames[reason][3] = reason as u8;
        reason += 1;
    }
    frames
}

static REFUSE_FRAMES: [[u8; 4]; 8] = reason_frames(REFUSE_TAG);
pub(super) static CLOSE_FRAMES: [[u8; 4]; 8] = reason_frames(CLOSE_TAG);
static KEEPALIVE_FRAME: [u8; 2] = [KEEPALIVE_TAG, 0];

/// `Frame { <kind>: { reason } }`: static for the reasons below 8 (all that this version
/// defines), written out for any other.
pub(super) fn reason_frame(frames: &'static [[u8; 4]; 8], reason: i32) -> Transmit {
    match usize::try_from(reason)
        .ok()
        .and_then(|index| frames.get(index))
    {
        Some(frame) => {
            let len = if reason == 0 { 2 } else { 4 };
            Transmit::whole(Bytes::from_static(&frame[..len]))
        }
        None => {
            // prost writes an enum as its i32 sign-extended to 64 bits.
            let value = i64::from(reason) as u64;
            let mut frame = Writer::frame(frames[0][0], varint_field_len(value));
            frame.varint(1, value);
            frame.finish()
        }
    }
}

pub(crate) fn refuse(reason: RefuseReason) -> Transmit {
    reason_frame(&REFUSE_FRAMES, reason.into())
}

pub(crate) fn close(reason: CloseReason) -> Transmit {
    reason_frame(&CLOSE_FRAMES, reason.into())
}

pub(crate) fn keepalive() -> Transmit {
    Transmit::whole(Bytes::from_static(&KEEPALIVE_FRAME))
}

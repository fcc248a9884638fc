//! Encoding and validating wire frames. Every decode failure is a named [`ProtocolViolation`].
//!
//! Every frame the node sends is written here byte for byte as prost writes it, without building
//! prost's message structs; the frames with no variable part are static. Reading has fast paths
//! for exactly that layout, which borrow a Hello's strings from the frame instead of allocating
//! them. Any other layout (fields out of order, repeated or unknown, a tag written long) goes to
//! prost, so a fast path only saves work: the tests check that whatever it accepts, prost reads
//! the same way.

use std::borrow::Cow;

use bytes::{Buf, BufMut, Bytes};
use peergraph_proto::v1::{self as wire, frame::Kind};
use prost::Message;
use prost::encoding::{encode_varint, encoded_len_varint};

use crate::event::ProtocolViolation;
pub(crate) use crate::transmit::data;
use crate::transmit::{Transmit, parse_data, varint};

pub(crate) use wire::{CloseReason, RefuseReason};

/// The protocol version this crate speaks.
pub(crate) const PROTOCOL_VERSION: u32 = 1;

/// The tags of `Frame`'s fields (each a length-delimited message).
const HELLO_TAG: u8 = 1 << 3 | 2;
const ACCEPT_TAG: u8 = 2 << 3 | 2;
const REFUSE_TAG: u8 = 3 << 3 | 2;
const CLOSE_TAG: u8 = 5 << 3 | 2;
const KEEPALIVE_TAG: u8 = 6 << 3 | 2;

/// Protobuf wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LENGTH_DELIMITED: u8 = 2;

/// A received Hello. Its strings borrow from the frame when it came in the usual layout.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Hello<'a> {
    pub(crate) version: u32,
    pub(crate) graph_id: Cow<'a, str>,
    pub(crate) target_peer_id: Cow<'a, str>,
    pub(crate) source_peer_id: Cow<'a, str>,
    pub(crate) source_node_id: u64,
    pub(crate) membership_proof: Cow<'a, [u8]>,
}

/// A received Accept.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Accept<'a> {
    pub(crate) node_id: u64,
    pub(crate) membership_proof: Cow<'a, [u8]>,
}

/// A decoded frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Inbound<'a> {
    Hello(Hello<'a>),
    Accept(Accept<'a>),
    Refuse(RefuseReason),
    Data { type_id: [u8; 16], payload: Bytes },
    Close(CloseReason),
    Keepalive,
}

/// Decodes one frame. A data frame's payload takes `frame`'s buffer (leaving `frame` empty);
/// other frames borrow from it.
pub(crate) fn decode(frame: &mut Bytes) -> Result<Inbound<'_>, ProtocolViolation> {
    if let Some((type_id, payload)) = parse_data(frame) {
        // Narrowed in place: the payload keeps the frame's reference to the buffer.
        let mut frame = std::mem::take(frame);
        frame.truncate(payload.end);
        frame.advance(payload.start);
        return Ok(Inbound::Data {
            type_id,
            payload: frame,
        });
    }
    let frame: &Bytes = frame;
    match parse_control(frame) {
        Some(inbound) => Ok(inbound),
        None => decode_general(frame.clone()),
    }
}

/// Decodes any encoding of a frame with prost. Byte fields share `frame`'s buffer.
fn decode_general(frame: Bytes) -> Result<Inbound<'static>, ProtocolViolation> {
    let frame = wire::Frame::decode(frame).map_err(|_| ProtocolViolation::MalformedFrame)?;
    Ok(match frame.kind.ok_or(ProtocolViolation::MalformedFrame)? {
        Kind::Hello(hello) => Inbound::Hello(Hello {
            version: hello.version,
            graph_id: Cow::Owned(hello.graph_id),
            target_peer_id: Cow::Owned(hello.target_peer_id),
            source_peer_id: Cow::Owned(hello.source_peer_id),
            source_node_id: hello.source_node_id,
            membership_proof: Cow::Owned(hello.membership_proof.into()),
        }),
        Kind::Accept(accept) => Inbound::Accept(Accept {
            node_id: accept.node_id,
            membership_proof: Cow::Owned(accept.membership_proof.into()),
        }),
        Kind::Refuse(refuse) => Inbound::Refuse(refuse_reason(refuse.reason)),
        Kind::Close(close) => Inbound::Close(close_reason(close.reason)),
        Kind::Data(data) => {
            let type_id: [u8; 16] = data
                .type_id
                .as_ref()
                .try_into()
                .map_err(|_| ProtocolViolation::InvalidTypeId)?;
            Inbound::Data {
                type_id,
                payload: data.payload,
            }
        }
        Kind::Keepalive(_) => Inbound::Keepalive,
    })
}

/// An enum value this version does not know is read as a plain refusal / close, so a newer
/// peer's reasons still end the attempt cleanly.
fn refuse_reason(value: i32) -> RefuseReason {
    RefuseReason::try_from(value).unwrap_or(RefuseReason::Refused)
}

fn close_reason(value: i32) -> CloseReason {
    CloseReason::try_from(value).unwrap_or(CloseReason::Unspecified)
}

/// Reads a frame other than data in the layout [`hello`], [`accept`] and the static frames use:
/// one kind, whose fields come once each in field order. `None` for anything else.
fn parse_control(frame: &[u8]) -> Option<Inbound<'_>> {
    let (&tag, rest) = frame.split_first()?;
    let (len, body) = varint(rest)?;
    if len != body.len() as u64 {
        return None;
    }
    let mut fields = Fields::new(body);
    let inbound = match tag {
        HELLO_TAG => {
            let mut hello = Hello {
                version: 0,
                graph_id: Cow::Borrowed(""),
                target_peer_id: Cow::Borrowed(""),
                source_peer_id: Cow::Borrowed(""),
                source_node_id: 0,
                membership_proof: Cow::Borrowed(&[]),
            };
            while let Some(field) = fields.next()? {
                match field {
                    (1, Value::Varint(version)) => hello.version = version as u32,
                    (2, Value::Bytes(bytes)) => hello.graph_id = utf8(bytes)?,
                    (3, Value::Bytes(bytes)) => hello.target_peer_id = utf8(bytes)?,
                    (4, Value::Bytes(bytes)) => hello.source_peer_id = utf8(bytes)?,
                    (5, Value::Fixed64(id)) => hello.source_node_id = id,
                    (6, Value::Bytes(bytes)) => hello.membership_proof = Cow::Borrowed(bytes),
                    _ => return None,
                }
            }
            Inbound::Hello(hello)
        }
        ACCEPT_TAG => {
            let mut accept = Accept {
                node_id: 0,
                membership_proof: Cow::Borrowed(&[]),
            };
            while let Some(field) = fields.next()? {
                match field {
                    (1, Value::Fixed64(id)) => accept.node_id = id,
                    (2, Value::Bytes(bytes)) => accept.membership_proof = Cow::Borrowed(bytes),
                    _ => return None,
                }
            }
            Inbound::Accept(accept)
        }
        REFUSE_TAG => Inbound::Refuse(refuse_reason(fields.reason()?)),
        CLOSE_TAG => Inbound::Close(close_reason(fields.reason()?)),
        KEEPALIVE_TAG if body.is_empty() => Inbound::Keepalive,
        _ => return None,
    };
    Some(inbound)
}

fn utf8(bytes: &[u8]) -> Option<Cow<'_, str>> {
    std::str::from_utf8(bytes).ok().map(Cow::Borrowed)
}

/// One field's value, by wire type.
enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
}

/// The fields of a message whose field numbers are below 16 (one-byte tags) and strictly
/// increasing, so none repeats.
struct Fields<'a> {
    rest: &'a [u8],
    last: u8,
}

impl<'a> Fields<'a> {
    fn new(body: &'a [u8]) -> Self {
        Self {
            rest: body,
            last: 0,
        }
    }

    /// `Some(None)` at the end of the message; `None` for a layout the fast path leaves to prost.
    #[inline]
    fn next(&mut self) -> Option<Option<(u8, Value<'a>)>> {
        let Some((&tag, rest)) = self.rest.split_first() else {
            return Some(None);
        };
        let number = tag >> 3;
        if tag & 0x80 != 0 || number <= self.last {
            return None;
        }
        self.last = number;
        let (value, rest) = match tag & 7 {
            VARINT => {
                let (value, rest) = varint(rest)?;
                (Value::Varint(value), rest)
            }
            FIXED64 => {
                let (value, rest) = rest.split_first_chunk::<8>()?;
                (Value::Fixed64(u64::from_le_bytes(*value)), rest)
            }
            LENGTH_DELIMITED => {
                let (len, rest) = varint(rest)?;
                let len = usize::try_from(len).ok().filter(|&len| len <= rest.len())?;
                let (bytes, rest) = rest.split_at(len);
                (Value::Bytes(bytes), rest)
            }
            _ => return None,
        };
        self.rest = rest;
        Some(Some((number, value)))
    }

    /// The `reason` (field 1, an enum) of a Refuse or Close: the whole message.
    fn reason(&mut self) -> Option<i32> {
        let mut reason = 0;
        while let Some(field) = self.next()? {
            match field {
                // prost reads an enum's varint as i32 by truncation; so does this.
                (1, Value::Varint(value)) => reason = value as i32,
                _ => return None,
            }
        }
        Some(reason)
    }
}

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
    proof: &[u8],
) -> Transmit {
    let version = u64::from(PROTOCOL_VERSION);
    let body_len = varint_field_len(version)
        + bytes_field_len(graph_id.as_bytes())
        + bytes_field_len(target_peer_id.as_bytes())
        + bytes_field_len(source_peer_id.as_bytes())
        + fixed64_field_len(source_node_id)
        + bytes_field_len(proof);
    let mut frame = Writer::frame(HELLO_TAG, body_len);
    frame.varint(1, version);
    frame.bytes(2, graph_id.as_bytes());
    frame.bytes(3, target_peer_id.as_bytes());
    frame.bytes(4, source_peer_id.as_bytes());
    frame.fixed64(5, source_node_id);
    frame.bytes(6, proof);
    frame.finish()
}

pub(crate) fn accept(node_id: u64, proof: &[u8]) -> Transmit {
    let body_len = fixed64_field_len(node_id) + bytes_field_len(proof);
    let mut frame = Writer::frame(ACCEPT_TAG, body_len);
    frame.fixed64(1, node_id);
    frame.bytes(2, proof);
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
static CLOSE_FRAMES: [[u8; 4]; 8] = reason_frames(CLOSE_TAG);
static KEEPALIVE_FRAME: [u8; 2] = [KEEPALIVE_TAG, 0];

/// `Frame { <kind>: { reason } }`: static for the reasons below 8 (all that this version
/// defines), written out for any other.
fn reason_frame(frames: &'static [[u8; 4]; 8], reason: i32) -> Transmit {
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

/// Checks a graph id or peer id received from a peer with the same rules as local arguments.
pub(crate) fn valid_name(name: &str) -> bool {
    crate::validate::name("name", name).is_ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn prost_frame(kind: Kind) -> Vec<u8> {
        wire::Frame { kind: Some(kind) }.encode_to_vec()
    }

    fn prost_hello(
        version: u32,
        names: &[String; 3],
        source_node_id: u64,
        proof: &[u8],
    ) -> wire::Hello {
        wire::Hello {
            version,
            graph_id: names[0].clone(),
            target_peer_id: names[1].clone(),
            source_peer_id: names[2].clone(),
            source_node_id,
            membership_proof: Bytes::copy_from_slice(proof),
        }
    }

    /// Decodes `bytes` both ways; the fast path, where it answers, must agree with prost.
    fn decode_both(bytes: &[u8]) -> Result<Inbound<'static>, ProtocolViolation> {
        let general = decode_general(Bytes::copy_from_slice(bytes));
        let mut frame = Bytes::copy_from_slice(bytes);
        assert_eq!(decode(&mut frame), general, "frame {bytes:02x?}");
        general
    }

    #[test]
    fn reason_and_keepalive_frames_are_what_prost_writes_and_read_back() {
        let check = |ours: Transmit, kind: Kind, expected: Inbound<'static>| {
            let ours = ours.into_bytes();
            assert_eq!(ours.as_ref(), &prost_frame(kind)[..], "{expected:?}");
            assert!(
                parse_control(&ours).is_some(),
                "the fast path reads {expected:?}"
            );
            assert_eq!(decode_both(&ours), Ok(expected));
        };
        for value in 0..=3 {
            let reason = RefuseReason::try_from(value).expect("a known reason");
            let kind = Kind::Refuse(wire::Refuse { reason: value });
            check(refuse(reason), kind, Inbound::Refuse(reason));
        }
        for value in 0..=4 {
            let reason = CloseReason::try_from(value).expect("a known reason");
            let kind = Kind::Close(wire::Close { reason: value });
            check(close(reason), kind, Inbound::Close(reason));
        }
        let kind = Kind::Keepalive(wire::Keepalive {});
        check(keepalive(), kind, Inbound::Keepalive);
    }

    #[test]
    fn reasons_beyond_the_static_table_are_written_as_prost_writes_them() {
        for value in [8, 300, -1, i32::MAX, i32::MIN] {
            let ours = reason_frame(&CLOSE_FRAMES, value).into_bytes();
            let prost = prost_frame(Kind::Close(wire::Close { reason: value }));
            assert_eq!(ours.as_ref(), &prost[..], "close {value}");
            assert_eq!(decode_both(&ours), Ok(Inbound::Close(close_reason(value))));
        }
    }

    #[test]
    fn a_varint_over_64_bits_is_malformed_on_both_paths() {
        // Ten bytes whose last is above 1: prost refuses them, and so must the fast paths.
        let too_long = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02];
        let mut keepalive = vec![KEEPALIVE_TAG];
        keepalive.extend_from_slice(&too_long);
        let mut close = vec![CLOSE_TAG, 11, 0x08, 0x81];
        close.extend_from_slice(&too_long[1..]);
        let mut data = vec![0x22, 0x92];
        data.extend_from_slice(&too_long[1..]);
        data.extend_from_slice(&[0x0a, 0x10]);
        data.extend_from_slice(&[7; 16]);
        for frame in [&keepalive, &close, &data] {
            assert!(parse_control(frame).is_none(), "{frame:02x?}");
            assert_eq!(parse_data(frame), None, "{frame:02x?}");
            assert_eq!(
                decode_both(frame),
                Err(ProtocolViolation::MalformedFrame),
                "{frame:02x?}"
            );
        }
        // The largest value that fits still reads.
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(varint(&max), Some((u64::MAX, &[][..])));
    }

    #[test]
    fn unknown_reasons_read_as_refused_and_unspecified_on_both_paths() {
        let refuse = prost_frame(Kind::Refuse(wire::Refuse { reason: 99 }));
        assert_eq!(
            decode_both(&refuse),
            Ok(Inbound::Refuse(RefuseReason::Refused))
        );
        let close = prost_frame(Kind::Close(wire::Close { reason: -1 }));
        assert_eq!(
            decode_both(&close),
            Ok(Inbound::Close(CloseReason::Unspecified))
        );
    }

    #[test]
    fn layouts_the_fast_path_does_not_take_still_decode() {
        // Hello's fields in reverse order: valid protobuf, left to prost.
        let mut body = Vec::new();
        body.extend_from_slice(&[0x22, 1, b's', 0x1a, 1, b't', 0x12, 1, b'g', 0x08, 1]);
        let mut frame = vec![HELLO_TAG, body.len() as u8];
        frame.extend_from_slice(&body);
        assert!(parse_control(&frame).is_none());
        let Ok(Inbound::Hello(hello)) = decode_both(&frame) else {
            panic!("prost reads a reordered Hello");
        };
        assert_eq!(
            (
                &*hello.graph_id,
                &*hello.target_peer_id,
                &*hello.source_peer_id
            ),
            ("g", "t", "s")
        );
        // A repeated field: the last value wins, as protobuf says.
        let frame = [HELLO_TAG, 6, 0x12, 1, b'a', 0x12, 1, b'b'];
        assert!(parse_control(&frame).is_none());
        let Ok(Inbound::Hello(hello)) = decode_both(&frame) else {
            panic!("prost reads a repeated field");
        };
        assert_eq!(&*hello.graph_id, "b");
        // Invalid UTF-8 in a string is malformed on both paths.
        let frame = [HELLO_TAG, 3, 0x12, 1, 0xff];
        assert_eq!(decode_both(&frame), Err(ProtocolViolation::MalformedFrame));
        // A Keepalive with a body, a Close with a wrongly typed reason, an empty frame.
        for frame in [
            &[KEEPALIVE_TAG, 2, 0x08, 1][..],
            &[CLOSE_TAG, 2, 0x0d, 1],
            &[],
        ] {
            assert!(parse_control(frame).is_none(), "frame {frame:02x?}");
            decode_both(frame).ok();
        }
    }

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "\\PC{1,40}", "[a-z]{100,300}"]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn handshake_frames_are_what_prost_writes_and_the_fast_path_reads_them(
            names in [name(), name(), name()],
            node_id in prop_oneof![Just(0u64), any::<u64>()],
            proof in prop_oneof![Just(Vec::new()), proptest::collection::vec(any::<u8>(), 32)],
        ) {
            let ours = hello(&names[0], &names[1], &names[2], node_id, &proof).into_bytes();
            let expected = prost_hello(PROTOCOL_VERSION, &names, node_id, &proof);
            prop_assert_eq!(ours.as_ref(), &prost_frame(Kind::Hello(expected))[..]);
            let Some(Inbound::Hello(read)) = parse_control(&ours) else {
                panic!("the fast path reads our Hello");
            };
            prop_assert!(matches!(read.graph_id, Cow::Borrowed(_)), "strings are borrowed");
            prop_assert_eq!(
                (&*read.graph_id, &*read.target_peer_id, &*read.source_peer_id),
                (&*names[0], &*names[1], &*names[2])
            );
            decode_both(&ours).expect("our Hello decodes");

            let ours = accept(node_id, &proof).into_bytes();
            let expected = wire::Accept { node_id, membership_proof: Bytes::copy_from_slice(&proof) };
            prop_assert_eq!(ours.as_ref(), &prost_frame(Kind::Accept(expected))[..]);
            prop_assert!(parse_control(&ours).is_some(), "the fast path reads our Accept");
            decode_both(&ours).expect("our Accept decodes");
        }

        /// Whatever bytes arrive, the fast paths either step aside or agree with prost.
        #[test]
        fn the_fast_paths_agree_with_prost_on_any_bytes(
            names in [name(), name(), name()],
            version in any::<u32>(),
            node_id in any::<u64>(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            cut in any::<prop::sample::Index>(),
            raw in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut frame = prost_frame(Kind::Hello(prost_hello(version, &names, node_id, &[7; 32])));
            for (at, byte) in &edits {
                let at = at.index(frame.len());
                frame[at] = *byte;
            }
            if edits.len() == 3 {
                frame.truncate(cut.index(frame.len() + 1));
            }
            decode_both(&frame).ok();
            let mut accept = prost_frame(Kind::Accept(wire::Accept {
                node_id,
                membership_proof: Bytes::from_static(&[7; 32]),
            }));
            for (at, byte) in &edits {
                let at = at.index(accept.len());
                accept[at] = *byte;
            }
            decode_both(&accept).ok();
            decode_both(&raw).ok();
        }
    }
}

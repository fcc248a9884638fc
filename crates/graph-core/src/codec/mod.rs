//! The core's wire codec: the protobuf `Frame` messages of docs/PROTOCOL.md, control and data,
//! encoded and decoded. Every decode failure is a named [`ProtocolViolation`]. The length prefix
//! around each frame is the transport's (`peergraph_transport::framing`), not this module's.
//!
//! Every frame the node sends is written byte for byte as prost writes it, without building
//! prost's message structs ([`encode`] for control frames, [`data`] for data frames); the frames
//! with no variable part are static. Reading has fast paths for exactly that layout, which borrow
//! a Hello's strings from the frame instead of allocating them. Any other layout (fields out of
//! order, repeated or unknown, a tag written long) goes to prost, so a fast path only saves work:
//! the tests check that whatever it accepts, prost reads the same way.

mod data;
mod encode;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use bytes::{Buf, Bytes};
use peergraph_proto::v1::{self as wire, frame::Kind};
use prost::Message;

use crate::event::ProtocolViolation;
use crate::flood::FloodItem;
pub use data::Transmit;
pub(crate) use data::{DataBatch, MAX_BATCH_MESSAGES, data, data_frame_len};
use data::{parse_batch, parse_data, varint};
pub(crate) use encode::{accept, close, confirm, hello, keepalive, refuse};

pub(crate) use wire::{CloseReason, RefuseReason};

/// The protocol version this crate speaks.
pub(crate) const PROTOCOL_VERSION: u32 = 2;

/// The tags of `Frame`'s fields (each a length-delimited message).
const HELLO_TAG: u8 = 1 << 3 | 2;
const ACCEPT_TAG: u8 = 2 << 3 | 2;
const REFUSE_TAG: u8 = 3 << 3 | 2;
const CLOSE_TAG: u8 = 5 << 3 | 2;
const KEEPALIVE_TAG: u8 = 6 << 3 | 2;
const BATCH_TAG: u8 = 7 << 3 | 2;
const CONFIRM_TAG: u8 = 8 << 3 | 2;

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
    pub(crate) pake_share: Cow<'a, [u8]>,
    pub(crate) batch_limit: u32,
    pub(crate) neighbor: bool,
}

/// A received Accept.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Accept<'a> {
    pub(crate) node_id: u64,
    pub(crate) pake_share: Cow<'a, [u8]>,
    pub(crate) batch_limit: u32,
    pub(crate) confirmation: Cow<'a, [u8]>,
    pub(crate) peer_id: Cow<'a, str>,
}

/// A decoded frame.
#[derive(Debug, PartialEq)]
pub(crate) enum Inbound<'a> {
    Hello(Hello<'a>),
    Accept(Accept<'a>),
    /// The initiator's key confirmation.
    Confirm(Cow<'a, [u8]>),
    /// Flooded items (neighbor connections only).
    Flood {
        items: Vec<FloodItem>,
        /// The last frame of the sender's greeting.
        greeting_done: bool,
    },
    /// Signed records (neighbor connections only), each an encoded `SignedRecord`.
    Records(Vec<Bytes>),
    /// Part of a reconciliation round (neighbor connections only).
    Reconcile(wire::Reconcile),
    Refuse(RefuseReason),
    Data {
        type_id: [u8; 16],
        payload: Bytes,
    },
    DataBatch {
        type_id: [u8; 16],
        payloads: Vec<Bytes>,
    },
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
    if frame.first() == Some(&BATCH_TAG) {
        if let Some((type_id, payloads)) = parse_batch(frame) {
            let payloads = payloads
                .into_iter()
                .map(|range| frame.slice(range))
                .collect();
            return Ok(Inbound::DataBatch { type_id, payloads });
        }
    }
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
            pake_share: Cow::Owned(hello.pake_share.into()),
            batch_limit: hello.batch_limit,
            neighbor: hello.neighbor,
        }),
        Kind::Accept(accept) => Inbound::Accept(Accept {
            node_id: accept.node_id,
            pake_share: Cow::Owned(accept.pake_share.into()),
            batch_limit: accept.batch_limit,
            confirmation: Cow::Owned(accept.confirmation.into()),
            peer_id: Cow::Owned(accept.peer_id),
        }),
        Kind::Confirm(confirm) => Inbound::Confirm(Cow::Owned(confirm.confirmation.into())),
        Kind::Flood(flood) => Inbound::Flood {
            items: flood
                .items
                .into_iter()
                .map(|item| FloodItem {
                    kind: item.kind,
                    id: item.id,
                    version: item.version,
                    lifetime: std::time::Duration::from_millis(item.lifetime_ms.into()),
                    payload: item.payload,
                })
                .collect(),
            greeting_done: flood.greeting_done,
        },
        Kind::Records(records) => Inbound::Records(records.records),
        Kind::Reconcile(reconcile) => Inbound::Reconcile(reconcile),
        Kind::Refuse(refuse) => Inbound::Refuse(refuse_reason(refuse.reason)),
        Kind::Close(close) => Inbound::Close(close_reason(close.reason)),
        Kind::Data(data) => Inbound::Data {
            type_id: type_id(&data.type_id)?,
            payload: data.payload,
        },
        Kind::DataBatch(batch) => Inbound::DataBatch {
            type_id: type_id(&batch.type_id)?,
            payloads: batch.payloads,
        },
        Kind::Keepalive(_) => Inbound::Keepalive,
    })
}

/// An enum value this version does not know is read as a plain refusal / close, so a newer
/// peer's reasons still end the attempt cleanly.
fn type_id(bytes: &[u8]) -> Result<[u8; 16], ProtocolViolation> {
    bytes
        .try_into()
        .map_err(|_| ProtocolViolation::InvalidTypeId)
}

fn refuse_reason(value: i32) -> RefuseReason {
    RefuseReason::try_from(value).unwrap_or(RefuseReason::Refused)
}

fn close_reason(value: i32) -> CloseReason {
    CloseReason::try_from(value).unwrap_or(CloseReason::Unspecified)
}

/// Reads a frame other than data in the layout [`hello`], [`accept`], [`confirm`] and the static
/// frames use:
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
                pake_share: Cow::Borrowed(&[]),
                batch_limit: 0,
                neighbor: false,
            };
            while let Some(field) = fields.next()? {
                match field {
                    (1, Value::Varint(version)) => hello.version = version as u32,
                    (2, Value::Bytes(bytes)) => hello.graph_id = utf8(bytes)?,
                    (3, Value::Bytes(bytes)) => hello.target_peer_id = utf8(bytes)?,
                    (4, Value::Bytes(bytes)) => hello.source_peer_id = utf8(bytes)?,
                    (5, Value::Fixed64(id)) => hello.source_node_id = id,
                    (6, Value::Bytes(bytes)) => hello.pake_share = Cow::Borrowed(bytes),
                    // prost reads a uint32's varint by truncation; so does this.
                    (7, Value::Varint(limit)) => hello.batch_limit = limit as u32,
                    // prost reads any non-zero varint as true.
                    (8, Value::Varint(neighbor)) => hello.neighbor = neighbor != 0,
                    _ => return None,
                }
            }
            Inbound::Hello(hello)
        }
        ACCEPT_TAG => {
            let mut accept = Accept {
                node_id: 0,
                pake_share: Cow::Borrowed(&[]),
                batch_limit: 0,
                confirmation: Cow::Borrowed(&[]),
                peer_id: Cow::Borrowed(""),
            };
            while let Some(field) = fields.next()? {
                match field {
                    (1, Value::Fixed64(id)) => accept.node_id = id,
                    (2, Value::Bytes(bytes)) => accept.pake_share = Cow::Borrowed(bytes),
                    (3, Value::Varint(limit)) => accept.batch_limit = limit as u32,
                    (4, Value::Bytes(bytes)) => accept.confirmation = Cow::Borrowed(bytes),
                    (5, Value::Bytes(bytes)) => accept.peer_id = utf8(bytes)?,
                    _ => return None,
                }
            }
            Inbound::Accept(accept)
        }
        CONFIRM_TAG => {
            let mut confirmation = Cow::Borrowed(&[][..]);
            while let Some(field) = fields.next()? {
                match field {
                    (1, Value::Bytes(bytes)) => confirmation = Cow::Borrowed(bytes),
                    _ => return None,
                }
            }
            Inbound::Confirm(confirmation)
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

/// Checks a graph id or peer id received from a peer with the same rules as local arguments.
pub(crate) fn valid_name(name: &str) -> bool {
    crate::validate::name("name", name).is_ok()
}

/// `Frame { flood: { items, greeting_done } }`, written by prost (flooding is not on the data
/// path). Lifetimes are rounded up to whole milliseconds, so an item still alive is never sent
/// as expired.
pub(crate) fn flood(items: &[FloodItem], greeting_done: bool) -> Transmit {
    let items = items
        .iter()
        .map(|item| wire::FloodItem {
            kind: item.kind,
            id: item.id.clone(),
            version: item.version,
            lifetime_ms: u32::try_from(item.lifetime.as_nanos().div_ceil(1_000_000))
                .unwrap_or(u32::MAX),
            payload: item.payload.clone(),
        })
        .collect();
    let frame = wire::Frame {
        kind: Some(Kind::Flood(wire::Flood {
            items,
            greeting_done,
        })),
    };
    Transmit::whole(Bytes::from(frame.encode_to_vec()))
}

/// `Frame { records: { records } }`, written by prost.
pub(crate) fn records(records: &[Bytes]) -> Transmit {
    let frame = wire::Frame {
        kind: Some(Kind::Records(wire::Records {
            records: records.to_vec(),
        })),
    };
    Transmit::whole(Bytes::from(frame.encode_to_vec()))
}

/// `Frame { reconcile }`, written by prost.
pub(crate) fn reconcile(reconcile: wire::Reconcile) -> Transmit {
    let frame = wire::Frame {
        kind: Some(Kind::Reconcile(reconcile)),
    };
    Transmit::whole(Bytes::from(frame.encode_to_vec()))
}

//! Encoding and validating wire frames. Every decode failure is a named [`ProtocolViolation`].

use bytes::{Buf, Bytes};
use peergraph_proto::v1::{self as wire, frame::Kind};
use prost::Message;

use crate::event::ProtocolViolation;
use crate::transmit::Transmit;
pub(crate) use crate::transmit::data;

pub(crate) use wire::{CloseReason, RefuseReason};

/// The protocol version this crate speaks.
pub(crate) const PROTOCOL_VERSION: u32 = 1;

/// A decoded frame.
#[derive(Debug)]
pub(crate) enum Inbound {
    Hello(wire::Hello),
    Accept(wire::Accept),
    Refuse(RefuseReason),
    Data { type_id: [u8; 16], payload: Bytes },
    Close(CloseReason),
    Keepalive,
}

/// Decodes one frame. Byte fields share `frame`'s buffer.
pub(crate) fn decode(mut frame: Bytes) -> Result<Inbound, ProtocolViolation> {
    if let Some((type_id, payload)) = crate::transmit::parse_data(&frame) {
        // Narrowed in place: the payload keeps the frame's reference to the buffer.
        frame.truncate(payload.end);
        frame.advance(payload.start);
        return Ok(Inbound::Data {
            type_id,
            payload: frame,
        });
    }
    let frame = wire::Frame::decode(frame).map_err(|_| ProtocolViolation::MalformedFrame)?;
    Ok(match frame.kind.ok_or(ProtocolViolation::MalformedFrame)? {
        Kind::Hello(hello) => Inbound::Hello(hello),
        Kind::Accept(accept) => Inbound::Accept(accept),
        // An enum value this version does not know is read as a plain refusal / close, so a
        // newer peer's reasons still end the attempt cleanly.
        Kind::Refuse(refuse) => {
            Inbound::Refuse(RefuseReason::try_from(refuse.reason).unwrap_or(RefuseReason::Refused))
        }
        Kind::Close(close) => {
            Inbound::Close(CloseReason::try_from(close.reason).unwrap_or(CloseReason::Unspecified))
        }
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

fn encode(kind: Kind) -> Transmit {
    Transmit::whole(Bytes::from(
        wire::Frame { kind: Some(kind) }.encode_to_vec(),
    ))
}

pub(crate) fn hello(
    graph_id: &str,
    target_peer_id: &str,
    source_peer_id: &str,
    source_node_id: u64,
    proof: Vec<u8>,
) -> Transmit {
    encode(Kind::Hello(wire::Hello {
        version: PROTOCOL_VERSION,
        graph_id: graph_id.to_owned(),
        target_peer_id: target_peer_id.to_owned(),
        source_peer_id: source_peer_id.to_owned(),
        source_node_id,
        membership_proof: Bytes::from(proof),
    }))
}

pub(crate) fn accept(node_id: u64, proof: Vec<u8>) -> Transmit {
    encode(Kind::Accept(wire::Accept {
        node_id,
        membership_proof: Bytes::from(proof),
    }))
}

pub(crate) fn refuse(reason: RefuseReason) -> Transmit {
    encode(Kind::Refuse(wire::Refuse {
        reason: reason.into(),
    }))
}

pub(crate) fn close(reason: CloseReason) -> Transmit {
    encode(Kind::Close(wire::Close {
        reason: reason.into(),
    }))
}

pub(crate) fn keepalive() -> Transmit {
    encode(Kind::Keepalive(wire::Keepalive {}))
}

/// Checks a graph id or peer id received from a peer with the same rules as local arguments.
pub(crate) fn valid_name(name: &str) -> bool {
    crate::validate::name("name", name).is_ok()
}

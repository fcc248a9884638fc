//! A frame as the node hands it out: a small head and, for data frames, the application's
//! payload, shared without a copy.

use bytes::{BufMut, Bytes, BytesMut};

/// One frame to write on a link: the bytes of [`head`](Self::head) followed by those of
/// [`body`](Self::body). A data frame's body is the payload given to `send_data` (no copy is
/// made of it); every other frame has an empty body. Framing (the length prefix) is the
/// transport's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Transmit {
    head: Bytes,
    body: Bytes,
}

impl Transmit {
    pub(crate) fn whole(frame: Bytes) -> Self {
        Self {
            head: frame,
            body: Bytes::new(),
        }
    }

    /// The frame's length in bytes.
    pub fn len(&self) -> usize {
        self.head.len() + self.body.len()
    }

    /// Whether the frame is empty (no frame the node makes is).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first part of the frame.
    pub fn head(&self) -> &Bytes {
        &self.head
    }

    /// The rest of the frame (empty except for data frames).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The frame in one buffer; copies a non-empty body.
    pub fn into_bytes(self) -> Bytes {
        if self.body.is_empty() {
            return self.head;
        }
        let mut frame = BytesMut::with_capacity(self.len());
        frame.put_slice(&self.head);
        frame.put_slice(&self.body);
        frame.freeze()
    }
}

/// Encodes `Frame { data: Data { type_id, payload } }` exactly as prost would, with the payload
/// left out of the head: protobuf writes a length-delimited field's bytes last.
pub(crate) fn data(type_id: [u8; 16], payload: Bytes) -> Transmit {
    use prost::encoding::{encode_varint, encoded_len_varint};
    const FRAME_DATA_TAG: u8 = 4 << 3 | 2;
    const TYPE_ID_TAG: u8 = 1 << 3 | 2;
    const PAYLOAD_TAG: u8 = 2 << 3 | 2;
    let payload_len = payload.len() as u64;
    // prost leaves out a field that holds its default (an empty payload).
    let payload_field = if payload.is_empty() {
        0
    } else {
        1 + encoded_len_varint(payload_len) + payload.len()
    };
    let data_len = (2 + type_id.len() + payload_field) as u64;
    let mut head = BytesMut::with_capacity(2 * 10 + 4 + type_id.len());
    head.put_u8(FRAME_DATA_TAG);
    encode_varint(data_len, &mut head);
    head.put_u8(TYPE_ID_TAG);
    head.put_u8(type_id.len() as u8);
    head.put_slice(&type_id);
    if !payload.is_empty() {
        head.put_u8(PAYLOAD_TAG);
        encode_varint(payload_len, &mut head);
    }
    Transmit {
        head: head.freeze(),
        body: payload,
    }
}

#[cfg(test)]
mod tests {
    use peergraph_proto::v1 as wire;
    use prost::Message;

    use super::*;

    #[test]
    fn data_frames_encode_exactly_as_prost_does_for_every_length_class() {
        for size in [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152] {
            let payload = Bytes::from(vec![0xa5; size]);
            let ours = data([7; 16], payload.clone());
            assert_eq!(ours.body().len(), size);
            let prost = wire::Frame {
                kind: Some(wire::frame::Kind::Data(wire::Data {
                    type_id: Bytes::copy_from_slice(&[7; 16]),
                    payload,
                })),
            }
            .encode_to_vec();
            assert_eq!(ours.into_bytes().as_ref(), &prost[..], "size {size}");
        }
    }
}

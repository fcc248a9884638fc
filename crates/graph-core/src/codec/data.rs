//! A frame as the node hands it out: a small head and, for data frames, the application's
//! payload, shared without a copy.

use bytes::{BufMut, Bytes, BytesMut};

/// One frame to write on a link: the bytes of [`head`](Self::head) followed by those of
/// [`body`](Self::body). A data frame's body is the payload given to `send_data` (no copy is
/// made of it) and its head is kept inline (no allocation either); every other frame has an
/// empty body. Framing (the length prefix) is the transport's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Transmit {
    head: Head,
    body: Bytes,
}

/// The longest data-frame head: two tags, two varints of at most 10 bytes, the type id's tag
/// and length, the type id, and the payload's tag.
const INLINE_HEAD: usize = 1 + 10 + 2 + 16 + 1 + 10;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Head {
    Inline { len: u8, bytes: [u8; INLINE_HEAD] },
    Shared(Bytes),
}

impl Transmit {
    pub(crate) fn whole(frame: Bytes) -> Self {
        Self {
            head: Head::Shared(frame),
            body: Bytes::new(),
        }
    }

    /// The frame's length in bytes.
    pub fn len(&self) -> usize {
        self.head().len() + self.body.len()
    }

    /// Whether the frame is empty (no frame the node makes is).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first part of the frame.
    pub fn head(&self) -> &[u8] {
        match &self.head {
            Head::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Head::Shared(bytes) => bytes,
        }
    }

    /// The rest of the frame (empty except for data frames).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The frame in one buffer; copies unless the frame is a single shared buffer already.
    pub fn into_bytes(self) -> Bytes {
        match self.head {
            Head::Shared(head) if self.body.is_empty() => head,
            _ => {
                let mut frame = BytesMut::with_capacity(self.len());
                frame.put_slice(self.head());
                frame.put_slice(&self.body);
                frame.freeze()
            }
        }
    }
}

/// Field 4 of `Frame` (`data`), length-delimited.
const FRAME_DATA_TAG: u8 = 4 << 3 | 2;
/// Field 1 of `Data` (`type_id`), length-delimited.
const TYPE_ID_TAG: u8 = 1 << 3 | 2;
/// Field 2 of `Data` (`payload`), length-delimited.
const PAYLOAD_TAG: u8 = 2 << 3 | 2;

/// Encodes `Frame { data: Data { type_id, payload } }` exactly as prost would, with the payload
/// left out of the head: protobuf writes a length-delimited field's bytes last.
pub(crate) fn data(type_id: [u8; 16], payload: Bytes) -> Transmit {
    use prost::encoding::{encode_varint, encoded_len_varint};
    let payload_len = payload.len() as u64;
    // prost leaves out a field that holds its default (an empty payload).
    let payload_field = if payload.is_empty() {
        0
    } else {
        1 + encoded_len_varint(payload_len) + payload.len()
    };
    let data_len = (2 + type_id.len() + payload_field) as u64;
    let mut bytes = [0u8; INLINE_HEAD];
    let mut head = &mut bytes[..];
    head.put_u8(FRAME_DATA_TAG);
    encode_varint(data_len, &mut head);
    head.put_u8(TYPE_ID_TAG);
    head.put_u8(type_id.len() as u8);
    head.put_slice(&type_id);
    if !payload.is_empty() {
        head.put_u8(PAYLOAD_TAG);
        encode_varint(payload_len, &mut head);
    }
    let len = (INLINE_HEAD - head.len()) as u8;
    Transmit {
        head: Head::Inline { len, bytes },
        body: payload,
    }
}

/// Reads a data frame laid out exactly as [`data`] writes it (what prost writes too), returning the
/// type id and where the payload lies. Anything else (other frames, other field orders, unknown
/// fields) returns `None` and goes through the general decoder, so this only saves work.
pub(crate) fn parse_data(frame: &[u8]) -> Option<([u8; 16], std::ops::Range<usize>)> {
    let (&tag, rest) = frame.split_first()?;
    if tag != FRAME_DATA_TAG {
        return None;
    }
    let (data_len, rest) = varint(rest)?;
    if data_len != rest.len() as u64 {
        return None;
    }
    let (header, rest) = rest.split_first_chunk::<2>()?;
    if *header != [TYPE_ID_TAG, 16] {
        return None;
    }
    let (type_id, rest) = rest.split_first_chunk::<16>()?;
    let start = frame.len() - rest.len();
    let payload = match rest.split_first() {
        None => start..start,
        Some((&PAYLOAD_TAG, rest)) => {
            let (len, rest) = varint(rest)?;
            if len != rest.len() as u64 {
                return None;
            }
            frame.len() - rest.len()..frame.len()
        }
        Some(_) => return None,
    };
    Some((*type_id, payload))
}

/// Field 7 of `Frame` (`data_batch`), length-delimited.
const FRAME_BATCH_TAG: u8 = 7 << 3 | 2;

/// The most messages one `DataBatch` frame may carry: a receiver takes a frame whole, so this
/// bounds how far one frame can pass its receive window.
pub(crate) const MAX_BATCH_MESSAGES: usize = 256;

/// Several messages of one type being gathered into a `DataBatch` frame, as they are queued:
/// each payload is copied in as a `payloads` field, so the frame is ready when it is taken.
#[derive(Debug)]
pub(crate) struct DataBatch {
    type_id: [u8; 16],
    /// The `payloads` fields, encoded.
    body: BytesMut,
    /// Where the first payload starts in `body` (after its tag and length), for a batch of one,
    /// which goes out as a `Data` frame.
    first: usize,
    messages: usize,
}

impl DataBatch {
    /// A batch holding `payload`.
    pub(crate) fn new(type_id: [u8; 16], payload: &[u8], capacity: usize) -> Self {
        let mut body = BytesMut::with_capacity(capacity.max(payload_field_len(payload.len())));
        put_payload(&mut body, payload);
        Self {
            type_id,
            first: body.len() - payload.len(),
            body,
            messages: 1,
        }
    }

    /// Appends `payload` if it is of the batch's type and the frame stays within `limit` bytes;
    /// returns the bytes it added to the frame's body, or `None` (nothing added).
    pub(crate) fn push(
        &mut self,
        type_id: &[u8; 16],
        payload: &[u8],
        limit: usize,
    ) -> Option<usize> {
        let added = payload_field_len(payload.len());
        if *type_id != self.type_id
            || self.messages == MAX_BATCH_MESSAGES
            || batch_frame_len(self.body.len() + added) > limit
        {
            return None;
        }
        put_payload(&mut self.body, payload);
        self.messages += 1;
        Some(added)
    }

    /// The length of the frame [`finish`](Self::finish) makes.
    pub(crate) fn len(&self) -> usize {
        if self.messages == 1 {
            data_frame_len(self.body.len() - self.first)
        } else {
            batch_frame_len(self.body.len())
        }
    }

    /// The frame: a `Data` frame for a batch of one, else a `DataBatch`.
    pub(crate) fn finish(self) -> Transmit {
        if self.messages == 1 {
            let mut body = self.body;
            return data(self.type_id, body.split_off(self.first).freeze());
        }
        let batch_len = (2 + self.type_id.len() + self.body.len()) as u64;
        let mut bytes = [0u8; INLINE_HEAD];
        let mut head = &mut bytes[..];
        head.put_u8(FRAME_BATCH_TAG);
        prost::encoding::encode_varint(batch_len, &mut head);
        head.put_u8(TYPE_ID_TAG);
        head.put_u8(self.type_id.len() as u8);
        head.put_slice(&self.type_id);
        let len = (INLINE_HEAD - head.len()) as u8;
        Transmit {
            head: Head::Inline { len, bytes },
            body: self.body.freeze(),
        }
    }
}

/// The length of the `Data` frame [`data`] makes for a payload of `len` bytes.
pub(crate) fn data_frame_len(len: usize) -> usize {
    let payload_field = if len == 0 { 0 } else { payload_field_len(len) };
    let data = 2 + 16 + payload_field;
    1 + prost::encoding::encoded_len_varint(data as u64) + data
}

/// The bytes a payload adds to a batch: its tag, its length and itself.
pub(crate) fn payload_field_len(len: usize) -> usize {
    1 + prost::encoding::encoded_len_varint(len as u64) + len
}

/// The length of a `DataBatch` frame whose `payloads` fields take `body` bytes.
pub(crate) fn batch_frame_len(body: usize) -> usize {
    let batch = 2 + 16 + body;
    1 + prost::encoding::encoded_len_varint(batch as u64) + batch
}

fn put_payload(body: &mut BytesMut, payload: &[u8]) {
    body.put_u8(PAYLOAD_TAG);
    prost::encoding::encode_varint(payload.len() as u64, body);
    body.put_slice(payload);
}

/// Reads a `DataBatch` frame laid out exactly as [`DataBatch::finish`] writes it (what prost
/// writes too): the type id and where each payload lies, in order. Anything else returns `None`
/// and goes through the general decoder.
pub(crate) fn parse_batch(frame: &[u8]) -> Option<([u8; 16], Vec<std::ops::Range<usize>>)> {
    let (&tag, rest) = frame.split_first()?;
    if tag != FRAME_BATCH_TAG {
        return None;
    }
    let (batch_len, rest) = varint(rest)?;
    if batch_len != rest.len() as u64 {
        return None;
    }
    let (header, rest) = rest.split_first_chunk::<2>()?;
    if *header != [TYPE_ID_TAG, 16] {
        return None;
    }
    let (type_id, mut rest) = rest.split_first_chunk::<16>()?;
    let mut payloads = Vec::new();
    while let Some((&tag, after)) = rest.split_first() {
        if tag != PAYLOAD_TAG {
            return None;
        }
        let (len, after) = varint(after)?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&len| len <= after.len())?;
        let start = frame.len() - after.len();
        payloads.push(start..start + len);
        rest = &after[len..];
    }
    Some((*type_id, payloads))
}

/// A protobuf varint at the start of `bytes`, and what follows it. Like prost, refuses one whose
/// value does not fit in 64 bits (a tenth byte above 1).
pub(crate) fn varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (index, &byte) in bytes.iter().enumerate().take(10) {
        if index == 9 && byte > 1 {
            return None;
        }
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Some((value, &bytes[index + 1..]));
        }
    }
    None
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
            let (type_id, payload) = parse_data(&prost).expect("the fast path reads it");
            assert_eq!((type_id, payload.len()), ([7; 16], size));
            assert_eq!(ours.into_bytes().as_ref(), &prost[..], "size {size}");
        }
    }

    #[test]
    fn batches_encode_exactly_as_prost_does_and_the_fast_path_reads_them_back() {
        for sizes in [&[0, 0][..], &[1, 127, 128], &[64; 256], &[16_383, 0, 5]] {
            let payloads: Vec<Bytes> = sizes
                .iter()
                .enumerate()
                .map(|(index, &size)| Bytes::from(vec![index as u8; size]))
                .collect();
            let mut batch = DataBatch::new([3; 16], &payloads[0], 0);
            for payload in &payloads[1..] {
                assert!(batch.push(&[3; 16], payload, usize::MAX).is_some());
            }
            let expected_len = batch.len();
            let ours = batch.finish();
            assert_eq!(ours.len(), expected_len, "len() is the frame's length");
            let prost = wire::Frame {
                kind: Some(wire::frame::Kind::DataBatch(wire::DataBatch {
                    type_id: Bytes::copy_from_slice(&[3; 16]),
                    payloads: payloads.clone(),
                })),
            }
            .encode_to_vec();
            let (type_id, ranges) = parse_batch(&prost).expect("the fast path reads it");
            assert_eq!(type_id, [3; 16]);
            let read: Vec<&[u8]> = ranges.into_iter().map(|range| &prost[range]).collect();
            assert_eq!(read, payloads.iter().map(|p| &p[..]).collect::<Vec<_>>());
            assert_eq!(ours.into_bytes().as_ref(), &prost[..], "sizes {sizes:?}");
        }
    }

    #[test]
    fn a_batch_of_one_is_a_data_frame_and_a_batch_keeps_to_its_limits() {
        let batch = DataBatch::new([9; 16], b"hello", 0);
        assert_eq!(batch.len(), data_frame_len(5));
        assert_eq!(batch.finish(), data([9; 16], Bytes::from_static(b"hello")));

        // The worked example of docs/PROTOCOL.md: "hi" then "yo" in one frame.
        let mut batch = DataBatch::new([9; 16], b"hi", 0);
        assert_eq!(batch.push(&[9; 16], b"yo", 28), Some(4));
        let mut expected = vec![0x3a, 0x1a, 0x0a, 0x10];
        expected.extend_from_slice(&[9; 16]);
        expected.extend_from_slice(&[0x12, 2, b'h', b'i', 0x12, 2, b'y', b'o']);
        assert_eq!(batch.len(), expected.len());
        // Full: one byte more would pass the limit of 28 bytes.
        assert_eq!(batch.push(&[9; 16], b"", 28), None);
        assert_eq!(batch.push(&[8; 16], b"", 100), None, "another type");
        assert_eq!(batch.finish().into_bytes().as_ref(), &expected[..]);

        let mut batch = DataBatch::new([9; 16], b"", 0);
        for _ in 1..MAX_BATCH_MESSAGES {
            assert!(batch.push(&[9; 16], b"", usize::MAX).is_some());
        }
        assert_eq!(
            batch.push(&[9; 16], b"", usize::MAX),
            None,
            "at most 256 messages"
        );
    }

    #[test]
    fn frames_the_fast_path_does_not_know_are_left_to_the_general_decoder() {
        let keepalive = wire::Frame {
            kind: Some(wire::frame::Kind::Keepalive(wire::Keepalive {})),
        };
        assert_eq!(parse_data(&keepalive.encode_to_vec()), None);
        let mut short_type = data([1; 16], Bytes::from_static(b"x"))
            .into_bytes()
            .to_vec();
        short_type[3] = 15; // the type id claims 15 bytes
        assert_eq!(parse_data(&short_type), None);
        let mut trailing = data([1; 16], Bytes::from_static(b"xy"))
            .into_bytes()
            .to_vec();
        trailing.push(0);
        assert_eq!(
            parse_data(&trailing),
            None,
            "a length that does not match the frame"
        );
        assert_eq!(parse_data(&[0x22, 0xff]), None, "a truncated varint");
    }
}

//! Every wire message survives encode -> decode unchanged, and the decoder tolerates what the
//! protocol says it must (unknown fields) while sharing the input buffer for byte fields.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use bytes::{BufMut, Bytes, BytesMut};
use peergraph_proto::v1::{
    Accept, Close, CloseReason, Confirm, Data, DataBatch, Frame, Hello, Keepalive, Refuse,
    RefuseReason, frame::Kind,
};
use prost::Message;

fn every_kind() -> Vec<Kind> {
    vec![
        Kind::Hello(Hello {
            version: 2,
            graph_id: "graph ✓".into(),
            target_peer_id: "bob".into(),
            source_peer_id: "alice".into(),
            source_node_id: u64::MAX,
            pake_share: Bytes::from(vec![7; 33]),
            batch_limit: 65_536,
            neighbor: true,
        }),
        Kind::Accept(Accept {
            node_id: 42,
            pake_share: Bytes::from(vec![8; 33]),
            batch_limit: 0,
            confirmation: Bytes::from(vec![9; 32]),
            peer_id: "bob".into(),
        }),
        Kind::Confirm(Confirm {
            confirmation: Bytes::from(vec![10; 32]),
        }),
        Kind::Refuse(Refuse {
            reason: RefuseReason::NotAuthenticated.into(),
        }),
        Kind::Data(Data {
            type_id: Bytes::from(vec![1; 16]),
            payload: Bytes::from(vec![9; 70_000]),
        }),
        Kind::Close(Close {
            reason: CloseReason::GraphClosed.into(),
        }),
        Kind::Keepalive(Keepalive {}),
        Kind::DataBatch(DataBatch {
            type_id: Bytes::from(vec![1; 16]),
            payloads: vec![Bytes::from_static(b"a"), Bytes::new()],
        }),
    ]
}

#[test]
fn every_frame_kind_round_trips() {
    for kind in every_kind() {
        let frame = Frame { kind: Some(kind) };
        let decoded = Frame::decode(Bytes::from(frame.encode_to_vec())).unwrap();
        assert_eq!(decoded, frame);
    }
}

#[test]
fn unknown_fields_are_ignored() {
    let frame = Frame {
        kind: Some(Kind::Accept(Accept {
            node_id: 5,
            pake_share: Bytes::new(),
            batch_limit: 0,
            confirmation: Bytes::new(),
            peer_id: String::new(),
        })),
    };
    let mut bytes = BytesMut::from(&frame.encode_to_vec()[..]);
    // Field 99, varint 1: a field from a future version.
    bytes.put_slice(&[0x98, 0x06, 0x01]);
    assert_eq!(Frame::decode(bytes.freeze()).unwrap(), frame);
}

#[test]
fn unknown_enum_values_decode_as_raw_integers() {
    let frame = Frame {
        kind: Some(Kind::Refuse(Refuse { reason: 77 })),
    };
    let decoded = Frame::decode(Bytes::from(frame.encode_to_vec())).unwrap();
    let Some(Kind::Refuse(refuse)) = decoded.kind else {
        panic!("refuse")
    };
    assert_eq!(refuse.reason, 77);
    assert!(RefuseReason::try_from(refuse.reason).is_err());
}

#[test]
fn truncated_frames_fail_to_decode() {
    let frame = Frame {
        kind: every_kind().into_iter().next(),
    };
    let encoded = frame.encode_to_vec();
    assert!(Frame::decode(&encoded[..encoded.len() - 1]).is_err());
}

#[test]
fn payloads_decoded_from_bytes_share_the_input_buffer() {
    let payload = Bytes::from(vec![3u8; 4096]);
    let frame = Frame {
        kind: Some(Kind::Data(Data {
            type_id: Bytes::from(vec![0; 16]),
            payload: payload.clone(),
        })),
    };
    let input = Bytes::from(frame.encode_to_vec());
    let range = input.as_ptr_range();
    let Some(Kind::Data(data)) = Frame::decode(input.clone()).unwrap().kind else {
        panic!("data")
    };
    assert_eq!(data.payload, payload);
    assert!(
        range.contains(&data.payload.as_ptr()),
        "the payload points into the frame buffer"
    );
}

//! The codec's tests: every frame the node writes is what prost writes, and the fast read paths
//! agree with prost on any bytes.

use proptest::prelude::*;

use super::encode::{CLOSE_FRAMES, reason_frame};
use super::*;

fn prost_frame(kind: Kind) -> Vec<u8> {
    wire::Frame { kind: Some(kind) }.encode_to_vec()
}

fn prost_hello(
    version: u32,
    names: &[String; 3],
    source_node_id: u64,
    share: &[u8],
    batch_limit: u32,
    neighbor: bool,
) -> wire::Hello {
    wire::Hello {
        version,
        graph_id: names[0].clone(),
        target_peer_id: names[1].clone(),
        source_peer_id: names[2].clone(),
        source_node_id,
        pake_share: Bytes::copy_from_slice(share),
        batch_limit,
        neighbor,
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
        share in prop_oneof![Just(Vec::new()), proptest::collection::vec(any::<u8>(), 33)],
        confirmation in prop_oneof![Just(Vec::new()), proptest::collection::vec(any::<u8>(), 32)],
        batch_limit in prop_oneof![Just(0u32), any::<u32>()],
        neighbor in any::<bool>(),
    ) {
        let ours = hello(&names[0], &names[1], &names[2], node_id, &share, batch_limit, neighbor).into_bytes();
        let expected = prost_hello(PROTOCOL_VERSION, &names, node_id, &share, batch_limit, neighbor);
        prop_assert_eq!(ours.as_ref(), &prost_frame(Kind::Hello(expected))[..]);
        let Some(Inbound::Hello(read)) = parse_control(&ours) else {
            panic!("the fast path reads our Hello");
        };
        prop_assert!(matches!(read.graph_id, Cow::Borrowed(_)), "strings are borrowed");
        prop_assert_eq!(
            (&*read.graph_id, &*read.target_peer_id, &*read.source_peer_id),
            (&*names[0], &*names[1], &*names[2])
        );
        prop_assert_eq!(read.batch_limit, batch_limit);
        prop_assert_eq!(&*read.pake_share, &share[..]);
        prop_assert_eq!(read.neighbor, neighbor);
        decode_both(&ours).expect("our Hello decodes");

        let ours = accept(node_id, &share, batch_limit, &confirmation, &names[1]).into_bytes();
        let expected = wire::Accept {
            node_id,
            pake_share: Bytes::copy_from_slice(&share),
            batch_limit,
            confirmation: Bytes::copy_from_slice(&confirmation),
            peer_id: names[1].clone(),
        };
        prop_assert_eq!(ours.as_ref(), &prost_frame(Kind::Accept(expected))[..]);
        let Some(Inbound::Accept(read)) = parse_control(&ours) else {
            panic!("the fast path reads our Accept");
        };
        prop_assert_eq!(read.batch_limit, batch_limit);
        prop_assert_eq!((&*read.pake_share, &*read.confirmation), (&share[..], &confirmation[..]));
        prop_assert_eq!(&*read.peer_id, &*names[1]);
        decode_both(&ours).expect("our Accept decodes");

        let ours = confirm(&confirmation).into_bytes();
        let expected = wire::Confirm { confirmation: Bytes::copy_from_slice(&confirmation) };
        prop_assert_eq!(ours.as_ref(), &prost_frame(Kind::Confirm(expected))[..]);
        let Some(Inbound::Confirm(read)) = parse_control(&ours) else {
            panic!("the fast path reads our Confirm");
        };
        prop_assert_eq!(&*read, &confirmation[..]);
        decode_both(&ours).expect("our Confirm decodes");
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
        let mut frame = prost_frame(Kind::Hello(prost_hello(version, &names, node_id, &[7; 32], 65_536, version % 2 == 0)));
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
            pake_share: Bytes::from_static(&[7; 33]),
            batch_limit: 0,
            confirmation: Bytes::from_static(&[8; 32]),
            peer_id: names[1].clone(),
        }));
        for (at, byte) in &edits {
            let at = at.index(accept.len());
            accept[at] = *byte;
        }
        decode_both(&accept).ok();
        let mut confirm = prost_frame(Kind::Confirm(wire::Confirm {
            confirmation: Bytes::from_static(&[8; 32]),
        }));
        for (at, byte) in &edits {
            let at = at.index(confirm.len());
            confirm[at] = *byte;
        }
        decode_both(&confirm).ok();
        decode_both(&raw).ok();
    }
}

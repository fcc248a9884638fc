//! The sans-IO core alone: handshakes and transfers between two nodes wired back to back by a
//! zero-delay pump ([`CorePair`]), on one thread, with no sockets, no TLS and (but for one) no
//! graph secret.
//!
//! - `core/handshake`: opens to `Connected` on both ends, in batches of [`BATCH`] opens; the
//!   closes that make room for the next batch are not timed.
//! - `core/handshake_and_close`: the same with the closes timed (until `Disconnected` on both
//!   ends).
//! - `core/handshake_with_secret`: as `core/handshake`, in a graph with a secret: each handshake
//!   runs the SPAKE2 exchange and both key confirmations.
//! - `core/transfer/64B`, `core/transfer/1MiB`: one message from `send_data` to the receiver's
//!   `IncomingData` event.

// criterion_group! and criterion_main! generate undocumented public items.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use peergraph_benches::core_pair::CorePair;

/// Handshakes per timed batch: enough that timer reads and the pump's idle rounds vanish.
const BATCH: usize = 1000;

fn handshakes(c: &mut Criterion) {
    let mut group = c.benchmark_group("core");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("handshake", |b| {
        let mut pair = CorePair::new(BATCH);
        b.iter_custom(|batches| timed_opens(&mut pair, batches));
    });
    group.bench_function("handshake_with_secret", |b| {
        let mut pair = CorePair::with_secret(BATCH, Some(b"a graph secret"));
        b.iter_custom(|batches| timed_opens(&mut pair, batches));
    });
    group.bench_function("handshake_and_close", |b| {
        let mut pair = CorePair::new(BATCH);
        let mut ids = Vec::with_capacity(BATCH);
        b.iter_custom(|batches| {
            let start = Instant::now();
            for _ in 0..batches {
                pair.open(BATCH, &mut ids);
                pair.close(&mut ids);
            }
            let timed = start.elapsed();
            check_batches(&mut pair, batches);
            timed
        });
    });
    group.finish();
}

/// `batches` batches of opens, timed, each closed (not timed) after it.
fn timed_opens(pair: &mut CorePair, batches: u64) -> Duration {
    let mut ids = Vec::with_capacity(BATCH);
    let mut timed = Duration::ZERO;
    for _ in 0..batches {
        let start = Instant::now();
        pair.open(BATCH, &mut ids);
        timed += start.elapsed();
        pair.close(&mut ids);
    }
    check_batches(pair, batches);
    timed
}

/// Fails the run unless every handshake of the last `batches` connected and closed on both ends.
fn check_batches(pair: &mut CorePair, batches: u64) {
    let expected = batches * BATCH as u64;
    let tally = pair.tally();
    assert_eq!(tally.connected, [expected; 2], "every open connects");
    assert_eq!(tally.disconnected, [expected; 2], "every close disconnects");
    pair.reset_tally();
}

fn transfer(c: &mut Criterion) {
    let mut group = c.benchmark_group("core/transfer");
    for (name, size) in [("64B", 64), ("1MiB", 1 << 20)] {
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(name, |b| {
            let mut pair = CorePair::new(1);
            let mut ids = Vec::new();
            pair.open(1, &mut ids);
            let connection = ids[0];
            let payload = Bytes::from(vec![0xa5; size]);
            b.iter(|| pair.send(connection, black_box(payload.clone())));
            let tally = pair.tally();
            assert_eq!(
                tally.received_bytes[1],
                tally.received_messages[1] * size as u64,
                "every message arrives whole"
            );
        });
    }
    group.finish();
}

criterion_group!(benches, handshakes, transfer);
criterion_main!(benches);

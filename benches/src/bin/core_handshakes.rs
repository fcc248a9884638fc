//! Runs `BATCHES` batches of 1,000 core handshakes and closes between two nodes ([`CorePair`]),
//! for counting a handshake's instructions: run it under `valgrind --tool=callgrind` for two batch
//! counts and divide the difference of `CorePair::open`'s inclusive cost by the extra handshakes
//! (docs/PERFORMANCE.md, "Counting the core in instructions").

use peergraph_benches::core_pair::CorePair;

fn main() {
    let batches: usize = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(5);
    let mut pair = CorePair::new(1000);
    let mut ids = Vec::with_capacity(1000);
    for _ in 0..batches {
        pair.open(1000, &mut ids);
        pair.close(&mut ids);
    }
    assert_eq!(
        pair.tally().connected,
        [batches * 1000; 2].map(|n| n as u64)
    );
}

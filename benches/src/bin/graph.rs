//! The peer graph's figures (design/0006), from the simulation's graph harness
//! (`peergraph_sim::scenario`): the virtual time a 200-node graph takes to converge after its
//! last node joined, the copies of one flooded item per neighbor link, and the heap each node
//! spends per node of the graph it knows, as the difference between a 100-node and a 200-node
//! graph (same degrees, twice the nodes to know; a counting allocator measures the whole
//! process). Writes them as JSON to `--out FILE` for `cargo xtask bench`.

use std::time::Duration;

use peergraph_sim::scenario::GraphRun;
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

/// Counts every allocation of the process, so the heap a graph holds is measured exactly.
#[global_allocator]
static HEAP: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Bytes allocated and not yet freed by the whole process.
fn heap_in_use() -> usize {
    let stats = HEAP.stats();
    stats
        .bytes_allocated
        .saturating_sub(stats.bytes_deallocated)
}

const SEED: u64 = 7;
const BOUND: Duration = Duration::from_secs(300);

/// A converged graph of `nodes` nodes: its heap per node, and the graph itself.
fn converged(nodes: usize) -> (f64, Duration, GraphRun) {
    let before = heap_in_use();
    let mut run = GraphRun::new(SEED, nodes);
    let took = run.join_all(BOUND);
    let heap = heap_in_use().saturating_sub(before);
    (heap as f64 / nodes as f64, took, run)
}

fn main() {
    let out = std::env::args()
        .skip_while(|arg| arg != "--out")
        .nth(1)
        .expect("--out FILE");
    let (per_node_100, _, small) = converged(100);
    drop(small);
    let (per_node_200, took, mut run) = converged(200);
    let (copies, links) = run.flood_one(42);
    let per_known_node = (per_node_200 - per_node_100) / 100.0;
    let json = format!(
        "{{\"converge_seconds\": {:.1}, \"copies_per_link\": {:.3}, \"links\": {links}, \
         \"heap_per_node_100\": {per_node_100:.0}, \"heap_per_node_200\": {per_node_200:.0}, \
         \"bytes_per_known_node\": {per_known_node:.0}}}\n",
        took.as_secs_f64(),
        copies as f64 / links as f64,
    );
    print!("graph: {json}");
    std::fs::write(&out, json).expect("the result file is writable");
}

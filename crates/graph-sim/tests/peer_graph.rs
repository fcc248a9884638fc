//! The peer graph at scale (design/0006): 200 simulated nodes join one graph through three
//! bootstrap nodes on a seeded network (1-40 ms delays, links that break at random), then live
//! through churn (nodes that leave, nodes that vanish without a word) and a partition that
//! heals. The invariants, checked after each change within a bound of virtual time:
//!
//! - every live node lists exactly the live nodes (`enum_nodes`);
//! - no node ever holds more than `max_neighbors_per_graph` neighbors, and once settled each
//!   holds between `min_neighbors` and `max_neighbors`;
//! - the graph of neighbor links is connected;
//! - a flooded item reaches every node, crossing each neighbor link at most once each way.
//!
//! The harness is `peergraph_sim::scenario`, which the graph benchmark runs too.
//!
//! `PEERGRAPH_SIM_SEED=<n>` replays one seed bit for bit; without it a fixed list of seeds runs.
//! `PEERGRAPH_SIM_TRACE=1` prints what is still wrong at each second of a convergence. The
//! figures it prints (time to converge, copies of an item per link) are the ones
//! docs/RELIABILITY.md quotes.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::Duration;

use peergraph_sim::scenario::{GraphRun, PRESENCE_LIFETIME};

const NODES: usize = 200;
const SEEDS: [u64; 2] = [7, 0x5eed_0200];

fn run(seed: u64) {
    let mut graph = GraphRun::new(seed, NODES);
    // 197 more nodes join, ten a second.
    let joined = graph.join_all(Duration::from_secs(120));

    // One item from one node reaches every node, at most once per link and direction.
    let (copies, links) = graph.flood_one(42);
    assert!(
        copies >= NODES as u64 - 1 && copies <= 2 * links,
        "{copies} copies over {links} links"
    );

    // Churn: ten nodes leave, ten vanish without a word.
    for index in (100..110).chain(150..160) {
        graph.live.remove(&index);
        if index < 150 {
            let handle = graph.graphs[index].take().unwrap();
            graph.cluster.node(index).close_graph(handle).unwrap();
        } else {
            for other in 0..NODES {
                if other != index {
                    graph.cluster.partition(index, other);
                }
            }
        }
    }
    let churned = graph.converge("churn", PRESENCE_LIFETIME + Duration::from_secs(60));

    // A partition in two halves for 45 s (the links across time out), then healed.
    let live: Vec<usize> = graph.live.iter().copied().collect();
    let (even, odd): (Vec<usize>, Vec<usize>) = live.iter().partition(|index| *index % 2 == 0);
    for a in &even {
        for b in &odd {
            graph.cluster.partition(*a, *b);
        }
    }
    for _ in 0..45 {
        graph.second();
    }
    assert!(
        graph.reached() <= live.len() / 2 + 1,
        "the partition cut the graph in two"
    );
    for a in &even {
        for b in &odd {
            graph.cluster.heal(*a, *b);
        }
    }
    let healed = graph.converge("partition", Duration::from_secs(120));
    let copies_per_link = copies as f64 / links as f64;
    println!(
        "seed {seed}: {NODES} nodes converged {joined:?} after the last join, {churned:?} after \
         churn, {healed:?} after the partition healed; one item: {copies} copies over {links} \
         links ({copies_per_link:.2} per link)"
    );
}

#[test]
fn two_hundred_nodes_join_churn_and_heal_into_one_graph() {
    match std::env::var("PEERGRAPH_SIM_SEED") {
        Ok(seed) => run(seed.trim().parse().expect("PEERGRAPH_SIM_SEED is a u64")),
        Err(_) => SEEDS.into_iter().for_each(run),
    }
}

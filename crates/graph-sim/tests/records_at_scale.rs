//! The record store at scale (design/0007): 200 simulated nodes in one graph (1-40 ms delays,
//! links that break at random) add, update and delete records at random for 100 seconds,
//! while ten nodes vanish for half a minute and come back and the graph is cut in two halves
//! for another half minute. After the heal, every live node must hold the same store (records
//! and tombstones, compared by a digest of their signed bytes) within a bound of virtual time;
//! the test prints how long that took and how many bytes the reconciliations cost.
//!
//! `PEERGRAPH_SIM_SEED=<n>` runs one seed; without it a fixed seed runs.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use peergraph_core::{Attribute, RecordContent, RecordId, RecordStats};
use peergraph_sim::scenario::GraphRun;
use peergraph_sim::{SIM_EPOCH, SimRng};
use ring::digest::{Context, SHA256};

const NODES: usize = 200;
const SEED: u64 = 7;
const KIND: [u8; 16] = *b"sim record type.";

/// A digest of everything node `index` holds: every record and tombstone, in id order.
fn store_digest(graph: &mut GraphRun, index: usize) -> (usize, Vec<u8>) {
    let handle = graph.graphs[index].unwrap();
    let signed = graph.cluster.node(index).signed_records(handle).unwrap();
    let mut context = Context::new(&SHA256);
    for (id, bytes) in &signed {
        context.update(id.as_bytes());
        context.update(bytes);
    }
    (signed.len(), context.finish().as_ref().to_vec())
}

/// The live nodes' stores, grouped by digest: one group when all agree.
fn stores(graph: &mut GraphRun) -> BTreeMap<Vec<u8>, (usize, Vec<usize>)> {
    let mut groups: BTreeMap<Vec<u8>, (usize, Vec<usize>)> = BTreeMap::new();
    for index in graph.live.clone() {
        let (count, digest) = store_digest(graph, index);
        groups
            .entry(digest)
            .or_insert((count, Vec::new()))
            .1
            .push(index);
    }
    groups
}

fn totals(graph: &mut GraphRun) -> RecordStats {
    let mut total = RecordStats::default();
    for index in graph.live.clone() {
        let handle = graph.graphs[index].unwrap();
        let stats = graph.cluster.node(index).record_stats(handle).unwrap();
        total.sent += stats.sent;
        total.received += stats.received;
        total.stale += stats.stale;
        total.rejected += stats.rejected;
        total.reconcile_frames += stats.reconcile_frames;
        total.reconcile_bytes += stats.reconcile_bytes;
    }
    total
}

/// One random record operation by a random live node: add (most), update or delete one of its
/// own records.
fn operate(graph: &mut GraphRun, rng: &mut SimRng, own: &mut BTreeMap<usize, Vec<RecordId>>) {
    let live: Vec<usize> = graph.live.iter().copied().collect();
    let index = live[rng.below(live.len() as u64) as usize];
    let handle = graph.graphs[index].unwrap();
    let now = graph.cluster.now();
    let expires_at = UNIX_EPOCH + SIM_EPOCH + Duration::from_secs(24 * 3600);
    let content = |n: u64| RecordContent {
        record_type: KIND,
        attributes: vec![Attribute::integer("n", n as i64)],
        data: Bytes::from(format!("record data {n}").repeat(4)),
        expires_at,
    };
    let mine = own.entry(index).or_default();
    let roll = rng.below(10);
    let node = graph.cluster.node(index);
    match (roll, mine.len()) {
        (7..=8, 1..) => {
            let id = mine[rng.below(mine.len() as u64) as usize];
            let _ = node.update_record(now, handle, id, content(rng.next_u64()));
        }
        (9, 1..) => {
            let id = mine.swap_remove(rng.below(mine.len() as u64) as usize);
            let _ = node.delete_record(now, handle, id, false);
        }
        _ => {
            // A node not yet synchronized refuses (NotReady); another op comes.
            if let Ok(id) = node.add_record(now, handle, content(rng.next_u64())) {
                mine.push(id);
            }
        }
    }
}

fn run(seed: u64) {
    let mut graph = GraphRun::new(seed, NODES);
    graph.join_all(Duration::from_secs(120));
    let mut rng = SimRng::new(seed ^ 0x5eed);
    let mut own = BTreeMap::new();
    let live: Vec<usize> = graph.live.iter().copied().collect();
    let vanishing: Vec<usize> = (60..70).collect();
    let (even, odd): (Vec<usize>, Vec<usize>) = live.iter().partition(|index| *index % 2 == 0);
    let before = totals(&mut graph);
    for second in 0..100 {
        if second == 20 {
            // Ten nodes vanish: every packet to and from them is lost.
            for &index in &vanishing {
                for other in 0..NODES {
                    if other != index {
                        graph.cluster.partition(index, other);
                    }
                }
            }
        }
        if second == 50 {
            for &index in &vanishing {
                for other in 0..NODES {
                    if other != index {
                        graph.cluster.heal(index, other);
                    }
                }
            }
        }
        if second == 70 {
            for a in &even {
                for b in &odd {
                    graph.cluster.partition(*a, *b);
                }
            }
        }
        for _ in 0..5 {
            operate(&mut graph, &mut rng, &mut own);
        }
        graph.second();
    }
    // The halves, which went on writing apart, meet again; the stores must agree within two
    // minutes.
    let apart = stores(&mut graph).len();
    assert!(apart > 1, "the halves wrote different records");
    for a in &even {
        for b in &odd {
            graph.cluster.heal(*a, *b);
        }
    }
    let mut waited = Duration::ZERO;
    loop {
        let groups = stores(&mut graph);
        if groups.len() == 1 {
            break;
        }
        assert!(
            waited < Duration::from_secs(120),
            "stores still differ {waited:?} after the heal: {:?}",
            groups.values().collect::<Vec<_>>()
        );
        graph.second();
        waited += Duration::from_secs(1);
    }
    let (count, _) = store_digest(&mut graph, 0);
    let total = totals(&mut graph);
    let record_bytes: usize = {
        let handle = graph.graphs[0].unwrap();
        let signed = graph.cluster.node(0).signed_records(handle).unwrap();
        signed.iter().map(|(_, bytes)| bytes.len()).sum()
    };
    let reconcile_bytes = total.reconcile_bytes - before.reconcile_bytes;
    let sent = total.sent - before.sent;
    assert_eq!(total.rejected, 0, "no honest node's record is refused");
    println!(
        "seed {seed}: {NODES} nodes agree on {count} records and tombstones ({record_bytes} bytes) \
         {waited:?} after the halves met again ({apart} different stores before); {sent} records sent in all ({:.1} per record per \
         node), {} received, {} stale; reconciliation {} frames, {reconcile_bytes} bytes",
        sent as f64 / count as f64 / graph.live.len() as f64,
        total.received - before.received,
        total.stale - before.stale,
        total.reconcile_frames - before.reconcile_frames,
    );
    // Reconciliation sends summaries, not stores: far less than every node sending its store
    // once.
    assert!(
        (reconcile_bytes as usize) < record_bytes * graph.live.len() / 4,
        "{reconcile_bytes} reconciliation bytes for {record_bytes} bytes of records per node"
    );
}

#[test]
fn two_hundred_nodes_write_records_through_churn_and_a_partition_and_agree() {
    match std::env::var("PEERGRAPH_SIM_SEED") {
        Ok(seed) => run(seed.trim().parse().expect("PEERGRAPH_SIM_SEED is a u64")),
        Err(_) => run(SEED),
    }
}

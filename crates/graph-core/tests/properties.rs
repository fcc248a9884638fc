//! Random operations and faults across several nodes, checked against the core's promises:
//! ids never repeat, each id gets exactly one outcome and at most one `Disconnected` after
//! `Connected`, and data on a connection arrives in order, complete if the connection stayed up.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bytes::Bytes;
use common::{GRAPH, TYPE_A, World, peer};
use peergraph_core::{ConnectionId, ConnectionStatus, GraphConfig, NodeConfig};
use peergraph_sim::{Cluster, NetConfig};
use proptest::prelude::*;

const NODES: usize = 4;

#[derive(Debug, Clone)]
enum Op {
    Open {
        from: usize,
        to: usize,
    },
    Send {
        from: usize,
        pick: usize,
        size: usize,
    },
    Close {
        node: usize,
        pick: usize,
    },
    Partition {
        a: usize,
        b: usize,
    },
    Heal {
        a: usize,
        b: usize,
    },
    Advance {
        millis: u64,
    },
    Settle,
}

fn op() -> impl Strategy<Value = Op> {
    let node = 0..NODES;
    prop_oneof![
        4 => (node.clone(), node.clone()).prop_map(|(from, to)| Op::Open { from, to }),
        6 => (node.clone(), any::<usize>(), 0usize..3000).prop_map(|(from, pick, size)| Op::Send { from, pick, size }),
        1 => (node.clone(), any::<usize>()).prop_map(|(node, pick)| Op::Close { node, pick }),
        1 => (node.clone(), node.clone()).prop_map(|(a, b)| Op::Partition { a, b }),
        1 => (node.clone(), node.clone()).prop_map(|(a, b)| Op::Heal { a, b }),
        2 => (0u64..15_000).prop_map(|millis| Op::Advance { millis }),
        2 => Just(Op::Settle),
    ]
}

/// A message names its sender's connection and its place in that connection's stream.
fn payload(from: usize, id: ConnectionId, seq: u32, size: usize) -> Bytes {
    let mut bytes = Vec::with_capacity(16 + size);
    bytes.extend_from_slice(&(from as u32).to_le_bytes());
    bytes.extend_from_slice(&id.get().to_le_bytes());
    bytes.extend_from_slice(&seq.to_le_bytes());
    bytes.resize(16 + size, seq as u8);
    Bytes::from(bytes)
}

fn parse(data: &[u8]) -> (usize, u64, u32) {
    assert!(data.len() >= 16, "payload holds its header");
    let word = |range: std::ops::Range<usize>| data[range].to_vec();
    let from = u32::from_le_bytes(word(0..4).try_into().unwrap()) as usize;
    let id = u64::from_le_bytes(word(4..12).try_into().unwrap());
    let seq = u32::from_le_bytes(word(12..16).try_into().unwrap());
    assert!(
        data[16..].iter().all(|byte| *byte == seq as u8),
        "payload intact"
    );
    (from, id, seq)
}

fn live_ids(world: &World, node: usize) -> Vec<ConnectionId> {
    let mut up: Vec<ConnectionId> = Vec::new();
    for change in world.connection_changes(node) {
        match change.status {
            ConnectionStatus::Connected(_) => up.push(change.connection),
            _ => up.retain(|id| *id != change.connection),
        }
    }
    up
}

fn run(seed: u64, loss: f64, ops: Vec<Op>) {
    let net = NetConfig {
        seed,
        min_delay: Duration::from_micros(100),
        max_delay: Duration::from_millis(30),
        link_loss: loss,
    };
    let cluster = Cluster::new(NODES, net, |index| {
        NodeConfig::with_seed(seed ^ index as u64)
    });
    let mut world = World::from_cluster(cluster, |_| GraphConfig::new(GRAPH, ""));
    let mut opened: Vec<HashSet<ConnectionId>> = vec![HashSet::new(); NODES];
    let mut sent: HashMap<(usize, u64), u32> = HashMap::new();

    for op in ops {
        world.cluster.flush();
        match op {
            Op::Open { from, to } => {
                let now = world.cluster.now();
                let (graph, address) = (world.graphs[from], world.cluster.address(to));
                match world.cluster.node(from).open_direct_connection(
                    now,
                    graph,
                    &peer(to),
                    address,
                ) {
                    Ok(id) => assert!(opened[from].insert(id), "open returned a used id {id:?}"),
                    Err(error) => assert_eq!(from, to, "only self-connects fail here: {error:?}"),
                }
            }
            Op::Send { from, pick, size } => {
                let live = live_ids(&world, from);
                if live.is_empty() {
                    continue;
                }
                let id = live[pick % live.len()];
                let seq = sent.entry((from, id.get())).or_default();
                let (now, graph) = (world.cluster.now(), world.graphs[from]);
                let data = payload(from, id, *seq, size);
                if world
                    .cluster
                    .node(from)
                    .send_data(now, graph, id, TYPE_A, data)
                    .is_ok()
                {
                    *seq += 1;
                }
            }
            Op::Close { node, pick } => {
                let live = live_ids(&world, node);
                if !live.is_empty() {
                    let graph = world.graphs[node];
                    let id = live[pick % live.len()];
                    world
                        .cluster
                        .node(node)
                        .close_direct_connection(graph, id)
                        .unwrap();
                }
            }
            Op::Partition { a, b } => world.cluster.partition(a, b),
            Op::Heal { a, b } => world.cluster.heal(a, b),
            Op::Advance { millis } => world
                .cluster
                .run_for(Duration::from_millis(millis))
                .unwrap(),
            Op::Settle => world.cluster.settle().unwrap(),
        }
    }
    for a in 0..NODES {
        for b in 0..NODES {
            world.cluster.heal(a, b);
        }
    }
    // Long enough for every handshake and idle timeout to have fired.
    world.cluster.run_for(Duration::from_secs(45)).unwrap();

    let mut seen_ids: Vec<HashSet<ConnectionId>> = vec![HashSet::new(); NODES];
    for node in 0..NODES {
        let mut history: HashMap<ConnectionId, Vec<ConnectionStatus>> = HashMap::new();
        for change in world.connection_changes(node) {
            history
                .entry(change.connection)
                .or_default()
                .push(change.status);
        }
        for (id, statuses) in &history {
            let shape: Vec<&str> = statuses
                .iter()
                .map(|s| match s {
                    ConnectionStatus::Connected(_) => "connected",
                    ConnectionStatus::Failed(_) => "failed",
                    ConnectionStatus::Disconnected(_) => "disconnected",
                })
                .collect();
            assert!(
                matches!(
                    shape[..],
                    ["failed"] | ["connected"] | ["connected", "disconnected"]
                ),
                "node {node} {id:?}: {statuses:?}"
            );
            if !opened[node].contains(id) {
                assert_eq!(shape[0], "connected", "inbound ids only ever connect");
            }
            seen_ids[node].insert(*id);
        }
        for id in &opened[node] {
            assert!(
                history.contains_key(id),
                "node {node}: {id:?} never got an outcome"
            );
        }
        let inbound = seen_ids[node].difference(&opened[node]).count();
        assert_eq!(seen_ids[node].len(), opened[node].len() + inbound);
    }

    // Data: each receiving connection carries one sender connection's stream, in order.
    for node in 0..NODES {
        let mut streams: HashMap<ConnectionId, Vec<(usize, u64, u32)>> = HashMap::new();
        for data in world.incoming(node) {
            streams
                .entry(data.connection)
                .or_default()
                .push(parse(&data.data));
        }
        for (receiver, stream) in &streams {
            let (from, id, _) = stream[0];
            for (expected, (f, i, seq)) in stream.iter().enumerate() {
                assert_eq!(
                    (*f, *i, *seq),
                    (from, id, expected as u32),
                    "node {node} {receiver:?}"
                );
            }
            let sender_up = live_ids(&world, from).iter().any(|live| live.get() == id);
            let receiver_up = live_ids(&world, node).contains(receiver);
            if sender_up && receiver_up {
                assert_eq!(
                    stream.len() as u32,
                    sent[&(from, id)],
                    "complete on a live connection"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_ids_outcomes_and_data_order(
        seed in any::<u64>(),
        loss in prop_oneof![Just(0.0), Just(0.002), Just(0.02)],
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        run(seed, loss, ops);
    }
}

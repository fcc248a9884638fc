//! The record store between simulated nodes (design/0007): records flood to every node with
//! their ids, only their author changes them, deletes leave tombstones, expiry removes them
//! everywhere, a reconnecting node reconciles without resending what both hold, a graph opened
//! here is not ready until it has synchronized, and forged records are refused.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod by_hand;
mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use common::World;
use peergraph_core::{
    ArgumentProblem, Attribute, AttributeValue, Comparison, Condition, ConnectionStatus,
    DisconnectReason, EventType, GraphConfig, GraphEvent, GraphStatus, InvalidArgument, NodeConfig,
    Output, ProtocolViolation, RecordChange, RecordChangeKind, RecordContent, RecordError,
    RecordId, RecordQuery, RestoreError, StoreWrite,
};
use peergraph_proto::v1 as wire;
use peergraph_sim::{Cluster, NetConfig, SIM_EPOCH};
use prost::Message;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

const CHAT: [u8; 16] = *b"chat record type";
const NOTE: [u8; 16] = *b"note record type";

/// A time `seconds` after the simulation's start.
fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + SIM_EPOCH + Duration::from_secs(seconds)
}

fn content(record_type: [u8; 16], data: &str) -> RecordContent {
    RecordContent {
        record_type,
        attributes: vec![Attribute::text("room", "lobby")],
        data: Bytes::copy_from_slice(data.as_bytes()),
        expires_at: at(3600),
    }
}

fn world(count: usize) -> World {
    let mut world = World::new(count);
    for index in 0..count {
        let graph = world.graphs[index];
        world
            .cluster
            .node(index)
            .register_event(graph, &[EventType::RecordChanged, EventType::StatusChanged])
            .unwrap();
    }
    world
}

fn line(count: usize) -> World {
    let mut world = world(count);
    for index in 0..count - 1 {
        world.neighbor(index, index + 1, None).unwrap();
        world.cluster.settle().unwrap();
    }
    world
}

fn add(world: &mut World, index: usize, content: RecordContent) -> Result<RecordId, RecordError> {
    let now = world.cluster.now();
    let graph = world.graphs[index];
    world.cluster.node(index).add_record(now, graph, content)
}

fn record_changes(world: &World, index: usize) -> Vec<RecordChange> {
    world
        .events(index)
        .into_iter()
        .filter_map(|event| match event {
            GraphEvent::RecordChanged(change) => Some(change),
            _ => None,
        })
        .collect()
}

fn held(world: &mut World, index: usize) -> Vec<(RecordId, u32, Bytes)> {
    let graph = world.graphs[index];
    let records = world
        .cluster
        .node(index)
        .enum_records(graph, None, None)
        .unwrap();
    records
        .into_iter()
        .map(|record| (record.id, record.version, record.data))
        .collect()
}

#[test]
fn a_record_added_on_one_node_reaches_every_node_with_its_id_author_and_fields() {
    let mut world = line(4);
    let id = add(&mut world, 0, content(CHAT, "hello")).unwrap();
    world.cluster.settle().unwrap();
    let graph = world.graphs[0];
    let original = world.cluster.node(0).get_record(graph, id).unwrap();
    assert_eq!(original.version, 1);
    assert_eq!(original.creator_id, "peer0");
    assert_eq!(original.modified_by_id, "peer0");
    assert_eq!(original.author, world.cluster.nodes[0].identity);
    assert_eq!(original.created_at, original.modified_at);
    for index in 1..4 {
        let graph = world.graphs[index];
        let copy = world.cluster.node(index).get_record(graph, id).unwrap();
        assert_eq!(copy, original, "node {index}");
        assert_eq!(
            record_changes(&world, index),
            [RecordChange {
                change: RecordChangeKind::Added,
                record_id: id,
                record_type: CHAT,
            }],
            "node {index}"
        );
    }
}

#[test]
fn an_update_replaces_the_record_everywhere_and_may_only_move_the_expiry_later() {
    let mut world = line(3);
    let id = add(&mut world, 0, content(CHAT, "first")).unwrap();
    world.cluster.settle().unwrap();
    let now = world.cluster.now();
    let graph = world.graphs[0];
    let mut earlier = content(CHAT, "second");
    earlier.expires_at = at(3599);
    assert_eq!(
        world.cluster.node(0).update_record(now, graph, id, earlier),
        Err(RecordError::InvalidExpiration)
    );
    assert_eq!(
        world
            .cluster
            .node(0)
            .update_record(now, graph, id, content(NOTE, "second")),
        Err(RecordError::InvalidArgument {
            argument: InvalidArgument {
                argument: "record_type",
                problem: ArgumentProblem::Changed,
            }
        })
    );
    world.cluster.run_for(Duration::from_secs(1)).unwrap();
    let now = world.cluster.now();
    world
        .cluster
        .node(0)
        .update_record(now, graph, id, content(CHAT, "second"))
        .unwrap();
    world.cluster.settle().unwrap();
    for index in 0..3 {
        assert_eq!(
            held(&mut world, index),
            [(id, 2, Bytes::from_static(b"second"))],
            "node {index}"
        );
        let graph = world.graphs[index];
        let record = world.cluster.node(index).get_record(graph, id).unwrap();
        assert!(record.modified_at > record.created_at);
    }
    let kinds: Vec<_> = record_changes(&world, 2)
        .into_iter()
        .map(|change| change.change)
        .collect();
    assert_eq!(kinds, [RecordChangeKind::Added, RecordChangeKind::Updated]);
}

#[test]
fn only_the_author_may_change_a_record_and_a_delete_floods_a_tombstone() {
    let mut world = line(3);
    let id = add(&mut world, 0, content(CHAT, "mine")).unwrap();
    world.cluster.settle().unwrap();
    let now = world.cluster.now();
    let graph = world.graphs[2];
    assert_eq!(
        world
            .cluster
            .node(2)
            .update_record(now, graph, id, content(CHAT, "yours")),
        Err(RecordError::AccessDenied)
    );
    assert_eq!(
        world.cluster.node(2).delete_record(now, graph, id, false),
        Err(RecordError::AccessDenied)
    );
    let graph = world.graphs[0];
    world
        .cluster
        .node(0)
        .delete_record(now, graph, id, false)
        .unwrap();
    world.cluster.settle().unwrap();
    for index in 0..3 {
        let graph = world.graphs[index];
        assert_eq!(
            world.cluster.node(index).get_record(graph, id),
            Err(RecordError::RecordNotFound),
            "node {index}"
        );
        assert_eq!(
            record_changes(&world, index).last().unwrap().change,
            RecordChangeKind::Deleted
        );
        // The tombstone stays, so a node that missed the delete learns of it.
        assert_eq!(
            world
                .cluster
                .node(index)
                .signed_records(graph)
                .unwrap()
                .len(),
            1
        );
    }
    assert_eq!(
        world.cluster.node(0).delete_record(now, graph, id, false),
        Err(RecordError::RecordNotFound)
    );
}

#[test]
fn a_local_delete_forgets_the_record_here_only_and_the_next_reconciliation_brings_it_back() {
    let mut world = line(2);
    let id = add(&mut world, 0, content(CHAT, "kept elsewhere")).unwrap();
    world.cluster.settle().unwrap();
    let now = world.cluster.now();
    let graph = world.graphs[1];
    world
        .cluster
        .node(1)
        .delete_record(now, graph, id, true)
        .unwrap();
    world.cluster.settle().unwrap();
    assert!(held(&mut world, 1).is_empty());
    assert_eq!(held(&mut world, 0).len(), 1, "the other node keeps it");
    // The link goes and comes back: the reconciliation finds the record missing.
    world.cluster.partition(0, 1);
    world.cluster.run_for(Duration::from_secs(60)).unwrap();
    world.cluster.heal(0, 1);
    // Maintenance dials the neighbor it lost again.
    world.cluster.run_for(Duration::from_secs(10)).unwrap();
    assert_eq!(held(&mut world, 1), held(&mut world, 0));
}

#[test]
fn record_calls_fail_with_not_ready_until_the_graph_first_synchronizes() {
    let cluster = Cluster::new(2, NetConfig::default(), |index| {
        NodeConfig::with_seed(index as u64)
    });
    let mut world = World::from_cluster(cluster, |_| GraphConfig::new(common::GRAPH, ""));
    let id = add(&mut world, 0, content(CHAT, "before")).unwrap();
    // Node 1 joins the graph (rather than creating it) under a second handle's peer id.
    let mut config = GraphConfig::new(common::GRAPH, "joiner");
    config.sync_precedence = vec![NOTE, CHAT];
    let joined = world.cluster.node(1).open_graph(config).unwrap();
    let registration = world
        .cluster
        .node(1)
        .register_event(joined, &[EventType::Synchronized, EventType::RecordChanged])
        .unwrap();
    let now = world.cluster.now();
    let node = world.cluster.node(1);
    assert_eq!(
        node.add_record(now, joined, content(CHAT, "early")),
        Err(RecordError::NotReady)
    );
    assert_eq!(node.get_record(joined, id), Err(RecordError::NotReady));
    assert_eq!(
        node.enum_records(joined, None, None),
        Err(RecordError::NotReady)
    );
    let address = world.cluster.address(0);
    world
        .cluster
        .node(1)
        .connect(now, joined, None, address)
        .unwrap();
    world.cluster.settle().unwrap();
    let node = world.cluster.node(1);
    assert!(
        node.node_info(joined)
            .unwrap()
            .status
            .contains(GraphStatus::SYNCHRONIZED)
    );
    assert_eq!(node.get_record(joined, id).unwrap().data, "before");
    let events: Vec<_> = world.cluster.nodes[1]
        .events
        .iter()
        .filter(|(handle, _)| *handle == registration)
        .map(|(_, event)| event.clone())
        .collect();
    assert_eq!(
        events,
        [
            GraphEvent::RecordChanged(RecordChange {
                change: RecordChangeKind::Added,
                record_id: id,
                record_type: CHAT,
            }),
            GraphEvent::Synchronized { record_type: NOTE },
            GraphEvent::Synchronized { record_type: CHAT },
        ]
    );
}

#[test]
fn bad_records_are_refused_with_named_errors() {
    let cluster = Cluster::new(1, NetConfig::default(), |_| {
        let mut config = NodeConfig::with_seed(3);
        config.limits.max_record_size = 1024;
        config.limits.max_records_per_graph = 2;
        config
    });
    let mut world = World::from_cluster(cluster, |_| GraphConfig::new(common::GRAPH, ""));
    let problem = |argument, problem| {
        Err(RecordError::InvalidArgument {
            argument: InvalidArgument { argument, problem },
        })
    };
    let mut reserved = content(CHAT, "x");
    reserved.attributes = vec![Attribute::text("peercreatorid", "me")];
    assert_eq!(
        add(&mut world, 0, reserved),
        problem("attributes", ArgumentProblem::Reserved)
    );
    let mut twice = content(CHAT, "x");
    twice.attributes.push(Attribute::integer("room", 2));
    assert_eq!(
        add(&mut world, 0, twice),
        problem("attributes", ArgumentProblem::Duplicate)
    );
    let mut past = content(CHAT, "x");
    past.expires_at = at(0);
    assert_eq!(
        add(&mut world, 0, past),
        Err(RecordError::InvalidExpiration)
    );
    let large = content(CHAT, &"x".repeat(1024));
    assert!(matches!(
        add(&mut world, 0, large),
        Err(RecordError::TooLarge { max: 1024, .. })
    ));
    add(&mut world, 0, content(CHAT, "one")).unwrap();
    add(&mut world, 0, content(CHAT, "two")).unwrap();
    assert_eq!(
        add(&mut world, 0, content(CHAT, "three")),
        Err(RecordError::StoreFull)
    );
}

#[test]
fn search_matches_type_creator_and_every_attribute_condition() {
    let mut world = line(2);
    let mut old = content(CHAT, "old");
    old.attributes = vec![Attribute::text("room", "lobby"), Attribute::integer("n", 1)];
    let mut new = content(CHAT, "new");
    new.attributes = vec![Attribute::text("room", "lobby"), Attribute::integer("n", 5)];
    let old = add(&mut world, 0, old).unwrap();
    let new = add(&mut world, 0, new).unwrap();
    let note = add(&mut world, 1, content(NOTE, "note")).unwrap();
    world.cluster.settle().unwrap();
    let graph = world.graphs[1];
    let search = |world: &mut World, query: RecordQuery| -> Vec<RecordId> {
        let mut ids: Vec<_> = world
            .cluster
            .node(1)
            .search_records(graph, &query)
            .unwrap()
            .into_iter()
            .map(|record| record.id)
            .collect();
        ids.sort();
        ids
    };
    let sorted = |mut ids: Vec<RecordId>| {
        ids.sort();
        ids
    };
    let condition = |name: &str, comparison, value| Condition {
        name: name.into(),
        comparison,
        value,
    };
    assert_eq!(
        search(&mut world, RecordQuery::default()),
        sorted(vec![old, new, note])
    );
    let chat = RecordQuery {
        record_type: Some(CHAT),
        ..RecordQuery::default()
    };
    assert_eq!(search(&mut world, chat.clone()), sorted(vec![old, new]));
    let by_peer1 = RecordQuery {
        creator_id: Some("peer1".into()),
        ..RecordQuery::default()
    };
    assert_eq!(search(&mut world, by_peer1), [note]);
    let recent = RecordQuery {
        conditions: vec![condition(
            "n",
            Comparison::GreaterOrEqual,
            AttributeValue::Integer(2),
        )],
        ..chat.clone()
    };
    assert_eq!(search(&mut world, recent), [new]);
    let prefix = RecordQuery {
        conditions: vec![
            condition(
                "room",
                Comparison::StartsWith,
                AttributeValue::Text("lob".into()),
            ),
            condition("n", Comparison::Less, AttributeValue::Integer(5)),
        ],
        ..RecordQuery::default()
    };
    assert_eq!(search(&mut world, prefix), [old]);
    // A text never equals an integer; `NotEqual` also takes records without the attribute.
    let not_one = RecordQuery {
        conditions: vec![condition(
            "n",
            Comparison::NotEqual,
            AttributeValue::Integer(1),
        )],
        ..RecordQuery::default()
    };
    assert_eq!(search(&mut world, not_one), sorted(vec![new, note]));
}

#[test]
fn records_expire_on_every_node_with_an_expired_event() {
    let mut world = line(3);
    let mut short = content(CHAT, "short");
    short.expires_at = at(30);
    let id = add(&mut world, 0, short).unwrap();
    add(&mut world, 0, content(CHAT, "long")).unwrap();
    world.cluster.run_for(Duration::from_secs(29)).unwrap();
    assert_eq!(held(&mut world, 2).len(), 2);
    world.cluster.run_for(Duration::from_secs(2)).unwrap();
    for index in 0..3 {
        assert_eq!(held(&mut world, index).len(), 1, "node {index}");
        assert!(record_changes(&world, index).contains(&RecordChange {
            change: RecordChangeKind::Expired,
            record_id: id,
            record_type: CHAT,
        }));
    }
}

#[test]
fn a_reconnecting_node_learns_exactly_what_it_missed_without_the_shared_records_resent() {
    let mut world = line(2);
    for index in 0..800 {
        add(
            &mut world,
            index % 2,
            content(CHAT, &format!("shared {index}")),
        )
        .unwrap();
    }
    world.cluster.settle().unwrap();
    assert_eq!(held(&mut world, 1).len(), 800);
    world.cluster.partition(0, 1);
    world.cluster.run_for(Duration::from_secs(60)).unwrap();
    let mut updated = Vec::new();
    for index in 0..3 {
        add(&mut world, 0, content(CHAT, &format!("only on 0: {index}"))).unwrap();
    }
    for index in 0..2 {
        add(&mut world, 1, content(NOTE, &format!("only on 1: {index}"))).unwrap();
    }
    // One shared record changes while apart.
    let graph = world.graphs[0];
    let (first, _, _) = held(&mut world, 0)
        .into_iter()
        .find(|(id, _, _)| {
            let record = world.cluster.node(0).get_record(graph, *id).unwrap();
            record.creator_id == "peer0" && record.data.starts_with(b"shared")
        })
        .unwrap();
    let now = world.cluster.now();
    world
        .cluster
        .node(0)
        .update_record(now, graph, first, content(CHAT, "changed while apart"))
        .unwrap();
    updated.push(first);
    let before: Vec<_> = (0..2)
        .map(|index| {
            let graph = world.graphs[index];
            world.cluster.node(index).record_stats(graph).unwrap()
        })
        .collect();
    world.cluster.heal(0, 1);
    // Maintenance dials the neighbor it lost again.
    world.cluster.run_for(Duration::from_secs(10)).unwrap();
    assert_eq!(held(&mut world, 0).len(), 805);
    assert_eq!(held(&mut world, 0), held(&mut world, 1));
    let graph = world.graphs[1];
    assert_eq!(
        world.cluster.node(1).get_record(graph, first).unwrap().data,
        "changed while apart"
    );
    let mut sent = 0;
    let mut reconcile_bytes = 0;
    for (index, before) in before.iter().enumerate() {
        let graph = world.graphs[index];
        let after = world.cluster.node(index).record_stats(graph).unwrap();
        sent += after.sent - before.sent;
        reconcile_bytes += after.reconcile_bytes - before.reconcile_bytes;
    }
    // Six records differ; a listed range may send a few more both ways, never the 800 shared
    // ones.
    assert!((6..=30).contains(&sent), "{sent} records sent");
    let all_bytes: usize = world
        .cluster
        .node(0)
        .signed_records(world.graphs[0])
        .unwrap()
        .iter()
        .map(|(_, signed)| signed.len())
        .sum();
    assert!(
        reconcile_bytes * 10 < all_bytes as u64,
        "{reconcile_bytes} bytes of reconciliation for {all_bytes} bytes of records"
    );
}

#[test]
fn every_change_is_written_for_the_driver_and_a_restored_store_counts_as_synchronized() {
    let mut world = world(1);
    let graph = world.graphs[0];
    let now = world.cluster.now();
    let node = world.cluster.node(0);
    let kept = node.add_record(now, graph, content(CHAT, "kept")).unwrap();
    let gone = node.add_record(now, graph, content(CHAT, "gone")).unwrap();
    node.delete_record(now, graph, gone, true).unwrap();
    let outputs = common::outputs(node, now);
    assert_eq!(outputs.first(), Some(&Output::Store { graph }));
    let writes = node.take_store_writes(graph);
    let ids: Vec<_> = writes
        .iter()
        .map(|write| match write {
            StoreWrite::Put { id, .. } => (*id, true),
            StoreWrite::Remove { id } => (*id, false),
            StoreWrite::Synchronized => panic!("a created graph is synchronized from the start"),
        })
        .collect();
    assert_eq!(ids, [(kept, true), (gone, true), (gone, false)]);
    let stored: Vec<Bytes> = writes
        .into_iter()
        .filter_map(|write| match write {
            StoreWrite::Put { id, signed } if id == kept => Some(signed),
            _ => None,
        })
        .collect();
    // The same records in a graph opened elsewhere: ready at once.
    let opened = node
        .open_graph(GraphConfig::new(common::GRAPH, "again"))
        .unwrap();
    assert_eq!(
        node.restore_records(opened, [Bytes::from_static(b"\x0a\x01")], true),
        Err(RestoreError::Corrupt { index: 0 })
    );
    assert_eq!(node.get_record(opened, kept), Err(RecordError::NotReady));
    assert_eq!(node.restore_records(opened, stored, true), Ok(1));
    assert_eq!(node.get_record(opened, kept).unwrap().data, "kept");
    assert!(
        node.node_info(opened)
            .unwrap()
            .status
            .contains(GraphStatus::SYNCHRONIZED)
    );
    assert!(
        node.take_store_writes(opened).is_empty(),
        "restored records are already durable"
    );
}

/// A node driven by hand with a neighbor link from "alice", and a record alice's key signed.
fn neighbor_by_hand() -> (
    by_hand::Hand,
    peergraph_core::GraphHandle,
    peergraph_core::RegistrationHandle,
    peergraph_core::LinkId,
    Bytes,
) {
    let mut author = by_hand::Hand::with_seed(1);
    author.node.set_signing_key(&key()).unwrap();
    let (graph, _) = author.graph(GraphConfig::new("g", "alice"), &[EventType::StatusChanged]);
    let now = author.now;
    author
        .node
        .add_record(now, graph, content(CHAT, "from alice"))
        .unwrap();
    let (_, signed) = author.node.signed_records(graph).unwrap().remove(0);

    let mut hand = by_hand::Hand::with_seed(2);
    hand.node.set_signing_key(&key()).unwrap();
    let (graph, registration) = hand.graph(
        GraphConfig::new("g", "bob"),
        &[EventType::RecordChanged, EventType::NeighborConnection],
    );
    let link = hand.accept([0; 32]);
    let mut hello = by_hand::hello("g", "bob", "alice", &[]);
    hello.neighbor = true;
    hand.receive(link, by_hand::Kind::Hello(hello));
    hand.receive(link, by_hand::confirm(&[]));
    hand.sent(link);
    hand.events(registration);
    (hand, graph, registration, link, signed)
}

fn key() -> Vec<u8> {
    EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .unwrap()
        .as_ref()
        .to_vec()
}

fn records_frame(signed: Bytes) -> by_hand::Kind {
    by_hand::Kind::Records(wire::Records {
        records: vec![signed],
    })
}

#[test]
fn a_record_signed_by_its_author_is_kept() {
    let (mut hand, graph, registration, link, signed) = neighbor_by_hand();
    hand.receive(link, records_frame(signed));
    let events = hand.events(registration);
    assert!(
        matches!(
            events[..],
            [GraphEvent::RecordChanged(RecordChange {
                change: RecordChangeKind::Added,
                ..
            })]
        ),
        "{events:?}"
    );
    assert_eq!(hand.node.record_stats(graph).unwrap().received, 1);
}

#[test]
fn altered_or_forged_records_are_rejected_counted_and_end_the_link() {
    type Alteration = dyn Fn(&mut wire::SignedRecord);
    let alter = |signed: &Bytes, change: &Alteration| {
        let mut envelope = wire::SignedRecord::decode(signed.clone()).unwrap();
        change(&mut envelope);
        Bytes::from(envelope.encode_to_vec())
    };
    let cases: [(&str, &Alteration); 4] = [
        ("data altered", &|envelope| {
            let mut record = wire::Record::decode(envelope.record.clone()).unwrap();
            record.data = Bytes::from_static(b"from mallory");
            envelope.record = Bytes::from(record.encode_to_vec());
        }),
        ("signed by another key", &|envelope| {
            let other = EcdsaKeyPair::from_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                &key(),
                &SystemRandom::new(),
            )
            .unwrap();
            use ring::signature::KeyPair;
            envelope.author_key = Bytes::copy_from_slice(other.public_key().as_ref());
        }),
        ("signature broken", &|envelope| {
            let mut signature = envelope.signature.to_vec();
            signature[10] ^= 1;
            envelope.signature = Bytes::from(signature);
        }),
        ("not a record", &|envelope| {
            envelope.record = Bytes::from_static(b"\xff\xff");
        }),
    ];
    for (case, change) in cases {
        let (mut hand, graph, registration, link, signed) = neighbor_by_hand();
        hand.receive(link, records_frame(alter(&signed, change)));
        let events = hand.events(registration);
        assert!(
            matches!(
                &events[..],
                [GraphEvent::NeighborConnection(change)]
                    if change.status == ConnectionStatus::Disconnected(
                        DisconnectReason::ProtocolViolation(ProtocolViolation::InvalidRecord)
                    )
            ),
            "{case}: {events:?}"
        );
        assert_eq!(hand.node.record_stats(graph).unwrap().rejected, 1, "{case}");
        assert_eq!(hand.node.record_stats(graph).unwrap().held, 0, "{case}");
    }
}

#[test]
fn a_malformed_reconciliation_round_ends_the_link() {
    let (mut hand, _, registration, link, _) = neighbor_by_hand();
    let range = |lower: &'static [u8], upper: &'static [u8]| wire::ReconcileRange {
        lower: Bytes::from_static(lower),
        upper: Bytes::from_static(upper),
        kind: Some(wire::reconcile_range::Kind::Items(Bytes::new())),
    };
    // The second range starts before the first ends.
    let round = wire::Reconcile {
        ranges: vec![range(b"", &[9; 16]), range(&[3; 16], b"")],
        want: Vec::new(),
        last: true,
    };
    hand.receive(link, by_hand::Kind::Reconcile(round));
    let events = hand.events(registration);
    assert!(
        matches!(
            &events[..],
            [GraphEvent::NeighborConnection(change)]
                if change.status == ConnectionStatus::Disconnected(
                    DisconnectReason::ProtocolViolation(ProtocolViolation::InvalidReconcile)
                )
        ),
        "{events:?}"
    );
}

#[test]
fn a_node_whose_clock_runs_behind_still_stamps_its_records_after_those_it_has_seen() {
    let mut world = line(2);
    let now = world.cluster.now();
    // Node 0's clock is half a minute behind node 1's.
    world
        .cluster
        .node(0)
        .set_wall_clock(now, SIM_EPOCH - Duration::from_secs(30));
    let first = add(&mut world, 1, content(CHAT, "first")).unwrap();
    world.cluster.settle().unwrap();
    let reply = add(&mut world, 0, content(CHAT, "reply")).unwrap();
    world.cluster.settle().unwrap();
    let graph = world.graphs[1];
    let node = world.cluster.node(1);
    let (first, reply) = (
        node.get_record(graph, first).unwrap(),
        node.get_record(graph, reply).unwrap(),
    );
    assert!(reply.created_at > first.created_at);
    assert!(reply.modified_at > first.modified_at);
}

#[test]
fn a_round_that_lists_items_outside_its_range_ends_the_link() {
    let (mut hand, _, registration, link, _) = neighbor_by_hand();
    let mut items = vec![9u8; 16];
    items.extend_from_slice(&[0; 16]);
    let round = wire::Reconcile {
        ranges: vec![wire::ReconcileRange {
            lower: Bytes::new(),
            upper: Bytes::from_static(&[5; 16]),
            kind: Some(wire::reconcile_range::Kind::Items(Bytes::from(items))),
        }],
        want: Vec::new(),
        last: true,
    };
    hand.receive(link, by_hand::Kind::Reconcile(round));
    assert_eq!(
        violation(&hand.events(registration)),
        Some(ProtocolViolation::InvalidReconcile)
    );
}

#[test]
fn a_round_that_never_ends_is_cut_off_at_its_byte_limit() {
    let (mut hand, _, registration, link, _) = neighbor_by_hand();
    // Frames of a million bytes of listed items, each in the next range, none the last: the
    // answer would grow with them.
    let bound = |frame: u8| {
        let mut id = [frame; 16];
        id[12..].fill(0);
        id
    };
    let mut ended = None;
    for frame in 0..80u8 {
        let mut items = Vec::with_capacity(1 << 20);
        for n in 0..(1u32 << 15) {
            let mut id = [frame; 16];
            id[12..].copy_from_slice(&n.to_be_bytes());
            items.extend_from_slice(&id);
            items.extend_from_slice(&[1; 16]);
        }
        let round = wire::Reconcile {
            ranges: vec![wire::ReconcileRange {
                lower: Bytes::copy_from_slice(&bound(frame)),
                upper: Bytes::copy_from_slice(&bound(frame + 1)),
                kind: Some(wire::reconcile_range::Kind::Items(Bytes::from(items))),
            }],
            want: Vec::new(),
            last: false,
        };
        hand.receive(link, by_hand::Kind::Reconcile(round));
        ended = violation(&hand.events(registration));
        if ended.is_some() {
            assert!(frame >= 63, "cut off after {frame} MiB, before the limit");
            break;
        }
    }
    assert_eq!(ended, Some(ProtocolViolation::InvalidReconcile));
}

/// The violation that ended the neighbor link, among `events`.
fn violation(events: &[GraphEvent]) -> Option<ProtocolViolation> {
    events.iter().find_map(|event| match event {
        GraphEvent::NeighborConnection(change) => match change.status {
            ConnectionStatus::Disconnected(DisconnectReason::ProtocolViolation(violation)) => {
                Some(violation)
            }
            _ => None,
        },
        _ => None,
    })
}

#[test]
fn graph_properties_set_on_one_node_reach_every_node_and_the_newest_wins() {
    use peergraph_core::{GraphProperties, PROPERTIES_RECORD_TYPE};
    let mut world = line(3);
    for index in 0..3 {
        let graph = world.graphs[index];
        world
            .cluster
            .node(index)
            .register_event(graph, &[EventType::PropertyChanged])
            .unwrap();
    }
    let graph = world.graphs[0];
    let now = world.cluster.now();
    let lifetime = Some(Duration::from_secs(600));
    world
        .cluster
        .node(0)
        .set_graph_properties(now, graph, "The lab", "where we test", lifetime)
        .unwrap();
    world.cluster.settle().unwrap();
    let expected = GraphProperties {
        graph_id: common::GRAPH.into(),
        creator_id: "peer0".into(),
        friendly_name: "The lab".into(),
        comment: "where we test".into(),
        presence_lifetime: lifetime,
    };
    for index in 0..3 {
        let graph = world.graphs[index];
        let node = world.cluster.node(index);
        assert_eq!(
            node.graph_properties(graph).unwrap(),
            expected,
            "node {index}"
        );
        // The library's own record is no application record.
        assert!(node.enum_records(graph, None, None).unwrap().is_empty());
        assert!(
            world.events(index).contains(&GraphEvent::PropertyChanged),
            "node {index}"
        );
    }
    // Another member changes them later: the newest wins everywhere, the creator stays.
    world.cluster.run_for(Duration::from_secs(1)).unwrap();
    let now = world.cluster.now();
    let graph = world.graphs[2];
    world
        .cluster
        .node(2)
        .set_graph_properties(now, graph, "The big lab", "", None)
        .unwrap();
    world.cluster.settle().unwrap();
    for index in 0..3 {
        let graph = world.graphs[index];
        let properties = world.cluster.node(index).graph_properties(graph).unwrap();
        assert_eq!(
            (
                properties.friendly_name.as_str(),
                properties.creator_id.as_str()
            ),
            ("The big lab", "peer0")
        );
        assert_eq!(properties.presence_lifetime, None);
    }
    let mut reserved = content(CHAT, "x");
    reserved.record_type = PROPERTIES_RECORD_TYPE;
    assert!(matches!(
        add(&mut world, 1, reserved),
        Err(RecordError::InvalidArgument { .. })
    ));
    let now = world.cluster.now();
    let graph = world.graphs[1];
    assert!(matches!(
        world
            .cluster
            .node(1)
            .set_graph_properties(now, graph, &"n".repeat(256), "", None),
        Err(RecordError::InvalidArgument { .. })
    ));
}

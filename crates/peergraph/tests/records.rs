//! The record store over each real transport, and its databases on disk: records flood along a
//! line of nodes, a graph's records survive a restart and come back at once, the database
//! rules of `PeerGraphCreate`/`Open`/`Delete` hold, graph properties last,, damaged files fail with an error naming
//! them, and an export imports into another node.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::path::Path;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use peergraph::{
    Attribute, Config, DatabaseError, DeleteGraphError, EventStream, EventType, GraphConfig,
    GraphData, GraphError, GraphEvent, GraphOpenError, GraphStatus, PEER_GRAPH_VERSION, PeerGraph,
    RecordChangeKind, RecordContent, RecordError, RecordId, TransportKind,
};
use support::{GRAPH, TestNode, eventually, within};

on_both_transports!(
    a_record_floods_along_a_line_and_updates_and_deletes_follow,
    a_node_that_was_away_learns_the_records_added_meanwhile,
);

const NOTE: [u8; 16] = *b"note record type";

fn note(text: &str) -> RecordContent {
    RecordContent {
        record_type: NOTE,
        attributes: vec![Attribute::text("topic", "tests")],
        data: Bytes::copy_from_slice(text.as_bytes()),
        expires_at: SystemTime::now() + Duration::from_secs(3600),
    }
}

fn record_events(node: &TestNode) -> EventStream {
    node.node
        .register_event(node.graph, &[EventType::RecordChanged])
        .unwrap()
}

async fn next_change(events: &mut EventStream) -> (RecordChangeKind, RecordId) {
    within("a record event", async {
        loop {
            if let GraphEvent::RecordChanged(change) = events.next().await.expect("open") {
                return (change.change, change.record_id);
            }
        }
    })
    .await
}

async fn neighbors(from: &TestNode, to: &TestNode) {
    from.node
        .connect(from.graph, None, to.locator().address)
        .unwrap();
    let (node, graph) = (&from.node, from.graph);
    eventually("the neighbor link is up", || {
        node.enum_connections(graph, peergraph::ConnectionKinds::NEIGHBOR)
            .unwrap()
            .iter()
            .any(|info| info.state == peergraph::ConnectionState::Connected)
    })
    .await;
}

fn data_of(node: &TestNode, id: RecordId) -> Option<Bytes> {
    node.node
        .get_record(node.graph, id)
        .ok()
        .map(|record| record.data)
}

async fn a_record_floods_along_a_line_and_updates_and_deletes_follow(kind: TransportKind) {
    let alice = TestNode::new(kind, "alice").await;
    let bob = TestNode::new(kind, "bob").await;
    let carol = TestNode::new(kind, "carol").await;
    neighbors(&alice, &bob).await;
    neighbors(&carol, &bob).await;
    let mut at_carol = record_events(&carol);
    let id = alice.node.add_record(alice.graph, note("hello")).unwrap();
    assert_eq!(
        next_change(&mut at_carol).await,
        (RecordChangeKind::Added, id)
    );
    let original = alice.node.get_record(alice.graph, id).unwrap();
    assert_eq!(carol.node.get_record(carol.graph, id).unwrap(), original);
    assert_eq!(original.author, alice.node.identity());

    assert!(matches!(
        carol.node.update_record(carol.graph, id, note("not mine")),
        Err(peergraph::RecordsError::Record(RecordError::AccessDenied))
    ));
    alice
        .node
        .update_record(alice.graph, id, note("hello again"))
        .unwrap();
    assert_eq!(
        next_change(&mut at_carol).await,
        (RecordChangeKind::Updated, id)
    );
    assert_eq!(data_of(&carol, id).unwrap(), "hello again");
    alice.node.delete_record(alice.graph, id, false).unwrap();
    assert_eq!(
        next_change(&mut at_carol).await,
        (RecordChangeKind::Deleted, id)
    );
    assert_eq!(
        carol.node.get_record(carol.graph, id),
        Err(RecordError::RecordNotFound)
    );
}

async fn a_node_that_was_away_learns_the_records_added_meanwhile(kind: TransportKind) {
    let alice = TestNode::new(kind, "alice").await;
    let bob = TestNode::new(kind, "bob").await;
    neighbors(&alice, &bob).await;
    let first = alice.node.add_record(alice.graph, note("first")).unwrap();
    eventually("bob holds the first record", || {
        data_of(&bob, first).is_some()
    })
    .await;
    // Bob leaves the graph; alice adds records; bob joins again with a new graph handle.
    bob.node.close_graph(bob.graph).unwrap();
    let added: Vec<RecordId> = (0..50)
        .map(|index| {
            alice
                .node
                .add_record(alice.graph, note(&format!("while away {index}")))
                .unwrap()
        })
        .collect();
    let (graph, data) = bob.node.open_graph(GraphConfig::new(GRAPH, "bob")).unwrap();
    assert_eq!(data, GraphData::Created, "bob keeps records in memory only");
    bob.node
        .connect(graph, None, alice.locator().address)
        .unwrap();
    let node = &bob.node;
    eventually("bob holds every record", || {
        node.enum_records(graph, Some(NOTE), None)
            .is_ok_and(|records| records.len() == 51)
    })
    .await;
    for id in added {
        assert!(node.get_record(graph, id).is_ok());
    }
}

async fn started(config: Config) -> PeerGraph {
    let node = PeerGraph::new(config).unwrap();
    node.startup(PEER_GRAPH_VERSION).unwrap();
    node
}

fn on_disk(dir: &Path) -> Config {
    Config::new(TransportKind::Tcp)
        .with_data_dir(dir.join("data"))
        .with_identity_dir(dir.join("identity"))
}

#[tokio::test]
async fn records_survive_a_restart_and_the_reopened_graph_is_ready_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (kept, dropped) = {
        let node = started(on_disk(dir.path())).await;
        let graph = node.create_graph(GraphConfig::new(GRAPH, "alice")).unwrap();
        let kept = node.add_record(graph, note("kept")).unwrap();
        let dropped = node.add_record(graph, note("dropped")).unwrap();
        node.delete_record(graph, dropped, false).unwrap();
        assert_eq!(node.graph_properties(graph).unwrap().creator_id, "alice");
        node.set_graph_properties(graph, "Kitchen", "who cooks tonight", None)
            .unwrap();
        // No close: the process could end here.
        (kept, dropped)
    };
    let node = started(on_disk(dir.path())).await;
    let (graph, data) = node.open_graph(GraphConfig::new(GRAPH, "alice")).unwrap();
    assert_eq!(data, GraphData::Opened);
    assert!(
        node.node_info(graph)
            .unwrap()
            .status
            .contains(GraphStatus::SYNCHRONIZED),
        "a database that had synchronized is ready at once"
    );
    assert_eq!(node.get_record(graph, kept).unwrap().data, "kept");
    assert_eq!(
        node.get_record(graph, dropped),
        Err(RecordError::RecordNotFound)
    );
    let properties = node.graph_properties(graph).unwrap();
    assert_eq!(
        (
            properties.friendly_name.as_str(),
            properties.comment.as_str()
        ),
        ("Kitchen", "who cooks tonight")
    );
    assert_eq!(properties.creator_id, "alice");
    node.add_record(graph, note("more")).unwrap();
}

#[tokio::test]
async fn the_database_rules_of_create_open_and_delete_hold() {
    let dir = tempfile::tempdir().unwrap();
    let node = started(on_disk(dir.path())).await;
    let config = GraphConfig::new(GRAPH, "alice");
    // First properties that are refused leave neither a graph nor a database behind.
    let refused = node.create_graph_with_properties(config.clone(), &"n".repeat(256), "", None);
    assert!(matches!(refused, Err(GraphOpenError::Properties(_))));
    assert!(!node.database_path(GRAPH, "alice").unwrap().exists());
    let graph = node
        .create_graph_with_properties(config.clone(), "Pantry", "", None)
        .unwrap();
    assert_eq!(
        node.graph_properties(graph).unwrap().friendly_name,
        "Pantry"
    );
    node.close_graph(graph).unwrap();
    // 6. A second create finds the database.
    assert!(matches!(
        node.create_graph(config.clone()),
        Err(GraphOpenError::Graph(GraphError::DuplicateGraph))
    ));
    // 12. Delete fails while the graph is open, succeeds once it is closed, and the next open
    // makes a new database.
    let (graph, data) = node.open_graph(config.clone()).unwrap();
    assert_eq!(data, GraphData::Opened);
    assert!(matches!(
        node.delete_graph(GRAPH, "alice"),
        Err(DeleteGraphError::InUse)
    ));
    node.close_graph(graph).unwrap();
    node.delete_graph(GRAPH, "alice").unwrap();
    assert!(matches!(
        node.delete_graph(GRAPH, "alice"),
        Err(DeleteGraphError::NotPresent { .. })
    ));
    let (graph, data) = node.open_graph(config).unwrap();
    assert_eq!(data, GraphData::Created);
    // 8. An opened graph with a new database is not ready until it has synchronized.
    assert!(matches!(
        node.add_record(graph, note("early")),
        Err(peergraph::RecordsError::Record(RecordError::NotReady))
    ));
}

#[tokio::test]
async fn a_damaged_or_foreign_database_fails_with_an_error_naming_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let node = started(on_disk(dir.path())).await;
    let path = node.database_path(GRAPH, "alice").unwrap();
    let graph = node.create_graph(GraphConfig::new(GRAPH, "alice")).unwrap();
    for index in 0..200 {
        node.add_record(graph, note(&format!("record {index}")))
            .unwrap();
    }
    node.close_graph(graph).unwrap();
    let whole = std::fs::read(&path).unwrap();

    let mut damages: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"this is not a database".repeat(100)),
        ("truncated", whole[..whole.len() / 3].to_vec()),
        ("empty", Vec::new()),
    ];
    let mut flipped = whole.clone();
    for byte in flipped.iter_mut().skip(4096).step_by(97) {
        *byte ^= 0x5a;
    }
    damages.push(("bytes flipped", flipped));
    for (damage, bytes) in damages {
        std::fs::write(&path, &bytes).unwrap();
        match node.open_graph(GraphConfig::new(GRAPH, "alice")) {
            Err(GraphOpenError::Database(error)) => {
                assert!(
                    matches!(error, DatabaseError::Corrupt { .. }),
                    "{damage}: {error:?}"
                );
                assert!(
                    error.to_string().contains(&path.display().to_string()),
                    "{damage}: {error}"
                );
            }
            // A database may survive damage to pages it no longer uses; then its records must
            // still be whole.
            Ok((graph, _)) if damage == "bytes flipped" => {
                let records = node.enum_records(graph, None, None).unwrap();
                assert!(records.len() <= 200, "{damage}");
                node.close_graph(graph).unwrap();
            }
            Err(other) => panic!("{damage}: {other}"),
            Ok(_) => panic!("{damage}: opened"),
        }
    }

    // The file of another graph, under this graph's name.
    let other = node.database_path("another", "alice").unwrap();
    let graph = node
        .create_graph(GraphConfig::new("another", "alice"))
        .unwrap();
    node.close_graph(graph).unwrap();
    std::fs::copy(&other, &path).unwrap();
    assert!(matches!(
        node.open_graph(GraphConfig::new(GRAPH, "alice")),
        Err(GraphOpenError::Database(DatabaseError::OtherGraph { graph_id, .. })) if graph_id == "another"
    ));
}

#[tokio::test]
async fn an_export_imports_into_another_node_and_refuses_another_graph() {
    let dir = tempfile::tempdir().unwrap();
    let alice = started(Config::new(TransportKind::Tcp)).await;
    let graph = alice
        .create_graph(GraphConfig::new(GRAPH, "alice"))
        .unwrap();
    let ids: Vec<RecordId> = (0..20)
        .map(|index| alice.add_record(graph, note(&format!("n{index}"))).unwrap())
        .collect();
    let export = dir.path().join("export.redb");
    // The twenty records and the graph's properties record.
    assert_eq!(alice.export_database(graph, &export).unwrap(), 21);
    assert!(
        alice.export_database(graph, &export).is_err(),
        "an export never overwrites a file"
    );

    let bob = started(Config::new(TransportKind::Tcp)).await;
    let at_bob = bob.create_graph(GraphConfig::new(GRAPH, "bob")).unwrap();
    assert_eq!(bob.import_database(at_bob, &export).unwrap(), 21);
    for id in &ids {
        assert_eq!(
            bob.get_record(at_bob, *id).unwrap(),
            alice.get_record(graph, *id).unwrap()
        );
    }
    assert_eq!(
        bob.import_database(at_bob, &export).unwrap(),
        0,
        "nothing newer"
    );
    let elsewhere = bob
        .create_graph(GraphConfig::new("elsewhere", "bob"))
        .unwrap();
    assert!(matches!(
        bob.import_database(elsewhere, &export),
        Err(peergraph::TransferError::Database(
            DatabaseError::OtherGraph { .. }
        ))
    ));
}

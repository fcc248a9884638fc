//! Records from the command line on running `join` nodes: added on one, seen and searched on
//! another, changed only by their author, and kept across a `kill -9` mid-write.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::collections::HashSet;

use support::Running;

fn join(peer_id: &str, extra: &[&str]) -> Running {
    let mut args = vec!["join", "--graph", "g", "--peer-id", peer_id];
    args.extend_from_slice(extra);
    Running::spawn(&args)
}

/// The id in a line `added ID`.
async fn added(node: &mut Running) -> String {
    let line = node.line_starting("added ").await;
    line["added ".len()..].to_owned()
}

/// Sends `list` and returns the ids of the record lines before `found N`.
async fn listed(node: &mut Running) -> HashSet<String> {
    node.write_line("list").await;
    let mut ids = HashSet::new();
    loop {
        let line = node
            .line_where("a record or the count", |line| {
                line.starts_with("record ") || line.starts_with("found ")
            })
            .await;
        if let Some(count) = line.strip_prefix("found ") {
            assert_eq!(count.parse::<usize>().unwrap(), ids.len());
            return ids;
        }
        ids.insert(line.split_whitespace().nth(1).unwrap().to_owned());
    }
}

#[tokio::test]
async fn a_record_added_on_one_running_node_is_seen_searched_and_deleted_on_another() {
    let mut ann = join("ann", &["--listen", "127.0.0.1:0"]);
    let locator = ann.locator().await;
    let mut ben = join("ben", &["--bootstrap", &locator]);
    ben.line_containing("SYNCHRONIZED").await;

    ann.write_line("add type:todo room=lobby n=5 buy milk")
        .await;
    let id = added(&mut ann).await;
    ann.write_line("add type:todo room=lobby n=1 walk the dog")
        .await;
    let other = added(&mut ann).await;
    let seen = ben.line_containing(&format!("added: record {id}")).await;
    assert!(
        seen.ends_with("type:todo by ann room=lobby n=5 buy milk"),
        "{seen}"
    );
    ben.line_containing(&format!("added: record {other}")).await;

    ben.write_line("search type:todo n>=2 room^lob").await;
    let found = ben.line_starting("record ").await;
    assert!(found.starts_with(&format!("record {id} v1 ")), "{found}");
    assert_eq!(ben.line_starting("found ").await, "found 1");

    ben.write_line(&format!("delete {id}")).await;
    let refused = ben.line_starting("error: ").await;
    assert!(refused.contains("author"), "{refused}");
    ann.write_line(&format!("update {id} room=lobby n=6 buy oat milk"))
        .await;
    ann.line_starting("updated ").await;
    let updated = ben
        .line_containing(&format!("updated: record {id} v2"))
        .await;
    assert!(updated.ends_with("buy oat milk"), "{updated}");
    ann.write_line(&format!("delete {id}")).await;
    ann.line_starting("deleted ").await;
    ben.line_containing(&format!("deleted: record {id}")).await;
    assert_eq!(listed(&mut ben).await, HashSet::from([other]));
    ben.write_line("search creator:").await;
    ben.line_starting("found ").await;
    ben.write_line("frobnicate").await;
    assert!(
        ben.line_starting("error: ")
            .await
            .contains("unknown command")
    );
}

#[tokio::test]
async fn every_record_a_node_acknowledged_survives_kill_9_mid_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let identity = dir.path().join("identity");
    let args = [
        "--data-dir",
        data.to_str().unwrap(),
        "--identity-dir",
        identity.to_str().unwrap(),
    ];
    let mut node = join("ann", &args);
    node.locator().await;
    // Many adds in flight; the node is killed while it is still writing them.
    for index in 0..400 {
        node.write_line(&format!("add n={index} record number {index}"))
            .await;
    }
    let mut acknowledged = HashSet::new();
    for _ in 0..150 {
        acknowledged.insert(added(&mut node).await);
    }
    node.kill().await;

    let mut node = join("ann", &args);
    node.locator().await;
    let kept = listed(&mut node).await;
    let lost: Vec<_> = acknowledged.difference(&kept).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(
        kept.len() < 400,
        "the kill came mid-write ({} of 400 kept)",
        kept.len()
    );
    // The reopened graph takes new records at once.
    node.write_line("add after the restart").await;
    added(&mut node).await;
}

#[tokio::test]
async fn graph_properties_set_on_one_running_node_reach_another() {
    let mut ann = join("ann", &["--listen", "127.0.0.1:0"]);
    let locator = ann.locator().await;
    let mut ben = join("ben", &["--bootstrap", &locator]);
    ben.line_containing("SYNCHRONIZED").await;

    ben.write_line("name Kitchen rota").await;
    assert_eq!(ben.line_starting("set ").await, "set name");
    ann.line_containing("[ann] properties: name \"Kitchen rota\" comment \"\" creator ann")
        .await;
    ann.write_line("comment who cooks tonight").await;
    ann.line_starting("set comment").await;
    ben.line_containing(
        "[ben] properties: name \"Kitchen rota\" comment \"who cooks tonight\" creator ann",
    )
    .await;
    ben.write_line(&format!("name {}", "x".repeat(256))).await;
    let refused = ben.line_starting("error: ").await;
    assert!(refused.contains("friendly_name"), "{refused}");
    ben.write_line("properties").await;
    assert_eq!(
        ben.line_starting("properties: ").await,
        "properties: name \"Kitchen rota\" comment \"who cooks tonight\" creator ann"
    );
}

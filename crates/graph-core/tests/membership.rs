//! Graph secrets: only members reach each other's applications.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use common::{GRAPH, World};
use peergraph_core::{AuthFailure, ConnectionKinds, ConnectionStatus, FailReason, GraphConfig};
use peergraph_sim::Cluster;

fn world(secrets: [Option<&'static str>; 2]) -> World {
    World::from_cluster(Cluster::with_defaults(2), |index| {
        let config = GraphConfig::new(GRAPH, "");
        match secrets[index] {
            Some(secret) => config.with_secret(secret),
            None => config,
        }
    })
}

fn outcome(secrets: [Option<&'static str>; 2]) -> (Vec<ConnectionStatus>, World) {
    let mut world = world(secrets);
    let id = world.open(0, 1);
    world.cluster.settle().unwrap();
    (world.changes_for(0, id), world)
}

fn assert_target_saw_nothing(world: &mut World) {
    assert!(
        world.events(1).is_empty(),
        "target events: {:?}",
        world.events(1)
    );
    let graph = world.graphs[1];
    let list = world
        .cluster
        .node(1)
        .enum_connections(graph, ConnectionKinds::DIRECT)
        .unwrap();
    assert!(list.is_empty());
}

#[test]
fn the_right_secret_on_both_sides_connects() {
    let (statuses, _) = outcome([Some("s3cret"), Some("s3cret")]);
    assert!(
        matches!(statuses[..], [ConnectionStatus::Connected(_)]),
        "{statuses:?}"
    );
}

#[test]
fn a_wrong_secret_fails_not_authenticated_and_the_target_sees_nothing() {
    let (statuses, mut world) = outcome([Some("guess"), Some("s3cret")]);
    assert_eq!(
        statuses,
        [ConnectionStatus::Failed(FailReason::NotAuthenticated(
            AuthFailure::MembershipProof
        ))]
    );
    assert_target_saw_nothing(&mut world);
}

#[test]
fn a_missing_secret_fails_not_authenticated_and_the_target_sees_nothing() {
    let (statuses, mut world) = outcome([None, Some("s3cret")]);
    assert_eq!(
        statuses,
        [ConnectionStatus::Failed(FailReason::NotAuthenticated(
            AuthFailure::MembershipProof
        ))]
    );
    assert_target_saw_nothing(&mut world);
}

#[test]
fn a_secret_the_target_does_not_hold_fails_not_authenticated() {
    let (statuses, mut world) = outcome([Some("s3cret"), None]);
    assert_eq!(
        statuses,
        [ConnectionStatus::Failed(FailReason::NotAuthenticated(
            AuthFailure::MembershipProof
        ))]
    );
    assert_target_saw_nothing(&mut world);
}

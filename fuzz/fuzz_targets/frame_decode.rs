//! Arbitrary bytes as frames on a freshly accepted link, a pending outbound link, and both ends
//! of an established connection; afterwards every rule on events and enumerations still holds
//! and both ends agree on whether the connection is up.

#![no_main]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use peergraph_core::{
    ConnectionKinds, ConnectionState, EventType, GraphConfig, LinkId, LinkUp, NodeConfig,
    PeerIdentity,
};
use peergraph_fuzz::Watch;
use peergraph_sim::{Cluster, NetConfig};

#[derive(Debug, Arbitrary)]
enum Place {
    /// A link the target just accepted, before any Hello.
    AcceptedLink,
    /// The initiator's link, Hello sent, Accept not yet arrived.
    PendingInitiator,
    /// The target's end of an established connection.
    ConnectedTarget,
    /// The initiator's end of an established connection.
    ConnectedInitiator,
}

#[derive(Debug, Arbitrary)]
struct Input {
    place: Place,
    frames: Vec<Vec<u8>>,
}

fn connected(cluster: &Cluster, node: usize, graph: peergraph_core::GraphHandle) -> usize {
    cluster.nodes[node]
        .node
        .enum_connections(graph, ConnectionKinds::DIRECT)
        .expect("live graph")
        .iter()
        .filter(|info| info.state == ConnectionState::Connected)
        .count()
}

fuzz_target!(|input: Input| {
    let net = NetConfig::default();
    let mut cluster = Cluster::new(2, net, |index| {
        let mut config = NodeConfig::with_seed(index as u64);
        config.limits.max_message_size = 4096;
        config
    });
    cluster.step_limit = 100_000;
    let mut watches = [Watch::default(), Watch::default()];
    let mut graphs = Vec::new();
    for (index, watch) in watches.iter_mut().enumerate() {
        let graph = cluster
            .node(index)
            .create_graph(GraphConfig::new("fuzz-graph", format!("peer{index}")))
            .expect("valid graph");
        let types = [EventType::DirectConnection, EventType::IncomingData];
        let registration = cluster
            .node(index)
            .register_event(graph, &types)
            .expect("valid registration");
        watch.graph_opened(graph);
        watch.registered(registration, &types);
        graphs.push(graph);
    }
    let now = cluster.now();
    let address = cluster.address(1);
    let id = cluster
        .node(0)
        .open_direct_connection(now, graphs[0], "peer1", address)
        .expect("open accepted");
    watches[0].opened(id);

    let (node, link): (usize, LinkId) = match input.place {
        Place::AcceptedLink => {
            let up = LinkUp {
                remote_identity: PeerIdentity::from_spki_sha256([9; 32]),
                remote_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 9)),
                exporter: [9; 32],
            };
            (1, cluster.node(1).accept_link(now, up))
        }
        Place::PendingInitiator => {
            while cluster.links(1).is_empty() {
                assert!(cluster.step(), "the dial arrives");
            }
            assert!(cluster.step(), "the link comes up at the initiator");
            // Hold the Accept so the initiator stays pending while the frames arrive.
            cluster.partition(0, 1);
            (0, cluster.links(0)[0])
        }
        Place::ConnectedTarget | Place::ConnectedInitiator => {
            cluster.settle().expect("no livelock");
            assert_eq!(connected(&cluster, 0, graphs[0]), 1, "connected");
            assert_eq!(connected(&cluster, 1, graphs[1]), 1, "connected");
            let node = usize::from(matches!(input.place, Place::ConnectedTarget));
            (node, cluster.links(node)[0])
        }
    };
    for frame in input.frames.iter().take(64) {
        let now = cluster.now();
        cluster
            .node(node)
            .handle_frame(now, link, Bytes::copy_from_slice(frame));
        cluster.flush();
        for (watch, sim) in watches.iter_mut().zip(&cluster.nodes) {
            watch.check(sim, 1024);
        }
    }
    cluster.heal(0, 1);
    cluster.settle().expect("no livelock");
    cluster
        .run_for(Duration::from_secs(45))
        .expect("no livelock");
    for (watch, sim) in watches.iter_mut().zip(&cluster.nodes) {
        watch.check(sim, 1024);
    }
    // Whatever the frames did, the two ends agree on whether the connection is up.
    assert_eq!(
        connected(&cluster, 0, graphs[0]),
        connected(&cluster, 1, graphs[1]),
        "one end still lists a connection the other has dropped"
    );
});

//! The crate's public values (ids, flag bits, identities, debug forms, the seeded generator, the
//! id hasher) and the node-wide limits on graphs and registrations.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod by_hand;

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::time::Duration;

use by_hand::Hand;
use peergraph_core::{
    ConfigError, ConnectionKinds, EventType, GraphConfig, GraphError, GraphStatus, IdBuildHasher,
    Node, NodeConfig, PEER_GRAPH_VERSION, ParseIdentityError, PeerIdentity, RegisterError,
    SplitMix64,
};

#[test]
fn graphs_beyond_max_graphs_are_refused_until_one_closes() {
    let mut config = NodeConfig::with_seed(1);
    config.limits.max_graphs = 2;
    let mut node = Node::new(config);
    node.startup(PEER_GRAPH_VERSION).unwrap();
    let first = node.create_graph(GraphConfig::new("g1", "p")).unwrap();
    node.create_graph(GraphConfig::new("g2", "p")).unwrap();
    assert_eq!(
        node.create_graph(GraphConfig::new("g3", "p")),
        Err(GraphError::TooManyGraphs)
    );
    assert_eq!(
        node.open_graph(GraphConfig::new("g3", "p")),
        Err(GraphError::TooManyGraphs)
    );
    node.close_graph(first).unwrap();
    let third = node.create_graph(GraphConfig::new("g3", "p")).unwrap();
    assert_eq!(
        node.create_graph(GraphConfig::new("g4", "p")),
        Err(GraphError::TooManyGraphs),
        "a close frees exactly one place"
    );
    node.close_graph(third).unwrap();
    node.open_graph(GraphConfig::new("g4", "p")).unwrap();
}

#[test]
fn registrations_beyond_max_registrations_are_refused_until_one_ends() {
    let mut config = NodeConfig::with_seed(1);
    config.limits.max_registrations = 2;
    let mut node = Node::new(config);
    node.startup(PEER_GRAPH_VERSION).unwrap();
    let graph = node.create_graph(GraphConfig::new("g", "p")).unwrap();
    let events = [EventType::DirectConnection];
    let first = node.register_event(graph, &events).unwrap();
    node.register_event(graph, &events).unwrap();
    assert_eq!(
        node.register_event(graph, &events),
        Err(RegisterError::TooManyRegistrations)
    );
    node.unregister_event(first).unwrap();
    node.register_event(graph, &events).unwrap();
    assert_eq!(
        node.register_event(graph, &events),
        Err(RegisterError::TooManyRegistrations)
    );
}

#[test]
fn validate_names_each_zero_timeout_and_a_message_size_beyond_32_bits() {
    assert_eq!(NodeConfig::default().validate(), Ok(()));
    for name in [
        "handshake",
        "idle",
        "keepalive",
        "presence_lifetime",
        "maintenance",
    ] {
        let mut config = NodeConfig::default();
        let timeout = match name {
            "handshake" => &mut config.timeouts.handshake,
            "idle" => &mut config.timeouts.idle,
            "keepalive" => &mut config.timeouts.keepalive,
            "presence_lifetime" => &mut config.timeouts.presence_lifetime,
            _ => &mut config.timeouts.maintenance,
        };
        *timeout = Duration::ZERO;
        assert_eq!(config.validate(), Err(ConfigError::ZeroTimeout(name)));
    }
    let mut config = NodeConfig::default();
    config.limits.max_message_size = u32::MAX as usize - 1024;
    assert_eq!(config.validate(), Ok(()), "the largest frame fits 32 bits");
    config.limits.max_message_size += 1;
    assert_eq!(config.validate(), Err(ConfigError::MessageSizeOutOfRange));
    for (min, max, cap) in [(5, 4, 32), (3, 40, 32)] {
        let mut config = NodeConfig::default();
        config.limits.min_neighbors = min;
        config.limits.max_neighbors = max;
        config.limits.max_neighbors_per_graph = cap;
        assert_eq!(config.validate(), Err(ConfigError::NeighborBounds));
    }
}

#[test]
fn identities_parse_every_hex_digit_in_either_case() {
    let text = "0123456789abcdefABCDEF".repeat(3);
    let identity: PeerIdentity = text[..64].parse().unwrap();
    let mut expected = [0u8; 32];
    let pattern = [
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xab, 0xcd, 0xef,
    ];
    for (at, byte) in expected.iter_mut().enumerate() {
        *byte = pattern[at % pattern.len()];
    }
    assert_eq!(identity.as_bytes(), &expected);
    assert_eq!(identity.to_string(), text[..64].to_ascii_lowercase());
    assert_eq!(
        format!("{identity:?}"),
        format!("PeerIdentity({})", text[..64].to_ascii_lowercase())
    );
    for bad in ["g", "G", "/", ":", "@", "`", " "] {
        let text = format!("{bad}{}", "0".repeat(63));
        assert_eq!(
            text.parse::<PeerIdentity>(),
            Err(ParseIdentityError),
            "{bad}"
        );
    }
}

#[test]
fn flag_bits_are_the_windows_values() {
    assert_eq!(GraphStatus::LISTENING.bits(), 0x1);
    assert_eq!(GraphStatus::HAS_CONNECTIONS.bits(), 0x2);
    assert_eq!(GraphStatus::SYNCHRONIZED.bits(), 0x4);
    assert_eq!(GraphStatus::default().bits(), 0);
    assert_eq!(ConnectionKinds::NEIGHBOR.bits(), 0x1);
    assert_eq!(ConnectionKinds::DIRECT.bits(), 0x2);
    assert_eq!(ConnectionKinds::ALL.bits(), 0x3);
    for bits in 0..=3 {
        assert_eq!(ConnectionKinds::from_bits(bits).unwrap().bits(), bits);
    }
}

#[test]
fn a_new_graphs_status_names_its_flags() {
    let mut hand = Hand::with_seed(5);
    let graph = hand.node.create_graph(GraphConfig::new("g", "p")).unwrap();
    let status = hand.node.node_info(graph).unwrap().status;
    assert_eq!(status.bits(), GraphStatus::SYNCHRONIZED.bits());
    assert_eq!(format!("{status:?}"), "GraphStatus(SYNCHRONIZED)");
    hand.node.set_listening(true).unwrap();
    let status = hand.node.node_info(graph).unwrap().status;
    assert_eq!(status.bits(), 0x5);
    assert_eq!(
        format!("{status:?}"),
        "GraphStatus(LISTENING | SYNCHRONIZED)"
    );
    assert_eq!(format!("{:?}", GraphStatus::default()), "GraphStatus()");
}

#[test]
fn a_graph_configs_debug_form_shows_its_ids_and_hides_its_secret() {
    let open = GraphConfig::new("chat", "alice");
    assert_eq!(
        format!("{open:?}"),
        r#"GraphConfig { graph_id: "chat", peer_id: "alice", secret: None }"#
    );
    let closed = open.with_secret("s3cret");
    let debug = format!("{closed:?}");
    assert_eq!(
        debug,
        r#"GraphConfig { graph_id: "chat", peer_id: "alice", secret: Some("<redacted>") }"#
    );
}

#[test]
fn link_ids_are_distinct_numbers_and_print_as_such() {
    let mut hand = Hand::with_seed(6);
    let first = hand.accept([0; 32]);
    let second = hand.accept([0; 32]);
    assert_ne!(first.get(), second.get());
    for link in [first, second] {
        assert_eq!(format!("{link:?}"), format!("link#{}", link.get()));
        assert_eq!(link.to_string(), format!("link#{}", link.get()));
    }
}

#[test]
fn node_ids_are_numbers_drawn_from_the_seed() {
    let node_id = |seed| {
        let mut hand = Hand::with_seed(seed);
        let graph = hand.node.create_graph(GraphConfig::new("g", "p")).unwrap();
        hand.node.node_info(graph).unwrap().node_id
    };
    let (first, again, other) = (node_id(0), node_id(0), node_id(1_234_567));
    assert_eq!(first.get(), again.get(), "the same seed, the same id");
    assert_ne!(first.get(), other.get());
    for id in [first, other] {
        assert_eq!(format!("{id:?}"), format!("node#{}", id.get()));
        assert_eq!(id.to_string(), format!("node#{}", id.get()));
    }
}

#[test]
fn split_mix_64_gives_the_reference_sequence() {
    let mut rng = SplitMix64::new(0);
    let draws: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
    assert_eq!(
        draws,
        [
            0xe220_a839_7b1d_cdaf,
            0x6e78_9e6a_a1b9_65f4,
            0x06c4_5d18_8009_454f
        ]
    );
    let mut rng = SplitMix64::new(1_234_567);
    let draws: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
    assert_eq!(
        draws,
        [
            6_457_827_717_110_365_317,
            3_203_168_211_198_807_973,
            9_817_491_932_198_370_423
        ]
    );
}

/// The hasher's purpose: distinct ids get distinct hashes, spread over the high bits (hashbrown's
/// tag) as well as the low ones (its bucket index).
#[test]
fn the_id_hasher_spreads_sequential_ids_and_handle_pairs() {
    let hasher = IdBuildHasher::default();
    let hashes: Vec<u64> = (1..=1024u64).map(|id| hasher.hash_one(id)).collect();
    assert_eq!(hashes.iter().collect::<HashSet<_>>().len(), 1024);
    let tags: HashSet<u64> = hashes.iter().map(|hash| hash >> 57).collect();
    assert!(tags.len() > 100, "{} of 128 tags", tags.len());
    let buckets: HashSet<u64> = hashes.iter().map(|hash| hash & 1023).collect();
    assert!(buckets.len() > 500, "{} of 1024 buckets", buckets.len());
    // A handle hashes as two u32s, written as bytes.
    let pairs: HashSet<u64> = (0..64u32)
        .flat_map(|index| (0..64u32).map(move |generation| (index, generation)))
        .map(|pair| hasher.hash_one(pair))
        .collect();
    assert_eq!(pairs.len(), 64 * 64);
}

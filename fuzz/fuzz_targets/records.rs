//! A node with records and a neighbor link driven by hand, fed arbitrary `Records` and
//! `Reconcile` frames (raw bytes, altered genuine records, reconciliation rounds with any
//! bounds, fingerprints, item lists and wants) between local adds, updates, deletes and time
//! passing. The node never panics, keeps no record that is not genuine (the only author is the
//! node itself and one known peer key), and what it sends back decodes.

#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use peergraph_core::{
    EventType, GraphConfig, GraphHandle, LinkId, LinkUp, Node, NodeConfig, Output,
    PEER_GRAPH_VERSION, PeerIdentity, RecordContent, RecordId,
};
use peergraph_proto::v1::{self as wire, frame::Kind};
use prost::Message;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

const GRAPH: &str = "fuzz-graph";
const KIND: [u8; 16] = *b"fuzz record type";

#[derive(Debug, Arbitrary)]
enum Bound {
    Open,
    Held(u8),
    Any([u8; 16]),
}

#[derive(Debug, Arbitrary)]
enum RangeSpec {
    Fingerprint {
        lower: Bound,
        upper: Bound,
        count: u8,
        sum: [u8; 16],
    },
    Items {
        lower: Bound,
        upper: Bound,
        items: Vec<(Bound, [u8; 16])>,
    },
    Raw {
        lower: Vec<u8>,
        upper: Vec<u8>,
        items: Vec<u8>,
    },
}

#[derive(Debug, Arbitrary)]
enum RecordSpec {
    /// One of the peer's genuine records.
    Genuine(u8),
    /// A genuine record with one byte of its encoding changed.
    Flipped { pick: u8, at: u16, xor: u8 },
    /// Bytes as they are.
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum Op {
    Records(Vec<RecordSpec>),
    Reconcile {
        ranges: Vec<RangeSpec>,
        want: Vec<Bound>,
        last: bool,
    },
    Raw(Vec<u8>),
    Add(u8),
    Update(u8),
    Delete {
        pick: u8,
        local: bool,
    },
    Advance(u16),
}

struct Peer {
    /// Records the peer's key signed, as the peer's node holds them.
    records: Vec<Bytes>,
    identity: PeerIdentity,
}

/// The peer: a node whose key signs the genuine records fed in (made once, as signing is
/// slow next to the fuzzing loop).
fn peer() -> &'static Peer {
    static PEER: OnceLock<Peer> = OnceLock::new();
    PEER.get_or_init(|| {
        let mut node = started(9);
        let identity = node.set_signing_key(&key()).expect("a P-256 key");
        let now = Instant::now();
        node.set_wall_clock(now, since_epoch());
        let graph = node
            .create_graph(GraphConfig::new(GRAPH, "peer"))
            .expect("a graph");
        for n in 0..8u8 {
            node.add_record(now, graph, content(n)).expect("an add");
        }
        let records = node
            .signed_records(graph)
            .expect("a live graph")
            .into_iter()
            .map(|(_, signed)| signed)
            .collect();
        Peer { records, identity }
    })
}

fn key() -> Vec<u8> {
    EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .expect("the system's generator works")
        .as_ref()
        .to_vec()
}

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn started(seed: u64) -> Node {
    let mut node = Node::new(NodeConfig::with_seed(seed));
    node.startup(PEER_GRAPH_VERSION).expect("version 1");
    node
}

fn content(n: u8) -> RecordContent {
    RecordContent {
        record_type: KIND,
        attributes: Vec::new(),
        data: Bytes::from(vec![n; usize::from(n) * 3]),
        expires_at: SystemTime::now() + Duration::from_secs(3600),
    }
}

fn frame(kind: Kind) -> Bytes {
    Bytes::from(wire::Frame { kind: Some(kind) }.encode_to_vec())
}

/// A node holding records, with an established neighbor link from the peer.
struct Harness {
    node: Node,
    graph: GraphHandle,
    link: LinkId,
    now: Instant,
    identity: PeerIdentity,
}

impl Harness {
    fn new() -> Self {
        let mut node = started(1);
        let identity = node.set_signing_key(&own_key()).expect("a P-256 key");
        let now = Instant::now();
        node.set_wall_clock(now, since_epoch());
        let graph = node
            .create_graph(GraphConfig::new(GRAPH, "node"))
            .expect("a graph");
        node.register_event(
            graph,
            &[EventType::RecordChanged, EventType::NeighborConnection],
        )
        .expect("a registration");
        for n in 0..4u8 {
            node.add_record(now, graph, content(n)).expect("an add");
        }
        let link = connect(&mut node, now);
        let mut harness = Self {
            node,
            graph,
            link,
            now,
            identity,
        };
        harness.drain();
        harness
    }
}

/// A neighbor link from the peer, through the real handshake of a graph without a secret.
fn connect(node: &mut Node, now: Instant) -> LinkId {
    let up = LinkUp {
        remote_identity: peer().identity,
        remote_addr: ([192, 0, 2, 1], 4000).into(),
        exporter: [0; 32],
    };
    let link = node.accept_link(now, up);
    let hello = wire::Hello {
        version: 2,
        graph_id: GRAPH.into(),
        target_peer_id: "node".into(),
        source_peer_id: "peer".into(),
        source_node_id: 7,
        pake_share: Bytes::new(),
        batch_limit: 0,
        neighbor: true,
    };
    node.handle_frame(now, link, frame(Kind::Hello(hello)));
    node.handle_frame(
        now,
        link,
        frame(Kind::Confirm(wire::Confirm {
            confirmation: Bytes::new(),
        })),
    );
    link
}

impl Harness {
    /// Drains the node's output: every frame it sends decodes, every event is taken, and once
    /// the link has closed a new one comes up.
    fn drain(&mut self) {
        loop {
            match self.node.poll_output(self.now) {
                Output::Transmit { link } | Output::Close { link } => {
                    while let Some(transmit) = self.node.poll_transmit(link) {
                        let bytes = transmit.into_bytes();
                        assert!(
                            wire::Frame::decode(bytes).is_ok(),
                            "the node sent a frame that does not decode"
                        );
                    }
                }
                Output::Events { registration } => {
                    while let Ok(Some(_)) = self.node.take_event(registration) {}
                }
                Output::Store { graph } => drop(self.node.take_store_writes(graph)),
                Output::Dial { .. } | Output::Resume { .. } => {}
                Output::Timeout(_) => break,
            }
        }
    }

    fn held_id(&self, pick: u8) -> Option<RecordId> {
        let records = self.node.signed_records(self.graph).ok()?;
        records
            .get(usize::from(pick) % records.len().max(1))
            .map(|(id, _)| *id)
    }

    fn bound(&self, bound: &Bound) -> Bytes {
        match bound {
            Bound::Open => Bytes::new(),
            Bound::Held(pick) => self
                .held_id(*pick)
                .map_or_else(Bytes::new, |id| Bytes::copy_from_slice(id.as_bytes())),
            Bound::Any(bytes) => Bytes::copy_from_slice(bytes),
        }
    }

    fn step(&mut self, op: Op) {
        let peer = peer();
        match op {
            Op::Records(specs) => {
                let records = specs
                    .iter()
                    .take(16)
                    .map(|spec| match spec {
                        RecordSpec::Genuine(pick) => {
                            peer.records[usize::from(*pick) % peer.records.len()].clone()
                        }
                        RecordSpec::Flipped { pick, at, xor } => {
                            let mut bytes =
                                peer.records[usize::from(*pick) % peer.records.len()].to_vec();
                            let at = usize::from(*at) % bytes.len();
                            bytes[at] ^= xor | 1;
                            Bytes::from(bytes)
                        }
                        RecordSpec::Raw(bytes) => Bytes::copy_from_slice(bytes),
                    })
                    .collect();
                let frame = frame(Kind::Records(wire::Records { records }));
                self.node.handle_frame(self.now, self.link, frame);
            }
            Op::Reconcile { ranges, want, last } => {
                let ranges = ranges
                    .iter()
                    .take(64)
                    .map(|range| match range {
                        RangeSpec::Fingerprint {
                            lower,
                            upper,
                            count,
                            sum,
                        } => wire::ReconcileRange {
                            lower: self.bound(lower),
                            upper: self.bound(upper),
                            kind: Some(wire::reconcile_range::Kind::Fingerprint(
                                wire::Fingerprint {
                                    count: u64::from(*count),
                                    sum: Bytes::copy_from_slice(sum),
                                },
                            )),
                        },
                        RangeSpec::Items {
                            lower,
                            upper,
                            items,
                        } => {
                            let mut bytes = Vec::new();
                            for (id, digest) in items.iter().take(64) {
                                let id = self.bound(id);
                                bytes.extend_from_slice(if id.len() == 16 {
                                    &id
                                } else {
                                    &[0; 16]
                                });
                                bytes.extend_from_slice(digest);
                            }
                            wire::ReconcileRange {
                                lower: self.bound(lower),
                                upper: self.bound(upper),
                                kind: Some(wire::reconcile_range::Kind::Items(Bytes::from(bytes))),
                            }
                        }
                        RangeSpec::Raw {
                            lower,
                            upper,
                            items,
                        } => wire::ReconcileRange {
                            lower: Bytes::copy_from_slice(lower),
                            upper: Bytes::copy_from_slice(upper),
                            kind: Some(wire::reconcile_range::Kind::Items(Bytes::copy_from_slice(
                                items,
                            ))),
                        },
                    })
                    .collect();
                let want = want
                    .iter()
                    .take(64)
                    .map(|bound| self.bound(bound))
                    .collect();
                let frame = frame(Kind::Reconcile(wire::Reconcile { ranges, want, last }));
                self.node.handle_frame(self.now, self.link, frame);
            }
            Op::Raw(bytes) => {
                self.node
                    .handle_frame(self.now, self.link, Bytes::from(bytes));
            }
            Op::Add(n) => {
                let _ = self.node.add_record(self.now, self.graph, content(n));
            }
            Op::Update(pick) => {
                if let Some(id) = self.held_id(pick) {
                    let _ = self
                        .node
                        .update_record(self.now, self.graph, id, content(pick));
                }
            }
            Op::Delete { pick, local } => {
                if let Some(id) = self.held_id(pick) {
                    let _ = self.node.delete_record(self.now, self.graph, id, local);
                }
            }
            Op::Advance(millis) => self.now += Duration::from_millis(u64::from(millis)),
        }
        self.drain();
        if self.node.link_connection(self.link).is_none() {
            // The link ended (a violation): the peer comes back on a new one.
            self.link = connect(&mut self.node, self.now);
            self.drain();
        }
        // Every record held is the node's own or the peer's.
        for record in self
            .node
            .enum_records(self.graph, None, None)
            .expect("a synchronized graph")
        {
            assert!(
                record.author == self.identity || record.author == peer.identity,
                "a record by {} was kept",
                record.author
            );
        }
    }
}

fn own_key() -> Vec<u8> {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    KEY.get_or_init(key).clone()
}

fuzz_target!(|ops: Vec<Op>| {
    let mut harness = Harness::new();
    for op in ops.into_iter().take(32) {
        harness.step(op);
    }
});

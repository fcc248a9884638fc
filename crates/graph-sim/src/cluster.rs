//! The cluster: nodes, simulated links, and the virtual clock.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use peergraph_core::{
    AuthFailure, GraphEvent, LinkCloseReason, LinkId, LinkUp, Node, NodeConfig, Output,
    PEER_GRAPH_VERSION, PeerAddress, PeerIdentity, RegistrationHandle,
};

use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

use crate::rng::SimRng;

/// The wall-clock time every simulated node reads at the start of a run (2026-01-01 UTC).
pub const SIM_EPOCH: Duration = Duration::from_secs(1_767_225_600);

/// How the simulated network behaves.
#[derive(Debug, Clone, Copy)]
pub struct NetConfig {
    /// Seed of the network's randomness (delays, losses, exporters, identities).
    pub seed: u64,
    /// Smallest one-way delay.
    pub min_delay: Duration,
    /// Largest one-way delay.
    pub max_delay: Duration,
    /// Probability that a frame breaks its link instead of arriving (both ends then see the link
    /// lost, as after a reset).
    pub link_loss: f64,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
            link_loss: 0.0,
        }
    }
}

/// One node of the cluster and what it has seen.
pub struct SimNode {
    /// The node itself; drive it through its commands.
    pub node: Node,
    /// Its simulated address (on the loopback range; no traffic leaves the process).
    pub addr: SocketAddr,
    /// Its simulated transport identity.
    pub identity: PeerIdentity,
    /// Every event taken from its registrations, in order.
    pub events: Vec<(RegistrationHandle, GraphEvent)>,
    /// The virtual time at which each entry of `events` was taken (same index, same length).
    pub event_times: Vec<Instant>,
    /// Whether dials to it are accepted.
    pub listening: bool,
    /// Whether the cluster takes events from its ready registrations into `events`; when false
    /// they stay queued in the node, for tests of the queues themselves.
    pub drain_events: bool,
    /// Record store writes the node asked to make durable.
    pub store_writes: u64,
}

/// A run took more steps than [`Cluster::step_limit`]: a livelock, or a bound set too low.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepLimitExceeded {
    /// The limit that was hit.
    pub limit: u64,
}

#[derive(Debug)]
enum Delivery {
    /// A dial reaches its target, which accepts the link.
    Accept {
        dialer: usize,
        link: LinkId,
        target: usize,
        exporter: [u8; 32],
    },
    /// The dialer learns its link is up.
    LinkUp {
        node: usize,
        link: LinkId,
        up: LinkUp,
    },
    Frame {
        node: usize,
        link: LinkId,
        frame: Bytes,
    },
    Closed {
        node: usize,
        link: LinkId,
        reason: LinkCloseReason,
    },
}

impl Delivery {
    fn node(&self) -> usize {
        match self {
            Delivery::Accept { target, .. } => *target,
            Delivery::LinkUp { node, .. }
            | Delivery::Frame { node, .. }
            | Delivery::Closed { node, .. } => *node,
        }
    }
}

struct Scheduled {
    at: Instant,
    seq: u64,
    from: usize,
    delivery: Delivery,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// One end of a simulated link.
struct End {
    /// The other end, once the target accepted.
    peer: Option<(usize, LinkId)>,
    /// When the last delivery toward the peer arrives, so each direction stays in order.
    last_arrival: Instant,
    /// Frames (and a close after them) that arrived while the node held this end (its receive
    /// window full), in order: the simulated transport keeps them until the node resumes it.
    parked: VecDeque<Delivery>,
}

/// A deterministic cluster of nodes.
pub struct Cluster {
    /// The nodes, indexed from 0.
    pub nodes: Vec<SimNode>,
    /// Steps one `run_*` call may take before it fails.
    pub step_limit: u64,
    net: NetConfig,
    rng: SimRng,
    now: Instant,
    queue: BinaryHeap<Reverse<Scheduled>>,
    held: Vec<Scheduled>,
    seq: u64,
    ends: HashMap<(usize, LinkId), End>,
    cut: HashSet<(usize, usize)>,
    frames_delivered: u64,
    /// Flooded items delivered, by kind.
    flood_items: HashMap<u32, u64>,
    /// Nodes that had an input since their output was last drained.
    dirty: Vec<bool>,
    /// Each node's timeout as its last drain returned it.
    wake_at: Vec<Option<Instant>>,
}

impl Cluster {
    /// `count` nodes, each started up and listening, with `config(i)` as node `i`'s config.
    pub fn new(count: usize, net: NetConfig, mut config: impl FnMut(usize) -> NodeConfig) -> Self {
        let rng = SimRng::new(net.seed);
        #[allow(clippy::disallowed_methods)] // the origin only; all later times are offsets
        let origin = Instant::now();
        let nodes = (0..count)
            .map(|index| {
                let mut node = Node::new(config(index));
                node.startup(PEER_GRAPH_VERSION)
                    .expect("version 1.0 is supported");
                node.set_listening(true).expect("started up above");
                // ring draws the key itself: record ids and signatures differ from run to
                // run, what the nodes do with them does not.
                let key = EcdsaKeyPair::generate_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &SystemRandom::new(),
                )
                .expect("the system's generator works");
                let identity = node
                    .set_signing_key(key.as_ref())
                    .expect("ring made a P-256 key");
                node.set_wall_clock(origin, SIM_EPOCH);
                let host = u32::try_from(index + 1).expect("fewer than 2^32 nodes");
                let addr = SocketAddr::from((Ipv4Addr::from(0x7f00_0000 | host), 7000));
                node.set_listen_addresses(identity, &[addr]);
                SimNode {
                    node,
                    addr,
                    identity,
                    events: Vec::new(),
                    event_times: Vec::new(),
                    listening: true,
                    drain_events: true,
                    store_writes: 0,
                }
            })
            .collect();
        let now = origin;
        Self {
            nodes,
            step_limit: 10_000_000,
            net,
            rng,
            now,
            queue: BinaryHeap::new(),
            held: Vec::new(),
            seq: 0,
            ends: HashMap::new(),
            cut: HashSet::new(),
            frames_delivered: 0,
            flood_items: HashMap::new(),
            dirty: vec![true; count],
            wake_at: vec![None; count],
        }
    }

    /// Frames handed to nodes so far, on every link.
    pub fn frames_delivered(&self) -> u64 {
        self.frames_delivered
    }

    /// Flooded items of `kind` handed to nodes so far, on every link (each copy counts).
    pub fn flood_items_delivered(&self, kind: u32) -> u64 {
        self.flood_items.get(&kind).copied().unwrap_or(0)
    }

    /// `count` nodes with default configs seeded by their index and a default network.
    pub fn with_defaults(count: usize) -> Self {
        Self::new(count, NetConfig::default(), |index| {
            NodeConfig::with_seed(index as u64 + 1)
        })
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Node `index`, to give it a command. (Commands given through `nodes[index].node` are
    /// seen at the next [`flush`](Self::flush) only.)
    pub fn node(&mut self, index: usize) -> &mut Node {
        self.dirty[index] = true;
        &mut self.nodes[index].node
    }

    /// The address to dial node `index` at, without a pinned identity.
    pub fn address(&self, index: usize) -> PeerAddress {
        PeerAddress::new(self.nodes[index].addr)
    }

    /// Node `index`'s address pinned to its identity.
    pub fn pinned_address(&self, index: usize) -> PeerAddress {
        PeerAddress::pinned(self.nodes[index].addr, self.nodes[index].identity)
    }

    /// Takes the events node `index` has seen so far (their times are dropped with them).
    pub fn take_events(&mut self, index: usize) -> Vec<(RegistrationHandle, GraphEvent)> {
        self.nodes[index].event_times.clear();
        std::mem::take(&mut self.nodes[index].events)
    }

    /// Holds all traffic between `a` and `b` (both ways) until [`heal`](Self::heal).
    pub fn partition(&mut self, a: usize, b: usize) {
        self.cut.insert((a.min(b), a.max(b)));
    }

    /// Releases held traffic between `a` and `b`, in its original order.
    pub fn heal(&mut self, a: usize, b: usize) {
        self.cut.remove(&(a.min(b), a.max(b)));
        let (release, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|item| !self.is_cut(item.from, item.delivery.node()));
        self.held = keep;
        for mut item in release {
            item.at = item.at.max(self.now);
            self.queue.push(Reverse(item));
        }
    }

    fn is_cut(&self, a: usize, b: usize) -> bool {
        self.cut.contains(&(a.min(b), a.max(b)))
    }

    /// Drains every node's outputs into the network (no time passes).
    pub fn flush(&mut self) {
        self.dirty.fill(true);
        self.flush_dirty();
    }

    /// Drains the nodes that had an input, or whose timeout has come, until none has.
    fn flush_dirty(&mut self) {
        loop {
            let mut progressed = false;
            for index in 0..self.nodes.len() {
                let due = self.wake_at[index].is_some_and(|at| at <= self.now);
                if self.dirty[index] || due {
                    self.dirty[index] = false;
                    progressed |= self.flush_node(index);
                }
            }
            if !progressed {
                break;
            }
        }
    }

    /// Drains node `index`'s output stream; returns whether it had anything to do.
    fn flush_node(&mut self, index: usize) -> bool {
        let mut progressed = false;
        loop {
            match self.nodes[index].node.poll_output(self.now) {
                Output::Dial { link, address } => self.dial(index, link, address),
                Output::Transmit { link } => self.transmit(index, link),
                Output::Close { link } => {
                    self.transmit(index, link);
                    self.close_end(index, link);
                }
                Output::Resume { link } => self.resume(index, link),
                Output::Store { graph } => {
                    let writes = self.nodes[index].node.take_store_writes(graph);
                    self.nodes[index].store_writes += writes.len() as u64;
                }
                Output::Events { registration } => self.record_events(index, registration),
                Output::Timeout(at) => {
                    self.wake_at[index] = at;
                    return progressed;
                }
            }
            progressed = true;
        }
    }

    /// Takes a registration's events into the node's record, unless the test holds them back.
    fn record_events(&mut self, index: usize, registration: RegistrationHandle) {
        let sim = &mut self.nodes[index];
        if !sim.drain_events {
            return;
        }
        while let Ok(Some(event)) = sim.node.take_event(registration) {
            sim.events.push((registration, event));
            sim.event_times.push(self.now);
        }
    }

    fn delay(&mut self) -> Duration {
        let span = self
            .net
            .max_delay
            .saturating_sub(self.net.min_delay)
            .as_nanos() as u64;
        let extra = if span == 0 {
            0
        } else {
            self.rng.below(span + 1)
        };
        self.net.min_delay + Duration::from_nanos(extra)
    }

    fn schedule(&mut self, from: usize, at: Instant, delivery: Delivery) {
        self.seq += 1;
        let item = Scheduled {
            at,
            seq: self.seq,
            from,
            delivery,
        };
        if self.is_cut(from, item.delivery.node()) {
            self.held.push(item);
        } else {
            self.queue.push(Reverse(item));
        }
    }

    /// Schedules `delivery` on the `from` end's direction of a link, after everything already
    /// sent that way.
    fn send_along(&mut self, from: (usize, LinkId), delivery: Delivery) {
        let at = self.now + self.delay();
        let Some(end) = self.ends.get_mut(&from) else {
            return;
        };
        let at = at.max(end.last_arrival);
        end.last_arrival = at;
        self.schedule(from.0, at, delivery);
    }

    fn dial(&mut self, dialer: usize, link: LinkId, address: PeerAddress) {
        let at = self.now + self.delay();
        let target = self
            .nodes
            .iter()
            .position(|n| n.addr == address.socket && n.listening);
        let failure = match target {
            None => Some(LinkCloseReason::Unreachable),
            Some(target)
                if address
                    .identity
                    .is_some_and(|id| id != self.nodes[target].identity) =>
            {
                Some(LinkCloseReason::NotAuthenticated(
                    AuthFailure::IdentityMismatch,
                ))
            }
            Some(_) => None,
        };
        self.ends.insert(
            (dialer, link),
            End {
                peer: None,
                last_arrival: at,
                parked: VecDeque::new(),
            },
        );
        match (failure, target) {
            (None, Some(target)) => {
                let mut exporter = [0u8; 32];
                for chunk in exporter.chunks_exact_mut(8) {
                    chunk.copy_from_slice(&self.rng.next_u64().to_le_bytes());
                }
                self.schedule(
                    dialer,
                    at,
                    Delivery::Accept {
                        dialer,
                        link,
                        target,
                        exporter,
                    },
                );
            }
            (failure, _) => {
                let reason = failure.unwrap_or(LinkCloseReason::Unreachable);
                self.schedule(
                    dialer,
                    at,
                    Delivery::Closed {
                        node: dialer,
                        link,
                        reason,
                    },
                );
            }
        }
    }

    fn transmit(&mut self, index: usize, link: LinkId) {
        while let Some(transmit) = self.nodes[index].node.poll_transmit(link) {
            let frame = transmit.into_bytes();
            let Some(peer) = self.ends.get(&(index, link)).and_then(|end| end.peer) else {
                continue;
            };
            if self.rng.chance(self.net.link_loss) {
                self.break_link(index, link);
                return;
            }
            self.send_along(
                (index, link),
                Delivery::Frame {
                    node: peer.0,
                    link: peer.1,
                    frame,
                },
            );
        }
    }

    /// The local runtime closed its end: the peer sees a clean close after what was sent.
    fn close_end(&mut self, index: usize, link: LinkId) {
        if let Some(peer) = self.ends.get(&(index, link)).and_then(|end| end.peer) {
            let reason = LinkCloseReason::Closed;
            self.send_along(
                (index, link),
                Delivery::Closed {
                    node: peer.0,
                    link: peer.1,
                    reason,
                },
            );
        }
        self.ends.remove(&(index, link));
        let now = self.now;
        self.nodes[index]
            .node
            .handle_link_closed(now, link, LinkCloseReason::Closed);
    }

    /// A reset: both ends see the link lost; frames in flight on it are discarded on arrival.
    fn break_link(&mut self, index: usize, link: LinkId) {
        let Some(end) = self.ends.remove(&(index, link)) else {
            return;
        };
        let now = self.now;
        self.nodes[index]
            .node
            .handle_link_closed(now, link, LinkCloseReason::Lost);
        if let Some(peer) = end.peer {
            let at = now + self.delay();
            let reason = LinkCloseReason::Lost;
            self.schedule(
                index,
                at,
                Delivery::Closed {
                    node: peer.0,
                    link: peer.1,
                    reason,
                },
            );
        }
    }

    fn deliver(&mut self, delivery: Delivery) {
        let now = self.now;
        match delivery {
            Delivery::Accept {
                dialer,
                link,
                target,
                exporter,
            } => {
                if !self.ends.contains_key(&(dialer, link)) {
                    return; // the dialer gave up before the dial arrived
                }
                let up = LinkUp {
                    remote_identity: self.nodes[dialer].identity,
                    remote_addr: self.nodes[dialer].addr,
                    exporter,
                };
                self.dirty[target] = true;
                let accepted = self.nodes[target].node.accept_link(now, up);
                self.ends.insert(
                    (target, accepted),
                    End {
                        peer: Some((dialer, link)),
                        last_arrival: now,
                        parked: VecDeque::new(),
                    },
                );
                if let Some(end) = self.ends.get_mut(&(dialer, link)) {
                    end.peer = Some((target, accepted));
                }
                let up = LinkUp {
                    remote_identity: self.nodes[target].identity,
                    remote_addr: self.nodes[target].addr,
                    exporter,
                };
                self.send_along(
                    (target, accepted),
                    Delivery::LinkUp {
                        node: dialer,
                        link,
                        up,
                    },
                );
            }
            Delivery::LinkUp { node, link, up } => {
                if self.ends.contains_key(&(node, link)) {
                    self.dirty[node] = true;
                    self.nodes[node].node.handle_link_up(now, link, up);
                }
            }
            Delivery::Frame { node, link, .. } | Delivery::Closed { node, link, .. } => {
                let readable = self.nodes[node].node.link_readable(link);
                let Some(end) = self.ends.get_mut(&(node, link)) else {
                    return;
                };
                if readable && end.parked.is_empty() {
                    self.read(delivery);
                } else {
                    end.parked.push_back(delivery);
                }
            }
        }
    }

    /// Hands a frame or a close to the node that reads it.
    fn read(&mut self, delivery: Delivery) {
        let now = self.now;
        match delivery {
            Delivery::Frame { node, link, frame } => {
                self.frames_delivered += 1;
                self.count_flood_items(&frame);
                self.dirty[node] = true;
                self.nodes[node].node.handle_frame(now, link, frame);
            }
            Delivery::Closed { node, link, reason } => {
                if self.ends.remove(&(node, link)).is_some() {
                    self.dirty[node] = true;
                    self.nodes[node].node.handle_link_closed(now, link, reason);
                }
            }
            Delivery::Accept { .. } | Delivery::LinkUp { .. } => {
                unreachable!("only frames and closes are read")
            }
        }
    }

    fn count_flood_items(&mut self, frame: &Bytes) {
        use peergraph_proto::v1::{Frame, frame::Kind};
        use prost::Message;
        /// Field 9 (`flood`), length-delimited: the first byte of every Flood frame.
        const FLOOD_TAG: u8 = 9 << 3 | 2;
        if frame.first() != Some(&FLOOD_TAG) {
            return;
        }
        if let Ok(Frame {
            kind: Some(Kind::Flood(flood)),
        }) = Frame::decode(frame.as_ref())
        {
            for item in flood.items {
                *self.flood_items.entry(item.kind).or_default() += 1;
            }
        }
    }

    /// Node `index` reads `link` again: what arrived meanwhile goes in, while it stays readable.
    fn resume(&mut self, index: usize, link: LinkId) {
        while self.nodes[index].node.link_readable(link) {
            let Some(delivery) = self
                .ends
                .get_mut(&(index, link))
                .and_then(|end| end.parked.pop_front())
            else {
                return;
            };
            self.read(delivery);
        }
    }

    fn next_timeout(&self) -> Option<Instant> {
        self.wake_at.iter().flatten().min().copied()
    }

    /// Flushes, then performs the earliest pending delivery or timeout, moving the clock to it.
    /// Returns false when nothing at all is pending.
    pub fn step(&mut self) -> bool {
        self.flush_dirty();
        let next_delivery = self.queue.peek().map(|Reverse(item)| item.at);
        let next_timeout = self.next_timeout();
        match (next_delivery, next_timeout) {
            (None, None) => return false,
            (Some(at), timeout) if timeout.is_none_or(|t| at <= t) => {
                let Reverse(item) = self.queue.pop().expect("peeked above");
                self.now = self.now.max(at);
                self.deliver(item.delivery);
            }
            // The flush below fires the deadlines due at the new time.
            (_, Some(at)) => self.now = self.now.max(at),
            (Some(_), None) => unreachable!("the first arm takes a delivery without a timeout"),
        }
        self.flush_dirty();
        true
    }

    /// Steps until `done` holds. Fails when the step limit is hit or nothing is left to do
    /// while `done` is still false (returns `Ok(false)` then).
    pub fn run_until(
        &mut self,
        mut done: impl FnMut(&Cluster) -> bool,
    ) -> Result<bool, StepLimitExceeded> {
        self.flush();
        for _ in 0..self.step_limit {
            self.flush_dirty();
            if done(self) {
                return Ok(true);
            }
            if !self.step() {
                return Ok(done(self));
            }
        }
        Err(StepLimitExceeded {
            limit: self.step_limit,
        })
    }

    /// Steps until no delivery is in flight (timers due before the last delivery fire too).
    /// Held traffic of a partition does not count.
    pub fn settle(&mut self) -> Result<(), StepLimitExceeded> {
        self.run_until(|cluster| cluster.queue.is_empty())
            .map(|_| ())
    }

    /// Steps through everything due within `duration`, then sets the clock to its end.
    pub fn run_for(&mut self, duration: Duration) -> Result<(), StepLimitExceeded> {
        let end = self.now + duration;
        self.run_until(|cluster| {
            let next = [
                cluster.queue.peek().map(|Reverse(item)| item.at),
                cluster.next_timeout(),
            ];
            next.into_iter().flatten().min().is_none_or(|at| at > end)
        })?;
        self.now = self.now.max(end);
        Ok(())
    }

    /// The links node `index` has open in the simulated network, oldest first.
    pub fn links(&self, index: usize) -> Vec<LinkId> {
        let mut links: Vec<LinkId> = self
            .ends
            .keys()
            .filter(|(node, _)| *node == index)
            .map(|(_, link)| *link)
            .collect();
        links.sort();
        links
    }

    /// Deliveries in flight (held partition traffic excluded).
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }
}

//! Configuration: a node's limits and timeouts with their defaults, and what defines a graph.

use std::time::Duration;

/// Everything a [`Node`](crate::Node) needs besides its inputs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NodeConfig {
    /// Seed of the node's only source of randomness (node ids).
    pub rng_seed: u64,
    /// Bounds on queues, messages and connection counts.
    pub limits: Limits,
    /// Handshake, idle and keepalive timing.
    pub timeouts: Timeouts,
}

impl NodeConfig {
    /// The default configuration with the given randomness seed.
    pub fn with_seed(rng_seed: u64) -> Self {
        Self {
            rng_seed,
            limits: Limits::default(),
            timeouts: Timeouts::default(),
        }
    }
}

/// A configuration the node cannot run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A timeout of zero would fire again at once, forever.
    #[error("timeout `{0}` must be longer than zero")]
    ZeroTimeout(&'static str),
    /// Frames carry a 32-bit length, so a message may be at most about 4 GiB.
    #[error("max_message_size must leave room for a 32-bit frame length")]
    MessageSizeOutOfRange,
    /// Maintenance needs `min_neighbors <= max_neighbors <= max_neighbors_per_graph`.
    #[error(
        "neighbor bounds must satisfy min_neighbors <= max_neighbors <= max_neighbors_per_graph"
    )]
    NeighborBounds,
    /// `max_record_size` must lie within [`RECORD_SIZE_BOUNDS`](crate::RECORD_SIZE_BOUNDS).
    #[error("max_record_size must lie within 1,024 bytes and 60 MiB")]
    RecordSize,
}

impl NodeConfig {
    /// Checks the values a node cannot run with. [`Node::new`](crate::Node::new) replaces zero
    /// timeouts with one millisecond instead of failing; runtimes should call this first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, timeout) in [
            ("handshake", self.timeouts.handshake),
            ("idle", self.timeouts.idle),
            ("keepalive", self.timeouts.keepalive),
            ("presence_lifetime", self.timeouts.presence_lifetime),
            ("maintenance", self.timeouts.maintenance),
        ] {
            if timeout.is_zero() {
                return Err(ConfigError::ZeroTimeout(name));
            }
        }
        let limits = &self.limits;
        if limits.min_neighbors > limits.max_neighbors
            || limits.max_neighbors > limits.max_neighbors_per_graph
        {
            return Err(ConfigError::NeighborBounds);
        }
        let (least, most) = crate::records::RECORD_SIZE_BOUNDS;
        if !(least..=most).contains(&limits.max_record_size) {
            return Err(ConfigError::RecordSize);
        }
        if u32::try_from(self.limits.max_frame_len()).is_err() {
            return Err(ConfigError::MessageSizeOutOfRange);
        }
        Ok(())
    }
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self::with_seed(0)
    }
}

/// Bounds on everything a peer or the application can make a node hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Direct connections (pending or established) one graph may hold; an inbound attempt beyond
    /// it is refused and a local open beyond it fails synchronously. Default 1,024.
    pub max_direct_connections_per_graph: usize,
    /// Neighbor connections per graph, pending and established, in both directions; a Hello for
    /// another is refused. Default 32.
    pub max_neighbors_per_graph: usize,
    /// While a graph has fewer neighbor connections (pending or established), its maintenance
    /// connects to nodes it learned of from their presence, one more each round. Default 3.
    pub min_neighbors: usize,
    /// While a graph has more established neighbor connections, its maintenance sheds the
    /// newest ones its peers opened, one each round (the peer finds others). At most
    /// `max_neighbors_per_graph`. Default 8.
    pub max_neighbors: usize,
    /// Flooded items a graph keeps (design/0006); a new item beyond it is dropped (a local
    /// `publish` fails). Default 4,096.
    pub max_flood_items_per_graph: usize,
    /// Largest flooded item's payload; a larger one from a neighbor is a protocol violation.
    /// Default 16 KiB.
    pub max_flood_item_len: usize,
    /// Handshakes in progress on the whole node in each direction (inbound and outbound are
    /// counted apart, so peers that stall their handshakes cannot block the application's own
    /// opens). An inbound link beyond it is answered with a refusal; a local open beyond it fails
    /// synchronously. Default 256.
    pub max_pending_handshakes: usize,
    /// Inbound handshakes in progress from one source (an IPv4 address, or an IPv6 /64), so
    /// that one address holds only a fraction of `max_pending_handshakes`; a link beyond it is
    /// refused. Default 32 (an eighth of the default `max_pending_handshakes`).
    pub max_pending_handshakes_per_source: usize,
    /// Outbound handshakes dialed at once to one address; further opens to it wait their turn
    /// (their handshake timeout running), so that many opens at once stay within the target's
    /// `max_pending_handshakes_per_source`. Default 16.
    pub max_dials_per_target: usize,
    /// Largest frame a peer may send before its link's handshake is done (a Hello, an Accept or
    /// a Refuse); a larger one ends the link as a protocol violation. Default 8 KiB, room for
    /// the largest Hello.
    pub max_handshake_frame_len: usize,
    /// Largest `send_data` payload, and so the largest frame a peer may send. Default 16 MiB.
    pub max_message_size: usize,
    /// Bytes queued for sending on one connection before `send_data` reports
    /// [`SendError::QueueFull`](crate::SendError::QueueFull). A single message always fits an
    /// empty queue. Default 32 MiB.
    pub max_queued_bytes_per_connection: usize,
    /// Events held for one registration past which its graph takes no new connection (inbound
    /// attempts are refused, local opens fail with
    /// [`OpenError::EventBacklog`](crate::OpenError::EventBacklog)) until the application reads.
    /// No event is ever dropped: connection events are bounded by the live connections (two
    /// each), data by each connection's receive window. Default 65,536.
    pub max_queued_events_per_registration: usize,
    /// A connection's receive window in messages: once this many of its `IncomingData` events
    /// wait in registration queues (each registration's copy counts), the node stops taking
    /// frames from its link ([`Node::link_readable`](crate::Node::link_readable)) until the
    /// application has taken half of them. The sender's queue then fills and its
    /// `send_data` waits. Default 8,192.
    pub receive_window_messages: usize,
    /// A connection's receive window in payload bytes, counted as
    /// [`receive_window_messages`](Self::receive_window_messages); one message always fits an
    /// empty window. Default 8 MiB.
    pub receive_window_bytes: usize,
    /// Longest frame carrying several messages (a `DataBatch`, see docs/PROTOCOL.md) this node
    /// sends, and announces in its handshake that it accepts. While a link's socket is busy,
    /// small messages queued behind each other travel together, in fewer frames; each still
    /// arrives as its own `IncomingData`, in order. 0: every message travels in a frame of its
    /// own, both ways. Default 64 KiB.
    pub batch_frame_len: usize,
    /// Largest encoded record (`dwMaxRecordSize`): its data, attributes and header. A larger
    /// local record fails with [`RecordError::TooLarge`](crate::RecordError::TooLarge); a
    /// larger one from a neighbor is not kept. Within
    /// [`RECORD_SIZE_BOUNDS`](crate::RECORD_SIZE_BOUNDS) (Windows' 1,024 bytes to 60 MB). A
    /// record travels in one frame, so `max_message_size` bounds it too. Default 16 MiB (the
    /// default `max_message_size`; Windows' default is its 60 MB upper bound).
    pub max_record_size: usize,
    /// Records (tombstones included) one graph keeps; a new one beyond it is not kept (a local
    /// add fails with [`RecordError::StoreFull`](crate::RecordError::StoreFull)). Default
    /// 1,000,000.
    pub max_records_per_graph: usize,
    /// Bytes of signed records one graph keeps, bounded as `max_records_per_graph`. Default
    /// 1 GiB.
    pub max_record_bytes_per_graph: usize,
    /// Graphs open at once on one node. Default 64.
    pub max_graphs: usize,
    /// Event registrations alive at once on one node. Default 1,024.
    pub max_registrations: usize,
}

impl Limits {
    /// Bytes a frame other than a data frame may take beyond the largest payload.
    pub const FRAME_OVERHEAD: usize = 1024;

    /// The largest frame a transport should accept: the largest message plus its envelope.
    pub fn max_frame_len(&self) -> usize {
        self.max_message_size.saturating_add(Self::FRAME_OVERHEAD)
    }

    /// The largest encoded record: `max_record_size`, within a frame.
    pub(crate) fn record_size(&self) -> usize {
        self.max_record_size.min(self.max_message_size)
    }

    /// The longest batch frame this node sends to a peer that announced `peer_limit`.
    pub(crate) fn send_batch_limit(&self, peer_limit: u32) -> usize {
        // This node's transport refuses to write a frame longer than its own limit.
        self.batch_frame_len
            .min(self.max_frame_len())
            .min(usize::try_from(peer_limit).unwrap_or(usize::MAX))
    }

    /// The longest batch frame this node accepts, as its handshake announces it.
    pub(crate) fn announced_batch_limit(&self) -> u32 {
        let limit = self.batch_frame_len.min(self.max_frame_len());
        u32::try_from(limit).unwrap_or(u32::MAX)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_direct_connections_per_graph: 1024,
            max_neighbors_per_graph: 32,
            min_neighbors: 3,
            max_neighbors: 8,
            max_flood_items_per_graph: 4096,
            max_flood_item_len: 16 * 1024,
            max_pending_handshakes: 256,
            max_pending_handshakes_per_source: 32,
            max_dials_per_target: 16,
            max_handshake_frame_len: 8 * 1024,
            max_message_size: 16 << 20,
            max_queued_bytes_per_connection: 32 << 20,
            max_queued_events_per_registration: 65_536,
            receive_window_messages: 8192,
            receive_window_bytes: 8 << 20,
            batch_frame_len: 64 * 1024,
            max_record_size: 16 << 20,
            max_records_per_graph: 1_000_000,
            max_record_bytes_per_graph: 1 << 30,
            max_graphs: 64,
            max_registrations: 1024,
        }
    }
}

/// How long a node waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// From `open_direct_connection` (or an accepted link) to an established connection.
    /// Default 10 s.
    pub handshake: Duration,
    /// An established connection that receives nothing for this long is closed with
    /// [`DisconnectReason::TimedOut`](crate::DisconnectReason::TimedOut). Default 30 s.
    pub idle: Duration,
    /// A connection that has sent nothing for this long sends a keepalive. Default 10 s.
    pub keepalive: Duration,
    /// An accepted link whose Hello has not arrived this long after its transport handshake is
    /// dropped (or after `handshake`, if that is shorter): a real initiator sends its Hello at
    /// once, so a peer that does not holds a slot for little time. Default 3 s.
    pub hello: Duration,
    /// How long a node's presence announcement lives: it publishes a new one at half this, and
    /// a node that vanishes without a word drops out of every list within it. Default 300 s
    /// (`ulPresenceLifetime`).
    pub presence_lifetime: Duration,
    /// The longest lifetime a flooded item from a neighbor keeps: a longer one is cut to this.
    /// Default 24 hours.
    pub max_flood_lifetime: Duration,
    /// How often each graph's maintenance runs (keeping the neighbor count within bounds),
    /// give or take a quarter, drawn at random. Default 2 s.
    pub maintenance: Duration,
}

impl Timeouts {
    /// The longest any timeout or lifetime may be: the longest lifetime a `Flood` item carries
    /// (`u32::MAX` milliseconds, about 49.7 days). A node takes a longer one as this.
    pub const LONGEST: Duration = Duration::from_millis(u32::MAX as u64);
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            handshake: Duration::from_secs(10),
            idle: Duration::from_secs(30),
            keepalive: Duration::from_secs(10),
            hello: Duration::from_secs(3),
            presence_lifetime: Duration::from_secs(300),
            max_flood_lifetime: Duration::from_secs(24 * 60 * 60),
            maintenance: Duration::from_secs(2),
        }
    }
}

/// What a graph is: its id, this node's peer id in it, and an optional membership secret.
#[derive(Clone, PartialEq, Eq)]
pub struct GraphConfig {
    /// The graph id (1..=256 characters, no control characters).
    pub graph_id: String,
    /// This node's peer id in the graph (same rules).
    pub peer_id: String,
    /// When set, peers must prove knowledge of it (SPAKE2 bound to the TLS session, PROTOCOL.md
    /// section 3) before anything reaches the application; its exact bytes count.
    pub secret: Option<Vec<u8>>,
    /// Record types whose `Synchronized` event the graph raises, in this order, when its
    /// records first synchronize (`PeerGraphOpen`'s sync precedence list; empty: none).
    pub sync_precedence: Vec<[u8; 16]>,
}

impl GraphConfig {
    /// A graph without a secret.
    pub fn new(graph_id: impl Into<String>, peer_id: impl Into<String>) -> Self {
        Self {
            graph_id: graph_id.into(),
            peer_id: peer_id.into(),
            secret: None,
            sync_precedence: Vec::new(),
        }
    }

    /// The same graph, requiring `secret` of every peer.
    pub fn with_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.secret = Some(secret.into());
        self
    }
}

impl std::fmt::Debug for GraphConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphConfig")
            .field("graph_id", &self.graph_id)
            .field("peer_id", &self.peer_id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

//! What a node is made of: its transport, its identity, and the core's limits and timeouts.

use std::path::PathBuf;
use std::time::Duration;

use peergraph_core::NodeConfig;
use peergraph_transport::TransportConfig;

use crate::transport::TransportKind;

/// Where a node's identity (key pair) comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum IdentitySource {
    /// A new key pair, kept in memory only.
    #[default]
    Ephemeral,
    /// The key pair stored in this directory (created on first use, key file mode 0600).
    Directory(PathBuf),
}

/// Configuration of one node.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The transport carrying direct connections. Swapping it is the only change needed to move
    /// an application between TCP and QUIC.
    pub transport: TransportKind,
    /// Where the node's identity comes from.
    pub identity: IdentitySource,
    /// Limits and timeouts of the core. Its `rng_seed` is replaced by a fresh random seed unless
    /// [`Config::deterministic_seed`] is set.
    pub node: NodeConfig,
    /// Keep `node.rng_seed` as given (for reproducible node ids in tests).
    pub deterministic_seed: bool,
    /// What the listener lets strangers hold before they have authenticated.
    pub inbound: InboundLimits,
    /// Where each graph's record database lives (one file per graph and peer id, see
    /// [`PeerGraph::database_path`](crate::PeerGraph::database_path)); `None`: records are kept
    /// in memory only, and every `open_graph` starts from nothing.
    pub data_dir: Option<PathBuf>,
}

/// Bounds on what inbound connections may hold before they have authenticated. Each has a
/// budget in all and a share per source (an IPv4 address or an IPv6 /64), so that one address
/// flooding the listener leaves room for everyone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct InboundLimits {
    /// Inbound connections in their transport handshake at once (TCP: from accept to the end of
    /// TLS; QUIC: the QUIC handshake); beyond it new ones are closed (TCP) or refused (QUIC)
    /// before any work is spent on them. Over QUIC, once half of it is in use, an address that
    /// has not shown it can receive gets a Retry first. Default 1,024.
    pub handshakes: usize,
    /// Of those, at most this many from one source. Default 128.
    pub handshakes_per_source: usize,
    /// QUIC connections alive at once (each carries any number of links). Default 4,096.
    pub quic_connections: usize,
    /// Of those, at most this many from one source. Default 64.
    pub quic_connections_per_source: usize,
    /// How long an accepted connection may stay silent before its first byte (TCP: the TLS
    /// ClientHello) or its first stream (QUIC). Default 3 s.
    pub first_byte_timeout: Duration,
}

impl Default for InboundLimits {
    fn default() -> Self {
        Self {
            handshakes: 1024,
            handshakes_per_source: 128,
            quic_connections: 4096,
            quic_connections_per_source: 64,
            first_byte_timeout: Duration::from_secs(3),
        }
    }
}

impl Config {
    /// Defaults over the given transport.
    pub fn new(transport: TransportKind) -> Self {
        Self {
            transport,
            identity: IdentitySource::Ephemeral,
            node: NodeConfig::default(),
            deterministic_seed: false,
            inbound: InboundLimits::default(),
            data_dir: None,
        }
    }

    /// The same, with each graph's records kept in a database in `dir` (created if absent).
    pub fn with_data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// The same, with the identity kept in `dir`.
    pub fn with_identity_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.identity = IdentitySource::Directory(dir.into());
        self
    }

    /// The same, with these limits on what inbound connections hold before they authenticate.
    pub fn with_inbound(mut self, inbound: InboundLimits) -> Self {
        self.inbound = inbound;
        self
    }

    /// The same, with every budget open to a single source and a single target: for a node
    /// that only one host dials, or that dials only one host, such as a benchmark's or a load
    /// test's nodes on loopback.
    pub fn single_source(mut self) -> Self {
        self.inbound.handshakes_per_source = self.inbound.handshakes;
        self.inbound.quic_connections_per_source = self.inbound.quic_connections;
        self.node.limits.max_pending_handshakes_per_source =
            self.node.limits.max_pending_handshakes;
        self.node.limits.max_dials_per_target = self.node.limits.max_pending_handshakes;
        self
    }

    /// The same, with these core limits and timeouts.
    pub fn with_node(mut self, node: NodeConfig) -> Self {
        self.node = node;
        self
    }

    /// The transport settings that agree with the core's: the same frame limit, handshake
    /// timeout, keepalive and idle timeout.
    pub(crate) fn transport_config(&self) -> TransportConfig {
        TransportConfig::default()
            .with_max_frame_len(self.node.limits.max_frame_len())
            .with_max_handshake_frame_len(self.node.limits.max_handshake_frame_len)
            .with_handshake_timeout(self.node.timeouts.handshake)
            .with_keepalive_interval(self.node.timeouts.keepalive)
            .with_idle_timeout(self.node.timeouts.idle)
            .with_first_byte_timeout(self.inbound.first_byte_timeout)
            .with_max_inbound_handshakes(
                self.inbound.handshakes,
                self.inbound.handshakes_per_source,
            )
            .with_max_inbound_connections(
                self.inbound.quic_connections,
                self.inbound.quic_connections_per_source,
            )
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new(TransportKind::default())
    }
}

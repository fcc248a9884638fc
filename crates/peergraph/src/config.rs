//! What a node is made of: its transport, its identity, and the core's limits and timeouts.

use std::path::PathBuf;

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
    /// Inbound connections allowed in their TLS handshake at once; beyond it new connections
    /// are dropped unanswered. Each is also bounded by the handshake timeout. Default 1,024.
    pub max_inbound_tls_handshakes: usize,
}

impl Config {
    /// Defaults over the given transport.
    pub fn new(transport: TransportKind) -> Self {
        Self {
            transport,
            identity: IdentitySource::Ephemeral,
            node: NodeConfig::default(),
            deterministic_seed: false,
            max_inbound_tls_handshakes: 1024,
        }
    }

    /// The same, with the identity kept in `dir`.
    pub fn with_identity_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.identity = IdentitySource::Directory(dir.into());
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
            .with_handshake_timeout(self.node.timeouts.handshake)
            .with_keepalive_interval(self.node.timeouts.keepalive)
            .with_idle_timeout(self.node.timeouts.idle)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new(TransportKind::default())
    }
}

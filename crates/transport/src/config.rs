//! Limits and timers shared by every transport.

use std::time::Duration;

/// Limits and timers of a transport. [`Default`] gives the values the core expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportConfig {
    /// Largest frame accepted or sent, in bytes, excluding the 4-byte length prefix.
    /// Default: 16 MiB + 1 KiB, room for a 16 MiB message plus its envelope.
    pub max_frame_len: usize,
    /// Largest frame a link accepts before its handshake is done (before the runtime calls the
    /// reader's `lift_frame_limit`), so that a peer not yet admitted cannot make the node hold
    /// a large frame. Default: 8 KiB, room for the largest Hello.
    pub max_handshake_frame_len: usize,
    /// How long a dial or an accepted connection may take to finish TLS. Default: 10 s.
    pub handshake_timeout: Duration,
    /// How long an accepted connection may stay silent before it sends its first byte (TCP:
    /// the TLS ClientHello; QUIC: a connection's first stream). Default: 3 s.
    pub first_byte_timeout: Duration,
    /// Inbound connections in their transport handshake at once (TCP: from accept to the end
    /// of TLS; QUIC: the QUIC handshake); beyond it new ones are turned away before any work is
    /// spent on them. Default 1,024.
    pub max_inbound_handshakes: usize,
    /// Of those, at most this many from one source (an IPv4 address or an IPv6 /64).
    /// Default 128.
    pub max_inbound_handshakes_per_source: usize,
    /// QUIC connections accepted and alive at once (each may carry many links); beyond it new
    /// ones are refused. Default 4,096.
    pub max_inbound_connections: usize,
    /// Of those, at most this many from one source. Default 64.
    pub max_inbound_connections_per_source: usize,
    /// How often an idle connection is probed, where the transport supports it. Default: 10 s.
    pub keepalive_interval: Duration,
    /// How long a silent connection lives, where the transport supports it. Default: 30 s.
    pub idle_timeout: Duration,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            max_frame_len: 16 * 1024 * 1024 + 1024,
            max_handshake_frame_len: 8 * 1024,
            handshake_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(3),
            max_inbound_handshakes: 1024,
            max_inbound_handshakes_per_source: 128,
            max_inbound_connections: 4096,
            max_inbound_connections_per_source: 64,
            keepalive_interval: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
        }
    }
}

impl TransportConfig {
    /// Sets [`Self::max_frame_len`].
    pub fn with_max_frame_len(mut self, max_frame_len: usize) -> Self {
        self.max_frame_len = max_frame_len;
        self
    }

    /// Sets [`Self::max_handshake_frame_len`].
    pub fn with_max_handshake_frame_len(mut self, max_handshake_frame_len: usize) -> Self {
        self.max_handshake_frame_len = max_handshake_frame_len;
        self
    }

    /// Sets [`Self::first_byte_timeout`].
    pub fn with_first_byte_timeout(mut self, timeout: Duration) -> Self {
        self.first_byte_timeout = timeout;
        self
    }

    /// Sets [`Self::max_inbound_handshakes`] and [`Self::max_inbound_handshakes_per_source`].
    pub fn with_max_inbound_handshakes(mut self, total: usize, per_source: usize) -> Self {
        self.max_inbound_handshakes = total;
        self.max_inbound_handshakes_per_source = per_source;
        self
    }

    /// Sets [`Self::max_inbound_connections`] and
    /// [`Self::max_inbound_connections_per_source`].
    pub fn with_max_inbound_connections(mut self, total: usize, per_source: usize) -> Self {
        self.max_inbound_connections = total;
        self.max_inbound_connections_per_source = per_source;
        self
    }

    /// Sets [`Self::handshake_timeout`].
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets [`Self::keepalive_interval`].
    pub fn with_keepalive_interval(mut self, interval: Duration) -> Self {
        self.keepalive_interval = interval;
        self
    }

    /// Sets [`Self::idle_timeout`].
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Checks the limits every transport relies on.
    pub fn validate(&self) -> Result<(), crate::TransportError> {
        // The length prefix is 32 bits.
        if u32::try_from(self.max_frame_len).is_err() || self.max_frame_len == 0 {
            return Err(crate::TransportError::MaxFrameLenOutOfRange {
                max_frame_len: self.max_frame_len,
            });
        }
        if self.handshake_timeout.is_zero() {
            return Err(crate::TransportError::ZeroHandshakeTimeout);
        }
        Ok(())
    }
}

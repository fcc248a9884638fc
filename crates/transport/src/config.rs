//! Limits and timers shared by every transport.

use std::time::Duration;

/// Limits and timers of a transport. [`Default`] gives the values the core expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportConfig {
    /// Largest frame accepted or sent, in bytes, excluding the 4-byte length prefix.
    /// Default: 16 MiB + 1 KiB, room for a 16 MiB message plus its envelope.
    pub max_frame_len: usize,
    /// How long a dial or an accepted connection may take to finish TLS. Default: 10 s.
    pub handshake_timeout: Duration,
    /// How often an idle connection is probed, where the transport supports it. Default: 10 s.
    pub keepalive_interval: Duration,
    /// How long a silent connection lives, where the transport supports it. Default: 30 s.
    pub idle_timeout: Duration,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            max_frame_len: 16 * 1024 * 1024 + 1024,
            handshake_timeout: Duration::from_secs(10),
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

//! Graph status flags (`PEER_GRAPH_STATUS_FLAGS`).

use std::fmt;

/// The status flags of a graph.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct GraphStatus(u32);

impl GraphStatus {
    /// The node accepts connections (`PEER_GRAPH_STATUS_LISTENING`).
    pub const LISTENING: Self = Self(0x1);
    /// The graph has at least one established connection (`PEER_GRAPH_STATUS_HAS_CONNECTIONS`).
    pub const HAS_CONNECTIONS: Self = Self(0x2);
    /// The graph is synchronized (`PEER_GRAPH_STATUS_SYNCHRONIZED`): it was created here, or a
    /// neighbor has sent it every flooded item the neighbor held.
    pub const SYNCHRONIZED: Self = Self(0x4);

    /// No flag set.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// The raw bits, with the Windows values.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    pub(crate) fn set(&mut self, flag: Self, on: bool) {
        if on {
            self.0 |= flag.0
        } else {
            self.0 &= !flag.0
        }
    }
}

impl fmt::Debug for GraphStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Self::LISTENING, "LISTENING"),
            (Self::HAS_CONNECTIONS, "HAS_CONNECTIONS"),
            (Self::SYNCHRONIZED, "SYNCHRONIZED"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(flag, _)| self.contains(*flag))
            .map(|(_, name)| *name)
            .collect();
        write!(f, "GraphStatus({})", set.join(" | "))
    }
}

//! Identifiers the node hands out. None can be built outside this crate, and none is reused
//! within a node's life.

use std::fmt;

/// A direct connection, as the local node knows it (the two ends have different ids).
///
/// Allocated by [`Node::open_direct_connection`](crate::Node::open_direct_connection) or when an
/// inbound connection is accepted; never reused within the node's life.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub(crate) u64);

impl ConnectionId {
    /// The 64-bit value, for logs and display.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The id whose value is `value`, as a caller that kept [`get`](Self::get) hands it back
    /// (the C ABI's `ULONGLONG`); a value the node never handed out is simply not found.
    pub const fn from_raw(value: u64) -> Self {
        Self(value)
    }
}

/// One link (one authenticated, ordered, framed channel) between this node and another.
///
/// The runtime maps it to a transport connection or stream; the core names every link it asks the
/// runtime to dial and every link the runtime reports as accepted.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub(crate) u64);

impl LinkId {
    /// The 64-bit value, for logs and display.
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// A node's number inside one graph (drawn from the node's seeded generator).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(crate) u64);

impl NodeId {
    /// The node id with this 64-bit value (as another node reported it).
    pub const fn new(value: u64) -> Self {
        Self(value)
    }

    /// The 64-bit value.
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// A slot index plus the generation it had when the handle was issued; a handle whose generation
/// no longer matches its slot is stale.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SlotKey {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

/// An open graph on this node (`HGRAPH`). Stale once the graph is closed or the node shuts down.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GraphHandle(pub(crate) SlotKey);

/// An event registration on a graph (`HPEEREVENT`). Stale once unregistered or its graph closes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegistrationHandle(pub(crate) SlotKey);

macro_rules! debug_as_number {
    ($($ty:ident => $prefix:literal),*) => {$(
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self, f)
            }
        }
    )*};
}
debug_as_number!(ConnectionId => "conn#", LinkId => "link#", NodeId => "node#");

macro_rules! debug_as_slot {
    ($($ty:ident => $prefix:literal),*) => {$(
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}.{}"), self.0.index, self.0.generation)
            }
        }
    )*};
}
debug_as_slot!(GraphHandle => "graph#", RegistrationHandle => "registration#");

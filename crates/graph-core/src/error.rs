//! One error enum per operation. Every variant is named; none carries free text.

/// Which part of an argument was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ArgumentProblem {
    /// The value is empty (or, for a set, has no members).
    Empty,
    /// The value is longer than its limit (256 characters for names).
    TooLong,
    /// The value contains a control character.
    ControlCharacter,
    /// The value has a bit or member this operation does not know.
    Unknown,
    /// The value is reserved for the library (a flooded item kind below
    /// [`FIRST_APPLICATION_KIND`](crate::FIRST_APPLICATION_KIND), an attribute name
    /// starting with `peer`).
    Reserved,
    /// The value names the same thing twice (an attribute name).
    Duplicate,
    /// The value must equal what it replaces (an updated record's type).
    Changed,
}

/// An invalid argument, naming it (`E_INVALIDARG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("invalid argument `{argument}`: {problem:?}")]
pub struct InvalidArgument {
    /// The argument's name, as in the method signature.
    pub argument: &'static str,
    /// What is wrong with it.
    pub problem: ArgumentProblem,
}

/// `startup` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// Only version 1.0 (`0x0001`) exists (`PEER_E_UNSUPPORTED_VERSION`).
    #[error("unsupported version {requested:#06x}; only 0x0001 exists")]
    UnsupportedVersion {
        /// The version asked for.
        requested: u16,
    },
}

/// No `startup` is outstanding (`PEER_E_NOT_INITIALIZED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the node is not initialized: call startup first")]
pub struct NotInitialized;

macro_rules! operation_error {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident $({ $($(#[$fmeta:meta])* $field:ident : $fty:ty),* })? => $msg:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[non_exhaustive]
        pub enum $name {
            /// No `startup` is outstanding (`PEER_E_NOT_INITIALIZED`).
            #[error("the node is not initialized: call startup first")]
            NotInitialized,
            $($(#[$vmeta])* #[error($msg)] $variant $({ $($(#[$fmeta])* $field: $fty),* })?,)*
        }

        impl From<NotInitialized> for $name {
            fn from(_: NotInitialized) -> Self {
                Self::NotInitialized
            }
        }
    };
}

operation_error! {
    /// `create_graph` or `open_graph` failed.
    GraphError {
        /// A graph id or peer id is invalid.
        InvalidArgument {
            /// Which argument, and what is wrong with it.
            argument: InvalidArgument
        } => "{argument}",
        /// A graph with this graph id and peer id is already open (`PEER_E_DUPLICATE_GRAPH`).
        DuplicateGraph => "a graph with this graph id and peer id is already open",
        /// The node holds `max_graphs` graphs.
        TooManyGraphs => "the node has reached its graph limit",
    }
}

operation_error! {
    /// An operation on a graph handle failed.
    HandleError {
        /// The handle is closed or stale (`PEER_E_INVALID_GRAPH`).
        InvalidGraph => "the graph handle is closed or stale",
    }
}

operation_error! {
    /// `register_event` failed.
    RegisterError {
        /// The handle is closed or stale (`PEER_E_INVALID_GRAPH`).
        InvalidGraph => "the graph handle is closed or stale",
        /// The event type set is empty.
        InvalidArgument {
            /// Which argument, and what is wrong with it.
            argument: InvalidArgument
        } => "{argument}",
        /// The node holds `max_registrations` registrations.
        TooManyRegistrations => "the node has reached its registration limit",
    }
}

operation_error! {
    /// `unregister_event` or `take_event` failed.
    EventError {
        /// The registration is unregistered or stale (`PEER_E_EVENT_HANDLE_NOT_FOUND`).
        InvalidRegistration => "the event registration is closed or stale",
    }
}

operation_error! {
    /// `open_direct_connection` failed synchronously; later failures arrive as events.
    OpenError {
        /// The handle is closed or stale (`PEER_E_INVALID_GRAPH`).
        InvalidGraph => "the graph handle is closed or stale",
        /// The peer id is invalid.
        InvalidArgument {
            /// Which argument, and what is wrong with it.
            argument: InvalidArgument
        } => "{argument}",
        /// The target is this node (`PEER_E_CONNECT_SELF`).
        ConnectSelf => "the target is this node",
        /// The graph holds `max_direct_connections_per_graph` connections.
        ConnectionLimit => "the graph has reached its direct connection limit",
        /// The node has `max_pending_handshakes` outbound handshakes in progress.
        TooManyPendingHandshakes => "the node has too many handshakes in progress",
        /// A registration for connection events on this graph is full: take its events first.
        EventBacklog => "a connection-event registration of the graph is full",
        /// No node with this node id announces itself in the graph (`PEER_E_NODE_NOT_FOUND`).
        NodeNotFound => "no node with this id announces itself in the graph",
        /// The node announces no address to reach it at (it does not listen).
        NoAddress => "the node announces no address",
    }
}

operation_error! {
    /// `enum_nodes` or `node_info_of` failed.
    NodeError {
        /// The handle is closed or stale (`PEER_E_INVALID_GRAPH`).
        InvalidGraph => "the graph handle is closed or stale",
        /// No node with this node id announces itself in the graph (`PEER_E_NODE_NOT_FOUND`).
        NodeNotFound => "no node with this id announces itself in the graph",
    }
}

operation_error! {
    /// `set_node_attributes` or `set_presence` failed; nothing changed.
    PresenceError {
        /// The handle is closed or stale (`PEER_E_INVALID_GRAPH`).
        InvalidGraph => "the graph handle is closed or stale",
        /// The attributes are longer than `MAX_ATTRIBUTES_LEN` bytes.
        InvalidArgument {
            /// Which argument, and what is wrong with it.
            argument: InvalidArgument
        } => "{argument}",
    }
}

operation_error! {
    /// `connect` failed synchronously; later failures arrive as `NeighborConnection` events.
    ConnectError {
        /// The handle is closed or stale (`PEER_E_INVALID_GRAPH`).
        InvalidGraph => "the graph handle is closed or stale",
        /// The peer id is invalid.
        InvalidArgument {
            /// Which argument, and what is wrong with it.
            argument: InvalidArgument
        } => "{argument}",
        /// The peer id is this node's own.
        ConnectSelf => "the target is this node",
        /// A neighbor connection to this address, pending or established, already exists
        /// (`PEER_E_ALREADY_EXISTS`).
        AlreadyExists => "a neighbor connection to this address already exists",
        /// The graph holds `max_neighbors_per_graph` neighbor connections.
        NeighborLimit => "the graph has reached its neighbor limit",
        /// The node has `max_pending_handshakes` outbound handshakes in progress.
        TooManyPendingHandshakes => "the node has too many handshakes in progress",
    }
}

operation_error! {
    /// `publish` failed; nothing was flooded.
    PublishError {
        /// The handle is closed or stale (`PEER_E_INVALID_GRAPH`).
        InvalidGraph => "the graph handle is closed or stale",
        /// The kind is the library's, the id is empty or longer than `MAX_ITEM_ID_LEN`, the
        /// payload longer than `max_flood_item_len`, or the lifetime zero or longer than
        /// `max_flood_lifetime`.
        InvalidArgument {
            /// Which argument, and what is wrong with it.
            argument: InvalidArgument
        } => "{argument}",
        /// The version is not newer than the one the graph has.
        Stale => "the graph has this item at this version or a newer one",
        /// The graph holds `max_flood_items_per_graph` items.
        StoreFull => "the graph holds its most items",
    }
}

operation_error! {
    /// A record command failed; nothing changed.
    RecordError {
        /// The handle is closed or stale (`PEER_E_INVALID_GRAPH`).
        InvalidGraph => "the graph handle is closed or stale",
        /// The graph has not synchronized its records yet (`PEER_E_GRAPH_NOT_READY`).
        NotReady => "the graph's records are not synchronized yet",
        /// An attribute is invalid, reserved or repeated, or an update changes the type.
        InvalidArgument {
            /// Which argument, and what is wrong with it.
            argument: InvalidArgument
        } => "{argument}",
        /// No record with this id, or it was deleted (`PEER_E_RECORD_NOT_FOUND`).
        RecordNotFound => "no record with this id",
        /// Another identity wrote the record: only its author may change it
        /// (`E_ACCESSDENIED`).
        AccessDenied => "only the record's author may change it",
        /// The expiry is not in the future, or an update moves it earlier
        /// (`PEER_E_INVALID_RECORD_EXPIRATION`).
        InvalidExpiration => "the expiry must be in the future and may only move later",
        /// The encoded record exceeds `max_record_size` (`PEER_E_MAX_RECORD_SIZE_EXCEEDED`).
        TooLarge {
            /// The encoded record's size.
            size: usize,
            /// The configured maximum.
            max: usize
        } => "record of {size} bytes exceeds the maximum of {max}",
        /// The graph holds `max_records_per_graph` records or `max_record_bytes_per_graph` bytes.
        StoreFull => "the graph holds its most records",
        /// No signing key was given ([`Node::set_signing_key`](crate::Node::set_signing_key)).
        NoIdentity => "the node has no signing key",
    }
}

operation_error! {
    /// Records from a database or an export file were refused; nothing was kept.
    RestoreError {
        /// The handle is closed or stale (`PEER_E_INVALID_GRAPH`).
        InvalidGraph => "the graph handle is closed or stale",
        /// The record at this position does not decode (`PEER_E_INVALID_DATABASE`).
        Corrupt {
            /// Its position, from 0.
            index: usize
        } => "record {index} does not decode",
        /// The record at this position is not signed by its author for this graph
        /// (`PEER_E_INVALID_DATABASE`).
        Forged {
            /// Its position, from 0.
            index: usize
        } => "record {index} is not signed by its author for this graph",
    }
}

operation_error! {
    /// `send_data` failed; nothing was queued.
    SendError {
        /// The handle is closed or stale (`PEER_E_INVALID_GRAPH`).
        InvalidGraph => "the graph handle is closed or stale",
        /// No established connection with this id in this graph (`PEER_E_CONNECTION_NOT_FOUND`).
        ConnectionNotFound => "no established connection with this id",
        /// The payload exceeds `max_message_size`.
        MessageTooLarge {
            /// The payload's size.
            size: usize,
            /// The configured maximum.
            max: usize
        } => "message of {size} bytes exceeds the maximum of {max}",
        /// The connection's send queue cannot take the message now; retry after it drains.
        QueueFull {
            /// Bytes queued now.
            queued: usize,
            /// The configured limit.
            limit: usize
        } => "send queue full ({queued} of {limit} bytes queued)",
    }
}

operation_error! {
    /// `close_direct_connection` failed.
    CloseError {
        /// The handle is closed or stale (`PEER_E_INVALID_GRAPH`).
        InvalidGraph => "the graph handle is closed or stale",
        /// No open or pending connection with this id in this graph
        /// (`PEER_E_CONNECTION_NOT_FOUND`).
        ConnectionNotFound => "no connection with this id",
    }
}

operation_error! {
    /// `enum_connections` failed.
    EnumError {
        /// The handle is closed or stale (`PEER_E_INVALID_GRAPH`).
        InvalidGraph => "the graph handle is closed or stale",
        /// The kind set is empty.
        InvalidArgument {
            /// Which argument, and what is wrong with it.
            argument: InvalidArgument
        } => "{argument}",
    }
}

/// Why a transport ended a link, as the runtime reports it to the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkCloseReason {
    /// The remote side closed the link cleanly, or this side closed it on the core's command.
    Closed,
    /// The link broke (reset, I/O error, transport idle timeout).
    Lost,
    /// The address could not be reached (only before the link came up).
    Unreachable,
    /// TLS or identity verification failed (only before the link came up).
    NotAuthenticated(crate::event::AuthFailure),
    /// The transport's own handshake did not finish in time.
    TimedOut,
    /// The peer sent a frame longer than [`Limits::max_frame_len`](crate::Limits::max_frame_len).
    FrameTooLarge,
}

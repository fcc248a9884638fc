//! The library's one node and its handle tables, and the blocks of memory handed to C.
//!
//! Handles are numbers, never addresses: a handle's low two bits name its kind and the rest
//! count up, so a stale handle, a foreign one or one of another kind is found missing from its
//! table and gets its documented error instead of a wild read. Blocks handed to C (events, item
//! arrays, node information, records, graph properties) stay owned here, listed by address, until
//! `PeerGraphFreeData`: a second free or a pointer this library did not hand out is found
//! missing and ignored.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::c_void;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use peergraph::{ConnectionInfo, EventStream, GraphEvent, GraphHandle, PeerGraph};
use tokio::sync::Notify;

/// The kinds of handle, in a handle's low two bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Graph = 1,
    Event = 2,
    Enumeration = 3,
}

/// Events a registration holds for C before its pump stops taking more from the node: the
/// node's receive window then fills, and flow control holds the senders back.
const HANDOFF_EVENTS: usize = 64;

/// The node and its tables, from the first `PeerGraphStartup` to the last `PeerGraphShutdown`.
pub(crate) struct Library {
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) node: PeerGraph,
    /// `PeerGraphStartup` calls not yet matched by a `PeerGraphShutdown`.
    pub(crate) startups: u32,
    /// The node's configured presence lifetime, in seconds (`ulPresenceLifetime` of a graph
    /// whose properties set none).
    pub(crate) presence_lifetime: u32,
    /// The node's largest encoded record, in bytes (`dwMaxRecordSize`).
    pub(crate) max_record_size: u32,
    next_handle: usize,
    pub(crate) graphs: HashMap<usize, GraphHandle>,
    pub(crate) listening: HashSet<usize>,
    pub(crate) events: HashMap<usize, Registration>,
    pub(crate) enumerations: HashMap<usize, Enumeration>,
}

static LIBRARY: Mutex<Option<Library>> = Mutex::new(None);

/// The library, if started up (a panic elsewhere never locks C callers out).
pub(crate) fn library() -> MutexGuard<'static, Option<Library>> {
    LIBRARY.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Library {
    /// The library over `node`, built from `config` (which the node does not hand back).
    pub(crate) fn new(
        runtime: tokio::runtime::Runtime,
        node: PeerGraph,
        config: &peergraph::NodeConfig,
    ) -> Self {
        let record_size = config
            .limits
            .max_record_size
            .min(config.limits.max_message_size);
        Self {
            runtime,
            node,
            startups: 0,
            presence_lifetime: u32::try_from(config.timeouts.presence_lifetime.as_secs())
                .unwrap_or(u32::MAX),
            max_record_size: u32::try_from(record_size).unwrap_or(u32::MAX),
            next_handle: 0,
            graphs: HashMap::new(),
            listening: HashSet::new(),
            events: HashMap::new(),
            enumerations: HashMap::new(),
        }
    }

    /// A new handle of `kind`, never handed out before.
    pub(crate) fn handle(&mut self, kind: Kind) -> usize {
        self.next_handle += 1;
        self.next_handle << 2 | kind as usize
    }
}

/// The table key of a handle from C, if it is of `kind` (the table says whether it is live).
pub(crate) fn key(handle: *mut c_void, kind: Kind) -> Option<usize> {
    let value = handle as usize;
    (value & 3 == kind as usize && value > 3).then_some(value)
}

/// One event registration: the pump task that moves events from the node to C, and the queue
/// between them.
pub(crate) struct Registration {
    pub(crate) handoff: Arc<Handoff>,
    pub(crate) pump: tokio::task::AbortHandle,
}

impl Drop for Registration {
    fn drop(&mut self) {
        // The pump owns the node's event stream: aborting it ends the node's registration.
        self.pump.abort();
    }
}

/// The record types a registration takes record events of (`PEER_GRAPH_EVENT_REGISTRATION`'s
/// `pType`), for `RECORD_CHANGED` and `SYNCHRONIZED`: `None` takes every type.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordTypes {
    pub(crate) changed: Option<Vec<[u8; 16]>>,
    pub(crate) synchronized: Option<Vec<[u8; 16]>>,
}

impl RecordTypes {
    /// Adds one registration entry: `record_type` `None` (a null `pType`) takes every type.
    pub(crate) fn add(types: &mut Option<Vec<[u8; 16]>>, record_type: Option<[u8; 16]>) {
        match (types.as_mut(), record_type) {
            (Some(list), Some(record_type)) => list.push(record_type),
            (_, None) => *types = None,
            (None, Some(_)) => {}
        }
    }

    /// Whether `event` reaches the registration.
    pub(crate) fn admits(&self, event: &GraphEvent) -> bool {
        let (types, record_type) = match event {
            GraphEvent::RecordChanged(change) => (&self.changed, change.record_type),
            GraphEvent::Synchronized { record_type } => (&self.synchronized, *record_type),
            _ => return true,
        };
        types
            .as_ref()
            .is_none_or(|types| types.contains(&record_type))
    }
}

/// Events taken from the node and not yet taken by C, and the descriptor to signal.
pub(crate) struct Handoff {
    queue: Mutex<VecDeque<GraphEvent>>,
    room: Notify,
    fd: RawFd,
    record_types: RecordTypes,
}

impl Handoff {
    pub(crate) fn new(fd: RawFd, record_types: RecordTypes) -> Arc<Self> {
        Arc::new(Self {
            queue: Mutex::new(VecDeque::new()),
            room: Notify::new(),
            fd,
            record_types,
        })
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<GraphEvent>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The oldest event, if any; the pump may then take another from the node.
    pub(crate) fn take(&self) -> Option<GraphEvent> {
        let event = self.queue().pop_front();
        if event.is_some() {
            self.room.notify_one();
        }
        event
    }

    /// Adds 1 to the descriptor's counter (an eventfd becomes readable). A descriptor that is
    /// not writable is the application's mistake and is left alone.
    fn signal(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: `one` is a live 8-byte buffer for the whole call; `write` reads at most 8 bytes
        // from it and touches no Rust-owned memory. An invalid or closed descriptor makes it
        // fail with EBADF, which is ignored.
        let _ = unsafe { libc::write(self.fd, one.as_ptr().cast(), one.len()) };
    }

    /// Moves events from the node to C while C takes them, signalling the descriptor for each;
    /// ends when the node ends the registration.
    pub(crate) async fn pump(self: Arc<Self>, mut stream: EventStream) {
        loop {
            while self.queue().len() >= HANDOFF_EVENTS {
                self.room.notified().await;
            }
            match stream.next().await {
                Some(event) if !self.record_types.admits(&event) => {}
                Some(event) => {
                    self.queue().push_back(event);
                    self.signal();
                }
                // The node ended the registration (its graph closed, or the library shut down).
                None => return,
            }
        }
    }
}

/// A snapshot of a graph's connections, nodes or records and how far C has read it.
pub(crate) struct Enumeration {
    pub(crate) items: Items,
    pub(crate) next: usize,
}

/// What an enumeration lists.
pub(crate) enum Items {
    Connections(Vec<ConnectionInfo>),
    Nodes(Vec<peergraph::NodeInfo>),
    Records(Vec<peergraph::Record>),
}

impl Items {
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Connections(items) => items.len(),
            Self::Nodes(items) => items.len(),
            Self::Records(items) => items.len(),
        }
    }
}

/// Memory handed to C, owned here until `PeerGraphFreeData`. Everything the top-level pointer
/// reaches (strings, payloads, item structures) lives in the same block.
#[derive(Default)]
pub(crate) struct Block {
    pub(crate) bytes: Vec<Box<[u8]>>,
    pub(crate) strings: Vec<Box<[u16]>>,
    pub(crate) event: Option<Box<crate::abi::PEER_GRAPH_EVENT_DATA>>,
    pub(crate) connections: Box<[crate::abi::PEER_CONNECTION_INFO]>,
    pub(crate) items: Box<[*mut c_void]>,
    pub(crate) node: Option<Box<crate::abi::PEER_NODE_INFO>>,
    pub(crate) nodes: Box<[crate::abi::PEER_NODE_INFO]>,
    pub(crate) addresses: Vec<Box<[crate::abi::PEER_ADDRESS]>>,
    pub(crate) record: Option<Box<crate::abi::PEER_RECORD>>,
    pub(crate) records: Box<[crate::abi::PEER_RECORD]>,
    pub(crate) properties: Option<Box<crate::abi::PEER_GRAPH_PROPERTIES>>,
}

// SAFETY: a block's raw pointers point only into the block's own heap allocations (boxed
// slices and boxes, which do not move when the block moves), and nothing in it is tied to a
// thread; C reads it from whichever thread it likes, as p2p.h allows.
unsafe impl Send for Block {}

impl Block {
    /// Keeps `text` as a NUL-terminated UTF-16 string in this block; its address.
    pub(crate) fn string(&mut self, text: &str) -> *mut u16 {
        let mut units: Vec<u16> = text.encode_utf16().collect();
        units.push(0);
        let mut boxed = units.into_boxed_slice();
        let pointer = boxed.as_mut_ptr();
        self.strings.push(boxed);
        pointer
    }

    /// Keeps `addresses` in this block; the address of the first (null if there is none).
    pub(crate) fn addresses(
        &mut self,
        addresses: Vec<crate::abi::PEER_ADDRESS>,
    ) -> *mut crate::abi::PEER_ADDRESS {
        if addresses.is_empty() {
            return std::ptr::null_mut();
        }
        let mut boxed = addresses.into_boxed_slice();
        let pointer = boxed.as_mut_ptr();
        self.addresses.push(boxed);
        pointer
    }

    /// Keeps a copy of `data` in this block; its address.
    pub(crate) fn bytes(&mut self, data: &[u8]) -> *mut u8 {
        let mut boxed: Box<[u8]> = data.into();
        let pointer = boxed.as_mut_ptr();
        self.bytes.push(boxed);
        pointer
    }
}

static BLOCKS: Mutex<Option<HashMap<usize, Block>>> = Mutex::new(None);

/// Lists `block` as handed out at `address` (its top-level pointer).
pub(crate) fn hand_out(address: *mut c_void, block: Block) {
    let mut blocks = BLOCKS.lock().unwrap_or_else(PoisonError::into_inner);
    blocks
        .get_or_insert_with(HashMap::new)
        .insert(address as usize, block);
}

/// Frees the block handed out at `address`; false if there is none (freed already, or never
/// handed out).
pub(crate) fn free(address: *mut c_void) -> bool {
    let mut blocks = BLOCKS.lock().unwrap_or_else(PoisonError::into_inner);
    let block = blocks
        .as_mut()
        .and_then(|blocks| blocks.remove(&(address as usize)));
    drop(blocks);
    block.is_some()
}

/// Blocks handed out and not yet freed.
pub(crate) fn blocks_outstanding() -> usize {
    BLOCKS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .map_or(0, HashMap::len)
}

//! A graph's properties: its friendly name, comment and presence lifetime, shared by every
//! member of the graph.

use std::time::Duration;

use peergraph::GraphProperties;

use crate::abi::*;
use crate::convert::{put, read_string};
use crate::records::{record_error, records_error};
use crate::state::{self, Block, Library};
use crate::{graph_of, with_library};

/// `properties` as a `PEER_GRAPH_PROPERTIES`, its strings kept in `block`.
fn peer_graph_properties(
    library: &Library,
    block: &mut Block,
    properties: &GraphProperties,
) -> PEER_GRAPH_PROPERTIES {
    let presence_lifetime = properties
        .presence_lifetime
        .map_or(library.presence_lifetime, |lifetime| {
            ULONG::try_from(lifetime.as_secs()).unwrap_or(ULONG::MAX)
        });
    PEER_GRAPH_PROPERTIES {
        dwSize: size_of::<PEER_GRAPH_PROPERTIES>() as DWORD,
        dwFlags: 0,
        dwScope: 0,
        dwMaxRecordSize: library.max_record_size,
        pwzGraphId: block.string(&properties.graph_id),
        pwzCreatorId: block.string(&properties.creator_id),
        pwzFriendlyName: block.string(&properties.friendly_name),
        pwzComment: block.string(&properties.comment),
        ulPresenceLifetime: presence_lifetime,
        cPresenceMax: 0,
    }
}

/// The graph's properties (`PeerGraphGetProperties`): the newest change of any member that
/// has reached this node, as a `PEER_GRAPH_PROPERTIES` whose strings live in the same block,
/// freed with one `PeerGraphFreeData`.
///
/// - `pwzGraphId`: the graph id.
/// - `pwzCreatorId`: the peer id of the member that created the graph (`PeerGraphCreate`
///   writes the graph's first properties, with an empty name and comment).
/// - `pwzFriendlyName`, `pwzComment`: as `PeerGraphSetProperties` last set them (empty
///   strings, never null, when unset).
/// - `ulPresenceLifetime`: in seconds, as `PeerGraphSetProperties` last set it; when that set
///   none (0), or nothing set it yet, this node's own presence lifetime (300 s).
/// - `dwMaxRecordSize`: the largest record this node keeps, in bytes (16 MiB).
/// - `dwFlags`, `dwScope` and `cPresenceMax` are 0.
///
/// `PEER_E_GRAPH_NOT_READY` until the graph has synchronized (an opened graph, until its first
/// neighbor); `E_INVALIDARG` for a null `ppGraphProperties`.
///
/// # Safety
/// `ppGraphProperties` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphGetProperties(
    hGraph: HGRAPH,
    ppGraphProperties: *mut *mut PEER_GRAPH_PROPERTIES,
) -> HRESULT {
    with_library(|library| {
        let graph = match graph_of(library, hGraph) {
            Ok(graph) => graph,
            Err(error) => return error,
        };
        if ppGraphProperties.is_null() {
            return E_INVALIDARG;
        }
        let properties = match library.node.graph_properties(graph) {
            Ok(properties) => properties,
            Err(error) => return record_error(&error),
        };
        let mut block = Block::default();
        let mut boxed = Box::new(peer_graph_properties(library, &mut block, &properties));
        let pointer: *mut PEER_GRAPH_PROPERTIES = &mut *boxed;
        block.properties = Some(boxed);
        state::hand_out(pointer.cast(), block);
        // SAFETY: checked non-null; the caller promises it is writable.
        unsafe { put(ppGraphProperties, pointer) };
        S_OK
    })
}

/// Sets the graph's properties for every member (`PeerGraphSetProperties`): signed with this
/// node's identity, kept (on disk when the library has a data directory, see
/// `PeerGraphStartup`) and flooded; every node of the graph, this one included, raises
/// `PEER_GRAPH_EVENT_PROPERTY_CHANGED`. Any member may set them; the newest change wins.
///
/// Of `pGraphProperties` it reads `dwSize`, `pwzFriendlyName` (null: empty; at most 255
/// characters), `pwzComment` (null: empty; at most 511 characters) and `ulPresenceLifetime`
/// (seconds; 0: none, and `PeerGraphGetProperties` then reports each node's own lifetime). The
/// graph id and creator stay as they are: the other fields are ignored. The presence lifetime
/// is kept for every member to read; this library's presence announcements keep the node's
/// own lifetime.
///
/// Errors: `PEER_E_GRAPH_NOT_READY` until the graph has synchronized, `E_INVALIDARG` (a null
/// pointer, a wrong `dwSize`, a string that is too long or not UTF-16),
/// `PEER_E_DATABASE_ACCESSDENIED` (the properties were kept and flooded but could not be
/// written to disk).
///
/// # Safety
/// `pGraphProperties` points to a `PEER_GRAPH_PROPERTIES` whose `pwzFriendlyName` and
/// `pwzComment` are each null or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphSetProperties(
    hGraph: HGRAPH,
    pGraphProperties: *const PEER_GRAPH_PROPERTIES,
) -> HRESULT {
    with_library(|library| {
        let graph = match graph_of(library, hGraph) {
            Ok(graph) => graph,
            Err(error) => return error,
        };
        if pGraphProperties.is_null() {
            return E_INVALIDARG;
        }
        // SAFETY: non-null, and the caller promises it points to the structure.
        let properties = unsafe { &*pGraphProperties };
        if properties.dwSize as usize != size_of::<PEER_GRAPH_PROPERTIES>() {
            return E_INVALIDARG;
        }
        // SAFETY: the caller promises each string is null or NUL-terminated.
        let Some((friendly_name, comment, presence_lifetime)) = (unsafe { settable(properties) })
        else {
            return E_INVALIDARG;
        };
        match library
            .node
            .set_graph_properties(graph, &friendly_name, &comment, presence_lifetime)
        {
            Ok(()) => S_OK,
            Err(error) => records_error(&error),
        }
    })
}

/// What `PeerGraphSetProperties` (and `PeerGraphCreate`) take from `properties`: the friendly
/// name, the comment (null reads as empty) and the presence lifetime (0: none); `None` if a
/// string is not UTF-16 (lengths are the node's to check).
///
/// # Safety
/// `pwzFriendlyName` and `pwzComment` are each null or NUL-terminated.
pub(crate) unsafe fn settable(
    properties: &PEER_GRAPH_PROPERTIES,
) -> Option<(String, String, Option<Duration>)> {
    // SAFETY: the caller promises each string is null or NUL-terminated.
    let (friendly_name, comment) = unsafe {
        (
            read_optional(properties.pwzFriendlyName)?,
            read_optional(properties.pwzComment)?,
        )
    };
    let presence_lifetime = match properties.ulPresenceLifetime {
        0 => None,
        seconds => Some(Duration::from_secs(u64::from(seconds))),
    };
    Some((friendly_name, comment, presence_lifetime))
}

/// Reads a string C may leave null (read as empty); `None` if it is too long or not UTF-16.
///
/// # Safety
/// `text` is null or NUL-terminated.
unsafe fn read_optional(text: PCWSTR) -> Option<String> {
    if text.is_null() {
        return Some(String::new());
    }
    // SAFETY: non-null, and the caller promises a NUL-terminated string.
    unsafe { read_string(text) }
}

//! Direct and neighbor connections, sending, and listing connections.

use std::ffi::c_void;

use peergraph::{
    CloseError, ConnectError, ConnectionKind, ConnectionKinds, EnumError, OpenError, PeerAddress,
    SendError,
};

use crate::abi::*;
use crate::convert::{peer_address, put, read_string, socket_addr};
use crate::state::{self, Block, Enumeration, Items, Kind, Library, key, library};
use crate::{boundary, graph_of, with_library};

/// The arguments of a dial from C: the graph, the peer id (`None` for a null one) and the
/// address; `Err` with the HRESULT for a bad one.
///
/// # Safety
/// `pwzPeerId` is null or NUL-terminated; `pAddress` is null or points to a `PEER_ADDRESS`.
unsafe fn dial_arguments(
    library: &Library,
    hGraph: HGRAPH,
    pwzPeerId: PCWSTR,
    pAddress: *const PEER_ADDRESS,
    pullConnectionId: *mut ULONGLONG,
) -> Result<(peergraph::GraphHandle, Option<String>, PeerAddress), HRESULT> {
    let graph = graph_of(library, hGraph)?;
    if pAddress.is_null() || pullConnectionId.is_null() {
        return Err(E_INVALIDARG);
    }
    let peer_id = if pwzPeerId.is_null() {
        None
    } else {
        // SAFETY: non-null, and the caller promises a NUL-terminated string.
        Some(unsafe { read_string(pwzPeerId) }.ok_or(E_INVALIDARG)?)
    };
    // SAFETY: non-null, and the caller promises it points to a PEER_ADDRESS.
    let socket = socket_addr(unsafe { &*pAddress }).ok_or(E_INVALIDARG)?;
    Ok((graph, peer_id, PeerAddress::new(socket)))
}

/// Starts a direct connection (`PeerGraphOpenDirectConnection`): its id at once, the outcome as
/// a `PEER_GRAPH_EVENT_DIRECT_CONNECTION` event with that id.
///
/// # Safety
/// `pwzPeerId` is NUL-terminated; `pAddress` points to a `PEER_ADDRESS`; `pullConnectionId` is
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphOpenDirectConnection(
    hGraph: HGRAPH,
    pwzPeerId: PCWSTR,
    pAddress: *const PEER_ADDRESS,
    pullConnectionId: *mut ULONGLONG,
) -> HRESULT {
    with_library(|library| {
        // SAFETY: the caller promises what `dial_arguments` needs.
        let arguments =
            unsafe { dial_arguments(library, hGraph, pwzPeerId, pAddress, pullConnectionId) };
        let (graph, Some(peer_id), address) = (match arguments {
            Ok(arguments) => arguments,
            Err(error) => return error,
        }) else {
            return E_INVALIDARG;
        };
        match library
            .node
            .open_direct_connection(graph, &peer_id, address)
        {
            Ok(connection) => {
                // SAFETY: checked non-null; the caller promises it is writable.
                unsafe { put(pullConnectionId, connection.get()) };
                S_OK
            }
            Err(OpenError::NotInitialized) => PEER_E_NOT_INITIALIZED,
            Err(OpenError::InvalidGraph) => PEER_E_INVALID_GRAPH,
            Err(OpenError::ConnectSelf) => PEER_E_CONNECT_SELF,
            Err(OpenError::InvalidArgument { .. }) => E_INVALIDARG,
            Err(_) => PEER_E_CONNECTION_REFUSED,
        }
    })
}

/// Starts a neighbor connection (`PeerGraphConnect`) to the graph's node at `pAddress`:
/// `pwzPeerId` names the peer expected there, or is null for whichever peer of the graph it is.
/// The id comes at once, the outcome as a `PEER_GRAPH_EVENT_NEIGHBOR_CONNECTION` event with that
/// id; `PEER_E_ALREADY_EXISTS` if a neighbor connection to that address exists.
///
/// # Safety
/// `pwzPeerId` is null or NUL-terminated; `pAddress` points to a `PEER_ADDRESS`;
/// `pullConnectionId` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphConnect(
    hGraph: HGRAPH,
    pwzPeerId: PCWSTR,
    pAddress: *const PEER_ADDRESS,
    pullConnectionId: *mut ULONGLONG,
) -> HRESULT {
    with_library(|library| {
        // SAFETY: the caller promises what `dial_arguments` needs.
        let arguments =
            unsafe { dial_arguments(library, hGraph, pwzPeerId, pAddress, pullConnectionId) };
        let (graph, peer_id, address) = match arguments {
            Ok(arguments) => arguments,
            Err(error) => return error,
        };
        match library.node.connect(graph, peer_id.as_deref(), address) {
            Ok(connection) => {
                // SAFETY: checked non-null; the caller promises it is writable.
                unsafe { put(pullConnectionId, connection.get()) };
                S_OK
            }
            Err(ConnectError::NotInitialized) => PEER_E_NOT_INITIALIZED,
            Err(ConnectError::InvalidGraph) => PEER_E_INVALID_GRAPH,
            Err(ConnectError::AlreadyExists) => PEER_E_ALREADY_EXISTS,
            Err(ConnectError::ConnectSelf) => PEER_E_CONNECT_SELF,
            Err(ConnectError::InvalidArgument { .. }) => E_INVALIDARG,
            Err(_) => PEER_E_CONNECTION_REFUSED,
        }
    })
}

/// Sends a typed message on an established connection (`PeerGraphSendData`). Returns once it is
/// queued, waiting while the connection's send queue is full (flow control); there is no
/// acknowledgement.
///
/// # Safety
/// `pType` points to a `GUID`; `pvData` holds `cbData` readable bytes (it may be null when
/// `cbData` is 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphSendData(
    hGraph: HGRAPH,
    ullConnectionId: ULONGLONG,
    pType: *const GUID,
    cbData: ULONG,
    pvData: *const c_void,
) -> HRESULT {
    boundary(|| {
        let (node, runtime, graph) = {
            let guard = library();
            let Some(library) = guard.as_ref() else {
                return PEER_E_NOT_INITIALIZED;
            };
            let graph = match graph_of(library, hGraph) {
                Ok(graph) => graph,
                Err(error) => return error,
            };
            (
                library.node.clone(),
                library.runtime.handle().clone(),
                graph,
            )
        };
        if pType.is_null() || (pvData.is_null() && cbData != 0) {
            return E_INVALIDARG;
        }
        // SAFETY: non-null, and the caller promises it points to a GUID.
        let type_id = unsafe { *pType }.to_bytes();
        let data = if cbData == 0 {
            Vec::new()
        } else {
            // SAFETY: non-null, and the caller promises `cbData` readable bytes.
            unsafe { std::slice::from_raw_parts(pvData.cast::<u8>(), cbData as usize) }.to_vec()
        };
        let connection = peergraph::ConnectionId::from_raw(ullConnectionId);
        // The library's lock is not held while waiting for room, so other threads go on.
        match runtime.block_on(node.send_data(graph, connection, type_id, data)) {
            Ok(()) => S_OK,
            Err(SendError::NotInitialized) => PEER_E_NOT_INITIALIZED,
            Err(SendError::InvalidGraph) => PEER_E_INVALID_GRAPH,
            Err(SendError::ConnectionNotFound) => PEER_E_CONNECTION_NOT_FOUND,
            Err(_) => E_INVALIDARG,
        }
    })
}

/// Closes a direct connection (`PeerGraphCloseDirectConnection`).
#[unsafe(no_mangle)]
pub extern "C" fn PeerGraphCloseDirectConnection(
    hGraph: HGRAPH,
    ullConnectionId: ULONGLONG,
) -> HRESULT {
    with_library(|library| {
        let graph = match graph_of(library, hGraph) {
            Ok(graph) => graph,
            Err(error) => return error,
        };
        let connection = peergraph::ConnectionId::from_raw(ullConnectionId);
        match library.node.close_direct_connection(graph, connection) {
            Ok(()) => S_OK,
            Err(CloseError::NotInitialized) => PEER_E_NOT_INITIALIZED,
            Err(CloseError::InvalidGraph) => PEER_E_INVALID_GRAPH,
            Err(_) => PEER_E_CONNECTION_NOT_FOUND,
        }
    })
}

/// Lists a graph's connections (`PeerGraphEnumConnections`): `dwFlags` is
/// `PEER_CONNECTION_DIRECT`, `PEER_CONNECTION_NEIGHBOR` or both. A snapshot, read with
/// `PeerGraphGetNextItem` and ended with `PeerGraphEndEnumeration`.
///
/// # Safety
/// `phPeerEnum` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphEnumConnections(
    hGraph: HGRAPH,
    dwFlags: DWORD,
    phPeerEnum: *mut HPEERENUM,
) -> HRESULT {
    with_library(|library| {
        let graph = match graph_of(library, hGraph) {
            Ok(graph) => graph,
            Err(error) => return error,
        };
        let Some(kinds) = ConnectionKinds::from_bits(dwFlags).filter(|kinds| kinds.bits() != 0)
        else {
            return E_INVALIDARG;
        };
        if phPeerEnum.is_null() {
            return E_INVALIDARG;
        }
        let items = match library.node.enum_connections(graph, kinds) {
            Ok(items) => items,
            Err(EnumError::NotInitialized) => return PEER_E_NOT_INITIALIZED,
            Err(EnumError::InvalidGraph) => return PEER_E_INVALID_GRAPH,
            Err(_) => return E_INVALIDARG,
        };
        let handle = library.handle(Kind::Enumeration);
        library.enumerations.insert(
            handle,
            Enumeration {
                items: Items::Connections(items),
                next: 0,
            },
        );
        // SAFETY: checked non-null; the caller promises it is writable.
        unsafe { put(phPeerEnum, handle as HPEERENUM) };
        S_OK
    })
}

/// How many items the enumeration held when it was made (`PeerGraphGetItemCount`).
///
/// # Safety
/// `pCount` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphGetItemCount(
    hPeerEnum: HPEERENUM,
    pCount: *mut ULONG,
) -> HRESULT {
    with_library(|library| {
        if pCount.is_null() {
            return E_INVALIDARG;
        }
        let Some(enumeration) =
            key(hPeerEnum, Kind::Enumeration).and_then(|key| library.enumerations.get(&key))
        else {
            return E_INVALIDARG;
        };
        // SAFETY: checked non-null; the caller promises it is writable.
        unsafe { put(pCount, enumeration.items.len() as ULONG) };
        S_OK
    })
}

/// The next items (`PeerGraphGetNextItem`): `*pCount` in is the most wanted, out the number
/// given (0 at the end, with a null array). Free the array with one `PeerGraphFreeData`.
///
/// # Safety
/// `pCount` is readable and writable; `pppvItems` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphGetNextItem(
    hPeerEnum: HPEERENUM,
    pCount: *mut ULONG,
    pppvItems: *mut *mut *mut c_void,
) -> HRESULT {
    with_library(|library| {
        if pCount.is_null() || pppvItems.is_null() {
            return E_INVALIDARG;
        }
        let Some(enumeration) =
            key(hPeerEnum, Kind::Enumeration).and_then(|key| library.enumerations.get_mut(&key))
        else {
            return E_INVALIDARG;
        };
        // SAFETY: checked non-null; the caller promises it is readable.
        let wanted = unsafe { pCount.read() } as usize;
        let (start, end) = (
            enumeration.next,
            enumeration.items.len().min(enumeration.next + wanted),
        );
        enumeration.next = end;
        if start == end {
            // SAFETY: checked non-null; the caller promises both are writable.
            unsafe {
                put(pCount, 0);
                put(pppvItems, std::ptr::null_mut());
            }
            return S_OK;
        }
        let mut block = Block::default();
        let items = match &enumeration.items {
            Items::Connections(items) => &items[start..end],
            Items::Nodes(nodes) => {
                let nodes: Vec<PEER_NODE_INFO> = nodes[start..end]
                    .iter()
                    .map(|node| crate::nodes::node_info(&mut block, node))
                    .collect();
                block.nodes = nodes.into_boxed_slice();
                block.items = block
                    .nodes
                    .iter_mut()
                    .map(|info| std::ptr::from_mut(info).cast::<c_void>())
                    .collect();
                return hand_out_items(block, pCount, pppvItems);
            }
            Items::Records(records) => {
                crate::records::record_items(&mut block, &records[start..end]);
                return hand_out_items(block, pCount, pppvItems);
            }
        };
        let connections: Vec<PEER_CONNECTION_INFO> = items
            .iter()
            .map(|info| PEER_CONNECTION_INFO {
                dwSize: size_of::<PEER_CONNECTION_INFO>() as DWORD,
                dwFlags: match info.kind {
                    ConnectionKind::Neighbor => PEER_CONNECTION_NEIGHBOR,
                    _ => PEER_CONNECTION_DIRECT,
                },
                ullConnectionId: info.id.get(),
                ullNodeId: info.node_id.map_or(0, |id| id.get()),
                pwzPeerId: block.string(&info.peer_id),
                address: info.address.map(peer_address).unwrap_or_default(),
            })
            .collect();
        block.connections = connections.into_boxed_slice();
        block.items = block
            .connections
            .iter_mut()
            .map(|info| std::ptr::from_mut(info).cast::<c_void>())
            .collect();
        hand_out_items(block, pCount, pppvItems)
    })
}

/// Hands `block`'s item array to C through the checked, writable out-pointers.
fn hand_out_items(
    mut block: Block,
    pCount: *mut ULONG,
    pppvItems: *mut *mut *mut c_void,
) -> HRESULT {
    let array = block.items.as_mut_ptr();
    let count = block.items.len() as ULONG;
    state::hand_out(array.cast(), block);
    // SAFETY: the caller checked both non-null; C promises they are writable.
    unsafe {
        put(pCount, count);
        put(pppvItems, array);
    }
    S_OK
}

/// Ends an enumeration (`PeerGraphEndEnumeration`).
#[unsafe(no_mangle)]
pub extern "C" fn PeerGraphEndEnumeration(hPeerEnum: HPEERENUM) -> HRESULT {
    with_library(|library| {
        match key(hPeerEnum, Kind::Enumeration).and_then(|key| library.enumerations.remove(&key)) {
            Some(_) => S_OK,
            None => E_INVALIDARG,
        }
    })
}

/// `PeerGetNextItem`, `P2P.dll`'s twin of [`PeerGraphGetNextItem`].
///
/// # Safety
/// As [`PeerGraphGetNextItem`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGetNextItem(
    hPeerEnum: HPEERENUM,
    pCount: *mut ULONG,
    pppvItems: *mut *mut *mut c_void,
) -> HRESULT {
    // SAFETY: the caller promises what PeerGraphGetNextItem needs.
    unsafe { PeerGraphGetNextItem(hPeerEnum, pCount, pppvItems) }
}

/// `PeerGetItemCount`, the twin of [`PeerGraphGetItemCount`].
///
/// # Safety
/// As [`PeerGraphGetItemCount`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGetItemCount(hPeerEnum: HPEERENUM, pCount: *mut ULONG) -> HRESULT {
    // SAFETY: the caller promises what PeerGraphGetItemCount needs.
    unsafe { PeerGraphGetItemCount(hPeerEnum, pCount) }
}

/// `PeerEndEnumeration`, the twin of [`PeerGraphEndEnumeration`].
#[unsafe(no_mangle)]
pub extern "C" fn PeerEndEnumeration(hPeerEnum: HPEERENUM) -> HRESULT {
    PeerGraphEndEnumeration(hPeerEnum)
}

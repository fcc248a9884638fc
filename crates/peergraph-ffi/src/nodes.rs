//! The graph's nodes: node information, listing, attributes and presence.

use peergraph::{NodeError, NodeId, NodeInfo, PresenceError};

use crate::abi::*;
use crate::convert::{peer_address, put, read_string};
use crate::state::{self, Block, Enumeration, Items, Kind};
use crate::{graph_of, with_library};

/// A node's `PEER_NODE_INFO`, its strings and addresses kept in `block`.
pub(crate) fn node_info(block: &mut Block, node: &NodeInfo) -> PEER_NODE_INFO {
    let addresses: Vec<PEER_ADDRESS> = node.addresses.iter().copied().map(peer_address).collect();
    PEER_NODE_INFO {
        dwSize: size_of::<PEER_NODE_INFO>() as DWORD,
        ullNodeId: node.node_id.get(),
        pwzPeerId: block.string(&node.peer_id),
        cAddresses: addresses.len() as ULONG,
        pAddresses: block.addresses(addresses),
        pwzAttributes: if node.attributes.is_empty() {
            std::ptr::null_mut()
        } else {
            block.string(&node.attributes)
        },
    }
}

/// One node of a graph (`PeerGraphGetNodeInfo`): `ullNodeId` 0 (or the local node's id) is the
/// local node, whose addresses are the ones it listens on; another is a node that announces
/// itself in the graph, or `PEER_E_NODE_NOT_FOUND`. Free the block with `PeerGraphFreeData`.
///
/// # Safety
/// `ppNodeInfo` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphGetNodeInfo(
    hGraph: HGRAPH,
    ullNodeId: ULONGLONG,
    ppNodeInfo: *mut *mut PEER_NODE_INFO,
) -> HRESULT {
    with_library(|library| {
        let graph = match graph_of(library, hGraph) {
            Ok(graph) => graph,
            Err(error) => return error,
        };
        if ppNodeInfo.is_null() {
            return E_INVALIDARG;
        }
        let found = match ullNodeId {
            0 => library
                .node
                .node_info(graph)
                .map_err(|_| PEER_E_INVALID_GRAPH),
            id => library
                .node
                .node_info_of(graph, NodeId::new(id))
                .map_err(node_error),
        };
        let mut info = match found {
            Ok(info) => info,
            Err(error) => return error,
        };
        let local = library.node.node_info(graph).map(|local| local.node_id);
        if Ok(info.node_id) == local && info.addresses.is_empty() {
            // Listening on a wildcard address announces none; the local node still shows the
            // port it listens on (`PeerGraphListen` with port 0 reads it back here).
            info.addresses.extend(library.node.local_addr());
        }
        let mut block = Block::default();
        let mut node = Box::new(node_info(&mut block, &info));
        let pointer: *mut PEER_NODE_INFO = &mut *node;
        block.node = Some(node);
        state::hand_out(pointer.cast(), block);
        // SAFETY: checked non-null; the caller promises it is writable.
        unsafe { put(ppNodeInfo, pointer) };
        S_OK
    })
}

/// Lists the nodes of a graph that announce themselves, this one first
/// (`PeerGraphEnumNodes`); only those with `pwzPeerId` if it is not null. A snapshot of
/// `PEER_NODE_INFO` items, read with `PeerGraphGetNextItem`, ended with
/// `PeerGraphEndEnumeration`.
///
/// # Safety
/// `pwzPeerId` is null or a NUL-terminated UTF-16 string; `phPeerEnum` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphEnumNodes(
    hGraph: HGRAPH,
    pwzPeerId: PCWSTR,
    phPeerEnum: *mut HPEERENUM,
) -> HRESULT {
    with_library(|library| {
        let graph = match graph_of(library, hGraph) {
            Ok(graph) => graph,
            Err(error) => return error,
        };
        if phPeerEnum.is_null() {
            return E_INVALIDARG;
        }
        let peer_id = if pwzPeerId.is_null() {
            None
        } else {
            // SAFETY: not null; the caller promises a NUL-terminated UTF-16 string.
            match unsafe { read_string(pwzPeerId) } {
                Some(peer_id) => Some(peer_id),
                None => return E_INVALIDARG,
            }
        };
        let nodes = match library.node.enum_nodes(graph, peer_id.as_deref()) {
            Ok(nodes) => nodes,
            Err(error) => return node_error(error),
        };
        let handle = library.handle(Kind::Enumeration);
        library.enumerations.insert(
            handle,
            Enumeration {
                items: Items::Nodes(nodes),
                next: 0,
            },
        );
        // SAFETY: checked non-null; the caller promises it is writable.
        unsafe { put(phPeerEnum, handle as HPEERENUM) };
        S_OK
    })
}

/// Sets the local node's attribute text (`PeerGraphSetNodeAttributes`; null clears it): at most
/// 4,096 bytes of UTF-8. The other nodes see `PEER_NODE_CHANGE_UPDATED`.
///
/// # Safety
/// `pwzAttributes` is null or a NUL-terminated UTF-16 string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphSetNodeAttributes(
    hGraph: HGRAPH,
    pwzAttributes: PCWSTR,
) -> HRESULT {
    with_library(|library| {
        let graph = match graph_of(library, hGraph) {
            Ok(graph) => graph,
            Err(error) => return error,
        };
        let attributes = if pwzAttributes.is_null() {
            None
        } else {
            // SAFETY: not null; the caller promises a NUL-terminated UTF-16 string.
            match unsafe { read_string(pwzAttributes) } {
                Some(text) => Some(text),
                None => return E_INVALIDARG,
            }
        };
        presence_result(
            library
                .node
                .set_node_attributes(graph, attributes.as_deref()),
        )
    })
}

/// Whether the local node announces itself in the graph (`PeerGraphSetPresence`; on by default
/// here, as with `cPresenceMax` = -1). Off withdraws it: the other nodes see
/// `PEER_NODE_CHANGE_DISCONNECTED`.
#[unsafe(no_mangle)]
pub extern "C" fn PeerGraphSetPresence(hGraph: HGRAPH, fPresent: BOOL) -> HRESULT {
    with_library(|library| {
        let graph = match graph_of(library, hGraph) {
            Ok(graph) => graph,
            Err(error) => return error,
        };
        presence_result(library.node.set_presence(graph, fPresent != 0))
    })
}

fn node_error(error: NodeError) -> HRESULT {
    match error {
        NodeError::NotInitialized => PEER_E_NOT_INITIALIZED,
        NodeError::InvalidGraph => PEER_E_INVALID_GRAPH,
        _ => PEER_E_NODE_NOT_FOUND,
    }
}

fn presence_result(result: Result<(), PresenceError>) -> HRESULT {
    match result {
        Ok(()) => S_OK,
        Err(PresenceError::NotInitialized) => PEER_E_NOT_INITIALIZED,
        Err(PresenceError::InvalidGraph) => PEER_E_INVALID_GRAPH,
        Err(_) => E_INVALIDARG,
    }
}

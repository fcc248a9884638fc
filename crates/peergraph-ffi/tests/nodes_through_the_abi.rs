//! The graph's nodes through the exported functions alone, between two graphs of one process on
//! loopback joined by a neighbor connection: `PeerGraphEnumNodes`, `PeerGraphGetNodeInfo` for
//! another node, `PeerGraphSetNodeAttributes` and `PeerGraphSetPresence`, with the
//! `PEER_GRAPH_EVENT_NODE_CHANGED` events they raise.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::ffi::c_void;
use std::ptr::{null, null_mut};

use p2pgraph::abi::*;
use p2pgraph::*;
use support::{End, wide};

mod support;

/// A node as read from a `PEER_NODE_INFO`: node id, peer id, addresses, attributes.
type NodeSeen = (u64, String, Vec<PEER_ADDRESS>, Option<String>);

/// # Safety
/// `text` is a NUL-terminated UTF-16 string.
unsafe fn read_wide(text: *const u16) -> String {
    let mut len = 0;
    // SAFETY: the caller promises a NUL-terminated string.
    unsafe {
        while *text.add(len) != 0 {
            len += 1;
        }
        String::from_utf16(std::slice::from_raw_parts(text, len)).unwrap()
    }
}

/// The graphs' events: neighbor connections and nodes.
const KINDS: [i32; 2] = [
    PEER_GRAPH_EVENT_NEIGHBOR_CONNECTION,
    PEER_GRAPH_EVENT_NODE_CHANGED,
];

/// What these tests read of a graph.
trait Nodes {
    fn node_change(&self) -> (i32, u64, String);
    fn node_info(&self, node: u64) -> Result<NodeSeen, HRESULT>;
    fn enum_nodes(&self, peer_id: Option<&str>) -> Vec<NodeSeen>;
}

impl Nodes for End {
    /// The next node event (neighbor events are skipped): change type, node id, peer id.
    fn node_change(&self) -> (i32, u64, String) {
        loop {
            let mut event: *mut PEER_GRAPH_EVENT_DATA = null_mut();
            // SAFETY: `event` is writable; a returned block is read, then freed once.
            unsafe {
                match PeerGraphGetEventData(self.events, &mut event) {
                    S_OK => {
                        let data = &*event;
                        let change = (data.eventType == PEER_GRAPH_EVENT_NODE_CHANGED).then(|| {
                            let change = data.u.nodeChangeData;
                            (
                                change.changeType,
                                change.ullNodeId,
                                read_wide(change.pwzPeerId),
                            )
                        });
                        PeerGraphFreeData(event.cast());
                        if let Some(change) = change {
                            return change;
                        }
                    }
                    PEER_S_NO_EVENT_DATA => self.wait(),
                    other => panic!("PeerGraphGetEventData: {other:#x}"),
                }
            }
        }
    }

    /// `PeerGraphGetNodeInfo`: the result, and (on success) peer id, address count and
    /// attributes.
    fn node_info(&self, node: u64) -> Result<NodeSeen, HRESULT> {
        let mut info: *mut PEER_NODE_INFO = null_mut();
        // SAFETY: `info` is writable; the block is read, then freed once.
        unsafe {
            let result = PeerGraphGetNodeInfo(self.graph, node, &mut info);
            if result != S_OK {
                return Err(result);
            }
            let taken = read_node(&*info);
            PeerGraphFreeData(info.cast());
            Ok(taken)
        }
    }

    /// `PeerGraphEnumNodes` with an optional peer id: every item, read in twos.
    fn enum_nodes(&self, peer_id: Option<&str>) -> Vec<NodeSeen> {
        let filter = peer_id.map(wide);
        let mut list = null_mut();
        let mut nodes = Vec::new();
        // SAFETY: the out-pointers are writable; each item array is read, then freed once.
        unsafe {
            assert_eq!(
                PeerGraphEnumNodes(
                    self.graph,
                    filter.as_ref().map_or(null(), |f| f.as_ptr()),
                    &mut list
                ),
                S_OK
            );
            let mut total: ULONG = 0;
            assert_eq!(PeerGraphGetItemCount(list, &mut total), S_OK);
            loop {
                let mut count: ULONG = 2;
                let mut items: *mut *mut c_void = null_mut();
                assert_eq!(PeerGraphGetNextItem(list, &mut count, &mut items), S_OK);
                if count == 0 {
                    break;
                }
                for index in 0..count as usize {
                    nodes.push(read_node(&*(*items.add(index)).cast::<PEER_NODE_INFO>()));
                }
                PeerGraphFreeData(items.cast());
            }
            assert_eq!(PeerGraphEndEnumeration(list), S_OK);
            assert_eq!(total as usize, nodes.len());
        }
        nodes
    }
}

/// # Safety
/// `info` came from the library and is not freed yet.
unsafe fn read_node(info: &PEER_NODE_INFO) -> NodeSeen {
    assert_eq!(info.dwSize as usize, size_of::<PEER_NODE_INFO>());
    // SAFETY: the library's strings are NUL-terminated, its address array holds cAddresses.
    unsafe {
        let addresses = if info.cAddresses == 0 {
            assert!(info.pAddresses.is_null());
            Vec::new()
        } else {
            std::slice::from_raw_parts(info.pAddresses, info.cAddresses as usize).to_vec()
        };
        let attributes = (!info.pwzAttributes.is_null()).then(|| read_wide(info.pwzAttributes));
        (
            info.ullNodeId,
            read_wide(info.pwzPeerId),
            addresses,
            attributes,
        )
    }
}

#[test]
fn nodes_attributes_and_presence_through_the_abi() {
    let mut version = PEER_VERSION_DATA::default();
    // SAFETY: `version` is writable.
    let started = unsafe { PeerGraphStartup(PEER_GRAPH_VERSION, &mut version) };
    assert_eq!(started, S_OK);
    let (alice, bob) = (End::new("alice", &KINDS), End::new("bob", &KINDS));
    assert_eq!(
        PeerGraphListen(bob.graph, PEER_GRAPH_SCOPE_LOOPBACK, 0, 0),
        S_OK
    );
    let (bob_id, _, bob_addresses, _) = bob.node_info(0).unwrap();
    assert_eq!(bob_addresses.len(), 1, "the address bob listens on");
    let mut neighbor = 0;
    // SAFETY: the address and out-pointer are live for the call.
    unsafe {
        assert_eq!(
            PeerGraphConnect(alice.graph, null(), &bob_addresses[0], &mut neighbor),
            S_OK
        );
    }
    assert_eq!(
        alice.node_change(),
        (PEER_NODE_CHANGE_CONNECTED, bob_id, "bob".to_owned())
    );

    let (alice_id, ..) = alice.node_info(0).unwrap();
    let listed = alice.enum_nodes(None);
    assert_eq!(
        listed
            .iter()
            .map(|(id, peer, ..)| (*id, peer.as_str()))
            .collect::<Vec<_>>(),
        [(alice_id, "alice"), (bob_id, "bob")]
    );
    let (_, peer, addresses, attributes) = alice.node_info(bob_id).unwrap();
    assert_eq!(peer, "bob");
    assert_eq!(addresses.len(), 1);
    assert_eq!(addresses[0].sin6.sin6_port, bob_addresses[0].sin6.sin6_port);
    assert_eq!(attributes, None);
    assert_eq!(alice.enum_nodes(Some("bob")).len(), 1);
    assert_eq!(alice.enum_nodes(Some("carol")).len(), 0);
    assert_eq!(
        alice.node_info(bob_id ^ 1).err(),
        Some(PEER_E_NODE_NOT_FOUND)
    );

    let room = wide("room=lobby");
    // SAFETY: the string is live for the call.
    let set = unsafe { PeerGraphSetNodeAttributes(bob.graph, room.as_ptr()) };
    assert_eq!(set, S_OK);
    assert_eq!(
        alice.node_change(),
        (PEER_NODE_CHANGE_UPDATED, bob_id, "bob".to_owned())
    );
    assert_eq!(
        alice.node_info(bob_id).unwrap().3.as_deref(),
        Some("room=lobby")
    );
    let too_long = wide(&"x".repeat(4097));
    // SAFETY: the string is live for the call.
    let refused = unsafe { PeerGraphSetNodeAttributes(bob.graph, too_long.as_ptr()) };
    assert_eq!(refused, E_INVALIDARG);

    assert_eq!(PeerGraphSetPresence(bob.graph, 0), S_OK);
    assert_eq!(
        alice.node_change(),
        (PEER_NODE_CHANGE_DISCONNECTED, bob_id, "bob".to_owned())
    );
    assert_eq!(alice.node_info(bob_id).err(), Some(PEER_E_NODE_NOT_FOUND));
    assert_eq!(
        bob.enum_nodes(None)
            .iter()
            .filter(|node| node.1 == "bob")
            .count(),
        0
    );
    assert_eq!(PeerGraphSetPresence(bob.graph, 1), S_OK);
    assert_eq!(
        alice.node_change(),
        (PEER_NODE_CHANGE_CONNECTED, bob_id, "bob".to_owned())
    );

    // SAFETY: the out-pointer is null on purpose; the handles are the library's.
    unsafe {
        assert_eq!(
            PeerGraphEnumNodes(alice.graph, null(), null_mut()),
            E_INVALIDARG
        );
        assert_eq!(
            PeerGraphEnumNodes(null_mut(), null(), &mut null_mut()),
            PEER_E_INVALID_GRAPH
        );
        assert_eq!(PeerGraphSetPresence(null_mut(), 1), PEER_E_INVALID_GRAPH);
        for end in [&alice, &bob] {
            end.close();
        }
    }
    assert_eq!(blocks_outstanding(), 0, "every block was freed");
    assert_eq!(PeerGraphShutdown(), S_OK);
}

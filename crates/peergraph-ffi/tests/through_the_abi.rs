//! A direct connection through the exported functions alone, between two graphs of one process
//! on loopback: the eventfd wakes the reader, every message arrives once and in order while the
//! sender runs far ahead of a reader that takes its events late (flow control, not loss), and
//! the connection list and the events agree.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::ffi::c_void;
use std::ptr::{null, null_mut};

use p2pgraph::abi::*;
use p2pgraph::*;
use support::{End, wide};

mod support;

/// Messages sent: more than the receive window and the library's hand-off together hold.
const MESSAGES: u32 = 20_000;
/// Bytes per message.
const SIZE: usize = 1024;

/// Alice's and Bob's graphs: connection and data events.
const KINDS: [i32; 3] = [
    PEER_GRAPH_EVENT_DIRECT_CONNECTION,
    PEER_GRAPH_EVENT_NEIGHBOR_CONNECTION,
    PEER_GRAPH_EVENT_INCOMING_DATA,
];

trait Events {
    fn next(&self) -> (i32, u64, i32, Vec<u8>);
}

impl Events for End {
    /// The next event, waiting on the eventfd when none is queued: its type, connection id,
    /// status (connection events) and payload (data events).
    fn next(&self) -> (i32, u64, i32, Vec<u8>) {
        loop {
            let mut event: *mut PEER_GRAPH_EVENT_DATA = null_mut();
            // SAFETY: `event` is writable; a returned block is read, then freed once.
            unsafe {
                match PeerGraphGetEventData(self.events, &mut event) {
                    S_OK => {
                        let data = &*event;
                        let taken = match data.eventType {
                            PEER_GRAPH_EVENT_INCOMING_DATA => {
                                let incoming = data.u.incomingData;
                                let bytes = std::slice::from_raw_parts(
                                    incoming.data.pbData,
                                    incoming.data.cbData as usize,
                                );
                                (data.eventType, incoming.ullConnectionId, 0, bytes.to_vec())
                            }
                            _ => {
                                let change = data.u.connectionChangeData;
                                (
                                    data.eventType,
                                    change.ullConnectionId,
                                    change.status,
                                    Vec::new(),
                                )
                            }
                        };
                        PeerGraphFreeData(event.cast());
                        return taken;
                    }
                    PEER_S_NO_EVENT_DATA => self.wait(),
                    other => panic!("PeerGraphGetEventData: {other:#x}"),
                }
            }
        }
    }
}

/// The message with index `index`: its index, then a pattern.
fn message(index: u32) -> Vec<u8> {
    let mut bytes = index.to_le_bytes().to_vec();
    bytes.resize(SIZE, (index % 251) as u8);
    bytes
}

#[test]
fn every_message_arrives_in_order_through_the_abi_with_the_reader_behind() {
    let mut version = PEER_VERSION_DATA::default();
    // SAFETY: `version` is writable.
    let started = unsafe { PeerGraphStartup(PEER_GRAPH_VERSION, &mut version) };
    assert_eq!(started, S_OK);
    let (alice, bob) = (End::new("alice", &KINDS), End::new("bob", &KINDS));
    assert_eq!(
        PeerGraphListen(bob.graph, PEER_GRAPH_SCOPE_LOOPBACK, 0, 0),
        S_OK
    );
    let mut node: *mut PEER_NODE_INFO = null_mut();
    let mut connection = 0;
    // SAFETY: the out-pointers are writable; the node block is read, then freed once.
    unsafe {
        assert_eq!(PeerGraphGetNodeInfo(bob.graph, 0, &mut node), S_OK);
        let address = *(*node).pAddresses;
        PeerGraphFreeData(node.cast());
        let bob_id = wide("bob");
        assert_eq!(
            PeerGraphOpenDirectConnection(alice.graph, bob_id.as_ptr(), &address, &mut connection),
            S_OK
        );
    }
    let (kind, id, status, _) = alice.next();
    assert_eq!(
        (kind, id, status),
        (
            PEER_GRAPH_EVENT_DIRECT_CONNECTION,
            connection,
            PEER_CONNECTED
        )
    );
    let (kind, at_bob, status, _) = bob.next();
    assert_eq!(
        (kind, status),
        (PEER_GRAPH_EVENT_DIRECT_CONNECTION, PEER_CONNECTED)
    );

    // Bob lists the connection with Alice's peer id.
    let mut list = null_mut();
    let mut count: ULONG = 8;
    let mut items: *mut *mut c_void = null_mut();
    // SAFETY: the out-pointers are writable; the item array is read, then freed once.
    unsafe {
        assert_eq!(
            PeerGraphEnumConnections(bob.graph, PEER_CONNECTION_DIRECT, &mut list),
            S_OK
        );
        assert_eq!(PeerGraphGetNextItem(list, &mut count, &mut items), S_OK);
        assert_eq!(count, 1);
        let info = &*(*items).cast::<PEER_CONNECTION_INFO>();
        assert_eq!(info.ullConnectionId, at_bob);
        let peer = std::slice::from_raw_parts(info.pwzPeerId, 5);
        assert_eq!(String::from_utf16(peer).unwrap(), "alice");
        PeerGraphFreeData(items.cast());
        assert_eq!(PeerGraphEndEnumeration(list), S_OK);
    }

    // Alice sends everything from her own thread; each call returns once the message is
    // queued, waiting for room when Bob's side is full. Bob starts reading only once she has
    // queued the first half.
    let alice_graph = alice.graph as usize;
    let (halfway, half_sent) = std::sync::mpsc::channel();
    let sender = std::thread::spawn(move || {
        let guid = GUID {
            Data1: 7,
            ..GUID::default()
        };
        for index in 0..MESSAGES {
            let bytes = message(index);
            // SAFETY: `guid` and `bytes` are live for the call.
            let sent = unsafe {
                PeerGraphSendData(
                    alice_graph as HGRAPH,
                    connection,
                    &guid,
                    bytes.len() as ULONG,
                    bytes.as_ptr().cast(),
                )
            };
            assert_eq!(sent, S_OK, "message {index}");
            if index == MESSAGES / 2 {
                halfway.send(()).unwrap();
            }
        }
    });
    half_sent
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("half sent before Bob reads anything");
    for index in 0..MESSAGES {
        let (kind, id, _, data) = bob.next();
        assert_eq!(
            (kind, id),
            (PEER_GRAPH_EVENT_INCOMING_DATA, at_bob),
            "message {index}"
        );
        assert_eq!(data, message(index), "message {index}");
    }
    sender.join().unwrap();
    assert_eq!(blocks_outstanding(), 0, "every block was freed");

    // A neighbor connection to the same node, for whichever peer of the graph is there.
    let mut neighbor = 0;
    // SAFETY: the out-pointers are writable; the node and item blocks are read, then freed once.
    unsafe {
        assert_eq!(PeerGraphGetNodeInfo(bob.graph, 0, &mut node), S_OK);
        let address = *(*node).pAddresses;
        PeerGraphFreeData(node.cast());
        assert_eq!(
            PeerGraphConnect(alice.graph, null(), &address, &mut neighbor),
            S_OK
        );
        let mut again = 0;
        assert_eq!(
            PeerGraphConnect(alice.graph, null(), &address, &mut again),
            PEER_E_ALREADY_EXISTS
        );
        let (kind, id, status, _) = alice.next();
        assert_eq!(
            (kind, id, status),
            (
                PEER_GRAPH_EVENT_NEIGHBOR_CONNECTION,
                neighbor,
                PEER_CONNECTED
            )
        );
        let (kind, _, status, _) = bob.next();
        assert_eq!(
            (kind, status),
            (PEER_GRAPH_EVENT_NEIGHBOR_CONNECTION, PEER_CONNECTED)
        );
        assert_eq!(
            PeerGraphEnumConnections(bob.graph, PEER_CONNECTION_NEIGHBOR, &mut list),
            S_OK
        );
        count = 8;
        assert_eq!(PeerGraphGetNextItem(list, &mut count, &mut items), S_OK);
        assert_eq!(count, 1, "only the neighbor");
        let info = &*(*items).cast::<PEER_CONNECTION_INFO>();
        assert_eq!(info.dwFlags, PEER_CONNECTION_NEIGHBOR);
        PeerGraphFreeData(items.cast());
        assert_eq!(PeerGraphEndEnumeration(list), S_OK);
    }

    assert_eq!(
        PeerGraphCloseDirectConnection(alice.graph, connection),
        S_OK
    );
    let (kind, id, status, _) = bob.next();
    assert_eq!(
        (kind, id, status),
        (
            PEER_GRAPH_EVENT_DIRECT_CONNECTION,
            at_bob,
            PEER_DISCONNECTED
        )
    );
    for end in [&alice, &bob] {
        end.close();
    }
    assert_eq!(PeerGraphShutdown(), S_OK);
}

//! Bad input from C, through the exported functions themselves: null pointers, stale, foreign
//! and wrong-kind handles, wrong `dwSize`s, unknown flags and event types, a block freed twice
//! or never handed out. Each gets its documented HRESULT, and nothing crashes.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::ffi::c_void;
use std::ptr::{null, null_mut};

use p2pgraph::abi::*;
use p2pgraph::*;

/// A NUL-terminated UTF-16 copy of `text`.
fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain([0]).collect()
}

fn properties(graph_id: &[u16], peer_id: &[u16]) -> PEER_GRAPH_PROPERTIES {
    PEER_GRAPH_PROPERTIES {
        dwSize: size_of::<PEER_GRAPH_PROPERTIES>() as DWORD,
        dwFlags: 0,
        dwScope: 0,
        dwMaxRecordSize: 0,
        pwzGraphId: graph_id.as_ptr().cast_mut(),
        pwzCreatorId: peer_id.as_ptr().cast_mut(),
        pwzFriendlyName: null_mut(),
        pwzComment: null_mut(),
        ulPresenceLifetime: 0,
        cPresenceMax: 0,
    }
}

fn security(secret: &[u8]) -> PEER_SECURITY_INTERFACE {
    PEER_SECURITY_INTERFACE {
        dwSize: size_of::<PEER_SECURITY_INTERFACE>() as DWORD,
        pwzSspFilename: null_mut(),
        pwzPackageName: null_mut(),
        cbSecurityInfo: secret.len() as ULONG,
        pbSecurityInfo: secret.as_ptr().cast_mut(),
        pvContext: null_mut(),
        pfnValidateRecord: null_mut(),
        pfnSecureRecord: null_mut(),
        pfnFreeSecurityData: null_mut(),
        pfnAuthFailed: null_mut(),
    }
}

fn loopback(port: u16) -> PEER_ADDRESS {
    PEER_ADDRESS {
        dwSize: size_of::<PEER_ADDRESS>() as DWORD,
        sin6: SOCKADDR_IN6 {
            sin6_family: libc::AF_INET6 as u16,
            sin6_port: port.to_be(),
            sin6_flowinfo: 0,
            sin6_addr: std::net::Ipv6Addr::LOCALHOST.octets(),
            sin6_scope_id: 0,
        },
    }
}

/// Everything runs in one test: the library is one per process.
#[test]
fn bad_input_gets_its_documented_hresult_and_nothing_crashes() {
    let (chat, bob) = (wide("chat"), wide("bob"));
    let mut graph: HGRAPH = null_mut();
    let mut version = PEER_VERSION_DATA::default();

    // SAFETY: the pointers passed below are null on purpose, or point to live values of the
    // right type; the handles are values the library checks.
    unsafe {
        // Before PeerGraphStartup.
        assert_eq!(PeerGraphShutdown(), PEER_E_NOT_INITIALIZED);
        let props = properties(&chat, &bob);
        assert_eq!(
            PeerGraphCreate(&props, null(), null(), &mut graph),
            PEER_E_NOT_INITIALIZED
        );
        assert_eq!(
            PeerGraphStartup(PEER_GRAPH_VERSION, null_mut()),
            E_INVALIDARG
        );
        assert_eq!(
            PeerGraphStartup(0x0002, &mut version),
            PEER_E_UNSUPPORTED_VERSION
        );
        assert_eq!(PeerGraphStartup(PEER_GRAPH_VERSION, &mut version), S_OK);
        assert_eq!((version.wVersion, version.wHighestVersion), (1, 1));

        // PeerGraphCreate.
        assert_eq!(
            PeerGraphCreate(null(), null(), null(), &mut graph),
            E_INVALIDARG
        );
        assert_eq!(
            PeerGraphCreate(&props, null(), null(), null_mut()),
            E_INVALIDARG
        );
        let mut wrong_size = props;
        wrong_size.dwSize -= 1;
        assert_eq!(
            PeerGraphCreate(&wrong_size, null(), null(), &mut graph),
            E_INVALIDARG
        );
        let mut no_id = props;
        no_id.pwzGraphId = null_mut();
        assert_eq!(
            PeerGraphCreate(&no_id, null(), null(), &mut graph),
            E_INVALIDARG
        );
        let control = wide("ch\u{7}at");
        let bad_name = properties(&control, &bob);
        assert_eq!(
            PeerGraphCreate(&bad_name, null(), null(), &mut graph),
            E_INVALIDARG
        );
        let mut provider = security(b"s3cret");
        provider.pfnAuthFailed = std::ptr::dangling_mut::<c_void>();
        assert_eq!(
            PeerGraphCreate(&props, null(), &provider, &mut graph),
            E_INVALIDARG
        );
        let mut wrong_size = security(b"s3cret");
        wrong_size.dwSize = 4;
        assert_eq!(
            PeerGraphCreate(&props, null(), &wrong_size, &mut graph),
            E_INVALIDARG
        );
        let secret = security(b"s3cret");
        assert_eq!(PeerGraphCreate(&props, null(), &secret, &mut graph), S_OK);
        let mut again: HGRAPH = null_mut();
        assert_eq!(
            PeerGraphCreate(&props, null(), null(), &mut again),
            PEER_E_DUPLICATE_GRAPH
        );

        // Handles that are stale, foreign or of another kind.
        let foreign = 0x1234_5678 as HGRAPH;
        assert_eq!(PeerGraphClose(null_mut()), PEER_E_INVALID_GRAPH);
        assert_eq!(PeerGraphClose(foreign), PEER_E_INVALID_GRAPH);
        let fd = libc::eventfd(0, libc::EFD_CLOEXEC);
        let kinds = [PEER_GRAPH_EVENT_REGISTRATION {
            eventType: PEER_GRAPH_EVENT_DIRECT_CONNECTION,
            pType: null_mut(),
        }];
        let handle = fd as isize as HANDLE;
        let mut events: HPEEREVENT = null_mut();
        assert_eq!(
            PeerGraphRegisterEvent(foreign, handle, 1, kinds.as_ptr(), &mut events),
            PEER_E_INVALID_GRAPH
        );
        let unknown = [PEER_GRAPH_EVENT_REGISTRATION {
            eventType: 42,
            pType: null_mut(),
        }];
        assert_eq!(
            PeerGraphRegisterEvent(graph, handle, 1, unknown.as_ptr(), &mut events),
            E_INVALIDARG
        );
        assert_eq!(
            PeerGraphRegisterEvent(graph, handle, 0, kinds.as_ptr(), &mut events),
            E_INVALIDARG
        );
        assert_eq!(
            PeerGraphRegisterEvent(graph, handle, 1, null(), &mut events),
            E_INVALIDARG
        );
        assert_eq!(
            PeerGraphRegisterEvent(graph, -1_isize as HANDLE, 1, kinds.as_ptr(), &mut events),
            E_INVALIDARG
        );
        assert_eq!(
            PeerGraphRegisterEvent(graph, handle, 1, kinds.as_ptr(), &mut events),
            S_OK
        );
        // An event handle is not a graph handle, nor the other way round.
        assert_eq!(PeerGraphClose(events), PEER_E_INVALID_GRAPH);
        assert_eq!(
            PeerGraphUnregisterEvent(graph),
            PEER_E_EVENT_HANDLE_NOT_FOUND
        );
        let mut event: *mut PEER_GRAPH_EVENT_DATA = std::ptr::dangling_mut();
        assert_eq!(PeerGraphGetEventData(events, null_mut()), E_INVALIDARG);
        assert_eq!(
            PeerGraphGetEventData(foreign, &mut event),
            PEER_E_EVENT_HANDLE_NOT_FOUND
        );
        assert_eq!(
            PeerGraphGetEventData(events, &mut event),
            PEER_S_NO_EVENT_DATA
        );
        assert!(event.is_null(), "no event: a null block");

        // Direct connections.
        let mut connection = 0;
        let alice = wide("alice");
        let to = loopback(9);
        assert_eq!(
            PeerGraphOpenDirectConnection(graph, alice.as_ptr(), null(), &mut connection),
            E_INVALIDARG
        );
        assert_eq!(
            PeerGraphOpenDirectConnection(graph, null(), &to, &mut connection),
            E_INVALIDARG
        );
        let mut short = to;
        short.dwSize = 28;
        assert_eq!(
            PeerGraphOpenDirectConnection(graph, alice.as_ptr(), &short, &mut connection),
            E_INVALIDARG
        );
        let mut ipv4_family = to;
        ipv4_family.sin6.sin6_family = libc::AF_INET as u16;
        assert_eq!(
            PeerGraphOpenDirectConnection(graph, alice.as_ptr(), &ipv4_family, &mut connection),
            E_INVALIDARG
        );
        assert_eq!(
            PeerGraphOpenDirectConnection(graph, bob.as_ptr(), &to, &mut connection),
            PEER_E_CONNECT_SELF
        );
        let unpaired = [0xd800_u16, 0];
        assert_eq!(
            PeerGraphOpenDirectConnection(graph, unpaired.as_ptr(), &to, &mut connection),
            E_INVALIDARG,
            "a lone surrogate is not UTF-16"
        );
        let guid = GUID::default();
        let data = *b"hi";
        assert_eq!(
            PeerGraphSendData(graph, 77, &guid, 2, data.as_ptr().cast()),
            PEER_E_CONNECTION_NOT_FOUND
        );
        assert_eq!(
            PeerGraphSendData(graph, 77, null(), 2, data.as_ptr().cast()),
            E_INVALIDARG
        );
        assert_eq!(PeerGraphSendData(graph, 77, &guid, 2, null()), E_INVALIDARG);
        assert_eq!(
            PeerGraphCloseDirectConnection(graph, 77),
            PEER_E_CONNECTION_NOT_FOUND
        );

        // Enumerations.
        let mut list: HPEERENUM = null_mut();
        assert_eq!(PeerGraphEnumConnections(graph, 0, &mut list), E_INVALIDARG);
        assert_eq!(PeerGraphEnumConnections(graph, 4, &mut list), E_INVALIDARG);
        assert_eq!(
            PeerGraphEnumConnections(graph, PEER_CONNECTION_DIRECT, null_mut()),
            E_INVALIDARG
        );
        assert_eq!(
            PeerGraphEnumConnections(graph, PEER_CONNECTION_DIRECT, &mut list),
            S_OK
        );
        let mut count: ULONG = 99;
        assert_eq!(PeerGraphGetItemCount(list, &mut count), S_OK);
        assert_eq!(count, 0);
        assert_eq!(PeerGraphGetItemCount(graph, &mut count), E_INVALIDARG);
        let mut items: *mut *mut c_void = std::ptr::dangling_mut();
        count = 10;
        assert_eq!(PeerGetNextItem(list, &mut count, &mut items), S_OK);
        assert_eq!((count, items.is_null()), (0, true));
        assert_eq!(
            PeerGraphGetNextItem(list, null_mut(), &mut items),
            E_INVALIDARG
        );
        assert_eq!(PeerEndEnumeration(list), S_OK);
        assert_eq!(PeerGraphEndEnumeration(list), E_INVALIDARG, "ended twice");

        // Blocks: node information, freed twice, and pointers never handed out.
        let mut node: *mut PEER_NODE_INFO = null_mut();
        assert_eq!(PeerGraphGetNodeInfo(graph, 0, null_mut()), E_INVALIDARG);
        assert_eq!(
            PeerGraphGetNodeInfo(graph, 12345, &mut node),
            PEER_E_NODE_NOT_FOUND
        );
        assert_eq!(PeerGraphGetNodeInfo(graph, 0, &mut node), S_OK);
        let info = &*node;
        assert_eq!(info.dwSize as usize, size_of::<PEER_NODE_INFO>());
        assert_eq!(info.cAddresses, 0, "not listening yet");
        assert_eq!(*info.pwzPeerId, u16::from(b'b'));
        assert_eq!(blocks_outstanding(), 1);
        PeerGraphFreeData(node.cast());
        assert_eq!(blocks_outstanding(), 0);
        PeerGraphFreeData(node.cast());
        PeerFreeData(node.cast());
        let mut on_the_stack = 0u64;
        PeerGraphFreeData(std::ptr::from_mut(&mut on_the_stack).cast());
        PeerGraphFreeData(null_mut());
        assert_eq!(blocks_outstanding(), 0);

        // Listening.
        assert_eq!(PeerGraphListen(graph, 9, 0, 0), E_INVALIDARG);
        assert_eq!(
            PeerGraphListen(graph, PEER_GRAPH_SCOPE_SITELOCAL, 0, 0),
            E_INVALIDARG
        );
        assert_eq!(
            PeerGraphListen(foreign, PEER_GRAPH_SCOPE_LOOPBACK, 0, 0),
            PEER_E_INVALID_GRAPH
        );
        assert_eq!(
            PeerGraphListen(graph, PEER_GRAPH_SCOPE_LOOPBACK, 0, 0),
            S_OK
        );
        assert_eq!(
            PeerGraphListen(graph, PEER_GRAPH_SCOPE_LOOPBACK, 0, 0),
            PEER_E_ALREADY_LISTENING
        );
        assert_eq!(PeerGraphGetNodeInfo(graph, 0, &mut node), S_OK);
        assert_eq!((*node).cAddresses, 1);
        assert_ne!((*(*node).pAddresses).sin6.sin6_port, 0);
        PeerGraphFreeData(node.cast());

        // After close and shutdown.
        assert_eq!(PeerGraphUnregisterEvent(events), S_OK);
        assert_eq!(
            PeerGraphUnregisterEvent(events),
            PEER_E_EVENT_HANDLE_NOT_FOUND
        );
        assert_eq!(PeerGraphClose(graph), S_OK);
        assert_eq!(PeerGraphClose(graph), PEER_E_INVALID_GRAPH);
        assert_eq!(
            PeerGraphOpenDirectConnection(graph, alice.as_ptr(), &to, &mut connection),
            PEER_E_INVALID_GRAPH
        );
        assert_eq!(PeerGraphShutdown(), S_OK);
        assert_eq!(PeerGraphShutdown(), PEER_E_NOT_INITIALIZED);
        libc::close(fd);
    }
}

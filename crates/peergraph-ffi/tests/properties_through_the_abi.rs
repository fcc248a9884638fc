//! Graph properties through the exported functions alone: bob creates graph `chat` (its first
//! properties name him the creator), alice opens it and receives them as she synchronizes, then
//! each sets the friendly name, comment and presence lifetime in turn and both see every change
//! (`PEER_GRAPH_EVENT_PROPERTY_CHANGED`, then `PeerGraphGetProperties`); bad input gets
//! `E_INVALIDARG` and changes nothing.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::ptr::{null, null_mut};

use p2pgraph::abi::*;
use p2pgraph::*;
use support::records::{Seen, read_wide};
use support::{End, create_graph, open_graph, wide};

mod support;

const PROPERTY_EVENTS: [(i32, Option<GUID>); 2] = [
    (PEER_GRAPH_EVENT_PROPERTY_CHANGED, None),
    (PEER_GRAPH_EVENT_STATUS_CHANGED, None),
];

/// The node's presence lifetime (the default), reported while the graph sets none.
const NODE_PRESENCE_LIFETIME: u32 = 300;

/// The node's largest record (the default), reported as `dwMaxRecordSize`.
const NODE_MAX_RECORD_SIZE: u32 = 16 << 20;

/// A graph's properties as read from a `PEER_GRAPH_PROPERTIES`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PropertiesSeen {
    graph_id: String,
    creator_id: String,
    friendly_name: String,
    comment: String,
    presence_lifetime: u32,
}

impl PropertiesSeen {
    fn of_chat(friendly_name: &str, comment: &str, presence_lifetime: u32) -> Self {
        Self {
            graph_id: "chat".into(),
            creator_id: "bob".into(),
            friendly_name: friendly_name.into(),
            comment: comment.into(),
            presence_lifetime,
        }
    }
}

/// `PeerGraphGetProperties`, the block read then freed.
fn get_properties(graph: HGRAPH) -> Result<PropertiesSeen, HRESULT> {
    let mut properties: *mut PEER_GRAPH_PROPERTIES = null_mut();
    // SAFETY: `properties` is writable; the block is read, then freed once.
    unsafe {
        match PeerGraphGetProperties(graph, &mut properties) {
            S_OK => {
                let block = &*properties;
                assert_eq!(block.dwSize as usize, size_of::<PEER_GRAPH_PROPERTIES>());
                assert_eq!(
                    (block.dwFlags, block.dwScope, block.cPresenceMax),
                    (0, 0, 0)
                );
                assert_eq!(block.dwMaxRecordSize, NODE_MAX_RECORD_SIZE);
                let seen = PropertiesSeen {
                    graph_id: read_wide(block.pwzGraphId),
                    creator_id: read_wide(block.pwzCreatorId),
                    friendly_name: read_wide(block.pwzFriendlyName),
                    comment: read_wide(block.pwzComment),
                    presence_lifetime: block.ulPresenceLifetime,
                };
                PeerGraphFreeData(properties.cast());
                Ok(seen)
            }
            error => {
                assert!(properties.is_null());
                Err(error)
            }
        }
    }
}

/// A `PEER_GRAPH_PROPERTIES` for `PeerGraphSetProperties`, pointing into the strings given.
fn properties_in(
    friendly_name: Option<&[u16]>,
    comment: Option<&[u16]>,
    presence_lifetime: u32,
) -> PEER_GRAPH_PROPERTIES {
    PEER_GRAPH_PROPERTIES {
        dwSize: size_of::<PEER_GRAPH_PROPERTIES>() as DWORD,
        dwFlags: 0,
        dwScope: 0,
        dwMaxRecordSize: 0,
        pwzGraphId: null_mut(),
        pwzCreatorId: null_mut(),
        pwzFriendlyName: friendly_name.map_or(null_mut(), |text| text.as_ptr().cast_mut()),
        pwzComment: comment.map_or(null_mut(), |text| text.as_ptr().cast_mut()),
        ulPresenceLifetime: presence_lifetime,
        cPresenceMax: 0,
    }
}

/// `PeerGraphSetProperties` of the name, comment (each null when `None`) and lifetime.
fn set_properties(
    graph: HGRAPH,
    friendly_name: Option<&str>,
    comment: Option<&str>,
    presence_lifetime: u32,
) -> HRESULT {
    let (name, comment) = (friendly_name.map(wide), comment.map(wide));
    let properties = properties_in(name.as_deref(), comment.as_deref(), presence_lifetime);
    // SAFETY: the structure and its strings are live.
    unsafe { PeerGraphSetProperties(graph, &properties) }
}

/// Waits for the next `PEER_GRAPH_EVENT_PROPERTY_CHANGED`, skipping status changes.
fn next_property_change(end: &End) {
    loop {
        match end.next_event() {
            Seen::Other(PEER_GRAPH_EVENT_PROPERTY_CHANGED) => return,
            Seen::Status(_) => {}
            other => panic!("unexpected event {other:?}"),
        }
    }
}

#[test]
fn properties_set_on_one_node_reach_the_other_through_the_abi() {
    let mut version = PEER_VERSION_DATA::default();
    // SAFETY: `version` is writable.
    let started = unsafe { PeerGraphStartup(PEER_GRAPH_VERSION, &mut version) };
    assert_eq!(started, S_OK);

    // Bob creates the graph: its first properties name him, with no name or comment yet.
    let bob = End::attach(create_graph("chat", "bob"), &PROPERTY_EVENTS);
    let initial = PropertiesSeen::of_chat("", "", NODE_PRESENCE_LIFETIME);
    assert_eq!(get_properties(bob.graph).unwrap(), initial);
    assert_eq!(
        PeerGraphListen(bob.graph, PEER_GRAPH_SCOPE_LOOPBACK, 0, 0),
        S_OK
    );

    // Alice opens it: nothing to read or set until she synchronizes.
    let (opened, alice_graph) = open_graph("chat", "alice", &[]);
    assert_eq!(opened, PEER_S_GRAPH_DATA_CREATED);
    let alice = End::attach(alice_graph, &PROPERTY_EVENTS);
    assert_eq!(get_properties(alice.graph), Err(PEER_E_GRAPH_NOT_READY));
    assert_eq!(
        set_properties(alice.graph, Some("early"), None, 0),
        PEER_E_GRAPH_NOT_READY
    );

    let mut bob_info: *mut PEER_NODE_INFO = null_mut();
    let mut neighbor = 0;
    // SAFETY: the out-pointers are writable; the block is read, then freed once.
    unsafe {
        assert_eq!(PeerGraphGetNodeInfo(bob.graph, 0, &mut bob_info), S_OK);
        let address = *(*bob_info).pAddresses;
        PeerGraphFreeData(bob_info.cast());
        assert_eq!(
            PeerGraphConnect(alice.graph, null(), &address, &mut neighbor),
            S_OK
        );
    }
    // Bob's first properties reach alice as she synchronizes.
    let (mut synchronized, mut changed) = (false, false);
    while !(synchronized && changed) {
        match alice.next_event() {
            Seen::Status(flags) => synchronized |= flags & PEER_GRAPH_STATUS_SYNCHRONIZED != 0,
            Seen::Other(PEER_GRAPH_EVENT_PROPERTY_CHANGED) => {
                assert!(!changed, "one property change while synchronizing");
                changed = true;
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert_eq!(get_properties(alice.graph).unwrap(), initial);

    // Bob sets all three: both nodes raise the event, and alice reads his values.
    assert_eq!(
        set_properties(bob.graph, Some("Lobby"), Some("Where everyone meets"), 600),
        S_OK
    );
    next_property_change(&bob);
    next_property_change(&alice);
    let lobby = PropertiesSeen::of_chat("Lobby", "Where everyone meets", 600);
    assert_eq!(get_properties(alice.graph).unwrap(), lobby);
    assert_eq!(get_properties(bob.graph).unwrap(), lobby);

    // Bad input changes nothing.
    let too_long_name = "n".repeat(256);
    let too_long_comment = "c".repeat(512);
    assert_eq!(
        set_properties(bob.graph, Some(&too_long_name), None, 0),
        E_INVALIDARG
    );
    assert_eq!(
        set_properties(bob.graph, None, Some(&too_long_comment), 0),
        E_INVALIDARG
    );
    let lone_surrogate: [u16; 2] = [0xd800, 0];
    let not_utf16 = properties_in(Some(&lone_surrogate), None, 0);
    let lobby_name = wide("Lobby");
    let wrong_size = PEER_GRAPH_PROPERTIES {
        dwSize: 8,
        ..properties_in(Some(&lobby_name), None, 0)
    };
    // SAFETY: the structures and their strings are live; null pointers are refused.
    unsafe {
        assert_eq!(PeerGraphSetProperties(bob.graph, &not_utf16), E_INVALIDARG);
        assert_eq!(PeerGraphSetProperties(bob.graph, &wrong_size), E_INVALIDARG);
        assert_eq!(PeerGraphSetProperties(bob.graph, null()), E_INVALIDARG);
        assert_eq!(
            PeerGraphSetProperties(null_mut(), &wrong_size),
            PEER_E_INVALID_GRAPH
        );
        assert_eq!(PeerGraphGetProperties(bob.graph, null_mut()), E_INVALIDARG);
        let mut properties = null_mut();
        assert_eq!(
            PeerGraphGetProperties(null_mut(), &mut properties),
            PEER_E_INVALID_GRAPH
        );
    }
    assert_eq!(get_properties(bob.graph).unwrap(), lobby);

    // Alice, not the creator, sets them: the longest name, no comment (null) and no presence
    // lifetime (0, so each node reports its own); the creator stays bob.
    let longest_name = "é".repeat(255);
    assert_eq!(
        set_properties(alice.graph, Some(&longest_name), None, 0),
        S_OK
    );
    next_property_change(&alice);
    next_property_change(&bob);
    let renamed = PropertiesSeen::of_chat(&longest_name, "", NODE_PRESENCE_LIFETIME);
    assert_eq!(get_properties(bob.graph).unwrap(), renamed);
    assert_eq!(get_properties(alice.graph).unwrap(), renamed);

    // A block freed twice, or never handed out, is ignored.
    let mut properties: *mut PEER_GRAPH_PROPERTIES = null_mut();
    // SAFETY: `properties` is writable; the block is freed, then freed again (ignored).
    unsafe {
        assert_eq!(PeerGraphGetProperties(bob.graph, &mut properties), S_OK);
        assert_eq!(blocks_outstanding(), 1);
        PeerGraphFreeData(properties.cast());
        PeerGraphFreeData(properties.cast());
    }

    for end in [&alice, &bob] {
        end.close();
    }
    assert_eq!(get_properties(bob.graph), Err(PEER_E_INVALID_GRAPH));
    assert_eq!(blocks_outstanding(), 0, "every block was freed");
    assert_eq!(PeerGraphShutdown(), S_OK);
}

/// `PeerGraphCreate` of graph `graph_id` as `carol` with these properties.
fn create_with(
    graph_id: &str,
    friendly_name: &str,
    comment: &str,
    lifetime: u32,
) -> (HRESULT, HGRAPH) {
    let (id, creator) = (wide(graph_id), wide("carol"));
    let (name, comment) = (wide(friendly_name), wide(comment));
    let properties = PEER_GRAPH_PROPERTIES {
        pwzGraphId: id.as_ptr().cast_mut(),
        pwzCreatorId: creator.as_ptr().cast_mut(),
        ..properties_in(Some(&name), Some(&comment), lifetime)
    };
    let mut graph = null_mut();
    // SAFETY: the structure, its strings and `graph` are live.
    let created = unsafe { PeerGraphCreate(&properties, null(), null(), &mut graph) };
    (created, graph)
}

#[test]
fn the_properties_given_to_create_are_the_graphs_first() {
    let mut version = PEER_VERSION_DATA::default();
    // SAFETY: `version` is writable.
    let started = unsafe { PeerGraphStartup(PEER_GRAPH_VERSION, &mut version) };
    assert_eq!(started, S_OK);

    // Too long a name: refused, and no graph was made (the same id can be created after).
    let (refused, _) = create_with("pantry", &"n".repeat(256), "", 0);
    assert_eq!(refused, E_INVALIDARG);
    let (created, graph) = create_with("pantry", "Pantry", "what is left", 120);
    assert_eq!(created, S_OK);
    let seen = get_properties(graph).unwrap();
    assert_eq!(
        seen,
        PropertiesSeen {
            graph_id: "pantry".into(),
            creator_id: "carol".into(),
            friendly_name: "Pantry".into(),
            comment: "what is left".into(),
            presence_lifetime: 120,
        }
    );
    assert_eq!(PeerGraphClose(graph), S_OK);
    assert_eq!(PeerGraphShutdown(), S_OK);
}

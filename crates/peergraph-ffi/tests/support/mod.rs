//! What the tests that call the exported functions from Rust share: UTF-16 strings, and a graph
//! of the process's library with a registration on a fresh eventfd.

#![allow(dead_code, unreachable_pub)]

use std::ptr::{null, null_mut};

use p2pgraph::abi::*;
use p2pgraph::*;

pub mod records;

/// A NUL-terminated UTF-16 copy of `text`.
pub fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain([0]).collect()
}

/// A graph `chat` as one peer id, registered for some event types on a fresh eventfd.
pub struct End {
    pub graph: HGRAPH,
    pub events: HPEEREVENT,
    pub fd: i32,
}

impl End {
    /// Creates graph `chat` as `peer_id` and registers for `kinds`.
    pub fn new(peer_id: &str, kinds: &[i32]) -> Self {
        let registrations: Vec<(i32, Option<GUID>)> =
            kinds.iter().map(|kind| (*kind, None)).collect();
        Self::attach(create_graph("chat", peer_id), &registrations)
    }

    /// A registration on `graph` for each `(event type, record type filter)`, on a fresh
    /// eventfd.
    pub fn attach(graph: HGRAPH, registrations: &[(i32, Option<GUID>)]) -> Self {
        let types: Vec<GUID> = registrations
            .iter()
            .map(|(_, record_type)| record_type.unwrap_or_default())
            .collect();
        let registrations: Vec<PEER_GRAPH_EVENT_REGISTRATION> = registrations
            .iter()
            .zip(&types)
            .map(
                |((event_type, filter), record_type)| PEER_GRAPH_EVENT_REGISTRATION {
                    eventType: *event_type,
                    pType: if filter.is_some() {
                        std::ptr::from_ref(record_type).cast_mut()
                    } else {
                        null_mut()
                    },
                },
            )
            .collect();
        let mut events = null_mut();
        // SAFETY: every pointer points to a live value of the right type; the eventfd is ours.
        unsafe {
            let fd = libc::eventfd(0, libc::EFD_CLOEXEC);
            assert!(fd >= 0);
            let handle = fd as isize as HANDLE;
            let count = registrations.len() as ULONG;
            assert_eq!(
                PeerGraphRegisterEvent(graph, handle, count, registrations.as_ptr(), &mut events),
                S_OK
            );
            Self { graph, events, fd }
        }
    }

    /// Unregisters and closes the eventfd, leaving the graph open.
    pub fn unregister(&self) {
        // SAFETY: the handle is the library's; the eventfd is ours.
        unsafe {
            assert_eq!(PeerGraphUnregisterEvent(self.events), S_OK);
            libc::close(self.fd);
        }
    }
}

/// Creates graph `graph_id` as `peer_id` (`PeerGraphCreate` must succeed).
pub fn create_graph(graph_id: &str, peer_id: &str) -> HGRAPH {
    let mut graph = null_mut();
    assert_eq!(try_create_graph(graph_id, peer_id, &mut graph), S_OK);
    graph
}

/// `PeerGraphCreate` of graph `graph_id` as `peer_id`.
pub fn try_create_graph(graph_id: &str, peer_id: &str, graph: &mut HGRAPH) -> HRESULT {
    let (chat, peer) = (wide(graph_id), wide(peer_id));
    let properties = PEER_GRAPH_PROPERTIES {
        dwSize: size_of::<PEER_GRAPH_PROPERTIES>() as DWORD,
        dwFlags: 0,
        dwScope: 0,
        dwMaxRecordSize: 0,
        pwzGraphId: chat.as_ptr().cast_mut(),
        pwzCreatorId: peer.as_ptr().cast_mut(),
        pwzFriendlyName: null_mut(),
        pwzComment: null_mut(),
        ulPresenceLifetime: 0,
        cPresenceMax: 0,
    };
    // SAFETY: every pointer points to a live value of the right type.
    unsafe { PeerGraphCreate(&properties, null(), null(), graph) }
}

/// `PeerGraphOpen` of graph `graph_id` as `peer_id` with a sync precedence list: the result
/// and the handle.
pub fn open_graph(graph_id: &str, peer_id: &str, sync_precedence: &[GUID]) -> (HRESULT, HGRAPH) {
    let (chat, peer) = (wide(graph_id), wide(peer_id));
    let mut graph = null_mut();
    let list = if sync_precedence.is_empty() {
        null()
    } else {
        sync_precedence.as_ptr()
    };
    // SAFETY: every pointer points to a live value of the right type, the list holds its count.
    let result = unsafe {
        PeerGraphOpen(
            chat.as_ptr(),
            peer.as_ptr(),
            null(),
            null(),
            sync_precedence.len() as ULONG,
            list,
            &mut graph,
        )
    };
    (result, graph)
}

impl End {
    /// Waits (at most 20 s) until the eventfd says events are queued, and resets it.
    pub fn wait(&self) {
        let mut ready = libc::pollfd {
            fd: self.fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `ready` and `count` are live and of the right types; the eventfd is ours.
        unsafe {
            assert_eq!(libc::poll(&mut ready, 1, 20_000), 1, "an event within 20 s");
            let mut count = 0u64;
            let read = libc::read(self.fd, std::ptr::from_mut(&mut count).cast(), 8);
            assert_eq!(read, 8);
        }
    }

    /// Unregisters, closes the graph and the eventfd.
    pub fn close(&self) {
        // SAFETY: the handles are the library's; the eventfd is ours.
        unsafe {
            assert_eq!(PeerGraphUnregisterEvent(self.events), S_OK);
            assert_eq!(PeerGraphClose(self.graph), S_OK);
            libc::close(self.fd);
        }
    }
}

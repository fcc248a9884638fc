//! What the tests that call the exported functions from Rust share: UTF-16 strings, and a graph
//! of the process's library with a registration on a fresh eventfd.

#![allow(dead_code, unreachable_pub)]

use std::ptr::{null, null_mut};

use p2pgraph::abi::*;
use p2pgraph::*;

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
        let (chat, peer) = (wide("chat"), wide(peer_id));
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
        let registrations: Vec<PEER_GRAPH_EVENT_REGISTRATION> = kinds
            .iter()
            .map(|event_type| PEER_GRAPH_EVENT_REGISTRATION {
                eventType: *event_type,
                pType: null_mut(),
            })
            .collect();
        let (mut graph, mut events) = (null_mut(), null_mut());
        // SAFETY: every pointer points to a live value of the right type; the eventfd is ours.
        unsafe {
            assert_eq!(
                PeerGraphCreate(&properties, null(), null(), &mut graph),
                S_OK
            );
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

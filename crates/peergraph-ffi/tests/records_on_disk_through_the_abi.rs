//! Records on disk through the exported functions alone: with `PEERGRAPH_DATA_DIR` set, a
//! graph's records outlive `PeerGraphClose` and the last `PeerGraphShutdown`, a reopened
//! synchronized database is `S_OK` and usable at once (its records still this node's to
//! update), `PeerGraphDelete` refuses an open graph and removes a closed one's database, and
//! the next `PeerGraphOpen` starts afresh (`PEER_S_GRAPH_DATA_CREATED`, not ready).
//!
//! One test in this file: it sets the process's environment before the library reads it.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::ptr::{null, null_mut};

use p2pgraph::abi::*;
use p2pgraph::*;
use support::records::*;
use support::{open_graph, try_create_graph, wide};

mod support;

const NOTES: GUID = GUID {
    Data1: 0x4e4f_5445,
    Data2: 7,
    Data3: 8,
    Data4: [9, 9, 9, 9, 9, 9, 9, 9],
};

fn startup() {
    let mut version = PEER_VERSION_DATA::default();
    // SAFETY: `version` is writable.
    let started = unsafe { PeerGraphStartup(PEER_GRAPH_VERSION, &mut version) };
    assert_eq!(started, S_OK);
}

/// `PeerGraphDelete` of graph `chat` for `bob`.
fn delete_chat() -> HRESULT {
    let (chat, bob) = (wide("chat"), wide("bob"));
    // SAFETY: the strings are live; the database name may be null.
    unsafe { PeerGraphDelete(chat.as_ptr(), bob.as_ptr(), null()) }
}

fn graph_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|entry| {
            let name = entry.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.starts_with("graph-") && name.ends_with(".redb")
        })
        .count()
}

#[test]
fn records_outlive_the_library_in_the_data_directory() {
    let dir = std::env::temp_dir().join(format!(
        "peergraph-ffi-disk-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    // SAFETY: this file's only test sets the variable before starting the library, the one
    // reader of the environment here, and before any thread of its own.
    unsafe { std::env::set_var("PEERGRAPH_DATA_DIR", &dir) };

    startup();
    let mut graph = null_mut();
    assert_eq!(try_create_graph("chat", "bob", &mut graph), S_OK);
    assert_eq!(
        graph_files(&dir),
        1,
        "the graph's database is in the data directory"
    );
    let expires = in_seconds(3600);
    let note = add(graph, NOTES, Some("topic=persistence"), b"kept", expires).unwrap();
    assert_eq!(delete_chat(), PEER_E_GRAPH_IN_USE);
    let mut again = null_mut();
    assert_eq!(
        try_create_graph("chat", "bob", &mut again),
        PEER_E_DUPLICATE_GRAPH
    );
    assert_eq!(PeerGraphClose(graph), S_OK);
    assert_eq!(
        try_create_graph("chat", "bob", &mut again),
        PEER_E_DUPLICATE_GRAPH,
        "the closed graph's database is still there"
    );
    assert_eq!(PeerGraphShutdown(), S_OK);

    // A new node, from the same directory: the records, and the key that signed them, are back.
    startup();
    let (opened, graph) = open_graph("chat", "bob", &[]);
    assert_eq!(opened, S_OK, "an existing database");
    let kept = get(graph, note).unwrap();
    assert_eq!(kept.attributes.as_deref(), Some("topic=persistence\n"));
    assert_eq!((kept.data.as_slice(), kept.version), (&b"kept"[..], 1));
    assert_eq!(kept.expires, expires);
    assert_eq!(
        update(graph, note, NOTES, None, b"still mine", in_seconds(7200)),
        S_OK,
        "the node's identity came back from the data directory"
    );
    let second = add(graph, NOTES, None, b"usable at once", expires).unwrap();
    assert_eq!(enumerate(graph, Some(NOTES), Some("bob")).unwrap().len(), 2);
    assert_eq!(delete_chat(), PEER_E_GRAPH_IN_USE);
    assert_eq!(PeerGraphClose(graph), S_OK);

    assert_eq!(delete_chat(), S_OK);
    assert_eq!(graph_files(&dir), 0);
    assert_eq!(delete_chat(), PEER_E_DATABASE_NOT_PRESENT);
    let (opened, graph) = open_graph("chat", "bob", &[]);
    assert_eq!(opened, PEER_S_GRAPH_DATA_CREATED, "a new database");
    assert_eq!(get(graph, second).err(), Some(PEER_E_GRAPH_NOT_READY));
    assert_eq!(
        add(graph, NOTES, None, b"", expires),
        Err(PEER_E_GRAPH_NOT_READY)
    );
    assert_eq!(PeerGraphClose(graph), S_OK);
    // An unsynchronized database reopens unsynchronized.
    let (opened, graph) = open_graph("chat", "bob", &[]);
    assert_eq!(opened, S_OK);
    assert_eq!(get(graph, second).err(), Some(PEER_E_GRAPH_NOT_READY));
    assert_eq!(PeerGraphClose(graph), S_OK);

    // A damaged database is refused, naming no handle.
    assert_eq!(delete_chat(), S_OK);
    let mut created = null_mut();
    assert_eq!(try_create_graph("chat", "bob", &mut created), S_OK);
    assert_eq!(PeerGraphClose(created), S_OK);
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|ext| ext == "redb"))
        .unwrap();
    std::fs::write(&file, vec![0x5a; 4096]).unwrap();
    let (opened, graph) = open_graph("chat", "bob", &[]);
    assert_eq!(opened, PEER_E_INVALID_DATABASE);
    assert!(graph.is_null());

    assert_eq!(blocks_outstanding(), 0, "every block was freed");
    assert_eq!(PeerGraphShutdown(), S_OK);
    let _ = std::fs::remove_dir_all(dir);
}

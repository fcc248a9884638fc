//! Records through the exported functions alone, records kept in memory: bob creates graph
//! `chat`, alice opens it (not ready until she synchronizes through a neighbor connection to
//! bob), and records travel between them with their events; get, enum, search, update, delete,
//! their errors, and export from bob then import into carol.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::ptr::{null, null_mut};

use p2pgraph::abi::*;
use p2pgraph::*;
use support::records::*;
use support::{End, create_graph, open_graph, wide};

mod support;

const TYPE_A: GUID = GUID {
    Data1: 0x0a0a_0a0a,
    Data2: 1,
    Data3: 2,
    Data4: [3, 4, 5, 6, 7, 8, 9, 10],
};
const TYPE_B: GUID = GUID {
    Data1: 0x0b0b_0b0b,
    Data2: 1,
    Data3: 2,
    Data4: [3, 4, 5, 6, 7, 8, 9, 10],
};

const RECORD_EVENTS: [(i32, Option<GUID>); 4] = [
    (PEER_GRAPH_EVENT_RECORD_CHANGED, None),
    (PEER_GRAPH_EVENT_SYNCHRONIZED, None),
    (PEER_GRAPH_EVENT_NEIGHBOR_CONNECTION, None),
    (PEER_GRAPH_EVENT_STATUS_CHANGED, None),
];

/// A directory of its own under the system's temporary directory.
fn scratch_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "peergraph-ffi-records-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn records_travel_and_are_read_through_the_abi() {
    let mut version = PEER_VERSION_DATA::default();
    // SAFETY: `version` is writable.
    let started = unsafe { PeerGraphStartup(PEER_GRAPH_VERSION, &mut version) };
    assert_eq!(started, S_OK);
    let bob = End::attach(create_graph("chat", "bob"), &RECORD_EVENTS);
    // Only record events of TYPE_B reach this registration.
    let bob_b = End::attach(
        bob.graph,
        &[(PEER_GRAPH_EVENT_RECORD_CHANGED, Some(TYPE_B))],
    );
    assert_eq!(
        PeerGraphListen(bob.graph, PEER_GRAPH_SCOPE_LOOPBACK, 0, 0),
        S_OK
    );

    // Bob adds a record before alice joins: she gets it when she synchronizes.
    let expires = in_seconds(3600);
    let r1 = add(
        bob.graph,
        TYPE_A,
        Some("room=lobby\nseats:int=4"),
        b"hello",
        expires,
    )
    .unwrap();
    assert_eq!(
        bob.next_record_event(),
        Seen::Record(PEER_RECORD_ADDED, r1, TYPE_A)
    );

    // Alice opens the graph: a new database, so nothing is ready until she synchronizes.
    let (opened, alice_graph) = open_graph("chat", "alice", &[TYPE_A, TYPE_B]);
    assert_eq!(opened, PEER_S_GRAPH_DATA_CREATED);
    let alice = End::attach(alice_graph, &RECORD_EVENTS);
    let alice_b = End::attach(
        alice_graph,
        &[
            (PEER_GRAPH_EVENT_SYNCHRONIZED, Some(TYPE_B)),
            (PEER_GRAPH_EVENT_RECORD_CHANGED, Some(TYPE_B)),
        ],
    );
    assert_eq!(
        add(alice.graph, TYPE_B, None, b"early", expires),
        Err(PEER_E_GRAPH_NOT_READY)
    );
    assert_eq!(get(alice.graph, r1).err(), Some(PEER_E_GRAPH_NOT_READY));
    assert_eq!(
        enumerate(alice.graph, None, None).err(),
        Some(PEER_E_GRAPH_NOT_READY)
    );
    assert_eq!(search(alice.graph, "").err(), Some(PEER_E_GRAPH_NOT_READY));
    assert_eq!(delete(alice.graph, r1, true), PEER_E_GRAPH_NOT_READY);

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
    // Alice gets bob's record, and the types of her precedence list synchronize in order.
    let mut seen = Vec::new();
    let mut synchronized_status = false;
    while seen.len() < 3 || !synchronized_status {
        match alice.next_event() {
            Seen::Status(flags) if flags & PEER_GRAPH_STATUS_SYNCHRONIZED != 0 => {
                assert!(
                    !seen
                        .iter()
                        .any(|seen| matches!(seen, Seen::Synchronized(_))),
                    "the status says synchronized before the record types do"
                );
                synchronized_status = true;
            }
            Seen::Status(_) | Seen::Other(_) => {}
            record => seen.push(record),
        }
    }
    let synchronized: Vec<Seen> = seen
        .iter()
        .copied()
        .filter(|seen| matches!(seen, Seen::Synchronized(_)))
        .collect();
    assert_eq!(
        synchronized,
        [Seen::Synchronized(TYPE_A), Seen::Synchronized(TYPE_B)]
    );
    assert!(seen.contains(&Seen::Record(PEER_RECORD_ADDED, r1, TYPE_A)));
    // The filtered registration saw only the synchronization of TYPE_B.
    assert_eq!(alice_b.next_event(), Seen::Synchronized(TYPE_B));

    // What alice holds of bob's record.
    let held = get(alice.graph, r1).unwrap();
    assert_eq!(held.record_type, TYPE_A);
    assert_eq!(held.id, r1);
    assert_eq!(held.version, 1);
    assert_eq!(held.flags, 0);
    assert_eq!(
        (held.creator.as_str(), held.modified_by.as_str()),
        ("bob", "bob")
    );
    assert_eq!(
        held.attributes.as_deref(),
        Some("room=lobby\nseats:int=4\n")
    );
    assert_eq!(held.expires, expires);
    assert_eq!(held.created, held.modified);
    assert!(
        held.created.dwHighDateTime > 0x01d0_0000,
        "a FILETIME of this century"
    );
    assert_eq!(held.data, b"hello");
    assert_eq!(get(bob.graph, r1).unwrap(), held);

    // Alice adds a record: bob sees it with the same id, and so does his TYPE_B registration
    // (its first event: bob's TYPE_A record never reached it).
    let r2 = add(alice.graph, TYPE_B, None, b"", expires).unwrap();
    assert_eq!(
        alice.next_record_event(),
        Seen::Record(PEER_RECORD_ADDED, r2, TYPE_B)
    );
    assert_eq!(
        alice_b.next_event(),
        Seen::Record(PEER_RECORD_ADDED, r2, TYPE_B)
    );
    assert_eq!(
        bob.next_record_event(),
        Seen::Record(PEER_RECORD_ADDED, r2, TYPE_B)
    );
    assert_eq!(
        bob_b.next_event(),
        Seen::Record(PEER_RECORD_ADDED, r2, TYPE_B)
    );
    let own = get(bob.graph, r2).unwrap();
    assert_eq!((own.creator.as_str(), own.attributes), ("alice", None));
    assert!(own.data.is_empty());

    // Enumerations and searches.
    let ids = |records: Vec<RecordSeen>| records.iter().map(|r| r.id).collect::<Vec<_>>();
    let mut both = vec![r1, r2];
    both.sort_by_key(|id| guid_bytes(*id));
    assert_eq!(ids(enumerate(bob.graph, None, None).unwrap()), both);
    assert_eq!(ids(enumerate(bob.graph, Some(TYPE_A), None).unwrap()), [r1]);
    assert_eq!(
        ids(enumerate(bob.graph, None, Some("alice")).unwrap()),
        [r2]
    );
    assert_eq!(
        ids(enumerate(bob.graph, Some(TYPE_A), Some("alice")).unwrap()),
        []
    );
    for (criteria, expected) in [
        ("attr seats:int >= 3", vec![r1]),
        ("attr seats:int > 4", vec![]),
        ("attr room startswith lob\ncreator=bob\n", vec![r1]),
        ("attr room != lobby", vec![r2]),
        ("type={0b0b0b0b-0001-0002-0304-05060708090a}", vec![r2]),
        (
            "type=0A0A0A0A-0001-0002-0304-05060708090A\nattr room = lobby",
            vec![r1],
        ),
        ("creator=carol", vec![]),
    ] {
        assert_eq!(
            ids(search(alice.graph, criteria).unwrap()),
            expected,
            "{criteria:?}"
        );
    }
    assert_eq!(ids(search(alice.graph, "").unwrap()), both);
    for bad in [
        "room=lobby",
        "attr seats:int >= three",
        "attr room ~ lobby",
        "type=0a0a0a0a",
        "creator=bob\ncreator=alice",
        "attr room = lobby\n\n",
    ] {
        assert_eq!(
            search(alice.graph, bad).err(),
            Some(PEER_E_INVALID_SEARCH),
            "{bad:?}"
        );
    }

    // An update raises the version; alice sees it.
    let later = in_seconds(7200);
    assert_eq!(
        update(
            bob.graph,
            r1,
            TYPE_A,
            Some("room=hall"),
            b"hello again",
            later
        ),
        S_OK
    );
    assert_eq!(
        bob.next_record_event(),
        Seen::Record(PEER_RECORD_UPDATED, r1, TYPE_A)
    );
    assert_eq!(
        alice.next_record_event(),
        Seen::Record(PEER_RECORD_UPDATED, r1, TYPE_A)
    );
    let updated = get(alice.graph, r1).unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.attributes.as_deref(), Some("room=hall\n"));
    assert_eq!(updated.data, b"hello again");
    assert_eq!(updated.expires, later);
    assert_eq!(updated.created, held.created);

    // Errors of adds and updates.
    assert_eq!(
        update(bob.graph, r1, TYPE_A, None, b"", expires),
        PEER_E_INVALID_RECORD_EXPIRATION,
        "an update may not bring the expiry earlier"
    );
    assert_eq!(
        add(bob.graph, TYPE_A, None, b"", in_seconds(-60)),
        Err(PEER_E_INVALID_RECORD_EXPIRATION)
    );
    assert_eq!(
        add(bob.graph, TYPE_A, None, b"", FILETIME::default()),
        Err(PEER_E_INVALID_RECORD_EXPIRATION)
    );
    assert_eq!(
        update(bob.graph, r1, TYPE_B, None, b"", later),
        E_INVALIDARG,
        "an update keeps the type"
    );
    let unknown = GUID {
        Data1: 1,
        ..GUID::default()
    };
    assert_eq!(
        update(bob.graph, unknown, TYPE_A, None, b"", later),
        PEER_E_RECORD_NOT_FOUND
    );
    assert_eq!(get(bob.graph, unknown).err(), Some(PEER_E_RECORD_NOT_FOUND));
    for bad in [
        "room",
        "room=lobby\nroom=hall",
        "peerrecordid=1",
        "seats:int=four",
        "seats:float=4",
        "a=1\r\nb=2",
        "room=bad\\escape",
        "\n",
    ] {
        assert_eq!(
            add(bob.graph, TYPE_A, Some(bad), b"", later),
            Err(PEER_E_INVALID_ATTRIBUTES),
            "{bad:?}"
        );
    }
    let many: String = (0..65).map(|index| format!("a{index}=x\n")).collect();
    assert_eq!(
        add(bob.graph, TYPE_A, Some(&many), b"", later),
        Err(PEER_E_INVALID_ATTRIBUTES)
    );
    let huge = vec![7u8; 16 << 20];
    assert_eq!(
        add(bob.graph, TYPE_A, None, &huge, later),
        Err(PEER_E_MAX_RECORD_SIZE_EXCEEDED)
    );
    drop(huge);
    let flagged = PEER_RECORD {
        dwFlags: PEER_RECORD_FLAG_AUTOREFRESH,
        ..record_in(GUID::default(), TYPE_A, None, b"", later)
    };
    let mut id = GUID::default();
    // SAFETY: the record and `id` are live; null pointers are refused.
    unsafe {
        assert_eq!(
            PeerGraphAddRecord(bob.graph, &flagged, &mut id),
            E_INVALIDARG
        );
        let plain = record_in(GUID::default(), TYPE_A, None, b"", later);
        assert_eq!(PeerGraphAddRecord(bob.graph, null(), &mut id), E_INVALIDARG);
        assert_eq!(
            PeerGraphAddRecord(bob.graph, &plain, null_mut()),
            E_INVALIDARG
        );
        let wrong_size = PEER_RECORD { dwSize: 8, ..plain };
        assert_eq!(
            PeerGraphAddRecord(bob.graph, &wrong_size, &mut id),
            E_INVALIDARG
        );
        assert_eq!(
            PeerGraphAddRecord(null_mut(), &plain, &mut id),
            PEER_E_INVALID_GRAPH
        );
        assert_eq!(PeerGraphGetRecord(bob.graph, &r1, null_mut()), E_INVALIDARG);
        assert_eq!(
            PeerGraphSearchRecords(bob.graph, null(), &mut null_mut()),
            E_INVALIDARG
        );
    }

    // Export bob's records, import them into carol's graph (another database of the graph).
    let dir = scratch_dir();
    let export = dir.join("chat.export");
    let export_path = wide(export.to_str().unwrap());
    // SAFETY: the path is live.
    unsafe {
        assert_eq!(
            PeerGraphExportDatabase(bob.graph, export_path.as_ptr()),
            S_OK
        );
        assert_eq!(
            PeerGraphExportDatabase(bob.graph, export_path.as_ptr()),
            PEER_E_DATABASE_ACCESSDENIED,
            "an export does not overwrite a file"
        );
    }
    let carol = End::attach(
        create_graph("chat", "carol"),
        &[(PEER_GRAPH_EVENT_RECORD_CHANGED, None)],
    );
    assert_eq!(ids(enumerate(carol.graph, None, None).unwrap()), []);
    // SAFETY: the path is live.
    let imported = unsafe { PeerGraphImportDatabase(carol.graph, export_path.as_ptr()) };
    assert_eq!(imported, S_OK);
    let imported: BTreeSet<(i32, [u8; 16])> = (0..2)
        .map(|_| match carol.next_record_event() {
            Seen::Record(change, id, _) => (change, guid_bytes(id)),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        imported,
        BTreeSet::from([
            (PEER_RECORD_ADDED, guid_bytes(r1)),
            (PEER_RECORD_ADDED, guid_bytes(r2))
        ])
    );
    assert_eq!(get(carol.graph, r1).unwrap(), updated);
    // Files that are not an export of this graph.
    let other = create_graph("other", "dave");
    let other_export = wide(dir.join("other.export").to_str().unwrap());
    let garbage = dir.join("garbage");
    std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
    let garbage_path = wide(garbage.to_str().unwrap());
    let missing_path = wide(dir.join("missing").to_str().unwrap());
    // SAFETY: the paths are live.
    unsafe {
        assert_eq!(PeerGraphExportDatabase(other, other_export.as_ptr()), S_OK);
        assert_eq!(
            PeerGraphImportDatabase(carol.graph, other_export.as_ptr()),
            PEER_E_INVALID_DATABASE
        );
        assert_eq!(
            PeerGraphImportDatabase(carol.graph, garbage_path.as_ptr()),
            PEER_E_INVALID_DATABASE
        );
        assert_eq!(
            PeerGraphImportDatabase(carol.graph, missing_path.as_ptr()),
            PEER_E_DATABASE_ACCESSDENIED
        );
        assert_eq!(PeerGraphImportDatabase(carol.graph, null()), E_INVALIDARG);
        assert_eq!(PeerGraphClose(other), S_OK);
    }

    // Deletes: for everyone (alice sees it), and locally (only bob forgets it).
    assert_eq!(delete(bob.graph, r1, false), S_OK);
    assert_eq!(
        bob.next_record_event(),
        Seen::Record(PEER_RECORD_DELETED, r1, TYPE_A)
    );
    assert_eq!(
        alice.next_record_event(),
        Seen::Record(PEER_RECORD_DELETED, r1, TYPE_A)
    );
    assert_eq!(get(alice.graph, r1).err(), Some(PEER_E_RECORD_NOT_FOUND));
    assert_eq!(delete(bob.graph, r1, false), PEER_E_RECORD_NOT_FOUND);
    assert_eq!(
        update(bob.graph, r1, TYPE_A, None, b"", later),
        PEER_E_RECORD_NOT_FOUND
    );
    assert_eq!(delete(bob.graph, r2, true), S_OK);
    assert_eq!(
        bob_b.next_event(),
        Seen::Record(PEER_RECORD_DELETED, r2, TYPE_B)
    );
    assert_eq!(get(bob.graph, r2).err(), Some(PEER_E_RECORD_NOT_FOUND));
    assert_eq!(get(alice.graph, r2).unwrap().version, 1);

    // Without a data directory there is no database to delete.
    let (chat, bob_id) = (wide("chat"), wide("bob"));
    // SAFETY: the strings are live.
    unsafe {
        assert_eq!(
            PeerGraphDelete(chat.as_ptr(), bob_id.as_ptr(), null()),
            PEER_E_DATABASE_NOT_PRESENT
        );
        assert_eq!(
            PeerGraphDelete(null(), bob_id.as_ptr(), null()),
            E_INVALIDARG
        );
    }

    bob_b.unregister();
    alice_b.unregister();
    for end in [&alice, &bob, &carol] {
        end.close();
    }
    assert_eq!(get(bob.graph, r1).err(), Some(PEER_E_INVALID_GRAPH));
    assert_eq!(blocks_outstanding(), 0, "every block was freed");
    assert_eq!(PeerGraphShutdown(), S_OK);
    let _ = std::fs::remove_dir_all(dir);
}

fn guid_bytes(guid: GUID) -> [u8; 16] {
    let mut bytes = [0; 16];
    bytes[..4].copy_from_slice(&guid.Data1.to_le_bytes());
    bytes[4..6].copy_from_slice(&guid.Data2.to_le_bytes());
    bytes[6..8].copy_from_slice(&guid.Data3.to_le_bytes());
    bytes[8..].copy_from_slice(&guid.Data4);
    bytes
}

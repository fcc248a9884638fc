//! A graph's records: adding, updating, deleting, reading, listing and searching them, and
//! moving them between nodes through a database file.

use std::ffi::c_void;
use std::path::{Path, PathBuf};

use peergraph::{
    DatabaseError, GraphHandle, PeerGraph, Record, RecordContent, RecordError, RecordId,
    RecordsError, TransferError,
};

use crate::abi::*;
use crate::convert::{filetime, put, read_string, read_text, system_time};
use crate::state::{self, Block, Enumeration, Items, Kind, Library};
use crate::text::{format_attributes, parse_attributes, parse_criteria};
use crate::{graph_of, with_library};

/// The longest attribute text or search criteria read, in UTF-16 units.
const MAX_TEXT_UNITS: usize = 1 << 20;

/// `HRESULT` of a refused record call.
pub(crate) fn record_error(error: &RecordError) -> HRESULT {
    match error {
        RecordError::NotInitialized => PEER_E_NOT_INITIALIZED,
        RecordError::InvalidGraph => PEER_E_INVALID_GRAPH,
        RecordError::NotReady => PEER_E_GRAPH_NOT_READY,
        RecordError::InvalidArgument { argument } if argument.argument == "attributes" => {
            PEER_E_INVALID_ATTRIBUTES
        }
        RecordError::InvalidArgument { .. } => E_INVALIDARG,
        RecordError::RecordNotFound => PEER_E_RECORD_NOT_FOUND,
        RecordError::AccessDenied => E_ACCESSDENIED,
        RecordError::InvalidExpiration => PEER_E_INVALID_RECORD_EXPIRATION,
        RecordError::TooLarge { .. } => PEER_E_MAX_RECORD_SIZE_EXCEEDED,
        RecordError::StoreFull => E_OUTOFMEMORY,
        _ => E_FAIL,
    }
}

/// `HRESULT` of a database that could not be used.
pub(crate) fn database_error(error: &DatabaseError) -> HRESULT {
    match error {
        // redb reports a file that is not a database (a bad magic number) as an I/O error
        // of kind `InvalidData`: that is a file that is not a graph database.
        DatabaseError::Access { source, .. }
            if source
                .downcast_ref::<std::io::Error>()
                .is_some_and(|error| error.kind() == std::io::ErrorKind::InvalidData) =>
        {
            PEER_E_INVALID_DATABASE
        }
        DatabaseError::Access { .. } => PEER_E_DATABASE_ACCESSDENIED,
        DatabaseError::InUse { .. } => PEER_E_GRAPH_IN_USE,
        _ => PEER_E_INVALID_DATABASE,
    }
}

/// `HRESULT` of a refused record write, kept in memory or on disk.
pub(crate) fn records_error(error: &RecordsError) -> HRESULT {
    match error {
        RecordsError::Record(error) => record_error(error),
        RecordsError::Database(error) => database_error(error),
        _ => E_FAIL,
    }
}

fn transfer_error(error: &TransferError) -> HRESULT {
    match error {
        TransferError::Handle(peergraph::HandleError::NotInitialized) => PEER_E_NOT_INITIALIZED,
        TransferError::Handle(_) => PEER_E_INVALID_GRAPH,
        TransferError::Database(error) => database_error(error),
        _ => PEER_E_INVALID_DATABASE,
    }
}

/// What C wrote in a `PEER_RECORD` for an add or update: the content and the id.
///
/// # Safety
/// `record` is null or points to a `PEER_RECORD` whose `pwzAttributes` is null or
/// NUL-terminated and whose `data.pbData` holds `data.cbData` readable bytes.
unsafe fn read_record(record: *const PEER_RECORD) -> Result<(RecordContent, RecordId), HRESULT> {
    if record.is_null() {
        return Err(E_INVALIDARG);
    }
    // SAFETY: non-null, and the caller promises it points to a PEER_RECORD.
    let record = unsafe { &*record };
    if record.dwSize as usize != size_of::<PEER_RECORD>() || record.dwFlags != 0 {
        return Err(E_INVALIDARG);
    }
    let attributes = if record.pwzAttributes.is_null() {
        Vec::new()
    } else {
        // SAFETY: non-null, and the caller promises a NUL-terminated string.
        let text = unsafe { read_text(record.pwzAttributes, MAX_TEXT_UNITS) }
            .ok_or(PEER_E_INVALID_ATTRIBUTES)?;
        parse_attributes(&text).ok_or(PEER_E_INVALID_ATTRIBUTES)?
    };
    let data: Vec<u8> = match (record.data.cbData, record.data.pbData.is_null()) {
        (0, _) => Vec::new(),
        (_, true) => return Err(E_INVALIDARG),
        (length, false) => {
            // SAFETY: non-null, and the caller promises `cbData` readable bytes.
            unsafe { std::slice::from_raw_parts(record.data.pbData, length as usize) }.to_vec()
        }
    };
    let content = RecordContent {
        record_type: record.r#type.to_bytes(),
        attributes,
        data: data.into(),
        expires_at: system_time(record.ftExpiration),
    };
    Ok((content, RecordId::from_bytes(record.id.to_bytes())))
}

/// `record` as a `PEER_RECORD`, its strings and data kept in `block`.
fn peer_record(block: &mut Block, record: &Record) -> PEER_RECORD {
    let attributes = if record.attributes.is_empty() {
        std::ptr::null_mut()
    } else {
        block.string(&format_attributes(&record.attributes))
    };
    PEER_RECORD {
        dwSize: size_of::<PEER_RECORD>() as DWORD,
        r#type: GUID::from_bytes(record.record_type),
        id: GUID::from_bytes(*record.id.as_bytes()),
        dwVersion: record.version,
        dwFlags: 0,
        pwzCreatorId: block.string(&record.creator_id),
        pwzModifiedById: block.string(&record.modified_by_id),
        pwzAttributes: attributes,
        ftCreation: filetime(record.created_at),
        ftExpiration: filetime(record.expires_at),
        ftLastModified: filetime(record.modified_at),
        securityData: PEER_DATA {
            cbData: 0,
            pbData: std::ptr::null_mut(),
        },
        data: PEER_DATA {
            cbData: record.data.len() as ULONG,
            pbData: if record.data.is_empty() {
                std::ptr::null_mut()
            } else {
                block.bytes(&record.data)
            },
        },
    }
}

/// Hands an item array of `records` to C (for `PeerGraphGetNextItem`).
pub(crate) fn record_items(block: &mut Block, records: &[Record]) {
    let items: Vec<PEER_RECORD> = records
        .iter()
        .map(|record| peer_record(block, record))
        .collect();
    block.records = items.into_boxed_slice();
    block.items = block
        .records
        .iter_mut()
        .map(|item| std::ptr::from_mut(item).cast::<c_void>())
        .collect();
}

/// Adds a record to the graph (`PeerGraphAddRecord`): signed with this node's identity, kept
/// (on disk when the library has a data directory, see `PeerGraphStartup`) and flooded to every
/// node of the graph, which each raise `PEER_GRAPH_EVENT_RECORD_CHANGED` / `PEER_RECORD_ADDED`
/// with the id written to `pRecordId`.
///
/// Of `pRecordData` it reads `dwSize`, `type`, `dwFlags` (must be 0: `AUTOREFRESH` is not
/// supported), `ftExpiration` (later than now), `data` and `pwzAttributes`; the library sets
/// the id, version, creator and modifier (this graph's peer id) and times.
///
/// `pwzAttributes` (null or empty: none) is one attribute a line instead of Windows' XML:
/// `name=text` or `name:int=42`; names of 1 to 64 characters of `A-Z a-z 0-9 _ . -`, unique,
/// not starting with `peer`; in text `\\`, `\n` and `\r` are a backslash, a line feed and a
/// carriage return; lines end with `\n`, the last one optionally; at most 64 attributes.
/// Anything else is `PEER_E_INVALID_ATTRIBUTES`.
///
/// Errors: `PEER_E_GRAPH_NOT_READY` until the graph has synchronized (an opened graph, until
/// its first neighbor), `PEER_E_INVALID_RECORD_EXPIRATION`, `PEER_E_MAX_RECORD_SIZE_EXCEEDED`
/// (the encoded record is larger than 16 MiB, the node's limit, which
/// `PeerGraphGetProperties` reports as `dwMaxRecordSize`), `E_OUTOFMEMORY` (the graph holds
/// its most records), `PEER_E_DATABASE_ACCESSDENIED` (the record was kept and flooded but
/// could not be written to disk), `E_INVALIDARG`.
///
/// # Safety
/// `pRecordData` points to a `PEER_RECORD` whose `pwzAttributes` is null or NUL-terminated and
/// whose `data.pbData` holds `data.cbData` readable bytes; `pRecordId` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphAddRecord(
    hGraph: HGRAPH,
    pRecordData: *const PEER_RECORD,
    pRecordId: *mut GUID,
) -> HRESULT {
    with_library(|library| {
        let graph = match graph_of(library, hGraph) {
            Ok(graph) => graph,
            Err(error) => return error,
        };
        if pRecordId.is_null() {
            return E_INVALIDARG;
        }
        // SAFETY: the caller promises what `read_record` needs.
        let (content, _) = match unsafe { read_record(pRecordData) } {
            Ok(read) => read,
            Err(error) => return error,
        };
        match library.node.add_record(graph, content) {
            Ok(id) => {
                // SAFETY: checked non-null; the caller promises it is writable.
                unsafe { put(pRecordId, GUID::from_bytes(*id.as_bytes())) };
                S_OK
            }
            Err(error) => records_error(&error),
        }
    })
}

/// Replaces a record this node added (`PeerGraphUpdateRecord`): the record `pRecordData->id`
/// gets the `pwzAttributes`, `data` and `ftExpiration` of `pRecordData` (read as by
/// `PeerGraphAddRecord`; its `type` must stay the same) and a version one higher; every node
/// raises `PEER_RECORD_UPDATED`. The expiry may only move later
/// (`PEER_E_INVALID_RECORD_EXPIRATION`). `PEER_E_RECORD_NOT_FOUND` for an unknown or deleted
/// id, `E_ACCESSDENIED` for a record another node's identity added.
///
/// # Safety
/// As [`PeerGraphAddRecord`]'s `pRecordData`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphUpdateRecord(
    hGraph: HGRAPH,
    pRecordData: *const PEER_RECORD,
) -> HRESULT {
    with_library(|library| {
        let graph = match graph_of(library, hGraph) {
            Ok(graph) => graph,
            Err(error) => return error,
        };
        // SAFETY: the caller promises what `read_record` needs.
        let (content, id) = match unsafe { read_record(pRecordData) } {
            Ok(read) => read,
            Err(error) => return error,
        };
        match library.node.update_record(graph, id, content) {
            Ok(()) => S_OK,
            Err(error) => records_error(&error),
        }
    })
}

/// Reads the record id C passed.
///
/// # Safety
/// `pRecordId` is null or points to a `GUID`.
unsafe fn read_id(pRecordId: *const GUID) -> Result<RecordId, HRESULT> {
    if pRecordId.is_null() {
        return Err(E_INVALIDARG);
    }
    // SAFETY: non-null, and the caller promises it points to a GUID.
    Ok(RecordId::from_bytes(unsafe { *pRecordId }.to_bytes()))
}

/// Deletes a record (`PeerGraphDeleteRecord`). With `fLocal` false, for every node: only the
/// node that added it may (`E_ACCESSDENIED` otherwise), and every node raises
/// `PEER_RECORD_DELETED`. With `fLocal` true, only this node forgets it; a neighbor may bring
/// it back. `PEER_E_RECORD_NOT_FOUND` for an unknown or deleted id.
///
/// # Safety
/// `pRecordId` points to a `GUID`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphDeleteRecord(
    hGraph: HGRAPH,
    pRecordId: *const GUID,
    fLocal: BOOL,
) -> HRESULT {
    with_library(|library| {
        let graph = match graph_of(library, hGraph) {
            Ok(graph) => graph,
            Err(error) => return error,
        };
        // SAFETY: the caller promises a GUID.
        let id = match unsafe { read_id(pRecordId) } {
            Ok(id) => id,
            Err(error) => return error,
        };
        match library.node.delete_record(graph, id, fLocal != 0) {
            Ok(()) => S_OK,
            Err(error) => records_error(&error),
        }
    })
}

/// One record (`PeerGraphGetRecord`): a `PEER_RECORD` whose strings and data live in the same
/// block, freed with one `PeerGraphFreeData`. `PEER_E_RECORD_NOT_FOUND` for an unknown or
/// deleted id; `PEER_E_GRAPH_NOT_READY` until the graph has synchronized. Its
/// `pwzAttributes` is in the form `PeerGraphAddRecord` reads, each line ended by `\n`.
///
/// # Safety
/// `pRecordId` points to a `GUID`; `ppRecord` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphGetRecord(
    hGraph: HGRAPH,
    pRecordId: *const GUID,
    ppRecord: *mut *mut PEER_RECORD,
) -> HRESULT {
    with_library(|library| {
        let graph = match graph_of(library, hGraph) {
            Ok(graph) => graph,
            Err(error) => return error,
        };
        if ppRecord.is_null() {
            return E_INVALIDARG;
        }
        // SAFETY: the caller promises a GUID.
        let id = match unsafe { read_id(pRecordId) } {
            Ok(id) => id,
            Err(error) => return error,
        };
        let record = match library.node.get_record(graph, id) {
            Ok(record) => record,
            Err(error) => return record_error(&error),
        };
        let mut block = Block::default();
        let mut boxed = Box::new(peer_record(&mut block, &record));
        let pointer: *mut PEER_RECORD = &mut *boxed;
        block.record = Some(boxed);
        state::hand_out(pointer.cast(), block);
        // SAFETY: checked non-null; the caller promises it is writable.
        unsafe { put(ppRecord, pointer) };
        S_OK
    })
}

/// Lists records (`PeerGraphEnumRecords`): of type `*pRecordType` and added by peer
/// `pwzPeerId`, each filter left out when null. A snapshot of `PEER_RECORD` items in record id
/// order, read with `PeerGraphGetNextItem` (each array freed with one `PeerGraphFreeData`) and
/// ended with `PeerGraphEndEnumeration`. `PEER_E_GRAPH_NOT_READY` until the graph has
/// synchronized.
///
/// # Safety
/// `pRecordType` is null or points to a `GUID`; `pwzPeerId` is null or NUL-terminated;
/// `phPeerEnum` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphEnumRecords(
    hGraph: HGRAPH,
    pRecordType: *const GUID,
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
        let record_type = if pRecordType.is_null() {
            None
        } else {
            // SAFETY: non-null, and the caller promises it points to a GUID.
            Some(unsafe { *pRecordType }.to_bytes())
        };
        let creator = if pwzPeerId.is_null() {
            None
        } else {
            // SAFETY: non-null, and the caller promises a NUL-terminated string.
            match unsafe { read_string(pwzPeerId) } {
                Some(creator) => Some(creator),
                None => return E_INVALIDARG,
            }
        };
        let found = library
            .node
            .enum_records(graph, record_type, creator.as_deref());
        // SAFETY: checked non-null; the caller promises it is writable.
        unsafe { enumerate(library, found, phPeerEnum) }
    })
}

/// Searches records (`PeerGraphSearchRecords`). `pwzCriteria` is lines instead of Windows'
/// XML, all of which must hold (one line or several, ended by `\n`, the last optionally):
/// - `type=xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (hexadecimal, braces optional): the record's
///   type (at most one such line);
/// - `creator=PEER_ID`: the peer id that added it, the rest of the line (at most one);
/// - `attr NAME OP VALUE` or `attr NAME:int OP VALUE`, single spaces between the parts: the
///   record's attribute NAME compared with VALUE (text, escaped as in `PeerGraphAddRecord`'s
///   attributes, or an integer), OP one of `=` `!=` `<` `<=` `>` `>=` (values of one type; `!=`
///   also matches a record without the attribute), or for text `contains` and `startswith`.
///
/// An empty text matches every record. Anything else is `PEER_E_INVALID_SEARCH`. The result
/// is an enumeration as `PeerGraphEnumRecords` gives.
///
/// # Safety
/// `pwzCriteria` is NUL-terminated; `phPeerEnum` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphSearchRecords(
    hGraph: HGRAPH,
    pwzCriteria: PCWSTR,
    phPeerEnum: *mut HPEERENUM,
) -> HRESULT {
    with_library(|library| {
        let graph = match graph_of(library, hGraph) {
            Ok(graph) => graph,
            Err(error) => return error,
        };
        if phPeerEnum.is_null() || pwzCriteria.is_null() {
            return E_INVALIDARG;
        }
        // SAFETY: non-null, and the caller promises a NUL-terminated string.
        let Some(criteria) = (unsafe { read_text(pwzCriteria, MAX_TEXT_UNITS) }) else {
            return PEER_E_INVALID_SEARCH;
        };
        let Some(query) = parse_criteria(&criteria) else {
            return PEER_E_INVALID_SEARCH;
        };
        let found = library.node.search_records(graph, &query);
        // SAFETY: checked non-null; the caller promises it is writable.
        unsafe { enumerate(library, found, phPeerEnum) }
    })
}

/// Hands out an enumeration of `found` through `out`.
///
/// # Safety
/// `out` is non-null and writable.
unsafe fn enumerate(
    library: &mut Library,
    found: Result<Vec<Record>, RecordError>,
    out: *mut HPEERENUM,
) -> HRESULT {
    let records = match found {
        Ok(records) => records,
        Err(error) => return record_error(&error),
    };
    let handle = library.handle(Kind::Enumeration);
    library.enumerations.insert(
        handle,
        Enumeration {
            items: Items::Records(records),
            next: 0,
        },
    );
    // SAFETY: the caller promises a non-null, writable pointer.
    unsafe { put(out, handle as HPEERENUM) };
    S_OK
}

/// Reads a file path C passed.
///
/// # Safety
/// `path` is null or NUL-terminated.
unsafe fn read_path(path: PCWSTR) -> Result<PathBuf, HRESULT> {
    // SAFETY: the caller promises null or a NUL-terminated string.
    match unsafe { read_string(path) } {
        Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
        _ => Err(E_INVALIDARG),
    }
}

/// Writes every record of the graph, deleted ones' tombstones too, to a new database file at
/// `pwzFilePath` (`PeerGraphExportDatabase`). The file must not exist
/// (`PEER_E_DATABASE_ACCESSDENIED`, as for a file that cannot be written).
///
/// # Safety
/// `pwzFilePath` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphExportDatabase(hGraph: HGRAPH, pwzFilePath: PCWSTR) -> HRESULT {
    // SAFETY: the caller promises a NUL-terminated string.
    unsafe { transfer(hGraph, pwzFilePath, PeerGraph::export_database) }
}

/// Takes the records of a file `PeerGraphExportDatabase` wrote for this graph (same graph id)
/// (`PeerGraphImportDatabase`). Each record is checked as one from a neighbor would be (signed
/// by its author for this graph); those newer than the version held are kept, raise
/// `PEER_GRAPH_EVENT_RECORD_CHANGED` and are flooded. Unlike Windows this merges rather than
/// replaces, so the graph may be connected. `PEER_E_INVALID_DATABASE` for a file that is not
/// an export of this graph, or holds a record that does not check (then nothing is kept);
/// `PEER_E_DATABASE_ACCESSDENIED` for one that cannot be read.
///
/// # Safety
/// `pwzFilePath` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphImportDatabase(hGraph: HGRAPH, pwzFilePath: PCWSTR) -> HRESULT {
    // SAFETY: the caller promises a NUL-terminated string.
    unsafe { transfer(hGraph, pwzFilePath, PeerGraph::import_database) }
}

/// An export or import (`run`) of graph `graph`'s database to or from the file at `path`.
///
/// # Safety
/// `path` is NUL-terminated.
unsafe fn transfer(
    graph: HGRAPH,
    path: PCWSTR,
    run: fn(&PeerGraph, GraphHandle, &Path) -> Result<usize, TransferError>,
) -> HRESULT {
    with_library(|library| {
        let graph = match graph_of(library, graph) {
            Ok(graph) => graph,
            Err(error) => return error,
        };
        // SAFETY: the caller promises a NUL-terminated string.
        let path = match unsafe { read_path(path) } {
            Ok(path) => path,
            Err(error) => return error,
        };
        match run(&library.node, graph, &path) {
            Ok(_) => S_OK,
            Err(error) => transfer_error(&error),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use peergraph::{ArgumentProblem, InvalidArgument};

    #[test]
    fn record_errors_have_their_hresults() {
        let attributes = RecordError::InvalidArgument {
            argument: InvalidArgument {
                argument: "attributes",
                problem: ArgumentProblem::Duplicate,
            },
        };
        assert_eq!(record_error(&attributes), PEER_E_INVALID_ATTRIBUTES);
        let changed = RecordError::InvalidArgument {
            argument: InvalidArgument {
                argument: "record_type",
                problem: ArgumentProblem::Changed,
            },
        };
        for (error, expected) in [
            (RecordError::NotInitialized, PEER_E_NOT_INITIALIZED),
            (RecordError::InvalidGraph, PEER_E_INVALID_GRAPH),
            (RecordError::NotReady, PEER_E_GRAPH_NOT_READY),
            (changed, E_INVALIDARG),
            (RecordError::RecordNotFound, PEER_E_RECORD_NOT_FOUND),
            (RecordError::AccessDenied, E_ACCESSDENIED),
            (
                RecordError::InvalidExpiration,
                PEER_E_INVALID_RECORD_EXPIRATION,
            ),
            (
                RecordError::TooLarge { size: 2, max: 1 },
                PEER_E_MAX_RECORD_SIZE_EXCEEDED,
            ),
            (RecordError::StoreFull, E_OUTOFMEMORY),
        ] {
            assert_eq!(record_error(&error), expected, "{error:?}");
        }
    }
}

//! Record calls through the exported functions, read back into owned values.

#![allow(dead_code, unreachable_pub)]

use std::ffi::c_void;
use std::ptr::{null, null_mut};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use p2pgraph::abi::*;
use p2pgraph::*;

use super::{End, wide};

/// What a test sees of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// `PEER_GRAPH_EVENT_RECORD_CHANGED`: change type, record id, record type.
    Record(i32, GUID, GUID),
    /// `PEER_GRAPH_EVENT_SYNCHRONIZED`: the record type.
    Synchronized(GUID),
    /// `PEER_GRAPH_EVENT_STATUS_CHANGED`: the new status flags.
    Status(DWORD),
    /// Any other event type.
    Other(i32),
}

/// A record as read from a `PEER_RECORD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSeen {
    pub record_type: GUID,
    pub id: GUID,
    pub version: u32,
    pub flags: u32,
    pub creator: String,
    pub modified_by: String,
    pub attributes: Option<String>,
    pub created: FILETIME,
    pub expires: FILETIME,
    pub modified: FILETIME,
    pub data: Vec<u8>,
}

/// # Safety
/// `text` is a NUL-terminated UTF-16 string.
pub unsafe fn read_wide(text: *const u16) -> String {
    let mut len = 0;
    // SAFETY: the caller promises a NUL-terminated string.
    unsafe {
        while *text.add(len) != 0 {
            len += 1;
        }
        String::from_utf16(std::slice::from_raw_parts(text, len)).expect("UTF-16")
    }
}

/// # Safety
/// `record` came from the library and is not freed yet.
pub unsafe fn read_record(record: &PEER_RECORD) -> RecordSeen {
    assert_eq!(record.dwSize as usize, size_of::<PEER_RECORD>());
    assert_eq!(record.securityData.cbData, 0);
    // SAFETY: the library's strings are NUL-terminated and its data holds cbData bytes.
    unsafe {
        RecordSeen {
            record_type: record.r#type,
            id: record.id,
            version: record.dwVersion,
            flags: record.dwFlags,
            creator: read_wide(record.pwzCreatorId),
            modified_by: read_wide(record.pwzModifiedById),
            attributes: (!record.pwzAttributes.is_null()).then(|| read_wide(record.pwzAttributes)),
            created: record.ftCreation,
            expires: record.ftExpiration,
            modified: record.ftLastModified,
            data: if record.data.cbData == 0 {
                assert!(record.data.pbData.is_null());
                Vec::new()
            } else {
                std::slice::from_raw_parts(record.data.pbData, record.data.cbData as usize).to_vec()
            },
        }
    }
}

/// `time` as a FILETIME.
pub fn filetime(time: SystemTime) -> FILETIME {
    let since = time.duration_since(UNIX_EPOCH).expect("after 1970");
    let intervals = since.as_nanos() as u64 / 100 + 116_444_736_000_000_000;
    FILETIME {
        dwLowDateTime: intervals as u32,
        dwHighDateTime: (intervals >> 32) as u32,
    }
}

/// `seconds` from now, to the millisecond (as record times travel), as a FILETIME.
pub fn in_seconds(seconds: i64) -> FILETIME {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    let ms = (now.as_millis() as i64 + seconds * 1000) as u64;
    filetime(UNIX_EPOCH + Duration::from_millis(ms))
}

/// A `PEER_RECORD` to add or update, pointing into `attributes` and `data`.
pub fn record_in(
    id: GUID,
    record_type: GUID,
    attributes: Option<&[u16]>,
    data: &[u8],
    expires: FILETIME,
) -> PEER_RECORD {
    PEER_RECORD {
        dwSize: size_of::<PEER_RECORD>() as DWORD,
        r#type: record_type,
        id,
        dwVersion: 0,
        dwFlags: 0,
        pwzCreatorId: null_mut(),
        pwzModifiedById: null_mut(),
        pwzAttributes: attributes.map_or(null_mut(), |text| text.as_ptr().cast_mut()),
        ftCreation: FILETIME::default(),
        ftExpiration: expires,
        ftLastModified: FILETIME::default(),
        securityData: PEER_DATA {
            cbData: 0,
            pbData: null_mut(),
        },
        data: PEER_DATA {
            cbData: data.len() as ULONG,
            pbData: if data.is_empty() {
                null_mut()
            } else {
                data.as_ptr().cast_mut()
            },
        },
    }
}

/// `PeerGraphAddRecord`.
pub fn add(
    graph: HGRAPH,
    record_type: GUID,
    attributes: Option<&str>,
    data: &[u8],
    expires: FILETIME,
) -> Result<GUID, HRESULT> {
    let text = attributes.map(wide);
    let record = record_in(GUID::default(), record_type, text.as_deref(), data, expires);
    let mut id = GUID::default();
    // SAFETY: the record points to live text and data; `id` is writable.
    match unsafe { PeerGraphAddRecord(graph, &record, &mut id) } {
        S_OK => Ok(id),
        error => Err(error),
    }
}

/// `PeerGraphUpdateRecord`.
pub fn update(
    graph: HGRAPH,
    id: GUID,
    record_type: GUID,
    attributes: Option<&str>,
    data: &[u8],
    expires: FILETIME,
) -> HRESULT {
    let text = attributes.map(wide);
    let record = record_in(id, record_type, text.as_deref(), data, expires);
    // SAFETY: the record points to live text and data.
    unsafe { PeerGraphUpdateRecord(graph, &record) }
}

/// `PeerGraphDeleteRecord`.
pub fn delete(graph: HGRAPH, id: GUID, local: bool) -> HRESULT {
    // SAFETY: `id` is live.
    unsafe { PeerGraphDeleteRecord(graph, &id, BOOL::from(local)) }
}

/// `PeerGraphGetRecord`, the block read then freed.
pub fn get(graph: HGRAPH, id: GUID) -> Result<RecordSeen, HRESULT> {
    let mut record: *mut PEER_RECORD = null_mut();
    // SAFETY: `id` is live, `record` writable; the block is read, then freed once.
    unsafe {
        match PeerGraphGetRecord(graph, &id, &mut record) {
            S_OK => {
                let seen = read_record(&*record);
                PeerGraphFreeData(record.cast());
                Ok(seen)
            }
            error => {
                assert!(record.is_null());
                Err(error)
            }
        }
    }
}

/// Every item of an enumeration of records, `per_call` at a time; then ends it. Checks the
/// count matches and each call gives at most what was asked.
pub fn drain(list: HPEERENUM, per_call: ULONG) -> Vec<RecordSeen> {
    let mut records = Vec::new();
    // SAFETY: the out-pointers are writable; each item array is read, then freed once.
    unsafe {
        let mut total: ULONG = 0;
        assert_eq!(PeerGraphGetItemCount(list, &mut total), S_OK);
        loop {
            let mut count = per_call;
            let mut items: *mut *mut c_void = null_mut();
            assert_eq!(PeerGraphGetNextItem(list, &mut count, &mut items), S_OK);
            assert!(count <= per_call);
            if count == 0 {
                assert!(items.is_null());
                break;
            }
            for index in 0..count as usize {
                records.push(read_record(&*(*items.add(index)).cast::<PEER_RECORD>()));
            }
            PeerGraphFreeData(items.cast());
        }
        assert_eq!(PeerGraphEndEnumeration(list), S_OK);
        assert_eq!(total as usize, records.len());
    }
    records
}

/// `PeerGraphEnumRecords`, drained.
pub fn enumerate(
    graph: HGRAPH,
    record_type: Option<GUID>,
    creator: Option<&str>,
) -> Result<Vec<RecordSeen>, HRESULT> {
    let creator = creator.map(wide);
    let mut list = null_mut();
    // SAFETY: the filters are null or live; `list` is writable.
    let result = unsafe {
        PeerGraphEnumRecords(
            graph,
            record_type.as_ref().map_or(null(), std::ptr::from_ref),
            creator.as_ref().map_or(null(), |text| text.as_ptr()),
            &mut list,
        )
    };
    match result {
        S_OK => Ok(drain(list, 1)),
        error => Err(error),
    }
}

/// `PeerGraphSearchRecords`, drained.
pub fn search(graph: HGRAPH, criteria: &str) -> Result<Vec<RecordSeen>, HRESULT> {
    let criteria = wide(criteria);
    let mut list = null_mut();
    // SAFETY: the criteria are live; `list` is writable.
    match unsafe { PeerGraphSearchRecords(graph, criteria.as_ptr(), &mut list) } {
        S_OK => Ok(drain(list, 8)),
        error => Err(error),
    }
}

impl End {
    /// The next event, waiting for one.
    pub fn next_event(&self) -> Seen {
        loop {
            let mut event: *mut PEER_GRAPH_EVENT_DATA = null_mut();
            // SAFETY: `event` is writable; a returned block is read, then freed once.
            unsafe {
                match PeerGraphGetEventData(self.events, &mut event) {
                    S_OK => {
                        let data = &*event;
                        let seen = match data.eventType {
                            PEER_GRAPH_EVENT_RECORD_CHANGED => {
                                let change = data.u.recordChangeData;
                                assert_eq!(
                                    change.dwSize as usize,
                                    size_of::<PEER_EVENT_RECORD_CHANGE_DATA>()
                                );
                                Seen::Record(change.changeType, change.recordId, change.recordType)
                            }
                            PEER_GRAPH_EVENT_SYNCHRONIZED => {
                                let synchronized = data.u.synchronizedData;
                                assert_eq!(
                                    synchronized.dwSize as usize,
                                    size_of::<PEER_EVENT_SYNCHRONIZED_DATA>()
                                );
                                Seen::Synchronized(synchronized.recordType)
                            }
                            PEER_GRAPH_EVENT_STATUS_CHANGED => Seen::Status(data.u.dwStatus),
                            other => Seen::Other(other),
                        };
                        PeerGraphFreeData(event.cast());
                        return seen;
                    }
                    PEER_S_NO_EVENT_DATA => self.wait(),
                    other => panic!("PeerGraphGetEventData: {other:#x}"),
                }
            }
        }
    }

    /// The next record or synchronized event (others are skipped).
    pub fn next_record_event(&self) -> Seen {
        loop {
            match self.next_event() {
                Seen::Other(_) | Seen::Status(_) => {}
                seen => return seen,
            }
        }
    }
}

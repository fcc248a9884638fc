//! The types, structures and constants of `p2p.h`, laid out as C lays them out. Names follow
//! `p2p.h` exactly, so C code written against Windows compiles unchanged where the types agree.

#![allow(non_camel_case_types, non_snake_case)]

use std::ffi::c_void;

/// A COM result code: negative is a failure.
pub type HRESULT = i32;
/// Windows' 32-bit unsigned integer.
pub type DWORD = u32;
/// Windows' 32-bit unsigned integer.
pub type ULONG = u32;
/// Windows' 64-bit unsigned integer.
pub type ULONGLONG = u64;
/// Windows' 16-bit unsigned integer.
pub type WORD = u16;
/// Windows' boolean: 0 is false.
pub type BOOL = i32;
/// A UTF-16 code unit (`char16_t` in C11), as Windows' `WCHAR`.
pub type WCHAR = u16;
/// A NUL-terminated UTF-16 string the caller owns.
pub type PCWSTR = *const WCHAR;
/// A NUL-terminated UTF-16 string inside a block the library returned.
pub type PWSTR = *mut WCHAR;
/// A graph handle (`HGRAPH`): opaque; only the library reads it.
pub type HGRAPH = *mut c_void;
/// An event registration handle (`HPEEREVENT`): opaque.
pub type HPEEREVENT = *mut c_void;
/// An enumeration handle (`HPEERENUM`): opaque.
pub type HPEERENUM = *mut c_void;
/// Where Windows takes a Win32 event `HANDLE`, this library takes a file descriptor a C program
/// can `poll()`, carried in the pointer's bits: `(HANDLE)(intptr_t)fd`, usually from `eventfd(2)`.
pub type HANDLE = *mut c_void;

/// `S_OK`.
pub const S_OK: HRESULT = 0;
/// `E_INVALIDARG`.
pub const E_INVALIDARG: HRESULT = 0x8007_0057_u32 as i32;
/// `E_OUTOFMEMORY`.
pub const E_OUTOFMEMORY: HRESULT = 0x8007_000E_u32 as i32;
/// `E_POINTER`: a required pointer was null.
pub const E_POINTER: HRESULT = 0x8000_4003_u32 as i32;
/// `E_FAIL`: an internal failure (never expected; a bug).
pub const E_FAIL: HRESULT = 0x8000_4005_u32 as i32;
/// `PEER_E_NOT_INITIALIZED`.
pub const PEER_E_NOT_INITIALIZED: HRESULT = 0x8063_0002_u32 as i32;
/// `PEER_E_INVALID_GRAPH`.
pub const PEER_E_INVALID_GRAPH: HRESULT = 0x8063_0010_u32 as i32;
/// `PEER_E_DUPLICATE_GRAPH`.
pub const PEER_E_DUPLICATE_GRAPH: HRESULT = 0x8063_0012_u32 as i32;
/// `PEER_E_CONNECTION_NOT_FOUND`.
pub const PEER_E_CONNECTION_NOT_FOUND: HRESULT = 0x8063_0103_u32 as i32;
/// `PEER_E_CONNECT_SELF`.
pub const PEER_E_CONNECT_SELF: HRESULT = 0x8063_0106_u32 as i32;
/// `PEER_E_ALREADY_LISTENING`.
pub const PEER_E_ALREADY_LISTENING: HRESULT = 0x8063_0107_u32 as i32;
/// `PEER_NODE_CHANGE_CONNECTED`: a node announced itself.
pub const PEER_NODE_CHANGE_CONNECTED: i32 = 1;
/// `PEER_NODE_CHANGE_DISCONNECTED`: a node left, withdrew its presence, or its announcement
/// expired.
pub const PEER_NODE_CHANGE_DISCONNECTED: i32 = 2;
/// `PEER_NODE_CHANGE_UPDATED`: a node's attributes or addresses changed.
pub const PEER_NODE_CHANGE_UPDATED: i32 = 3;

/// `PEER_RECORD_CHANGE_TYPE` values: a record is new here.
pub const PEER_RECORD_ADDED: i32 = 1;
/// See [`PEER_RECORD_ADDED`]: a newer version replaced the one held.
pub const PEER_RECORD_UPDATED: i32 = 2;
/// See [`PEER_RECORD_ADDED`]: its author deleted it (or this node deleted it locally).
pub const PEER_RECORD_DELETED: i32 = 3;
/// See [`PEER_RECORD_ADDED`]: its expiry passed.
pub const PEER_RECORD_EXPIRED: i32 = 4;

/// `PEER_RECORD_FLAGS` values: `AUTOREFRESH` (not supported: `PeerGraphAddRecord` refuses it).
pub const PEER_RECORD_FLAG_AUTOREFRESH: DWORD = 0x1;
/// See [`PEER_RECORD_FLAG_AUTOREFRESH`]: the record is deleted (never set on a record this
/// library returns, since deleted records are not returned).
pub const PEER_RECORD_FLAG_DELETED: DWORD = 0x2;

/// `PEER_E_NODE_NOT_FOUND`.
pub const PEER_E_NODE_NOT_FOUND: HRESULT = 0x8063_0108_u32 as i32;
/// `PEER_E_CONNECTION_FAILED`.
pub const PEER_E_CONNECTION_FAILED: HRESULT = 0x8063_0109_u32 as i32;
/// `PEER_E_CONNECTION_NOT_AUTHENTICATED`.
pub const PEER_E_CONNECTION_NOT_AUTHENTICATED: HRESULT = 0x8063_010A_u32 as i32;
/// `PEER_E_CONNECTION_REFUSED`.
pub const PEER_E_CONNECTION_REFUSED: HRESULT = 0x8063_010B_u32 as i32;
/// `PEER_E_EVENT_HANDLE_NOT_FOUND`.
pub const PEER_E_EVENT_HANDLE_NOT_FOUND: HRESULT = 0x8063_0501_u32 as i32;
/// `PEER_E_UNSUPPORTED_VERSION`.
pub const PEER_E_UNSUPPORTED_VERSION: HRESULT = 0x8063_2090_u32 as i32;
/// `PEER_E_UNABLE_TO_LISTEN`.
pub const PEER_E_UNABLE_TO_LISTEN: HRESULT = 0x8063_2096_u32 as i32;
/// `PEER_E_NO_MORE`.
pub const PEER_E_NO_MORE: HRESULT = 0x8063_4003_u32 as i32;
/// `E_ACCESSDENIED`.
pub const E_ACCESSDENIED: HRESULT = 0x80070005_u32 as i32;
/// `PEER_E_IPV6_NOT_INSTALLED`.
pub const PEER_E_IPV6_NOT_INSTALLED: HRESULT = 0x80630001_u32 as i32;
/// `PEER_E_CANNOT_START_SERVICE`.
pub const PEER_E_CANNOT_START_SERVICE: HRESULT = 0x80630003_u32 as i32;
/// `PEER_E_NOT_LICENSED`.
pub const PEER_E_NOT_LICENSED: HRESULT = 0x80630004_u32 as i32;
/// `PEER_E_DBNAME_CHANGED`.
pub const PEER_E_DBNAME_CHANGED: HRESULT = 0x80630011_u32 as i32;
/// `PEER_E_GRAPH_NOT_READY`.
pub const PEER_E_GRAPH_NOT_READY: HRESULT = 0x80630013_u32 as i32;
/// `PEER_E_GRAPH_SHUTTING_DOWN`.
pub const PEER_E_GRAPH_SHUTTING_DOWN: HRESULT = 0x80630014_u32 as i32;
/// `PEER_E_GRAPH_IN_USE`.
pub const PEER_E_GRAPH_IN_USE: HRESULT = 0x80630015_u32 as i32;
/// `PEER_E_INVALID_DATABASE`.
pub const PEER_E_INVALID_DATABASE: HRESULT = 0x80630016_u32 as i32;
/// `PEER_E_TOO_MANY_ATTRIBUTES`.
pub const PEER_E_TOO_MANY_ATTRIBUTES: HRESULT = 0x80630017_u32 as i32;
/// `PEER_E_RECORD_NOT_FOUND`.
pub const PEER_E_RECORD_NOT_FOUND: HRESULT = 0x80630301_u32 as i32;
/// `PEER_E_DATABASE_ACCESSDENIED`.
pub const PEER_E_DATABASE_ACCESSDENIED: HRESULT = 0x80630302_u32 as i32;
/// `PEER_E_DBINITIALIZATION_FAILED`.
pub const PEER_E_DBINITIALIZATION_FAILED: HRESULT = 0x80630303_u32 as i32;
/// `PEER_E_MAX_RECORD_SIZE_EXCEEDED`.
pub const PEER_E_MAX_RECORD_SIZE_EXCEEDED: HRESULT = 0x80630304_u32 as i32;
/// `PEER_E_DATABASE_ALREADY_PRESENT`.
pub const PEER_E_DATABASE_ALREADY_PRESENT: HRESULT = 0x80630305_u32 as i32;
/// `PEER_E_DATABASE_NOT_PRESENT`.
pub const PEER_E_DATABASE_NOT_PRESENT: HRESULT = 0x80630306_u32 as i32;
/// `PEER_E_IDENTITY_NOT_FOUND` (p2p.h's value).
pub const PEER_E_IDENTITY_NOT_FOUND: HRESULT = 0x80630401_u32 as i32;
/// `PEER_E_INVALID_SEARCH`.
pub const PEER_E_INVALID_SEARCH: HRESULT = 0x80630601_u32 as i32;
/// `PEER_E_INVALID_ATTRIBUTES`.
pub const PEER_E_INVALID_ATTRIBUTES: HRESULT = 0x80630602_u32 as i32;
/// `PEER_E_INVALID_RECORD`.
pub const PEER_E_INVALID_RECORD: HRESULT = 0x80632010_u32 as i32;
/// `PEER_E_NOT_AUTHORIZED`.
pub const PEER_E_NOT_AUTHORIZED: HRESULT = 0x80632020_u32 as i32;
/// `PEER_E_DEFERRED_VALIDATION`.
pub const PEER_E_DEFERRED_VALIDATION: HRESULT = 0x80632030_u32 as i32;
/// `PEER_E_INVALID_PEER_NAME`.
pub const PEER_E_INVALID_PEER_NAME: HRESULT = 0x80632050_u32 as i32;
/// `PEER_E_INVALID_RECORD_EXPIRATION`.
pub const PEER_E_INVALID_RECORD_EXPIRATION: HRESULT = 0x80632080_u32 as i32;
/// `PEER_E_INVALID_RECORD_SIZE`.
pub const PEER_E_INVALID_RECORD_SIZE: HRESULT = 0x80632083_u32 as i32;
/// `PEER_E_NOT_FOUND`: `HRESULT_FROM_WIN32(ERROR_NOT_FOUND)`.
pub const PEER_E_NOT_FOUND: HRESULT = 0x80070490_u32 as i32;
/// `PEER_E_ALREADY_EXISTS`: `HRESULT_FROM_WIN32(ERROR_ALREADY_EXISTS)`.
pub const PEER_E_ALREADY_EXISTS: HRESULT = 0x800700B7_u32 as i32;
/// `PEER_E_DISK_FULL`.
pub const PEER_E_DISK_FULL: HRESULT = 0x80070070_u32 as i32;
/// `PEER_S_ALREADY_CONNECTED`: success, and already connected.
pub const PEER_S_ALREADY_CONNECTED: HRESULT = 0x0063_2000;
/// `PEER_S_GRAPH_DATA_CREATED`: success, and the graph's data was created.
pub const PEER_S_GRAPH_DATA_CREATED: HRESULT = 0x0063_0001;
/// `PEER_S_NO_EVENT_DATA`: success, and no event was queued.
pub const PEER_S_NO_EVENT_DATA: HRESULT = 0x0063_0002;

/// `PEER_GRAPH_VERSION`: `MAKEWORD(1, 0)`.
pub const PEER_GRAPH_VERSION: WORD = 0x0001;

/// `PEER_GRAPH_EVENT_TYPE` values.
pub const PEER_GRAPH_EVENT_STATUS_CHANGED: i32 = 1;
/// See [`PEER_GRAPH_EVENT_STATUS_CHANGED`].
pub const PEER_GRAPH_EVENT_PROPERTY_CHANGED: i32 = 2;
/// See [`PEER_GRAPH_EVENT_STATUS_CHANGED`].
pub const PEER_GRAPH_EVENT_RECORD_CHANGED: i32 = 3;
/// See [`PEER_GRAPH_EVENT_STATUS_CHANGED`].
pub const PEER_GRAPH_EVENT_DIRECT_CONNECTION: i32 = 4;
/// See [`PEER_GRAPH_EVENT_STATUS_CHANGED`].
pub const PEER_GRAPH_EVENT_NEIGHBOR_CONNECTION: i32 = 5;
/// See [`PEER_GRAPH_EVENT_STATUS_CHANGED`].
pub const PEER_GRAPH_EVENT_INCOMING_DATA: i32 = 6;
/// See [`PEER_GRAPH_EVENT_STATUS_CHANGED`].
pub const PEER_GRAPH_EVENT_CONNECTION_REQUIRED: i32 = 7;
/// See [`PEER_GRAPH_EVENT_STATUS_CHANGED`].
pub const PEER_GRAPH_EVENT_NODE_CHANGED: i32 = 8;
/// See [`PEER_GRAPH_EVENT_STATUS_CHANGED`].
pub const PEER_GRAPH_EVENT_SYNCHRONIZED: i32 = 9;

/// `PEER_CONNECTION_STATUS` values.
pub const PEER_CONNECTED: i32 = 1;
/// See [`PEER_CONNECTED`].
pub const PEER_DISCONNECTED: i32 = 2;
/// See [`PEER_CONNECTED`].
pub const PEER_CONNECTION_FAILED: i32 = 3;

/// `PEER_CONNECTION_FLAGS` values.
pub const PEER_CONNECTION_NEIGHBOR: DWORD = 0x1;
/// See [`PEER_CONNECTION_NEIGHBOR`].
pub const PEER_CONNECTION_DIRECT: DWORD = 0x2;

/// `PEER_GRAPH_STATUS_FLAGS` values.
pub const PEER_GRAPH_STATUS_LISTENING: DWORD = 0x1;
/// See [`PEER_GRAPH_STATUS_LISTENING`].
pub const PEER_GRAPH_STATUS_HAS_CONNECTIONS: DWORD = 0x2;
/// See [`PEER_GRAPH_STATUS_LISTENING`].
pub const PEER_GRAPH_STATUS_SYNCHRONIZED: DWORD = 0x4;

/// `PEER_GRAPH_SCOPE` values (for `PeerGraphListen`).
pub const PEER_GRAPH_SCOPE_ANY: DWORD = 0;
/// See [`PEER_GRAPH_SCOPE_ANY`].
pub const PEER_GRAPH_SCOPE_GLOBAL: DWORD = 1;
/// See [`PEER_GRAPH_SCOPE_ANY`].
pub const PEER_GRAPH_SCOPE_SITELOCAL: DWORD = 2;
/// See [`PEER_GRAPH_SCOPE_ANY`].
pub const PEER_GRAPH_SCOPE_LINKLOCAL: DWORD = 3;
/// See [`PEER_GRAPH_SCOPE_ANY`].
pub const PEER_GRAPH_SCOPE_LOOPBACK: DWORD = 4;

/// A GUID, as Windows lays it out. On the wire a message type is its 16 bytes in Windows' order:
/// `Data1`, `Data2` and `Data3` little-endian, then `Data4`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GUID {
    /// First 4 bytes.
    pub Data1: u32,
    /// Next 2 bytes.
    pub Data2: u16,
    /// Next 2 bytes.
    pub Data3: u16,
    /// Last 8 bytes.
    pub Data4: [u8; 8],
}

impl GUID {
    pub(crate) fn to_bytes(self) -> [u8; 16] {
        let mut bytes = [0; 16];
        bytes[..4].copy_from_slice(&self.Data1.to_le_bytes());
        bytes[4..6].copy_from_slice(&self.Data2.to_le_bytes());
        bytes[6..8].copy_from_slice(&self.Data3.to_le_bytes());
        bytes[8..].copy_from_slice(&self.Data4);
        bytes
    }

    pub(crate) fn from_bytes(bytes: [u8; 16]) -> Self {
        let [a, b, c, d, e, f, g, h, data4 @ ..] = bytes;
        Self {
            Data1: u32::from_le_bytes([a, b, c, d]),
            Data2: u16::from_le_bytes([e, f]),
            Data3: u16::from_le_bytes([g, h]),
            Data4: data4,
        }
    }
}

/// `PEER_VERSION_DATA`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct PEER_VERSION_DATA {
    /// The version in use.
    pub wVersion: WORD,
    /// The highest version this library supports.
    pub wHighestVersion: WORD,
}

/// `PEER_DATA`: bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PEER_DATA {
    /// Length of `pbData`.
    pub cbData: ULONG,
    /// The bytes.
    pub pbData: *mut u8,
}

/// `SOCKADDR_IN6`, as Linux lays out `struct sockaddr_in6` (28 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SOCKADDR_IN6 {
    /// `AF_INET6` (10 on Linux).
    pub sin6_family: u16,
    /// The port, in network byte order.
    pub sin6_port: u16,
    /// The flow information, in network byte order.
    pub sin6_flowinfo: u32,
    /// The address; an IPv4 peer as `::ffff:a.b.c.d`.
    pub sin6_addr: [u8; 16],
    /// The scope id (interface index for link-local addresses).
    pub sin6_scope_id: u32,
}

/// `PEER_ADDRESS`: an IPv6 socket address (IPv4 peers as IPv4-mapped addresses).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct PEER_ADDRESS {
    /// `sizeof(PEER_ADDRESS)` (32).
    pub dwSize: DWORD,
    /// The address.
    pub sin6: SOCKADDR_IN6,
}

/// `PEER_GRAPH_PROPERTIES`: a graph's properties, shared by every member of the graph.
///
/// In: `PeerGraphSetProperties` reads `dwSize`, `pwzFriendlyName`, `pwzComment` and
/// `ulPresenceLifetime`; `PeerGraphCreate` reads those and `pwzGraphId` and `pwzCreatorId` (this
/// node's peer id in the graph), and writes them as the graph's first properties. Each ignores
/// the other fields.
///
/// Out (`PeerGraphGetProperties`): every field, in one block freed with `PeerGraphFreeData`;
/// `dwFlags`, `dwScope` and `cPresenceMax` are 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PEER_GRAPH_PROPERTIES {
    /// `sizeof(PEER_GRAPH_PROPERTIES)`.
    pub dwSize: DWORD,
    /// Property flags (ignored; 0 out).
    pub dwFlags: DWORD,
    /// Scope (ignored; 0 out).
    pub dwScope: DWORD,
    /// Largest record, in bytes. Ignored in: the node's limit, 16 MiB, applies to every graph;
    /// out, that limit.
    pub dwMaxRecordSize: DWORD,
    /// The graph id (required by `PeerGraphCreate`).
    pub pwzGraphId: PWSTR,
    /// The creator's peer id: in `PeerGraphCreate`, this node's peer id in the graph
    /// (required); out, the peer id of the member that created the graph.
    pub pwzCreatorId: PWSTR,
    /// A name for people, at most 255 characters (null: empty).
    pub pwzFriendlyName: PWSTR,
    /// A description, at most 511 characters (null: empty).
    pub pwzComment: PWSTR,
    /// Presence lifetime, in seconds (0: none). Out, when none is
    /// set, this node's own presence lifetime (300 s).
    pub ulPresenceLifetime: ULONG,
    /// Presence maximum (ignored; 0 out).
    pub cPresenceMax: ULONG,
}

/// `PEER_SECURITY_INTERFACE`. This library reads `dwSize` and the `cbSecurityInfo` bytes at
/// `pbSecurityInfo` as the graph secret (PROTOCOL.md section 3); the security provider and its
/// callbacks are not used and must be null.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PEER_SECURITY_INTERFACE {
    /// `sizeof(PEER_SECURITY_INTERFACE)`.
    pub dwSize: DWORD,
    /// Security provider file (must be null).
    pub pwzSspFilename: PWSTR,
    /// Security package (must be null).
    pub pwzPackageName: PWSTR,
    /// Length of the graph secret.
    pub cbSecurityInfo: ULONG,
    /// The graph secret: its exact bytes.
    pub pbSecurityInfo: *mut u8,
    /// Provider context (ignored).
    pub pvContext: *mut c_void,
    /// Record validation callback (must be null).
    pub pfnValidateRecord: *mut c_void,
    /// Record securing callback (must be null).
    pub pfnSecureRecord: *mut c_void,
    /// Security data release callback (must be null).
    pub pfnFreeSecurityData: *mut c_void,
    /// Password failure callback (must be null).
    pub pfnAuthFailed: *mut c_void,
}

/// `PEER_GRAPH_EVENT_REGISTRATION`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PEER_GRAPH_EVENT_REGISTRATION {
    /// A `PEER_GRAPH_EVENT_TYPE`.
    pub eventType: i32,
    /// Record type filter, for `PEER_GRAPH_EVENT_RECORD_CHANGED` and
    /// `PEER_GRAPH_EVENT_SYNCHRONIZED` only: null takes every record type, otherwise only
    /// events about records of this type reach the registration.
    pub pType: *mut GUID,
}

/// `PEER_EVENT_CONNECTION_CHANGE_DATA`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PEER_EVENT_CONNECTION_CHANGE_DATA {
    /// `sizeof(PEER_EVENT_CONNECTION_CHANGE_DATA)`.
    pub dwSize: DWORD,
    /// `PEER_CONNECTED`, `PEER_DISCONNECTED` or `PEER_CONNECTION_FAILED`.
    pub status: i32,
    /// The connection.
    pub ullConnectionId: ULONGLONG,
    /// The remote node (0 when not known).
    pub ullNodeId: ULONGLONG,
    /// Always 0: this library does not retry under another id.
    pub ullNextConnectionId: ULONGLONG,
    /// For `PEER_CONNECTION_FAILED`: why (`PEER_E_CONNECTION_REFUSED`, `_FAILED` or
    /// `_NOT_AUTHENTICATED`); 0 otherwise.
    pub hrConnectionFailedReason: HRESULT,
}

/// `PEER_EVENT_INCOMING_DATA`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PEER_EVENT_INCOMING_DATA {
    /// `sizeof(PEER_EVENT_INCOMING_DATA)`.
    pub dwSize: DWORD,
    /// The connection it came on.
    pub ullConnectionId: ULONGLONG,
    /// The application's message type.
    pub r#type: GUID,
    /// The message.
    pub data: PEER_DATA,
}

/// `PEER_EVENT_RECORD_CHANGE_DATA`: a record was added, updated, deleted or expired.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PEER_EVENT_RECORD_CHANGE_DATA {
    /// Structure size.
    pub dwSize: DWORD,
    /// `PEER_RECORD_ADDED`, `_UPDATED`, `_DELETED` or `_EXPIRED`.
    pub changeType: i32,
    /// The record (the id `PeerGraphAddRecord` returned).
    pub recordId: GUID,
    /// The record's type.
    pub recordType: GUID,
}

/// `PEER_EVENT_NODE_CHANGE_DATA`: a node of the graph announced itself, changed or left.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PEER_EVENT_NODE_CHANGE_DATA {
    /// Structure size.
    pub dwSize: DWORD,
    /// The change.
    pub changeType: i32,
    /// The node.
    pub ullNodeId: ULONGLONG,
    /// Its peer id.
    pub pwzPeerId: PWSTR,
}

/// `PEER_EVENT_SYNCHRONIZED_DATA`: the records of one type of the graph's sync precedence list
/// (`PeerGraphOpen`'s `pRecordTypeSyncPrecedence`) are synchronized.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PEER_EVENT_SYNCHRONIZED_DATA {
    /// Structure size.
    pub dwSize: DWORD,
    /// The record type.
    pub recordType: GUID,
}

/// The payload of a `PEER_GRAPH_EVENT_DATA`, by `eventType`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union PEER_GRAPH_EVENT_DATA_PAYLOAD {
    /// `PEER_GRAPH_EVENT_STATUS_CHANGED`: the new status flags.
    pub dwStatus: DWORD,
    /// `PEER_GRAPH_EVENT_INCOMING_DATA`.
    pub incomingData: PEER_EVENT_INCOMING_DATA,
    /// `PEER_GRAPH_EVENT_RECORD_CHANGED`.
    pub recordChangeData: PEER_EVENT_RECORD_CHANGE_DATA,
    /// `PEER_GRAPH_EVENT_DIRECT_CONNECTION` and `_NEIGHBOR_CONNECTION`.
    pub connectionChangeData: PEER_EVENT_CONNECTION_CHANGE_DATA,
    /// `PEER_GRAPH_EVENT_NODE_CHANGED`.
    pub nodeChangeData: PEER_EVENT_NODE_CHANGE_DATA,
    /// `PEER_GRAPH_EVENT_SYNCHRONIZED`.
    pub synchronizedData: PEER_EVENT_SYNCHRONIZED_DATA,
}

/// `PEER_GRAPH_EVENT_DATA`: one event. In `p2p.h` the union is anonymous; C code reads
/// `event->incomingData` there and `event->u.incomingData` here (cbindgen cannot write an
/// anonymous union).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PEER_GRAPH_EVENT_DATA {
    /// A `PEER_GRAPH_EVENT_TYPE`.
    pub eventType: i32,
    /// The payload for `eventType`.
    pub u: PEER_GRAPH_EVENT_DATA_PAYLOAD,
}

/// `PEER_CONNECTION_INFO`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PEER_CONNECTION_INFO {
    /// `sizeof(PEER_CONNECTION_INFO)`.
    pub dwSize: DWORD,
    /// `PEER_CONNECTION_DIRECT` (or `_NEIGHBOR`).
    pub dwFlags: DWORD,
    /// The connection.
    pub ullConnectionId: ULONGLONG,
    /// The remote node (0 while not known).
    pub ullNodeId: ULONGLONG,
    /// The remote peer id.
    pub pwzPeerId: PWSTR,
    /// The remote address (all zero while not known).
    pub address: PEER_ADDRESS,
}

/// `PEER_NODE_INFO`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PEER_NODE_INFO {
    /// `sizeof(PEER_NODE_INFO)`.
    pub dwSize: DWORD,
    /// The node id.
    pub ullNodeId: ULONGLONG,
    /// The node's peer id.
    pub pwzPeerId: PWSTR,
    /// Number of addresses.
    pub cAddresses: ULONG,
    /// The addresses the node listens on.
    pub pAddresses: *mut PEER_ADDRESS,
    /// The node's attributes (null: none yet).
    pub pwzAttributes: PWSTR,
}

/// `FILETIME`: 100-nanosecond intervals since 1601-01-01 UTC, in two halves.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FILETIME {
    /// The low 32 bits.
    pub dwLowDateTime: DWORD,
    /// The high 32 bits.
    pub dwHighDateTime: DWORD,
}

/// `PEER_RECORD`: one record of a graph.
///
/// In: `PeerGraphAddRecord` reads `dwSize`, `type`, `dwFlags` (must be 0), `pwzAttributes`,
/// `ftExpiration` and `data`; `PeerGraphUpdateRecord` also `id`. The creator and modifier, the
/// other times, the version and `securityData` are the library's and are ignored.
///
/// Out (`PeerGraphGetRecord`, the items of `PeerGraphEnumRecords` and
/// `PeerGraphSearchRecords`): every field, in one block freed with `PeerGraphFreeData`;
/// `pwzAttributes` is null for a record without attributes, `securityData` is empty.
///
/// `pwzAttributes` is this library's attribute text, not Windows' XML: see
/// `PeerGraphAddRecord`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PEER_RECORD {
    /// `sizeof(PEER_RECORD)`.
    pub dwSize: DWORD,
    /// The record's type: the application's choice.
    pub r#type: GUID,
    /// The record's id, given by the library.
    pub id: GUID,
    /// 1 for the first version; each update adds one.
    pub dwVersion: DWORD,
    /// `PEER_RECORD_FLAGS`.
    pub dwFlags: DWORD,
    /// The peer id that added the record.
    pub pwzCreatorId: PWSTR,
    /// The peer id that made this version.
    pub pwzModifiedById: PWSTR,
    /// The attributes, as text (null: none).
    pub pwzAttributes: PWSTR,
    /// When it was added.
    pub ftCreation: FILETIME,
    /// When every node drops it.
    pub ftExpiration: FILETIME,
    /// When this version was made.
    pub ftLastModified: FILETIME,
    /// Security data (always empty here: records are signed by their author's identity).
    pub securityData: PEER_DATA,
    /// The record's data.
    pub data: PEER_DATA,
}

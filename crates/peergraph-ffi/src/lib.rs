//! A C ABI shaped as `p2p.h` (Windows Peer Graphing, `P2PGraph.dll`), over one peergraph node
//! per process: code written for Windows ports by relinking against `libp2pgraph` and including
//! the generated `include/p2p.h`.
//!
//! What differs from Windows, and why:
//! - Where Windows takes a Win32 event `HANDLE`, `PeerGraphRegisterEvent` takes a file
//!   descriptor in the handle's bits, `(HANDLE)(intptr_t)fd`, usually from `eventfd(2)`: the
//!   library adds 1 to its counter whenever it queues an event, so a C program `poll()`s it,
//!   reads it, then calls `PeerGraphGetEventData` until `PEER_S_NO_EVENT_DATA`. Close it only
//!   after `PeerGraphUnregisterEvent`, as Windows asks for its event.
//! - Strings are UTF-16 as in `p2p.h` (`WCHAR` is `uint16_t`; write `u"text"` in C11).
//! - The graph secret is the `cbSecurityInfo` bytes at `pbSecurityInfo` of the
//!   `PEER_SECURITY_INTERFACE` (PROTOCOL.md section 3); security providers and their callbacks
//!   are not supported and must be null.
//! - The event union is named: `event->u.incomingData` where `p2p.h` has `event->incomingData`.
//! - Records persist only when the environment variable `PEERGRAPH_DATA_DIR` names a
//!   directory when the first `PeerGraphStartup` builds the node (see there); otherwise they
//!   live in memory, and `PeerGraphOpen` always reports `PEER_S_GRAPH_DATA_CREATED`. Each
//!   graph's database file is named after its graph and peer ids: `pwzDatabaseName` is not
//!   used.
//! - A record's `pwzAttributes` and `PeerGraphSearchRecords`' criteria are short line-based
//!   text forms instead of Windows' XML (see `PeerGraphAddRecord` and
//!   `PeerGraphSearchRecords`); records are signed by their author's identity, so
//!   `securityData` is empty and the `dwMaxRecordSize` given to `PeerGraphCreate` is not used
//!   (the node's limit, 16 MiB, applies to every graph; `PeerGraphGetProperties` reports it).
//! - The node speaks TCP with TLS 1.3; `PEER_ADDRESS` is an IPv6 socket address, IPv4 peers as
//!   IPv4-mapped addresses (`::ffff:a.b.c.d`).
//!
//! Bad input from C never crashes the library: null pointers and bad `dwSize`s get
//! `E_INVALIDARG`, stale or foreign handles their `p2p.h` error, and a block freed twice (or
//! never handed out) is ignored by `PeerGraphFreeData`. A panic inside the library is caught at
//! the boundary and returned as `E_FAIL`.

// Parameter names follow p2p.h, so the documentation reads as Windows' does.
#![allow(non_snake_case)]

pub mod abi;
mod connections;
mod convert;
mod events;
mod nodes;
mod properties;
mod records;
mod state;
mod text;

pub use connections::*;
pub use events::*;
pub use nodes::*;
pub use properties::*;
pub use records::*;

use std::ffi::c_void;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use abi::*;
use convert::{put, read_secret, read_string};
use peergraph::{
    Config, DeleteGraphError, GraphConfig, GraphData, GraphError, GraphOpenError, HandleError,
    ListenError, PeerGraph, StartupError, TransportKind,
};
use state::{Kind, Library, key, library};

/// How long the last `PeerGraphShutdown` waits for closes to reach the wire.
const SHUTDOWN_LINGER: Duration = Duration::from_secs(2);

/// Runs `body`, turning a panic into `E_FAIL`: nothing unwinds into C.
fn boundary(body: impl FnOnce() -> HRESULT) -> HRESULT {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(E_FAIL)
}

/// Runs `body` on the started library, or answers `PEER_E_NOT_INITIALIZED`.
fn with_library(body: impl FnOnce(&mut Library) -> HRESULT) -> HRESULT {
    boundary(|| match library().as_mut() {
        Some(library) => body(library),
        None => PEER_E_NOT_INITIALIZED,
    })
}

fn graph_error(error: GraphOpenError) -> HRESULT {
    match error {
        GraphOpenError::Graph(GraphError::NotInitialized) => PEER_E_NOT_INITIALIZED,
        GraphOpenError::Graph(GraphError::DuplicateGraph) => PEER_E_DUPLICATE_GRAPH,
        GraphOpenError::Graph(GraphError::TooManyGraphs) => E_OUTOFMEMORY,
        GraphOpenError::Database(error) => records::database_error(&error),
        _ => E_INVALIDARG,
    }
}

/// The environment variable naming the directory where the node keeps its graphs' records
/// and its key pair.
const DATA_DIR_VARIABLE: &str = "PEERGRAPH_DATA_DIR";

/// Starts one use of the library (`PeerGraphStartup`); the first builds the node. Pass
/// `PEER_GRAPH_VERSION`.
///
/// Windows keeps each graph's records in a database in the user's profile; here the first
/// `PeerGraphStartup` (the first after the last `PeerGraphShutdown`) reads the environment
/// variable `PEERGRAPH_DATA_DIR`: when it names a directory (made if missing), each graph's
/// records live in a database file there (`graph-<hash of graph and peer ids>.redb`), a
/// change is on disk when its call returns, `PeerGraphOpen` finds them again, and the node's
/// key pair is kept there too, so the records it added stay its own to update and delete
/// after a restart. Unset or empty, records live in memory and end with the last
/// `PeerGraphShutdown`.
///
/// # Safety
/// `pVersionData` is null or points to a writable `PEER_VERSION_DATA`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphStartup(
    wVersionRequested: WORD,
    pVersionData: *mut PEER_VERSION_DATA,
) -> HRESULT {
    boundary(|| {
        if pVersionData.is_null() {
            return E_INVALIDARG;
        }
        let mut library = library();
        if library.is_none() {
            let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            else {
                return E_OUTOFMEMORY;
            };
            let mut config = Config::new(TransportKind::Tcp);
            if let Some(dir) = std::env::var_os(DATA_DIR_VARIABLE).filter(|dir| !dir.is_empty()) {
                config = config.with_identity_dir(&dir).with_data_dir(dir);
            }
            let node_config = config.node.clone();
            let node = {
                let _entered = runtime.enter();
                PeerGraph::new(config)
            };
            let Ok(node) = node else {
                return E_FAIL;
            };
            *library = Some(Library::new(runtime, node, &node_config));
        }
        let Some(started) = library.as_mut() else {
            return E_FAIL;
        };
        match started.node.startup(wVersionRequested) {
            Ok(version) => {
                started.startups += 1;
                let data = PEER_VERSION_DATA {
                    wVersion: version.version,
                    wHighestVersion: version.highest_version,
                };
                // SAFETY: checked non-null above; the caller promises it is writable.
                unsafe { put(pVersionData, data) };
                S_OK
            }
            Err(StartupError::UnsupportedVersion { .. }) => {
                if started.startups == 0 {
                    *library = None;
                }
                PEER_E_UNSUPPORTED_VERSION
            }
            Err(_) => E_FAIL,
        }
    })
}

/// Ends one use of the library (`PeerGraphShutdown`). The last one closes every graph (peers
/// see their connections end), waits up to 2 s for the closes to reach the wire, and releases
/// every handle; blocks not yet freed stay valid until `PeerGraphFreeData`.
#[unsafe(no_mangle)]
pub extern "C" fn PeerGraphShutdown() -> HRESULT {
    boundary(|| {
        let mut guard = library();
        let Some(started) = guard.as_mut() else {
            return PEER_E_NOT_INITIALIZED;
        };
        if started.startups == 0 || started.node.shutdown().is_err() {
            return PEER_E_NOT_INITIALIZED;
        }
        started.startups -= 1;
        if started.startups > 0 {
            return S_OK;
        }
        let Some(ended) = guard.take() else {
            return E_FAIL;
        };
        drop(guard);
        let Library {
            runtime,
            node,
            events,
            ..
        } = ended;
        drop(events);
        runtime.block_on(async {
            let _ = tokio::time::timeout(SHUTDOWN_LINGER, node.finish_before_exit()).await;
        });
        drop(node);
        runtime.shutdown_timeout(Duration::from_secs(1));
        S_OK
    })
}

/// Creates a graph (`PeerGraphCreate`): `pwzGraphId` and `pwzCreatorId` (this node's peer id)
/// from the properties, the secret from the security interface (null: no secret). The graph's
/// first properties name this node as its creator, with the properties' `pwzFriendlyName`,
/// `pwzComment` (each null or at most 255 and 511 characters; null reads as empty) and
/// `ulPresenceLifetime` (0: none); the other fields are not used. No network activity.
///
/// # Safety
/// `pGraphProperties` points to a `PEER_GRAPH_PROPERTIES` whose strings are NUL-terminated;
/// `pwzDatabaseName` is null or NUL-terminated; `pSecurityInterface` is null or valid (see
/// [`PEER_SECURITY_INTERFACE`]); `phGraph` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphCreate(
    pGraphProperties: *const PEER_GRAPH_PROPERTIES,
    pwzDatabaseName: PCWSTR,
    pSecurityInterface: *const PEER_SECURITY_INTERFACE,
    phGraph: *mut HGRAPH,
) -> HRESULT {
    let _ = pwzDatabaseName;
    with_library(|library| {
        if pGraphProperties.is_null() || phGraph.is_null() {
            return E_INVALIDARG;
        }
        // SAFETY: non-null, and the caller promises it points to the structure.
        let properties = unsafe { &*pGraphProperties };
        if properties.dwSize as usize != size_of::<PEER_GRAPH_PROPERTIES>() {
            return E_INVALIDARG;
        }
        // SAFETY: the caller promises NUL-terminated strings (or null, which reads as None).
        let names = unsafe {
            (
                read_string(properties.pwzGraphId),
                read_string(properties.pwzCreatorId),
            )
        };
        // SAFETY: the caller promises the friendly name and comment are null or NUL-terminated.
        let Some((friendly_name, comment, presence_lifetime)) =
            (unsafe { properties::settable(properties) })
        else {
            return E_INVALIDARG;
        };
        let first = FirstProperties {
            friendly_name,
            comment,
            presence_lifetime,
        };
        // SAFETY: the caller promises a null or valid security interface and a writable
        // `phGraph`, checked non-null above.
        unsafe {
            add_graph(
                library,
                names,
                pSecurityInterface,
                Join::Create(first),
                Vec::new(),
                phGraph,
            )
        }
    })
}

/// Whether a graph is created (`PeerGraphCreate`, with its first properties) or opened
/// (`PeerGraphOpen`).
enum Join {
    Create(FirstProperties),
    Open,
}

/// What `PeerGraphCreate` writes as the graph's first properties.
struct FirstProperties {
    friendly_name: String,
    comment: String,
    presence_lifetime: Option<Duration>,
}

/// Creates or opens the graph named by `names` with the secret of `security`, and hands out
/// its handle through `out`.
///
/// # Safety
/// `security` is null or valid (see [`read_secret`]); `out` is non-null and writable.
unsafe fn add_graph(
    library: &mut Library,
    names: (Option<String>, Option<String>),
    security: *const PEER_SECURITY_INTERFACE,
    join: Join,
    sync_precedence: Vec<[u8; 16]>,
    out: *mut HGRAPH,
) -> HRESULT {
    let (Some(graph_id), Some(peer_id)) = names else {
        return E_INVALIDARG;
    };
    // SAFETY: the caller promises a null or valid security interface.
    let Ok(secret) = (unsafe { read_secret(security) }) else {
        return E_INVALIDARG;
    };
    let config = GraphConfig {
        secret,
        sync_precedence,
        ..GraphConfig::new(graph_id, peer_id)
    };
    let added = match join {
        Join::Create(first) => library
            .node
            .create_graph_with_properties(
                config,
                &first.friendly_name,
                &first.comment,
                first.presence_lifetime,
            )
            .map(|graph| (graph, S_OK)),
        Join::Open => library.node.open_graph(config).map(|(graph, data)| {
            let success = match data {
                GraphData::Opened => S_OK,
                GraphData::Created => PEER_S_GRAPH_DATA_CREATED,
            };
            (graph, success)
        }),
    };
    match added {
        Ok((graph, success)) => {
            let handle = library.handle(Kind::Graph);
            library.graphs.insert(handle, graph);
            // SAFETY: the caller promises a non-null, writable pointer.
            unsafe { put(out, handle as HGRAPH) };
            success
        }
        Err(error) => graph_error(error),
    }
}

/// Opens a graph (`PeerGraphOpen`). No network activity. `S_OK` when the graph's database was
/// found in the data directory (see `PeerGraphStartup`; the graph is synchronized at once if it
/// had synchronized before), `PEER_S_GRAPH_DATA_CREATED` when a new one was made (or records
/// are kept in memory): the graph's record calls then give `PEER_E_GRAPH_NOT_READY` until it has
/// synchronized with its first neighbor. At that point each type of
/// `pRecordTypeSyncPrecedence`, in order, raises `PEER_GRAPH_EVENT_SYNCHRONIZED`. A database that
/// is damaged or holds another graph is `PEER_E_INVALID_DATABASE`, one that cannot be read
/// `PEER_E_DATABASE_ACCESSDENIED`, one another process has open `PEER_E_GRAPH_IN_USE`. The
/// database name is not used (the file is named after the graph and peer ids).
///
/// # Safety
/// The strings are NUL-terminated (the database name may be null); `pSecurityInterface` is
/// null or valid; `pRecordTypeSyncPrecedence` points to `cRecordTypeSyncPrecedence` GUIDs (null
/// when it is 0); `phGraph` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphOpen(
    pwzGraphId: PCWSTR,
    pwzPeerId: PCWSTR,
    pwzDatabaseName: PCWSTR,
    pSecurityInterface: *const PEER_SECURITY_INTERFACE,
    cRecordTypeSyncPrecedence: ULONG,
    pRecordTypeSyncPrecedence: *const GUID,
    phGraph: *mut HGRAPH,
) -> HRESULT {
    let _ = pwzDatabaseName;
    with_library(|library| {
        if phGraph.is_null()
            || (cRecordTypeSyncPrecedence == 0) != pRecordTypeSyncPrecedence.is_null()
        {
            return E_INVALIDARG;
        }
        // SAFETY: the caller promises NUL-terminated strings (or null, which reads as None).
        let names = unsafe { (read_string(pwzGraphId), read_string(pwzPeerId)) };
        let sync_precedence = if cRecordTypeSyncPrecedence == 0 {
            Vec::new()
        } else {
            // SAFETY: non-null (checked above with the count), and the caller promises
            // `cRecordTypeSyncPrecedence` GUIDs.
            unsafe {
                std::slice::from_raw_parts(
                    pRecordTypeSyncPrecedence,
                    cRecordTypeSyncPrecedence as usize,
                )
            }
            .iter()
            .map(|record_type| record_type.to_bytes())
            .collect()
        };
        // SAFETY: the caller promises a null or valid security interface and a writable
        // `phGraph`, checked non-null above.
        unsafe {
            add_graph(
                library,
                names,
                pSecurityInterface,
                Join::Open,
                sync_precedence,
                phGraph,
            )
        }
    })
}

/// Deletes the stored records of a graph (`PeerGraphDelete`): its database in the data
/// directory (see `PeerGraphStartup`), so that the next `PeerGraphOpen` starts a new one
/// (`PEER_S_GRAPH_DATA_CREATED`) and the next `PeerGraphCreate` succeeds. The graph must be
/// closed in this process (`PEER_E_GRAPH_IN_USE`). `PEER_E_DATABASE_NOT_PRESENT` when there is
/// no such database (always so without a data directory), `PEER_E_DATABASE_ACCESSDENIED` when
/// the file cannot be removed. `pwzDatabaseName` is not used.
///
/// # Safety
/// `pwzGraphId` and `pwzPeerId` are NUL-terminated; `pwzDatabaseName` is null or
/// NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphDelete(
    pwzGraphId: PCWSTR,
    pwzPeerId: PCWSTR,
    pwzDatabaseName: PCWSTR,
) -> HRESULT {
    let _ = pwzDatabaseName;
    with_library(|library| {
        // SAFETY: the caller promises NUL-terminated strings (or null, which reads as None).
        let (Some(graph_id), Some(peer_id)) =
            (unsafe { (read_string(pwzGraphId), read_string(pwzPeerId)) })
        else {
            return E_INVALIDARG;
        };
        match library.node.delete_graph(&graph_id, &peer_id) {
            Ok(()) => S_OK,
            Err(DeleteGraphError::InUse) => PEER_E_GRAPH_IN_USE,
            Err(DeleteGraphError::NoDataDirectory | DeleteGraphError::NotPresent { .. }) => {
                PEER_E_DATABASE_NOT_PRESENT
            }
            Err(_) => PEER_E_DATABASE_ACCESSDENIED,
        }
    })
}

/// The graph behind a handle from C, or `PEER_E_INVALID_GRAPH`.
fn graph_of(library: &Library, hGraph: HGRAPH) -> Result<peergraph::GraphHandle, HRESULT> {
    key(hGraph, Kind::Graph)
        .and_then(|key| library.graphs.get(&key).copied())
        .ok_or(PEER_E_INVALID_GRAPH)
}

/// Closes a graph (`PeerGraphClose`): its connections end, its registrations end (their
/// `PeerGraphGetEventData` then answers `PEER_S_NO_EVENT_DATA`), and the handle is dead.
#[unsafe(no_mangle)]
pub extern "C" fn PeerGraphClose(hGraph: HGRAPH) -> HRESULT {
    with_library(|library| {
        let graph = match graph_of(library, hGraph) {
            Ok(graph) => graph,
            Err(error) => return error,
        };
        let key = hGraph as usize;
        library.graphs.remove(&key);
        library.listening.remove(&key);
        match library.node.close_graph(graph) {
            Ok(()) => S_OK,
            Err(HandleError::NotInitialized) => PEER_E_NOT_INITIALIZED,
            Err(_) => PEER_E_INVALID_GRAPH,
        }
    })
}

/// Accepts connections for the graph (`PeerGraphListen`). One listener serves every graph of
/// the process: `PEER_GRAPH_SCOPE_LOOPBACK` binds `::1`, the other scopes `::` (both IPv4 and
/// IPv6); `wPort` 0 picks a free port, which `PeerGraphGetNodeInfo` reports. A second graph may
/// listen on the port already bound (or 0); listening twice for one graph is
/// `PEER_E_ALREADY_LISTENING`.
#[unsafe(no_mangle)]
pub extern "C" fn PeerGraphListen(
    hGraph: HGRAPH,
    dwScope: DWORD,
    dwScopeId: DWORD,
    wPort: WORD,
) -> HRESULT {
    boundary(|| {
        let (node, runtime) = {
            let guard = library();
            let Some(library) = guard.as_ref() else {
                return PEER_E_NOT_INITIALIZED;
            };
            if let Err(error) = graph_of(library, hGraph) {
                return error;
            }
            if library.listening.contains(&(hGraph as usize)) {
                return PEER_E_ALREADY_LISTENING;
            }
            (library.node.clone(), library.runtime.handle().clone())
        };
        let ip = match (dwScope, dwScopeId) {
            (PEER_GRAPH_SCOPE_LOOPBACK, _) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            (PEER_GRAPH_SCOPE_SITELOCAL | PEER_GRAPH_SCOPE_LINKLOCAL, 0) => return E_INVALIDARG,
            (PEER_GRAPH_SCOPE_ANY..=PEER_GRAPH_SCOPE_LINKLOCAL, _) => {
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            }
            _ => return E_INVALIDARG,
        };
        let result = match node.local_addr() {
            Some(bound) if wPort == 0 || wPort == bound.port() => Ok(bound),
            Some(_) => Err(PEER_E_ALREADY_LISTENING),
            None => runtime
                .block_on(node.listen(SocketAddr::new(ip, wPort)))
                .map_err(|error| match error {
                    ListenError::NotInitialized => PEER_E_NOT_INITIALIZED,
                    ListenError::AlreadyListening(_) => PEER_E_ALREADY_LISTENING,
                    _ => PEER_E_UNABLE_TO_LISTEN,
                }),
        };
        match result {
            Ok(_) => {
                if let Some(library) = library().as_mut() {
                    library.listening.insert(hGraph as usize);
                }
                S_OK
            }
            Err(error) => error,
        }
    })
}

/// Frees a block this library returned (`PeerGraphFreeData`): an event, an item array, node
/// information, a record or a graph's properties, with everything it points to. A null
/// pointer, a block freed already, or a pointer the library did not hand out is ignored.
#[unsafe(no_mangle)]
pub extern "C" fn PeerGraphFreeData(pvData: *mut c_void) {
    let _ = boundary(|| {
        if !pvData.is_null() {
            state::free(pvData);
        }
        S_OK
    });
}

/// `PeerFreeData`, the twin of [`PeerGraphFreeData`].
#[unsafe(no_mangle)]
pub extern "C" fn PeerFreeData(pvData: *const c_void) {
    PeerGraphFreeData(pvData.cast_mut());
}

/// Blocks handed to C and not yet freed: for tests that check a program frees what it gets.
#[doc(hidden)]
pub fn blocks_outstanding() -> usize {
    state::blocks_outstanding()
}

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
//! - Records, neighbors and node presence are not provided yet; their functions are absent. A
//!   graph has no database yet, so `PeerGraphOpen` always reports `PEER_S_GRAPH_DATA_CREATED`
//!   and the database name is not used.
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
mod state;

use std::ffi::c_void;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use abi::*;
use peergraph::{
    CloseError, Config, ConnectError, ConnectionKind, ConnectionKinds, ConnectionStatus, EnumError,
    EventType, FailReason, GraphConfig, GraphError, GraphEvent, HandleError, ListenError,
    OpenError, PeerAddress, PeerGraph, RegisterError, SendError, StartupError, TransportKind,
};
use state::{Block, Enumeration, Handoff, Kind, Library, Registration, key, library};

/// The longest string read from C, in UTF-16 units: longer is `E_INVALIDARG`.
const MAX_STRING_UNITS: usize = 4096;

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

/// Reads a NUL-terminated UTF-16 string; `None` if null, longer than [`MAX_STRING_UNITS`] or
/// not valid UTF-16.
///
/// # Safety
/// `text` is null or points to a NUL-terminated array of `u16`.
unsafe fn read_string(text: PCWSTR) -> Option<String> {
    if text.is_null() {
        return None;
    }
    let mut units = Vec::new();
    loop {
        // SAFETY: the caller promises a NUL-terminated array; this reads up to its NUL (or stops
        // at MAX_STRING_UNITS), never past it.
        let unit = unsafe { *text.add(units.len()) };
        if unit == 0 {
            break;
        }
        if units.len() == MAX_STRING_UNITS {
            return None;
        }
        units.push(unit);
    }
    String::from_utf16(&units).ok()
}

/// `address` as a socket address; `None` unless `dwSize` and the family are right.
fn socket_addr(address: &PEER_ADDRESS) -> Option<SocketAddr> {
    if address.dwSize as usize != size_of::<PEER_ADDRESS>()
        || i32::from(address.sin6.sin6_family) != libc::AF_INET6
    {
        return None;
    }
    let ip = Ipv6Addr::from(address.sin6.sin6_addr);
    let port = u16::from_be(address.sin6.sin6_port);
    Some(match ip.to_ipv4_mapped() {
        Some(v4) => SocketAddr::from((v4, port)),
        None => SocketAddr::V6(SocketAddrV6::new(
            ip,
            port,
            u32::from_be(address.sin6.sin6_flowinfo),
            address.sin6.sin6_scope_id,
        )),
    })
}

/// `addr` as a `PEER_ADDRESS` (an IPv4 address mapped into IPv6).
fn peer_address(addr: SocketAddr) -> PEER_ADDRESS {
    let (ip, scope_id) = match addr {
        SocketAddr::V4(v4) => (v4.ip().to_ipv6_mapped(), 0),
        SocketAddr::V6(v6) => (*v6.ip(), v6.scope_id()),
    };
    PEER_ADDRESS {
        dwSize: size_of::<PEER_ADDRESS>() as DWORD,
        sin6: SOCKADDR_IN6 {
            sin6_family: libc::AF_INET6 as u16,
            sin6_port: addr.port().to_be(),
            sin6_flowinfo: 0,
            sin6_addr: ip.octets(),
            sin6_scope_id: scope_id,
        },
    }
}

/// The secret in a security interface; `Err` for a bad `dwSize` or a provider (unsupported).
///
/// # Safety
/// `security` is null or points to a `PEER_SECURITY_INTERFACE` whose `pbSecurityInfo` holds
/// `cbSecurityInfo` readable bytes.
unsafe fn read_secret(security: *const PEER_SECURITY_INTERFACE) -> Result<Option<Vec<u8>>, ()> {
    if security.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null, and the caller promises it points to the structure.
    let security = unsafe { &*security };
    let provider = !security.pwzSspFilename.is_null()
        || !security.pwzPackageName.is_null()
        || !security.pfnValidateRecord.is_null()
        || !security.pfnSecureRecord.is_null()
        || !security.pfnFreeSecurityData.is_null()
        || !security.pfnAuthFailed.is_null();
    if security.dwSize as usize != size_of::<PEER_SECURITY_INTERFACE>() || provider {
        return Err(());
    }
    if security.cbSecurityInfo == 0 {
        return Ok(None);
    }
    if security.pbSecurityInfo.is_null() {
        return Err(());
    }
    // SAFETY: the caller promises `cbSecurityInfo` readable bytes at `pbSecurityInfo`.
    let secret = unsafe {
        std::slice::from_raw_parts(security.pbSecurityInfo, security.cbSecurityInfo as usize)
    };
    Ok(Some(secret.to_vec()))
}

/// Writes `value` through `out`.
///
/// # Safety
/// `out` is non-null and points to writable memory for a `T`.
unsafe fn put<T>(out: *mut T, value: T) {
    // SAFETY: the caller promises a writable, non-null pointer.
    unsafe { out.write(value) };
}

fn graph_error(error: GraphError) -> HRESULT {
    match error {
        GraphError::NotInitialized => PEER_E_NOT_INITIALIZED,
        GraphError::DuplicateGraph => PEER_E_DUPLICATE_GRAPH,
        GraphError::TooManyGraphs => E_OUTOFMEMORY,
        _ => E_INVALIDARG,
    }
}

/// Starts one use of the library (`PeerGraphStartup`); the first builds the node. Pass
/// `PEER_GRAPH_VERSION`.
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
            let node = {
                let _entered = runtime.enter();
                PeerGraph::new(Config::new(TransportKind::Tcp))
            };
            let Ok(node) = node else {
                return E_FAIL;
            };
            *library = Some(Library::new(runtime, node));
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
/// from the properties, the secret from the security interface (null: no secret). No network
/// activity.
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
        // SAFETY: the caller promises a null or valid security interface and a writable
        // `phGraph`, checked non-null above.
        unsafe { add_graph(library, names, pSecurityInterface, Join::Create, phGraph) }
    })
}

/// Whether a graph is created (`PeerGraphCreate`) or opened (`PeerGraphOpen`).
#[derive(Clone, Copy)]
enum Join {
    Create,
    Open,
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
        ..GraphConfig::new(graph_id, peer_id)
    };
    let (added, success) = match join {
        Join::Create => (library.node.create_graph(config), S_OK),
        Join::Open => (library.node.open_graph(config), PEER_S_GRAPH_DATA_CREATED),
    };
    match added {
        Ok(graph) => {
            let handle = library.handle(Kind::Graph);
            library.graphs.insert(handle, graph);
            // SAFETY: the caller promises a non-null, writable pointer.
            unsafe { put(out, handle as HGRAPH) };
            success
        }
        Err(error) => graph_error(error),
    }
}

/// Opens a graph (`PeerGraphOpen`). No network activity. A graph has no stored data yet, so
/// success is always `PEER_S_GRAPH_DATA_CREATED`; the database name and the record types to
/// synchronize first are not used.
///
/// # Safety
/// The strings are NUL-terminated (the database name may be null); `pSecurityInterface` is
/// null or valid; `phGraph` is writable.
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
        // SAFETY: the caller promises a null or valid security interface and a writable
        // `phGraph`, checked non-null above.
        unsafe { add_graph(library, names, pSecurityInterface, Join::Open, phGraph) }
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

/// Registers for events (`PeerGraphRegisterEvent`): `hEvent` carries a file descriptor (see the
/// crate documentation) that becomes readable while events are queued. Types this library does
/// not raise yet (records, neighbors, nodes) are accepted and never occur.
///
/// # Safety
/// `pEventRegistrations` points to `cEventRegistration` structures; `phPeerEvent` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphRegisterEvent(
    hGraph: HGRAPH,
    hEvent: HANDLE,
    cEventRegistration: ULONG,
    pEventRegistrations: *const PEER_GRAPH_EVENT_REGISTRATION,
    phPeerEvent: *mut HPEEREVENT,
) -> HRESULT {
    with_library(|library| {
        let graph = match graph_of(library, hGraph) {
            Ok(graph) => graph,
            Err(error) => return error,
        };
        let Ok(fd) = i32::try_from(hEvent as isize) else {
            return E_INVALIDARG;
        };
        if fd < 0
            || cEventRegistration == 0
            || pEventRegistrations.is_null()
            || phPeerEvent.is_null()
        {
            return E_INVALIDARG;
        }
        // SAFETY: non-null, and the caller promises `cEventRegistration` structures.
        let registrations =
            unsafe { std::slice::from_raw_parts(pEventRegistrations, cEventRegistration as usize) };
        let mut types = Vec::with_capacity(registrations.len());
        for registration in registrations {
            let event_type = match registration.eventType {
                PEER_GRAPH_EVENT_STATUS_CHANGED => EventType::StatusChanged,
                PEER_GRAPH_EVENT_PROPERTY_CHANGED => EventType::PropertyChanged,
                PEER_GRAPH_EVENT_RECORD_CHANGED => EventType::RecordChanged,
                PEER_GRAPH_EVENT_DIRECT_CONNECTION => EventType::DirectConnection,
                PEER_GRAPH_EVENT_NEIGHBOR_CONNECTION => EventType::NeighborConnection,
                PEER_GRAPH_EVENT_INCOMING_DATA => EventType::IncomingData,
                PEER_GRAPH_EVENT_CONNECTION_REQUIRED => EventType::ConnectionRequired,
                PEER_GRAPH_EVENT_NODE_CHANGED => EventType::NodeChanged,
                PEER_GRAPH_EVENT_SYNCHRONIZED => EventType::Synchronized,
                _ => return E_INVALIDARG,
            };
            types.push(event_type);
        }
        let stream = {
            let _entered = library.runtime.enter();
            library.node.register_event(graph, &types)
        };
        let stream = match stream {
            Ok(stream) => stream,
            Err(RegisterError::NotInitialized) => return PEER_E_NOT_INITIALIZED,
            Err(RegisterError::InvalidGraph) => return PEER_E_INVALID_GRAPH,
            Err(RegisterError::TooManyRegistrations) => return E_OUTOFMEMORY,
            Err(_) => return E_INVALIDARG,
        };
        let handoff = Handoff::new(fd);
        let pump = library
            .runtime
            .spawn(handoff.clone().pump(stream))
            .abort_handle();
        let handle = library.handle(Kind::Event);
        library
            .events
            .insert(handle, Registration { handoff, pump });
        // SAFETY: checked non-null; the caller promises it is writable.
        unsafe { put(phPeerEvent, handle as HPEEREVENT) };
        S_OK
    })
}

/// Ends a registration (`PeerGraphUnregisterEvent`); events it still held are dropped.
#[unsafe(no_mangle)]
pub extern "C" fn PeerGraphUnregisterEvent(hPeerEvent: HPEEREVENT) -> HRESULT {
    with_library(|library| {
        match key(hPeerEvent, Kind::Event).and_then(|key| library.events.remove(&key)) {
            Some(registration) => {
                drop(registration);
                S_OK
            }
            None => PEER_E_EVENT_HANDLE_NOT_FOUND,
        }
    })
}

/// Takes one event (`PeerGraphGetEventData`): `S_OK` and a block to free with
/// `PeerGraphFreeData`, or `PEER_S_NO_EVENT_DATA` (and null) when none is queued.
///
/// # Safety
/// `ppEventData` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphGetEventData(
    hPeerEvent: HPEEREVENT,
    ppEventData: *mut *mut PEER_GRAPH_EVENT_DATA,
) -> HRESULT {
    with_library(|library| {
        if ppEventData.is_null() {
            return E_INVALIDARG;
        }
        let Some(registration) =
            key(hPeerEvent, Kind::Event).and_then(|key| library.events.get(&key))
        else {
            return PEER_E_EVENT_HANDLE_NOT_FOUND;
        };
        let mut block = Block::default();
        // An event of a kind this library does not know yet is skipped.
        let payload = std::iter::from_fn(|| registration.handoff.take())
            .find_map(|event| event_payload(&mut block, &event));
        let Some(payload) = payload else {
            // SAFETY: checked non-null; the caller promises it is writable.
            unsafe { put(ppEventData, std::ptr::null_mut()) };
            return PEER_S_NO_EVENT_DATA;
        };
        let mut data = Box::new(PEER_GRAPH_EVENT_DATA {
            eventType: payload.0,
            u: payload.1,
        });
        let pointer: *mut PEER_GRAPH_EVENT_DATA = &mut *data;
        block.event = Some(data);
        state::hand_out(pointer.cast(), block);
        // SAFETY: checked non-null; the caller promises it is writable.
        unsafe { put(ppEventData, pointer) };
        S_OK
    })
}

/// An event's type and payload; its bytes are kept in `block`.
fn event_payload(
    block: &mut Block,
    event: &GraphEvent,
) -> Option<(i32, PEER_GRAPH_EVENT_DATA_PAYLOAD)> {
    Some(match event {
        GraphEvent::StatusChanged(status) => (
            PEER_GRAPH_EVENT_STATUS_CHANGED,
            PEER_GRAPH_EVENT_DATA_PAYLOAD {
                dwStatus: status.bits(),
            },
        ),
        GraphEvent::DirectConnection(change) | GraphEvent::NeighborConnection(change) => {
            let event_type = match event {
                GraphEvent::NeighborConnection(_) => PEER_GRAPH_EVENT_NEIGHBOR_CONNECTION,
                _ => PEER_GRAPH_EVENT_DIRECT_CONNECTION,
            };
            let (status, node_id, reason) = match &change.status {
                ConnectionStatus::Connected(remote) => (PEER_CONNECTED, remote.node_id.get(), 0),
                ConnectionStatus::Disconnected(_) => (PEER_DISCONNECTED, 0, 0),
                ConnectionStatus::Failed(reason) => (PEER_CONNECTION_FAILED, 0, failed(reason)),
            };
            (
                event_type,
                PEER_GRAPH_EVENT_DATA_PAYLOAD {
                    connectionChangeData: PEER_EVENT_CONNECTION_CHANGE_DATA {
                        dwSize: size_of::<PEER_EVENT_CONNECTION_CHANGE_DATA>() as DWORD,
                        status,
                        ullConnectionId: change.connection.get(),
                        ullNodeId: node_id,
                        ullNextConnectionId: 0,
                        hrConnectionFailedReason: reason,
                    },
                },
            )
        }
        GraphEvent::IncomingData(data) => {
            let bytes = block.bytes(&data.data);
            (
                PEER_GRAPH_EVENT_INCOMING_DATA,
                PEER_GRAPH_EVENT_DATA_PAYLOAD {
                    incomingData: PEER_EVENT_INCOMING_DATA {
                        dwSize: size_of::<PEER_EVENT_INCOMING_DATA>() as DWORD,
                        ullConnectionId: data.connection.get(),
                        r#type: GUID::from_bytes(data.type_id),
                        data: PEER_DATA {
                            cbData: data.data.len() as ULONG,
                            pbData: bytes,
                        },
                    },
                },
            )
        }
        _ => return None,
    })
}

/// `hrConnectionFailedReason` for a failure, as the sample reads it.
fn failed(reason: &FailReason) -> HRESULT {
    match reason {
        FailReason::Refused => PEER_E_CONNECTION_REFUSED,
        FailReason::NotAuthenticated(_) => PEER_E_CONNECTION_NOT_AUTHENTICATED,
        FailReason::UnsupportedVersion => PEER_E_UNSUPPORTED_VERSION,
        _ => PEER_E_CONNECTION_FAILED,
    }
}

/// The arguments of a dial from C: the graph, the peer id (`None` for a null one) and the
/// address; `Err` with the HRESULT for a bad one.
///
/// # Safety
/// `pwzPeerId` is null or NUL-terminated; `pAddress` is null or points to a `PEER_ADDRESS`.
unsafe fn dial_arguments(
    library: &Library,
    hGraph: HGRAPH,
    pwzPeerId: PCWSTR,
    pAddress: *const PEER_ADDRESS,
    pullConnectionId: *mut ULONGLONG,
) -> Result<(peergraph::GraphHandle, Option<String>, PeerAddress), HRESULT> {
    let graph = graph_of(library, hGraph)?;
    if pAddress.is_null() || pullConnectionId.is_null() {
        return Err(E_INVALIDARG);
    }
    let peer_id = if pwzPeerId.is_null() {
        None
    } else {
        // SAFETY: non-null, and the caller promises a NUL-terminated string.
        Some(unsafe { read_string(pwzPeerId) }.ok_or(E_INVALIDARG)?)
    };
    // SAFETY: non-null, and the caller promises it points to a PEER_ADDRESS.
    let socket = socket_addr(unsafe { &*pAddress }).ok_or(E_INVALIDARG)?;
    Ok((graph, peer_id, PeerAddress::new(socket)))
}

/// Starts a direct connection (`PeerGraphOpenDirectConnection`): its id at once, the outcome as
/// a `PEER_GRAPH_EVENT_DIRECT_CONNECTION` event with that id.
///
/// # Safety
/// `pwzPeerId` is NUL-terminated; `pAddress` points to a `PEER_ADDRESS`; `pullConnectionId` is
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphOpenDirectConnection(
    hGraph: HGRAPH,
    pwzPeerId: PCWSTR,
    pAddress: *const PEER_ADDRESS,
    pullConnectionId: *mut ULONGLONG,
) -> HRESULT {
    with_library(|library| {
        // SAFETY: the caller promises what `dial_arguments` needs.
        let arguments =
            unsafe { dial_arguments(library, hGraph, pwzPeerId, pAddress, pullConnectionId) };
        let (graph, Some(peer_id), address) = (match arguments {
            Ok(arguments) => arguments,
            Err(error) => return error,
        }) else {
            return E_INVALIDARG;
        };
        match library
            .node
            .open_direct_connection(graph, &peer_id, address)
        {
            Ok(connection) => {
                // SAFETY: checked non-null; the caller promises it is writable.
                unsafe { put(pullConnectionId, connection.get()) };
                S_OK
            }
            Err(OpenError::NotInitialized) => PEER_E_NOT_INITIALIZED,
            Err(OpenError::InvalidGraph) => PEER_E_INVALID_GRAPH,
            Err(OpenError::ConnectSelf) => PEER_E_CONNECT_SELF,
            Err(OpenError::InvalidArgument { .. }) => E_INVALIDARG,
            Err(_) => PEER_E_CONNECTION_REFUSED,
        }
    })
}

/// Starts a neighbor connection (`PeerGraphConnect`) to the graph's node at `pAddress`:
/// `pwzPeerId` names the peer expected there, or is null for whichever peer of the graph it is.
/// The id comes at once, the outcome as a `PEER_GRAPH_EVENT_NEIGHBOR_CONNECTION` event with that
/// id; `PEER_E_ALREADY_EXISTS` if a neighbor connection to that address exists.
///
/// # Safety
/// `pwzPeerId` is null or NUL-terminated; `pAddress` points to a `PEER_ADDRESS`;
/// `pullConnectionId` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphConnect(
    hGraph: HGRAPH,
    pwzPeerId: PCWSTR,
    pAddress: *const PEER_ADDRESS,
    pullConnectionId: *mut ULONGLONG,
) -> HRESULT {
    with_library(|library| {
        // SAFETY: the caller promises what `dial_arguments` needs.
        let arguments =
            unsafe { dial_arguments(library, hGraph, pwzPeerId, pAddress, pullConnectionId) };
        let (graph, peer_id, address) = match arguments {
            Ok(arguments) => arguments,
            Err(error) => return error,
        };
        match library.node.connect(graph, peer_id.as_deref(), address) {
            Ok(connection) => {
                // SAFETY: checked non-null; the caller promises it is writable.
                unsafe { put(pullConnectionId, connection.get()) };
                S_OK
            }
            Err(ConnectError::NotInitialized) => PEER_E_NOT_INITIALIZED,
            Err(ConnectError::InvalidGraph) => PEER_E_INVALID_GRAPH,
            Err(ConnectError::AlreadyExists) => PEER_E_ALREADY_EXISTS,
            Err(ConnectError::ConnectSelf) => PEER_E_CONNECT_SELF,
            Err(ConnectError::InvalidArgument { .. }) => E_INVALIDARG,
            Err(_) => PEER_E_CONNECTION_REFUSED,
        }
    })
}

/// Sends a typed message on an established connection (`PeerGraphSendData`). Returns once it is
/// queued, waiting while the connection's send queue is full (flow control); there is no
/// acknowledgement.
///
/// # Safety
/// `pType` points to a `GUID`; `pvData` holds `cbData` readable bytes (it may be null when
/// `cbData` is 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphSendData(
    hGraph: HGRAPH,
    ullConnectionId: ULONGLONG,
    pType: *const GUID,
    cbData: ULONG,
    pvData: *const c_void,
) -> HRESULT {
    boundary(|| {
        let (node, runtime, graph) = {
            let guard = library();
            let Some(library) = guard.as_ref() else {
                return PEER_E_NOT_INITIALIZED;
            };
            let graph = match graph_of(library, hGraph) {
                Ok(graph) => graph,
                Err(error) => return error,
            };
            (
                library.node.clone(),
                library.runtime.handle().clone(),
                graph,
            )
        };
        if pType.is_null() || (pvData.is_null() && cbData != 0) {
            return E_INVALIDARG;
        }
        // SAFETY: non-null, and the caller promises it points to a GUID.
        let type_id = unsafe { *pType }.to_bytes();
        let data = if cbData == 0 {
            Vec::new()
        } else {
            // SAFETY: non-null, and the caller promises `cbData` readable bytes.
            unsafe { std::slice::from_raw_parts(pvData.cast::<u8>(), cbData as usize) }.to_vec()
        };
        let connection = peergraph::ConnectionId::from_raw(ullConnectionId);
        // The library's lock is not held while waiting for room, so other threads go on.
        match runtime.block_on(node.send_data(graph, connection, type_id, data)) {
            Ok(()) => S_OK,
            Err(SendError::NotInitialized) => PEER_E_NOT_INITIALIZED,
            Err(SendError::InvalidGraph) => PEER_E_INVALID_GRAPH,
            Err(SendError::ConnectionNotFound) => PEER_E_CONNECTION_NOT_FOUND,
            Err(_) => E_INVALIDARG,
        }
    })
}

/// Closes a direct connection (`PeerGraphCloseDirectConnection`).
#[unsafe(no_mangle)]
pub extern "C" fn PeerGraphCloseDirectConnection(
    hGraph: HGRAPH,
    ullConnectionId: ULONGLONG,
) -> HRESULT {
    with_library(|library| {
        let graph = match graph_of(library, hGraph) {
            Ok(graph) => graph,
            Err(error) => return error,
        };
        let connection = peergraph::ConnectionId::from_raw(ullConnectionId);
        match library.node.close_direct_connection(graph, connection) {
            Ok(()) => S_OK,
            Err(CloseError::NotInitialized) => PEER_E_NOT_INITIALIZED,
            Err(CloseError::InvalidGraph) => PEER_E_INVALID_GRAPH,
            Err(_) => PEER_E_CONNECTION_NOT_FOUND,
        }
    })
}

/// Lists a graph's connections (`PeerGraphEnumConnections`): `dwFlags` is
/// `PEER_CONNECTION_DIRECT`, `PEER_CONNECTION_NEIGHBOR` or both. A snapshot, read with
/// `PeerGraphGetNextItem` and ended with `PeerGraphEndEnumeration`.
///
/// # Safety
/// `phPeerEnum` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphEnumConnections(
    hGraph: HGRAPH,
    dwFlags: DWORD,
    phPeerEnum: *mut HPEERENUM,
) -> HRESULT {
    with_library(|library| {
        let graph = match graph_of(library, hGraph) {
            Ok(graph) => graph,
            Err(error) => return error,
        };
        let Some(kinds) = ConnectionKinds::from_bits(dwFlags).filter(|kinds| kinds.bits() != 0)
        else {
            return E_INVALIDARG;
        };
        if phPeerEnum.is_null() {
            return E_INVALIDARG;
        }
        let items = match library.node.enum_connections(graph, kinds) {
            Ok(items) => items,
            Err(EnumError::NotInitialized) => return PEER_E_NOT_INITIALIZED,
            Err(EnumError::InvalidGraph) => return PEER_E_INVALID_GRAPH,
            Err(_) => return E_INVALIDARG,
        };
        let handle = library.handle(Kind::Enumeration);
        library
            .enumerations
            .insert(handle, Enumeration { items, next: 0 });
        // SAFETY: checked non-null; the caller promises it is writable.
        unsafe { put(phPeerEnum, handle as HPEERENUM) };
        S_OK
    })
}

/// How many items the enumeration held when it was made (`PeerGraphGetItemCount`).
///
/// # Safety
/// `pCount` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphGetItemCount(
    hPeerEnum: HPEERENUM,
    pCount: *mut ULONG,
) -> HRESULT {
    with_library(|library| {
        if pCount.is_null() {
            return E_INVALIDARG;
        }
        let Some(enumeration) =
            key(hPeerEnum, Kind::Enumeration).and_then(|key| library.enumerations.get(&key))
        else {
            return E_INVALIDARG;
        };
        // SAFETY: checked non-null; the caller promises it is writable.
        unsafe { put(pCount, enumeration.items.len() as ULONG) };
        S_OK
    })
}

/// The next items (`PeerGraphGetNextItem`): `*pCount` in is the most wanted, out the number
/// given (0 at the end, with a null array). Free the array with one `PeerGraphFreeData`.
///
/// # Safety
/// `pCount` is readable and writable; `pppvItems` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphGetNextItem(
    hPeerEnum: HPEERENUM,
    pCount: *mut ULONG,
    pppvItems: *mut *mut *mut c_void,
) -> HRESULT {
    with_library(|library| {
        if pCount.is_null() || pppvItems.is_null() {
            return E_INVALIDARG;
        }
        let Some(enumeration) =
            key(hPeerEnum, Kind::Enumeration).and_then(|key| library.enumerations.get_mut(&key))
        else {
            return E_INVALIDARG;
        };
        // SAFETY: checked non-null; the caller promises it is readable.
        let wanted = unsafe { pCount.read() } as usize;
        let end = enumeration.items.len().min(enumeration.next + wanted);
        let items = &enumeration.items[enumeration.next..end];
        enumeration.next = end;
        if items.is_empty() {
            // SAFETY: checked non-null; the caller promises both are writable.
            unsafe {
                put(pCount, 0);
                put(pppvItems, std::ptr::null_mut());
            }
            return S_OK;
        }
        let mut block = Block::default();
        let connections: Vec<PEER_CONNECTION_INFO> = items
            .iter()
            .map(|info| PEER_CONNECTION_INFO {
                dwSize: size_of::<PEER_CONNECTION_INFO>() as DWORD,
                dwFlags: match info.kind {
                    ConnectionKind::Neighbor => PEER_CONNECTION_NEIGHBOR,
                    _ => PEER_CONNECTION_DIRECT,
                },
                ullConnectionId: info.id.get(),
                ullNodeId: info.node_id.map_or(0, |id| id.get()),
                pwzPeerId: block.string(&info.peer_id),
                address: info.address.map(peer_address).unwrap_or_default(),
            })
            .collect();
        block.connections = connections.into_boxed_slice();
        block.items = block
            .connections
            .iter_mut()
            .map(|info| std::ptr::from_mut(info).cast::<c_void>())
            .collect();
        let array = block.items.as_mut_ptr();
        let count = block.items.len() as ULONG;
        state::hand_out(array.cast(), block);
        // SAFETY: checked non-null; the caller promises both are writable.
        unsafe {
            put(pCount, count);
            put(pppvItems, array);
        }
        S_OK
    })
}

/// Ends an enumeration (`PeerGraphEndEnumeration`).
#[unsafe(no_mangle)]
pub extern "C" fn PeerGraphEndEnumeration(hPeerEnum: HPEERENUM) -> HRESULT {
    with_library(|library| {
        match key(hPeerEnum, Kind::Enumeration).and_then(|key| library.enumerations.remove(&key)) {
            Some(_) => S_OK,
            None => E_INVALIDARG,
        }
    })
}

/// The local node in a graph (`PeerGraphGetNodeInfo` with `ullNodeId` 0 or the local node's
/// id): its node id, peer id and listen address. Other nodes are `PEER_E_NODE_NOT_FOUND` until
/// the graph's node list is provided. Free the block with `PeerGraphFreeData`.
///
/// # Safety
/// `ppNodeInfo` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGraphGetNodeInfo(
    hGraph: HGRAPH,
    ullNodeId: ULONGLONG,
    ppNodeInfo: *mut *mut PEER_NODE_INFO,
) -> HRESULT {
    with_library(|library| {
        let graph = match graph_of(library, hGraph) {
            Ok(graph) => graph,
            Err(error) => return error,
        };
        if ppNodeInfo.is_null() {
            return E_INVALIDARG;
        }
        let info = match library.node.node_info(graph) {
            Ok(info) => info,
            Err(HandleError::NotInitialized) => return PEER_E_NOT_INITIALIZED,
            Err(_) => return PEER_E_INVALID_GRAPH,
        };
        if ullNodeId != 0 && ullNodeId != info.node_id.get() {
            return PEER_E_NODE_NOT_FOUND;
        }
        let mut block = Block {
            addresses: library
                .node
                .local_addr()
                .map(peer_address)
                .into_iter()
                .collect(),
            ..Block::default()
        };
        let mut node = Box::new(PEER_NODE_INFO {
            dwSize: size_of::<PEER_NODE_INFO>() as DWORD,
            ullNodeId: info.node_id.get(),
            pwzPeerId: block.string(&info.peer_id),
            cAddresses: block.addresses.len() as ULONG,
            pAddresses: if block.addresses.is_empty() {
                std::ptr::null_mut()
            } else {
                block.addresses.as_mut_ptr()
            },
            pwzAttributes: std::ptr::null_mut(),
        });
        let pointer: *mut PEER_NODE_INFO = &mut *node;
        block.node = Some(node);
        state::hand_out(pointer.cast(), block);
        // SAFETY: checked non-null; the caller promises it is writable.
        unsafe { put(ppNodeInfo, pointer) };
        S_OK
    })
}

/// Frees a block this library returned (`PeerGraphFreeData`): an event, an item array or node
/// information. A null pointer, a block freed already, or a pointer the library did not hand
/// out is ignored.
#[unsafe(no_mangle)]
pub extern "C" fn PeerGraphFreeData(pvData: *mut c_void) {
    let _ = boundary(|| {
        if !pvData.is_null() {
            state::free(pvData);
        }
        S_OK
    });
}

/// `PeerGetNextItem`, `P2P.dll`'s twin of [`PeerGraphGetNextItem`].
///
/// # Safety
/// As [`PeerGraphGetNextItem`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGetNextItem(
    hPeerEnum: HPEERENUM,
    pCount: *mut ULONG,
    pppvItems: *mut *mut *mut c_void,
) -> HRESULT {
    // SAFETY: the caller promises what PeerGraphGetNextItem needs.
    unsafe { PeerGraphGetNextItem(hPeerEnum, pCount, pppvItems) }
}

/// `PeerGetItemCount`, the twin of [`PeerGraphGetItemCount`].
///
/// # Safety
/// As [`PeerGraphGetItemCount`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PeerGetItemCount(hPeerEnum: HPEERENUM, pCount: *mut ULONG) -> HRESULT {
    // SAFETY: the caller promises what PeerGraphGetItemCount needs.
    unsafe { PeerGraphGetItemCount(hPeerEnum, pCount) }
}

/// `PeerEndEnumeration`, the twin of [`PeerGraphEndEnumeration`].
#[unsafe(no_mangle)]
pub extern "C" fn PeerEndEnumeration(hPeerEnum: HPEERENUM) -> HRESULT {
    PeerGraphEndEnumeration(hPeerEnum)
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

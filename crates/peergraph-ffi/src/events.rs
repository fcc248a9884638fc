//! Event registrations: the descriptor C polls, and the events it takes.

use peergraph::{
    ConnectionStatus, EventType, FailReason, GraphEvent, NodeChangeKind, RecordChangeKind,
    RegisterError,
};

use crate::abi::*;
use crate::convert::put;
use crate::state::{self, Block, Handoff, Kind, RecordTypes, Registration, key};
use crate::{graph_of, with_library};

/// Registers for events (`PeerGraphRegisterEvent`): `hEvent` carries a file descriptor (see the
/// crate documentation) that becomes readable while events are queued. An entry for
/// `PEER_GRAPH_EVENT_RECORD_CHANGED` or `PEER_GRAPH_EVENT_SYNCHRONIZED` with a non-null `pType`
/// takes only the events about records of that type (several entries of one event type take
/// each of their types; one with a null `pType` takes all); `pType` is ignored for the other
/// event types. `PEER_GRAPH_EVENT_PROPERTY_CHANGED` occurs on every node of the graph whenever
/// a member sets the graph's properties (`PeerGraphSetProperties`, and the first properties
/// `PeerGraphCreate` writes, which a node that joins later receives as it synchronizes); it
/// carries no payload: read them with `PeerGraphGetProperties`.
///
/// # Safety
/// `pEventRegistrations` points to `cEventRegistration` structures, each `pType` null or
/// pointing to a `GUID`; `phPeerEvent` is writable.
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
        let mut record_types = RecordTypes {
            changed: Some(Vec::new()),
            synchronized: Some(Vec::new()),
        };
        for registration in registrations {
            let filter = if registration.pType.is_null() {
                None
            } else {
                // SAFETY: non-null, and the caller promises it points to a GUID.
                Some(unsafe { *registration.pType }.to_bytes())
            };
            match registration.eventType {
                PEER_GRAPH_EVENT_RECORD_CHANGED => {
                    RecordTypes::add(&mut record_types.changed, filter)
                }
                PEER_GRAPH_EVENT_SYNCHRONIZED => {
                    RecordTypes::add(&mut record_types.synchronized, filter);
                }
                _ => {}
            }
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
        let handoff = Handoff::new(fd, record_types);
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
        GraphEvent::NodeChanged(change) => (
            PEER_GRAPH_EVENT_NODE_CHANGED,
            PEER_GRAPH_EVENT_DATA_PAYLOAD {
                nodeChangeData: PEER_EVENT_NODE_CHANGE_DATA {
                    dwSize: size_of::<PEER_EVENT_NODE_CHANGE_DATA>() as DWORD,
                    changeType: match change.change {
                        NodeChangeKind::Connected => PEER_NODE_CHANGE_CONNECTED,
                        NodeChangeKind::Disconnected => PEER_NODE_CHANGE_DISCONNECTED,
                        NodeChangeKind::Updated => PEER_NODE_CHANGE_UPDATED,
                    },
                    ullNodeId: change.node_id.get(),
                    pwzPeerId: block.string(&change.peer_id),
                },
            },
        ),
        GraphEvent::RecordChanged(change) => (
            PEER_GRAPH_EVENT_RECORD_CHANGED,
            PEER_GRAPH_EVENT_DATA_PAYLOAD {
                recordChangeData: PEER_EVENT_RECORD_CHANGE_DATA {
                    dwSize: size_of::<PEER_EVENT_RECORD_CHANGE_DATA>() as DWORD,
                    changeType: match change.change {
                        RecordChangeKind::Added => PEER_RECORD_ADDED,
                        RecordChangeKind::Updated => PEER_RECORD_UPDATED,
                        RecordChangeKind::Deleted => PEER_RECORD_DELETED,
                        RecordChangeKind::Expired => PEER_RECORD_EXPIRED,
                    },
                    recordId: GUID::from_bytes(*change.record_id.as_bytes()),
                    recordType: GUID::from_bytes(change.record_type),
                },
            },
        ),
        GraphEvent::Synchronized { record_type } => (
            PEER_GRAPH_EVENT_SYNCHRONIZED,
            PEER_GRAPH_EVENT_DATA_PAYLOAD {
                synchronizedData: PEER_EVENT_SYNCHRONIZED_DATA {
                    dwSize: size_of::<PEER_EVENT_SYNCHRONIZED_DATA>() as DWORD,
                    recordType: GUID::from_bytes(*record_type),
                },
            },
        ),
        GraphEvent::ConnectionRequired | GraphEvent::PropertyChanged => (
            match event {
                GraphEvent::PropertyChanged => PEER_GRAPH_EVENT_PROPERTY_CHANGED,
                _ => PEER_GRAPH_EVENT_CONNECTION_REQUIRED,
            },
            // SAFETY: the union's members are integers, GUIDs and raw pointers, for which all
            // zero bytes are valid (zero, and null): no payload reads as zeroes.
            unsafe { std::mem::zeroed::<PEER_GRAPH_EVENT_DATA_PAYLOAD>() },
        ),
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

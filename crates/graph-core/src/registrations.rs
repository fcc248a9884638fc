//! Event registrations: which event types each wants, its queue of events, and the list of
//! registrations that have events for the driver to report.

use std::collections::VecDeque;

use crate::config::Limits;
use crate::error::EventError;
use crate::event::{EventType, GraphEvent};
use crate::ids::{GraphHandle, RegistrationHandle};
use crate::slots::Slots;

struct Registration {
    graph: GraphHandle,
    mask: u16,
    queue: VecDeque<GraphEvent>,
    /// Payload bytes of the queued `IncomingData` events.
    queued_bytes: usize,
    dropped: u64,
    /// Whether the registration is in the ready list.
    ready: bool,
}

/// The bounds of each registration's event queue.
struct QueueLimits {
    events: usize,
    bytes: usize,
}

impl Registration {
    fn wants(&self, kind: EventType) -> bool {
        self.mask & kind.bit() != 0
    }

    /// Queues `event` within `limits`; returns whether the registration just became ready.
    ///
    /// Losing a connection event would leave the application wrong about which connections
    /// exist, so they are never dropped. They stay bounded all the same: while a registration
    /// for them is full, the graph admits and opens no new connection (see
    /// [`Registrations::backlogged`]), so only live connections can add to it, two events each.
    fn push(&mut self, event: GraphEvent, limits: &QueueLimits) -> bool {
        let bytes = match &event {
            GraphEvent::IncomingData(data) => data.data.len(),
            _ => 0,
        };
        let full = self.queue.len() >= limits.events
            || (self.queued_bytes > 0 && self.queued_bytes + bytes > limits.bytes);
        if full && !matches!(event, GraphEvent::DirectConnection(_)) {
            self.dropped += 1;
            return false;
        }
        self.queued_bytes += bytes;
        if self.dropped > 0 {
            let count = std::mem::take(&mut self.dropped);
            self.queue.push_back(GraphEvent::EventsDropped { count });
        }
        self.queue.push_back(event);
        !std::mem::replace(&mut self.ready, true)
    }

    fn pop(&mut self) -> Option<GraphEvent> {
        let event = self.queue.pop_front()?;
        if let GraphEvent::IncomingData(data) = &event {
            self.queued_bytes -= data.data.len();
        }
        Some(event)
    }
}

/// Every registration of the node, under generation-checked handles.
pub(crate) struct Registrations {
    slots: Slots<Registration>,
    /// Registrations with events the driver has not been told of yet.
    ready: VecDeque<RegistrationHandle>,
    limits: QueueLimits,
}

impl Registrations {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            slots: Slots::new(),
            ready: VecDeque::new(),
            limits: QueueLimits {
                events: limits.max_queued_events_per_registration,
                bytes: limits.max_queued_event_bytes_per_registration,
            },
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// A registration of `graph` for the event types of `event_types`.
    pub(crate) fn insert(
        &mut self,
        graph: GraphHandle,
        event_types: &[EventType],
    ) -> RegistrationHandle {
        let mask = event_types.iter().fold(0, |mask, kind| mask | kind.bit());
        RegistrationHandle(self.slots.insert(Registration {
            graph,
            mask,
            queue: VecDeque::new(),
            queued_bytes: 0,
            dropped: 0,
            ready: false,
        }))
    }

    /// Ends a registration, dropping its queued events; returns its graph.
    pub(crate) fn remove(&mut self, handle: RegistrationHandle) -> Option<GraphHandle> {
        self.slots
            .remove(handle.0)
            .map(|registration| registration.graph)
    }

    /// The oldest queued event of a registration; `Ok(None)` when there is none.
    pub(crate) fn take_event(
        &mut self,
        handle: RegistrationHandle,
    ) -> Result<Option<GraphEvent>, EventError> {
        let registration = self
            .slots
            .get_mut(handle.0)
            .ok_or(EventError::InvalidRegistration)?;
        if let Some(event) = registration.pop() {
            return Ok(Some(event));
        }
        if registration.dropped > 0 {
            let count = std::mem::take(&mut registration.dropped);
            return Ok(Some(GraphEvent::EventsDropped { count }));
        }
        Ok(None)
    }

    /// Moves up to `limit` queued events of a registration to the end of `events`; returns how
    /// many were moved.
    pub(crate) fn take_events(
        &mut self,
        handle: RegistrationHandle,
        events: &mut Vec<GraphEvent>,
        limit: usize,
    ) -> Result<usize, EventError> {
        let registration = self
            .slots
            .get_mut(handle.0)
            .ok_or(EventError::InvalidRegistration)?;
        let count = limit.min(registration.queue.len());
        events.reserve(count);
        for _ in 0..count {
            events.extend(registration.pop());
        }
        if count < limit && registration.dropped > 0 {
            let dropped = std::mem::take(&mut registration.dropped);
            events.push(GraphEvent::EventsDropped { count: dropped });
            return Ok(count + 1);
        }
        Ok(count)
    }

    /// Queues `event` on every registration of `list` that asked for `kind`.
    pub(crate) fn emit(&mut self, list: &[RegistrationHandle], kind: EventType, event: GraphEvent) {
        // One pass: each registration that wants the event gets a copy once the next one that
        // wants it is found, and the last one gets the event itself.
        let mut wanting: Option<RegistrationHandle> = None;
        for handle in list {
            let wants = self
                .slots
                .get(handle.0)
                .is_some_and(|registration| registration.wants(kind));
            if !wants {
                continue;
            }
            if let Some(previous) = wanting.replace(*handle) {
                self.deliver(previous, event.clone());
            }
        }
        if let Some(last) = wanting {
            self.deliver(last, event);
        }
    }

    /// Queues `event` on the registration `handle` and lists it as ready if it was not.
    fn deliver(&mut self, handle: RegistrationHandle, event: GraphEvent) {
        let Some(registration) = self.slots.get_mut(handle.0) else {
            return;
        };
        if registration.push(event, &self.limits) {
            self.ready.push_back(handle);
        }
    }

    /// Whether a registration of `list` that takes connection events is full: the application
    /// is not reading them, so the graph takes no new connection until it does.
    pub(crate) fn backlogged(&self, list: &[RegistrationHandle]) -> bool {
        list.iter().any(|handle| {
            self.slots.get(handle.0).is_some_and(|registration| {
                registration.wants(EventType::DirectConnection)
                    && registration.queue.len() >= self.limits.events
            })
        })
    }

    /// Whether any live registration of `list` asked for `kind`.
    pub(crate) fn any_wants(&self, list: &[RegistrationHandle], kind: EventType) -> bool {
        list.iter().any(|handle| {
            self.slots
                .get(handle.0)
                .is_some_and(|registration| registration.wants(kind))
        })
    }

    /// A registration with events to take. Each is returned once until it is drained and new
    /// events arrive.
    pub(crate) fn poll_ready(&mut self) -> Option<RegistrationHandle> {
        while let Some(handle) = self.ready.pop_front() {
            if let Some(registration) = self.slots.get_mut(handle.0) {
                registration.ready = false;
                return Some(handle);
            }
        }
        None
    }
}

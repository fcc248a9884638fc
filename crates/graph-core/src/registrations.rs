//! Event registrations: which event types each wants, its queue of events, and the list of
//! registrations that have events for the driver to report.

use std::collections::VecDeque;

use crate::config::Limits;
use crate::error::EventError;
use crate::event::{EventType, GraphEvent};
use crate::ids::{ConnectionId, GraphHandle, RegistrationHandle};
use crate::slots::Slots;

struct Registration {
    graph: GraphHandle,
    mask: u16,
    queue: VecDeque<GraphEvent>,
    /// Whether the registration is in the ready list.
    ready: bool,
}

impl Registration {
    fn wants(&self, kind: EventType) -> bool {
        self.mask & kind.bit() != 0
    }

    /// Queues `event`; returns whether the registration just became ready.
    ///
    /// Nothing is ever dropped, and the queue is bounded all the same: `IncomingData` by each
    /// connection's receive window (the node stops reading a link whose window is full), and
    /// connection events by the live connections, two each (while a registration for them holds
    /// [`QueueLimits::events`] or more, the graph admits and opens no new connection: see
    /// [`Registrations::backlogged`]).
    fn push(&mut self, event: GraphEvent) -> bool {
        self.queue.push_back(event);
        !std::mem::replace(&mut self.ready, true)
    }
}

/// The bound past which a registration counts as backlogged.
struct QueueLimits {
    events: usize,
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
            ready: false,
        }))
    }

    /// Ends a registration; returns its graph and the events it still held.
    pub(crate) fn remove(
        &mut self,
        handle: RegistrationHandle,
    ) -> Option<(GraphHandle, VecDeque<GraphEvent>)> {
        self.slots
            .remove(handle.0)
            .map(|registration| (registration.graph, registration.queue))
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
        Ok(registration.queue.pop_front())
    }

    /// The connection and payload length of the registration's oldest event, if it is
    /// `IncomingData`.
    #[inline]
    pub(crate) fn data_in_front(
        &self,
        handle: RegistrationHandle,
    ) -> Option<(ConnectionId, usize)> {
        match self.slots.get(handle.0)?.queue.front()? {
            GraphEvent::IncomingData(data) => Some((data.connection, data.data.len())),
            _ => None,
        }
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
        events.extend(registration.queue.drain(..count));
        Ok(count)
    }

    /// Queues `event` on every registration of `list` that asked for `kind`; returns how many
    /// copies were queued.
    pub(crate) fn emit(
        &mut self,
        list: &[RegistrationHandle],
        kind: EventType,
        event: GraphEvent,
    ) -> usize {
        // One pass: each registration that wants the event gets a copy once the next one that
        // wants it is found, and the last one gets the event itself.
        let mut wanting: Option<RegistrationHandle> = None;
        let mut copies = 0;
        for handle in list {
            let wants = self
                .slots
                .get(handle.0)
                .is_some_and(|registration| registration.wants(kind));
            if !wants {
                continue;
            }
            copies += 1;
            if let Some(previous) = wanting.replace(*handle) {
                self.deliver(previous, event.clone());
            }
        }
        if let Some(last) = wanting {
            self.deliver(last, event);
        }
        copies
    }

    /// Queues `event` on the registration `handle` and lists it as ready if it was not.
    fn deliver(&mut self, handle: RegistrationHandle, event: GraphEvent) {
        let Some(registration) = self.slots.get_mut(handle.0) else {
            return;
        };
        if registration.push(event) {
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

    /// Whether a registration has events the driver has not been told of.
    pub(crate) fn has_ready(&self) -> bool {
        !self.ready.is_empty()
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

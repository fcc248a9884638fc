//! Event registrations as async streams.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use peergraph_core::{EventError, GraphEvent, RegistrationHandle};

use crate::driver::Shared;

/// The events of one registration, in order (`PeerGraphGetEventData` as a stream).
///
/// Ends (yields `None`) once the registration is gone: unregistered, its graph closed, or the
/// node shut down. Dropping it unregisters.
pub struct EventStream {
    shared: Arc<Shared>,
    registration: RegistrationHandle,
}

impl EventStream {
    pub(crate) fn new(shared: Arc<Shared>, registration: RegistrationHandle) -> Self {
        Self {
            shared,
            registration,
        }
    }

    /// The core handle of this registration.
    pub fn handle(&self) -> RegistrationHandle {
        self.registration
    }

    /// The next event, waiting for one; `None` once the registration is gone.
    pub async fn next(&mut self) -> Option<GraphEvent> {
        std::future::poll_fn(|cx| self.poll_event(cx)).await
    }

    /// Waits for at least one event, then moves up to `limit` queued events, in order, to the
    /// end of `events`, and returns how many (like tokio's `mpsc::Receiver::recv_many`): the
    /// same events as that many [`next`](Self::next) calls, for one lock. Returns 0 once the
    /// registration is gone, or at once if `limit` is 0.
    pub async fn next_batch(&mut self, events: &mut Vec<GraphEvent>, limit: usize) -> usize {
        std::future::poll_fn(|cx| self.poll_batch(cx, events, limit)).await
    }

    /// The next event if one is queued (`Ok(None)` if not), without waiting.
    pub fn try_next(&mut self) -> Result<Option<GraphEvent>, EventError> {
        self.shared.lock().node.take_event(self.registration)
    }

    /// Ends the registration (`PeerGraphUnregisterEvent`); queued events are dropped.
    pub fn unregister(self) -> Result<(), EventError> {
        let mut state = self.shared.lock();
        state.wakers.remove(&self.registration);
        state.node.unregister_event(self.registration)
    }

    fn poll_event(&self, cx: &mut Context<'_>) -> Poll<Option<GraphEvent>> {
        let mut state = self.shared.lock();
        match state.node.take_event(self.registration) {
            Ok(Some(event)) => Poll::Ready(Some(event)),
            Ok(None) => {
                state.wakers.insert(self.registration, cx.waker().clone());
                Poll::Pending
            }
            Err(_) => Poll::Ready(None),
        }
    }
}

impl EventStream {
    fn poll_batch(
        &self,
        cx: &mut Context<'_>,
        events: &mut Vec<GraphEvent>,
        limit: usize,
    ) -> Poll<usize> {
        if limit == 0 {
            return Poll::Ready(0);
        }
        let mut state = self.shared.lock();
        match state.node.take_events(self.registration, events, limit) {
            Ok(0) => {
                state.wakers.insert(self.registration, cx.waker().clone());
                Poll::Pending
            }
            Ok(count) => Poll::Ready(count),
            Err(_) => Poll::Ready(0),
        }
    }
}

impl Stream for EventStream {
    type Item = GraphEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_event(cx)
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.wakers.remove(&self.registration);
        // Already gone when unregistered, closed with its graph, or shut down.
        let _ = state.node.unregister_event(self.registration);
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("registration", &self.registration)
            .finish()
    }
}

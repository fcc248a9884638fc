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

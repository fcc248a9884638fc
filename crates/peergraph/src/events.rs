//! Event registrations as async streams.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use peergraph_core::{EventError, GraphEvent, Node, RegistrationHandle};

use crate::driver::Shared;
use crate::link::LinkCell;

/// Rounds of reading links one poll of a stream makes before it lets other tasks run.
const MAX_READ_ROUNDS: usize = 8;

/// The events of one registration, in order (`PeerGraphGetEventData` as a stream).
///
/// Ends (yields `None`) once the registration is gone: unregistered, its graph closed, or the
/// node shut down. Dropping it unregisters.
///
/// While a task waits in [`next`](Self::next) or [`next_batch`](Self::next_batch), it also reads
/// the node's links that have data, instead of waiting for the links' tasks to do it and wake
/// it: one task fewer between the socket and the application. A `next` future kept pending but
/// not polled (set aside while its task awaits something else) can therefore hold up the
/// reading of a link until it is polled again or dropped, or at the latest until the node's
/// next timer fires (a keepalive, at most [`Timeouts::keepalive`] away); a dropped one holds up
/// nothing. Polled as a [`Stream`], it only waits.
///
/// [`Timeouts::keepalive`]: peergraph_core::Timeouts::keepalive
pub struct EventStream {
    shared: Arc<Shared>,
    registration: RegistrationHandle,
    /// Links handed to this stream to read, reused between polls.
    ready: Vec<Arc<LinkCell>>,
    /// This stream is recorded as waiting for links to read.
    waiting: bool,
}

impl EventStream {
    pub(crate) fn new(shared: Arc<Shared>, registration: RegistrationHandle) -> Self {
        Self {
            shared,
            registration,
            ready: Vec::new(),
            waiting: false,
        }
    }

    /// The core handle of this registration.
    pub fn handle(&self) -> RegistrationHandle {
        self.registration
    }

    /// The next event, waiting for one; `None` once the registration is gone.
    pub async fn next(&mut self) -> Option<GraphEvent> {
        let stream = StopWaitingOnDrop(self);
        std::future::poll_fn(|cx| {
            stream
                .0
                .poll_take(cx, |node, registration| node.take_event(registration))
                .map(|event| event.ok().flatten())
        })
        .await
    }

    /// Waits for at least one event, then moves up to `limit` queued events, in order, to the
    /// end of `events`, and returns how many (like tokio's `mpsc::Receiver::recv_many`): the
    /// same events as that many [`next`](Self::next) calls, for one lock. Returns 0 once the
    /// registration is gone, or at once if `limit` is 0.
    pub async fn next_batch(&mut self, events: &mut Vec<GraphEvent>, limit: usize) -> usize {
        if limit == 0 {
            return 0;
        }
        let stream = StopWaitingOnDrop(self);
        std::future::poll_fn(|cx| {
            stream
                .0
                .poll_take(cx, |node, registration| {
                    match node.take_events(registration, events, limit) {
                        Ok(0) => Ok(None),
                        Ok(count) => Ok(Some(count)),
                        Err(error) => Err(error),
                    }
                })
                .map(|count| count.ok().flatten().unwrap_or(0))
        })
        .await
    }

    /// The next event if one is queued (`Ok(None)` if not), without waiting.
    pub fn try_next(&mut self) -> Result<Option<GraphEvent>, EventError> {
        let registration = self.registration;
        self.shared.take(&mut self.shared.lock(), |node| {
            node.take_event(registration)
        })
    }

    /// Ends the registration (`PeerGraphUnregisterEvent`); queued events are dropped.
    pub fn unregister(self) -> Result<(), EventError> {
        let mut state = self.shared.lock();
        state.wakers.remove(&self.registration);
        self.shared
            .take(&mut state, |node| node.unregister_event(self.registration))
    }

    /// Takes what `take` finds for this registration; while it finds nothing, reads the links
    /// handed to this stream, then waits for an event or a link to read.
    /// `Ready(Err)` once the registration is gone.
    fn poll_take<T>(
        &mut self,
        cx: &mut Context<'_>,
        mut take: impl FnMut(&mut Node, RegistrationHandle) -> Result<Option<T>, EventError>,
    ) -> Poll<Result<Option<T>, EventError>> {
        for _ in 0..MAX_READ_ROUNDS {
            let taken = {
                let mut state = self.shared.lock();
                // This task is running: an event the reads below queue for it must not wake
                // it again (a wake of a running task reschedules it, possibly on another
                // thread).
                state.wakers.remove(&self.registration);
                let registration = self.registration;
                self.shared
                    .take(&mut state, |node| take(node, registration))
            };
            if !matches!(taken, Ok(None)) {
                self.stop_waiting();
                return Poll::Ready(taken);
            }
            if !self.ready.is_empty()
                || self
                    .shared
                    .waiters
                    .take_or_wait(self.registration, cx.waker(), &mut self.ready)
            {
                self.waiting = false;
                // One link per round, so an event for this stream is taken as soon as there is
                // one rather than after every link handed over has been read.
                if let Some(cell) = self.ready.pop() {
                    // A link that is gone or driven by another task needs nothing more here.
                    let _ = self.shared.drive(&cell);
                }
                continue;
            }
            self.waiting = true;
            // Recorded as waiting for a link: now for an event too, checking again for one
            // that came meanwhile.
            let mut state = self.shared.lock();
            let registration = self.registration;
            let taken = self
                .shared
                .take(&mut state, |node| take(node, registration));
            if matches!(taken, Ok(None)) {
                state.wakers.insert(self.registration, cx.waker().clone());
                return Poll::Pending;
            }
            drop(state);
            self.stop_waiting();
            return Poll::Ready(taken);
        }
        // Links keep this task busy without an event for it: let other tasks run first, and pass
        // on the links not read yet, so that none waits on this task (nor escapes the timer's
        // rescue, which only sees the node's list) if it is not polled again soon.
        for cell in self.ready.drain(..) {
            cell.pass_on();
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// No longer waiting (an event came, or the wait was given up): links handed to this
    /// stream and not read go to another reader.
    fn stop_waiting(&mut self) {
        if std::mem::take(&mut self.waiting) {
            self.shared.waiters.stop_waiting(self.registration);
        }
        for cell in self.ready.drain(..) {
            cell.pass_on();
        }
    }
}

/// Gives up the wait of a stream whose `next` or `next_batch` ended, or was dropped pending.
struct StopWaitingOnDrop<'a>(&'a mut EventStream);

impl Drop for StopWaitingOnDrop<'_> {
    fn drop(&mut self) {
        self.0.stop_waiting();
    }
}

impl Stream for EventStream {
    type Item = GraphEvent;

    /// Waits for the next event without reading links itself (see the type's documentation):
    /// a stream polled through this trait cannot tell when its caller gives up the wait.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut state = self.shared.lock();
        let registration = self.registration;
        match self
            .shared
            .take(&mut state, |node| node.take_event(registration))
        {
            Ok(Some(event)) => Poll::Ready(Some(event)),
            Ok(None) => {
                state.wakers.insert(self.registration, cx.waker().clone());
                Poll::Pending
            }
            Err(_) => Poll::Ready(None),
        }
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.stop_waiting();
        let mut state = self.shared.lock();
        state.wakers.remove(&self.registration);
        // Already gone when unregistered, closed with its graph, or shut down.
        let registration = self.registration;
        let _ = self
            .shared
            .take(&mut state, |node| node.unregister_event(registration));
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("registration", &self.registration)
            .finish()
    }
}

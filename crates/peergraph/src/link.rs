//! One link's I/O in one place: a [`LinkDriver`] owns both halves of the link, what is left to
//! write and the close deadline, and sits in a [`LinkCell`] that any task may drive.
//!
//! Who drives a link: its own task (which dialed or accepted it and then goes on as its task),
//! a task waiting on an [`EventStream`](crate::EventStream) (the link had data for it: one task
//! fewer between the socket and the application), or a task that queued frames on it
//! ("write-through": one task fewer between a send and the socket). Whoever it is takes the
//! driver with one `try_lock`; a task that finds it taken leaves, because the holder drives the
//! link again before it leaves if a wake came meanwhile (`pending`), so no wake is lost.
//!
//! One waker serves every driver of a link: the [`LinkWake`] registered with the socket or
//! stream. Woken, it hands the link to a waiting event stream if there is one, else to the
//! link's task. It refers to its cell weakly: a socket or stream keeps its waker, and the cell
//! must not outlive the link (nor be dropped inside a transport's wake-up, which may hold the
//! lock that dropping the link's halves takes).

use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use peergraph_core::{LinkId, Node, RegistrationHandle, Transmit};
use peergraph_transport::{Link, LinkError, LinkReader, LinkWriter};
use tokio::sync::Notify;
use tokio::time::Sleep;
use tracing::Span;

/// One link, shared by the node's table, its task and the tasks that drive it inline.
pub(crate) struct LinkCell {
    pub(crate) id: LinkId,
    /// `None` once the link has ended and its halves are dropped.
    driver: Mutex<Option<LinkDriver>>,
    wake: Arc<LinkWake>,
    pub(crate) span: Span,
}

/// The waker of a link's socket or stream, and the flags that say a link needs driving.
struct LinkWake {
    cell: Weak<LinkCell>,
    /// Set by every wake, cleared by the driver that takes the lock: a driver leaving the lock
    /// drives again if it is set.
    pending: AtomicBool,
    /// The node has news for the link (frames to send, a close, a resume): its driver takes the
    /// node's lock on its next turn even if the peer sent nothing.
    told: AtomicBool,
    /// Wakes the link's task.
    task: Notify,
    waiters: Arc<Waiters>,
}

/// The link's halves and what its turns remember between them.
pub(crate) struct LinkDriver {
    reader: LinkReader,
    writer: LinkWriter,
    /// The link's connection is recorded in its span (an inbound link learns it from the Hello).
    pub(crate) named: bool,
    /// The handshake is done and the reader takes frames up to the full limit.
    lifted: bool,
    /// The connection's receive window is full: the link is not read until the node resumes it.
    pub(crate) held: bool,
    /// Frames arrived since the last write-through. Writing through serves replies: a run of
    /// sends with nothing received between them is a stream, which the link's task batches into
    /// fewer writes (one write per message would cost more than the task it saves).
    pub(crate) armed: bool,
    /// The node may have frames for the link that have not been taken yet.
    pub(crate) more: bool,
    /// The node closed the link (as of the last look at its table).
    pub(crate) closing: bool,
    /// The node closed the link: it gets until this deadline to write what is left and close.
    close_by: Option<Pin<Box<Sleep>>>,
}

/// What a look at the close found.
pub(crate) enum Closing {
    /// The link is open, or still writing what it has.
    No,
    /// Shut down cleanly, or the deadline passed (true) first.
    Done { timed_out: bool },
    /// Shutting down failed.
    Failed(LinkError),
}

impl LinkDriver {
    /// Writes what is queued. `Ok` also while the socket cannot take it yet (the link's waker
    /// is registered).
    pub(crate) fn poll_send(&mut self, cx: &mut Context<'_>) -> Result<(), LinkError> {
        match self.writer.poll_send(cx) {
            Poll::Ready(result) => result,
            Poll::Pending => Ok(()),
        }
    }

    /// Everything queued is written and flushed.
    pub(crate) fn writer_idle(&self) -> bool {
        self.writer.is_idle()
    }

    /// Queues frames taken from the node, after what is left to write.
    pub(crate) fn queue(&mut self, frames: &[Transmit]) -> Result<(), LinkError> {
        self.writer.queue_frames(frames)
    }

    /// The next frame from the peer, unless the link is held. `Ready(Ok(None))`: the peer ended
    /// its side cleanly.
    pub(crate) fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Bytes>, LinkError>> {
        if self.held {
            return Poll::Pending;
        }
        self.reader.poll_read_frame(cx)
    }

    /// A frame that arrived with the last one, if the link is not held.
    pub(crate) fn buffered_frame(&mut self) -> Option<Bytes> {
        if self.held {
            return None;
        }
        self.reader.buffered_frame()
    }

    /// Ends this side of the link cleanly (what is queued, then TLS close_notify or QUIC FIN) as
    /// far as the socket takes it in one try, without waiting for the peer to confirm it.
    pub(crate) fn end_now(&mut self, cx: &mut Context<'_>) {
        let _ = self.writer.poll_close(cx);
    }

    /// Hands `frame` to the node; once the frame has completed the handshake, lets the reader
    /// take full-sized frames, before the next frame is taken from its buffer. Holds the link if
    /// its connection's window is full.
    pub(crate) fn handle(&mut self, node: &mut Node, now: Instant, link: LinkId, frame: Bytes) {
        node.handle_frame(now, link, frame);
        if !self.lifted && node.max_frame_len(link) > node.config().limits.max_handshake_frame_len {
            self.reader.lift_frame_limit();
            self.lifted = true;
        }
        self.held = !node.link_readable(link);
    }

    /// Once the node has closed the link, closes it when everything is written: `timeout`
    /// bounds what is left of the writing and the close, from the first call.
    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>, timeout: Duration) -> Closing {
        if !self.closing {
            return Closing::No;
        }
        // Boxed: rare, and its timer would otherwise size every link.
        let deadline = self
            .close_by
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if deadline.as_mut().poll(cx).is_ready() {
            return Closing::Done { timed_out: true };
        }
        if self.more {
            return Closing::No;
        }
        match self.writer.poll_close(cx) {
            Poll::Pending => Closing::No,
            Poll::Ready(Ok(())) => Closing::Done { timed_out: false },
            Poll::Ready(Err(error)) => Closing::Failed(error),
        }
    }
}

impl LinkCell {
    /// The cell of an authenticated link, told that the node has frames for it (its first).
    pub(crate) fn new(
        id: LinkId,
        link: Link,
        named: bool,
        waiters: Arc<Waiters>,
        span: Span,
    ) -> Arc<Self> {
        Arc::new_cyclic(|cell| Self {
            id,
            driver: Mutex::new(Some(LinkDriver {
                reader: link.reader,
                writer: link.writer,
                named,
                lifted: false,
                held: false,
                armed: true,
                more: true,
                closing: false,
                close_by: None,
            })),
            wake: Arc::new(LinkWake {
                cell: cell.clone(),
                pending: AtomicBool::new(true),
                told: AtomicBool::new(true),
                task: Notify::new(),
                waiters,
            }),
            span,
        })
    }

    /// The driver, unless another task holds it.
    pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, Option<LinkDriver>>> {
        let guard = try_lock(&self.driver)?;
        // Whatever woke the link is this holder's to see.
        self.wake.pending.store(false, Ordering::SeqCst);
        Some(guard)
    }

    /// The waker to drive the link with, whichever task drives it.
    pub(crate) fn waker(&self) -> Waker {
        Waker::from(self.wake.clone())
    }

    /// Whether a wake came since the driver was last taken.
    pub(crate) fn pending(&self) -> bool {
        self.wake.pending.load(Ordering::SeqCst)
    }

    /// Takes the node's news, if any (see [`LinkWake::told`]).
    pub(crate) fn take_told(&self) -> bool {
        self.wake.told.swap(false, Ordering::SeqCst)
    }

    /// The node has news for the link: whoever drives it next takes the node's lock. The
    /// caller drives the link itself, or wakes its task ([`Self::wake_task`]), if this returns
    /// true; false: it was told before, and whoever told it then does.
    pub(crate) fn tell(&self) -> bool {
        self.wake.pending.store(true, Ordering::SeqCst);
        !self.wake.told.swap(true, Ordering::SeqCst)
    }

    /// Wakes the link's task to drive it.
    pub(crate) fn wake_task(&self) {
        self.wake.pending.store(true, Ordering::SeqCst);
        self.wake.task.notify_one();
    }

    /// Passes the link on to another driver: a waiting stream, or its own task.
    pub(crate) fn pass_on(&self) {
        self.wake.wake_by_ref();
    }

    /// Waits until the link's task is woken.
    pub(crate) async fn woken(&self) {
        self.wake.task.notified().await;
    }
}

impl Wake for LinkWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.pending.store(true, Ordering::SeqCst);
        if !self.waiters.hand_over(&self.cell) {
            self.task.notify_one();
        }
    }
}

/// The event streams of a node waiting for an event, and the links handed to them to drive.
#[derive(Default)]
pub(crate) struct Waiters {
    inner: Mutex<WaitersInner>,
}

#[derive(Default)]
struct WaitersInner {
    waiting: Vec<(RegistrationHandle, Waker)>,
    ready: Vec<Arc<LinkCell>>,
}

impl Waiters {
    /// Hands a woken link to a waiting stream and wakes its task; false if none waits (or the
    /// link is gone).
    fn hand_over(&self, cell: &Weak<LinkCell>) -> bool {
        let mut inner = lock(&self.inner);
        let Some(last) = inner.waiting.len().checked_sub(1) else {
            return false;
        };
        // Kept by the list, never dropped here: see the module's documentation.
        let Some(cell) = cell.upgrade() else {
            return false;
        };
        let (_, waker) = inner.waiting.swap_remove(last);
        inner.ready.push(cell);
        drop(inner);
        waker.wake();
        true
    }

    /// Moves the links handed over to `ready`; if there are none, records that `registration`
    /// waits (replacing an earlier record of it) and returns false.
    pub(crate) fn take_or_wait(
        &self,
        registration: RegistrationHandle,
        waker: &Waker,
        ready: &mut Vec<Arc<LinkCell>>,
    ) -> bool {
        let mut inner = lock(&self.inner);
        inner.waiting.retain(|(waiter, _)| *waiter != registration);
        if inner.ready.is_empty() {
            inner.waiting.push((registration, waker.clone()));
            return false;
        }
        ready.append(&mut inner.ready);
        true
    }

    /// `registration` no longer waits; links handed over but not yet driven go to another
    /// waiting stream or their own tasks, so that none waits on a stream that is not polled.
    pub(crate) fn stop_waiting(&self, registration: RegistrationHandle) {
        let mut inner = lock(&self.inner);
        inner.waiting.retain(|(waiter, _)| *waiter != registration);
        let ready = std::mem::take(&mut inner.ready);
        drop(inner);
        for cell in ready {
            cell.pass_on();
        }
    }

    /// Forgets every waiting stream and every link handed over; for a node that is gone, so
    /// that no link is kept (or dropped, see the module's documentation) through a waker.
    pub(crate) fn clear(&self) {
        let mut inner = lock(&self.inner);
        let ready = std::mem::take(&mut inner.ready);
        inner.waiting.clear();
        drop(inner);
        drop(ready);
    }

    /// The links handed over and not driven by now: a stream that was woken and is not polled
    /// (its task busy elsewhere) holds up its links until the node's timer task takes them.
    pub(crate) fn take_unread(&self) -> Vec<Arc<LinkCell>> {
        std::mem::take(&mut lock(&self.inner).ready)
    }
}

/// Locks a mutex that no code panics under; a poisoned one is entered anyway (the state it left
/// is still the best there is).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// [`lock`] if no one holds the mutex, else `None`.
fn try_lock<T>(mutex: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match mutex.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

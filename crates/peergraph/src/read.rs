//! Reading links: by the link's own reader task, or by a task waiting on an event stream.
//!
//! A task waiting on an [`EventStream`](crate::EventStream) for its next event would otherwise be
//! woken by the reader task that handed the core the frame carrying that event: one more task
//! in every chain from the socket to the application. Instead, while some event stream waits,
//! a link that has data wakes that stream's task, which reads the link itself ("read-through");
//! while none waits, the link's reader task reads it, as before. Either way the same
//! [`drive`] runs, so frames go to the core the same way.
//!
//! One waker serves every reader of a link: a [`ReadSide`]'s `LinkWake` is the waker registered
//! with the socket or stream, and when woken it decides who reads next (a waiting stream's task,
//! else the reader task). It refers to its side weakly: a socket or stream keeps its waker, and
//! the side must not outlive the link (nor be dropped inside a transport's wake-up, which may
//! hold the lock that dropping the reader half takes).
//!
//! Whoever reads holds the link's reader through a `try_lock`; a reader that finds it held
//! leaves, because the holder reads again before it leaves if a wake came while it held the
//! lock (`pending`), so no wake is lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError, Weak};
use std::task::{Context, Poll, Wake, Waker};

use std::time::Instant;

use bytes::Bytes;
use peergraph_core::{LinkCloseReason, LinkId, Node, RegistrationHandle};
use tracing::{Span, debug};

use crate::driver::{Shared, WriteSide, now, record_connection};
use peergraph_transport::LinkReader;

use crate::transport;

/// Frames handed to the core per lock; bounds how long other tasks wait for the lock.
const MAX_FRAMES_PER_LOCK: usize = 256;

/// Locks taken per turn of reading one link; past it the reader passes the link on (to a
/// waiting stream or the link's task), so one busy link cannot hold a task forever.
const MAX_LOCKS_PER_TURN: usize = 16;

/// The receiving half of one link.
pub(crate) struct ReadSide {
    id: LinkId,
    reading: Mutex<Option<Reading>>,
    /// The link's sending half, told when frames arrive (see [`WriteSide::armed`]).
    write: Arc<WriteSide>,
    /// The connection's receive window is full: no reader reads the link until the node resumes
    /// it. Set and cleared under the state lock, read by readers without it.
    held: AtomicBool,
    wake: Arc<LinkWake>,
    span: Span,
}

/// The waker of a link's socket or stream.
struct LinkWake {
    side: Weak<ReadSide>,
    /// Set by every wake, cleared by the reader that takes the lock: a reader leaving the lock
    /// reads again if it is set.
    pending: AtomicBool,
    /// The link is gone: the next reader drops the reader half and stops.
    closed: AtomicBool,
    /// The link's reader task, to wake when no stream waits.
    task: Mutex<Option<Waker>>,
    waiters: Arc<Waiters>,
}

struct Reading {
    reader: LinkReader,
    /// The link's connection is recorded in its span (an inbound link learns it from the Hello).
    named: bool,
    /// The handshake is done and the reader takes frames up to the full limit.
    lifted: bool,
}

impl Reading {
    /// Hands `frame` to the core; once the frame has completed the handshake, lets the reader
    /// take full-sized frames, before the next frame is taken from its buffer.
    fn handle(&mut self, node: &mut Node, now: Instant, link: LinkId, frame: Bytes) {
        node.handle_frame(now, link, frame);
        if !self.lifted && node.max_frame_len(link) > node.config().limits.max_handshake_frame_len {
            self.reader.lift_frame_limit();
            self.lifted = true;
        }
    }
}

impl ReadSide {
    pub(crate) fn new(
        id: LinkId,
        reader: LinkReader,
        named: bool,
        write: Arc<WriteSide>,
        waiters: Arc<Waiters>,
        span: Span,
    ) -> Arc<Self> {
        Arc::new_cyclic(|side| Self {
            id,
            reading: Mutex::new(Some(Reading {
                reader,
                named,
                lifted: false,
            })),
            write,
            held: AtomicBool::new(false),
            wake: Arc::new(LinkWake {
                side: side.clone(),
                pending: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                task: Mutex::new(None),
                waiters,
            }),
            span,
        })
    }

    /// The link is gone: its task ends, and its reader half is returned, or dropped by the
    /// reader holding it. The caller drops it once it holds no lock (dropping a QUIC stream takes
    /// the connection's lock).
    #[must_use = "the reader half is to be dropped outside any lock"]
    pub(crate) fn close(&self) -> Option<LinkReader> {
        self.wake.closed.store(true, Ordering::SeqCst);
        // A reader holding the lock reads again on leaving it, and finds `closed`.
        self.wake.pending.store(true, Ordering::SeqCst);
        let reading = try_lock(&self.reading).and_then(|mut reading| reading.take());
        self.wake.wake_task();
        reading.map(|reading| reading.reader)
    }

    /// Passes the link to another reader: a waiting stream, or its own task.
    pub(crate) fn pass_on(&self) {
        self.wake.wake_by_ref();
    }

    /// The node took the link's window back below the mark: reading goes on (called under the
    /// state lock, as the hold is set).
    pub(crate) fn resume(&self) {
        self.held.store(false, Ordering::SeqCst);
        self.pass_on();
    }
}

impl LinkWake {
    fn wake_task(&self) {
        if let Some(waker) = lock(&self.task).take() {
            waker.wake();
        }
    }
}

impl Wake for LinkWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.pending.store(true, Ordering::SeqCst);
        if self.closed.load(Ordering::SeqCst) || !self.waiters.hand_over(&self.side) {
            self.wake_task();
        }
    }
}

/// The reader task of a link: reads it whenever no waiting stream does, until it is gone.
pub(crate) async fn read_task(shared: Arc<Shared>, side: Arc<ReadSide>) {
    std::future::poll_fn(|cx| {
        let mut task = lock(&side.wake.task);
        if !task
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            *task = Some(cx.waker().clone());
        }
        drop(task);
        if side.wake.closed.load(Ordering::SeqCst) {
            // The reader half goes here, with no lock held, unless a reader holds it (and drops
            // it on finding `closed`).
            if let Some(mut reading) = try_lock(&side.reading) {
                drop(reading.take());
            }
            return Poll::Ready(());
        }
        drive(&shared, &side)
    })
    .await;
}

/// Reads what the link has into the core. `Ready` once the link is gone; `Pending` once it has
/// nothing more for now (its waker registered), or while another reader holds it.
pub(crate) fn drive(shared: &Arc<Shared>, side: &Arc<ReadSide>) -> Poll<()> {
    let waker = Waker::from(side.wake.clone());
    let mut cx = Context::from_waker(&waker);
    let _entered = side.span.enter();
    for attempt in 0..2 {
        // The holder reads again before it leaves if this wake came while it held the lock.
        let Some(mut reading) = try_lock(&side.reading) else {
            return Poll::Pending;
        };
        side.wake.pending.store(false, Ordering::SeqCst);
        let turn = read_turn(shared, side, &mut reading, &mut cx);
        drop(reading);
        match turn {
            // Whoever resumes the link clears `held` before it wakes a reader; a resume that
            // came while this task held the reader found the lock taken, so look again.
            Turn::Held if side.held.load(Ordering::SeqCst) => return Poll::Pending,
            Turn::Held => continue,
            Turn::Gone => {
                // The link's task may have found the lock held meanwhile and gone back to
                // waiting: let it see that the link is gone, and end.
                side.wake.wake_task();
                return Poll::Ready(());
            }
            Turn::Waiting if !side.wake.pending.load(Ordering::SeqCst) => return Poll::Pending,
            // A wake came while the lock was held, and whoever it woke may have found the lock
            // taken and left: read again, once.
            Turn::Waiting if attempt == 0 => continue,
            // Woken again at once (tokio's cooperative budget is used up, which wakes and
            // returns `Pending`), or data is still coming: pass the link on rather than hold
            // this task.
            Turn::Waiting | Turn::Yielded => break,
        }
    }
    side.wake.wake_by_ref();
    Poll::Pending
}

enum Turn {
    Gone,
    Waiting,
    Yielded,
    /// The connection's receive window is full: nothing is read until the node resumes the link.
    Held,
}

fn read_turn(
    shared: &Arc<Shared>,
    side: &ReadSide,
    slot: &mut Option<Reading>,
    cx: &mut Context<'_>,
) -> Turn {
    for _ in 0..MAX_LOCKS_PER_TURN {
        if side.wake.closed.load(Ordering::SeqCst) {
            *slot = None;
        }
        let Some(reading) = slot else {
            return Turn::Gone;
        };
        if side.held.load(Ordering::SeqCst) {
            return Turn::Held;
        }
        let reason = match reading.reader.poll_read_frame(cx) {
            Poll::Pending => return Turn::Waiting,
            Poll::Ready(Ok(Some(frame))) => {
                side.write.armed.store(true, Ordering::Relaxed);
                shared.with(|state| {
                    // The frames that arrived with this one go to the core under the same lock.
                    let now = now();
                    reading.handle(&mut state.node, now, side.id, frame);
                    let mut readable = state.node.link_readable(side.id);
                    for _ in 1..MAX_FRAMES_PER_LOCK {
                        if !readable {
                            break;
                        }
                        let Some(frame) = reading.reader.buffered_frame() else {
                            break;
                        };
                        reading.handle(&mut state.node, now, side.id, frame);
                        readable = state.node.link_readable(side.id);
                    }
                    if !readable {
                        side.held.store(true, Ordering::SeqCst);
                    }
                    if !reading.named {
                        reading.named = record_connection(&side.span, &state.node, side.id);
                        if reading.named {
                            debug!("direct connection admitted");
                        }
                    }
                });
                continue;
            }
            Poll::Ready(Ok(None)) => LinkCloseReason::Closed,
            Poll::Ready(Err(error)) => {
                debug!(%error, "link read failed");
                transport::read_failure(&error)
            }
        };
        *slot = None;
        shared.link_ended(side.id, reason);
        return Turn::Gone;
    }
    Turn::Yielded
}

/// The event streams of a node waiting for an event, and the links handed to them to read.
#[derive(Default)]
pub(crate) struct Waiters {
    inner: Mutex<WaitersInner>,
}

#[derive(Default)]
struct WaitersInner {
    waiting: Vec<(RegistrationHandle, Waker)>,
    ready: Vec<Arc<ReadSide>>,
}

impl Waiters {
    /// Hands a woken link to a waiting stream and wakes its task; false if none waits (or the
    /// link is gone).
    fn hand_over(&self, side: &Weak<ReadSide>) -> bool {
        let mut inner = lock(&self.inner);
        let Some(last) = inner.waiting.len().checked_sub(1) else {
            return false;
        };
        // Kept by the list, never dropped here: see the module's documentation.
        let Some(side) = side.upgrade() else {
            return false;
        };
        let (_, waker) = inner.waiting.swap_remove(last);
        inner.ready.push(side);
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
        ready: &mut Vec<Arc<ReadSide>>,
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

    /// `registration` no longer waits; links handed over but not yet read go to another waiting
    /// stream or their own tasks, so that none waits on a stream that is not being polled.
    pub(crate) fn stop_waiting(&self, registration: RegistrationHandle) {
        let mut inner = lock(&self.inner);
        inner.waiting.retain(|(waiter, _)| *waiter != registration);
        let ready = std::mem::take(&mut inner.ready);
        drop(inner);
        for side in ready {
            side.pass_on();
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

    /// Reads the links handed over but not read by now: a stream that was woken and is not
    /// polled (its task busy elsewhere) holds up its links until this runs. Called by the timer
    /// task each time it runs, before it fires any deadline, so that data waiting there counts
    /// for the idle timeout.
    pub(crate) fn rescue(&self, shared: &Arc<Shared>) {
        let ready = std::mem::take(&mut lock(&self.inner).ready);
        for side in ready {
            // A link read by another task meanwhile needs nothing more here.
            let _ = drive(shared, &side);
        }
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

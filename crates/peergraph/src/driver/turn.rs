//! A link's turn: what a task that holds a link's driver does with it (see [`crate::link`]).

use std::sync::{Arc, MutexGuard};
use std::task::{Context, Poll};

use peergraph_core::{LinkCloseReason, LinkId, Node, Transmit};
use tracing::debug;

use super::{LinkSlot, Shared, now, record_connection};
use crate::link::{Closing, LinkCell, LinkDriver};
use crate::transport;

/// Bytes a link's turn takes from the node per lock; bounds the copy held outside the core.
const MAX_BATCH_BYTES: usize = 256 * 1024;

/// Frames handed to the node per lock; bounds how long other tasks wait for the lock.
const MAX_FRAMES_PER_LOCK: usize = 256;

/// Locks of the node's state one turn of a link takes; past it the driver passes the link on
/// (to a waiting stream or the link's task), so one busy link cannot hold a task forever.
const MAX_LOCKS_PER_TURN: usize = 16;

/// How a turn of driving a link ended.
enum Turn {
    /// Nothing more to do until the link is woken.
    Waiting,
    /// The turn's budget is spent with work left.
    Yielded,
    /// The link has ended.
    Ended,
}

impl Shared {
    /// Drives `cell` from the calling task if frames came in on it since it last did so (see
    /// [`with`](Self::with)), else wakes its task.
    pub(super) fn write_through(self: &Arc<Self>, cell: &Arc<LinkCell>) {
        // A thread outside the runtime (an application's own, or a C caller's) has no reactor
        // or timers to drive the link with: its task does it.
        if tokio::runtime::Handle::try_current().is_err() {
            cell.wake_task();
            return;
        }
        // Held by another task: it drives the link again before it leaves, as told.
        let Some(mut guard) = cell.try_lock() else {
            return;
        };
        match guard.as_mut() {
            Some(link) if link.armed => {
                link.armed = false;
                let _ = self.drive_locked(cell, guard);
            }
            _ => {
                drop(guard);
                cell.wake_task();
            }
        }
    }

    /// Drives `cell`'s link unless another task does. `Ready` once the link has ended.
    pub(crate) fn drive(self: &Arc<Self>, cell: &Arc<LinkCell>) -> Poll<()> {
        match cell.try_lock() {
            Some(guard) => self.drive_locked(cell, guard),
            // The holder drives the link again before it leaves if it was woken meanwhile.
            None => Poll::Pending,
        }
    }

    /// Drives the link whose driver `guard` holds: a turn, and one more if a wake came while
    /// the driver was held (whoever it woke may have found the driver taken and left). Past
    /// that, the link is passed on rather than hold this task.
    fn drive_locked(
        self: &Arc<Self>,
        cell: &Arc<LinkCell>,
        guard: MutexGuard<'_, Option<LinkDriver>>,
    ) -> Poll<()> {
        let waker = cell.waker();
        let mut cx = Context::from_waker(&waker);
        let _entered = cell.span.enter();
        let mut guard = Some(guard);
        for attempt in 0..2 {
            let Some(mut driver) = guard.take().or_else(|| cell.try_lock()) else {
                return Poll::Pending;
            };
            let Some(link) = driver.as_mut() else {
                return Poll::Ready(());
            };
            let turn = self.turn(cell, link, &mut cx);
            if let Turn::Ended = turn {
                // The halves go with no lock held but the driver's (dropping a QUIC stream
                // takes the connection's lock); the link's task wakes to find them gone.
                let halves = driver.take();
                drop(driver);
                drop(halves);
                cell.wake_task();
                return Poll::Ready(());
            }
            drop(driver);
            match turn {
                Turn::Waiting if !cell.pending() => return Poll::Pending,
                Turn::Waiting if attempt == 0 => continue,
                // Woken again at once, or the turn's budget is spent.
                _ => break,
            }
        }
        cell.pass_on();
        Poll::Pending
    }

    /// One turn of a link: writes what is left, reads what the peer sent into the node and
    /// takes what the node has for the link (one lock for both), until nothing is new; then
    /// closes the link if the node closed it.
    fn turn(
        self: &Arc<Self>,
        cell: &LinkCell,
        link: &mut LinkDriver,
        cx: &mut Context<'_>,
    ) -> Turn {
        let id = cell.id;
        let mut batch: Vec<Transmit> = Vec::new();
        let mut others = Vec::new();
        for _ in 0..MAX_LOCKS_PER_TURN {
            let told = cell.take_told();
            link.more |= told;
            // What is left to write goes first, before more frames leave the node (whose queue
            // limit is the backpressure).
            if let Err(error) = link.poll_send(cx) {
                debug!(%error, "link write failed");
                return self.end(id, LinkCloseReason::Lost);
            }
            let frame = match link.poll_frame(cx) {
                Poll::Pending => None,
                Poll::Ready(Ok(Some(frame))) => Some(frame),
                // The peer ended its side cleanly after a Close (its own, or an answer to this
                // node's): this side ends cleanly too (TLS close_notify, QUIC FIN), as far as
                // the socket takes it now. Nothing waits for the peer to confirm it: it is done
                // with the link.
                Poll::Ready(Ok(None)) if link.closing => {
                    link.end_now(cx);
                    return self.end(id, LinkCloseReason::Closed);
                }
                Poll::Ready(Ok(None)) => return self.end(id, LinkCloseReason::Closed),
                Poll::Ready(Err(error)) => {
                    debug!(%error, "link read failed");
                    return self.end(id, transport::read_failure(&error));
                }
            };
            let take = link.more && link.writer_idle();
            if frame.is_none() && !told && !take {
                return match link.poll_close(cx, self.close_timeout) {
                    Closing::No => Turn::Waiting,
                    Closing::Done { timed_out } => {
                        if timed_out {
                            debug!("link close timed out");
                        }
                        self.end(id, LinkCloseReason::Closed)
                    }
                    Closing::Failed(error) => {
                        debug!(%error, "link close was not clean");
                        self.end(id, LinkCloseReason::Closed)
                    }
                };
            }
            {
                let mut state = self.lock();
                if !state.links.contains_key(&id) {
                    return Turn::Ended;
                }
                let node = &mut state.node;
                match frame {
                    Some(frame) => {
                        link.armed = true;
                        // The frames that arrived with this one go in under the same lock.
                        let now = now();
                        link.handle(node, now, id, frame);
                        for _ in 1..MAX_FRAMES_PER_LOCK {
                            let Some(frame) = link.buffered_frame() else {
                                break;
                            };
                            link.handle(node, now, id, frame);
                        }
                        if !link.named {
                            link.named = record_connection(&cell.span, node, id);
                            if link.named {
                                debug!("direct connection admitted");
                            }
                        }
                    }
                    // Told: perhaps the window was taken back below its mark.
                    None => link.held = !node.link_readable(id),
                }
                link.more |= self.drain(&mut state, Some(id), &mut others);
                // After the drain, which may have closed it (a Close just read, say).
                link.closing = matches!(
                    state.links.get(&id),
                    Some(LinkSlot::Up { closing: true, .. })
                );
                if link.more && link.writer_idle() {
                    link.more = take_batch(&mut state.node, id, &mut batch);
                }
            }
            for other in others.drain(..) {
                other.wake_task();
            }
            if !batch.is_empty() {
                self.room.notify_waiters();
                // The writer encodes the frames into its own queue, so the batch (and the
                // payloads it holds) is released before the write waits on the peer.
                let queued = link.queue(&batch);
                batch.clear();
                if let Err(error) = queued {
                    debug!(%error, "link write failed");
                    return self.end(id, LinkCloseReason::Lost);
                }
            }
        }
        Turn::Yielded
    }

    /// The link ended (read error, peer closed, write error, closed): the node learns it. Its
    /// halves are dropped by the caller.
    fn end(self: &Arc<Self>, id: LinkId, reason: LinkCloseReason) -> Turn {
        debug!(?reason, "link ended");
        let mut state = self.lock();
        let removed = state.links.remove(&id);
        state.node.handle_link_closed(now(), id, reason);
        // Its connection may have ended here; see `drain`.
        self.room.notify_waiters();
        self.links_changed.notify_waiters();
        self.flush(&mut state);
        drop(state);
        drop(removed);
        Turn::Ended
    }
}

/// Moves frames ready on `link` to `batch`, up to [`MAX_BATCH_BYTES`]; true if more are ready.
fn take_batch(node: &mut Node, link: LinkId, batch: &mut Vec<Transmit>) -> bool {
    let mut bytes = 0;
    while bytes < MAX_BATCH_BYTES {
        let Some(frame) = node.poll_transmit(link) else {
            return false;
        };
        bytes += frame.len();
        batch.push(frame);
    }
    true
}

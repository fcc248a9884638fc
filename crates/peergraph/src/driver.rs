//! The I/O side of a node: the tasks that move frames between links and the core, and the one
//! function (`flush`) that turns the core's outputs into work for them.
//!
//! The core sits in a mutex that is held only for the length of a core call plus its `flush`,
//! never across an `.await`. Each link has a reader task (frames in, unless a task waiting on an
//! event stream reads them first: see `read`) and a writer task (frames out, pulled from the
//! core's send queue only when the socket can take them, which is what makes `send_data`'s
//! backpressure real). One timer task fires the core's timeouts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use peergraph_core::{
    IdBuildHasher, LinkCloseReason, LinkId, LinkUp, Node, Output, PeerAddress, RegistrationHandle,
    Transmit,
};
use tokio::sync::Notify;
use tokio::task::AbortHandle;
use tracing::{Instrument, Span, debug, debug_span, field};

use crate::read::{self, ReadSide, Waiters};
use peergraph_transport::{Link, LinkWriter};

use crate::transport::{self, Transport};

/// How long the accept loop pauses after an accept error (such as running out of descriptors).
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Bytes a writer pulls from the core per write; bounds the copy held outside the core.
const MAX_BATCH_BYTES: usize = 256 * 1024;

pub(crate) struct Shared {
    state: Mutex<State>,
    pub(crate) transport: Transport,
    /// Wakes the timer task when a deadline earlier than the one it sleeps until appears.
    timer: Notify,
    /// Wakes `send_data` callers waiting for queue room.
    pub(crate) room: Notify,
    /// Wakes `finish_closing` callers when a link is gone.
    pub(crate) links_changed: Notify,
    /// How long a closing link may take to write what is left and close.
    close_timeout: Duration,
    /// The runtime the node was built in; the API may be called from any thread.
    pub(crate) runtime: tokio::runtime::Handle,
    /// Event streams waiting, which read links that have data themselves.
    pub(crate) waiters: Arc<Waiters>,
}

pub(crate) struct State {
    pub(crate) node: Node,
    links: HashMap<LinkId, LinkSlot, IdBuildHasher>,
    pub(crate) wakers: HashMap<RegistrationHandle, Waker, IdBuildHasher>,
    /// The deadline the timer task sleeps until (`None`: until it is woken). Only an earlier
    /// deadline wakes it: one that moved later, or went, is found when this one passes, so a
    /// link opening, establishing and closing costs the timer task no wake-up.
    armed: Option<Instant>,
    pub(crate) listener: Option<(SocketAddr, AbortHandle)>,
}

enum LinkSlot {
    /// The transport is dialing; the core may already have asked to close it.
    Dialing { close_requested: bool },
    Up {
        writer: Arc<Notify>,
        closing: bool,
        reader: Arc<ReadSide>,
        write: Arc<WriteSide>,
        /// The writer task waits for frames (its waker): a task that queues some may write them
        /// itself ("write-through", see [`Shared::with`]).
        parked: Option<Waker>,
    },
}

impl State {
    /// Wakes the writer task of `link`, if it has one, to pull the frames the core has for it.
    fn wake_writer(&self, link: LinkId) {
        if let Some(LinkSlot::Up { writer, .. }) = self.links.get(&link) {
            writer.notify_one();
        }
    }
}

/// The sending half of a link, shared by its writer task and tasks writing through.
pub(crate) struct WriteSide {
    writer: Mutex<Option<LinkWriter>>,
    /// [`FREE`], [`CLAIMED`] or [`HANDED`].
    claim: AtomicU8,
    /// The writer task found the link claimed and waits: whoever ends the claim wakes it.
    deferred: AtomicBool,
    /// Frames arrived since the last write-through. Writing through serves replies: a run of
    /// sends with nothing received between them is a stream, which the writer task batches into
    /// fewer writes (one write per message would cost more than the task it saves).
    pub(crate) armed: AtomicBool,
}

/// No task writes through: one may claim the link, if its writer task waits.
const FREE: u8 = 0;
/// A task writing through has taken frames from the core that are not yet written: the writer
/// task takes none meanwhile, so frames keep their order, and no other task claims the link.
const CLAIMED: u8 = 1;
/// A task writing through left work (frames the socket could not take yet, more frames, an
/// error) to the writer task, which it woke; no task claims the link until the writer task
/// has taken over.
const HANDED: u8 = 2;

/// Frames a task took from the core to write through, after the state lock is released.
pub(crate) struct WriteThrough {
    link: LinkId,
    claim: Claim,
    task: Waker,
    frames: Vec<Transmit>,
    more: bool,
}

/// A task's claim on writing a link through ([`CLAIMED`]). Ended any way but
/// [`release`](Self::release) (the socket could not take everything, more frames wait, the
/// write failed, or a transport call panicked), it hands the link to the writer task and wakes
/// it, so the writer task never waits on a claim that nobody holds.
struct Claim {
    side: Arc<WriteSide>,
    wake: Arc<Notify>,
    released: bool,
}

impl Claim {
    fn new(side: Arc<WriteSide>, wake: Arc<Notify>) -> Self {
        side.claim.store(CLAIMED, Ordering::SeqCst);
        Self {
            side,
            wake,
            released: false,
        }
    }

    /// Ends the claim with everything written; the writer task is woken only if it came by
    /// meanwhile.
    fn release(mut self) {
        self.released = true;
        self.side.claim.store(FREE, Ordering::SeqCst);
        if self.side.deferred.swap(false, Ordering::SeqCst) {
            self.wake.notify_one();
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.released {
            self.side.claim.store(HANDED, Ordering::SeqCst);
            self.wake.notify_one();
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.waiters.clear();
    }
}

/// The runtime's clock: tokio's, so tests may pause it.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl Shared {
    pub(crate) fn new(
        node: Node,
        transport: Transport,
        runtime: tokio::runtime::Handle,
    ) -> Arc<Self> {
        let close_timeout = node.config().timeouts.idle;
        Arc::new(Self {
            state: Mutex::new(State {
                node,
                links: HashMap::default(),
                wakers: HashMap::default(),
                armed: None,
                listener: None,
            }),
            transport,
            timer: Notify::new(),
            room: Notify::new(),
            links_changed: Notify::new(),
            close_timeout,
            runtime,
            waiters: Arc::default(),
        })
    }

    /// Locks the state. A panic while locked is a bug in this crate, and the state it left is
    /// still the best there is, so a poisoned lock is entered anyway.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        read::lock(&self.state)
    }

    /// Runs `f` on the state, then turns the core's outputs into work. Frames `f` made ready on
    /// a link whose writer task waits are written by the calling task, after the lock is
    /// released, instead of by the writer task it would wake: one task fewer between a send and
    /// the socket.
    pub(crate) fn with<R>(self: &Arc<Self>, f: impl FnOnce(&mut State) -> R) -> R {
        let mut through = Vec::new();
        let result = {
            let mut state = self.lock();
            let result = f(&mut state);
            self.drain(&mut state, Some(&mut through));
            result
        };
        for write in through {
            self.write_through(write);
        }
        result
    }

    /// Drains the core's outputs in the documented order.
    pub(crate) fn flush(self: &Arc<Self>, state: &mut State) {
        self.drain(state, None);
    }

    /// Takes what `take` finds for `registration` from the node; taking data may release a
    /// link held by its receive window, whose reading then resumes.
    pub(crate) fn take<T>(
        self: &Arc<Self>,
        state: &mut State,
        take: impl FnOnce(&mut Node) -> T,
    ) -> T {
        let taken = take(&mut state.node);
        if state.node.has_output() {
            self.flush(state);
        }
        taken
    }

    /// Writes frames taken from the core in `drain`, from the calling task.
    fn write_through(self: &Arc<Self>, write: WriteThrough) {
        let sent = {
            let mut writer = read::lock(&write.claim.side.writer);
            match writer.as_mut() {
                // The writer task's waker: if the socket cannot take everything now, the writer
                // task is woken when it can, and goes on.
                Some(writer) => match writer.queue_frames(&write.frames) {
                    Ok(()) => writer.poll_send(&mut Context::from_waker(&write.task)),
                    Err(error) => Poll::Ready(Err(error)),
                },
                None => Poll::Ready(Ok(())),
            }
        };
        let WriteThrough {
            link, claim, more, ..
        } = write;
        match sent {
            Poll::Ready(Ok(())) if !more => claim.release(),
            Poll::Ready(Err(error)) => {
                debug!(%error, "link write failed");
                // The writer task finds the link gone and stops.
                drop(claim);
                self.link_ended(link, LinkCloseReason::Lost);
            }
            // The rest is the writer task's.
            _ => drop(claim),
        }
    }

    /// Drains the core's output stream; with `through`, frames for a link whose writer task
    /// waits are taken for the caller to write.
    fn drain(self: &Arc<Self>, state: &mut State, mut through: Option<&mut Vec<WriteThrough>>) {
        let mut ended = false;
        let next = loop {
            match state.node.poll_output(now()) {
                Output::Dial { link, address } => self.start_dial(state, link, address),
                Output::Close { link } => {
                    ended = true;
                    match state.links.get_mut(&link) {
                        Some(LinkSlot::Dialing { close_requested }) => *close_requested = true,
                        Some(LinkSlot::Up {
                            writer, closing, ..
                        }) => {
                            *closing = true;
                            writer.notify_one();
                        }
                        // A link whose tasks already ended: the core still waits for the close
                        // to be confirmed.
                        None => state
                            .node
                            .handle_link_closed(now(), link, LinkCloseReason::Closed),
                    }
                }
                Output::Resume { link } => {
                    if let Some(LinkSlot::Up { reader, .. }) = state.links.get(&link) {
                        reader.resume();
                    }
                }
                Output::Transmit { link } => match through.as_deref_mut() {
                    Some(through) => through.extend(self.claim_for_caller(state, link)),
                    None => state.wake_writer(link),
                },
                Output::Events { registration } => {
                    if let Some(waker) = state.wakers.remove(&registration) {
                        waker.wake();
                    }
                }
                Output::Timeout(next) => break next,
            }
        };
        if ended {
            // A connection ended: `send_data` callers waiting for its queue to drain must
            // retry, to learn that it is gone.
            self.room.notify_waiters();
        }
        if next.is_some_and(|next| state.armed.is_none_or(|armed| next < armed)) {
            state.armed = next;
            self.timer.notify_one();
        }
    }

    /// Starts dialing `link`: its task dials, handshakes and goes on as the link's writer.
    fn start_dial(self: &Arc<Self>, state: &mut State, link: LinkId, address: PeerAddress) {
        state.links.insert(
            link,
            LinkSlot::Dialing {
                close_requested: false,
            },
        );
        let span = debug_span!(
            "dial",
            link = link.get(),
            to = %address.socket,
            graph = field::Empty,
            connection = field::Empty,
            peer = field::Empty,
        );
        record_connection(&span, &state.node, link);
        let dialing = dial(self.clone(), link, address).instrument(span);
        self.runtime.spawn(async move {
            if let Some(writer) = dialing.await {
                // The Hello is queued: write it from this task, which goes on as the link's
                // writer, outside the dial's span (boxed, so the task's state is the writer's
                // alone).
                Box::pin(writer.run()).await;
            }
        });
    }

    /// `link` has frames: claims them for the calling task to write if it can (the link's
    /// writer task waits with nothing claimed), else wakes the writer task.
    fn claim_for_caller(self: &Arc<Self>, state: &mut State, link: LinkId) -> Option<WriteThrough> {
        let Some(LinkSlot::Up {
            writer,
            write,
            parked,
            closing,
            ..
        }) = state.links.get(&link)
        else {
            return None;
        };
        // One claim at a time: frames taken by a second would race the first's to the writer.
        // `armed` is spent last, only on a claim.
        let task = match parked {
            Some(task)
                if !*closing
                    && write.claim.load(Ordering::SeqCst) == FREE
                    && write.armed.swap(false, Ordering::Relaxed) =>
            {
                task.clone()
            }
            _ => {
                writer.notify_one();
                return None;
            }
        };
        let claim = Claim::new(write.clone(), writer.clone());
        let mut frames = Vec::new();
        let more = take_batch(&mut state.node, link, &mut frames);
        self.room.notify_waiters();
        Some(WriteThrough {
            link,
            claim,
            task,
            frames,
            more,
        })
    }

    /// Wakes every event stream, so each finds out whether its registration still lives.
    pub(crate) fn wake_all_streams(state: &mut State) {
        for (_, waker) in state.wakers.drain() {
            waker.wake();
        }
    }

    /// Starts the reader task of an authenticated link and registers the link. The caller runs
    /// the returned writer (see [`LinkWriterTask::run`]), on its own task: a dial or an inbound
    /// handshake goes on as its link's writer, so the first frames leave without a task hop.
    fn start_link(self: &Arc<Self>, state: &mut State, id: LinkId, link: Link) -> LinkWriterTask {
        let span = debug_span!(
            parent: None,
            "link",
            link = id.get(),
            remote = %link.info.remote_addr,
            graph = field::Empty,
            connection = field::Empty,
            peer = field::Empty,
        );
        let named = record_connection(&span, &state.node, id);
        let wake = Arc::new(Notify::new());
        let write = Arc::new(WriteSide {
            writer: Mutex::new(Some(link.writer)),
            claim: AtomicU8::new(FREE),
            deferred: AtomicBool::new(false),
            armed: AtomicBool::new(true),
        });
        let reader = ReadSide::new(
            id,
            link.reader,
            named,
            write.clone(),
            self.waiters.clone(),
            span.clone(),
        );
        self.runtime
            .spawn(read::read_task(self.clone(), reader.clone()));
        state.links.insert(
            id,
            LinkSlot::Up {
                writer: wake.clone(),
                closing: false,
                reader,
                write: write.clone(),
                parked: None,
            },
        );
        LinkWriterTask {
            shared: self.clone(),
            id,
            write,
            wake,
            span,
        }
    }

    /// A link ended on its own (read error, peer closed, write error): tell the core and stop
    /// the link's tasks.
    pub(crate) fn link_ended(self: &Arc<Self>, id: LinkId, reason: LinkCloseReason) {
        debug!(?reason, "link ended");
        let mut state = self.lock();
        // Dropped once the lock is released: it may hold the last reference to the link's
        // halves, and dropping a QUIC stream takes the connection's lock.
        let removed = state.links.remove(&id);
        let mut reader_half = None;
        if let Some(LinkSlot::Up { writer, reader, .. }) = &removed {
            reader_half = reader.close();
            // The writer finds its slot gone and drops the link's write half.
            writer.notify_one();
        }
        state.node.handle_link_closed(now(), id, reason);
        // Its connection may have ended here; see `flush`.
        self.room.notify_waiters();
        self.links_changed.notify_waiters();
        self.flush(&mut state);
        drop(state);
        drop(reader_half);
        drop(removed);
    }

    /// Whether some link is still writing its last frames or closing.
    pub(crate) fn closing_links(state: &State) -> bool {
        state.links.values().any(|slot| match slot {
            LinkSlot::Dialing { close_requested } => *close_requested,
            LinkSlot::Up { closing, .. } => *closing,
        })
    }

    /// Accepts links until the listener is aborted; each handshake runs on its own task so a
    /// slow one holds up nobody.
    pub(crate) async fn accept_loop(self: Arc<Self>, listener: transport::Listener) {
        loop {
            let incoming = match listener.accept().await {
                Ok(incoming) => incoming,
                // The QUIC endpoint is gone: nothing more will arrive.
                Err(error) if error.kind() == std::io::ErrorKind::NotConnected => {
                    debug!(%error, "listener stopped");
                    return;
                }
                Err(error) => {
                    // Out of descriptors or buffers, or one connection failed before it was
                    // accepted: keep listening, after a pause so a full descriptor table is not
                    // spun on.
                    debug!(%error, "accept failed; listening on");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            };
            let shared = self.clone();
            tokio::spawn(async move {
                // The handshake's state is boxed by the transport, so it is freed when it ends
                // instead of sizing this task, which lives on as the link's writer.
                let handshake = incoming.handshake().await;
                let link = match handshake {
                    Ok(link) => link,
                    Err(error) => {
                        debug!(%error, "inbound handshake failed");
                        return;
                    }
                };
                let up = LinkUp {
                    remote_identity: link.info.remote_identity,
                    remote_addr: link.info.remote_addr,
                    exporter: link.info.exporter,
                };
                let writer = {
                    let mut state = shared.lock();
                    let id = state.node.accept_link(now(), up);
                    let writer = shared.start_link(&mut state, id, link);
                    shared.flush(&mut state);
                    writer
                };
                // Boxed, so this task's state is just the writer's, not the writer's plus
                // the handshake's locals.
                Box::pin(writer.run()).await;
            });
        }
    }

    /// Fires the core's timeouts until aborted. Each time it runs it also reads the links
    /// handed to event streams that have not read them (see [`Waiters::rescue`]): a link's
    /// deadline is never more than a keepalive away, so no link waits longer than that.
    pub(crate) async fn timer_loop(self: Arc<Self>) {
        loop {
            let deadline = {
                let mut state = self.lock();
                state.armed = state.node.poll_timeout();
                state.armed
            };
            // A notification sent from here on is kept for `changed`.
            let changed = self.timer.notified();
            match deadline {
                Some(deadline) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline.into()) => {
                            self.waiters.rescue(&self);
                            // The drain fires the deadlines that are due.
                            self.with(|_| ());
                        }
                        () = changed => self.waiters.rescue(&self),
                    }
                }
                None => {
                    changed.await;
                    self.waiters.rescue(&self);
                }
            }
        }
    }
}

/// Dials a link and hands the outcome to the core; returns the link's writer if it is up.
async fn dial(shared: Arc<Shared>, id: LinkId, address: PeerAddress) -> Option<LinkWriterTask> {
    // The dial's state (TLS or QUIC handshake) is boxed by the transport, so it is freed when
    // it ends instead of sizing this task, which lives on as the link's writer.
    let result = shared
        .transport
        .dial(address.socket, address.identity)
        .await;
    dialed(&shared, id, result)
}

/// Hands a dial's outcome to the core; returns the link's writer if it is up.
fn dialed(
    shared: &Arc<Shared>,
    id: LinkId,
    result: Result<Link, peergraph_transport::DialError>,
) -> Option<LinkWriterTask> {
    let mut writer = None;
    let mut state = shared.lock();
    let close_requested = match state.links.get(&id) {
        Some(LinkSlot::Dialing { close_requested }) => *close_requested,
        _ => return None, // the node shut down meanwhile
    };
    match result {
        Ok(_) if close_requested => {
            state.links.remove(&id);
            state
                .node
                .handle_link_closed(now(), id, LinkCloseReason::Closed);
            shared.links_changed.notify_waiters();
        }
        Ok(link) => {
            debug!(identity = %link.info.remote_identity, "link up");
            let up = LinkUp {
                remote_identity: link.info.remote_identity,
                remote_addr: link.info.remote_addr,
                exporter: link.info.exporter,
            };
            writer = Some(shared.start_link(&mut state, id, link));
            state.node.handle_link_up(now(), id, up);
        }
        Err(error) => {
            debug!(%error, "dial failed");
            state.links.remove(&id);
            shared.links_changed.notify_waiters();
            let reason = transport::dial_failure(&error);
            state.node.handle_link_closed(now(), id, reason);
        }
    }
    shared.flush(&mut state);
    writer
}

/// Names the direct connection a link carries in its span, once the core knows it.
pub(crate) fn record_connection(span: &Span, node: &Node, link: LinkId) -> bool {
    let Some((graph, connection, peer)) = node.link_connection(link) else {
        return false;
    };
    span.record("graph", field::debug(graph));
    span.record("connection", connection.get());
    span.record("peer", peer);
    true
}

/// What a writer does next.
enum WriterStep {
    Write { closing: bool },
    Close,
    Wait,
    Stop,
}

/// A link's writer, to be run on some task until the link ends.
struct LinkWriterTask {
    shared: Arc<Shared>,
    id: LinkId,
    write: Arc<WriteSide>,
    wake: Arc<Notify>,
    span: Span,
}

impl LinkWriterTask {
    async fn run(self) {
        let Self {
            shared,
            id,
            write,
            wake,
            span,
        } = self;
        write_loop(shared, id, write, wake).instrument(span).await;
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

async fn write_loop(shared: Arc<Shared>, id: LinkId, write: Arc<WriteSide>, wake: Arc<Notify>) {
    let task = std::future::poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
    let mut batch: Vec<Transmit> = Vec::new();
    loop {
        let step = {
            let mut state = shared.lock();
            let State { node, links, .. } = &mut *state;
            match links.get_mut(&id) {
                None => WriterStep::Stop,
                Some(LinkSlot::Dialing { .. }) => WriterStep::Wait,
                Some(LinkSlot::Up {
                    closing, parked, ..
                }) => {
                    *parked = None;
                    // See `Shared::write_through`: either this task sees the claim ended, or
                    // the task ending it sees `deferred` and wakes this one.
                    write.deferred.store(true, Ordering::SeqCst);
                    if write.claim.load(Ordering::SeqCst) == CLAIMED {
                        WriterStep::Wait
                    } else {
                        // Free, or handed to this task: either way this task writes now.
                        write.claim.store(FREE, Ordering::SeqCst);
                        write.deferred.store(false, Ordering::SeqCst);
                        // Bytes a task writing through left unsent go first, before more frames
                        // leave the core (whose queue limit is the backpressure).
                        let unsent = read::lock(&write.writer)
                            .as_ref()
                            .is_some_and(|writer| !writer.is_idle());
                        if !unsent {
                            take_batch(node, id, &mut batch);
                        }
                        if !batch.is_empty() || unsent {
                            WriterStep::Write { closing: *closing }
                        } else if *closing {
                            WriterStep::Close
                        } else {
                            *parked = Some(task.clone());
                            WriterStep::Wait
                        }
                    }
                }
            }
        };
        match step {
            WriterStep::Write { closing } => {
                shared.room.notify_waiters();
                // An open link may wait on its peer for as long as the peer keeps it alive
                // (that is the backpressure); once the link is closing or gone, the write in
                // progress gets `close_timeout` at most.
                // The writer encodes the frames into its own queue, so the batch (and the
                // payloads it holds) is released before the write waits on the peer.
                let queued = match read::lock(&write.writer).as_mut() {
                    Some(writer) => writer.queue_frames(&batch),
                    None => Ok(()),
                };
                batch.clear();
                let written = if let Err(error) = queued {
                    Err(error)
                } else {
                    let mut write = std::pin::pin!(std::future::poll_fn(|cx| {
                        match read::lock(&write.writer).as_mut() {
                            Some(writer) => writer.poll_send(cx),
                            None => Poll::Ready(Ok(())),
                        }
                    }));
                    let mut bounded = closing;
                    loop {
                        if bounded {
                            // Boxed: rare, and its timer would otherwise size every writer.
                            break Box::pin(tokio::time::timeout(shared.close_timeout, &mut write))
                                .await
                                .unwrap_or_else(|_| {
                                    Err(std::io::Error::from(std::io::ErrorKind::TimedOut).into())
                                });
                        }
                        tokio::select! {
                            written = &mut write => break written,
                            () = wake.notified() => {
                                // New frames wait for the next batch; a close bounds this write.
                                bounded = !matches!(
                                    shared.lock().links.get(&id),
                                    Some(LinkSlot::Up { closing: false, .. })
                                );
                            }
                        }
                    }
                };
                if let Err(error) = written {
                    debug!(%error, "link write failed");
                    // The write half goes now, not with the read half's last reference.
                    drop(read::lock(&write.writer).take());
                    return shared.link_ended(id, LinkCloseReason::Lost);
                }
            }
            WriterStep::Close => {
                let Some(writer) = read::lock(&write.writer).take() else {
                    return shared.link_ended(id, LinkCloseReason::Closed);
                };
                // Boxed: runs once, and its timer and the transport's close would otherwise size
                // every writer for the link's whole life.
                match Box::pin(tokio::time::timeout(shared.close_timeout, writer.close())).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => debug!(%error, "link close was not clean"),
                    Err(_) => debug!("link close timed out"),
                }
                return shared.link_ended(id, LinkCloseReason::Closed);
            }
            WriterStep::Wait => wake.notified().await,
            WriterStep::Stop => {
                // The link is gone: its write half goes now, not when the last task writing
                // through lets go of it.
                drop(read::lock(&write.writer).take());
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side() -> (Arc<WriteSide>, Arc<Notify>) {
        let side = Arc::new(WriteSide {
            writer: Mutex::new(None),
            claim: AtomicU8::new(FREE),
            deferred: AtomicBool::new(false),
            armed: AtomicBool::new(true),
        });
        (side, Arc::default())
    }

    /// Whether `wake` holds a notification for the writer task.
    fn woken(wake: &Notify) -> bool {
        let notified = std::pin::pin!(wake.notified());
        notified
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_ready()
    }

    #[test]
    fn a_claim_released_frees_the_link_and_wakes_the_writer_only_if_it_came_by() {
        let (side, wake) = side();
        Claim::new(side.clone(), wake.clone()).release();
        assert_eq!(side.claim.load(Ordering::SeqCst), FREE);
        assert!(!woken(&wake));

        let claim = Claim::new(side.clone(), wake.clone());
        assert_eq!(side.claim.load(Ordering::SeqCst), CLAIMED);
        side.deferred.store(true, Ordering::SeqCst);
        claim.release();
        assert_eq!(side.claim.load(Ordering::SeqCst), FREE);
        assert!(woken(&wake));
    }

    #[test]
    fn a_claim_dropped_by_a_panic_hands_the_link_to_the_writer_and_wakes_it() {
        let (side, wake) = side();
        let panicked = std::panic::catch_unwind(|| {
            let _claim = Claim::new(side.clone(), wake.clone());
            panic!("a transport call panicked");
        });
        assert!(panicked.is_err());
        assert_eq!(side.claim.load(Ordering::SeqCst), HANDED);
        assert!(woken(&wake), "the writer task would wait forever");
    }
}

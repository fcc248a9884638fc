//! The I/O side of a node: the tasks that move frames between links and the core, and the one
//! function (`flush`) that turns the core's outputs into work for them.
//!
//! The core sits in a mutex that is held only for the length of a core call plus its `flush`,
//! never across an `.await`. Each link has a reader task (frames in) and a writer task (frames
//! out, pulled from the core's send queue only when the socket can take them, which is what
//! makes `send_data`'s backpressure real). One timer task fires the core's timeouts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::{Duration, Instant};

use peergraph_core::{
    IdBuildHasher, LinkCloseReason, LinkCommand, LinkId, LinkUp, Node, PeerAddress,
    RegistrationHandle, Transmit,
};
use tokio::sync::{Notify, Semaphore};
use tokio::task::AbortHandle;
use tracing::{Instrument, Span, debug, debug_span, field};

use crate::transport::{self, Link, LinkReader, LinkWriter, Transport};

/// How long the accept loop pauses after an accept error (such as running out of descriptors).
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Bytes a writer pulls from the core per write; bounds the copy held outside the core.
const MAX_BATCH_BYTES: usize = 256 * 1024;

/// Frames a reader hands to the core per lock; bounds how long other tasks wait for the lock.
const MAX_FRAMES_PER_LOCK: usize = 256;

pub(crate) struct Shared {
    state: Mutex<State>,
    pub(crate) transport: Transport,
    /// Wakes the timer task when the earliest deadline moved.
    timer: Notify,
    /// Wakes `send_data` callers waiting for queue room.
    pub(crate) room: Notify,
    /// Wakes `finish_closing` callers when a link is gone.
    pub(crate) links_changed: Notify,
    /// TLS handshakes of inbound connections in progress; beyond the configured limit new
    /// connections are dropped before any work is spent on them.
    inbound_handshakes: Arc<Semaphore>,
    /// How long a closing link may take to write what is left and close.
    close_timeout: Duration,
    /// The runtime the node was built in; the API may be called from any thread.
    pub(crate) runtime: tokio::runtime::Handle,
}

pub(crate) struct State {
    pub(crate) node: Node,
    links: HashMap<LinkId, LinkSlot, IdBuildHasher>,
    pub(crate) wakers: HashMap<RegistrationHandle, Waker, IdBuildHasher>,
    armed: Option<Instant>,
    pub(crate) listener: Option<(SocketAddr, AbortHandle)>,
}

enum LinkSlot {
    /// The transport is dialing; the core may already have asked to close it.
    Dialing { close_requested: bool },
    Up {
        writer: Arc<Notify>,
        closing: bool,
        reader: AbortHandle,
    },
}

/// The runtime's clock: tokio's, so tests may pause it.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl Shared {
    pub(crate) fn new(
        node: Node,
        transport: Transport,
        max_inbound_tls: usize,
        runtime: tokio::runtime::Handle,
    ) -> Arc<Self> {
        let inbound_handshakes = Arc::new(Semaphore::new(max_inbound_tls));
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
            inbound_handshakes,
            close_timeout,
            runtime,
        })
    }

    /// Locks the state. A panic while locked is a bug in this crate, and the state it left is
    /// still the best there is, so a poisoned lock is entered anyway.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the state, then turns the core's outputs into work.
    pub(crate) fn with<R>(self: &Arc<Self>, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.lock();
        let result = f(&mut state);
        self.flush(&mut state);
        result
    }

    /// Drains the core's outputs in the documented order.
    pub(crate) fn flush(self: &Arc<Self>, state: &mut State) {
        let mut ended = false;
        while let Some(command) = state.node.poll_link_command() {
            match command {
                LinkCommand::Dial { link, address } => {
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
                            // The Hello is queued: write it from this task, which goes on as
                            // the link's writer, outside the dial's span (boxed, so the task's
                            // state is the writer's alone).
                            Box::pin(writer.run()).await;
                        }
                    });
                }
                LinkCommand::Close { link } => {
                    ended = true;
                    match state.links.get_mut(&link) {
                        Some(LinkSlot::Dialing { close_requested }) => *close_requested = true,
                        Some(LinkSlot::Up {
                            writer, closing, ..
                        }) => {
                            *closing = true;
                            writer.notify_one();
                        }
                        // A link whose tasks already ended: the core still waits for the close to be
                        // confirmed.
                        None => state
                            .node
                            .handle_link_closed(now(), link, LinkCloseReason::Closed),
                    }
                }
            }
        }
        if ended {
            // A connection ended: `send_data` callers waiting for its queue to drain must
            // retry, to learn that it is gone.
            self.room.notify_waiters();
        }
        while let Some(link) = state.node.poll_ready_link() {
            if let Some(LinkSlot::Up { writer, .. }) = state.links.get(&link) {
                writer.notify_one();
            }
        }
        while let Some(registration) = state.node.poll_ready_registration() {
            if let Some(waker) = state.wakers.remove(&registration) {
                waker.wake();
            }
        }
        let next = state.node.poll_timeout();
        if next != state.armed {
            state.armed = next;
            self.timer.notify_one();
        }
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
        record_connection(&span, &state.node, id);
        let wake = Arc::new(Notify::new());
        let reader = self
            .runtime
            .spawn(read_loop(self.clone(), id, link.reader).instrument(span.clone()));
        state.links.insert(
            id,
            LinkSlot::Up {
                writer: wake.clone(),
                closing: false,
                reader: reader.abort_handle(),
            },
        );
        LinkWriterTask {
            shared: self.clone(),
            id,
            writer: link.writer,
            wake,
            span,
        }
    }

    /// A link ended on its own (read error, peer closed, write error): tell the core and stop
    /// the link's tasks.
    fn link_ended(self: &Arc<Self>, id: LinkId, reason: LinkCloseReason) {
        debug!(?reason, "link ended");
        let mut state = self.lock();
        if let Some(LinkSlot::Up { writer, reader, .. }) = state.links.remove(&id) {
            reader.abort();
            // The writer finds its slot gone and drops the link's write half.
            writer.notify_one();
        }
        state.node.handle_link_closed(now(), id, reason);
        // Its connection may have ended here; see `flush`.
        self.room.notify_waiters();
        self.links_changed.notify_waiters();
        self.flush(&mut state);
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
            let Ok(permit) = self.inbound_handshakes.clone().try_acquire_owned() else {
                debug!("too many inbound handshakes in progress; dropping a connection");
                continue;
            };
            let shared = self.clone();
            tokio::spawn(async move {
                // Boxed, so the TLS handshake's state is freed when it ends instead of sizing
                // this task, which lives on as the link's writer.
                let handshake = Box::pin(incoming.handshake()).await;
                drop(permit);
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

    /// Fires the core's timeouts until aborted.
    pub(crate) async fn timer_loop(self: Arc<Self>) {
        loop {
            let deadline = self.lock().node.poll_timeout();
            let changed = self.timer.notified();
            match deadline {
                Some(deadline) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline.into()) => {
                            self.with(|state| state.node.handle_timeout(now()));
                        }
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }
}

/// Dials a link and hands the outcome to the core; returns the link's writer if it is up.
async fn dial(shared: Arc<Shared>, id: LinkId, address: PeerAddress) -> Option<LinkWriterTask> {
    // Boxed, so the dial's state (TLS or QUIC handshake) is freed when it ends instead of
    // sizing this task, which lives on as the link's writer.
    let result = Box::pin(shared.transport.dial(address.socket, address.identity)).await;
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
fn record_connection(span: &Span, node: &Node, link: LinkId) -> bool {
    let Some((graph, connection, peer)) = node.link_connection(link) else {
        return false;
    };
    span.record("graph", field::debug(graph));
    span.record("connection", connection.get());
    span.record("peer", peer);
    true
}

async fn read_loop(shared: Arc<Shared>, id: LinkId, mut reader: LinkReader) {
    // An inbound link learns its connection from the Hello, a few frames in.
    let mut named = record_connection(&Span::current(), &shared.lock().node, id);
    loop {
        match reader.read_frame().await {
            Ok(Some(frame)) => shared.with(|state| {
                // The frames that arrived with this one go to the core under the same lock.
                let now = now();
                state.node.handle_frame(now, id, frame);
                for _ in 1..MAX_FRAMES_PER_LOCK {
                    let Some(frame) = reader.buffered_frame() else {
                        break;
                    };
                    state.node.handle_frame(now, id, frame);
                }
                if !named {
                    named = record_connection(&Span::current(), &state.node, id);
                    if named {
                        debug!("direct connection admitted");
                    }
                }
            }),
            Ok(None) => return shared.link_ended(id, LinkCloseReason::Closed),
            Err(error) => {
                debug!(%error, "link read failed");
                return shared.link_ended(id, transport::read_failure(&error));
            }
        }
    }
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
    writer: LinkWriter,
    wake: Arc<Notify>,
    span: Span,
}

impl LinkWriterTask {
    async fn run(self) {
        let Self {
            shared,
            id,
            writer,
            wake,
            span,
        } = self;
        write_loop(shared, id, writer, wake).instrument(span).await;
    }
}

async fn write_loop(shared: Arc<Shared>, id: LinkId, mut writer: LinkWriter, wake: Arc<Notify>) {
    let mut batch: Vec<Transmit> = Vec::new();
    loop {
        let step = {
            let mut state = shared.lock();
            let mut bytes = 0;
            while bytes < MAX_BATCH_BYTES {
                let Some(frame) = state.node.poll_transmit(id) else {
                    break;
                };
                bytes += frame.len();
                batch.push(frame);
            }
            let closing = matches!(
                state.links.get(&id),
                Some(LinkSlot::Up { closing: true, .. })
            );
            match state.links.get(&id) {
                None => WriterStep::Stop,
                Some(_) if !batch.is_empty() => WriterStep::Write { closing },
                Some(_) if closing => WriterStep::Close,
                Some(_) => WriterStep::Wait,
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
                let queued = writer.queue_frames(&batch);
                batch.clear();
                let written = if let Err(error) = queued {
                    Err(error)
                } else {
                    let mut write = std::pin::pin!(std::future::poll_fn(|cx| writer.poll_send(cx)));
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
                    return shared.link_ended(id, LinkCloseReason::Lost);
                }
            }
            WriterStep::Close => {
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
            WriterStep::Stop => return,
        }
    }
}

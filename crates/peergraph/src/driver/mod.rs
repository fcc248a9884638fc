//! The I/O side of a node: the node's state behind one lock, the tasks around it (dialing,
//! accepting, the timer, one task per link) and the turn that drives a link (see [`crate::link`]).
//!
//! The core sits in a mutex that is held only for the length of a core call plus the drain of
//! its outputs, never across an `.await`. A link's turn takes its driver first and the node's
//! lock second; nothing takes a driver while holding the node's lock except with a `try_lock`
//! after it is released, so the two never wait on each other.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::{Duration, Instant};

use peergraph_core::{
    GraphHandle, IdBuildHasher, LinkCloseReason, LinkId, LinkUp, Node, Output, PeerAddress,
    RegistrationHandle,
};
use peergraph_transport::Link;
use tokio::sync::Notify;
use tokio::task::AbortHandle;
use tracing::{Instrument, Span, debug, debug_span, field};

use crate::link::{self, LinkCell, Waiters};
use crate::store::GraphDb;
use crate::transport::{self, Transport};

mod turn;

/// How long the accept loop pauses after an accept error (such as running out of descriptors).
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

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
    /// Event streams waiting, which drive links that have data themselves.
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
    /// The databases of the open graphs (none without a data directory).
    pub(crate) databases: HashMap<GraphHandle, GraphDb>,
}

impl State {
    /// Makes the graph's pending record writes durable. A failure is logged: what came from
    /// the network comes again from a reconciliation once the graph is opened again.
    pub(crate) fn save(&mut self, graph: GraphHandle) {
        let writes = self.node.take_store_writes(graph);
        if let Some(db) = self.databases.get(&graph) {
            if let Err(error) = db.apply(&writes) {
                tracing::error!(%error, "records were not saved");
            }
        }
    }

    /// [`save`](Self::save) for every graph with a database.
    pub(crate) fn save_all(&mut self) {
        let graphs: Vec<GraphHandle> = self.databases.keys().copied().collect();
        for graph in graphs {
            self.save(graph);
        }
    }
}

enum LinkSlot {
    /// The transport is dialing; the core may already have asked to close it.
    Dialing {
        close_requested: bool,
    },
    Up {
        cell: Arc<LinkCell>,
        closing: bool,
    },
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
                databases: HashMap::new(),
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
        link::lock(&self.state)
    }

    /// Runs `f` on the state, then turns the core's outputs into work. A link `f` gave frames
    /// to is driven by the calling task, after the lock is released, if frames came in on it
    /// since it last wrote this way (a reply) and no other task drives it: one task fewer
    /// between a send and the socket. Other links' tasks are woken.
    pub(crate) fn with<R>(self: &Arc<Self>, f: impl FnOnce(&mut State) -> R) -> R {
        let mut told = Vec::new();
        let result = {
            let mut state = self.lock();
            let result = f(&mut state);
            self.drain(&mut state, None, &mut told);
            result
        };
        for cell in told {
            self.write_through(&cell);
        }
        result
    }

    /// Drains the core's outputs in the documented order, waking the tasks of the links told.
    pub(crate) fn flush(self: &Arc<Self>, state: &mut State) {
        let mut told = Vec::new();
        self.drain(state, None, &mut told);
        for cell in told {
            cell.wake_task();
        }
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

    /// Drains the core's output stream. Links with news (frames, a close, a resume) are told
    /// and those not told before are added to `told`, except `own`, whose turn is running:
    /// returns whether it had news.
    fn drain(
        self: &Arc<Self>,
        state: &mut State,
        own: Option<LinkId>,
        told: &mut Vec<Arc<LinkCell>>,
    ) -> bool {
        let mut ended = false;
        let mut own_told = false;
        let next = loop {
            let link = match state.node.poll_output(now()) {
                Output::Dial { link, address } => {
                    self.start_dial(state, link, address);
                    continue;
                }
                Output::Close { link } => {
                    ended = true;
                    match state.links.get_mut(&link) {
                        Some(LinkSlot::Dialing { close_requested }) => *close_requested = true,
                        Some(LinkSlot::Up { closing, .. }) => *closing = true,
                        // A link whose task already ended: the core still waits for the close
                        // to be confirmed.
                        None => state
                            .node
                            .handle_link_closed(now(), link, LinkCloseReason::Closed),
                    }
                    link
                }
                Output::Store { graph } => {
                    state.save(graph);
                    continue;
                }
                Output::Resume { link } | Output::Transmit { link } => link,
                Output::Events { registration } => {
                    if let Some(waker) = state.wakers.remove(&registration) {
                        waker.wake();
                    }
                    continue;
                }
                Output::Timeout(next) => break next,
            };
            if Some(link) == own {
                own_told = true;
            } else if let Some(LinkSlot::Up { cell, .. }) = state.links.get(&link) {
                if cell.tell() {
                    told.push(cell.clone());
                }
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
        own_told
    }

    /// Starts dialing `link`: its task dials, handshakes and goes on as the link's task.
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
        let shared = self.clone();
        self.runtime.spawn(async move {
            if let Some(cell) = dialing.await {
                // Boxed, so the task's state is the link's alone, not the dial's too.
                Box::pin(run_link(shared, cell)).await;
            }
        });
    }

    /// Wakes every event stream, so each finds out whether its registration still lives.
    pub(crate) fn wake_all_streams(state: &mut State) {
        for (_, waker) in state.wakers.drain() {
            waker.wake();
        }
    }

    /// Registers an authenticated link. The caller runs its task ([`run_link`]): a dial or an
    /// inbound handshake goes on as its link's task, so the first frames leave without a hop.
    fn start_link(self: &Arc<Self>, state: &mut State, id: LinkId, link: Link) -> Arc<LinkCell> {
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
        let cell = LinkCell::new(id, link, named, self.waiters.clone(), span);
        state.links.insert(
            id,
            LinkSlot::Up {
                cell: cell.clone(),
                closing: false,
            },
        );
        cell
    }

    /// Whether the node has no link at all, open, closing or being dialed.
    pub(crate) fn no_links(state: &State) -> bool {
        state.links.is_empty()
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
                // instead of sizing this task, which lives on as the link's task.
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
                let cell = {
                    let mut state = shared.lock();
                    let id = state.node.accept_link(now(), up);
                    let cell = shared.start_link(&mut state, id, link);
                    shared.flush(&mut state);
                    cell
                };
                // Boxed, so this task's state is just the link's, not the link's plus the
                // handshake's locals.
                Box::pin(run_link(shared, cell)).await;
            });
        }
    }

    /// Fires the core's timeouts until aborted. Each time it runs it also drives the links
    /// handed to event streams that have not driven them (see [`Waiters::take_unread`]): a
    /// link's deadline is never more than a keepalive away, so no link waits longer than that.
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
                            self.rescue();
                            // The drain fires the deadlines that are due.
                            self.with(|_| ());
                        }
                        () = changed => self.rescue(),
                    }
                }
                None => {
                    changed.await;
                    self.rescue();
                }
            }
        }
    }

    /// Drives the links handed to event streams and not driven by them.
    fn rescue(self: &Arc<Self>) {
        for cell in self.waiters.take_unread() {
            // A link driven by another task meanwhile needs nothing more here.
            let _ = self.drive(&cell);
        }
    }
}

/// A link's task: drives the link whenever it is woken and no other task drives it, until the
/// link has ended.
async fn run_link(shared: Arc<Shared>, cell: Arc<LinkCell>) {
    while shared.drive(&cell).is_pending() {
        cell.woken().await;
    }
}

/// Dials a link and hands the outcome to the core; returns the link if it is up.
async fn dial(shared: Arc<Shared>, id: LinkId, address: PeerAddress) -> Option<Arc<LinkCell>> {
    // The dial's state (TLS or QUIC handshake) is boxed by the transport, so it is freed when
    // it ends instead of sizing this task, which lives on as the link's task.
    let result = shared
        .transport
        .dial(address.socket, address.identity)
        .await;
    dialed(&shared, id, result)
}

/// Hands a dial's outcome to the core; returns the link if it is up.
fn dialed(
    shared: &Arc<Shared>,
    id: LinkId,
    result: Result<Link, peergraph_transport::DialError>,
) -> Option<Arc<LinkCell>> {
    let mut up_link = None;
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
            up_link = Some(shared.start_link(&mut state, id, link));
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
    up_link
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

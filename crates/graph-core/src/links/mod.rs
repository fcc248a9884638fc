//! The link table: every link the node knows and the direct connection each carries, the
//! handshakes in progress, each link's frames to write, the dial and close commands for the
//! driver, and the links' deadlines. One link carries at most one direct connection.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use crate::address::PeerAddress;
use crate::codec::Transmit;
use crate::config::{Limits, Timeouts};
use crate::event::Direction;
use crate::id_hash::IdMap;
use crate::identity::PeerIdentity;
use crate::ids::{ConnectionId, GraphHandle, LinkId, NodeId};
use crate::info::ConnectionKind;
use crate::output::Output;
use crate::proof::Membership;
use crate::timers::Timers;

mod dials;
mod pending;
mod send_queue;
#[cfg(test)]
mod tests;
mod window;

use dials::Dials;
use pending::Pending;
use send_queue::SendQueue;
pub(crate) use window::Unread;

/// Where a link's handshake stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkState {
    /// Outbound: the runtime is dialing.
    Dialing,
    /// Outbound: Hello sent, waiting for Accept or Refuse.
    AwaitingAccept,
    /// Inbound: waiting for the initiator's Hello.
    AwaitingHello,
    /// Inbound: Accept sent, waiting for the initiator's Confirm. The link holds a place in its
    /// graph's connection limit.
    AwaitingConfirm,
    /// The direct connection is established.
    Connected,
    /// A Close command was issued; waiting for the runtime to report the link closed.
    Closing,
}

impl LinkState {
    pub(crate) fn is_handshaking(self) -> bool {
        matches!(
            self,
            Self::Dialing | Self::AwaitingAccept | Self::AwaitingHello | Self::AwaitingConfirm
        )
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counters {
    pub(crate) bytes_sent: u64,
    pub(crate) bytes_received: u64,
    pub(crate) messages_sent: u64,
    pub(crate) messages_received: u64,
}

/// One link. What it is (state, ends, counters, traffic times) is plain data the node's method
/// groups read and fill in; its send queue and its place in the ready list and the timers are the
/// table's own, changed only through [`Links`] (and [`Link::push_frame`]). A state change that
/// leaves the handshake goes through [`Links::establish`] or [`Links::release`], which keep the
/// count of pending handshakes.
pub(crate) struct Link {
    pub(crate) state: LinkState,
    pub(crate) direction: Direction,
    /// A direct or a neighbor connection (inbound: from the Hello).
    pub(crate) kind: ConnectionKind,
    /// The graph, once known (outbound: from the start; inbound: after an accepted Hello).
    pub(crate) graph: Option<GraphHandle>,
    /// The direct connection this link carries, once it has one.
    pub(crate) connection: Option<ConnectionId>,
    /// Outbound: the peer id asked for; inbound: the initiator's.
    pub(crate) remote_peer_id: String,
    pub(crate) remote_node_id: Option<NodeId>,
    pub(crate) remote_addr: Option<SocketAddr>,
    pub(crate) remote_identity: Option<PeerIdentity>,
    pub(crate) exporter: [u8; 32],
    /// The membership exchange while the handshake runs.
    pub(crate) membership: Membership,
    send_queue: SendQueue,
    /// The longest frame of several messages the link may send: the least of what the peer
    /// announced and this node's `batch_frame_len`; 0 until the handshake says otherwise.
    pub(crate) batch_limit: usize,
    /// Whether the link is in the ready-to-transmit list.
    ready: bool,
    pub(crate) counters: Counters,
    /// `IncomingData` of this link's connection waiting in registration queues.
    unread: Unread,
    /// The receive window is full: the driver reads no more frames until the node says so.
    held: bool,
    pub(crate) handshake_deadline: Instant,
    pub(crate) last_received: Instant,
    pub(crate) last_sent: Instant,
    /// The deadline this link has in the timer set, if any.
    timer_at: Option<Instant>,
    /// Outbound, dialed by node id: the node's other announced addresses, tried in order if
    /// this one cannot be reached (a boxed slice: almost every link has none).
    pub(crate) fallbacks: Box<[crate::address::PeerAddress]>,
}

impl Link {
    pub(crate) fn new(
        state: LinkState,
        direction: Direction,
        now: Instant,
        deadline: Instant,
    ) -> Self {
        Self {
            state,
            direction,
            kind: ConnectionKind::Direct,
            graph: None,
            connection: None,
            remote_peer_id: String::new(),
            remote_node_id: None,
            remote_addr: None,
            remote_identity: None,
            exporter: [0; 32],
            membership: Membership::Idle,
            send_queue: SendQueue::default(),
            batch_limit: 0,
            ready: false,
            counters: Counters::default(),
            unread: Unread::default(),
            held: false,
            handshake_deadline: deadline,
            last_received: now,
            last_sent: now,
            timer_at: None,
            fallbacks: Box::default(),
        }
    }

    /// Appends a frame to the send queue; returns whether the link must now be listed as ready.
    pub(crate) fn push_frame(&mut self, frame: Transmit, now: Option<Instant>) -> bool {
        let added = self.send_queue.push_frame(frame);
        self.queued(added, now)
    }

    /// Appends a message to the send queue, in one frame with the small messages queued before
    /// it if it can; returns whether the link must now be listed as ready.
    pub(crate) fn push_data(
        &mut self,
        type_id: [u8; 16],
        payload: Bytes,
        now: Option<Instant>,
    ) -> bool {
        let added = self
            .send_queue
            .push_data(type_id, payload, self.batch_limit);
        self.queued(added, now)
    }

    fn queued(&mut self, added: usize, now: Option<Instant>) -> bool {
        self.counters.bytes_sent += added as u64;
        if let Some(now) = now {
            self.last_sent = now;
        }
        !std::mem::replace(&mut self.ready, true)
    }

    /// Bytes queued and not yet taken by `poll_transmit`, as they will be on the wire.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.send_queue.bytes()
    }

    /// Whether frames wait to be written.
    pub(crate) fn has_queued_frames(&self) -> bool {
        !self.send_queue.is_empty()
    }

    /// What of the connection's data waits in registration queues.
    #[inline]
    pub(crate) fn unread(&self) -> Unread {
        self.unread
    }

    /// Counts `copies` copies of a message of `bytes` payload bytes, queued for registrations,
    /// against the connection's `window`; returns true if the link has just become held, which
    /// the caller reports with [`Links::count_held`] (the link stays borrowed meanwhile, so that
    /// a message costs one lookup).
    #[inline]
    pub(crate) fn add_unread(&mut self, copies: usize, bytes: usize, window: Unread) -> bool {
        self.unread.messages += copies;
        self.unread.bytes += copies * bytes;
        if self.held || !self.unread.reaches(window) {
            return false;
        }
        self.held = true;
        true
    }

    /// Whether the receive window is full (the driver reads no more frames from the link).
    #[inline]
    pub(crate) fn is_held(&self) -> bool {
        self.held
    }
}

/// What a link was when [`Links::release`] marked it closing.
pub(crate) struct Released {
    pub(crate) previous: LinkState,
    pub(crate) kind: ConnectionKind,
    pub(crate) graph: Option<GraphHandle>,
    pub(crate) connection: Option<ConnectionId>,
}

/// Every link of the node, by id.
pub(crate) struct Links {
    table: IdMap<LinkId, Link>,
    connections: IdMap<ConnectionId, LinkId>,
    next_link: u64,
    next_connection: u64,
    pending: Pending,
    timers: Timers,
    /// Dials and closes for the driver, in order.
    commands: VecDeque<Output>,
    /// Links with frames the driver has not been told of yet.
    ready: VecDeque<LinkId>,
    /// Each connection's receive window.
    window: Unread,
    /// Links held by their window (usually none, which spares `is_readable` a lookup).
    held: usize,
    /// Outbound handshakes in flight per address, and the opens waiting for a dial.
    dials: Dials,
    /// `Limits::max_dials_per_target`.
    dial_limit: usize,
}

impl Links {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            window: Unread {
                messages: limits.receive_window_messages.max(1),
                bytes: limits.receive_window_bytes.max(1),
            },
            held: 0,
            dials: Dials::default(),
            dial_limit: limits.max_dials_per_target,
            table: IdMap::default(),
            connections: IdMap::default(),
            next_link: 1,
            next_connection: 1,
            pending: Pending::default(),
            timers: Timers::default(),
            commands: VecDeque::new(),
            ready: VecDeque::new(),
        }
    }

    /// A connection id never handed out before.
    pub(crate) fn allocate_connection(&mut self) -> ConnectionId {
        let id = ConnectionId(self.next_connection);
        self.next_connection += 1;
        id
    }

    /// Adds a link under a new id; a handshaking link counts as pending in its direction.
    #[inline(always)]
    pub(crate) fn insert(&mut self, link: Link) -> LinkId {
        let id = LinkId(self.next_link);
        self.next_link += 1;
        if link.state.is_handshaking() {
            self.pending
                .change((link.direction, link.remote_addr), true);
        }
        if let Some(connection) = link.connection {
            self.connections.insert(connection, id);
        }
        self.table.insert(id, link);
        id
    }

    #[inline]
    pub(crate) fn get(&self, link: LinkId) -> Option<&Link> {
        self.table.get(&link)
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, link: LinkId) -> Option<&mut Link> {
        self.table.get_mut(&link)
    }

    /// The link that carries `connection`.
    #[inline]
    pub(crate) fn link_of(&self, connection: ConnectionId) -> Option<LinkId> {
        self.connections.get(&connection).copied()
    }

    /// Every connection with its link, in no particular order.
    pub(crate) fn connections(&self) -> impl Iterator<Item = (ConnectionId, &Link)> {
        self.connections
            .iter()
            .filter_map(|(id, link)| Some((*id, self.table.get(link)?)))
    }

    /// The links other than closing ones, with their ids, in no particular order.
    pub(crate) fn live(&self) -> impl Iterator<Item = (LinkId, &Link)> {
        self.table
            .iter()
            .filter(|(_, link)| link.state != LinkState::Closing)
            .map(|(id, link)| (*id, link))
    }

    /// The links, other than closing ones, that match `filter`.
    pub(crate) fn select(&self, filter: impl Fn(&Link) -> bool) -> Vec<LinkId> {
        self.live()
            .filter(|(_, link)| filter(link))
            .map(|(id, _)| id)
            .collect()
    }

    /// Handshakes in progress in `direction`.
    #[inline]
    pub(crate) fn pending(&self, direction: Direction) -> usize {
        self.pending.count(direction)
    }

    /// Makes a handshaking link `Connected`, counts it off the pending handshakes, and gives it
    /// a connection id if it has none yet (an inbound link); returns the link and its id.
    #[inline(always)]
    pub(crate) fn establish(&mut self, link_id: LinkId) -> Option<(&Link, ConnectionId)> {
        let link = self.table.get_mut(&link_id)?;
        if link.state.is_handshaking() {
            let ends = (link.direction, link.remote_addr);
            self.pending.change(ends, false);
            self.handshake_ended(link_id, ends);
        }
        let link = self.table.get_mut(&link_id)?;
        link.state = LinkState::Connected;
        link.membership = Membership::Idle;
        let connection = match link.connection {
            Some(id) => id,
            None => {
                let id = ConnectionId(self.next_connection);
                self.next_connection += 1;
                link.connection = Some(id);
                self.connections.insert(id, link_id);
                id
            }
        };
        Some((link, connection))
    }

    /// An outbound link left its handshake: the next open waiting for its address is dialed.
    fn handshake_ended(
        &mut self,
        link: LinkId,
        (direction, remote_addr): (Direction, Option<SocketAddr>),
    ) {
        if let (Direction::Outbound, Some(socket)) = (direction, remote_addr) {
            if let Some((next, address)) = self.dials.finished(link, socket) {
                self.commands.push_back(Output::Dial {
                    link: next,
                    address,
                });
            }
        }
    }

    /// Asks the driver to open `link` to `address`, at once or when the address has room (see
    /// [`Dials`]).
    #[inline]
    pub(crate) fn dial(&mut self, link: LinkId, address: PeerAddress) {
        if self.dials.start(link, address, self.dial_limit) {
            self.commands.push_back(Output::Dial { link, address });
        }
    }

    /// Asks the driver to write what the link still has, then close it.
    #[inline]
    pub(crate) fn close(&mut self, link: LinkId) {
        self.commands.push_back(Output::Close { link });
    }

    /// Queues a frame on the link and lists the link as ready if it was not; `now` (when
    /// given) is the time the frame counts as sent for the keepalive.
    #[inline]
    pub(crate) fn queue_frame(&mut self, link_id: LinkId, frame: Transmit, now: Option<Instant>) {
        let Some(link) = self.table.get_mut(&link_id) else {
            return;
        };
        if link.push_frame(frame, now) {
            self.ready.push_back(link_id);
        }
    }

    /// Queues a message on the link (see [`Link::push_data`]) and lists the link as ready if it
    /// was not.
    pub(crate) fn queue_data(
        &mut self,
        link_id: LinkId,
        type_id: [u8; 16],
        data: Bytes,
        now: Instant,
    ) {
        let Some(link) = self.table.get_mut(&link_id) else {
            return;
        };
        if link.push_data(type_id, data, Some(now)) {
            self.ready.push_back(link_id);
        }
    }

    /// Whether a command or a link with frames waits for the driver.
    #[inline]
    pub(crate) fn has_output(&self) -> bool {
        !self.commands.is_empty() || !self.ready.is_empty()
    }

    /// The next dial, close or resume for the driver.
    #[inline]
    pub(crate) fn poll_command(&mut self) -> Option<Output> {
        self.commands.pop_front()
    }

    /// A link that has frames to write. Each is returned once until `poll_transmit` empties it.
    #[inline]
    pub(crate) fn poll_ready(&mut self) -> Option<LinkId> {
        while let Some(id) = self.ready.pop_front() {
            if let Some(link) = self.table.get_mut(&id) {
                link.ready = false;
                if !link.send_queue.is_empty() {
                    return Some(id);
                }
            }
        }
        None
    }

    /// The next frame to write on `link`, in order.
    #[inline]
    pub(crate) fn poll_transmit(&mut self, link: LinkId) -> Option<Transmit> {
        self.table.get_mut(&link)?.send_queue.pop_front()
    }

    /// Marks the link closing: takes it off the timers, the pending handshakes and the
    /// connection map. `None` if it was closing already or is unknown.
    #[inline]
    pub(crate) fn release(&mut self, link_id: LinkId) -> Option<Released> {
        let link = self.table.get_mut(&link_id)?;
        if link.state == LinkState::Closing {
            return None;
        }
        let previous = std::mem::replace(&mut link.state, LinkState::Closing);
        let released = Released {
            previous,
            kind: link.kind,
            graph: link.graph,
            connection: link.connection,
        };
        if previous.is_handshaking() {
            let ends = (link.direction, link.remote_addr);
            self.pending.change(ends, false);
            self.handshake_ended(link_id, ends);
        }
        let link = self.table.get_mut(&link_id)?;
        link.membership = Membership::Idle;
        if std::mem::take(&mut link.held) {
            // Its connection is gone: nothing more is read from it.
            self.held -= 1;
        }
        if link.timer_at.take().is_some() {
            self.prune_timers();
        }
        if let Some(connection) = released.connection {
            self.connections.remove(&connection);
        }
        Some(released)
    }

    /// Forgets a link the driver reported closed.
    pub(crate) fn remove(&mut self, link: LinkId) {
        self.table.remove(&link);
    }

    /// Puts the link's next deadline in the timer set when it is earlier than the one there.
    /// Deadlines that move later (new traffic) are left in place and re-armed when they fire.
    pub(crate) fn schedule(&mut self, link_id: LinkId, timeouts: &Timeouts) {
        let Some(link) = self.table.get_mut(&link_id) else {
            return;
        };
        let deadline = match link.state {
            LinkState::Dialing
            | LinkState::AwaitingAccept
            | LinkState::AwaitingHello
            | LinkState::AwaitingConfirm => link.handshake_deadline,
            // A held link is not idle: only its keepalive is due.
            LinkState::Connected if link.held => link.last_sent + timeouts.keepalive,
            LinkState::Connected => {
                (link.last_received + timeouts.idle).min(link.last_sent + timeouts.keepalive)
            }
            LinkState::Closing => return,
        };
        if link.timer_at.is_some_and(|at| at <= deadline) {
            return;
        }
        let replaced = link.timer_at.replace(deadline).is_some();
        self.timers.push(deadline, link_id);
        if replaced {
            self.prune_timers();
        }
    }

    /// Drops the timer entries that no longer name a link's deadline (see [`Timers`]).
    fn prune_timers(&mut self) {
        let table = &self.table;
        self.timers
            .prune(table.len(), |at, id| timer_is_live(table, at, id));
    }

    /// A link whose deadline is due at `now`, taken off the timers (the caller re-schedules it).
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<LinkId> {
        loop {
            let table = &self.table;
            let (_, link_id) = self
                .timers
                .pop_due(now, |at, id| timer_is_live(table, at, id))?;
            if let Some(link) = self.table.get_mut(&link_id) {
                link.timer_at = None;
                return Some(link_id);
            }
        }
    }

    /// The earliest deadline of any link.
    #[inline]
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }
}

/// Whether the timer entry `(at, link)` is the link's live deadline (see [`Timers`]).
fn timer_is_live(table: &IdMap<LinkId, Link>, at: Instant, link: LinkId) -> bool {
    table
        .get(&link)
        .is_some_and(|link| link.timer_at == Some(at))
}

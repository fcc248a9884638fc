//! The node's one output stream, and the deadlines that fire inside it.

use std::time::Instant;

use crate::codec::{self, CloseReason, Transmit};
use crate::event::{ConnectionStatus, DisconnectReason, FailReason};
use crate::ids::LinkId;
use crate::links::LinkState;
use crate::output::Output;

use super::Node;

impl Node {
    /// The next thing the driver must do; [`Output::Timeout`] when there is nothing more.
    ///
    /// Outputs come in this order: record stores with writes to make durable, dials, closes and
    /// resumes (in the order the node decided them), links with frames to write, registrations
    /// with events, and last the timeout. Deadlines due at
    /// `now` (handshake expiry, idle timeout, keepalive) fire before the timeout is returned, so
    /// the instant it names is always later than `now`.
    pub fn poll_output(&mut self, now: Instant) -> Output {
        let now = self.advance(now);
        loop {
            if let Some(graph) = self.stores_due.pop() {
                return Output::Store { graph };
            }
            if let Some(command) = self.links.poll_command() {
                return command;
            }
            if let Some(link) = self.links.poll_ready() {
                return Output::Transmit { link };
            }
            if let Some(registration) = self.registrations.poll_ready() {
                return Output::Events { registration };
            }
            if !self.graphs_due.is_empty() {
                self.fire_graph_deadlines(now);
                continue;
            }
            match self.poll_timeout() {
                Some(at) if at <= now => self.fire_deadlines(now),
                next => return Output::Timeout(next),
            }
        }
    }

    /// Whether the driver should go on reading frames from `link`: false while the receive
    /// window of its connection is full, until [`Output::Resume`] names the link. Frames handed
    /// in meanwhile are still taken (nothing is lost), but memory then grows with them.
    #[inline]
    #[must_use]
    pub fn link_readable(&self, link: LinkId) -> bool {
        self.links.is_readable(link)
    }

    /// The largest frame the driver should accept on `link` now: small
    /// ([`Limits::max_handshake_frame_len`](crate::Limits::max_handshake_frame_len)) until its
    /// handshake is done, so a peer not yet admitted cannot make the driver buffer a large frame.
    #[must_use]
    pub fn max_frame_len(&self, link: LinkId) -> usize {
        match self.links.get(link).map(|link| link.state) {
            Some(LinkState::Connected) => self.config.limits.max_frame_len(),
            _ => self.config.limits.max_handshake_frame_len,
        }
    }

    /// Whether [`poll_output`](Self::poll_output) has something for the driver before its
    /// timeout (deadlines that have come due aside): a cheap check for a driver that takes
    /// events outside its drain, since taking them may release a held link.
    #[inline]
    #[must_use]
    pub fn has_output(&self) -> bool {
        self.links.has_output()
            || self.registrations.has_ready()
            || !self.graphs_due.is_empty()
            || !self.stores_due.is_empty()
    }

    /// The next frame to write on `link`, in order.
    #[inline]
    #[must_use]
    pub fn poll_transmit(&mut self, link: LinkId) -> Option<Transmit> {
        self.links.poll_transmit(link)
    }

    /// The earliest deadline, without firing anything: what the next [`Output::Timeout`] would
    /// name if no deadline were due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.links.next_timeout(), self.graph_timers.next()) {
            (Some(link), Some(graph)) => Some(link.min(graph)),
            (link, graph) => link.or(graph),
        }
    }

    /// Fires every deadline due at `now`. Out of line: it is rare, and inlined it would make
    /// every `poll_output` call pay for its stack frame.
    #[cold]
    #[inline(never)]
    fn fire_deadlines(&mut self, now: Instant) {
        while let Some(link) = self.links.pop_due(now) {
            self.on_link_deadline(now, link);
        }
        self.fire_graph_deadlines(now);
    }

    fn on_link_deadline(&mut self, now: Instant, link_id: LinkId) {
        let timeouts = self.config.timeouts;
        let Some(link) = self.links.get(link_id) else {
            return;
        };
        match link.state {
            LinkState::Dialing
            | LinkState::AwaitingAccept
            | LinkState::AwaitingHello
            | LinkState::AwaitingConfirm
                if now >= link.handshake_deadline =>
            {
                let farewell =
                    (link.state == LinkState::AwaitingAccept).then_some(CloseReason::Application);
                self.end_link(
                    link_id,
                    Some(ConnectionStatus::Failed(FailReason::TimedOut)),
                    farewell,
                );
                return;
            }
            LinkState::Connected
                if !link.is_held() && now >= link.last_received + timeouts.idle =>
            {
                self.end_link(
                    link_id,
                    Some(ConnectionStatus::Disconnected(DisconnectReason::TimedOut)),
                    Some(CloseReason::IdleTimeout),
                );
                return;
            }
            LinkState::Connected if now >= link.last_sent + timeouts.keepalive => {
                if link.has_queued_frames() {
                    // Frames are already waiting to go out; they are the traffic.
                    if let Some(link) = self.links.get_mut(link_id) {
                        link.last_sent = now;
                    }
                } else {
                    self.links
                        .queue_frame(link_id, codec::keepalive(), Some(now));
                }
            }
            _ => {}
        }
        self.links.schedule(link_id, &self.config.timeouts);
    }
}

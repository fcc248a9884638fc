//! Per-link state: one link carries at most one direct connection.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use crate::event::Direction;
use crate::identity::PeerIdentity;
use crate::ids::{ConnectionId, GraphHandle, NodeId};
use crate::transmit::Transmit;

/// Where a link's handshake stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkState {
    /// Outbound: the runtime is dialing.
    Dialing,
    /// Outbound: Hello sent, waiting for Accept or Refuse.
    AwaitingAccept,
    /// Inbound: waiting for the initiator's Hello.
    AwaitingHello,
    /// The direct connection is established.
    Connected,
    /// A Close command was issued; waiting for the runtime to report the link closed.
    Closing,
}

impl LinkState {
    pub(crate) fn is_handshaking(self) -> bool {
        matches!(
            self,
            Self::Dialing | Self::AwaitingAccept | Self::AwaitingHello
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

/// A link's frames waiting to be written, oldest first. Most links hold at most one frame at a
/// time (a handshake frame, a keepalive, a message now and then), so the oldest waits inline and
/// only a second one needs the queue's allocation.
#[derive(Default)]
pub(crate) struct SendQueue {
    first: Option<Transmit>,
    rest: VecDeque<Transmit>,
}

impl SendQueue {
    pub(crate) fn push_back(&mut self, frame: Transmit) {
        if self.first.is_none() && self.rest.is_empty() {
            self.first = Some(frame);
        } else {
            self.rest.push_back(frame);
        }
    }

    pub(crate) fn pop_front(&mut self) -> Option<Transmit> {
        self.first.take().or_else(|| self.rest.pop_front())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none() && self.rest.is_empty()
    }
}

pub(crate) struct Link {
    pub(crate) state: LinkState,
    pub(crate) direction: Direction,
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
    pub(crate) send_queue: SendQueue,
    pub(crate) queued_bytes: usize,
    /// Whether the link is in the node's ready-to-transmit list.
    pub(crate) ready: bool,
    pub(crate) counters: Counters,
    pub(crate) handshake_deadline: Instant,
    pub(crate) last_received: Instant,
    pub(crate) last_sent: Instant,
    /// The deadline this link has in the node's timer set, if any.
    pub(crate) timer_at: Option<Instant>,
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
            graph: None,
            connection: None,
            remote_peer_id: String::new(),
            remote_node_id: None,
            remote_addr: None,
            remote_identity: None,
            exporter: [0; 32],
            send_queue: SendQueue::default(),
            queued_bytes: 0,
            ready: false,
            counters: Counters::default(),
            handshake_deadline: deadline,
            last_received: now,
            last_sent: now,
            timer_at: None,
        }
    }

    /// Appends a frame to the send queue; returns whether the link must now be listed as ready.
    pub(crate) fn push_frame(&mut self, frame: Transmit, now: Option<Instant>) -> bool {
        self.queued_bytes += frame.len();
        self.counters.bytes_sent += frame.len() as u64;
        if let Some(now) = now {
            self.last_sent = now;
        }
        self.send_queue.push_back(frame);
        !std::mem::replace(&mut self.ready, true)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn the_send_queue_keeps_frames_in_order_across_its_inline_slot() {
        let frame = |n: u8| crate::transmit::data([n; 16], Bytes::new());
        let mut queue = SendQueue::default();
        assert!(queue.is_empty());
        queue.push_back(frame(1));
        queue.push_back(frame(2));
        queue.push_back(frame(3));
        assert_eq!(queue.pop_front(), Some(frame(1)));
        // The inline slot is free again while older frames wait in the queue: a new frame
        // must still come last.
        queue.push_back(frame(4));
        for n in 2..=4 {
            assert_eq!(queue.pop_front(), Some(frame(n)));
        }
        assert_eq!(queue.pop_front(), None);
        assert!(queue.is_empty());
    }
}

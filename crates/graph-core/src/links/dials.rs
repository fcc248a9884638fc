//! Outbound handshakes in flight to each address. A target counts a link as a handshake from its
//! source until the initiator's Confirm arrives, and refuses a source beyond its share
//! (`max_pending_handshakes_per_source`, 32 by default), so a node that opens many direct
//! connections to one address at once dials at most `max_dials_per_target` of them at a time;
//! the others wait their turn, in order, their handshake deadline already running.

use std::collections::VecDeque;
use std::net::SocketAddr;

use crate::address::PeerAddress;
use crate::ids::LinkId;

#[derive(Debug, Default)]
pub(super) struct Dials {
    /// Dialed links still in their handshake, per address; a short list, scanned.
    in_flight: Vec<(SocketAddr, usize)>,
    /// Opens waiting for a dial, oldest first.
    waiting: VecDeque<(LinkId, PeerAddress)>,
}

impl Dials {
    /// Whether `link` may be dialed now (it then counts as in flight); if not, it waits.
    pub(super) fn start(&mut self, link: LinkId, address: PeerAddress, limit: usize) -> bool {
        let socket = address.socket;
        match self.in_flight.iter_mut().find(|(addr, _)| *addr == socket) {
            Some((_, count)) if *count >= limit.max(1) => {
                self.waiting.push_back((link, address));
                false
            }
            Some((_, count)) => {
                *count += 1;
                true
            }
            None => {
                self.in_flight.push((socket, 1));
                true
            }
        }
    }

    /// `link`, an outbound link to `socket`, left its handshake: forgotten if it was waiting, or
    /// its place given to the oldest open waiting for the same address, whose dial is returned.
    pub(super) fn finished(
        &mut self,
        link: LinkId,
        socket: SocketAddr,
    ) -> Option<(LinkId, PeerAddress)> {
        if let Some(at) = self.waiting.iter().position(|(id, _)| *id == link) {
            self.waiting.remove(at);
            return None;
        }
        let at = self
            .in_flight
            .iter()
            .position(|(addr, _)| *addr == socket)?;
        if let Some(next) = self.waiting.iter().position(|(_, a)| a.socket == socket) {
            return self.waiting.remove(next);
        }
        self.in_flight[at].1 -= 1;
        if self.in_flight[at].1 == 0 {
            self.in_flight.swap_remove(at);
        }
        None
    }
}

//! Handshakes in progress, per direction and per source.

use std::net::{IpAddr, SocketAddr};

use crate::address::source_of;
use crate::event::Direction;

use super::Links;

/// Handshakes in progress, counted per direction: inbound ones are whoever reached the
/// listener, so they must not be able to use up the budget of the application's own opens.
/// Inbound ones are also counted per source (see [`source_of`]), so that one address cannot
/// hold every inbound slot.
#[derive(Debug, Default)]
pub(super) struct Pending {
    inbound: usize,
    outbound: usize,
    /// By [`source_key`], in a list: inbound handshakes are bounded (`max_pending_handshakes`)
    /// and usually come from a few sources, so a scan beats hashing the address.
    inbound_by_source: Vec<(u128, usize)>,
}

impl Pending {
    pub(super) fn count(&self, direction: Direction) -> usize {
        match direction {
            Direction::Inbound => self.inbound,
            Direction::Outbound => self.outbound,
        }
    }

    /// A handshaking link (its direction and remote address) starts or stops counting.
    #[inline]
    pub(super) fn change(
        &mut self,
        (direction, remote_addr): (Direction, Option<SocketAddr>),
        starts: bool,
    ) {
        let count = match direction {
            Direction::Inbound => &mut self.inbound,
            Direction::Outbound => &mut self.outbound,
        };
        if starts {
            *count += 1;
        } else {
            *count -= 1;
        }
        if let (Direction::Inbound, Some(addr)) = (direction, remote_addr) {
            self.change_source(source_key(addr.ip()), starts);
        }
    }

    fn change_source(&mut self, source: u128, starts: bool) {
        let at = self
            .inbound_by_source
            .iter()
            .position(|(key, _)| *key == source);
        match (at, starts) {
            (Some(at), true) => self.inbound_by_source[at].1 += 1,
            (None, true) => self.inbound_by_source.push((source, 1)),
            (Some(at), false) => {
                self.inbound_by_source[at].1 -= 1;
                if self.inbound_by_source[at].1 == 0 {
                    self.inbound_by_source.swap_remove(at);
                }
            }
            (None, false) => {}
        }
    }
}

/// [`source_of`] as a number: an IPv4 address's bits, or an IPv6 /64 network's. They never
/// meet: an IPv4 key is below 2^32 and an IPv6 network's low 64 bits are zero, so only 0.0.0.0
/// and the network `::/64` share a key, and neither is ever a peer's source.
fn source_key(ip: IpAddr) -> u128 {
    match source_of(ip) {
        IpAddr::V4(v4) => u128::from(v4.to_bits()),
        IpAddr::V6(v6) => v6.to_bits(),
    }
}

impl Links {
    /// Inbound handshakes in progress from the source of `ip` (see [`source_of`]).
    pub(crate) fn pending_from(&self, ip: IpAddr) -> usize {
        let source = source_key(ip);
        self.pending
            .inbound_by_source
            .iter()
            .find(|(key, _)| *key == source)
            .map_or(0, |(_, count)| *count)
    }
}

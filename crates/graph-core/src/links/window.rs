//! Each connection's receive window: what its data holds in registration queues, and when
//! its link is held.

use std::time::Instant;

use crate::config::Timeouts;
use crate::ids::{ConnectionId, LinkId};
use crate::output::Output;

use super::Links;

/// Messages and payload bytes counted against a connection's receive window.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unread {
    pub(crate) messages: usize,
    pub(crate) bytes: usize,
}

impl Unread {
    /// One message of `bytes` payload bytes.
    pub(crate) fn one(bytes: usize) -> Self {
        Self { messages: 1, bytes }
    }

    /// Whether `self` has reached `window` in messages or in bytes.
    pub(super) fn reaches(self, window: Unread) -> bool {
        self.messages >= window.messages || self.bytes >= window.bytes
    }

    /// Whether `self` is within half of `window` in both messages and bytes.
    pub(super) fn within_half(self, window: Unread) -> bool {
        self.messages <= window.messages / 2 && self.bytes <= window.bytes / 2
    }
}

impl Links {
    /// Each connection's receive window.
    #[inline]
    pub(crate) fn window(&self) -> Unread {
        self.window
    }

    /// A link has just become held ([`Link::add_unread`] returned true).
    #[inline]
    pub(crate) fn count_held(&mut self) {
        self.held += 1;
    }

    /// `taken` of `connection`'s messages left registration queues (taken, or dropped with
    /// their registration). A held link whose window has drained to half is released: the
    /// driver is told to read it again, and the wait counts as traffic for the idle timeout
    /// (the application, not the peer, held the link up).
    pub(crate) fn data_taken(
        &mut self,
        connection: ConnectionId,
        taken: Unread,
        now: Option<Instant>,
        timeouts: &Timeouts,
    ) {
        let Some(link_id) = self.link_of(connection) else {
            return;
        };
        let Some(link) = self.table.get_mut(&link_id) else {
            return;
        };
        link.unread.messages = link.unread.messages.saturating_sub(taken.messages);
        link.unread.bytes = link.unread.bytes.saturating_sub(taken.bytes);
        if link.held && link.unread.within_half(self.window) {
            link.held = false;
            self.held -= 1;
            if let Some(now) = now {
                link.last_received = link.last_received.max(now);
            }
            self.commands.push_back(Output::Resume { link: link_id });
            self.schedule(link_id, timeouts);
        }
    }

    /// Whether the driver may read frames from `link` (it is not held by its window).
    #[inline]
    pub(crate) fn is_readable(&self, link: LinkId) -> bool {
        self.held == 0 || self.table.get(&link).is_none_or(|link| !link.held)
    }
}

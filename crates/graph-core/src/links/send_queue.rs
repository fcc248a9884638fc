//! A link's frames waiting to be written.

use std::collections::VecDeque;

use crate::codec::Transmit;

/// A link's frames waiting to be written, oldest first. Most links hold at most one frame at a
/// time (a handshake frame, a keepalive, a message now and then), so the oldest waits inline and
/// only a second one needs the queue's allocation.
#[derive(Default)]
pub(super) struct SendQueue {
    first: Option<Transmit>,
    rest: VecDeque<Transmit>,
}

impl SendQueue {
    pub(super) fn push_back(&mut self, frame: Transmit) {
        if self.first.is_none() && self.rest.is_empty() {
            self.first = Some(frame);
        } else {
            self.rest.push_back(frame);
        }
    }

    pub(super) fn pop_front(&mut self) -> Option<Transmit> {
        self.first.take().or_else(|| self.rest.pop_front())
    }

    pub(super) fn is_empty(&self) -> bool {
        self.first.is_none() && self.rest.is_empty()
    }
}

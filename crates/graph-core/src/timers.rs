//! The links' deadlines: a min-heap whose entries are removed lazily.
//!
//! A link's one live deadline is the one its `timer_at` names; an entry that no longer matches
//! (the link closed, or its deadline moved earlier) is stale. Removing it from the middle of the
//! heap would cost a search, so stale entries stay until they reach the top, where the node drops
//! them at once: the earliest entry is therefore always live and [`Timers::next`] exact. So that
//! stale entries deep in the heap cannot pile up, the heap is rebuilt from its live entries
//! whenever it holds more than twice as many entries as there are links.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use crate::ids::LinkId;

/// Entries kept regardless of the number of links, so a small node does not rebuild often.
const SLACK: usize = 64;

#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, LinkId)>>,
}

impl Timers {
    pub(crate) fn push(&mut self, at: Instant, link: LinkId) {
        self.heap.push(Reverse((at, link)));
    }

    /// The earliest deadline (live, if [`prune`](Self::prune) ran since the last change).
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Takes the earliest entry if it is due at `now`; the caller checks that it is live.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, LinkId)> {
        let Reverse((at, link)) = *self.heap.peek()?;
        (at <= now).then(|| {
            self.heap.pop();
            (at, link)
        })
    }

    /// Drops stale entries from the top, and rebuilds the heap from its live entries when it
    /// holds more than twice `links` (the number of links) plus some slack.
    pub(crate) fn prune(&mut self, links: usize, live: impl Fn(Instant, LinkId) -> bool) {
        if self.heap.len() > 2 * links + SLACK {
            self.heap.retain(|Reverse((at, link))| live(*at, *link));
        }
        while let Some(&Reverse((at, link))) = self.heap.peek() {
            if live(at, link) {
                break;
            }
            self.heap.pop();
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn stale_entries_leave_the_top_at_once_and_never_outnumber_the_live_ones_for_long() {
        #[allow(clippy::disallowed_methods)] // any instant will do: the test's clock never moves
        let start = Instant::now();
        let at = |seconds| start + Duration::from_secs(seconds);
        let mut timers = Timers::default();
        // Link n's live deadline, if any.
        let mut live: Vec<Option<Instant>> = Vec::new();
        for n in 0..1000u64 {
            timers.push(at(n), LinkId(n));
            live.push(Some(at(n)));
        }
        // Every link but the last closes; the earliest entry is always a live one.
        for n in 0..999 {
            live[n] = None;
            let links = live.iter().filter(|deadline| deadline.is_some()).count();
            timers.prune(links, |deadline, link| {
                live[link.0 as usize] == Some(deadline)
            });
            assert_eq!(timers.next(), Some(at(n as u64 + 1)));
            assert!(
                timers.len() <= 2 * links + SLACK + 1,
                "{} entries",
                timers.len()
            );
        }
        assert_eq!(
            timers.pop_due(at(998)),
            None,
            "nothing is due before the last deadline"
        );
        assert_eq!(timers.pop_due(at(999)), Some((at(999), LinkId(999))));
        assert_eq!(timers.next(), None);
    }
}

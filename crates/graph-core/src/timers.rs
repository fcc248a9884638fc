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

/// Deadlines keyed by `K`: links (the default) or graphs.
pub(crate) struct Timers<K = LinkId> {
    heap: BinaryHeap<Reverse<(Instant, K)>>,
}

impl<K: Ord> Default for Timers<K> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
        }
    }
}

impl<K: Ord + Copy> Timers<K> {
    pub(crate) fn push(&mut self, at: Instant, link: K) {
        self.heap.push(Reverse((at, link)));
    }

    /// The earliest deadline (live, if [`prune`](Self::prune) ran since the last change).
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Takes the earliest live entry if it is due at `now`, dropping stale entries on the way
    /// (the caller changed links since the last call: a fired link's other entries may be stale
    /// now). When it returns `None`, the first entry left is live.
    pub(crate) fn pop_due(
        &mut self,
        now: Instant,
        live: impl Fn(Instant, K) -> bool,
    ) -> Option<(Instant, K)> {
        self.drop_stale_top(&live);
        let Reverse((at, link)) = *self.heap.peek()?;
        if at > now {
            return None;
        }
        self.heap.pop();
        Some((at, link))
    }

    /// Drops stale entries from the top, and rebuilds the heap from its live entries when it
    /// holds more than twice `links` (the number of links) plus some slack.
    pub(crate) fn prune(&mut self, links: usize, live: impl Fn(Instant, K) -> bool) {
        if self.heap.len() > 2 * links + SLACK {
            self.heap.retain(|Reverse((at, link))| live(*at, *link));
        }
        self.drop_stale_top(&live);
    }

    fn drop_stale_top(&mut self, live: &impl Fn(Instant, K) -> bool) {
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
    use std::collections::HashMap;
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        /// The link's deadline becomes `at` if it has none or `at` is earlier (as `schedule`).
        Schedule { link: u64, at: u64 },
        /// The link closes (as `release_link`).
        Close { link: u64 },
        /// Everything due at `now` fires (as `handle_timeout`); each fired link is re-armed
        /// `rearm` seconds later, if given (as `on_link_timer` re-arms a connected link).
        Fire { now: u64, rearm: Option<u64> },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            // Few links and few distinct times, so that equal deadlines and duplicate entries
            // are common.
            3 => (0..8u64, 0..40u64).prop_map(|(link, at)| Op::Schedule { link, at }),
            2 => (0..8u64).prop_map(|link| Op::Close { link }),
            1 => (0..40u64, proptest::option::of(1..8u64))
                .prop_map(|(now, rearm)| Op::Fire { now, rearm }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

        /// Against a map of each link's live deadline: the same deadlines fire, the earliest
        /// entry is always live, and stale entries stay within bounds.
        #[test]
        fn the_heap_agrees_with_a_map_of_live_deadlines(ops in proptest::collection::vec(op(), 1..300)) {
            #[allow(clippy::disallowed_methods)] // any instant will do: the test's clock is `at`
            let start = Instant::now();
            let at = |seconds: u64| start + Duration::from_secs(seconds);
            let mut timers = Timers::default();
            let mut live: HashMap<LinkId, Instant> = HashMap::new();
            for op in ops {
                match op {
                    Op::Schedule { link, at: seconds } => {
                        let (link, deadline) = (LinkId(link), at(seconds));
                        if live.get(&link).is_some_and(|current| *current <= deadline) {
                            continue;
                        }
                        let replaced = live.insert(link, deadline).is_some();
                        timers.push(deadline, link);
                        if replaced {
                            timers.prune(live.len(), |at, link| live.get(&link) == Some(&at));
                        }
                    }
                    Op::Close { link } => {
                        if live.remove(&LinkId(link)).is_some() {
                            timers.prune(live.len(), |at, link| live.get(&link) == Some(&at));
                        }
                    }
                    Op::Fire { now: seconds, rearm } => {
                        let now = at(seconds);
                        let mut fired = Vec::new();
                        while let Some((deadline, link)) =
                            timers.pop_due(now, |at, link| live.get(&link) == Some(&at))
                        {
                            prop_assert_eq!(live.remove(&link), Some(deadline), "only live entries fire");
                            fired.push(link);
                            if let Some(later) = rearm {
                                // The link had no deadline left, so nothing is replaced.
                                live.insert(link, at(seconds + later));
                                timers.push(at(seconds + later), link);
                            }
                        }
                        prop_assert!(live.values().all(|deadline| *deadline > now), "all due fired");
                        let unique = fired.len();
                        fired.sort();
                        fired.dedup();
                        prop_assert_eq!(fired.len(), unique, "each deadline fires once");
                    }
                }
                prop_assert_eq!(timers.next(), live.values().min().copied(), "the first entry is live");
                prop_assert!(timers.len() <= 2 * live.len() + SLACK + 1, "{} entries for {} links", timers.len(), live.len());
            }
        }
    }

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
        let is_live = |deadline, link: LinkId| live[link.0 as usize] == Some(deadline);
        assert_eq!(
            timers.pop_due(at(998), is_live),
            None,
            "nothing is due before the last deadline"
        );
        assert_eq!(
            timers.pop_due(at(999), is_live),
            Some((at(999), LinkId(999)))
        );
        assert_eq!(timers.next(), None);
    }

    /// The rebuild rule exactly: more than `2 * links + SLACK` entries, not that many.
    #[test]
    fn the_heap_is_rebuilt_once_it_holds_more_than_twice_the_links_plus_the_slack() {
        #[allow(clippy::disallowed_methods)] // any instant will do: the test's clock never moves
        let start = Instant::now();
        let at = |seconds| start + Duration::from_secs(seconds);
        for links in [1usize, 3] {
            let bound = 2 * links + SLACK;
            // One live deadline per link, earliest, then stale entries behind them, up to
            // `entries` in all.
            let heap_of = |entries: usize| {
                let mut timers = Timers::default();
                for link in 0..entries as u64 {
                    timers.push(at(link), LinkId(link));
                }
                timers
            };
            let live = |_: Instant, link: LinkId| (link.0 as usize) < links;
            let mut timers = heap_of(bound);
            timers.prune(links, live);
            assert_eq!(timers.len(), bound, "{links} links: at the bound, kept");
            let mut timers = heap_of(bound + 1);
            timers.prune(links, live);
            assert_eq!(timers.len(), links, "{links} links: over it, rebuilt");
            assert_eq!(timers.next(), Some(at(0)));
        }
    }
}

//! A graph's flooded items: the newest version of each `(kind, id)` this node knows, each until
//! its lifetime ends. The store is also what the node has seen: an item no newer than the one
//! kept is dropped, so each item crosses each neighbor link at most once per version
//! (design/0006).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::{Duration, Instant};

use bytes::Bytes;

/// The longest item id, in bytes.
pub const MAX_ITEM_ID_LEN: usize = 64;

/// Item kinds below this one belong to the library (presence is kind 1); `publish` refuses them.
pub const FIRST_APPLICATION_KIND: u32 = 0x100;

/// The kind of presence items.
pub(crate) const PRESENCE_KIND: u32 = 1;

/// Expiry entries kept regardless of the number of items, so a small store rarely rebuilds.
const SLACK: usize = 64;

/// One flooded item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloodItem {
    /// What the item is, for the subsystem that owns it.
    pub kind: u32,
    /// Which item of that kind (1 to [`MAX_ITEM_ID_LEN`] bytes).
    pub id: Bytes,
    /// Its version: a higher one replaces a lower one.
    pub version: u64,
    /// What is left of its lifetime: every node drops it this long after it arrived there.
    pub lifetime: Duration,
    /// Its content.
    pub payload: Bytes,
}

/// What [`Store::offer`] did with an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offered {
    /// Newer than what was kept (or new): kept, and to be sent on.
    Kept,
    /// No newer than what was kept: dropped.
    Stale,
    /// New, and the store is full: dropped.
    Full,
}

#[derive(Debug)]
struct Kept {
    version: u64,
    expires_at: Instant,
    payload: Bytes,
}

/// The items of one graph.
#[derive(Debug, Default)]
pub(crate) struct Store {
    /// Ordered, so that what a node sends replays from its seed.
    items: BTreeMap<(u32, Bytes), Kept>,
    /// When each kept item expires. An entry whose item has gone or expires at another time
    /// (a newer version replaced it) is stale and skipped; the heap is rebuilt when stale
    /// entries outnumber the items.
    expiries: BinaryHeap<Reverse<(Instant, u32, Bytes)>>,
}

impl Store {
    /// Keeps `item` until `now + item.lifetime` if it is newer than the version kept; holds at
    /// most `limit` items.
    pub(crate) fn offer(&mut self, item: &FloodItem, now: Instant, limit: usize) -> Offered {
        let key = (item.kind, item.id.clone());
        let full = self.items.len() >= limit;
        let kept = Kept {
            version: item.version,
            expires_at: now + item.lifetime,
            payload: item.payload.clone(),
        };
        let expires_at = kept.expires_at;
        match self.items.get_mut(&key) {
            Some(old) if old.version >= item.version => return Offered::Stale,
            Some(old) => *old = kept,
            None if full => return Offered::Full,
            None => {
                self.items.insert(key, kept);
            }
        }
        self.expiries
            .push(Reverse((expires_at, item.kind, item.id.clone())));
        if self.expiries.len() > 2 * self.items.len() + SLACK {
            let items = &self.items;
            self.expiries
                .retain(|Reverse((at, kind, id))| live(items, *at, *kind, id));
        }
        Offered::Kept
    }

    /// The version kept of `(kind, id)`.
    #[cfg(test)]
    pub(crate) fn version(&self, kind: u32, id: &[u8]) -> Option<u64> {
        self.items
            .get(&(kind, Bytes::copy_from_slice(id)))
            .map(|kept| kept.version)
    }

    /// Removes and returns `(kind, id)` of every item whose lifetime has ended by `now`.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<(u32, Bytes)> {
        let mut expired = Vec::new();
        while let Some(Reverse((at, _, _))) = self.expiries.peek() {
            if *at > now {
                break;
            }
            let Reverse((at, kind, id)) = self.expiries.pop().expect("peeked");
            if live(&self.items, at, kind, &id) {
                self.items.remove(&(kind, id.clone()));
                expired.push((kind, id));
            }
        }
        expired
    }

    /// When the next item expires (possibly a stale instant: at worst an early wake-up).
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.expiries.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Every item kept at `now`, with what is left of its lifetime, in no particular order.
    pub(crate) fn items(&self, now: Instant) -> impl Iterator<Item = FloodItem> + '_ {
        self.items
            .iter()
            .filter(move |(_, kept)| kept.expires_at > now)
            .map(move |((kind, id), kept)| FloodItem {
                kind: *kind,
                id: id.clone(),
                version: kept.version,
                lifetime: kept.expires_at - now,
                payload: kept.payload.clone(),
            })
    }

    #[cfg(test)]
    fn expiry_entries(&self) -> usize {
        self.expiries.len()
    }
}

/// Whether the expiry entry `(at, kind, id)` is its item's live one.
fn live(items: &BTreeMap<(u32, Bytes), Kept>, at: Instant, kind: u32, id: &Bytes) -> bool {
    items
        .get(&(kind, id.clone()))
        .is_some_and(|kept| kept.expires_at == at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &'static [u8], version: u64, seconds: u64) -> FloodItem {
        FloodItem {
            kind: FIRST_APPLICATION_KIND,
            id: Bytes::from_static(id),
            version,
            lifetime: Duration::from_secs(seconds),
            payload: Bytes::new(),
        }
    }

    #[test]
    fn an_item_expires_at_the_end_of_its_newest_versions_lifetime() {
        #[allow(clippy::disallowed_methods)] // any instant will do: the test's clock is `at`
        let start = Instant::now();
        let at = |seconds| start + Duration::from_secs(seconds);
        let mut store = Store::default();
        assert_eq!(store.offer(&item(b"a", 1, 10), at(0), 10), Offered::Kept);
        assert_eq!(store.offer(&item(b"a", 2, 10), at(5), 10), Offered::Kept);
        // The first version's expiry passes; the second is still alive.
        assert_eq!(store.expire(at(10)), []);
        assert_eq!(store.version(FIRST_APPLICATION_KIND, b"a"), Some(2));
        assert_eq!(
            store.items(at(10)).next().unwrap().lifetime,
            Duration::from_secs(5)
        );
        // At its expiry instant an item is no longer offered: it would travel with no lifetime
        // left, which a receiver takes for a broken item.
        assert_eq!(store.items(at(15)).count(), 0);
        assert_eq!(
            store.expire(at(15)),
            [(FIRST_APPLICATION_KIND, Bytes::from_static(b"a"))]
        );
        assert_eq!(store.items(at(15)).count(), 0);
        // Gone, so any version is new again.
        assert_eq!(store.offer(&item(b"a", 1, 10), at(16), 10), Offered::Kept);
    }

    #[test]
    fn refreshing_one_item_forever_keeps_the_expiry_heap_bounded() {
        #[allow(clippy::disallowed_methods)] // any instant will do: the test's clock is `at`
        let start = Instant::now();
        let mut store = Store::default();
        let mut most = 0;
        for version in 1..10_000 {
            let now = start + Duration::from_secs(version);
            store.offer(&item(b"a", version, 100), now, 10);
            most = most.max(store.expiry_entries());
        }
        assert!(most <= 2 + SLACK, "{most} entries");
    }
}

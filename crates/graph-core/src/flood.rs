//! A graph's flooded items: the newest version of each `(kind, id)` this node knows. The store
//! is also what the node has seen: an item no newer than the one kept is dropped, so each item
//! crosses each neighbor link at most once per version (design/0006).

use std::collections::HashMap;

use bytes::Bytes;

/// The longest item id, in bytes.
pub const MAX_ITEM_ID_LEN: usize = 64;

/// One flooded item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloodItem {
    /// What the item is, for the subsystem that owns it.
    pub kind: u32,
    /// Which item of that kind (1 to [`MAX_ITEM_ID_LEN`] bytes).
    pub id: Bytes,
    /// Its version: a higher one replaces a lower one.
    pub version: u64,
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

/// The items of one graph.
#[derive(Debug, Default)]
pub(crate) struct Store {
    items: HashMap<(u32, Bytes), (u64, Bytes)>,
}

impl Store {
    /// Keeps `item` if it is newer than the version kept; holds at most `limit` items.
    pub(crate) fn offer(&mut self, item: &FloodItem, limit: usize) -> Offered {
        let key = (item.kind, item.id.clone());
        let full = self.items.len() >= limit;
        match self.items.get_mut(&key) {
            Some((version, _)) if *version >= item.version => Offered::Stale,
            Some(kept) => {
                *kept = (item.version, item.payload.clone());
                Offered::Kept
            }
            None if full => Offered::Full,
            None => {
                self.items.insert(key, (item.version, item.payload.clone()));
                Offered::Kept
            }
        }
    }

    /// Every item kept, in no particular order.
    pub(crate) fn items(&self) -> impl Iterator<Item = FloodItem> + '_ {
        self.items
            .iter()
            .map(|((kind, id), (version, payload))| FloodItem {
                kind: *kind,
                id: id.clone(),
                version: *version,
                payload: payload.clone(),
            })
    }
}

//! Flooding over neighbor connections (design/0006): a published item goes to every neighbor;
//! an item from a neighbor that is newer than the one kept is kept and sent on to every other
//! neighbor, once; a new neighbor gets every item kept, and a mark when it has them all.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::codec;
use crate::error::{ArgumentProblem, HandleError, InvalidArgument, PublishError};
use crate::event::ProtocolViolation;
use crate::flood::{FIRST_APPLICATION_KIND, FloodItem, MAX_ITEM_ID_LEN, Offered, PRESENCE_KIND};
use crate::ids::{GraphHandle, LinkId};
use crate::info::ConnectionKind;
use crate::links::LinkState;
use crate::presence::Announcement;

use super::Node;

/// The most payload bytes one Flood frame carries when a node sends several items at once.
const FLOOD_FRAME_BYTES: usize = 64 * 1024;

/// What each hop takes off an item's lifetime, on top of the time it really spent: a lifetime
/// travels as time left, so without this an item could go round nodes that had dropped it
/// with its time left intact, forever.
pub(crate) const HOP_COST: Duration = Duration::from_millis(250);

impl Node {
    /// Floods `payload` as version `version` of item `(kind, id)` of the graph: kept here and
    /// sent to every neighbor, which send it on. A newer version replaces an older one
    /// everywhere it arrives; every node drops the item `lifetime` after it arrived (so a
    /// publisher refreshes what must last, with a new version). Kinds below
    /// [`FIRST_APPLICATION_KIND`] are the library's.
    #[allow(clippy::too_many_arguments)] // the item's fields, as the wire carries them
    pub fn publish(
        &mut self,
        now: Instant,
        graph: GraphHandle,
        kind: u32,
        id: &[u8],
        version: u64,
        lifetime: Duration,
        payload: Bytes,
    ) -> Result<(), PublishError> {
        let now = self.advance(now);
        self.graph(graph)?;
        let problem = |argument, problem| PublishError::InvalidArgument {
            argument: InvalidArgument { argument, problem },
        };
        if kind < FIRST_APPLICATION_KIND {
            return Err(problem("kind", ArgumentProblem::Reserved));
        }
        if lifetime.is_zero() {
            return Err(problem("lifetime", ArgumentProblem::Empty));
        }
        if lifetime > self.config.timeouts.max_flood_lifetime {
            return Err(problem("lifetime", ArgumentProblem::TooLong));
        }
        if id.is_empty() {
            return Err(problem("id", ArgumentProblem::Empty));
        }
        if id.len() > MAX_ITEM_ID_LEN {
            return Err(problem("id", ArgumentProblem::TooLong));
        }
        if payload.len() > self.config.limits.max_flood_item_len {
            return Err(problem("payload", ArgumentProblem::TooLong));
        }
        let item = FloodItem {
            kind,
            id: Bytes::copy_from_slice(id),
            version,
            lifetime,
            payload,
        };
        let limit = self.config.limits.max_flood_items_per_graph;
        let state = self.graphs.get_mut(graph).expect("checked live above");
        match state.items.offer(&item, now, limit) {
            Offered::Kept => {
                self.forward(graph, None, std::slice::from_ref(&item));
                self.schedule_graph(graph);
                Ok(())
            }
            Offered::Stale => Err(PublishError::Stale),
            Offered::Full => Err(PublishError::StoreFull),
        }
    }

    /// The items of `kind` the graph holds, in no particular order.
    pub fn flooded_items(
        &self,
        graph: GraphHandle,
        kind: u32,
    ) -> Result<Vec<FloodItem>, HandleError> {
        let state = self.graph(graph)?;
        let Some(now) = self.now else {
            // No input yet, so nothing was published.
            return Ok(Vec::new());
        };
        Ok(state
            .items
            .items(now)
            .filter(|item| item.kind == kind)
            .collect())
    }

    /// Items from the neighbor on `link_id`: the newer ones are kept and sent on; announcements
    /// update the list of nodes. The last frame of the neighbor's greeting synchronizes the
    /// graph.
    pub(super) fn on_flood(&mut self, link_id: LinkId, items: Vec<FloodItem>, greeting_done: bool) {
        let Some(link) = self.links.get(link_id) else {
            return;
        };
        if link.kind != ConnectionKind::Neighbor {
            return self.violation(link_id, ProtocolViolation::UnexpectedMessage);
        }
        let graph = link.graph.expect("established links have a graph");
        let now = self.now.expect("a frame arrived, so the clock has started");
        let limits = &self.config.limits;
        let malformed = items.iter().any(|item| {
            item.id.is_empty()
                || item.id.len() > MAX_ITEM_ID_LEN
                || item.payload.len() > limits.max_flood_item_len
                || item.lifetime.is_zero()
        });
        if malformed {
            return self.violation(link_id, ProtocolViolation::InvalidFloodItem);
        }
        // Every presence item must carry a valid announcement, before anything is kept.
        let mut decoded = Vec::with_capacity(items.len());
        for item in &items {
            let announcement = match item.kind {
                PRESENCE_KIND => match Announcement::decode(&item.id, &item.payload) {
                    Some(announcement) => Some(announcement),
                    None => return self.violation(link_id, ProtocolViolation::InvalidFloodItem),
                },
                _ => None,
            };
            decoded.push(announcement);
        }
        let limit = limits.max_flood_items_per_graph;
        let longest = self.config.timeouts.max_flood_lifetime;
        let Some(state) = self.graphs.get_mut(graph) else {
            return;
        };
        let own_id = crate::presence::item_id(state.node_id());
        let mut own_version = None;
        let mut kept = Vec::with_capacity(items.len());
        let mut announcements = Vec::new();
        for (mut item, announcement) in items.into_iter().zip(decoded) {
            if item.kind == PRESENCE_KIND && item.id.as_ref() == own_id {
                // This node's own announcement, back (or forged): the next one outranks it.
                own_version = own_version.max(Some(item.version));
                continue;
            }
            item.lifetime = item.lifetime.min(longest).saturating_sub(HOP_COST);
            if !item.lifetime.is_zero() && state.items.offer(&item, now, limit) == Offered::Kept {
                announcements.extend(announcement);
                kept.push(item);
            }
        }
        if let Some(version) = own_version.filter(|version| *version > state.presence.version) {
            state.presence.version = version;
            state.presence.changed = true;
            self.graphs_due.push(graph);
        }
        for announcement in announcements {
            self.on_announcement(graph, announcement);
        }
        if !kept.is_empty() {
            self.forward(graph, Some(link_id), &kept);
        }
        if greeting_done {
            self.greeting_received(graph);
        }
        self.schedule_graph(graph);
    }

    /// A neighbor connection was established on `link_id`: it gets every item the graph holds,
    /// the last frame marked as the end of the greeting.
    pub(super) fn greet_neighbor(&mut self, link_id: LinkId, graph: GraphHandle) {
        let (Some(state), Some(now)) = (self.graphs.get(graph), self.now) else {
            return;
        };
        let items: Vec<FloodItem> = state.items.items(now).collect();
        self.send_items(link_id, &items, true);
    }

    /// Sends `items` to every established neighbor link of `graph` but `except`.
    pub(super) fn forward(
        &mut self,
        graph: GraphHandle,
        except: Option<LinkId>,
        items: &[FloodItem],
    ) {
        for link_id in self.neighbors_but(graph, except) {
            self.send_items(link_id, items, false);
        }
    }

    /// The established neighbor links of `graph`, but `except`.
    pub(super) fn neighbors_but(&self, graph: GraphHandle, except: Option<LinkId>) -> Vec<LinkId> {
        let mut links = self.links.select(|link| {
            link.graph == Some(graph)
                && link.kind == ConnectionKind::Neighbor
                && link.state == LinkState::Connected
        });
        links.retain(|link| Some(*link) != except);
        links
    }

    /// Queues `items` on `link_id` in Flood frames of at most [`FLOOD_FRAME_BYTES`] of payload
    /// (one item may exceed it alone); with `greeting`, the last frame (an empty one if there
    /// are no items) is marked as the end of the greeting.
    fn send_items(&mut self, link_id: LinkId, items: &[FloodItem], greeting: bool) {
        if items.is_empty() && greeting {
            self.links
                .queue_frame(link_id, codec::flood(&[], true), self.now);
        }
        let mut start = 0;
        while start < items.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < items.len()
                && (end == start || bytes + items[end].payload.len() <= FLOOD_FRAME_BYTES)
            {
                bytes += items[end].payload.len() + items[end].id.len();
                end += 1;
            }
            let last = greeting && end == items.len();
            self.links
                .queue_frame(link_id, codec::flood(&items[start..end], last), self.now);
            start = end;
        }
    }
}

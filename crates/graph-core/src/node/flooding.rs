//! Flooding over neighbor connections (design/0006): a published item goes to every neighbor;
//! an item from a neighbor that is newer than the one kept is kept and sent on to every other
//! neighbor, once; a new neighbor gets every item kept.

use std::time::Instant;

use bytes::Bytes;

use crate::codec;
use crate::error::{ArgumentProblem, HandleError, InvalidArgument, PublishError};
use crate::event::ProtocolViolation;
use crate::flood::{FloodItem, MAX_ITEM_ID_LEN, Offered};
use crate::ids::{GraphHandle, LinkId};
use crate::info::ConnectionKind;
use crate::links::LinkState;

use super::Node;

/// The most payload bytes one Flood frame carries when a node sends several items at once.
const FLOOD_FRAME_BYTES: usize = 64 * 1024;

impl Node {
    /// Floods `payload` as version `version` of item `(kind, id)` of the graph: kept here and
    /// sent to every neighbor, which send it on. A newer version replaces an older one
    /// everywhere it arrives.
    pub fn publish(
        &mut self,
        now: Instant,
        graph: GraphHandle,
        kind: u32,
        id: &[u8],
        version: u64,
        payload: Bytes,
    ) -> Result<(), PublishError> {
        self.advance(now);
        self.graph(graph)?;
        let problem = |argument, problem| PublishError::InvalidArgument {
            argument: InvalidArgument { argument, problem },
        };
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
            payload,
        };
        let limit = self.config.limits.max_flood_items_per_graph;
        let state = self.graphs.get_mut(graph).expect("checked live above");
        match state.items.offer(&item, limit) {
            Offered::Kept => {
                self.forward(graph, None, std::slice::from_ref(&item));
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
        Ok(state
            .items
            .items()
            .filter(|item| item.kind == kind)
            .collect())
    }

    /// Items from the neighbor on `link_id`: the newer ones are kept and sent on.
    pub(super) fn on_flood(&mut self, link_id: LinkId, items: Vec<FloodItem>) {
        let Some(link) = self.links.get(link_id) else {
            return;
        };
        if link.kind != ConnectionKind::Neighbor {
            return self.violation(link_id, ProtocolViolation::UnexpectedMessage);
        }
        let graph = link.graph.expect("established links have a graph");
        let limits = &self.config.limits;
        let malformed = items.iter().any(|item| {
            item.id.is_empty()
                || item.id.len() > MAX_ITEM_ID_LEN
                || item.payload.len() > limits.max_flood_item_len
        });
        if malformed {
            return self.violation(link_id, ProtocolViolation::MalformedFrame);
        }
        let limit = limits.max_flood_items_per_graph;
        let Some(state) = self.graphs.get_mut(graph) else {
            return;
        };
        let kept: Vec<FloodItem> = items
            .into_iter()
            .filter(|item| state.items.offer(item, limit) == Offered::Kept)
            .collect();
        if !kept.is_empty() {
            self.forward(graph, Some(link_id), &kept);
        }
    }

    /// A neighbor connection was established on `link_id`: it gets every item the graph holds.
    pub(super) fn greet_neighbor(&mut self, link_id: LinkId, graph: GraphHandle) {
        let Some(state) = self.graphs.get(graph) else {
            return;
        };
        let items: Vec<FloodItem> = state.items.items().collect();
        self.send_items(link_id, &items);
    }

    /// Sends `items` to every established neighbor link of `graph` but `except`.
    fn forward(&mut self, graph: GraphHandle, except: Option<LinkId>, items: &[FloodItem]) {
        let neighbors = self.links.select(|link| {
            link.graph == Some(graph)
                && link.kind == ConnectionKind::Neighbor
                && link.state == LinkState::Connected
        });
        for link_id in neighbors {
            if Some(link_id) != except {
                self.send_items(link_id, items);
            }
        }
    }

    /// Queues `items` on `link_id` in Flood frames of at most [`FLOOD_FRAME_BYTES`] of payload
    /// (one item may exceed it alone).
    fn send_items(&mut self, link_id: LinkId, items: &[FloodItem]) {
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
            self.links
                .queue_frame(link_id, codec::flood(&items[start..end]), self.now);
            start = end;
        }
    }
}

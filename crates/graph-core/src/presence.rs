//! Presence (design/0006): each node's flooded announcement of itself, and the nodes of a graph
//! as the announcements it holds describe them.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use bytes::Bytes;
use peergraph_proto::v1 as wire;
use prost::Message;

use crate::identity::PeerIdentity;
use crate::ids::NodeId;
use crate::validate;

/// The most addresses one announcement lists.
pub const MAX_ADDRESSES: usize = 16;

/// The longest attribute text of a node, in bytes of UTF-8.
pub const MAX_ATTRIBUTES_LEN: usize = 4096;

/// One node's announcement of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Announcement {
    pub(crate) node_id: NodeId,
    pub(crate) peer_id: String,
    pub(crate) identity: Option<PeerIdentity>,
    pub(crate) addresses: Vec<SocketAddr>,
    pub(crate) attributes: String,
    pub(crate) present: bool,
}

/// The item id of `node`'s presence: its node id, 8 bytes big-endian.
pub(crate) fn item_id(node: NodeId) -> [u8; 8] {
    node.0.to_be_bytes()
}

impl Announcement {
    pub(crate) fn encode(&self) -> Bytes {
        let addresses = self
            .addresses
            .iter()
            .map(|address| wire::SocketAddress {
                ip: match address.ip() {
                    IpAddr::V4(ip) => ip.octets().to_vec(),
                    IpAddr::V6(ip) => ip.octets().to_vec(),
                }
                .into(),
                port: address.port().into(),
            })
            .collect();
        let presence = wire::Presence {
            node_id: self.node_id.0,
            peer_id: self.peer_id.clone(),
            identity: self
                .identity
                .map(|identity| Bytes::copy_from_slice(identity.as_bytes()))
                .unwrap_or_default(),
            addresses,
            attributes: self.attributes.clone(),
            present: self.present,
        };
        Bytes::from(presence.encode_to_vec())
    }

    /// The announcement in the presence item `(id, payload)`, if it keeps every rule of
    /// docs/PROTOCOL.md (its node id is the item id, a valid peer id, a 32-byte identity or
    /// none, at most [`MAX_ADDRESSES`] addresses, attributes of at most [`MAX_ATTRIBUTES_LEN`]).
    pub(crate) fn decode(id: &[u8], payload: &[u8]) -> Option<Self> {
        let presence = wire::Presence::decode(payload).ok()?;
        if id != presence.node_id.to_be_bytes()
            || validate::name("peer_id", &presence.peer_id).is_err()
            || presence.addresses.len() > MAX_ADDRESSES
            || presence.attributes.len() > MAX_ATTRIBUTES_LEN
        {
            return None;
        }
        let identity = match presence.identity.len() {
            0 => None,
            _ => Some(PeerIdentity::from_spki_sha256(
                presence.identity.as_ref().try_into().ok()?,
            )),
        };
        let addresses = presence
            .addresses
            .iter()
            .map(|address| {
                let ip = match address.ip.len() {
                    4 => IpAddr::from(<[u8; 4]>::try_from(address.ip.as_ref()).ok()?),
                    16 => IpAddr::from(<[u8; 16]>::try_from(address.ip.as_ref()).ok()?),
                    _ => return None,
                };
                Some(SocketAddr::new(ip, u16::try_from(address.port).ok()?))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            node_id: NodeId(presence.node_id),
            peer_id: presence.peer_id,
            identity,
            addresses,
            attributes: presence.attributes,
            present: presence.present,
        })
    }
}

/// This node's own presence in one graph.
#[derive(Debug)]
pub(crate) struct LocalPresence {
    /// The highest version of this node's presence item published or seen (a neighbor's copy
    /// of a newer one would otherwise outrank the next announcement).
    pub(crate) version: u64,
    /// Whether the node announces itself (`set_presence`).
    pub(crate) present: bool,
    /// Whether the last version published says present.
    pub(crate) published: bool,
    pub(crate) attributes: String,
    /// When the announcement is published again to refresh it.
    pub(crate) refresh_at: Option<Instant>,
    /// The announcement changed: it is published at the next chance.
    pub(crate) changed: bool,
}

impl Default for LocalPresence {
    fn default() -> Self {
        Self {
            version: 0,
            present: true,
            published: false,
            attributes: String::new(),
            refresh_at: None,
            changed: true,
        }
    }
}

/// How a node of the graph changed (`PEER_NODE_CHANGE_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeChangeKind {
    /// The node announced itself (`PEER_NODE_CHANGE_CONNECTED`).
    Connected = 1,
    /// The node left, withdrew its presence, or its announcement expired
    /// (`PEER_NODE_CHANGE_DISCONNECTED`).
    Disconnected = 2,
    /// Its attributes or addresses changed (`PEER_NODE_CHANGE_UPDATED`).
    Updated = 3,
}

/// The other nodes of a graph that announce themselves.
#[derive(Debug, Default)]
pub(crate) struct Nodes {
    /// Ordered, so that a node's choices replay from its seed.
    nodes: BTreeMap<NodeId, Announcement>,
}

impl Nodes {
    /// Takes a newer announcement; returns how the node changed, if it did.
    pub(crate) fn update(&mut self, announcement: Announcement) -> Option<NodeChangeKind> {
        if !announcement.present {
            return self
                .nodes
                .remove(&announcement.node_id)
                .map(|_| NodeChangeKind::Disconnected);
        }
        match self.nodes.insert(announcement.node_id, announcement) {
            None => Some(NodeChangeKind::Connected),
            Some(old) if old != self.nodes[&old.node_id] => Some(NodeChangeKind::Updated),
            Some(_) => None,
        }
    }

    /// Forgets `node` (its announcement expired); returns it if it was listed.
    pub(crate) fn remove(&mut self, node: NodeId) -> Option<Announcement> {
        self.nodes.remove(&node)
    }

    pub(crate) fn get(&self, node: NodeId) -> Option<&Announcement> {
        self.nodes.get(&node)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Announcement> {
        self.nodes.values()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announcement() -> Announcement {
        Announcement {
            node_id: NodeId(0x0102_0304_0506_0708),
            peer_id: "alice".into(),
            identity: Some(PeerIdentity::from_spki_sha256([7; 32])),
            addresses: vec![
                "192.0.2.1:4000".parse().unwrap(),
                "[2001:db8::1]:4001".parse().unwrap(),
            ],
            attributes: "room=lobby".into(),
            present: true,
        }
    }

    #[test]
    fn an_announcement_round_trips_under_its_own_id_only() {
        let announcement = announcement();
        let payload = announcement.encode();
        let id = item_id(announcement.node_id);
        assert_eq!(Announcement::decode(&id, &payload), Some(announcement));
        assert_eq!(Announcement::decode(&[1; 8], &payload), None);
    }

    #[test]
    fn an_announcement_breaking_a_rule_is_refused() {
        let base = announcement();
        let id = item_id(base.node_id);
        let mut wire = wire::Presence::decode(base.encode().as_ref()).unwrap();
        let mut broken = Vec::new();
        let mut bad = wire.clone();
        bad.peer_id = String::new();
        broken.push(bad);
        let mut bad = wire.clone();
        bad.identity = Bytes::from_static(&[1; 31]);
        broken.push(bad);
        let mut bad = wire.clone();
        bad.addresses[0].ip = Bytes::from_static(&[1; 5]);
        broken.push(bad);
        let mut bad = wire.clone();
        bad.addresses[0].port = 65_536;
        broken.push(bad);
        let mut bad = wire.clone();
        bad.attributes = "x".repeat(MAX_ATTRIBUTES_LEN + 1);
        broken.push(bad);
        let mut bad = wire.clone();
        bad.addresses = vec![wire.addresses[0].clone(); MAX_ADDRESSES + 1];
        broken.push(bad);
        for bad in broken {
            assert_eq!(
                Announcement::decode(&id, &bad.encode_to_vec()),
                None,
                "{bad:?}"
            );
        }
        wire.attributes = "x".repeat(MAX_ATTRIBUTES_LEN);
        wire.addresses = vec![wire.addresses[0].clone(); MAX_ADDRESSES];
        assert!(Announcement::decode(&id, &wire.encode_to_vec()).is_some());
        assert_eq!(Announcement::decode(&id, b"\xff\xff"), None);
    }

    #[test]
    fn nodes_report_connected_updated_and_disconnected_once_each() {
        let mut nodes = Nodes::default();
        let mut announcement = announcement();
        assert_eq!(
            nodes.update(announcement.clone()),
            Some(NodeChangeKind::Connected)
        );
        assert_eq!(nodes.update(announcement.clone()), None);
        announcement.attributes = "room=kitchen".into();
        assert_eq!(
            nodes.update(announcement.clone()),
            Some(NodeChangeKind::Updated)
        );
        announcement.present = false;
        assert_eq!(
            nodes.update(announcement.clone()),
            Some(NodeChangeKind::Disconnected)
        );
        assert_eq!(nodes.update(announcement), None);
        assert_eq!(nodes.len(), 0);
    }
}

//! The record store's commands, and its traffic on neighbor connections (design/0007): a
//! record written here is signed and flooded; a record from a neighbor is checked, kept if it
//! outranks the version held, and sent on; a new neighbor link starts a reconciliation.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use peergraph_proto::v1 as wire;

use crate::codec;
use crate::error::{ArgumentProblem, HandleError, InvalidArgument, RecordError, RestoreError};
use crate::event::{Direction, GraphEvent, ProtocolViolation};
use crate::identity::PeerIdentity;
use crate::ids::{GraphHandle, LinkId};
use crate::info::ConnectionKind;
use crate::records::{
    Attribute, AttributeValue, GraphProperties, MAX_COMMENT_CHARS, MAX_FRIENDLY_NAME_CHARS,
    PROPERTIES_RECORD_TYPE, sign, verify,
};
use crate::records::{
    DecodeError, Entry, MAX_ROUND_BYTES, Offered, Record, RecordChange, RecordChangeKind,
    RecordContent, RecordId, RecordQuery, RecordStats, Round, Signer, SigningKeyError, StoreLimits,
    StoreWrite, decode_signed, to_ms,
};
use crate::status::GraphStatus;

use super::Node;

/// The attributes of a properties record.
const FRIENDLY_NAME: &str = "friendly_name";
const COMMENT: &str = "comment";
const PRESENCE_LIFETIME: &str = "presence_lifetime";

/// How long a properties record lasts: ten years, renewed by every change.
const PROPERTIES_LIFETIME_MS: u64 = 10 * 365 * 24 * 60 * 60 * 1000;

/// The most bytes of records (or of a reconciliation round) one frame carries, unless one
/// record alone is larger.
const RECORDS_FRAME_BYTES: usize = 64 * 1024;

/// What a new version of a record is made from.
struct Version<'a> {
    content: &'a RecordContent,
    nonce: u64,
    version: u32,
    deleted: bool,
    creator_id: &'a str,
    created_ms: u64,
    /// The version it replaces, which it must outrank.
    after_ms: u64,
}

impl Node {
    /// Gives the node its identity key (PKCS#8 DER, ECDSA P-256: the transport identity's key),
    /// which signs every record it writes; returns the identity it proves.
    pub fn set_signing_key(&mut self, pkcs8: &[u8]) -> Result<PeerIdentity, SigningKeyError> {
        let signer = Signer::from_pkcs8(pkcs8)?;
        let identity = signer.identity();
        self.signer = Some(signer);
        Ok(identity)
    }

    /// Tells the node the wall-clock time at `now` (as time since the Unix epoch), which record
    /// times and expiries are read from. A driver calls it once at start (and may again); until
    /// then the first instant the node saw counts as the epoch.
    pub fn set_wall_clock(&mut self, now: Instant, since_epoch: Duration) {
        self.clock.set(now, since_epoch);
    }

    /// Adds a record to the graph (`PeerGraphAddRecord`): signed with this node's key, kept,
    /// flooded to every node. Returns its id.
    pub fn add_record(
        &mut self,
        now: Instant,
        graph: GraphHandle,
        content: RecordContent,
    ) -> Result<RecordId, RecordError> {
        let now = self.advance(now);
        let now_ms = self.clock.unix_ms(now);
        let state = self.records_ready(graph)?;
        let peer_id = state.peer_id().to_owned();
        let created_ms = state.records.stamp(now_ms);
        check_content(&content, now_ms)?;
        let version = Version {
            content: &content,
            nonce: self.graphs.random(),
            version: 1,
            deleted: false,
            creator_id: &peer_id,
            created_ms,
            after_ms: 0,
        };
        let entry = self.make_version(now, graph, &version)?;
        let id = entry.record.id;
        self.keep_own(graph, entry)?;
        Ok(id)
    }

    /// Replaces a record this node's identity wrote with a new version
    /// (`PeerGraphUpdateRecord`): new attributes, data and expiry (which may only move later);
    /// the type stays.
    pub fn update_record(
        &mut self,
        now: Instant,
        graph: GraphHandle,
        id: RecordId,
        content: RecordContent,
    ) -> Result<(), RecordError> {
        let now = self.advance(now);
        let now_ms = self.clock.unix_ms(now);
        let held = self.own_record(graph, &id)?;
        check_content(&content, now_ms)?;
        if content.record_type != held.record.record_type {
            return Err(invalid("record_type", ArgumentProblem::Changed));
        }
        if to_ms(content.expires_at) < held.expires_ms {
            return Err(RecordError::InvalidExpiration);
        }
        let (nonce, creator_id) = (nonce_of(&held), held.record.creator_id.clone());
        let version = Version {
            content: &content,
            nonce,
            version: held.record.version.saturating_add(1),
            deleted: false,
            creator_id: &creator_id,
            created_ms: to_ms(held.record.created_at),
            after_ms: held.modified_ms,
        };
        let entry = self.make_version(now, graph, &version)?;
        self.keep_own(graph, entry)
    }

    /// Deletes a record (`PeerGraphDeleteRecord`). With `local`, only this node forgets it (it
    /// may come back from a neighbor); otherwise its author's tombstone floods and every node
    /// deletes it. Only the author may delete it for everyone.
    pub fn delete_record(
        &mut self,
        now: Instant,
        graph: GraphHandle,
        id: RecordId,
        local: bool,
    ) -> Result<(), RecordError> {
        let now = self.advance(now);
        if local {
            let state = self.records_ready(graph)?;
            let held = state
                .records
                .application_record(&id)
                .ok_or(RecordError::RecordNotFound)?;
            let record_type = held.record.record_type;
            let state = self.graphs.get_mut(graph).expect("checked live above");
            state.records.remove(&id);
            self.record_changed(graph, RecordChangeKind::Deleted, id, record_type);
            self.note_writes(graph);
            return Ok(());
        }
        let held = self.own_record(graph, &id)?;
        let content = RecordContent {
            record_type: held.record.record_type,
            attributes: Vec::new(),
            data: Bytes::new(),
            expires_at: held.record.expires_at,
        };
        let creator_id = held.record.creator_id.clone();
        let version = Version {
            content: &content,
            nonce: nonce_of(&held),
            version: held.record.version.saturating_add(1),
            deleted: true,
            creator_id: &creator_id,
            created_ms: to_ms(held.record.created_at),
            after_ms: held.modified_ms,
        };
        let entry = self.make_version(now, graph, &version)?;
        self.keep_own(graph, entry)
    }

    /// The graph's properties (`PeerGraphGetProperties`): the newest any member set.
    pub fn graph_properties(&self, graph: GraphHandle) -> Result<GraphProperties, RecordError> {
        let state = self.records_ready(graph)?;
        let mut properties = GraphProperties {
            graph_id: state.graph_id().to_owned(),
            creator_id: String::new(),
            friendly_name: String::new(),
            comment: String::new(),
            presence_lifetime: None,
        };
        let Some((newest, first)) = state.records.properties() else {
            return Ok(properties);
        };
        properties.creator_id.clone_from(&first.creator_id);
        for attribute in &newest.attributes {
            match (attribute.name.as_str(), &attribute.value) {
                (FRIENDLY_NAME, AttributeValue::Text(text)) => {
                    properties.friendly_name.clone_from(text);
                }
                (COMMENT, AttributeValue::Text(text)) => properties.comment.clone_from(text),
                (PRESENCE_LIFETIME, AttributeValue::Integer(seconds)) => {
                    properties.presence_lifetime =
                        u64::try_from(*seconds).ok().map(Duration::from_secs);
                }
                _ => {}
            }
        }
        Ok(properties)
    }

    /// Sets the graph's properties for every node (`PeerGraphSetProperties`): the friendly
    /// name, the comment and the presence lifetime (whole seconds); the graph id and creator
    /// stay. Every node raises `PropertyChanged`. Any member may set them; the newest wins.
    pub fn set_graph_properties(
        &mut self,
        now: Instant,
        graph: GraphHandle,
        friendly_name: &str,
        comment: &str,
        presence_lifetime: Option<Duration>,
    ) -> Result<(), RecordError> {
        let now = self.advance(now);
        if friendly_name.chars().count() > MAX_FRIENDLY_NAME_CHARS {
            return Err(invalid("friendly_name", ArgumentProblem::TooLong));
        }
        if comment.chars().count() > MAX_COMMENT_CHARS {
            return Err(invalid("comment", ArgumentProblem::TooLong));
        }
        if presence_lifetime.is_some_and(|lifetime| lifetime.as_secs() == 0) {
            return Err(invalid("presence_lifetime", ArgumentProblem::Empty));
        }
        let mut attributes = vec![
            Attribute::text(FRIENDLY_NAME, friendly_name),
            Attribute::text(COMMENT, comment),
        ];
        if let Some(lifetime) = presence_lifetime {
            let seconds = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
            attributes.push(Attribute::integer(PRESENCE_LIFETIME, seconds));
        }
        let now_ms = self.clock.unix_ms(now);
        let state = self.records_ready(graph)?;
        let signer = self.signer.as_ref().ok_or(RecordError::NoIdentity)?;
        let content = RecordContent {
            record_type: PROPERTIES_RECORD_TYPE,
            attributes,
            data: Bytes::new(),
            // Properties last as long as the graph can: the longest expiry a record carries.
            expires_at: crate::records::from_ms(now_ms.saturating_add(PROPERTIES_LIFETIME_MS)),
        };
        let own = state
            .records
            .properties_entries()
            .find(|entry| entry.record.author == signer.identity());
        // (version, creator, created, the version replaced)
        let (number, creator_id, created_ms, after_ms) = match own {
            Some(held) => (
                held.record.version.saturating_add(1),
                held.record.creator_id.clone(),
                to_ms(held.record.created_at),
                held.modified_ms,
            ),
            None => (
                1,
                state.peer_id().to_owned(),
                state.records.stamp(now_ms),
                0,
            ),
        };
        let version = Version {
            content: &content,
            // An author's one properties record.
            nonce: 0,
            version: number,
            deleted: false,
            creator_id: &creator_id,
            created_ms,
            after_ms,
        };
        let entry = self.make_version(now, graph, &version)?;
        self.keep_own(graph, entry)
    }

    /// One record (`PeerGraphGetRecord`); a deleted one is not found.
    pub fn get_record(&self, graph: GraphHandle, id: RecordId) -> Result<Record, RecordError> {
        self.records_ready(graph)?
            .records
            .application_record(&id)
            .map(|entry| entry.record.clone())
            .ok_or(RecordError::RecordNotFound)
    }

    /// The graph's records, in id order, of one type and by one creator if given
    /// (`PeerGraphEnumRecords`).
    pub fn enum_records(
        &self,
        graph: GraphHandle,
        record_type: Option<[u8; 16]>,
        creator_id: Option<&str>,
    ) -> Result<Vec<Record>, RecordError> {
        self.search_records(
            graph,
            &RecordQuery {
                record_type,
                creator_id: creator_id.map(str::to_owned),
                conditions: Vec::new(),
            },
        )
    }

    /// The graph's records that match `query`, in id order (`PeerGraphSearchRecords`).
    pub fn search_records(
        &self,
        graph: GraphHandle,
        query: &RecordQuery,
    ) -> Result<Vec<Record>, RecordError> {
        Ok(self
            .records_ready(graph)?
            .records
            .records()
            .filter(|record| query.matches(record))
            .cloned()
            .collect())
    }

    /// Counts of the graph's record store.
    pub fn record_stats(&self, graph: GraphHandle) -> Result<RecordStats, HandleError> {
        Ok(self.graph(graph)?.records.stats)
    }

    /// The writes the graph's store made since the last call, in order (see
    /// [`Output::Store`](crate::Output::Store)); empty for a closed graph.
    pub fn take_store_writes(&mut self, graph: GraphHandle) -> Vec<StoreWrite> {
        self.graphs
            .get_mut(graph)
            .map(|state| state.records.take_writes())
            .unwrap_or_default()
    }

    /// Every record and tombstone the graph holds, signed, in id order: what a database holds,
    /// and what an export writes.
    pub fn signed_records(
        &self,
        graph: GraphHandle,
    ) -> Result<Vec<(RecordId, Bytes)>, HandleError> {
        Ok(self
            .graph(graph)?
            .records
            .entries()
            .map(|entry| (entry.record.id, entry.signed.clone()))
            .collect())
    }

    /// Loads a graph's records from its own database, before it joins anyone: they were checked
    /// when they arrived, so only their form is read again. With `synchronized` (the database
    /// synchronized before), the graph counts as synchronized at once (`PeerGraphOpen`'s
    /// `S_OK`). Records that expired meanwhile go at the next deadline. All or nothing.
    pub fn restore_records(
        &mut self,
        graph: GraphHandle,
        records: impl IntoIterator<Item = Bytes>,
        synchronized: bool,
    ) -> Result<usize, RestoreError> {
        let entries = self.read_records(graph, records, false)?;
        let count = entries.len();
        let limits = self.store_limits(usize::MAX);
        let state = self.graphs.get_mut(graph).expect("checked live above");
        for entry in entries {
            state.records.observe(entry.modified_ms, entry.modified_ms);
            state.records.offer(entry, limits, false);
        }
        if synchronized {
            state.records.synchronized = true;
            state.greeted = true;
            self.check_synchronized(graph);
        }
        self.graphs_due.push(graph);
        Ok(count)
    }

    /// Takes records from an export (`PeerGraphImportDatabase`): each must be signed by its
    /// author for this graph; those that outrank the version held are kept, written and
    /// flooded like records from a neighbor. All are checked before any is kept. Returns how
    /// many were kept.
    pub fn import_records(
        &mut self,
        now: Instant,
        graph: GraphHandle,
        records: impl IntoIterator<Item = Bytes>,
    ) -> Result<usize, RestoreError> {
        let now = self.advance(now);
        let entries = self.read_records(graph, records, true)?;
        let now_ms = self.clock.unix_ms(now);
        let kept = self.keep_received(graph, entries, now_ms, None);
        Ok(kept)
    }

    fn read_records(
        &self,
        graph: GraphHandle,
        records: impl IntoIterator<Item = Bytes>,
        check_signatures: bool,
    ) -> Result<Vec<Entry>, RestoreError> {
        let state = self.graph(graph)?;
        let mut entries = Vec::new();
        for (index, signed) in records.into_iter().enumerate() {
            let entry = decode_signed(signed, crate::records::RECORD_SIZE_BOUNDS.1)
                .map_err(|_| RestoreError::Corrupt { index })?;
            if check_signatures && !verify(state.graph_id(), &entry) {
                return Err(RestoreError::Forged { index });
            }
            entries.push(entry);
        }
        Ok(entries)
    }

    /// Records from the neighbor on `link_id`.
    pub(super) fn on_records(&mut self, link_id: LinkId, records: Vec<Bytes>) {
        let Some(graph) = self.neighbor_graph(link_id) else {
            return self.violation(link_id, ProtocolViolation::UnexpectedMessage);
        };
        let now = self.now.expect("a frame arrived, so the clock has started");
        let now_ms = self.clock.unix_ms(now);
        let max_size = self.config.limits.record_size();
        let mut entries = Vec::with_capacity(records.len());
        let mut rejected = false;
        for signed in records {
            match decode_signed(signed, max_size) {
                Ok(entry) => entries.push(entry),
                Err(DecodeError::TooLarge) => {}
                Err(DecodeError::Malformed | DecodeError::WrongAuthor) => rejected = true,
            }
        }
        let Some(state) = self.graphs.get_mut(graph) else {
            return;
        };
        // Only what would be kept is worth a signature check.
        let mut fresh = Vec::with_capacity(entries.len());
        for entry in entries {
            let newer = state
                .records
                .get(&entry.record.id)
                .is_none_or(|held| held.rank() < entry.rank());
            if !newer {
                state.records.stats.stale += 1;
            } else if !verify(state.graph_id(), &entry) {
                rejected = true;
            } else {
                fresh.push(entry);
            }
        }
        if rejected {
            state.records.stats.rejected += 1;
            return self.violation(link_id, ProtocolViolation::InvalidRecord);
        }
        self.keep_received(graph, fresh, now_ms, Some(link_id));
    }

    /// Keeps what outranks the versions held among checked `entries` (from `from`, or an
    /// import), raises their events, writes and floods them; returns how many were kept.
    fn keep_received(
        &mut self,
        graph: GraphHandle,
        entries: Vec<Entry>,
        now_ms: u64,
        from: Option<LinkId>,
    ) -> usize {
        let limits = self.store_limits(self.config.limits.max_records_per_graph);
        let Some(state) = self.graphs.get_mut(graph) else {
            return 0;
        };
        let mut kept = Vec::new();
        let mut changes = Vec::new();
        for entry in entries {
            if entry.expires_ms <= now_ms {
                continue;
            }
            let (id, record_type, signed) = (
                entry.record.id,
                entry.record.record_type,
                entry.signed.clone(),
            );
            state.records.observe(entry.modified_ms, now_ms);
            if let Offered::Kept(change) = state.records.offer(entry, limits, true) {
                state.records.stats.received += u64::from(from.is_some());
                kept.push(signed);
                changes.extend(change.map(|change| (change, id, record_type)));
            }
        }
        for (change, id, record_type) in changes {
            self.record_changed(graph, change, id, record_type);
        }
        let count = kept.len();
        if count > 0 {
            self.flood_records(graph, from, &kept);
            self.note_writes(graph);
            self.schedule_graph(graph);
        }
        count
    }

    /// A round (or part of one) of the reconciliation on `link_id`.
    pub(super) fn on_reconcile(&mut self, link_id: LinkId, message: wire::Reconcile) {
        let Some(graph) = self.neighbor_graph(link_id) else {
            return self.violation(link_id, ProtocolViolation::UnexpectedMessage);
        };
        let last = message.last;
        let size = prost::Message::encoded_len(&message);
        let Some(round) = Round::from_wire(message) else {
            return self.violation(link_id, ProtocolViolation::InvalidReconcile);
        };
        let Some(state) = self.graphs.get_mut(graph) else {
            return;
        };
        state.records.stats.reconcile_frames += 1;
        state.records.stats.reconcile_bytes += size as u64;
        let mut session = state.records.sessions.remove(&link_id).unwrap_or_default();
        session.received_bytes += size;
        if session.received_bytes > MAX_ROUND_BYTES || !state.records.answer(round, &mut session) {
            return self.violation(link_id, ProtocolViolation::InvalidReconcile);
        }
        if !last {
            state.records.sessions.insert(link_id, session);
            return;
        }
        if !session.received_anything {
            // The peer has everything it needs, and this node has everything it sent.
            return self.records_synchronized(graph);
        }
        let push: Vec<Bytes> = session
            .push
            .iter()
            .filter_map(|id| state.records.get(id))
            .map(|entry| entry.signed.clone())
            .collect();
        state.records.stats.sent += push.len() as u64;
        let ended = session.reply.is_empty();
        self.send_records(link_id, &push);
        self.send_round(graph, link_id, &session.reply);
        if ended {
            self.records_synchronized(graph);
        }
    }

    /// Opens the reconciliation on a neighbor link this node dialed.
    pub(super) fn start_reconcile(&mut self, link_id: LinkId, graph: GraphHandle) {
        let outbound = self
            .links
            .get(link_id)
            .is_some_and(|link| link.direction == Direction::Outbound);
        let Some(state) = self.graphs.get(graph) else {
            return;
        };
        if outbound {
            let round = state.records.opening_round();
            self.send_round(graph, link_id, &round);
        }
    }

    /// Drops the graph's records whose expiry has passed.
    pub(super) fn expire_records(&mut self, now: Instant, graph: GraphHandle) {
        let now_ms = self.clock.unix_ms(now);
        let Some(state) = self.graphs.get_mut(graph) else {
            return;
        };
        if state.records.next_expiry_ms().is_none_or(|at| at > now_ms) {
            return;
        }
        let expired = state.records.expire(now_ms);
        for entry in expired.iter().filter(|entry| !entry.deleted) {
            let record = &entry.record;
            self.record_changed(
                graph,
                RecordChangeKind::Expired,
                record.id,
                record.record_type,
            );
        }
        self.note_writes(graph);
    }

    /// When the graph's next record expires.
    pub(super) fn next_record_expiry(&self, graph: GraphHandle) -> Option<Instant> {
        let at = self.graphs.get(graph)?.records.next_expiry_ms()?;
        self.clock.instant_of(at.saturating_add(1))
    }

    /// The graph's records synchronized with a neighbor's.
    fn records_synchronized(&mut self, graph: GraphHandle) {
        if let Some(state) = self.graphs.get_mut(graph) {
            if state.records.mark_synchronized() {
                self.note_writes(graph);
            }
        }
        self.check_synchronized(graph);
    }

    /// Sets `SYNCHRONIZED` once the graph has both a neighbor's greeting and its records, and
    /// then raises `Synchronized` for the types of its sync precedence list.
    pub(super) fn check_synchronized(&mut self, graph: GraphHandle) {
        let Some(state) = self.graphs.get(graph) else {
            return;
        };
        if !state.greeted
            || !state.records.synchronized
            || state.status().contains(GraphStatus::SYNCHRONIZED)
        {
            return;
        }
        let types = state.sync_precedence.clone();
        self.update_status(graph, GraphStatus::SYNCHRONIZED, true);
        for record_type in types {
            self.emit(graph, GraphEvent::Synchronized { record_type });
        }
    }

    fn record_changed(
        &mut self,
        graph: GraphHandle,
        change: RecordChangeKind,
        record_id: RecordId,
        record_type: [u8; 16],
    ) {
        if record_type == PROPERTIES_RECORD_TYPE {
            return self.emit(graph, GraphEvent::PropertyChanged);
        }
        let change = RecordChange {
            change,
            record_id,
            record_type,
        };
        self.emit(graph, GraphEvent::RecordChanged(change));
    }

    /// Signs `version` of a record of `graph` as this node.
    fn make_version(
        &mut self,
        now: Instant,
        graph: GraphHandle,
        version: &Version<'_>,
    ) -> Result<Entry, RecordError> {
        let signer = self.signer.as_ref().ok_or(RecordError::NoIdentity)?;
        let state = self.graphs.get(graph).ok_or(RecordError::InvalidGraph)?;
        let now_ms = self.clock.unix_ms(now);
        let content = version.content;
        let unsigned = crate::records::Unsigned {
            record_type: content.record_type,
            nonce: version.nonce,
            version: version.version,
            deleted: version.deleted,
            creator_id: version.creator_id,
            modified_by_id: state.peer_id(),
            created_ms: version.created_ms,
            // No earlier than the version replaced (the higher version ranks it first anyway)
            // and later than every record seen, even if the clock went back or runs behind
            // the authors' of those.
            modified_ms: state.records.stamp(now_ms).max(version.after_ms),
            expires_ms: to_ms(content.expires_at),
            attributes: &content.attributes,
            data: content.data.clone(),
        };
        let record = unsigned.encode(signer);
        let max = self.config.limits.record_size();
        if record.len() > max {
            return Err(RecordError::TooLarge {
                size: record.len(),
                max,
            });
        }
        let signed = sign(signer, state.graph_id(), record);
        Ok(decode_signed(signed, usize::MAX).expect("a record this node encoded decodes"))
    }

    /// Keeps a version this node made, writes it and floods it.
    fn keep_own(&mut self, graph: GraphHandle, entry: Entry) -> Result<(), RecordError> {
        let limits = self.store_limits(self.config.limits.max_records_per_graph);
        let state = self
            .graphs
            .get_mut(graph)
            .ok_or(RecordError::InvalidGraph)?;
        let (id, record_type, signed) = (
            entry.record.id,
            entry.record.record_type,
            entry.signed.clone(),
        );
        state.records.observe(entry.modified_ms, entry.modified_ms);
        match state.records.offer(entry, limits, true) {
            Offered::Kept(change) => {
                if let Some(change) = change {
                    self.record_changed(graph, change, id, record_type);
                }
                self.flood_records(graph, None, &[signed]);
                self.note_writes(graph);
                self.schedule_graph(graph);
                Ok(())
            }
            Offered::Full => Err(RecordError::StoreFull),
            Offered::Stale => unreachable!("a new version outranks the one it replaces"),
        }
    }

    /// The live record `id` of `graph`, if this node's identity wrote it.
    fn own_record(&self, graph: GraphHandle, id: &RecordId) -> Result<Entry, RecordError> {
        let held = self
            .records_ready(graph)?
            .records
            .application_record(id)
            .ok_or(RecordError::RecordNotFound)?;
        let signer = self.signer.as_ref().ok_or(RecordError::NoIdentity)?;
        if held.record.author != signer.identity() {
            return Err(RecordError::AccessDenied);
        }
        Ok(held.clone())
    }

    /// A live graph whose records are synchronized, for a record command.
    fn records_ready(&self, graph: GraphHandle) -> Result<&crate::graphs::Graph, RecordError> {
        let state = self.graph(graph)?;
        if !state.records.synchronized {
            return Err(RecordError::NotReady);
        }
        Ok(state)
    }

    /// The graph of the established neighbor link `link_id`.
    fn neighbor_graph(&self, link_id: LinkId) -> Option<GraphHandle> {
        let link = self.links.get(link_id)?;
        (link.kind == ConnectionKind::Neighbor).then_some(link.graph?)
    }

    fn store_limits(&self, records: usize) -> StoreLimits {
        StoreLimits {
            records,
            bytes: if records == usize::MAX {
                usize::MAX
            } else {
                self.config.limits.max_record_bytes_per_graph
            },
        }
    }

    /// Tells the driver the graph's store has writes.
    fn note_writes(&mut self, graph: GraphHandle) {
        let has_writes = self
            .graphs
            .get(graph)
            .is_some_and(|state| state.records.has_writes());
        if has_writes && !self.stores_due.contains(&graph) {
            self.stores_due.push(graph);
        }
    }

    /// Sends `records` to every established neighbor of `graph` but `except`.
    fn flood_records(&mut self, graph: GraphHandle, except: Option<LinkId>, records: &[Bytes]) {
        for link_id in self.neighbors_but(graph, except) {
            if let Some(state) = self.graphs.get_mut(graph) {
                state.records.stats.sent += records.len() as u64;
            }
            self.send_records(link_id, records);
        }
    }

    /// Queues `records` on `link_id` in frames of about [`RECORDS_FRAME_BYTES`].
    fn send_records(&mut self, link_id: LinkId, records: &[Bytes]) {
        let mut start = 0;
        while start < records.len() {
            let mut end = start + 1;
            let mut bytes = records[start].len();
            while end < records.len() && bytes + records[end].len() <= RECORDS_FRAME_BYTES {
                bytes += records[end].len();
                end += 1;
            }
            self.links
                .queue_frame(link_id, codec::records(&records[start..end]), self.now);
            start = end;
        }
    }

    /// Queues `round` on `link_id`.
    fn send_round(&mut self, graph: GraphHandle, link_id: LinkId, round: &Round) {
        for message in round.to_wire(RECORDS_FRAME_BYTES) {
            let frame = codec::reconcile(message);
            if let Some(state) = self.graphs.get_mut(graph) {
                state.records.stats.reconcile_frames += 1;
                state.records.stats.reconcile_bytes += frame.len() as u64;
            }
            self.links.queue_frame(link_id, frame, self.now);
        }
    }
}

/// Checks what an application gives for a record.
fn check_content(content: &RecordContent, now_ms: u64) -> Result<(), RecordError> {
    if content.record_type == PROPERTIES_RECORD_TYPE {
        return Err(invalid("record_type", ArgumentProblem::Reserved));
    }
    if to_ms(content.expires_at) <= now_ms || content.expires_at <= SystemTime::UNIX_EPOCH {
        return Err(RecordError::InvalidExpiration);
    }
    let attributes = &content.attributes;
    if attributes.len() > crate::records::MAX_ATTRIBUTES {
        return Err(invalid("attributes", ArgumentProblem::TooLong));
    }
    for (index, attribute) in attributes.iter().enumerate() {
        let name = &attribute.name;
        let problem = if name.is_empty() {
            ArgumentProblem::Empty
        } else if name.len() > crate::records::MAX_ATTRIBUTE_NAME_LEN {
            ArgumentProblem::TooLong
        } else if name.chars().any(char::is_control) {
            ArgumentProblem::ControlCharacter
        } else if name.starts_with("peer") {
            ArgumentProblem::Reserved
        } else if attributes[..index].iter().any(|other| other.name == *name) {
            ArgumentProblem::Duplicate
        } else {
            continue;
        };
        return Err(invalid("attributes", problem));
    }
    Ok(())
}

fn invalid(argument: &'static str, problem: ArgumentProblem) -> RecordError {
    RecordError::InvalidArgument {
        argument: InvalidArgument { argument, problem },
    }
}

/// The nonce a held record was made with (its id is bound to it).
fn nonce_of(entry: &Entry) -> u64 {
    entry.nonce
}

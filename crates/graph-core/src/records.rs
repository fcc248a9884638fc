//! A graph's record store (design/0007): signed records, kept newest version first, until they
//! expire; the writes a driver makes durable; and what the search and the reconciliation read.

mod reconcile;
mod signing;
mod wire_form;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::identity::PeerIdentity;

pub(crate) use reconcile::{MAX_ROUND_BYTES, Round, Session};
pub(crate) use signing::Signer;
pub use signing::SigningKeyError;
pub(crate) use wire_form::{DecodeError, Unsigned, decode_signed, sign, verify};

/// The most attributes a record carries.
pub const MAX_ATTRIBUTES: usize = 64;

/// The longest attribute name, in bytes.
pub const MAX_ATTRIBUTE_NAME_LEN: usize = 64;

/// The smallest and largest `max_record_size` a node accepts (Windows' bounds for
/// `dwMaxRecordSize`: 1,024 bytes to 60 MB).
pub const RECORD_SIZE_BOUNDS: (usize, usize) = (1024, 60 * 1024 * 1024);

/// The type of the records that hold a graph's properties (the library's own: an application
/// record may not have it, and record calls and record events leave these records out).
pub const PROPERTIES_RECORD_TYPE: [u8; 16] = *b"peergraph.props\0";

/// The longest friendly name, in characters (`PEER_GRAPH_PROPERTIES.pwzFriendlyName`).
pub const MAX_FRIENDLY_NAME_CHARS: usize = 255;

/// The longest comment, in characters (`PEER_GRAPH_PROPERTIES.pwzComment`).
pub const MAX_COMMENT_CHARS: usize = 511;

/// A graph's properties (`PEER_GRAPH_PROPERTIES`), as every node of the graph reads them: the
/// newest properties record any member wrote (signed, so each change names its author).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphProperties {
    /// The graph id.
    pub graph_id: String,
    /// The peer id of the member that wrote the graph's first properties (its creator, when it
    /// set them at creation); empty if none were ever written.
    pub creator_id: String,
    /// A name for people (at most [`MAX_FRIENDLY_NAME_CHARS`]).
    pub friendly_name: String,
    /// A description (at most [`MAX_COMMENT_CHARS`]).
    pub comment: String,
    /// How long the graph's members' presence lasts without a refresh; `None` if never set
    /// (each node then uses its configured `presence_lifetime`).
    pub presence_lifetime: Option<Duration>,
}

/// A record's id (`PEER_RECORD.id`): 16 bytes that bind the record to its author
/// (docs/PROTOCOL.md section 4, "Records"). Its text form is 32 lowercase hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(pub(crate) [u8; 16]);

impl RecordId {
    /// The id's 16 bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The id with these 16 bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId({self})")
    }
}

/// The text was not 32 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a record id is 32 hexadecimal digits")]
pub struct ParseRecordIdError;

impl FromStr for RecordId {
    type Err = ParseRecordIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() != 32 || !text.is_ascii() {
            return Err(ParseRecordIdError);
        }
        let mut id = [0; 16];
        for (byte, pair) in id.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| ParseRecordIdError)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| ParseRecordIdError)?;
        }
        Ok(Self(id))
    }
}

/// An attribute's value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum AttributeValue {
    /// Text.
    Text(String),
    /// A signed integer.
    Integer(i64),
}

/// A named, typed value of a record, which searches compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// 1 to [`MAX_ATTRIBUTE_NAME_LEN`] bytes; names starting with `peer` are reserved.
    pub name: String,
    /// Its value.
    pub value: AttributeValue,
}

impl Attribute {
    /// A text attribute.
    pub fn text(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: AttributeValue::Text(value.into()),
        }
    }

    /// An integer attribute.
    pub fn integer(name: impl Into<String>, value: i64) -> Self {
        Self {
            name: name.into(),
            value: AttributeValue::Integer(value),
        }
    }
}

/// What an application gives to add or update a record (`PEER_RECORD`'s writable fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordContent {
    /// What kind of record it is: the application's choice.
    pub record_type: [u8; 16],
    /// Its attributes (at most [`MAX_ATTRIBUTES`], names unique).
    pub attributes: Vec<Attribute>,
    /// Its data.
    pub data: Bytes,
    /// When every node drops it; later than now. An update may only move it later.
    pub expires_at: SystemTime,
}

/// One record of a graph (`PEER_RECORD`), as every node holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its type.
    pub record_type: [u8; 16],
    /// Its id.
    pub id: RecordId,
    /// 1 for the first version; each update adds one.
    pub version: u32,
    /// The peer id of the node that added it.
    pub creator_id: String,
    /// The peer id of the node that made this version.
    pub modified_by_id: String,
    /// The identity whose key signed it (the author's transport identity).
    pub author: PeerIdentity,
    /// When it was added.
    pub created_at: SystemTime,
    /// When this version was made.
    pub modified_at: SystemTime,
    /// When every node drops it.
    pub expires_at: SystemTime,
    /// Its attributes.
    pub attributes: Vec<Attribute>,
    /// Its data.
    pub data: Bytes,
}

/// How a record changed (`PEER_RECORD_CHANGE_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordChangeKind {
    /// The record is new here.
    Added = 1,
    /// A newer version replaced the one held.
    Updated = 2,
    /// Its author deleted it (or this node deleted it locally).
    Deleted = 3,
    /// Its expiry passed.
    Expired = 4,
}

/// A record changed (`PEER_EVENT_RECORD_CHANGE_DATA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordChange {
    /// What happened.
    pub change: RecordChangeKind,
    /// The record.
    pub record_id: RecordId,
    /// Its type.
    pub record_type: [u8; 16],
}

/// How a search compares an attribute with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// Equal (same type and value).
    Equal,
    /// Not equal, or of the other type.
    NotEqual,
    /// Less than (same type).
    Less,
    /// Less than or equal (same type).
    LessOrEqual,
    /// Greater than (same type).
    Greater,
    /// Greater than or equal (same type).
    GreaterOrEqual,
    /// Text that contains the value's text.
    Contains,
    /// Text that starts with the value's text.
    StartsWith,
}

/// One condition of a [`RecordQuery`]: the record has attribute `name`, and its value compares
/// with `value` as `comparison` says (`NotEqual` also matches a record without the attribute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The attribute's name.
    pub name: String,
    /// How to compare.
    pub comparison: Comparison,
    /// What to compare with.
    pub value: AttributeValue,
}

/// A search of a graph's records (`PeerGraphSearchRecords`, with a typed query in place of
/// Windows' XML): every field set must match, and every condition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordQuery {
    /// Only records of this type.
    pub record_type: Option<[u8; 16]>,
    /// Only records this peer id added.
    pub creator_id: Option<String>,
    /// Conditions on attributes, all of which must hold.
    pub conditions: Vec<Condition>,
}

impl RecordQuery {
    /// Whether `record` matches.
    pub fn matches(&self, record: &Record) -> bool {
        self.record_type
            .is_none_or(|kind| kind == record.record_type)
            && self
                .creator_id
                .as_ref()
                .is_none_or(|creator| *creator == record.creator_id)
            && self.conditions.iter().all(|condition| {
                let found = record
                    .attributes
                    .iter()
                    .find(|attribute| attribute.name == condition.name);
                condition.holds(found.map(|attribute| &attribute.value))
            })
    }
}

impl Condition {
    fn holds(&self, value: Option<&AttributeValue>) -> bool {
        use AttributeValue::{Integer, Text};
        use std::cmp::Ordering;
        let Some(value) = value else {
            return self.comparison == Comparison::NotEqual;
        };
        let order = match (value, &self.value) {
            (Text(a), Text(b)) => Some(a.cmp(b)),
            (Integer(a), Integer(b)) => Some(a.cmp(b)),
            _ => None,
        };
        match (self.comparison, order) {
            (Comparison::Equal, Some(order)) => order == Ordering::Equal,
            (Comparison::NotEqual, order) => order != Some(Ordering::Equal),
            (Comparison::Less, Some(order)) => order == Ordering::Less,
            (Comparison::LessOrEqual, Some(order)) => order != Ordering::Greater,
            (Comparison::Greater, Some(order)) => order == Ordering::Greater,
            (Comparison::GreaterOrEqual, Some(order)) => order != Ordering::Less,
            (Comparison::Contains, _) => match (value, &self.value) {
                (Text(a), Text(b)) => a.contains(b.as_str()),
                _ => false,
            },
            (Comparison::StartsWith, _) => match (value, &self.value) {
                (Text(a), Text(b)) => a.starts_with(b.as_str()),
                _ => false,
            },
            (_, None) => false,
        }
    }
}

/// Counts of a graph's record store, since the graph was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// Records (and tombstones) held now.
    pub held: usize,
    /// Bytes of signed records held now.
    pub bytes: usize,
    /// Records neighbors sent that were kept (newer than the version held).
    pub received: u64,
    /// Records neighbors sent that were not newer than the version held.
    pub stale: u64,
    /// Frames from neighbors holding a record whose form, id or signature did not check: none
    /// of the frame's records was kept, and the link that brought it was closed.
    pub rejected: u64,
    /// Records sent to neighbors (flooded, or found missing by a reconciliation).
    pub sent: u64,
    /// Reconciliation frames sent and received.
    pub reconcile_frames: u64,
    /// Bytes of reconciliation frames sent and received.
    pub reconcile_bytes: u64,
}

/// A change the driver makes durable, in order (see [`Output::Store`](crate::Output::Store)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreWrite {
    /// Keep `signed` (a `SignedRecord` as the wire carries it) under `id`, replacing what was
    /// there.
    Put {
        /// The record's id.
        id: RecordId,
        /// The signed record.
        signed: Bytes,
    },
    /// Forget `id`.
    Remove {
        /// The record's id.
        id: RecordId,
    },
    /// The store synchronized with a neighbor for the first time: a database that reopens
    /// later counts as synchronized (`PeerGraphOpen`'s `S_OK`).
    Synchronized,
}

/// Milliseconds since the Unix epoch, as record times travel.
pub(crate) fn to_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    })
}

/// The time `ms` milliseconds after the Unix epoch.
pub(crate) fn from_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// The node's wall clock: the Unix time at one instant, the rest from the instants it is given.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WallClock {
    at: Option<(Instant, u64)>,
}

impl WallClock {
    pub(crate) const fn unset() -> Self {
        Self { at: None }
    }

    pub(crate) fn set(&mut self, now: Instant, unix: Duration) {
        self.at = Some((now, u64::try_from(unix.as_millis()).unwrap_or(u64::MAX)));
    }

    /// Milliseconds since the Unix epoch at `now`; before the clock is set, the first instant
    /// seen counts as the epoch.
    pub(crate) fn unix_ms(&mut self, now: Instant) -> u64 {
        let (at, ms) = *self.at.get_or_insert((now, 0));
        let elapsed = u64::try_from(now.saturating_duration_since(at).as_millis()).unwrap_or(0);
        ms.saturating_add(elapsed)
    }

    /// The instant at which the clock reads `unix_ms` (at the soonest, `at`'s instant).
    pub(crate) fn instant_of(&self, unix_ms: u64) -> Option<Instant> {
        let (at, ms) = self.at?;
        at.checked_add(Duration::from_millis(unix_ms.saturating_sub(ms)))
    }
}

/// A record version as the store holds it: the signed bytes it travels and is kept as, and
/// their decoded form (whose data shares the bytes' buffer).
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) signed: Bytes,
    pub(crate) record: Record,
    pub(crate) deleted: bool,
    pub(crate) expires_ms: u64,
    pub(crate) modified_ms: u64,
    /// What the id was made from, with the author's identity.
    pub(crate) nonce: u64,
    /// The first 16 bytes of the SHA-256 of the encoded `Record`.
    pub(crate) digest: [u8; 16],
}

impl Entry {
    /// The conflict rule: version, then modification time, then digest.
    pub(crate) fn rank(&self) -> (u32, u64, [u8; 16]) {
        (self.record.version, self.modified_ms, self.digest)
    }
}

/// What [`RecordStore::offer`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offered {
    /// Kept, replacing the version held (if any): the change to report, if any.
    Kept(Option<RecordChangeKind>),
    /// No newer than the version held.
    Stale,
    /// New, and the store holds its most records or bytes.
    Full,
}

/// The bounds of a store.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StoreLimits {
    pub(crate) records: usize,
    pub(crate) bytes: usize,
}

/// One graph's records.
#[derive(Debug, Default)]
pub(crate) struct RecordStore {
    entries: BTreeMap<RecordId, Entry>,
    /// `(expires_ms, id)` of every entry.
    expiries: BTreeSet<(u64, RecordId)>,
    /// The ids of the entries of [`PROPERTIES_RECORD_TYPE`]: one per member that set the
    /// graph's properties, so reading them never walks the whole store.
    properties: BTreeSet<RecordId>,
    bytes: usize,
    writes: Vec<StoreWrite>,
    pub(crate) stats: RecordStats,
    /// A reconciliation with a neighbor finished once (or the graph was created here or
    /// restored from a synchronized database).
    pub(crate) synchronized: bool,
    /// Reconciliations in progress, by neighbor link.
    pub(crate) sessions: BTreeMap<crate::ids::LinkId, Session>,
    /// The latest modification time seen in a record (one from too far ahead of this node's
    /// clock aside): a record this node writes is stamped later, so that times order every
    /// record after those its author had seen, whatever the clocks' skew.
    latest_ms: u64,
}

/// How far ahead of this node's clock a record's time may be and still move the node's
/// stamps: a member with a clock (or a record) from the far future cannot drag every node's
/// times there.
const SKEW_ALLOWANCE_MS: u64 = 60_000;

impl RecordStore {
    /// An empty store; `synchronized` for a graph created here.
    pub(crate) fn new(synchronized: bool) -> Self {
        Self {
            synchronized,
            ..Self::default()
        }
    }

    pub(crate) fn get(&self, id: &RecordId) -> Option<&Entry> {
        self.entries.get(id)
    }

    /// Every live (not deleted) application record, in id order.
    pub(crate) fn records(&self) -> impl Iterator<Item = &Record> + '_ {
        self.entries
            .values()
            .filter(|entry| !entry.deleted && entry.record.record_type != PROPERTIES_RECORD_TYPE)
            .map(|entry| &entry.record)
    }

    /// The live application record `id`.
    pub(crate) fn application_record(&self, id: &RecordId) -> Option<&Entry> {
        self.entries
            .get(id)
            .filter(|entry| !entry.deleted && entry.record.record_type != PROPERTIES_RECORD_TYPE)
    }

    /// The live properties records.
    pub(crate) fn properties_entries(&self) -> impl Iterator<Item = &Entry> + '_ {
        self.properties
            .iter()
            .filter_map(|id| self.entries.get(id))
            .filter(|entry| !entry.deleted && entry.record.record_type == PROPERTIES_RECORD_TYPE)
    }

    /// The live properties records: (the newest, the first written).
    pub(crate) fn properties(&self) -> Option<(&Record, &Record)> {
        let live = || self.properties_entries();
        let newest = live().max_by_key(|entry| (entry.modified_ms, entry.digest))?;
        let first = live()
            .min_by_key(|entry| (entry.record.created_at, entry.digest))
            .expect("one exists");
        Some((&newest.record, &first.record))
    }

    /// Every entry, tombstones too, in id order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &Entry> + '_ {
        self.entries.values()
    }

    /// Keeps `entry` if it outranks the version held; with `durable`, as a write for the driver.
    pub(crate) fn offer(&mut self, entry: Entry, limits: StoreLimits, durable: bool) -> Offered {
        let id = entry.record.id;
        let change = match self.entries.get(&id) {
            Some(held) if held.rank() >= entry.rank() => return Offered::Stale,
            Some(held) => match (held.deleted, entry.deleted) {
                (false, false) => Some(RecordChangeKind::Updated),
                (false, true) => Some(RecordChangeKind::Deleted),
                (true, false) => Some(RecordChangeKind::Added),
                (true, true) => None,
            },
            None if self.entries.len() >= limits.records
                || self.bytes + entry.signed.len() > limits.bytes =>
            {
                return Offered::Full;
            }
            None => (!entry.deleted).then_some(RecordChangeKind::Added),
        };
        if durable {
            self.writes.push(StoreWrite::Put {
                id,
                signed: entry.signed.clone(),
            });
        }
        self.bytes += entry.signed.len();
        self.expiries.insert((entry.expires_ms, id));
        if entry.record.record_type == PROPERTIES_RECORD_TYPE {
            self.properties.insert(id);
        }
        if let Some(old) = self.entries.insert(id, entry) {
            self.bytes -= old.signed.len();
            self.expiries.remove(&(old.expires_ms, id));
        }
        self.stats.held = self.entries.len();
        self.stats.bytes = self.bytes;
        Offered::Kept(change)
    }

    /// Forgets `id` (a local delete, or an expiry); returns what was held.
    pub(crate) fn remove(&mut self, id: &RecordId) -> Option<Entry> {
        let entry = self.entries.remove(id)?;
        self.properties.remove(id);
        self.bytes -= entry.signed.len();
        self.expiries.remove(&(entry.expires_ms, *id));
        self.writes.push(StoreWrite::Remove { id: *id });
        self.stats.held = self.entries.len();
        self.stats.bytes = self.bytes;
        Some(entry)
    }

    /// Removes and returns every entry whose expiry is at or before `now_ms`.
    pub(crate) fn expire(&mut self, now_ms: u64) -> Vec<Entry> {
        let mut expired = Vec::new();
        while let Some(&(at, id)) = self.expiries.first() {
            if at > now_ms {
                break;
            }
            expired.extend(self.remove(&id));
        }
        expired
    }

    /// When the next entry expires, in Unix milliseconds.
    pub(crate) fn next_expiry_ms(&self) -> Option<u64> {
        self.expiries.first().map(|(at, _)| *at)
    }

    /// The writes made since the last call, in order.
    pub(crate) fn take_writes(&mut self) -> Vec<StoreWrite> {
        std::mem::take(&mut self.writes)
    }

    /// Marks the store synchronized; true the first time.
    pub(crate) fn mark_synchronized(&mut self) -> bool {
        if self.synchronized {
            return false;
        }
        self.synchronized = true;
        self.writes.push(StoreWrite::Synchronized);
        true
    }

    /// The time to stamp a record written now: `now_ms`, or later than every record seen.
    pub(crate) fn stamp(&self, now_ms: u64) -> u64 {
        now_ms.max(self.latest_ms.saturating_add(1))
    }

    /// Notes a record's modification time (see `latest_ms`).
    pub(crate) fn observe(&mut self, modified_ms: u64, now_ms: u64) {
        if modified_ms <= now_ms.saturating_add(SKEW_ALLOWANCE_MS) {
            self.latest_ms = self.latest_ms.max(modified_ms);
        }
    }

    pub(crate) fn has_writes(&self) -> bool {
        !self.writes.is_empty()
    }
}

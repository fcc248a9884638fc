//! Range-based set reconciliation of two record stores (docs/PROTOCOL.md section 5): each side
//! summarizes ranges of record ids by a fingerprint; a range whose fingerprints differ is split,
//! or listed item by item once small, until each side knows which records the other lacks.
//! A round's ranges are sorted and disjoint, so answering one reads each record at most once.

use std::collections::BTreeMap;
use std::ops::Bound;

use bytes::{BufMut, Bytes, BytesMut};
use peergraph_proto::v1 as wire;

use super::{Entry, RecordId, RecordStore};

/// A range with at most this many items is listed rather than split.
const LIST_AT_MOST: usize = 32;

/// How many parts a range is split into.
const SPLIT: usize = 16;

/// Bytes of one listed item: the id, then the digest.
const ITEM_LEN: usize = 32;

/// What one side holds in a range of ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RangeKind {
    /// How many items, and the sum of their digests modulo 2^128.
    Fingerprint { count: u64, sum: u128 },
    /// Every item: id and digest.
    Items(Vec<(RecordId, [u8; 16])>),
}

/// The ids in `[lower, upper)` (`None`: the start or the end of the id space).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Range {
    pub(crate) lower: Option<RecordId>,
    pub(crate) upper: Option<RecordId>,
    pub(crate) kind: RangeKind,
}

/// One round: ranges, and records the receiver is to send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Round {
    pub(crate) ranges: Vec<Range>,
    pub(crate) want: Vec<RecordId>,
}

impl Round {
    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty() && self.want.is_empty()
    }

    /// Reads a received `Reconcile`; `None` if a bound, fingerprint or item list is malformed.
    pub(crate) fn from_wire(message: wire::Reconcile) -> Option<Self> {
        let bound = |bytes: &Bytes| -> Option<Option<RecordId>> {
            match bytes.len() {
                0 => Some(None),
                16 => Some(Some(RecordId(bytes.as_ref().try_into().ok()?))),
                _ => None,
            }
        };
        let mut ranges = Vec::with_capacity(message.ranges.len());
        for range in message.ranges {
            let kind = match range.kind? {
                wire::reconcile_range::Kind::Fingerprint(fingerprint) => RangeKind::Fingerprint {
                    count: fingerprint.count,
                    sum: u128::from_le_bytes(fingerprint.sum.as_ref().try_into().ok()?),
                },
                wire::reconcile_range::Kind::Items(items) => {
                    if items.len() % ITEM_LEN != 0 {
                        return None;
                    }
                    RangeKind::Items(
                        items
                            .chunks_exact(ITEM_LEN)
                            .map(|item| {
                                let (id, digest) = item.split_at(16);
                                (
                                    RecordId(id.try_into().expect("16 bytes")),
                                    digest.try_into().expect("16 bytes"),
                                )
                            })
                            .collect(),
                    )
                }
            };
            ranges.push(Range {
                lower: bound(&range.lower)?,
                upper: bound(&range.upper)?,
                kind,
            });
        }
        let want = message
            .want
            .iter()
            .map(|id| Some(RecordId(id.as_ref().try_into().ok()?)))
            .collect::<Option<Vec<_>>>()?;
        Some(Self { ranges, want })
    }

    /// The round as `Reconcile` messages of about `frame_bytes` each, the last one marked.
    pub(crate) fn to_wire(&self, frame_bytes: usize) -> Vec<wire::Reconcile> {
        let bound =
            |id: Option<RecordId>| id.map_or_else(Bytes::new, |id| Bytes::copy_from_slice(&id.0));
        let mut messages = vec![wire::Reconcile::default()];
        let mut size = 0;
        let room = |size: &mut usize, needed: usize, messages: &mut Vec<wire::Reconcile>| {
            if *size + needed > frame_bytes && *size > 0 {
                messages.push(wire::Reconcile::default());
                *size = 0;
            }
            *size += needed;
        };
        for range in &self.ranges {
            let kind = match &range.kind {
                RangeKind::Fingerprint { count, sum } => {
                    wire::reconcile_range::Kind::Fingerprint(wire::Fingerprint {
                        count: *count,
                        sum: Bytes::copy_from_slice(&sum.to_le_bytes()),
                    })
                }
                RangeKind::Items(items) => {
                    let mut bytes = BytesMut::with_capacity(items.len() * ITEM_LEN);
                    for (id, digest) in items {
                        bytes.put_slice(&id.0);
                        bytes.put_slice(digest);
                    }
                    wire::reconcile_range::Kind::Items(bytes.freeze())
                }
            };
            let needed = 64
                + match &range.kind {
                    RangeKind::Items(items) => items.len() * ITEM_LEN,
                    RangeKind::Fingerprint { .. } => 0,
                };
            room(&mut size, needed, &mut messages);
            messages
                .last_mut()
                .expect("never empty")
                .ranges
                .push(wire::ReconcileRange {
                    lower: bound(range.lower),
                    upper: bound(range.upper),
                    kind: Some(kind),
                });
        }
        for id in &self.want {
            room(&mut size, 18, &mut messages);
            messages
                .last_mut()
                .expect("never empty")
                .want
                .push(Bytes::copy_from_slice(&id.0));
        }
        messages.last_mut().expect("never empty").last = true;
        messages
    }
}

/// A reconciliation in progress with one neighbor: the answer to the round being received.
#[derive(Debug, Default)]
pub(crate) struct Session {
    /// The round being built in answer.
    pub(crate) reply: Round,
    /// Records to send before the answer.
    pub(crate) push: Vec<RecordId>,
    /// The upper bound of the last range received in this round: the next must start there
    /// or later. `Some(None)` once a range reached the end of the id space.
    pub(crate) reached: Option<Option<RecordId>>,
    /// Whether the round being received has ranges or wants (an empty one ends the
    /// reconciliation).
    pub(crate) received_anything: bool,
    /// Bytes of the round received so far.
    pub(crate) received_bytes: usize,
}

/// The most bytes one round may take, over all its frames: what the answer to it holds grows
/// with the round, so a peer that never sends `last` cannot make it grow without bound. An
/// honest round stays far below: even two stores of a million records each with nothing in
/// common summarize and list them in about 64 bytes per record.
pub(crate) const MAX_ROUND_BYTES: usize = 64 << 20;

impl RecordStore {
    /// The round that opens a reconciliation: one fingerprint of everything.
    pub(crate) fn opening_round(&self) -> Round {
        Round {
            ranges: vec![self.summarize(None, None)],
            want: Vec::new(),
        }
    }

    /// Answers part of a round, into `session`. `false` if its ranges are not sorted and
    /// disjoint (with each other and with the ones received before in the round), or list an
    /// item outside their bounds.
    pub(crate) fn answer(&self, round: Round, session: &mut Session) -> bool {
        session.received_anything |= !round.is_empty();
        for range in round.ranges {
            let ordered = match session.reached {
                None => true,
                Some(None) => false,
                Some(Some(reached)) => range.lower.is_some_and(|lower| lower >= reached),
            };
            let within = |id: &RecordId| {
                range.lower.is_none_or(|lower| *id >= lower)
                    && range.upper.is_none_or(|upper| *id < upper)
            };
            let sound = match (range.lower, range.upper) {
                (Some(lower), Some(upper)) => lower < upper,
                _ => true,
            } && match &range.kind {
                RangeKind::Items(items) => items.iter().all(|(id, _)| within(id)),
                RangeKind::Fingerprint { .. } => true,
            };
            if !ordered || !sound {
                return false;
            }
            session.reached = Some(range.upper);
            self.answer_range(range, session);
        }
        for id in round.want {
            if self.entries.contains_key(&id) {
                session.push.push(id);
            }
        }
        true
    }

    fn answer_range(&self, range: Range, session: &mut Session) {
        let (lower, upper) = (range.lower, range.upper);
        match range.kind {
            RangeKind::Fingerprint { count, sum } => {
                let (mine, my_sum) = self.fingerprint(lower, upper);
                if (mine, my_sum) == (count, sum) {
                    return;
                }
                if count == 0 {
                    session
                        .push
                        .extend(self.range(lower, upper).map(|e| e.record.id));
                } else if mine as usize <= LIST_AT_MOST {
                    session.reply.ranges.push(self.listing(lower, upper));
                } else {
                    session
                        .reply
                        .ranges
                        .extend(self.split(lower, upper, mine as usize));
                }
            }
            RangeKind::Items(theirs) => {
                let theirs: BTreeMap<RecordId, [u8; 16]> = theirs.into_iter().collect();
                let mut mine = BTreeMap::new();
                for entry in self.range(lower, upper) {
                    mine.insert(entry.record.id, entry.digest);
                    if theirs.get(&entry.record.id) != Some(&entry.digest) {
                        session.push.push(entry.record.id);
                    }
                }
                for (id, digest) in theirs {
                    if mine.get(&id) != Some(&digest) {
                        session.reply.want.push(id);
                    }
                }
            }
        }
    }

    fn range(
        &self,
        lower: Option<RecordId>,
        upper: Option<RecordId>,
    ) -> impl Iterator<Item = &Entry> + '_ {
        let lower = lower.map_or(Bound::Unbounded, Bound::Included);
        let upper = upper.map_or(Bound::Unbounded, Bound::Excluded);
        self.entries.range((lower, upper)).map(|(_, entry)| entry)
    }

    fn fingerprint(&self, lower: Option<RecordId>, upper: Option<RecordId>) -> (u64, u128) {
        self.range(lower, upper)
            .fold((0, 0), |(count, sum), entry| {
                (
                    count + 1,
                    sum.wrapping_add(u128::from_le_bytes(entry.digest)),
                )
            })
    }

    fn summarize(&self, lower: Option<RecordId>, upper: Option<RecordId>) -> Range {
        let (count, sum) = self.fingerprint(lower, upper);
        Range {
            lower,
            upper,
            kind: RangeKind::Fingerprint { count, sum },
        }
    }

    fn listing(&self, lower: Option<RecordId>, upper: Option<RecordId>) -> Range {
        Range {
            lower,
            upper,
            kind: RangeKind::Items(
                self.range(lower, upper)
                    .map(|entry| (entry.record.id, entry.digest))
                    .collect(),
            ),
        }
    }

    /// `[lower, upper)` in [`SPLIT`] parts of about `count / SPLIT` of this store's items each.
    fn split(&self, lower: Option<RecordId>, upper: Option<RecordId>, count: usize) -> Vec<Range> {
        let step = count.div_ceil(SPLIT);
        let mut bounds: Vec<Option<RecordId>> = vec![lower];
        bounds.extend(
            self.range(lower, upper)
                .enumerate()
                .filter(|(index, _)| *index > 0 && index % step == 0)
                .map(|(_, entry)| Some(entry.record.id)),
        );
        bounds.push(upper);
        bounds
            .windows(2)
            .map(|pair| self.summarize(pair[0], pair[1]))
            .collect()
    }
}

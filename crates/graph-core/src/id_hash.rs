//! A hasher for the node's own sequential ids: a multiply and a rotate instead of SipHash.
//!
//! Flood resistance is not needed here because peers never choose these keys; the node allocates
//! them itself. The multiply spreads sequential ids over the high bits hashbrown uses.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A hasher for ids the node allocates (`LinkId`, `ConnectionId`, handles): a multiply and a
/// rotate. Not flood-resistant, so only for keys no peer chooses.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.write_u64(u64::from(*byte));
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

/// Builds [`IdHasher`]s, for maps keyed by node-allocated ids.
pub type IdBuildHasher = BuildHasherDefault<IdHasher>;

/// A map keyed by node-allocated ids.
pub(crate) type IdMap<K, V> = HashMap<K, V, IdBuildHasher>;

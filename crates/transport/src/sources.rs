//! Per-source limits: what one address may hold of a budget shared by every peer.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use peergraph_core::source_of;

/// A budget of slots (handshakes in progress, connections), at most `max_total` in use at once
/// and at most `max_per_source` by one source ([`source_of`]: an IPv4 address or an IPv6 /64),
/// so that one address flooding the listener leaves room for everyone else. Cloning shares the
/// budget.
#[derive(Debug, Clone)]
pub struct SourceLimit {
    inner: Arc<Mutex<Counts>>,
}

#[derive(Debug)]
struct Counts {
    max_total: usize,
    max_per_source: usize,
    total: usize,
    by_source: HashMap<IpAddr, usize>,
}

impl SourceLimit {
    /// A budget of `max_total` slots, at most `max_per_source` for one source.
    pub fn new(max_total: usize, max_per_source: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Counts {
                max_total,
                max_per_source,
                total: 0,
                by_source: HashMap::new(),
            })),
        }
    }

    /// A slot for a peer at `ip`, held until the permit is dropped; `None` if the budget or the
    /// source's share of it is used up.
    pub fn try_acquire(&self, ip: IpAddr) -> Option<SourcePermit> {
        let source = source_of(ip);
        let mut counts = self.lock();
        let held = counts.by_source.get(&source).copied().unwrap_or(0);
        if counts.total >= counts.max_total || held >= counts.max_per_source {
            return None;
        }
        counts.total += 1;
        counts.by_source.insert(source, held + 1);
        Some(SourcePermit {
            limit: self.clone(),
            source,
        })
    }

    /// Slots in use.
    pub fn in_use(&self) -> usize {
        self.lock().total
    }

    /// Slots in use by the source of `ip`.
    pub fn in_use_by(&self, ip: IpAddr) -> usize {
        self.lock()
            .by_source
            .get(&source_of(ip))
            .copied()
            .unwrap_or(0)
    }

    /// The whole budget.
    pub fn max_total(&self) -> usize {
        self.lock().max_total
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        // Nothing panics while holding it; a poisoned lock still holds consistent counts.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One slot of a [`SourceLimit`], given back when dropped.
#[derive(Debug)]
pub struct SourcePermit {
    limit: SourceLimit,
    source: IpAddr,
}

impl Drop for SourcePermit {
    fn drop(&mut self) {
        let mut counts = self.limit.lock();
        counts.total -= 1;
        if let Some(held) = counts.by_source.get_mut(&self.source) {
            *held -= 1;
            if *held == 0 {
                counts.by_source.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn one_source_gets_its_share_and_the_others_the_rest() {
        let limit = SourceLimit::new(4, 2);
        let a = [ip("192.0.2.1"); 3].map(|addr| limit.try_acquire(addr));
        assert!(a[0].is_some() && a[1].is_some());
        assert!(a[2].is_none(), "a source holds at most its share");
        let b = limit.try_acquire(ip("192.0.2.2"));
        let c = limit.try_acquire(ip("192.0.2.3"));
        assert!(b.is_some() && c.is_some());
        assert!(
            limit.try_acquire(ip("192.0.2.4")).is_none(),
            "the budget is spent"
        );
        assert_eq!((limit.in_use(), limit.in_use_by(ip("192.0.2.1"))), (4, 2));
        drop(a);
        assert_eq!((limit.in_use(), limit.in_use_by(ip("192.0.2.1"))), (2, 0));
        assert!(
            limit.try_acquire(ip("192.0.2.1")).is_some(),
            "slots come back"
        );
    }

    #[test]
    fn an_ipv6_host_is_counted_by_its_slash_64() {
        let limit = SourceLimit::new(8, 1);
        let _first = limit.try_acquire(ip("2001:db8::1")).unwrap();
        assert!(limit.try_acquire(ip("2001:db8::2")).is_none());
        assert!(limit.try_acquire(ip("2001:db8:0:1::1")).is_some());
    }
}

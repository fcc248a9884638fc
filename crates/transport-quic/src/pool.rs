//! The cache of dialed connections, one per (address, pinned identity).
//!
//! A slot lives while some dial or link holds a [`Lease`] on it. When the last lease goes, the
//! slot and its `quinn::Connection` handle are dropped, and quinn closes the connection once the
//! last stream on it is gone too. A slot whose connection has died is replaced by the next dial;
//! leases on the old slot then release nothing, thanks to the slot generation.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use peergraph_transport::{LinkInfo, PeerIdentity};
use tokio::sync::OnceCell;

pub(crate) type Key = (SocketAddr, Option<PeerIdentity>);

/// Live links one connection carries before the next dial to the same key starts a new
/// connection. The full connection stays alive for its own links and closes after them.
pub(crate) const LINKS_PER_CONNECTION: usize = 256;

/// An established, authenticated connection and what its handshake proved.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) connection: quinn::Connection,
    pub(crate) info: LinkInfo,
}

type SessionCell = Arc<OnceCell<Session>>;

#[derive(Debug, Default)]
pub(crate) struct Pool {
    state: Mutex<State>,
    /// Woken when a connection leaves the cache (its last link is gone).
    released: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct State {
    slots: HashMap<Key, Slot>,
    next_generation: u64,
}

#[derive(Debug)]
struct Slot {
    generation: u64,
    session: SessionCell,
    leases: usize,
}

/// A claim on a slot; while any exists, the slot's connection stays cached.
#[derive(Debug)]
pub(crate) struct Lease {
    pool: Arc<Pool>,
    key: Key,
    generation: u64,
    session: SessionCell,
}

impl Pool {
    /// Every operation under the lock is a few map updates that cannot panic midway, so a
    /// poisoned lock still guards consistent data.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims the slot for `key`, replacing it first if its connection has died or is full.
    pub(crate) fn lease(self: &Arc<Self>, key: Key) -> Lease {
        let mut state = self.lock();
        let state = &mut *state;
        let generation = state.next_generation;
        let slot = state
            .slots
            .entry(key)
            .or_insert_with(|| Slot::new(generation));
        if slot.is_dead() || slot.leases >= LINKS_PER_CONNECTION {
            *slot = Slot::new(generation);
        }
        if slot.generation == generation {
            state.next_generation += 1;
        }
        slot.leases += 1;
        Lease {
            pool: Arc::clone(self),
            key,
            generation: slot.generation,
            session: Arc::clone(&slot.session),
        }
    }

    fn release(&self, key: &Key, generation: u64) {
        let mut state = self.lock();
        let Some(slot) = state.slots.get_mut(key) else {
            return;
        };
        if slot.generation != generation {
            return;
        }
        slot.leases -= 1;
        if slot.leases == 0 {
            let slot = state.slots.remove(key);
            drop(state);
            // The connection closes with its last handle, outside the pool's lock.
            drop(slot);
            self.released.notify_waiters();
        }
    }

    /// Waits until no cached connection is established and alive.
    pub(crate) async fn until_unused(&self) {
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if self.live_connections() == 0 {
                return;
            }
            released.await;
        }
    }

    /// Cached connections that are established and not yet closed.
    pub(crate) fn live_connections(&self) -> usize {
        self.lock()
            .slots
            .values()
            .filter(|slot| slot.session.get().is_some() && !slot.is_dead())
            .count()
    }
}

impl Slot {
    fn new(generation: u64) -> Self {
        Self {
            generation,
            session: Arc::new(OnceCell::new()),
            leases: 0,
        }
    }

    fn is_dead(&self) -> bool {
        self.session
            .get()
            .is_some_and(|session| session.connection.close_reason().is_some())
    }
}

impl Lease {
    /// The slot's connection, established by `connect` unless another dial already did or is
    /// doing it; concurrent dials wait for one handshake instead of racing several.
    pub(crate) async fn session<F, Fut, E>(&self, connect: F) -> Result<Session, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Session, E>>,
    {
        self.session.get_or_try_init(connect).await.cloned()
    }

    /// Whether the slot's connection existed before this lease asked for it.
    pub(crate) fn was_established(&self) -> bool {
        self.session.initialized()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.pool.release(&self.key, self.generation);
    }
}

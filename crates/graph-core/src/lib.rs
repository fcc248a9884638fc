//! peergraph-core (work in progress)
mod identity;
pub use identity::{ParseIdentityError, PeerIdentity};

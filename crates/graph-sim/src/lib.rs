//! A deterministic cluster of [`peergraph_core::Node`]s for tests, benchmarks and fuzzing.
//!
//! Nodes talk over simulated links: each dial, frame and close is a delivery scheduled on a
//! virtual clock that jumps straight to the next delivery or node timeout. Each direction of a
//! link is first-in first-out, as TLS over TCP and QUIC streams are; across links, seeded random
//! delays reorder freely. A link can break at random (`NetConfig::link_loss`), and
//! [`Cluster::partition`] holds traffic between two nodes until [`Cluster::heal`].
//!
//! Every run is bounded by a step limit, so a livelock fails instead of hanging, and a run is
//! replayed bit for bit from its seed.

mod cluster;
mod rng;
pub mod scenario;

pub use cluster::{Cluster, NetConfig, SIM_EPOCH, SimNode, StepLimitExceeded};
pub use rng::SimRng;

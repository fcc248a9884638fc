//! Drivers shared by the peergraph benchmarks in `benches/`.
//!
//! Every group is named after what it runs on: `core/...` drives the sans-IO core alone, and
//! transport groups (`tcp/...`, `quic/...`) hold a `peergraph` member and a `raw` baseline
//! member measured in the same run, in the same runtime layout ([`loopback::LAYOUT`]). The
//! `connections` binary measures memory per idle connection and opening many at once, one
//! fresh process per measurement. `cargo xtask bench` runs them all and turns the results into
//! `target/bench/summary.json`; `docs/PERFORMANCE.md` explains the figures.

pub mod core_pair;
pub mod loopback;
pub mod nodes;
pub mod raw;

//! Drivers shared by the peergraph benchmarks in `benches/`.
//!
//! Every group is named after what it runs on: `core/...` drives the sans-IO core alone, and
//! transport groups (`tcp/...`, `quic/...`) hold a `peergraph` member and a raw-transport
//! `baseline` member measured in the same run. `cargo xtask bench` runs them all and turns
//! criterion's estimates into `target/bench/summary.json`; `docs/PERFORMANCE.md` explains the
//! figures.

pub mod core_pair;

//! The peergraph wire messages.
//!
//! The `.proto` files live in `proto/proto/`; the Rust code in `src/generated/` is produced from
//! them by `cargo xtask codegen` (protox + prost-build, no `protoc`) and checked in. CI runs
//! `cargo xtask codegen --check` and fails when the two disagree.
//!
//! Byte fields decode as [`bytes::Bytes`], so a payload decoded from a `Bytes` buffer shares that
//! buffer instead of copying it.

/// Version 1 of the link protocol (`peergraph.v1`).
pub mod v1 {
    #![allow(missing_docs, unreachable_pub, clippy::all)]
    include!("generated/peergraph.v1.rs");
}

//! `cargo xtask`: the project's tooling, in Rust rather than shell.
//!
//! ```text
//! cargo xtask codegen [--check]   regenerate proto/src/generated (or fail if it is stale)
//! ```

mod codegen;

use std::path::PathBuf;

use anyhow::{Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    match args.first().map(String::as_str) {
        Some("codegen") => codegen::run(&workspace_root(), rest.contains(&"--check")),
        _ => bail!("usage: cargo xtask codegen [--check]"),
    }
}

/// The workspace root: the parent of this crate's directory.
fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

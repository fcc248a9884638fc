//! `cargo xtask`: the project's tooling, in Rust rather than shell.
//!
//! ```text
//! cargo xtask codegen [--check]   regenerate proto/src/generated (or fail if it is stale)
//! cargo xtask test                run every test: nextest across the workspace, then doctests
//! cargo xtask bench [--quick]     run the criterion benches, print and save the figures
//! cargo xtask bench --peers       peergraph beside rust-libp2p, iroh and the raw transports
//!                                 (the separate workspace in benches/peers/)
//! cargo xtask fuzz TARGET|--all [--seconds N]   run cargo-fuzz targets for N seconds each
//! cargo xtask mutants [--base REV | --all] [--jobs N]
//!                                 cargo-mutants on peergraph-core: the files changed since REV
//!                                 (default HEAD, uncommitted changes included), or all of them
//! cargo xtask ci [--no-deny]      fmt, clippy, codegen --check, test, cargo-deny; stops at the
//!                                 first failing step
//! ```

mod bench;
mod checks;
mod codegen;
mod fuzz;
mod mutants;
mod peers;

use std::path::PathBuf;

use anyhow::{Result, bail};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  codegen [--check]   regenerate proto/src/generated (--check: fail if it is stale)
  test                cargo nextest across the workspace, then doctests
  bench [--quick]     criterion benches, then target/bench/summary.json (--quick: short runs)
  bench --peers       only the comparison with rust-libp2p, iroh and the raw transports
                      (builds benches/peers/), its rows into target/bench/summary.json
  fuzz TARGET|--all [--seconds N]   cargo-fuzz targets in fuzz/, N seconds each (default 60)
  mutants [--base REV | --all] [--jobs N]   cargo-mutants on peergraph-core's files changed
                      since REV (default HEAD, uncommitted changes included), or --all of them;
                      N builds at once (default 1)
  ci [--no-deny]      every check CI runs, in order (--no-deny: skip cargo-deny)";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, flags)) = args.split_first() else {
        bail!("{USAGE}");
    };
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let root = workspace_root();
    match command.as_str() {
        "codegen" => {
            expect_flags(&flags, &["--check"])?;
            codegen::run(&root, flags.contains(&"--check"))
        }
        "bench" => {
            expect_flags(&flags, &["--quick", "--peers"])?;
            match (flags.contains(&"--peers"), flags.contains(&"--quick")) {
                (true, true) => bail!("--peers has no quick mode\n\n{USAGE}"),
                (true, false) => peers::run(&root),
                (false, quick) => bench::run(&root, quick),
            }
        }
        "fuzz" => fuzz::run(&root, &flags),
        "mutants" => mutants::run(&root, &flags),
        "test" => {
            expect_flags(&flags, &[])?;
            checks::test(&root)
        }
        "ci" => {
            expect_flags(&flags, &["--no-deny"])?;
            let deny = if flags.contains(&"--no-deny") {
                checks::Deny::Skip
            } else {
                checks::Deny::Run
            };
            checks::ci(&root, deny)
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

/// Rejects any flag not in `known`, so a typo never silently changes what runs.
fn expect_flags(flags: &[&str], known: &[&str]) -> Result<()> {
    match flags.iter().find(|flag| !known.contains(flag)) {
        Some(flag) => bail!("unexpected argument `{flag}`\n\n{USAGE}"),
        None => Ok(()),
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

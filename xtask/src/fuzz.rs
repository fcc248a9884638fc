//! `cargo xtask fuzz`: runs the cargo-fuzz targets in `fuzz/` for a fixed time each.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Every target in `fuzz/fuzz_targets/`, in the order `--all` runs them.
pub(crate) const TARGETS: [&str; 4] = ["frame_decode", "node_inputs", "handshake", "records"];

/// Parses `TARGET | --all` and `--seconds N`, then runs each chosen target for N seconds.
pub(crate) fn run(root: &Path, flags: &[&str]) -> Result<()> {
    let mut targets: Vec<&str> = Vec::new();
    let mut seconds: u64 = 60;
    let mut rest = flags.iter();
    while let Some(flag) = rest.next() {
        match *flag {
            "--all" => targets.extend(TARGETS),
            "--seconds" => {
                let value = rest.next().context("--seconds needs a number")?;
                seconds = value
                    .parse()
                    .with_context(|| format!("--seconds takes whole seconds, not `{value}`"))?;
            }
            name if TARGETS.contains(&name) => targets.push(name),
            other => bail!("unknown fuzz target or flag `{other}`; targets: {TARGETS:?}"),
        }
    }
    if targets.is_empty() {
        bail!("name a target ({TARGETS:?}) or pass --all");
    }
    let found = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        bail!("cargo-fuzz is not installed; install it with `cargo install --locked cargo-fuzz`");
    }
    let fuzz_dir = root.join("fuzz");
    for target in targets {
        let corpus = Path::new("corpus").join(target);
        println!("fuzz {target}: {seconds} s");
        let status = Command::new("cargo")
            .current_dir(&fuzz_dir)
            // cargo-fuzz needs nightly flags (-Zsanitizer); this lets the stable toolchain take them.
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", target])
            .arg(&corpus)
            .args(["--", &format!("-max_total_time={seconds}"), "-max_len=4096"])
            .status()
            .with_context(|| format!("running cargo fuzz run {target}"))?;
        if !status.success() {
            bail!(
                "fuzz target {target} failed ({status}); the crash input is in fuzz/artifacts/{target}/"
            );
        }
    }
    Ok(())
}

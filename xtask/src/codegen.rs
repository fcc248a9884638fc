//! `cargo xtask codegen [--check]`: compile `proto/proto/**/*.proto` with protox (pure Rust, no
//! `protoc`) and generate prost code into `proto/src/generated/`, and write the C header of
//! `crates/peergraph-ffi` (`include/p2p.h`) with cbindgen (`cargo install cbindgen`; a tool, not
//! a dependency: it is MPL-2.0, and only its output, our header, is kept).

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};

const PROTO_FILES: &[&str] = &["peergraph/v1/link.proto"];

pub(crate) fn run(root: &Path, check: bool) -> Result<()> {
    let include = root.join("proto/proto");
    let out_dir = root.join("proto/src/generated");
    let scratch = root.join("target/xtask-codegen");
    if scratch.exists() {
        fs::remove_dir_all(&scratch)?;
    }
    fs::create_dir_all(&scratch)?;

    header(root, check)?;
    let files: Vec<_> = PROTO_FILES.iter().map(|f| include.join(f)).collect();
    let descriptors = protox::compile(&files, [&include]).context("compiling .proto files")?;
    prost_build::Config::new()
        .bytes(["."])
        .out_dir(&scratch)
        .compile_fds(descriptors)
        .context("generating Rust code")?;

    let mut stale = Vec::new();
    for entry in fs::read_dir(&scratch)? {
        let entry = entry?;
        let name = entry.file_name();
        let fresh = fs::read_to_string(entry.path())?;
        let target = out_dir.join(&name);
        let current = fs::read_to_string(&target).unwrap_or_default();
        if fresh != current {
            stale.push(name.to_string_lossy().into_owned());
            if !check {
                fs::create_dir_all(&out_dir)?;
                fs::write(&target, fresh)?;
            }
        }
    }
    match (check, stale.is_empty()) {
        (true, false) => bail!(
            "generated code is stale: {}; run `cargo xtask codegen`",
            stale.join(", ")
        ),
        (false, false) => println!("regenerated {}", stale.join(", ")),
        _ => println!("generated code is up to date"),
    }
    Ok(())
}

/// Writes (or, with `check`, compares) `crates/peergraph-ffi/include/p2p.h` from the crate's
/// source with the `cbindgen` command.
fn header(root: &Path, check: bool) -> Result<()> {
    let krate = root.join("crates/peergraph-ffi");
    let target = krate.join("include/p2p.h");
    let scratch = root.join("target/xtask-codegen-p2p.h");
    let status = std::process::Command::new("cbindgen")
        .args([
            "--quiet",
            "--config",
            "cbindgen.toml",
            "--crate",
            "peergraph-ffi",
            "--output",
        ])
        .arg(&scratch)
        .current_dir(&krate)
        .status()
        .context("running cbindgen (install it with `cargo install --locked cbindgen`)")?;
    if !status.success() {
        bail!("cbindgen failed: {status}");
    }
    let fresh = fs::read_to_string(&scratch)?;
    let current = fs::read_to_string(&target).unwrap_or_default();
    if fresh == current {
        println!("p2p.h is up to date");
    } else if check {
        bail!("crates/peergraph-ffi/include/p2p.h is stale; run `cargo xtask codegen`");
    } else {
        fs::write(&target, fresh)?;
        println!("regenerated p2p.h");
    }
    Ok(())
}

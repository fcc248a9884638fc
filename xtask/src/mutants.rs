//! `cargo xtask mutants`: runs cargo-mutants on `peergraph-core`, by default only on the source
//! files changed since a base revision, so a change's tests can be checked in minutes.
//!
//! A mutant is a small edit of the code (a return value replaced, an operator swapped, a match
//! arm deleted); a mutant the tests do not catch is a behaviour no test pins down. The known
//! equivalent mutants (those no test can tell apart from the original) are excluded in
//! `.cargo/mutants.toml`, each with its reason; cargo-mutants writes what it found to
//! `mutants.out/` (`missed.txt`, `caught.txt`, ...).

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The package whose code is mutated and whose tests must catch the mutants.
const PACKAGE: &str = "peergraph-core";

/// Its sources, relative to the workspace root.
const SOURCES: &str = "crates/graph-core/src";

/// Which files to mutate.
#[derive(Debug, PartialEq, Eq)]
enum Scope {
    /// The `.rs` files under [`SOURCES`] that differ from this revision (committed since, or
    /// changed in the working tree, or new and untracked).
    ChangedSince(String),
    /// The whole crate.
    All,
}

/// What `cargo xtask mutants` was asked to do.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    scope: Scope,
    /// Mutants built and tested at once (cargo-mutants' `-j`).
    jobs: u32,
}

/// Parses `[--base REV | --all] [--jobs N]`.
fn parse(flags: &[&str]) -> Result<Options> {
    let mut base: Option<String> = None;
    let mut all = false;
    let mut jobs = 1;
    let mut rest = flags.iter();
    while let Some(flag) = rest.next() {
        match *flag {
            "--all" => all = true,
            "--base" => {
                let value = rest.next().context("--base needs a git revision")?;
                base = Some((*value).to_owned());
            }
            "--jobs" | "-j" => {
                let value = rest.next().context("--jobs needs a number")?;
                jobs = value
                    .parse()
                    .ok()
                    .filter(|jobs| *jobs > 0)
                    .with_context(|| format!("--jobs takes a positive number, not `{value}`"))?;
            }
            other => bail!("unexpected argument `{other}`; usage: {USAGE}"),
        }
    }
    let scope = match (all, base) {
        (true, Some(_)) => bail!("--all mutates the whole crate; it takes no --base"),
        (true, None) => Scope::All,
        (false, base) => Scope::ChangedSince(base.unwrap_or_else(|| "HEAD".to_owned())),
    };
    Ok(Options { scope, jobs })
}

/// The command's usage line, for errors.
const USAGE: &str = "cargo xtask mutants [--base REV | --all] [--jobs N]";

/// Runs cargo-mutants on the files `flags` choose; fails if a mutant survives.
pub(crate) fn run(root: &Path, flags: &[&str]) -> Result<()> {
    let options = parse(flags)?;
    let found = Command::new(cargo())
        .args(["mutants", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        bail!(
            "cargo-mutants is not installed; install it with `cargo install --locked cargo-mutants`"
        );
    }
    let mut command = Command::new(cargo());
    command
        .current_dir(root)
        .args(["mutants", "--package", PACKAGE, "--jobs"])
        .arg(options.jobs.to_string());
    match &options.scope {
        Scope::All => println!("mutants: every file of {PACKAGE}"),
        Scope::ChangedSince(base) => {
            let files = changed_files(root, base)?;
            if files.is_empty() {
                println!("mutants: no file under {SOURCES} changed since {base}; nothing to do");
                return Ok(());
            }
            println!("mutants: {} changed since {base}", files.join(", "));
            for file in &files {
                command.args(["--file", file]);
            }
        }
    }
    let status = command.status().context("could not start cargo mutants")?;
    // cargo-mutants' exit codes: 2 a mutant was missed, 3 none was missed but the tests of some
    // timed out, 4 the tests fail without any mutation.
    match status.code() {
        Some(0) => Ok(()),
        Some(2) => bail!(
            "some mutants were not caught: see mutants.out/missed.txt; add a test that catches \
             each, or exclude it in .cargo/mutants.toml if no test can tell it from the original"
        ),
        Some(3) => {
            // A mutant that makes a loop never end (a deadline that never comes due, a heap
            // that never empties) hangs the tests instead of failing them: they did not pass,
            // so it counts as caught. Several such mutants of the timer code are expected.
            println!(
                "mutants: none missed; the tests of some timed out (listed in \
                 mutants.out/timeout.txt): they hang rather than fail, which also catches them"
            );
            Ok(())
        }
        Some(4) => bail!("the tests fail without any mutation; fix them first"),
        _ => bail!("cargo mutants failed ({status})"),
    }
}

/// The `.rs` files under [`SOURCES`] that differ from `base`: changed or deleted since it,
/// committed or not (`git diff --name-only`), plus new files git does not track yet. Deleted
/// files are left out: there is nothing to mutate.
fn changed_files(root: &Path, base: &str) -> Result<Vec<String>> {
    let diff = git(root, &["diff", "--name-only", base, "--", SOURCES])?;
    let untracked = git(
        root,
        &["ls-files", "--others", "--exclude-standard", "--", SOURCES],
    )?;
    Ok(rust_files(diff.lines().chain(untracked.lines()))
        .into_iter()
        .filter(|file| root.join(file).is_file())
        .collect())
}

/// The distinct `.rs` paths among `paths`, sorted.
fn rust_files<'a>(paths: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut files: Vec<String> = paths
        .map(str::trim)
        .filter(|path| path.ends_with(".rs"))
        .map(str::to_owned)
        .collect();
    files.sort();
    files.dedup();
    files
}

/// Runs `git args` in `root` and returns its standard output.
fn git(root: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new("git")
        .current_dir(root)
        .args(args)
        .output()
        .with_context(|| format!("could not run `git {}`", args.join(" ")))?;
    if !output.status.success() {
        bail!(
            "`git {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    String::from_utf8(output.stdout).context("git printed a path that is not UTF-8")
}

/// The cargo that launched us, so cargo-mutants runs with the same toolchain.
fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_default_the_files_changed_since_head_one_job() {
        let options = parse(&[]).expect("no flags is valid");
        assert_eq!(
            options,
            Options {
                scope: Scope::ChangedSince("HEAD".to_owned()),
                jobs: 1
            }
        );
    }

    #[test]
    fn base_all_and_jobs_are_read_and_conflicts_refused() {
        let options = parse(&["--base", "origin/main", "--jobs", "2"]).expect("valid");
        assert_eq!(options.scope, Scope::ChangedSince("origin/main".to_owned()));
        assert_eq!(options.jobs, 2);
        assert_eq!(parse(&["--all"]).expect("valid").scope, Scope::All);
        for bad in [
            &["--all", "--base", "HEAD"][..],
            &["--base"],
            &["--jobs", "0"],
            &["--jobs", "many"],
            &["--everything"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_rust_files_each_once_sorted() {
        let listed = [
            "crates/graph-core/src/node.rs",
            "crates/graph-core/src/frame.rs",
            "crates/graph-core/src/node.rs",
            "crates/graph-core/src/notes.md",
            "",
        ];
        assert_eq!(
            rust_files(listed.into_iter()),
            [
                "crates/graph-core/src/frame.rs",
                "crates/graph-core/src/node.rs"
            ]
        );
    }
}

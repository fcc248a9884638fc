//! `cargo xtask test` and `cargo xtask ci`: every check CI runs, in the order it runs them.
//!
//! The cheap checks come first so a formatting slip fails in seconds, not after the test build.
//! `.ci/run` spells out the same commands one per line; a test below keeps the two in step.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::codegen;

/// One named check.
enum Step {
    /// `cargo <args>`, run from the workspace root.
    Cargo {
        name: &'static str,
        args: &'static [&'static str],
    },
    /// `cargo xtask codegen --check`, called in-process.
    CodegenCheck,
}

/// Checks that need no test build, run before the tests.
const STATIC_CHECKS: &[Step] = &[
    Step::Cargo {
        name: "fmt",
        args: &["fmt", "--all", "--check"],
    },
    Step::Cargo {
        name: "clippy",
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    },
    Step::CodegenCheck,
];

/// `cargo xtask test`: the README's test command.
/// Doctests first: the run then ends on nextest's summary of every other test.
const TESTS: &[Step] = &[
    Step::Cargo {
        name: "doctests",
        args: &["test", "--workspace", "--doc"],
    },
    Step::Cargo {
        name: "nextest",
        args: &["nextest", "run", "--workspace", "--no-tests=pass"],
    },
];

/// The dependency policy in `deny.toml`. Only these three checks work offline.
const DENY: Step = Step::Cargo {
    name: "deny",
    args: &["deny", "check", "bans", "licenses", "sources"],
};

/// Whether `cargo xtask ci` checks the dependency policy.
pub(crate) enum Deny {
    Run,
    Skip,
}

/// The tests without cargo-nextest, when it is missing and cannot be installed (offline): the
/// same tests, run by `cargo test`, one binary at a time.
const TESTS_WITHOUT_NEXTEST: Step = Step::Cargo {
    name: "cargo test",
    args: &["test", "--workspace", "--all-targets"],
};

/// Runs every test in the workspace: doctests (nextest does not run them), then nextest,
/// installing it first if it is missing.
pub(crate) fn test(root: &Path) -> Result<()> {
    let started = Instant::now();
    run_tests(root)?;
    println!("test: passed in {}s", started.elapsed().as_secs());
    Ok(())
}

fn run_tests(root: &Path) -> Result<()> {
    let [doctests, nextest] = TESTS else {
        unreachable!("doctests, then nextest")
    };
    doctests.run(root)?;
    if nextest_available(root) {
        nextest.run(root)
    } else {
        TESTS_WITHOUT_NEXTEST.run(root)
    }
}

/// Whether cargo-nextest can run, installing it if it is missing (a fresh clone has only
/// cargo); false if it cannot be installed.
fn nextest_available(root: &Path) -> bool {
    let installed = || {
        Command::new(cargo())
            .args(["nextest", "--version"])
            .current_dir(root)
            .output()
            .is_ok_and(|output| output.status.success())
    };
    if installed() {
        return true;
    }
    println!(
        "==> cargo-nextest is missing: installing it once (cargo install --locked cargo-nextest)"
    );
    let status = Command::new(cargo())
        .args(["install", "--locked", "cargo-nextest"])
        .current_dir(root)
        .status();
    if status.is_ok_and(|status| status.success()) && installed() {
        return true;
    }
    println!("==> cargo-nextest could not be installed: running the tests with cargo test");
    false
}

/// Runs every CI check in order and stops at the first failure, naming the step.
pub(crate) fn ci(root: &Path, deny: Deny) -> Result<()> {
    let started = Instant::now();
    for step in STATIC_CHECKS {
        step.run(root)?;
    }
    run_tests(root)?;
    match deny {
        Deny::Run => DENY.run(root)?,
        Deny::Skip => println!(
            "==> [{}] SKIPPED (--no-deny): the dependency policy in deny.toml was not checked",
            DENY.name()
        ),
    }
    println!("ci: all checks passed in {}s", started.elapsed().as_secs());
    Ok(())
}

impl Step {
    fn name(&self) -> &'static str {
        match self {
            Step::Cargo { name, .. } => name,
            Step::CodegenCheck => "codegen",
        }
    }

    /// The command as a person would type it.
    fn command_line(&self) -> String {
        match self {
            Step::Cargo { args, .. } => format!("cargo {}", args.join(" ")),
            Step::CodegenCheck => "cargo xtask codegen --check".to_owned(),
        }
    }

    fn run(&self, root: &Path) -> Result<()> {
        let name = self.name();
        println!("==> [{name}] {}", self.command_line());
        let started = Instant::now();
        match self {
            Step::Cargo { args, .. } => {
                let status = Command::new(cargo())
                    .args(*args)
                    .current_dir(root)
                    .status()
                    .with_context(|| format!("step `{name}` failed: could not start cargo"))?;
                if !status.success() {
                    bail!(
                        "step `{name}` failed: `{}` exited with {status}",
                        self.command_line()
                    );
                }
            }
            Step::CodegenCheck => {
                codegen::run(root, true).with_context(|| format!("step `{name}` failed"))?;
            }
        }
        println!("==> [{name}] ok ({}s)", started.elapsed().as_secs());
        Ok(())
    }
}

/// The cargo that launched us, so every step uses the same toolchain.
fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn read(relative: &str) -> String {
        let path = crate::workspace_root().join(relative);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }

    /// `.ci/run` lists each check on its own line so a reader sees what CI does; it must run
    /// exactly what `cargo xtask ci` runs.
    #[test]
    fn ci_script_runs_every_check() {
        let script = read(".ci/run");
        let lines: Vec<&str> = script.lines().map(str::trim).collect();
        let expected = STATIC_CHECKS
            .iter()
            .map(Step::command_line)
            .chain(["cargo xtask test".to_owned(), DENY.command_line()]);
        for command in expected {
            assert!(
                lines.contains(&command.as_str()),
                ".ci/run does not run `{command}`"
            );
        }
    }

    /// The README's test command is the one CI runs.
    #[test]
    fn readme_names_the_test_command() {
        assert!(read("README.md").contains("cargo xtask test"));
    }
}

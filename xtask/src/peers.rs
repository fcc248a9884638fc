//! `cargo xtask bench --peers`: peergraph beside rust-libp2p, iroh and the raw transports.
//!
//! Builds the separate workspace in `benches/peers/` (artifacts in `target/peers/`), runs its
//! `peers` binary once per stack and figure, each in a fresh process, prints one table and
//! puts `peers/...` rows into `target/bench/summary.json`, replacing those of an earlier run and
//! keeping every other row. A measurement that fails is "not measured"; a missed goal never
//! fails the command.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::bench::{Goal, group_digits, merge_summary};

/// The layout every figure is measured in (`peergraph_benches::loopback::LAYOUT`).
const LAYOUT: &str = "tokio multi-thread runtime, 2 workers, both ends in one process, \
                      loopback 127.0.0.1 (memory and scale: accepting end in a child process, \
                      both RSS counted)";

/// Connections of the memory-per-connection runs, and of the scale runs.
const IDLE_COUNT: usize = 1000;
const SCALE_COUNT: usize = 10_000;

/// The stacks compared, per transport: (peergraph, rust-libp2p, iroh, raw).
const TCP: [Option<&str>; 4] = [
    Some("peergraph-tcp"),
    Some("libp2p-tcp"),
    None,
    Some("raw-tcp"),
];
const QUIC: [Option<&str>; 4] = [
    Some("peergraph-quic"),
    Some("libp2p-quic"),
    Some("iroh"),
    Some("raw-quic"),
];

/// The peers a figure's goal is judged against, in the order of the stacks after peergraph.
const PEERS: [&str; 3] = ["rust-libp2p", "iroh", "raw"];

/// Where a figure's numbers come from.
#[derive(Clone, Copy)]
enum Source {
    /// `peers figure --figure NAME`: its `value`.
    Figure(&'static str),
    /// `peers memory --count N`: the key `key` of its line.
    Memory { count: usize, key: &'static str },
}

struct Figure {
    name: &'static str,
    transport: &'static str,
    stacks: [Option<&'static str>; 4],
    source: Source,
    unit: &'static str,
    /// Against rust-libp2p and against iroh; raw has no goal.
    goals: [Goal; 2],
}

const LOWER: [Goal; 2] = [Goal::AtMost(1.0), Goal::AtMost(1.0)];
const NONE: [Goal; 2] = [Goal::None, Goal::None];

/// Every figure, in table order.
const FIGURES: &[Figure] = &[
    Figure {
        name: "peers/tcp/open_latency",
        transport: "tcp",
        stacks: TCP,
        source: Source::Figure("open_latency"),
        unit: "us",
        goals: LOWER,
    },
    Figure {
        name: "peers/tcp/throughput",
        transport: "tcp",
        stacks: TCP,
        source: Source::Figure("throughput"),
        unit: "bytes/s",
        goals: [Goal::AtLeast(4.0), Goal::None],
    },
    Figure {
        name: "peers/tcp/small_messages",
        transport: "tcp",
        stacks: TCP,
        source: Source::Figure("small_messages"),
        unit: "messages/s",
        goals: NONE,
    },
    Figure {
        name: "peers/tcp/round_trip",
        transport: "tcp",
        stacks: TCP,
        source: Source::Figure("round_trip"),
        unit: "us",
        goals: LOWER,
    },
    Figure {
        name: "peers/tcp/idle_memory",
        transport: "tcp",
        stacks: TCP,
        source: Source::Memory {
            count: IDLE_COUNT,
            key: "bytes_per_connection",
        },
        unit: "bytes/conn",
        goals: LOWER,
    },
    Figure {
        name: "peers/tcp/scale_open_10k",
        transport: "tcp",
        stacks: TCP,
        source: Source::Memory {
            count: SCALE_COUNT,
            key: "open_seconds",
        },
        unit: "s",
        goals: NONE,
    },
    Figure {
        name: "peers/tcp/scale_memory_10k",
        transport: "tcp",
        stacks: TCP,
        source: Source::Memory {
            count: SCALE_COUNT,
            key: "held_mib",
        },
        unit: "MiB",
        goals: NONE,
    },
    Figure {
        name: "peers/quic/open_latency",
        transport: "quic",
        stacks: QUIC,
        source: Source::Figure("open_latency"),
        unit: "us",
        goals: LOWER,
    },
    Figure {
        name: "peers/quic/throughput",
        transport: "quic",
        stacks: QUIC,
        source: Source::Figure("throughput"),
        unit: "bytes/s",
        goals: [Goal::AtLeast(1.3), Goal::None],
    },
    Figure {
        name: "peers/quic/small_messages",
        transport: "quic",
        stacks: QUIC,
        source: Source::Figure("small_messages"),
        unit: "messages/s",
        goals: NONE,
    },
    Figure {
        name: "peers/quic/round_trip",
        transport: "quic",
        stacks: QUIC,
        source: Source::Figure("round_trip"),
        unit: "us",
        goals: LOWER,
    },
    Figure {
        name: "peers/quic/idle_memory",
        transport: "quic",
        stacks: QUIC,
        source: Source::Memory {
            count: IDLE_COUNT,
            key: "bytes_per_connection",
        },
        unit: "bytes/conn",
        goals: LOWER,
    },
];

/// Every measurement's output line, by (stack, what): `what` is a figure name or
/// `memory/<count>`.
type Results = HashMap<(String, String), Value>;

/// Builds and runs the comparison, prints the table, merges the summary.
pub(crate) fn run(root: &Path) -> Result<()> {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let peers_target = target.join("peers");
    let manifest = root.join("benches").join("peers").join("Cargo.toml");
    println!(
        "building {} (rust-libp2p and iroh: the first build takes minutes)",
        manifest.display()
    );
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(root.join("benches").join("peers"))
        .env("CARGO_TARGET_DIR", &peers_target)
        .args([
            "build",
            "--release",
            "--locked",
            "--bin",
            "peers",
            "--manifest-path",
        ])
        .arg(&manifest)
        .status()
        .context("building the peers workspace")?;
    if !status.success() {
        bail!("building the peers workspace failed ({status})");
    }
    let binary = peers_target.join("release").join("peers");

    let results = measure(&binary);
    let rows: Vec<Row<'_>> = FIGURES
        .iter()
        .map(|figure| Row::new(figure, &results))
        .collect();
    println!("\nlayout: {LAYOUT}");
    print!("{}", table(&rows));

    let path = target.join("bench").join("summary.json");
    fs::create_dir_all(target.join("bench")).context("creating target/bench")?;
    let old = fs::read_to_string(&path).unwrap_or_default();
    fs::write(&path, merge(&old, &rows)).with_context(|| format!("writing {}", path.display()))?;
    println!("\nwrote peers/ rows into {}", path.display());
    Ok(())
}

/// Runs every measurement the figures need, once each, in a fresh process.
fn measure(binary: &Path) -> Results {
    let mut runs: Vec<(String, String, Vec<String>)> = Vec::new();
    for figure in FIGURES {
        for stack in figure.stacks.iter().flatten() {
            let (what, args) = match figure.source {
                Source::Figure(name) => (
                    name.to_owned(),
                    vec!["figure", "--stack", stack, "--figure", name]
                        .into_iter()
                        .map(str::to_owned)
                        .collect(),
                ),
                Source::Memory { count, .. } => (
                    format!("memory/{count}"),
                    vec![
                        "memory".to_owned(),
                        "--stack".to_owned(),
                        (*stack).to_owned(),
                        "--count".to_owned(),
                        count.to_string(),
                    ],
                ),
            };
            let key = ((*stack).to_owned(), what);
            if !runs.iter().any(|(s, w, _)| (s, w) == (&key.0, &key.1)) {
                runs.push((key.0, key.1, args));
            }
        }
    }
    let mut results = Results::new();
    for (index, (stack, what, args)) in runs.into_iter().enumerate() {
        println!("[{}] {stack} {what}", index + 1);
        let output = Command::new(binary).args(&args).output();
        let line = match output {
            Ok(output) if output.status.success() => {
                // Streams libp2p-stream dropped and the run opened again, if any.
                for note in String::from_utf8_lossy(&output.stderr)
                    .lines()
                    .filter(|line| line.contains("opened again"))
                {
                    println!("  {note}");
                }
                String::from_utf8_lossy(&output.stdout).trim().to_owned()
            }
            Ok(output) => {
                eprintln!(
                    "  failed ({}): {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                        .lines()
                        .find(|line| line.contains("panicked") || line.contains("timed out"))
                        .unwrap_or("")
                );
                continue;
            }
            Err(error) => {
                eprintln!("  could not run {}: {error}", binary.display());
                continue;
            }
        };
        match serde_json::from_str::<Value>(&line) {
            Ok(value) => {
                println!("  {line}");
                results.insert((stack, what), value);
            }
            Err(error) => eprintln!("  unreadable output {line:?}: {error}"),
        }
    }
    results
}

/// One evaluated figure: each stack's number, and the ratio to each peer.
struct Row<'a> {
    figure: &'a Figure,
    /// peergraph, rust-libp2p, iroh, raw.
    values: [Option<f64>; 4],
}

impl<'a> Row<'a> {
    fn new(figure: &'a Figure, results: &Results) -> Self {
        let values = figure.stacks.map(|stack| {
            let stack = stack?;
            match figure.source {
                Source::Figure(name) => results
                    .get(&(stack.to_owned(), name.to_owned()))?
                    .get("value")?
                    .as_f64(),
                Source::Memory { count, key } => results
                    .get(&(stack.to_owned(), format!("memory/{count}")))?
                    .get(key)?
                    .as_f64(),
            }
        });
        Self { figure, values }
    }

    /// peergraph / peer `index` (0: rust-libp2p, 1: iroh, 2: raw).
    fn ratio(&self, index: usize) -> Option<f64> {
        let peergraph = self.values[0]?;
        let peer = self.values[index + 1]?;
        (peer != 0.0).then(|| peergraph / peer)
    }

    fn goal(&self, index: usize) -> Goal {
        self.figure.goals.get(index).copied().unwrap_or(Goal::None)
    }

    fn verdict(&self) -> String {
        let missed: Vec<&str> = (0..2)
            .filter(|&index| {
                self.ratio(index)
                    .and_then(|ratio| self.goal(index).met(ratio))
                    == Some(false)
            })
            .map(|index| PEERS[index])
            .collect();
        let judged = (0..2).any(|index| {
            self.ratio(index)
                .and_then(|ratio| self.goal(index).met(ratio))
                .is_some()
        });
        if !missed.is_empty() {
            format!("**MISSED** ({})", missed.join(", "))
        } else if judged {
            "met".to_owned()
        } else {
            String::new()
        }
    }
}

fn number(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), group_digits)
}

fn ratio_text(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |ratio| format!("{ratio:.2}"))
}

/// The goal column: the goal against each peer that has one.
fn goal_text(row: &Row<'_>) -> String {
    let goals: Vec<String> = (0..2)
        .filter(|&index| row.figure.stacks[index + 1].is_some())
        .filter_map(|index| match row.goal(index) {
            Goal::None => None,
            goal => Some(format!("{} {}", goal.text(), PEERS[index])),
        })
        .collect();
    if goals.is_empty() {
        "none".to_owned()
    } else {
        goals.join(", ")
    }
}

fn table(rows: &[Row<'_>]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<28} {:<5} {:>14} {:>14} {:>14} {:>14} {:<11} {:>9} {:>7} {:>6} {:<28} verdict",
        "figure",
        "trans",
        "peergraph",
        "rust-libp2p",
        "iroh",
        "raw",
        "unit",
        "/libp2p",
        "/iroh",
        "/raw",
        "goal",
    );
    for row in rows {
        let _ = writeln!(
            out,
            "{:<28} {:<5} {:>14} {:>14} {:>14} {:>14} {:<11} {:>9} {:>7} {:>6} {:<28} {}",
            row.figure.name,
            row.figure.transport,
            number(row.values[0]),
            number(row.values[1]),
            number(row.values[2]),
            number(row.values[3]),
            row.figure.unit,
            ratio_text(row.ratio(0)),
            ratio_text(row.ratio(1)),
            ratio_text(row.ratio(2)),
            goal_text(row),
            row.verdict(),
        );
    }
    out
}

/// The summary entries of one row: one per peer measured, the peer as the baseline, named
/// `<figure>/<peer>` (e.g. `peers/tcp/throughput/rust-libp2p`), with the keys in the order
/// `cargo xtask bench` writes them.
fn row_entries(row: &Row<'_>) -> Vec<String> {
    let json_number =
        |value: Option<f64>| value.map_or_else(|| "null".to_owned(), |v| v.to_string());
    (0..3)
        .filter(|&index| row.figure.stacks[index + 1].is_some())
        .map(|index| {
            format!(
                "{{\"figure\": {}, \"transport\": {}, \"peergraph\": {}, \"baseline\": {}, \
                 \"unit\": {}, \"ratio\": {}, \"goal\": {}}}",
                Value::from(format!("{}/{}", row.figure.name, PEERS[index])),
                Value::from(row.figure.transport),
                json_number(row.values[0]),
                json_number(row.values[index + 1]),
                Value::from(row.figure.unit),
                json_number(row.ratio(index)),
                Value::from(row.goal(index).text()),
            )
        })
        .collect()
}

/// `old` (the summary file, or empty) with its `peers/` entries replaced by this run's.
fn merge(old: &str, rows: &[Row<'_>]) -> String {
    merge_summary(
        old,
        |name| name.starts_with("peers/"),
        rows.iter().flat_map(row_entries),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_replaces_peer_rows_and_keeps_the_rest() {
        let figure = &FIGURES[1];
        let row = Row {
            figure,
            values: [Some(4.0), Some(1.0), None, Some(8.0)],
        };
        assert_eq!(row.ratio(0), Some(4.0));
        assert_eq!(row.verdict(), "met");
        let old = "[\n  {\"figure\": \"tcp/throughput\", \"ratio\": 1.0},\n  \
                   {\"figure\": \"peers/tcp/throughput/rust-libp2p\", \"ratio\": 9.0}\n]\n";
        let merged = merge(old, &[row]);
        let summary: Value = serde_json::from_str(&merged).expect("valid JSON");
        let names: Vec<&str> = summary
            .as_array()
            .expect("a list")
            .iter()
            .map(|entry| entry["figure"].as_str().expect("a name"))
            .collect();
        assert_eq!(
            names,
            [
                "tcp/throughput",
                "peers/tcp/throughput/rust-libp2p",
                "peers/tcp/throughput/raw"
            ]
        );
        assert_eq!(summary[1]["ratio"], 4.0);
        assert_eq!(summary[1]["goal"], ">= 4.00");
        assert_eq!(merge("", &[]), "[]\n");
    }

    #[test]
    fn a_missed_goal_names_the_peer() {
        let row = Row {
            figure: &FIGURES[0],
            values: [Some(2.0), Some(1.0), None, Some(1.0)],
        };
        assert_eq!(row.verdict(), "**MISSED** (rust-libp2p)");
    }
}

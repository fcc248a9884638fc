//! `cargo xtask bench [--quick]`: run the criterion benches in `benches/` and the
//! `connections` measurements, then judge each figure against its goal in one table and in
//! `target/bench/summary.json`.
//!
//! A figure compares a peergraph measurement with a baseline: another measurement of the same
//! run (a raw transport doing the same work) or, where no fair raw counterpart exists, the
//! goal's absolute number. [`FIGURES`] lists them; a measurement that does not exist yet, or did
//! not run this time, is reported as "not measured" instead of failing the command, so a new
//! bench only needs its row here.
//!
//! Timed figures come from criterion (`target/criterion/`). Memory and 10,000-connection figures
//! come from `benches/src/bin/connections.rs`, run once per measurement in a fresh process
//! ([`EXTRAS`]), which writes `target/bench/extra/<name>.json`. The simulated graph's figures
//! come from `benches/src/bin/graph.rs` (`graph.json`), the record store's from
//! `benches/src/bin/records.rs` (`records.json`), each run once in a fresh process.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Criterion settings of `--quick`: a short warm-up and measurement, for a smoke run of under a
/// minute once built (groups that set their own sample size keep it).
const QUICK_ARGS: &[&str] = &[
    "--warm-up-time",
    "0.3",
    "--measurement-time",
    "0.8",
    "--sample-size",
    "10",
];

/// The runtime layout of every transport measurement, printed above the table.
const LAYOUT: &str = "tokio multi-thread runtime, 2 workers, both ends in one process, \
                      loopback 127.0.0.1 (memory and scale: the accepting end in a child \
                      process with the same runtime, both processes' RSS counted)";

/// One run of the `connections` binary: the result file's name, then its arguments.
struct Extra {
    name: &'static str,
    transport: &'static str,
    kind: &'static str,
    count: u32,
}

/// The connections of the full run's scale figure. Over QUIC: a TCP connection holds a
/// descriptor at each end, and 50,000 of them need more than the 20,000 a process may open on
/// this machine (its hard limit, which the run cannot raise without `CAP_SYS_RESOURCE`), where
/// peergraph's direct connections to one node share QUIC connections and one UDP socket.
const SCALE_50K: u32 = 50_000;

/// Every `connections` run, each in a fresh process.
const EXTRAS: &[Extra] = &[
    Extra {
        name: "idle_memory-tcp-peergraph",
        transport: "tcp",
        kind: "peergraph",
        count: 1000,
    },
    Extra {
        name: "idle_memory-tcp-raw",
        transport: "tcp",
        kind: "raw",
        count: 1000,
    },
    Extra {
        name: "idle_memory-quic-peergraph",
        transport: "quic",
        kind: "peergraph",
        count: 1000,
    },
    Extra {
        name: "idle_memory-quic-raw",
        transport: "quic",
        kind: "raw",
        count: 1000,
    },
    Extra {
        name: "scale-tcp-peergraph",
        transport: "tcp",
        kind: "peergraph",
        count: 10_000,
    },
    Extra {
        name: "scale-tcp-raw",
        transport: "tcp",
        kind: "raw",
        count: 10_000,
    },
    Extra {
        name: "scale50k-quic-peergraph",
        transport: "quic",
        kind: "peergraph",
        count: SCALE_50K,
    },
    Extra {
        name: "scale50k-quic-raw",
        transport: "quic",
        kind: "raw",
        count: SCALE_50K,
    },
];

/// Where a figure's number comes from.
#[derive(Clone, Copy)]
enum Source {
    /// The criterion id (`group/function`) of a bench of this run.
    Bench(&'static str),
    /// A number in `target/bench/extra/<file>.json` written by this run.
    Extra {
        file: &'static str,
        key: &'static str,
    },
}

/// What a figure compares peergraph with.
enum Baseline {
    /// A fixed number: the goal itself, in the figure's unit.
    Absolute(f64),
    /// Another measurement of the same run.
    Measured(Source),
    /// Nothing: the figure is reported without a ratio.
    None,
}

/// How a measurement becomes the figure's number.
#[derive(Clone, Copy)]
enum Unit {
    /// Throughput elements per second, shown under this name (e.g. `handshakes/s`).
    PerSecond(&'static str),
    /// Throughput bytes per second, shown in MiB/s.
    MibPerSecond,
    /// Throughput bytes per second.
    BytesPerSecond,
    /// Time of one iteration, in microseconds.
    Micros,
    /// A number the `connections` binary reported, in this unit.
    Reported(&'static str),
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::PerSecond(name) | Unit::Reported(name) => name,
            Unit::MibPerSecond => "MiB/s",
            Unit::BytesPerSecond => "bytes/s",
            Unit::Micros => "us",
        }
    }

    /// The figure's number from a measurement.
    fn value(self, measurement: &Measurement) -> Option<f64> {
        let (nanos, throughput) = match *measurement {
            Measurement::Timed { nanos, throughput } => (nanos, throughput),
            Measurement::Reported(value) => {
                return matches!(self, Unit::Reported(_)).then_some(value);
            }
        };
        let per_second = |amount: u64| amount as f64 * 1e9 / nanos;
        match (self, throughput) {
            (Unit::PerSecond(_), Some(Throughput::Elements(n))) => Some(per_second(n)),
            (Unit::MibPerSecond, Some(Throughput::Bytes(n))) => {
                Some(per_second(n) / f64::from(1 << 20))
            }
            (Unit::BytesPerSecond, Some(Throughput::Bytes(n))) => Some(per_second(n)),
            (Unit::Micros, _) => Some(nanos / 1e3),
            _ => None,
        }
    }
}

/// The ratio peergraph / baseline a figure must reach.
#[derive(Clone, Copy)]
pub(crate) enum Goal {
    /// Higher is better (rates).
    AtLeast(f64),
    /// Lower is better (latencies, memory).
    AtMost(f64),
    /// Reported only.
    None,
}

impl Goal {
    pub(crate) fn text(self) -> String {
        match self {
            Goal::AtLeast(ratio) => format!(">= {ratio:.2}"),
            Goal::AtMost(ratio) => format!("<= {ratio:.2}"),
            Goal::None => "none".to_owned(),
        }
    }

    pub(crate) fn met(self, ratio: f64) -> Option<bool> {
        match self {
            Goal::AtLeast(goal) => Some(ratio >= goal),
            Goal::AtMost(goal) => Some(ratio <= goal),
            Goal::None => None,
        }
    }
}

/// One row of the summary.
struct Figure {
    name: &'static str,
    /// `none` for the core alone, else the transport both members run on.
    transport: &'static str,
    /// The peergraph measurement.
    peergraph: Source,
    baseline: Baseline,
    unit: Unit,
    goal: Goal,
}

/// A transport figure whose peergraph and baseline are the `peergraph` and `raw` members of the
/// criterion group named like the figure.
const fn versus_raw(
    name: &'static str,
    transport: &'static str,
    peergraph: &'static str,
    raw: &'static str,
    unit: Unit,
    goal: Goal,
) -> Figure {
    Figure {
        name,
        transport,
        peergraph: Source::Bench(peergraph),
        baseline: Baseline::Measured(Source::Bench(raw)),
        unit,
        goal,
    }
}

/// A figure from two `connections` runs: peergraph's and raw's result files, same key.
const fn from_extras(
    name: &'static str,
    transport: &'static str,
    files: [&'static str; 2],
    key: &'static str,
    unit: &'static str,
    goal: Goal,
) -> Figure {
    Figure {
        name,
        transport,
        peergraph: Source::Extra {
            file: files[0],
            key,
        },
        baseline: Baseline::Measured(Source::Extra {
            file: files[1],
            key,
        }),
        unit: Unit::Reported(unit),
        goal,
    }
}

/// Every figure the project publishes. Transport rows compare peergraph with the raw transport
/// measured in the same run; their goals are ratios to it.
const FIGURES: &[Figure] = &[
    Figure {
        name: "core/handshake",
        transport: "none",
        peergraph: Source::Bench("core/handshake"),
        baseline: Baseline::Absolute(1_500_000.0),
        unit: Unit::PerSecond("handshakes/s"),
        goal: Goal::AtLeast(1.0),
    },
    Figure {
        name: "core/handshake_with_secret",
        transport: "none",
        peergraph: Source::Bench("core/handshake_with_secret"),
        baseline: Baseline::None,
        unit: Unit::PerSecond("handshakes/s"),
        goal: Goal::None,
    },
    Figure {
        name: "core/handshake_and_close",
        transport: "none",
        peergraph: Source::Bench("core/handshake_and_close"),
        baseline: Baseline::None,
        unit: Unit::PerSecond("connections/s"),
        goal: Goal::None,
    },
    Figure {
        name: "core/transfer/64B",
        transport: "none",
        peergraph: Source::Bench("core/transfer/64B"),
        baseline: Baseline::None,
        unit: Unit::MibPerSecond,
        goal: Goal::None,
    },
    Figure {
        name: "core/transfer/1MiB",
        transport: "none",
        peergraph: Source::Bench("core/transfer/1MiB"),
        baseline: Baseline::None,
        unit: Unit::MibPerSecond,
        goal: Goal::None,
    },
    versus_raw(
        "tcp/open_latency",
        "tcp",
        "tcp/open_latency/peergraph",
        "tcp/open_latency/raw",
        Unit::Micros,
        Goal::AtMost(1.10),
    ),
    versus_raw(
        "tcp/open_latency_vs_handshake",
        "tcp",
        "tcp/open_latency/peergraph",
        "tcp/open_latency/raw_handshake",
        Unit::Micros,
        Goal::None,
    ),
    versus_raw(
        "tcp/throughput",
        "tcp",
        "tcp/throughput/peergraph",
        "tcp/throughput/raw",
        Unit::BytesPerSecond,
        Goal::AtLeast(0.90),
    ),
    versus_raw(
        "tcp/small_messages",
        "tcp",
        "tcp/small_messages/peergraph",
        "tcp/small_messages/raw",
        Unit::PerSecond("messages/s"),
        Goal::AtLeast(0.80),
    ),
    versus_raw(
        "tcp/small_messages_per_message",
        "tcp",
        "tcp/small_messages/peergraph_per_message",
        "tcp/small_messages/raw",
        Unit::PerSecond("messages/s"),
        Goal::None,
    ),
    versus_raw(
        "tcp/round_trip",
        "tcp",
        "tcp/round_trip/peergraph",
        "tcp/round_trip/raw",
        Unit::Micros,
        Goal::AtMost(1.10),
    ),
    versus_raw(
        "tcp/round_trip_current_thread",
        "tcp",
        "tcp/round_trip_current_thread/peergraph",
        "tcp/round_trip_current_thread/raw",
        Unit::Micros,
        Goal::None,
    ),
    from_extras(
        "tcp/idle_memory",
        "tcp",
        ["idle_memory-tcp-peergraph", "idle_memory-tcp-raw"],
        "bytes_per_connection",
        "bytes/conn",
        Goal::AtMost(0.70),
    ),
    from_extras(
        "tcp/scale_open_10k",
        "tcp",
        ["scale-tcp-peergraph", "scale-tcp-raw"],
        "open_seconds",
        "s",
        Goal::None,
    ),
    from_extras(
        "tcp/scale_memory_10k",
        "tcp",
        ["scale-tcp-peergraph", "scale-tcp-raw"],
        "rss_held_mib",
        "MiB",
        Goal::None,
    ),
    versus_raw(
        "quic/open_latency",
        "quic",
        "quic/open_latency/peergraph",
        "quic/open_latency/raw",
        Unit::Micros,
        Goal::AtMost(1.10),
    ),
    versus_raw(
        "quic/open_latency_reused",
        "quic",
        "quic/open_latency_reused/peergraph",
        "quic/open_latency_reused/raw",
        Unit::Micros,
        Goal::None,
    ),
    versus_raw(
        "quic/throughput",
        "quic",
        "quic/throughput/peergraph",
        "quic/throughput/raw",
        Unit::BytesPerSecond,
        Goal::AtLeast(0.90),
    ),
    versus_raw(
        "quic/small_messages",
        "quic",
        "quic/small_messages/peergraph",
        "quic/small_messages/raw",
        Unit::PerSecond("messages/s"),
        Goal::AtLeast(0.80),
    ),
    versus_raw(
        "quic/small_messages_per_message",
        "quic",
        "quic/small_messages/peergraph_per_message",
        "quic/small_messages/raw",
        Unit::PerSecond("messages/s"),
        Goal::None,
    ),
    versus_raw(
        "quic/round_trip",
        "quic",
        "quic/round_trip/peergraph",
        "quic/round_trip/raw",
        Unit::Micros,
        Goal::AtMost(1.10),
    ),
    versus_raw(
        "quic/round_trip_current_thread",
        "quic",
        "quic/round_trip_current_thread/peergraph",
        "quic/round_trip_current_thread/raw",
        Unit::Micros,
        Goal::None,
    ),
    from_extras(
        "quic/idle_memory",
        "quic",
        ["idle_memory-quic-peergraph", "idle_memory-quic-raw"],
        "bytes_per_connection",
        "bytes/conn",
        Goal::AtMost(0.70),
    ),
    from_extras(
        "quic/scale_open_50k",
        "quic",
        ["scale50k-quic-peergraph", "scale50k-quic-raw"],
        "open_seconds",
        "s",
        Goal::None,
    ),
    from_extras(
        "quic/scale_memory_50k",
        "quic",
        ["scale50k-quic-peergraph", "scale50k-quic-raw"],
        "rss_held_mib",
        "MiB",
        Goal::AtMost(0.80),
    ),
    graph_figure(
        "graph/converge_200_nodes",
        "converge_seconds",
        "s (virtual)",
    ),
    graph_figure("graph/copies_per_link", "copies_per_link", "copies/link"),
    graph_figure(
        "graph/memory_per_known_node",
        "bytes_per_known_node",
        "bytes/node",
    ),
    records_figure(
        "records/add_rate_memory",
        "none",
        "add_rate_memory",
        "records/s",
    ),
    records_figure(
        "records/add_rate_disk",
        "none",
        "add_rate_disk",
        "records/s",
    ),
    records_figure(
        "records/db_bytes_per_record",
        "none",
        "db_bytes_per_record",
        "bytes/record",
    ),
    records_figure("records/flood_rate", "tcp", "flood_rate", "records/s"),
    records_figure("records/sync_100k", "tcp", "sync_100k_seconds", "s"),
    records_figure("records/sync_20k", "tcp", "sync_20k_seconds", "s"),
    records_figure(
        "records/sync_bytes_per_record",
        "tcp",
        "sync_bytes_per_record",
        "bytes/record",
    ),
    records_figure(
        "records/reconcile_bytes_per_record",
        "tcp",
        "reconcile_bytes_per_record",
        "bytes/record",
    ),
    // The second synchronization must cost far less than sending every record again (the
    // bound the core's own test holds a reconnecting node to).
    Figure {
        name: "records/resync_bytes",
        transport: "tcp",
        peergraph: Source::Extra {
            file: "records",
            key: "resync_bytes",
        },
        baseline: Baseline::Measured(Source::Extra {
            file: "records",
            key: "resync_all_record_bytes",
        }),
        unit: Unit::Reported("bytes"),
        goal: Goal::AtMost(0.25),
    },
];

/// Figures measured only by the full run, and only by `--quick` (which synchronizes 20,000
/// records instead of 100,000); the other mode leaves them out of its table.
const FULL_ONLY: &[&str] = &["records/sync_100k"];
const QUICK_ONLY: &[&str] = &["records/sync_20k"];

/// The figures a run in this mode reports.
fn figures(quick: bool) -> impl Iterator<Item = &'static Figure> {
    let left_out = if quick { FULL_ONLY } else { QUICK_ONLY };
    FIGURES
        .iter()
        .filter(move |figure| !left_out.contains(&figure.name))
}

/// The throughput a bench declared (criterion's `benchmark.json`).
#[derive(Clone, Copy)]
enum Throughput {
    Elements(u64),
    Bytes(u64),
}

/// One result of this run.
enum Measurement {
    /// A criterion bench.
    Timed {
        /// Time of one iteration in nanoseconds: criterion's headline estimate (the slope of
        /// the linear fit when it made one, else the mean).
        nanos: f64,
        throughput: Option<Throughput>,
    },
    /// A number from a `connections` result file.
    Reported(f64),
}

/// Every result of this run: criterion benches by id, extras by `file/key`.
type Measurements = HashMap<String, Measurement>;

/// One evaluated row.
struct Row<'a> {
    figure: &'a Figure,
    peergraph: Option<f64>,
    baseline: Option<f64>,
    ratio: Option<f64>,
}

pub(crate) fn run(root: &Path, quick: bool) -> Result<()> {
    let started = SystemTime::now();
    let target = target_dir(root);
    let extra_dir = target.join("bench").join("extra");
    // Results of an earlier run must not pass for this one's.
    if extra_dir.exists() {
        fs::remove_dir_all(&extra_dir)
            .with_context(|| format!("removing {}", extra_dir.display()))?;
    }
    fs::create_dir_all(&extra_dir).with_context(|| format!("creating {}", extra_dir.display()))?;
    println!("layout: {LAYOUT}");

    let mut command = cargo(root);
    command.args(["bench", "-p", "peergraph-benches"]);
    if quick {
        command.arg("--").args(QUICK_ARGS);
    }
    let status = command.status().context("running cargo bench")?;
    if !status.success() {
        bail!("cargo bench failed ({status})");
    }
    run_extras(root, &target, &extra_dir)?;
    run_graph(root, &target, &extra_dir)?;
    run_records(root, &target, &extra_dir, quick)?;

    let mut measurements = read_criterion(&target.join("criterion"), started)?;
    measurements.extend(read_extras(&extra_dir)?);
    let rows: Vec<Row<'_>> = figures(quick)
        .map(|figure| evaluate(figure, &measurements))
        .collect();
    println!("\nlayout: {LAYOUT}");
    print!("{}", table(&rows));

    // The rows of `cargo xtask bench --peers` stay until that command replaces them.
    let path = target.join("bench").join("summary.json");
    let old = fs::read_to_string(&path).unwrap_or_default();
    let summary = merge_summary(
        &old,
        |name| !name.starts_with("peers/"),
        rows.iter().map(row_json),
    );
    fs::write(&path, summary).with_context(|| format!("writing {}", path.display()))?;
    println!("\nwrote {}", path.display());
    Ok(())
}

fn cargo(root: &Path) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root);
    command
}

/// Builds the `connections` binary, then runs each of [`EXTRAS`] in its own process. A run that
/// fails leaves its figure "not measured".
fn run_extras(root: &Path, target: &Path, extra_dir: &Path) -> Result<()> {
    let status = cargo(root)
        .args(["build", "--release", "-p", "peergraph-benches", "--bin"])
        .arg("connections")
        .status()
        .context("building the connections binary")?;
    if !status.success() {
        bail!("building the connections binary failed ({status})");
    }
    let binary = target.join("release").join("connections");
    for extra in EXTRAS {
        println!(
            "connections: {} ({} {} x {})",
            extra.name, extra.kind, extra.transport, extra.count
        );
        let out = extra_dir.join(format!("{}.json", extra.name));
        let status = Command::new(&binary)
            .args(["--transport", extra.transport, "--kind", extra.kind])
            .args(["--count", &extra.count.to_string()])
            .arg("--out")
            .arg(&out)
            .status()
            .with_context(|| format!("running {}", binary.display()))?;
        if !status.success() {
            eprintln!("connections {} failed ({status}); not measured", extra.name);
        }
    }
    Ok(())
}

/// Builds and runs the `graph` binary (the simulated 200-node graph); a failed run leaves its
/// figures "not measured".
fn run_graph(root: &Path, target: &Path, extra_dir: &Path) -> Result<()> {
    let status = cargo(root)
        .args([
            "build",
            "--release",
            "-p",
            "peergraph-benches",
            "--bin",
            "graph",
        ])
        .status()
        .context("building the graph binary")?;
    if !status.success() {
        bail!("building the graph binary failed ({status})");
    }
    let binary = target.join("release").join("graph");
    let status = Command::new(&binary)
        .arg("--out")
        .arg(extra_dir.join("graph.json"))
        .status()
        .with_context(|| format!("running {}", binary.display()))?;
    if !status.success() {
        eprintln!("graph failed ({status}); not measured");
    }
    Ok(())
}

/// Builds and runs the `records` binary (the record store on real nodes; `--quick`: a
/// smaller synchronization); a failed run leaves its figures "not measured".
fn run_records(root: &Path, target: &Path, extra_dir: &Path, quick: bool) -> Result<()> {
    let status = cargo(root)
        .args([
            "build",
            "--release",
            "-p",
            "peergraph-benches",
            "--bin",
            "records",
        ])
        .status()
        .context("building the records binary")?;
    if !status.success() {
        bail!("building the records binary failed ({status})");
    }
    let binary = target.join("release").join("records");
    let mut command = Command::new(&binary);
    command
        .arg("--out")
        .arg(extra_dir.join("records.json"))
        // The databases of the run, removed when it ends.
        .arg("--dir")
        .arg(target.join("bench").join("records-scratch"));
    if quick {
        command.arg("--quick");
    }
    let status = command
        .status()
        .with_context(|| format!("running {}", binary.display()))?;
    if !status.success() {
        eprintln!("records failed ({status}); not measured");
    }
    Ok(())
}

/// A figure of the record store (`records` binary, `records.json`), reported without a
/// baseline.
const fn records_figure(
    name: &'static str,
    transport: &'static str,
    key: &'static str,
    unit: &'static str,
) -> Figure {
    Figure {
        name,
        transport,
        peergraph: Source::Extra {
            file: "records",
            key,
        },
        baseline: Baseline::None,
        unit: Unit::Reported(unit),
        goal: Goal::None,
    }
}

/// A figure of the simulated graph (`graph` binary, `graph.json`), reported without a baseline.
const fn graph_figure(name: &'static str, key: &'static str, unit: &'static str) -> Figure {
    Figure {
        name,
        transport: "sim",
        peergraph: Source::Extra { file: "graph", key },
        baseline: Baseline::None,
        unit: Unit::Reported(unit),
        goal: Goal::None,
    }
}

/// Every number of every result file in `dir`, as `file/key`.
fn read_extras(dir: &Path) -> Result<Measurements> {
    let mut found = HashMap::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let Some(file) = path.file_stem().and_then(|stem| stem.to_str()) else {
            continue;
        };
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let value: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let Some(fields) = value.as_object() else {
            continue;
        };
        for (key, value) in fields {
            if let Some(number) = value.as_f64() {
                found.insert(format!("{file}/{key}"), Measurement::Reported(number));
            }
        }
    }
    Ok(found)
}

/// Cargo's target directory, where criterion also writes (it asks cargo the same way).
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Every bench criterion measured since `since`, by criterion id. Older results are left out so
/// a bench that was removed or did not run is "not measured", not a stale number.
fn read_criterion(dir: &Path, since: SystemTime) -> Result<Measurements> {
    let mut found = HashMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.ends_with("new/estimates.json") {
                let new = path.parent().context("estimates.json has a parent")?;
                if fs::metadata(&path)?.modified()? < since {
                    continue;
                }
                if let Some((id, measurement)) = read_bench(new)? {
                    found.insert(id, measurement);
                }
            }
        }
    }
    Ok(found)
}

/// The id and result of the bench whose `new/` directory is `dir`.
fn read_bench(dir: &Path) -> Result<Option<(String, Measurement)>> {
    let read = |name: &str| -> Result<Value> {
        let path = dir.join(name);
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    };
    let (benchmark, estimates) = (read("benchmark.json")?, read("estimates.json")?);
    let Some(id) = benchmark["full_id"].as_str() else {
        return Ok(None);
    };
    let estimate = |name: &str| estimates[name]["point_estimate"].as_f64();
    let Some(nanos) = estimate("slope").or_else(|| estimate("mean")) else {
        return Ok(None);
    };
    let throughput = &benchmark["throughput"];
    let throughput = if let Some(n) = throughput["Elements"].as_u64() {
        Some(Throughput::Elements(n))
    } else {
        throughput["Bytes"].as_u64().map(Throughput::Bytes)
    };
    Ok(Some((
        id.to_owned(),
        Measurement::Timed { nanos, throughput },
    )))
}

fn evaluate<'a>(figure: &'a Figure, measurements: &Measurements) -> Row<'a> {
    let value = |source: Source| {
        let key = match source {
            Source::Bench(id) => id.to_owned(),
            Source::Extra { file, key } => format!("{file}/{key}"),
        };
        figure.unit.value(measurements.get(&key)?)
    };
    let peergraph = value(figure.peergraph);
    let baseline = match figure.baseline {
        Baseline::Absolute(number) => Some(number),
        Baseline::Measured(source) => value(source),
        Baseline::None => None,
    };
    let ratio = peergraph.zip(baseline).map(|(p, b)| p / b);
    Row {
        figure,
        peergraph,
        baseline,
        ratio,
    }
}

/// One summary entry, with its keys in the documented order (serde_json's map would sort them).
fn row_json(row: &Row<'_>) -> String {
    let number = |value: Option<f64>| value.map_or_else(|| "null".to_owned(), |v| v.to_string());
    let text = |value: &str| Value::from(value).to_string();
    format!(
        "{{\"figure\": {}, \"transport\": {}, \"peergraph\": {}, \"baseline\": {}, \
         \"unit\": {}, \"ratio\": {}, \"goal\": {}}}",
        text(row.figure.name),
        text(row.figure.transport),
        number(row.peergraph),
        number(row.baseline),
        text(row.figure.unit.name()),
        number(row.ratio),
        text(&row.figure.goal.text()),
    )
}

/// The summary file (a JSON list, one entry a line): `old` (such a file, or empty) without the
/// entries whose figure `replaced` names, with `entries` appended.
pub(crate) fn merge_summary(
    old: &str,
    replaced: impl Fn(&str) -> bool,
    entries: impl IntoIterator<Item = String>,
) -> String {
    let mut kept: Vec<String> = old
        .lines()
        .map(|line| line.trim().trim_end_matches(',').to_owned())
        .filter(|line| line.starts_with('{'))
        .filter(|line| {
            serde_json::from_str::<Value>(line)
                .is_ok_and(|entry| !entry["figure"].as_str().is_some_and(&replaced))
        })
        .collect();
    kept.extend(entries);
    if kept.is_empty() {
        return "[]\n".to_owned();
    }
    let lines: Vec<String> = kept.iter().map(|entry| format!("  {entry}")).collect();
    format!("[\n{}\n]\n", lines.join(",\n"))
}

fn table(rows: &[Row<'_>]) -> String {
    let mut out = String::new();
    let mut line = |cells: [&str; 8]| {
        let [
            figure,
            transport,
            peergraph,
            baseline,
            unit,
            ratio,
            goal,
            verdict,
        ] = cells;
        let _ = writeln!(
            out,
            "{figure:<34} {transport:<9} {peergraph:>14} {baseline:>14} {unit:<14} {ratio:>6} \
             {goal:<8} {verdict}"
        );
    };
    line([
        "figure",
        "transport",
        "peergraph",
        "baseline",
        "unit",
        "ratio",
        "goal",
        "",
    ]);
    for row in rows {
        let number = |value: Option<f64>| value.map_or_else(|| "-".to_owned(), group_digits);
        let verdict = match (row.peergraph, row.ratio) {
            (None, _) => "not measured",
            (Some(_), None) => "",
            (Some(_), Some(ratio)) => match row.figure.goal.met(ratio) {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "",
            },
        };
        let ratio = row
            .ratio
            .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}"));
        line([
            row.figure.name,
            row.figure.transport,
            &number(row.peergraph),
            &number(row.baseline),
            row.figure.unit.name(),
            &ratio,
            &row.figure.goal.text(),
            verdict,
        ]);
    }
    out
}

/// `1234567.8` as `1,234,568`; numbers below 100 keep one decimal, those below 1 two
/// significant digits (`0.00028`).
pub(crate) fn group_digits(value: f64) -> String {
    if value != 0.0 && value.abs() < 1.0 {
        let decimals = (1 - value.abs().log10().floor() as i32).max(1) as usize;
        return format!("{value:.decimals$}");
    }
    if value.abs() < 100.0 {
        return format!("{value:.1}");
    }
    let digits = format!("{:.0}", value.abs());
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if value < 0.0 {
        grouped.insert(0, '-');
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_grouped() {
        assert_eq!(group_digits(1_234_567.8), "1,234,568");
        assert_eq!(group_digits(999.0), "999");
        assert_eq!(group_digits(1000.0), "1,000");
        assert_eq!(group_digits(12.34), "12.3");
        assert_eq!(group_digits(0.5), "0.50");
        assert_eq!(group_digits(0.000_28), "0.00028");
        assert_eq!(group_digits(0.0), "0.0");
    }

    #[test]
    fn missing_benches_are_not_measured() {
        let measurements = HashMap::from([(
            "core/handshake".to_owned(),
            Measurement::Timed {
                nanos: 500_000.0,
                throughput: Some(Throughput::Elements(1500)),
            },
        )]);
        let rows: Vec<Row<'_>> = FIGURES
            .iter()
            .map(|figure| evaluate(figure, &measurements))
            .collect();
        let handshake = &rows[0];
        assert_eq!(handshake.peergraph, Some(3_000_000.0));
        // Over the goal itself, 1,500,000 a second.
        assert_eq!(handshake.ratio, Some(2.0));
        let tcp_index = rows
            .iter()
            .position(|row| row.figure.transport == "tcp")
            .expect("a tcp figure is listed");
        let tcp = &rows[tcp_index];
        assert_eq!((tcp.peergraph, tcp.ratio), (None, None));
        assert!(table(&rows).contains("not measured"));
        let summary: Value =
            serde_json::from_str(&merge_summary("", |_| true, rows.iter().map(row_json)))
                .expect("the summary is valid JSON");
        assert_eq!(summary[0]["figure"], "core/handshake");
        assert_eq!(summary[0]["ratio"], 2.0);
        assert_eq!(summary[tcp_index]["figure"], tcp.figure.name);
        assert_eq!(summary[tcp_index]["peergraph"], Value::Null);
    }

    #[test]
    fn each_mode_reports_its_own_synchronization_size() {
        let names = |quick| figures(quick).map(|figure| figure.name).collect::<Vec<_>>();
        assert!(names(false).contains(&"records/sync_100k"));
        assert!(!names(false).contains(&"records/sync_20k"));
        assert!(names(true).contains(&"records/sync_20k"));
        assert!(!names(true).contains(&"records/sync_100k"));
        assert_eq!(names(true).len(), FIGURES.len() - FULL_ONLY.len());
    }

    #[test]
    fn a_bench_run_keeps_the_peers_rows() {
        let old = "[\n  {\"figure\": \"tcp/throughput\", \"ratio\": 1.0},\n  \
                   {\"figure\": \"peers/tcp/throughput/raw\", \"ratio\": 9.0}\n]\n";
        let merged = merge_summary(
            old,
            |name| !name.starts_with("peers/"),
            ["{\"figure\": \"tcp/round_trip\"}".to_owned()],
        );
        let summary: Value = serde_json::from_str(&merged).expect("valid JSON");
        let names: Vec<&str> = summary
            .as_array()
            .expect("a list")
            .iter()
            .map(|entry| entry["figure"].as_str().expect("a name"))
            .collect();
        assert_eq!(names, ["peers/tcp/throughput/raw", "tcp/round_trip"]);
    }

    #[test]
    fn figure_names_are_unique() {
        let mut names: Vec<&str> = FIGURES.iter().map(|figure| figure.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FIGURES.len());
    }
}

//! `cargo xtask bench [--quick]`: run the criterion benches in `benches/`, then judge each figure
//! against its goal in one table and in `target/bench/summary.json`.
//!
//! A figure compares a peergraph measurement with a baseline: another bench of the same run (a raw
//! transport doing the same work) or, where no fair raw counterpart exists, the goal's absolute
//! number. [`FIGURES`] lists them; a bench that does not exist yet, or did not run this time, is
//! reported as "not measured" instead of failing the command, so a new bench group only needs
//! its row here.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Criterion settings of `--quick`: a short warm-up and measurement, for a rough run in well
/// under a minute once built.
const QUICK_ARGS: &[&str] = &["--warm-up-time", "0.5", "--measurement-time", "1"];

/// What a figure compares peergraph with.
enum Baseline {
    /// A fixed number: the goal itself, in the figure's unit.
    Absolute(f64),
    /// The criterion id of a bench measured in the same run.
    Bench(&'static str),
    /// Nothing: the figure is reported without a ratio.
    None,
}

/// How a criterion estimate becomes the figure's number.
#[derive(Clone, Copy)]
enum Unit {
    /// Throughput elements per second, shown under this name (e.g. `handshakes/s`).
    PerSecond(&'static str),
    /// Throughput bytes per second, shown in MiB/s.
    MibPerSecond,
    /// Time of one iteration, in microseconds.
    Micros,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::PerSecond(name) => name,
            Unit::MibPerSecond => "MiB/s",
            Unit::Micros => "us",
        }
    }

    /// The figure's number from an iteration's time and the bench's declared throughput.
    fn value(self, nanos: f64, throughput: Option<Throughput>) -> Option<f64> {
        let per_second = |amount: u64| amount as f64 * 1e9 / nanos;
        match (self, throughput) {
            (Unit::PerSecond(_), Some(Throughput::Elements(n))) => Some(per_second(n)),
            (Unit::MibPerSecond, Some(Throughput::Bytes(n))) => {
                Some(per_second(n) / f64::from(1 << 20))
            }
            (Unit::Micros, _) => Some(nanos / 1e3),
            _ => None,
        }
    }
}

/// The ratio peergraph / baseline a figure must reach.
#[derive(Clone, Copy)]
enum Goal {
    /// Higher is better (rates).
    AtLeast(f64),
    /// Lower is better (latencies).
    AtMost(f64),
    /// Reported only.
    None,
}

impl Goal {
    fn text(self) -> String {
        match self {
            Goal::AtLeast(ratio) => format!(">= {ratio:.2}"),
            Goal::AtMost(ratio) => format!("<= {ratio:.2}"),
            Goal::None => "none".to_owned(),
        }
    }

    fn met(self, ratio: f64) -> Option<bool> {
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
    /// The criterion id (`group/function`) of the peergraph member.
    peergraph: &'static str,
    baseline: Baseline,
    unit: Unit,
    goal: Goal,
}

/// Every figure the project publishes. Transport rows pair a `peergraph` member with a `raw`
/// member of the same criterion group; their goals are ratios to the raw transport.
const FIGURES: &[Figure] = &[
    Figure {
        name: "core/handshake",
        transport: "none",
        peergraph: "core/handshake",
        baseline: Baseline::Absolute(1_000_000.0),
        unit: Unit::PerSecond("handshakes/s"),
        goal: Goal::AtLeast(1.0),
    },
    Figure {
        name: "core/handshake_and_close",
        transport: "none",
        peergraph: "core/handshake_and_close",
        baseline: Baseline::None,
        unit: Unit::PerSecond("connections/s"),
        goal: Goal::None,
    },
    Figure {
        name: "core/transfer/64B",
        transport: "none",
        peergraph: "core/transfer/64B",
        baseline: Baseline::None,
        unit: Unit::MibPerSecond,
        goal: Goal::None,
    },
    Figure {
        name: "core/transfer/1MiB",
        transport: "none",
        peergraph: "core/transfer/1MiB",
        baseline: Baseline::None,
        unit: Unit::MibPerSecond,
        goal: Goal::None,
    },
    Figure {
        name: "tcp/open_latency",
        transport: "tcp",
        peergraph: "tcp/open_latency/peergraph",
        baseline: Baseline::Bench("tcp/open_latency/raw"),
        unit: Unit::Micros,
        goal: Goal::AtMost(1.10),
    },
    Figure {
        name: "tcp/throughput",
        transport: "tcp",
        peergraph: "tcp/throughput/peergraph",
        baseline: Baseline::Bench("tcp/throughput/raw"),
        unit: Unit::MibPerSecond,
        goal: Goal::AtLeast(0.90),
    },
    Figure {
        name: "quic/open_latency",
        transport: "quic",
        peergraph: "quic/open_latency/peergraph",
        baseline: Baseline::Bench("quic/open_latency/raw"),
        unit: Unit::Micros,
        goal: Goal::AtMost(1.10),
    },
    Figure {
        name: "quic/throughput",
        transport: "quic",
        peergraph: "quic/throughput/peergraph",
        baseline: Baseline::Bench("quic/throughput/raw"),
        unit: Unit::MibPerSecond,
        goal: Goal::AtLeast(0.90),
    },
];

/// The throughput a bench declared (criterion's `benchmark.json`).
#[derive(Clone, Copy)]
enum Throughput {
    Elements(u64),
    Bytes(u64),
}

/// One bench's result from this run.
struct Measurement {
    /// Time of one iteration in nanoseconds: criterion's headline estimate (the slope of the
    /// linear fit when it made one, else the mean).
    nanos: f64,
    throughput: Option<Throughput>,
}

/// One evaluated row.
struct Row<'a> {
    figure: &'a Figure,
    peergraph: Option<f64>,
    baseline: Option<f64>,
    ratio: Option<f64>,
}

pub(crate) fn run(root: &Path, quick: bool) -> Result<()> {
    let started = SystemTime::now();
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .current_dir(root)
        .args(["bench", "-p", "peergraph-benches"]);
    if quick {
        command.arg("--").args(QUICK_ARGS);
    }
    let status = command.status().context("running cargo bench")?;
    if !status.success() {
        bail!("cargo bench failed ({status})");
    }

    let target = target_dir(root);
    let measurements = read_criterion(&target.join("criterion"), started)?;
    let rows: Vec<Row<'_>> = FIGURES
        .iter()
        .map(|figure| evaluate(figure, &measurements))
        .collect();
    print!("{}", table(&rows));

    let out_dir = target.join("bench");
    fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let path = out_dir.join("summary.json");
    fs::write(&path, summary_json(&rows)).with_context(|| format!("writing {}", path.display()))?;
    println!("\nwrote {}", path.display());
    Ok(())
}

/// Cargo's target directory, where criterion also writes (it asks cargo the same way).
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Every bench criterion measured since `since`, by criterion id. Older results are left out so
/// a bench that was removed or did not run is "not measured", not a stale number.
fn read_criterion(dir: &Path, since: SystemTime) -> Result<HashMap<String, Measurement>> {
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
    Ok(Some((id.to_owned(), Measurement { nanos, throughput })))
}

fn evaluate<'a>(figure: &'a Figure, measurements: &HashMap<String, Measurement>) -> Row<'a> {
    let value = |id: &str| {
        let measurement = measurements.get(id)?;
        figure.unit.value(measurement.nanos, measurement.throughput)
    };
    let peergraph = value(figure.peergraph);
    let baseline = match figure.baseline {
        Baseline::Absolute(number) => Some(number),
        Baseline::Bench(id) => value(id),
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

/// The summary file: a JSON list, one entry a line.
fn summary_json(rows: &[Row<'_>]) -> String {
    let entries: Vec<String> = rows
        .iter()
        .map(|row| format!("  {}", row_json(row)))
        .collect();
    format!("[\n{}\n]\n", entries.join(",\n"))
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
            "{figure:<26} {transport:<9} {peergraph:>14} {baseline:>14} {unit:<14} {ratio:>6} \
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

/// `1234567.8` as `1,234,568`; numbers below 100 keep one decimal.
fn group_digits(value: f64) -> String {
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
    }

    #[test]
    fn missing_benches_are_not_measured() {
        let measurements = HashMap::from([(
            "core/handshake".to_owned(),
            Measurement {
                nanos: 500_000.0,
                throughput: Some(Throughput::Elements(1000)),
            },
        )]);
        let rows: Vec<Row<'_>> = FIGURES
            .iter()
            .map(|figure| evaluate(figure, &measurements))
            .collect();
        let handshake = &rows[0];
        assert_eq!(handshake.peergraph, Some(2_000_000.0));
        assert_eq!(handshake.ratio, Some(2.0));
        let tcp_index = rows
            .iter()
            .position(|row| row.figure.transport == "tcp")
            .expect("a tcp figure is listed");
        let tcp = &rows[tcp_index];
        assert_eq!((tcp.peergraph, tcp.ratio), (None, None));
        assert!(table(&rows).contains("not measured"));
        let summary: Value =
            serde_json::from_str(&summary_json(&rows)).expect("the summary is valid JSON");
        assert_eq!(summary[0]["figure"], "core/handshake");
        assert_eq!(summary[0]["ratio"], 2.0);
        assert_eq!(summary[tcp_index]["figure"], tcp.figure.name);
        assert_eq!(summary[tcp_index]["peergraph"], Value::Null);
    }

    #[test]
    fn figure_names_are_unique() {
        let mut names: Vec<&str> = FIGURES.iter().map(|figure| figure.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FIGURES.len());
    }
}

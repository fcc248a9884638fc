//! The record store's figures (design/0007), on real nodes over loopback TCP in one process
//! (the two-worker runtime of every transport figure):
//!
//! - adds a second on one node, records kept in memory, then in a data directory (each add one
//!   durable redb commit), and the database's size per record after those adds;
//! - records a second across a line of three nodes (a–b–c): `a` adds N records, timed until `c`
//!   holds all N;
//! - a new node synchronizing a graph of 100,000 records (`--quick`: 20,000) from a neighbor:
//!   the time from `connect` until it is `SYNCHRONIZED` and holds every record, and the bytes
//!   of records and of reconciliation frames per record synced; then, after it left and 100
//!   records were added, the reconciliation bytes of its second synchronization.
//!
//! Writes the figures as JSON to `--out FILE` for `cargo xtask bench`; databases go under
//! `--dir DIR`, which is emptied first and removed at the end. `--only add|flood|sync` runs one
//! of the three (to profile it).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use peergraph::{
    Attribute, Config, ConnectionKinds, ConnectionState, GraphConfig, GraphData, GraphHandle,
    GraphStatus, PEER_GRAPH_VERSION, PeerGraph, RecordContent, RecordStats, TransportKind,
};
use peergraph_benches::loopback::runtime;

/// The graph every node joins.
const GRAPH: &str = "records-bench";
/// The type of every record.
const RECORD_TYPE: [u8; 16] = *b"peergraph/record";
/// Bytes of each record's data.
const DATA_BYTES: usize = 100;
/// Records added while the new node was away, before it synchronizes again.
const RESYNC_ADDED: usize = 100;
/// The records a graph holds besides the application's: the properties record that each
/// `create_graph` writes.
const PROPERTIES_RECORDS: usize = 1;
/// How long any one wait may take before the run fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(600);

/// How many records each measurement uses.
struct Sizes {
    add_memory: usize,
    add_disk: usize,
    flood: usize,
    sync: usize,
}

const FULL: Sizes = Sizes {
    add_memory: 20_000,
    add_disk: 5_000,
    flood: 20_000,
    sync: 100_000,
};

const QUICK: Sizes = Sizes {
    add_memory: 5_000,
    add_disk: 1_000,
    flood: 5_000,
    sync: 20_000,
};

struct Options {
    out: PathBuf,
    dir: PathBuf,
    quick: bool,
    /// Only this measurement (`add`, `flood` or `sync`), e.g. to profile it.
    only: Option<String>,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|arg| arg == flag)
            .and_then(|index| args.get(index + 1))
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("{flag} is required"))
    };
    Options {
        out: value("--out"),
        dir: value("--dir"),
        quick: args.iter().any(|arg| arg == "--quick"),
        only: args
            .iter()
            .position(|arg| arg == "--only")
            .and_then(|index| args.get(index + 1))
            .cloned(),
    }
}

/// A record of `DATA_BYTES` bytes of data and one attribute, alive for a day.
fn content(index: usize) -> RecordContent {
    let mut data = format!("record {index} ").into_bytes();
    data.resize(DATA_BYTES, b'.');
    RecordContent {
        record_type: RECORD_TYPE,
        attributes: vec![Attribute::integer("index", index as i64)],
        data: Bytes::from(data),
        expires_at: SystemTime::now() + Duration::from_secs(24 * 3600),
    }
}

/// A started node over TCP, keeping records in `data_dir` if given, listening on loopback if
/// `listen`.
async fn node(data_dir: Option<&Path>, listen: bool) -> PeerGraph {
    let mut config = Config::new(TransportKind::Tcp).single_source();
    if let Some(dir) = data_dir {
        config = config.with_data_dir(dir);
    }
    let node = PeerGraph::new(config).expect("a node builds");
    node.startup(PEER_GRAPH_VERSION).expect("version 1.0");
    if listen {
        node.listen("127.0.0.1:0".parse().expect("a socket address"))
            .await
            .expect("loopback binds");
    }
    node
}

fn stats(node: &PeerGraph, graph: GraphHandle) -> RecordStats {
    node.record_stats(graph).expect("the graph is open")
}

/// Polls `done` every millisecond until it holds; panics naming `what` after [`PATIENCE`].
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Whether `node` has an established neighbor connection in `graph`.
fn has_neighbor(node: &PeerGraph, graph: GraphHandle) -> bool {
    node.enum_connections(graph, ConnectionKinds::NEIGHBOR)
        .is_ok_and(|links| {
            links
                .iter()
                .any(|link| link.state == ConnectionState::Connected)
        })
}

/// `from` dials `to` as a neighbor and waits for the link.
async fn neighbors(from: (&PeerGraph, GraphHandle), to: &PeerGraph, to_peer: &str) {
    let locator = to.locator(to_peer).expect("the node listens");
    from.0
        .connect(from.1, None, locator.address)
        .expect("a neighbor connection starts");
    until("the neighbor link is up", || has_neighbor(from.0, from.1)).await;
}

/// Adds `count` records to `graph`; returns the adds per second.
fn add_records(node: &PeerGraph, graph: GraphHandle, count: usize) -> f64 {
    let started = Instant::now();
    for index in 0..count {
        node.add_record(graph, content(index))
            .expect("the record is added");
    }
    count as f64 / started.elapsed().as_secs_f64()
}

/// Adds a second with records in memory, then on disk, and the database's bytes per record.
async fn add_rates(sizes: &Sizes, dir: &Path, report: &mut Vec<(String, f64)>) {
    let memory = node(None, false).await;
    let graph = memory
        .create_graph(GraphConfig::new(GRAPH, "alone"))
        .expect("a graph");
    let rate = add_records(&memory, graph, sizes.add_memory);
    println!("records: {} adds in memory: {rate:.0}/s", sizes.add_memory);
    report.push(("add_rate_memory".into(), rate));
    report.push(("add_memory_count".into(), sizes.add_memory as f64));
    drop(memory);

    let disk = node(Some(&dir.join("add")), false).await;
    let graph = disk
        .create_graph(GraphConfig::new(GRAPH, "alone"))
        .expect("a graph with a database");
    let rate = add_records(&disk, graph, sizes.add_disk);
    let path = disk
        .database_path(GRAPH, "alone")
        .expect("the node has a data directory");
    let held = stats(&disk, graph).held;
    assert_eq!(held, sizes.add_disk + PROPERTIES_RECORDS);
    let size = std::fs::metadata(&path).expect("the database exists").len();
    let per_record = size as f64 / held as f64;
    println!(
        "records: {} adds on disk: {rate:.0}/s; {} holds them in {size} bytes ({per_record:.0} \
         per record)",
        sizes.add_disk,
        path.display()
    );
    report.push(("add_rate_disk".into(), rate));
    report.push(("add_disk_count".into(), sizes.add_disk as f64));
    report.push(("db_bytes".into(), size as f64));
    report.push(("db_bytes_per_record".into(), per_record));
}

/// Records a second from `a` to `c` across `a`–`b`–`c`.
async fn flood_rate(sizes: &Sizes, report: &mut Vec<(String, f64)>) {
    let a = node(None, true).await;
    let b = node(None, true).await;
    let c = node(None, true).await;
    let graph_a = a.create_graph(GraphConfig::new(GRAPH, "a")).expect("a");
    let graph_b = b.create_graph(GraphConfig::new(GRAPH, "b")).expect("b");
    let graph_c = c.create_graph(GraphConfig::new(GRAPH, "c")).expect("c");
    neighbors((&a, graph_a), &b, "b").await;
    neighbors((&c, graph_c), &b, "b").await;
    let count = sizes.flood;
    let started = Instant::now();
    for index in 0..count {
        a.add_record(graph_a, content(index)).expect("added");
        if index % 256 == 255 {
            // Let the links' tasks run between bursts, as an application's other work would.
            tokio::task::yield_now().await;
        }
    }
    let added = started.elapsed();
    // Each node created the graph, so each holds the three nodes' properties records too.
    let every = count + 3 * PROPERTIES_RECORDS;
    until("c holds every record", || stats(&c, graph_c).held >= every).await;
    let took = started.elapsed();
    let rate = count as f64 / took.as_secs_f64();
    println!(
        "records: {count} records from a to c in {:.3} s ({rate:.0}/s; the adds took {:.3} s)",
        took.as_secs_f64(),
        added.as_secs_f64()
    );
    assert_eq!(stats(&b, graph_b).held, every);
    report.push(("flood_rate".into(), rate));
    report.push(("flood_count".into(), count as f64));
}

/// A new node synchronizes `sizes.sync` records, leaves, and synchronizes again after
/// [`RESYNC_ADDED`] more were added.
async fn sync(sizes: &Sizes, dir: &Path, report: &mut Vec<(String, f64)>) {
    let count = sizes.sync;
    // What b holds once synchronized: a's records and the properties record a's
    // `create_graph` wrote (b opens the graph, so writes none).
    let every = count + PROPERTIES_RECORDS;
    let a = node(None, true).await;
    let graph_a = a.create_graph(GraphConfig::new(GRAPH, "a")).expect("a");
    let started = Instant::now();
    add_records(&a, graph_a, count);
    println!(
        "records: {count} records added on a in {:.1} s (not timed)",
        started.elapsed().as_secs_f64()
    );
    let before_a = stats(&a, graph_a);

    // b keeps records in a data directory, so that it still holds them after it leaves.
    let b = node(Some(&dir.join("sync")), false).await;
    let (graph_b, data) = b.open_graph(GraphConfig::new(GRAPH, "b")).expect("b opens");
    assert_eq!(data, GraphData::Created);
    let locator = a.locator("a").expect("a listens");
    let synchronized = |b: &PeerGraph, graph: GraphHandle| {
        b.node_info(graph)
            .is_ok_and(|info| info.status.contains(GraphStatus::SYNCHRONIZED))
    };
    let started = Instant::now();
    b.connect(graph_b, None, locator.address).expect("connect");
    let mut synchronized_at = None;
    until("b is synchronized and holds every record", || {
        if synchronized_at.is_none() && synchronized(&b, graph_b) {
            synchronized_at = Some(started.elapsed());
        }
        synchronized_at.is_some() && stats(&b, graph_b).held >= every
    })
    .await;
    let took = started.elapsed();
    let after_a = stats(&a, graph_a);
    let at_b = stats(&b, graph_b);
    assert_eq!(at_b.held, every);
    let reconcile_a = after_a.reconcile_bytes - before_a.reconcile_bytes;
    let record_bytes = at_b.bytes as f64;
    let per_record = (record_bytes + at_b.reconcile_bytes as f64) / count as f64;
    let reconcile_per_record = at_b.reconcile_bytes as f64 / count as f64;
    println!(
        "records: b synchronized {count} records in {:.3} s (SYNCHRONIZED after {:.3} s): \
         {record_bytes} bytes of records, {} of reconciliation in {} frames as b counted them \
         ({reconcile_a} as a did), a sent {} records",
        took.as_secs_f64(),
        synchronized_at.unwrap_or(took).as_secs_f64(),
        at_b.reconcile_bytes,
        at_b.reconcile_frames,
        after_a.sent - before_a.sent,
    );
    report.push(("sync_seconds".into(), took.as_secs_f64()));
    // Named by its size too, so a quick run's figure is never read as the full run's.
    report.push((
        format!("sync_{}k_seconds", count / 1000),
        took.as_secs_f64(),
    ));
    report.push((
        "sync_synchronized_seconds".into(),
        synchronized_at.unwrap_or(took).as_secs_f64(),
    ));
    report.push(("sync_count".into(), count as f64));
    report.push(("sync_record_bytes".into(), record_bytes));
    report.push(("sync_reconcile_bytes".into(), at_b.reconcile_bytes as f64));
    report.push(("sync_reconcile_bytes_a".into(), reconcile_a as f64));
    report.push(("sync_reconcile_frames".into(), at_b.reconcile_frames as f64));
    report.push((
        "sync_records_sent".into(),
        (after_a.sent - before_a.sent) as f64,
    ));
    report.push(("sync_bytes_per_record".into(), per_record));
    report.push(("reconcile_bytes_per_record".into(), reconcile_per_record));

    // Closing the graph writes what b has not saved yet; then its database is measured.
    let path = b.database_path(GRAPH, "b").expect("b has a data directory");
    b.close_graph(graph_b).expect("b leaves");
    let size = std::fs::metadata(&path).expect("b's database exists").len();
    report.push((
        "db_bytes_per_record_synced".into(),
        size as f64 / count as f64,
    ));
    println!("records: b's database after the sync: {size} bytes");

    // b has left; a adds records; b comes back with what it had.
    until("a sees b leave", || !has_neighbor(&a, graph_a)).await;
    for index in 0..RESYNC_ADDED {
        a.add_record(graph_a, content(count + index))
            .expect("added");
    }
    let before_a = stats(&a, graph_a);
    let (graph_b, data) = b.open_graph(GraphConfig::new(GRAPH, "b")).expect("reopen");
    assert_eq!(data, GraphData::Opened);
    assert!(
        synchronized(&b, graph_b),
        "a synchronized database reopens ready"
    );
    let before_b = stats(&b, graph_b);
    assert_eq!(before_b.held, every);
    let started = Instant::now();
    b.connect(graph_b, None, locator.address).expect("connect");
    until("b holds the records added while it was away", || {
        stats(&b, graph_b).held >= every + RESYNC_ADDED
    })
    .await;
    let took = started.elapsed();
    // The reconciliation may have a last frame or two under way: wait until neither side
    // counts another for 300 ms.
    let mut last = (0, 0);
    let mut quiet_since = Instant::now();
    until("the reconciliation ends", || {
        let now = (
            stats(&a, graph_a).reconcile_frames,
            stats(&b, graph_b).reconcile_frames,
        );
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
        quiet_since.elapsed() > Duration::from_millis(300)
    })
    .await;
    let after_a = stats(&a, graph_a);
    let after_b = stats(&b, graph_b);
    let resync_b = after_b.reconcile_bytes - before_b.reconcile_bytes;
    let resync_a = after_a.reconcile_bytes - before_a.reconcile_bytes;
    let sent = after_a.sent - before_a.sent + after_b.sent - before_b.sent;
    println!(
        "records: b came back and took {RESYNC_ADDED} new records in {:.3} s: {resync_b} bytes \
         of reconciliation in {} frames as b counted them ({resync_a} as a did), {sent} records \
         sent",
        took.as_secs_f64(),
        after_b.reconcile_frames - before_b.reconcile_frames,
    );
    report.push(("resync_bytes".into(), resync_b as f64));
    report.push(("resync_bytes_a".into(), resync_a as f64));
    // What sending every record again would have cost instead.
    report.push(("resync_all_record_bytes".into(), after_b.bytes as f64));
    report.push(("resync_records_sent".into(), sent as f64));
    report.push(("resync_seconds".into(), took.as_secs_f64()));
}

fn main() {
    let options = options();
    let sizes = if options.quick { &QUICK } else { &FULL };
    if options.dir.exists() {
        std::fs::remove_dir_all(&options.dir).expect("the scratch directory can be emptied");
    }
    std::fs::create_dir_all(&options.dir).expect("the scratch directory can be made");
    let runtime = runtime();
    let dir = options.dir.clone();
    let only = options.only.clone();
    let runs = move |name: &str| only.as_deref().is_none_or(|only| only == name);
    let report = runtime
        .block_on(runtime.spawn(async move {
            let mut report = Vec::new();
            if runs("add") {
                add_rates(sizes, &dir, &mut report).await;
            }
            if runs("flood") {
                flood_rate(sizes, &mut report).await;
            }
            if runs("sync") {
                sync(sizes, &dir, &mut report).await;
            }
            report
        }))
        .expect("the measurements do not panic");
    drop(runtime);
    let _ = std::fs::remove_dir_all(&options.dir);
    let fields: Vec<String> = report
        .iter()
        .map(|(key, value)| format!("\"{key}\": {value}"))
        .collect();
    let json = format!("{{{}}}\n", fields.join(", "));
    print!("records: {json}");
    std::fs::write(&options.out, json).expect("the result file is writable");
}

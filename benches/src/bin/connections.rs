//! Opens many direct connections, or many raw ones, to a target in a child process, and
//! reports how long opening took and how much resident memory the open connections hold.
//!
//! ```text
//! connections --transport tcp|quic --kind peergraph|raw --count N --out FILE.json
//! ```
//!
//! The measuring process is fresh for every measurement, so no allocator state of an earlier
//! one is counted. The target (the accepting end) runs in a child process, the same binary
//! with `serve`: 10,000 TCP connections with both ends in one process would need 20,000
//! descriptors, which is exactly this machine's hard limit with nothing to spare. Memory is the
//! growth of both processes' resident sets, so it covers both ends, for peergraph and raw
//! alike. Each process runs the bench layout's runtime (two workers).
//!
//! One connection is opened before the first reading (so QUIC's shared connection, endpoint
//! and first-use allocations are not counted), then `count` more, at most [`WINDOW`] opening at
//! once. Raw TCP connections are TLS streams; raw QUIC ones are bidirectional streams, 1,024 to
//! a connection (peergraph's direct connections to one node share connections, 256 to one). Every raw connection echoes
//! one frame before it counts as open, then idles with a read pending on both ends.

#![allow(missing_docs)] // a binary: the module doc above is its documentation

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use peergraph::TransportKind;
use peergraph_benches::loopback::{Progress, resident_bytes, runtime};
use peergraph_benches::nodes::{Target, node_config, open_direct_connections, target};
use peergraph_benches::raw::{MAX_STREAMS_PER_CONNECTION, Quic, Serve, Tls, echo_first_byte};
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;

/// Opens in progress at once.
const WINDOW: usize = 128;
/// Pause before each memory reading, so tasks and buffers of the last opens have settled.
const SETTLE: Duration = Duration::from_millis(500);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Peergraph,
    Raw,
}

struct Options {
    serve: bool,
    transport: TransportKind,
    kind: Kind,
    count: usize,
    out: Option<String>,
}

fn options() -> Options {
    let mut options = Options {
        serve: false,
        transport: TransportKind::Tcp,
        kind: Kind::Peergraph,
        count: 1000,
        out: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&arg));
        match arg.as_str() {
            "serve" => options.serve = true,
            "--transport" => {
                options.transport = value().parse().unwrap_or_else(|_| usage("--transport"));
            }
            "--kind" => {
                options.kind = match value().as_str() {
                    "peergraph" => Kind::Peergraph,
                    "raw" => Kind::Raw,
                    _ => usage("--kind"),
                }
            }
            "--count" => options.count = value().parse().unwrap_or_else(|_| usage("--count")),
            "--out" => options.out = Some(value()),
            _ => usage(&arg),
        }
    }
    options
}

fn usage(bad: &str) -> ! {
    eprintln!(
        "bad argument {bad}\nusage: connections --transport tcp|quic --kind peergraph|raw \
         --count N [--out FILE]"
    );
    std::process::exit(2)
}

fn main() {
    let open_files = raise_open_file_limit();
    let options = options();
    if !options.serve {
        eprintln!("connections: open-file limit {open_files}");
    }
    if options.serve {
        serve(&options);
    } else {
        measure(&options);
    }
}

/// Raises this process's open-file limit as far as the machine allows: to the kernel's
/// `fs.nr_open` where the process may raise its hard limit (root), else to the hard limit.
/// 10,000 TCP connections need more descriptors than a usual soft limit. Returns the limit in
/// force; the target inherits it.
fn raise_open_file_limit() -> u64 {
    let ceiling = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok());
    if let Some(ceiling) = ceiling {
        if rlimit::setrlimit(rlimit::Resource::NOFILE, ceiling, ceiling).is_ok() {
            return ceiling;
        }
    }
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            eprintln!("could not raise the open-file limit: {error}");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(0, |(soft, _)| soft)
        }
    }
}

/// The child: a target that prints where to dial it, then serves until its stdin closes.
fn serve(options: &Options) {
    let runtime = runtime();
    let (keep, line) = runtime.block_on(async {
        match options.kind {
            Kind::Peergraph => {
                let config = node_config(options.count + 16, 2 * WINDOW);
                let (node, locator) = target(
                    options.transport,
                    config,
                    Target::Drain {
                        closed: Arc::default(),
                    },
                )
                .await;
                (Box::new(node) as Box<dyn Send>, locator.to_string())
            }
            Kind::Raw if options.transport == TransportKind::Tcp => {
                let tls = Tls::default();
                let addr = tls.serve(Serve::EchoFrames).await;
                (Box::new(tls) as Box<dyn Send>, addr.to_string())
            }
            Kind::Raw => {
                let quic = Quic::new();
                let addr = quic.serve(Serve::EchoFrames);
                (Box::new(quic) as Box<dyn Send>, addr.to_string())
            }
        }
    });
    println!("{line}");
    // Served by the runtime's workers until the parent closes our stdin (or dies).
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    runtime.block_on(async move { drop(keep) });
}

struct TargetProcess {
    child: Child,
    line: String,
}

fn start_target(options: &Options) -> TargetProcess {
    let exe = std::env::current_exe().expect("the running binary has a path");
    let kind = match options.kind {
        Kind::Peergraph => "peergraph",
        Kind::Raw => "raw",
    };
    let mut child = Command::new(exe)
        .args(["serve", "--transport", &options.transport.to_string()])
        .args(["--kind", kind, "--count", &options.count.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the target process starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the target prints where it listens");
    TargetProcess {
        child,
        line: line.trim().to_owned(),
    }
}

fn measure(options: &Options) {
    let mut target = start_target(options);
    let runtime = runtime();
    let pid = target.child.id();
    let line = target.line.clone();
    let (transport, kind, count) = (options.transport, options.kind, options.count);
    let (before, after, opening) = runtime
        .block_on(runtime.spawn(async move {
            let reading = move || resident_bytes(None) + resident_bytes(Some(pid));
            match kind {
                Kind::Peergraph => {
                    open_direct_connections(transport, &line, count, WINDOW, SETTLE, reading).await
                }
                Kind::Raw => open_raw(transport, &line, count, reading).await,
            }
        }))
        .expect("the measurement does not panic");
    let held = after.saturating_sub(before);
    let json = format!(
        "{{\"transport\": \"{transport}\", \"kind\": \"{}\", \"count\": {count}, \
         \"open_seconds\": {}, \"connections_per_second\": {}, \"rss_before\": {before}, \
         \"rss_after\": {after}, \"rss_held_mib\": {}, \"bytes_per_connection\": {}}}\n",
        if kind == Kind::Peergraph {
            "peergraph"
        } else {
            "raw"
        },
        opening.as_secs_f64(),
        count as f64 / opening.as_secs_f64(),
        held as f64 / f64::from(1 << 20),
        held as f64 / count as f64,
    );
    print!("{json}");
    if let Some(out) = &options.out {
        std::fs::write(out, &json).expect("the result file can be written");
    }
    // Closing its stdin ends the target; kill it in case it hangs.
    drop(target.child.stdin.take());
    let _ = target.child.kill();
    let _ = target.child.wait();
}

/// Raw: one warm-up connection (QUIC: the connection every stream shares), a reading, `count`
/// opens, a reading.
async fn open_raw(
    transport: TransportKind,
    line: &str,
    count: usize,
    reading: impl Fn() -> u64,
) -> (u64, u64, Duration) {
    let addr: SocketAddr = line.parse().expect("the target prints its address");
    let opened = Arc::new(Progress::default());
    let window = Arc::new(Semaphore::new(WINDOW));
    let mut tasks = tokio::task::JoinSet::new();
    let (before, start, endpoint) = match transport {
        TransportKind::Tcp => {
            let tls = Arc::new(Tls::default());
            let open = move |tls: Arc<Tls>, window: Arc<Semaphore>, opened: Arc<Progress>| async move {
                let permit = window.acquire().await.expect("the window stays open");
                let mut stream = tls.connect(addr).await;
                echo_first_byte(&mut stream).await;
                drop(permit);
                opened.add(1);
                let _ = stream.read(&mut [0u8; 64]).await;
            };
            tasks.spawn(open(tls.clone(), window.clone(), opened.clone()));
            opened.wait_for(1).await;
            tokio::time::sleep(SETTLE).await;
            let before = reading();
            let start = Instant::now();
            for _ in 0..count {
                tasks.spawn(open(tls.clone(), window.clone(), opened.clone()));
            }
            (before, start, None)
        }
        TransportKind::Quic => {
            let quic = Quic::new();
            let mut connection = quic.connect(addr).await;
            let open = move |connection: quinn::Connection,
                             window: Arc<Semaphore>,
                             opened: Arc<Progress>| async move {
                let permit = window.acquire().await.expect("the window stays open");
                let (send, recv) = connection.open_bi().await.expect("a stream opens");
                let mut stream = tokio::io::join(recv, send);
                echo_first_byte(&mut stream).await;
                drop(permit);
                opened.add(1);
                let _ = stream.read(&mut [0u8; 64]).await;
            };
            tasks.spawn(open(connection.clone(), window.clone(), opened.clone()));
            opened.wait_for(1).await;
            tokio::time::sleep(SETTLE).await;
            let before = reading();
            let start = Instant::now();
            for index in 1..=count {
                // A connection carries at most MAX_STREAMS_PER_CONNECTION streams at once;
                // the next ones go on a new connection to the same target.
                if index % MAX_STREAMS_PER_CONNECTION as usize == 0 {
                    connection = quic.connect(addr).await;
                }
                tasks.spawn(open(connection.clone(), window.clone(), opened.clone()));
            }
            (before, start, Some(quic))
        }
    };
    opened.wait_for(count as u64 + 1).await;
    let opening = start.elapsed();
    tokio::time::sleep(SETTLE).await;
    let after = reading();
    tasks.abort_all();
    // The client endpoint lives until the streams are done with.
    drop(endpoint);
    (before, after, opening)
}

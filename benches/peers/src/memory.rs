//! Memory per idle connection and opening many connections, as
//! `benches/src/bin/connections.rs` measures them: a fresh process per measurement, the
//! accepting end in a child process (this binary, `serve`) with the same two-worker runtime,
//! one connection opened before the first reading, then `count` more with at most [`WINDOW`]
//! opening at once, and the resident sets of both processes read again 0.5 s after the last.
//!
//! What one connection is, per transport (as in our figures):
//! - TCP: a transport connection of its own. peergraph: a direct connection. Raw: a TLS
//!   stream that echoed one frame. rust-libp2p: a connection (TCP + noise + yamux) and one
//!   stream that echoed one frame; `libp2p_stream` puts each stream on a connection to the
//!   peer of its choosing, so the streams are spread over the connections rather than one each.
//! - QUIC: a stream on the one connection to the target. peergraph: a direct connection to
//!   one node. Raw quinn, rust-libp2p over QUIC and iroh: a bidirectional stream that echoed
//!   one frame.
//!
//! Every connection then idles with a read pending on both ends.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use peergraph_benches::loopback::{Progress, read_frame, resident_bytes, runtime};
use peergraph_benches::nodes::{Target, node_config, open_direct_connections, target};
use peergraph_benches::raw::{Serve, echo_first_byte};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

use crate::figures::Stack;
use crate::stacks::{Addr, Client, Kind, Servers, Stream};

/// Opens in progress at once.
const WINDOW: usize = 128;
/// Pause before each memory reading, so tasks and buffers of the last opens have settled.
const SETTLE: Duration = Duration::from_millis(500);

/// What one memory measurement found.
pub struct Held {
    /// Seconds to open `count` connections.
    pub open_seconds: f64,
    /// Resident bytes both processes grew by, per connection.
    pub bytes_per_connection: f64,
    /// Resident MiB both processes grew by.
    pub held_mib: f64,
}

/// Raises this process's open-file limit to its hard limit (the child inherits it): 10,000
/// TCP connections need more descriptors than a usual soft limit.
pub fn raise_open_file_limit() {
    if let Err(error) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("could not raise the open-file limit: {error}");
    }
}

/// The child: a server of `stack` that prints where to dial it, then serves until its stdin
/// closes.
pub fn serve(stack: Stack, count: usize) {
    let runtime = runtime();
    let (keep, line) = runtime.block_on(async {
        match stack {
            Stack::Peergraph(kind) => {
                let config = node_config(count + 16, 2 * WINDOW);
                let drain = Target::Drain {
                    closed: Arc::default(),
                };
                let (node, locator) = target(kind, config, drain).await;
                (Box::new(node) as Box<dyn Send>, locator.to_string())
            }
            Stack::Stream(kind) => {
                let servers = Servers::start(kind, 1, Serve::EchoFrames).await;
                let line = servers.addrs[0].to_line();
                (Box::new(servers) as Box<dyn Send>, line)
            }
        }
    });
    println!("{line}");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    runtime.block_on(async move { drop(keep) });
}

/// Opens `count` connections of `stack` to a child process serving them.
pub fn measure(stack: Stack, stack_name: &str, count: usize) -> Held {
    let exe = std::env::current_exe().expect("the running binary has a path");
    let mut child = Command::new(exe)
        .args([
            "serve",
            "--stack",
            stack_name,
            "--count",
            &count.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the server process starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the server prints where it listens");
    let line = line.trim().to_owned();
    let pid = child.id();
    let runtime = runtime();
    let (before, after, opening) = runtime
        .block_on(runtime.spawn(async move {
            let reading = move || resident_bytes(None) + resident_bytes(Some(pid));
            match stack {
                Stack::Peergraph(kind) => {
                    open_direct_connections(kind, &line, count, WINDOW, SETTLE, reading).await
                }
                Stack::Stream(kind) => open_stream(kind, &line, count, reading).await,
            }
        }))
        .expect("the measurement does not panic");
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
    let held = after.saturating_sub(before) as f64;
    Held {
        open_seconds: opening.as_secs_f64(),
        bytes_per_connection: held / count as f64,
        held_mib: held / f64::from(1 << 20),
    }
}

/// A byte-stream stack: one warm-up connection and stream (QUIC: the connection every stream
/// then shares), a reading, `count` opens, a reading.
async fn open_stream(
    kind: Kind,
    line: &str,
    count: usize,
    reading: impl Fn() -> u64,
) -> (u64, u64, Duration) {
    let addr = Arc::new(Addr::from_line(kind, line));
    let client = Arc::new(Client::new(kind).await);
    let mut first = client.connect(&addr).await;
    echo_first_byte(&mut first.stream).await;
    let shared =
        matches!(kind, Kind::RawQuic | Kind::Libp2pQuic | Kind::Iroh).then(|| first.handle.clone());
    let opened = Arc::new(Progress::default());
    let retried = Arc::new(Progress::default());
    let window = Arc::new(Semaphore::new(WINDOW));
    let mut tasks = tokio::task::JoinSet::new();
    tokio::time::sleep(SETTLE).await;
    let before = reading();
    let start = Instant::now();
    for _ in 0..count {
        let (client, addr, shared) = (client.clone(), addr.clone(), shared.clone());
        let (window, opened, retried) = (window.clone(), opened.clone(), retried.clone());
        tasks.spawn(async move {
            let permit = window.acquire().await.expect("the window stays open");
            let (mut stream, handle) = match &shared {
                Some(handle) => (client.open_stream(handle, &addr).await, handle.clone()),
                None => {
                    let conn = client.connect(&addr).await;
                    (conn.stream, conn.handle)
                }
            };
            // libp2p_stream hands inbound streams to the application through a queue of one
            // and drops those that find it full; a dropped stream is opened again.
            while !try_echo(&mut stream).await {
                retried.add(1);
                stream = client.open_stream(&handle, &addr).await;
            }
            drop(permit);
            opened.add(1);
            let _ = stream.read(&mut [0u8; 64]).await;
        });
    }
    opened.wait_for(count as u64).await;
    let opening = start.elapsed();
    tokio::time::sleep(SETTLE).await;
    let after = reading();
    tasks.abort_all();
    drop(first);
    if retried.total() > 0 {
        eprintln!(
            "peers: {} streams dropped by the server and opened again",
            retried.total()
        );
    }
    (before, after, opening)
}

/// [`echo_first_byte`] that reports a stream the other end dropped instead of panicking.
async fn try_echo(stream: &mut Stream) -> bool {
    if stream.write_all(&[0, 0, 0, 1, 1]).await.is_err() || stream.flush().await.is_err() {
        return false;
    }
    let mut buffer = Vec::new();
    read_frame(stream, &mut buffer).await && buffer == [1]
}

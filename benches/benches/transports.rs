//! peergraph over real transports beside the raw transport doing the same work, in the same
//! run and the same runtime layout ([`LAYOUT`]): every member builds a fresh runtime with two
//! workers, and the measuring code runs as a task on those workers.
//!
//! Groups, each under `tcp/` (rustls over tokio TCP) and `quic/` (quinn):
//! - `open_latency`: `open_direct_connection` until the dialer takes `Connected`, vs raw
//!   connect + handshake + a 1-byte frame echoed back (the server has then verified the client
//!   too). `tcp/open_latency/raw_handshake` stops at the client's handshake completion.
//!   Every QUIC open is a fresh QUIC connection: the dialer rotates over [`QUIC_TARGETS`]
//!   target nodes, so the connection of a closed open is gone before its target is dialed
//!   again; the raw client rotates over as many server endpoints, each with its own identity,
//!   so neither side can use TLS resumption where the other could not.
//! - `quic/open_latency_reused`: the same with another direct connection to the target kept
//!   open, so each open is a new stream on the cached connection, vs raw `open_bi` + echo.
//! - `throughput`: 1 MiB `send_data` messages until the receiver has them all, vs 1 MiB writes
//!   on a raw stream whose reader counts bytes.
//! - `small_messages`: 64-byte messages one way, vs raw 4-byte-length + 64-byte frames through
//!   a 64 KiB write buffer flushed at the end of each batch. `peergraph` sends them with
//!   `send_data_batch`, 1,024 (64 KiB) per call; `peergraph_per_message` with one `send_data`
//!   call each. The target takes its events with `next_batch` in both.
//! - `round_trip`: a 64-byte message echoed by the target, vs a raw frame echoed.
//! - `round_trip_current_thread`: the same on a current-thread runtime (both members), so no
//!   wake-up crosses threads; it shows what the round trip costs in work rather than in
//!   scheduling.

// criterion_group! and criterion_main! generate undocumented public items.
#![allow(missing_docs)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use peergraph::{PeerGraph, PeerLocator, TransportKind};
use peergraph_benches::loopback::{
    LAYOUT, Progress, current_thread_runtime, on_workers, read_frame, runtime, write_frame,
};
use peergraph_benches::nodes::{BenchNode, Target, is_connected, node_config, target};
use peergraph_benches::raw::{Quic, Serve, Tls, echo_first_byte};
use tokio::io::{AsyncWriteExt, BufStream, BufWriter};
use tokio::runtime::Runtime;

/// Target nodes the fresh QUIC open rotates over.
const QUIC_TARGETS: usize = 8;
/// Bytes per bulk message or write.
const BULK: usize = 1 << 20;
/// Bytes per small message.
const SMALL: usize = 64;
/// Buffer of the raw small-message writer, as large as peergraph's frame batch.
const RAW_BATCH: usize = 64 * 1024;
/// Small messages per `send_data_batch` call: as many payload bytes as the raw writer buffers.
const SEND_BATCH: usize = RAW_BATCH / SMALL;

/// Benches `name` in `group`: builds the state with `setup` on a fresh runtime made by `build`
/// ([`runtime`] for the [`LAYOUT`]), then times `run(state, iterations)` on its workers, then
/// drops the state and the runtime.
fn measure<S, Setup, SetupFut, Run, RunFut>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    build: fn() -> Runtime,
    setup: Setup,
    run: Run,
) where
    S: Send + 'static,
    Setup: FnOnce() -> SetupFut,
    SetupFut: Future<Output = S>,
    Run: Fn(S, u64) -> RunFut,
    RunFut: Future<Output = (S, Duration)> + Send + 'static,
{
    // Criterion calls the closure once for the warm-up and once per sample: build the state
    // on the first call only.
    let mut setup = Some(setup);
    let mut fixture: Option<(Runtime, Option<S>)> = None;
    group.bench_function(name, |b| {
        let (runtime, state) = fixture.get_or_insert_with(|| {
            let runtime = build();
            let setup = setup.take().expect("the state is built once");
            let state = runtime.block_on(setup());
            (runtime, Some(state))
        });
        b.iter_custom(|iterations| on_workers(runtime, state, |s| run(s, iterations)));
    });
    if let Some((runtime, state)) = fixture {
        runtime.block_on(async move { drop(state) });
    }
}

fn kind_name(kind: TransportKind) -> &'static str {
    match kind {
        TransportKind::Tcp => "tcp",
        TransportKind::Quic => "quic",
    }
}

/// A dialer node and `targets` target nodes behaving as `behaviour`.
async fn nodes(
    kind: TransportKind,
    targets: usize,
    behaviour: Target,
) -> (BenchNode, Vec<(PeerGraph, PeerLocator)>) {
    let dialer = BenchNode::new(kind, "dialer", node_config(1024, 256)).await;
    let mut nodes = Vec::with_capacity(targets);
    for _ in 0..targets {
        nodes.push(target(kind, node_config(1024, 256), behaviour.clone()).await);
    }
    (dialer, nodes)
}

/// A dialer connected to one target behaving as `behaviour`.
async fn connected(
    kind: TransportKind,
    behaviour: Target,
) -> (BenchNode, PeerGraph, peergraph::ConnectionId) {
    let (mut dialer, mut targets) = nodes(kind, 1, behaviour).await;
    let (target, locator) = targets.pop().expect("one target");
    let id = dialer.connect(&locator).await;
    (dialer, target, id)
}

/// Closes `id` and waits, untimed, until both ends have finished with it: the dialer has its
/// `Disconnected`, the target has taken its own, and both links are closed. So the next open
/// is timed on a quiet machine, not beside the last one's close (the raw members wait the same
/// way for their server to see the stream end).
async fn quiesce_close(
    dialer: &mut BenchNode,
    id: peergraph::ConnectionId,
    target: &PeerGraph,
    closed: &Progress,
) {
    let goal = closed.total() + 1;
    dialer.disconnect(id).await;
    closed.wait_for(goal).await;
    dialer.node.finish_closing().await;
    target.finish_closing().await;
}

fn open_latency(c: &mut Criterion, kind: TransportKind) {
    let mut group = c.benchmark_group(format!("{}/open_latency", kind_name(kind)));
    group.sample_size(30);
    let targets = if kind == TransportKind::Quic {
        QUIC_TARGETS
    } else {
        1
    };
    let closed = Arc::new(Progress::default());
    let drain = Target::Drain {
        closed: closed.clone(),
    };
    measure(
        &mut group,
        "peergraph",
        runtime,
        || async move { (nodes(kind, targets, drain).await, 0usize) },
        |((mut dialer, targets), mut next), iterations| {
            let closed = closed.clone();
            async move {
                let mut timed = Duration::ZERO;
                for _ in 0..iterations {
                    let (target, locator) = &targets[next % targets.len()];
                    next += 1;
                    let start = Instant::now();
                    let id = dialer.open(locator);
                    dialer.status_of(id, is_connected).await;
                    timed += start.elapsed();
                    quiesce_close(&mut dialer, id, target, &closed).await;
                }
                (((dialer, targets), next), timed)
            }
        },
    );
    match kind {
        TransportKind::Tcp => {
            for (name, echo) in [("raw", true), ("raw_handshake", false)] {
                let ended = Arc::new(Progress::default());
                let serve = Serve::EchoFramesCountingEnds(ended.clone());
                measure(
                    &mut group,
                    name,
                    runtime,
                    || async {
                        let tls = Tls::default();
                        let addr = tls.serve(serve).await;
                        (tls, addr)
                    },
                    move |(tls, addr), iterations| {
                        let ended = ended.clone();
                        async move {
                            let mut timed = Duration::ZERO;
                            for _ in 0..iterations {
                                let goal = ended.total() + 1;
                                let start = Instant::now();
                                let mut stream = tls.connect(addr).await;
                                if echo {
                                    echo_first_byte(&mut stream).await;
                                }
                                timed += start.elapsed();
                                stream.shutdown().await.ok();
                                drop(stream);
                                ended.wait_for(goal).await;
                            }
                            ((tls, addr), timed)
                        }
                    },
                );
            }
        }
        TransportKind::Quic => {
            let ended = Arc::new(Progress::default());
            let serve = Serve::EchoFramesCountingEnds(ended.clone());
            measure(
                &mut group,
                "raw",
                runtime,
                || async {
                    let quic = Quic::with_servers(QUIC_TARGETS);
                    let addrs = quic.serve_all(serve);
                    (quic, addrs, 0usize)
                },
                |(quic, addrs, mut next), iterations| {
                    let ended = ended.clone();
                    async move {
                        let mut timed = Duration::ZERO;
                        for _ in 0..iterations {
                            let addr = addrs[next % addrs.len()];
                            next += 1;
                            let goal = ended.total() + 1;
                            let start = Instant::now();
                            let connection = quic.connect(addr).await;
                            let (send, recv) = connection.open_bi().await.expect("a stream opens");
                            echo_first_byte(&mut tokio::io::join(recv, send)).await;
                            timed += start.elapsed();
                            connection.close(0u32.into(), b"done");
                            ended.wait_for(goal).await;
                        }
                        ((quic, addrs, next), timed)
                    }
                },
            );
        }
    }
    group.finish();
}

fn open_latency_reused(c: &mut Criterion) {
    let mut group = c.benchmark_group("quic/open_latency_reused");
    group.sample_size(30);
    let closed = Arc::new(Progress::default());
    measure(
        &mut group,
        "peergraph",
        runtime,
        || async {
            let drain = Target::Drain {
                closed: closed.clone(),
            };
            let (mut dialer, mut targets) = nodes(TransportKind::Quic, 1, drain).await;
            let target = targets.pop().expect("one target");
            // Keeps the QUIC connection to the target cached.
            let anchor = dialer.connect(&target.1).await;
            (dialer, target, anchor)
        },
        |(mut dialer, target, anchor), iterations| {
            let closed = closed.clone();
            async move {
                let mut timed = Duration::ZERO;
                for _ in 0..iterations {
                    let start = Instant::now();
                    let id = dialer.open(&target.1);
                    dialer.status_of(id, is_connected).await;
                    timed += start.elapsed();
                    quiesce_close(&mut dialer, id, &target.0, &closed).await;
                }
                ((dialer, target, anchor), timed)
            }
        },
    );
    let ended = Arc::new(Progress::default());
    let serve = Serve::EchoFramesCountingEnds(ended.clone());
    measure(
        &mut group,
        "raw",
        runtime,
        || async {
            let quic = Quic::new();
            let addr = quic.serve(serve);
            let connection = quic.connect(addr).await;
            (quic, connection)
        },
        |(quic, connection), iterations| {
            let ended = ended.clone();
            async move {
                let mut timed = Duration::ZERO;
                for _ in 0..iterations {
                    let goal = ended.total() + 1;
                    let start = Instant::now();
                    let (mut send, recv) = connection.open_bi().await.expect("a stream opens");
                    let mut stream = tokio::io::join(recv, &mut send);
                    echo_first_byte(&mut stream).await;
                    timed += start.elapsed();
                    drop(stream);
                    send.finish().ok();
                    ended.wait_for(goal).await;
                }
                ((quic, connection), timed)
            }
        },
    );
    group.finish();
}

/// A raw client stream to a server running `serve`, over `kind`; the endpoints it needs are
/// kept in the returned box.
async fn raw_stream(
    kind: TransportKind,
    serve: Serve,
) -> (
    Box<dyn Send + Sync>,
    Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
    Box<dyn tokio::io::AsyncRead + Send + Unpin>,
) {
    match kind {
        TransportKind::Tcp => {
            let tls = Tls::default();
            let addr = tls.serve(serve).await;
            let stream = tls.connect(addr).await;
            let (read, write) = tokio::io::split(stream);
            (Box::new(tls), Box::new(write), Box::new(read))
        }
        TransportKind::Quic => {
            let quic = Quic::new();
            let addr: SocketAddr = quic.serve(serve);
            let connection = quic.connect(addr).await;
            let (send, recv) = connection.open_bi().await.expect("a stream opens");
            (Box::new((quic, connection)), Box::new(send), Box::new(recv))
        }
    }
}

fn throughput(c: &mut Criterion, kind: TransportKind) {
    let mut group = c.benchmark_group(format!("{}/throughput", kind_name(kind)));
    group.throughput(Throughput::Bytes(BULK as u64));
    let payload = Bytes::from(vec![0xa5; BULK]);
    let received = Arc::new(Progress::default());
    let behaviour = Target::Count {
        bytes: received.clone(),
        messages: Arc::default(),
    };
    measure(
        &mut group,
        "peergraph",
        runtime,
        || connected(kind, behaviour),
        |(dialer, target, id), iterations| {
            let (payload, received) = (payload.clone(), received.clone());
            async move {
                let goal = received.total() + iterations * BULK as u64;
                let start = Instant::now();
                for _ in 0..iterations {
                    dialer.send(id, payload.clone()).await;
                }
                received.wait_for(goal).await;
                ((dialer, target, id), start.elapsed())
            }
        },
    );
    let received = Arc::new(Progress::default());
    measure(
        &mut group,
        "raw",
        runtime,
        || raw_stream(kind, Serve::CountBytes(received.clone())),
        |(ends, mut write, read), iterations| {
            let (payload, received) = (payload.clone(), received.clone());
            async move {
                let goal = received.total() + iterations * BULK as u64;
                let start = Instant::now();
                for _ in 0..iterations {
                    write.write_all(&payload).await.expect("the reader reads");
                }
                write.flush().await.expect("the reader reads");
                received.wait_for(goal).await;
                ((ends, write, read), start.elapsed())
            }
        },
    );
    group.finish();
}

fn small_messages(c: &mut Criterion, kind: TransportKind) {
    let mut group = c.benchmark_group(format!("{}/small_messages", kind_name(kind)));
    group.throughput(Throughput::Elements(1));
    // Static, like the raw writer's slice: cloning and dropping it touch no shared counter, so
    // neither side pays for the bench's reuse of one payload.
    let payload = Bytes::from_static(&[0x5a; SMALL]);
    let received = Arc::new(Progress::default());
    let behaviour = Target::Count {
        bytes: Arc::default(),
        messages: received.clone(),
    };
    let batch: Vec<Bytes> = vec![payload.clone(); SEND_BATCH];
    measure(
        &mut group,
        "peergraph",
        runtime,
        || connected(kind, behaviour.clone()),
        |(dialer, target, id), iterations| {
            let (batch, received) = (batch.clone(), received.clone());
            async move {
                let goal = received.total() + iterations;
                let start = Instant::now();
                let mut left = iterations as usize;
                while left > 0 {
                    let count = left.min(SEND_BATCH);
                    dialer.send_batch(id, &batch[..count]).await;
                    left -= count;
                }
                received.wait_for(goal).await;
                ((dialer, target, id), start.elapsed())
            }
        },
    );
    measure(
        &mut group,
        "peergraph_per_message",
        runtime,
        || connected(kind, behaviour),
        |(dialer, target, id), iterations| {
            let (payload, received) = (payload.clone(), received.clone());
            async move {
                let goal = received.total() + iterations;
                let start = Instant::now();
                for _ in 0..iterations {
                    dialer.send(id, payload.clone()).await;
                }
                received.wait_for(goal).await;
                ((dialer, target, id), start.elapsed())
            }
        },
    );
    let received = Arc::new(Progress::default());
    measure(
        &mut group,
        "raw",
        runtime,
        || async {
            let (ends, write, read) = raw_stream(kind, Serve::CountFrames(received.clone())).await;
            (ends, BufWriter::with_capacity(RAW_BATCH, write), read)
        },
        |(ends, mut write, read), iterations| {
            let (payload, received) = (payload.clone(), received.clone());
            async move {
                let goal = received.total() + iterations;
                let start = Instant::now();
                for _ in 0..iterations {
                    write_frame(&mut write, &payload).await;
                }
                write.flush().await.expect("the reader reads");
                received.wait_for(goal).await;
                ((ends, write, read), start.elapsed())
            }
        },
    );
    group.finish();
}

/// `round_trip` on the [`LAYOUT`]'s runtime, or `round_trip_current_thread` on a
/// current-thread one.
fn round_trip(c: &mut Criterion, kind: TransportKind, current_thread: bool) {
    let (suffix, build): (&str, fn() -> Runtime) = if current_thread {
        ("_current_thread", current_thread_runtime)
    } else {
        ("", runtime)
    };
    let mut group = c.benchmark_group(format!("{}/round_trip{suffix}", kind_name(kind)));
    let payload = Bytes::from(vec![0x3c; SMALL]);
    measure(
        &mut group,
        "peergraph",
        build,
        || connected(kind, Target::Echo),
        |(mut dialer, target, id), iterations| {
            let payload = payload.clone();
            async move {
                let start = Instant::now();
                for _ in 0..iterations {
                    dialer.send(id, payload.clone()).await;
                    let echoed = dialer.incoming().await;
                    assert_eq!(echoed.len(), SMALL, "the echo is whole");
                }
                ((dialer, target, id), start.elapsed())
            }
        },
    );
    measure(
        &mut group,
        "raw",
        build,
        || async {
            let (ends, write, read) = raw_stream(kind, Serve::EchoFrames).await;
            (
                ends,
                BufStream::new(tokio::io::join(read, write)),
                Vec::new(),
            )
        },
        |(ends, mut stream, mut buffer), iterations| {
            let payload = payload.clone();
            async move {
                let start = Instant::now();
                for _ in 0..iterations {
                    write_frame(&mut stream, &payload).await;
                    stream.flush().await.expect("the echo server reads");
                    assert!(
                        read_frame(&mut stream, &mut buffer).await,
                        "the echo comes back"
                    );
                    assert_eq!(buffer.len(), SMALL, "the echo is whole");
                }
                ((ends, stream, buffer), start.elapsed())
            }
        },
    );
    group.finish();
}

fn transports(c: &mut Criterion) {
    println!("layout: {LAYOUT}");
    for kind in [TransportKind::Tcp, TransportKind::Quic] {
        open_latency(c, kind);
        if kind == TransportKind::Quic {
            open_latency_reused(c);
        }
        throughput(c, kind);
        small_messages(c, kind);
        round_trip(c, kind, false);
        round_trip(c, kind, true);
    }
}

criterion_group!(benches, transports);
criterion_main!(benches);

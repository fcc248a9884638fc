//! The timed figures, for every stack, in one runtime layout (peergraph-benches'
//! `loopback::LAYOUT`): a fresh two-worker runtime per measurement, the measuring loop a task
//! on those workers.
//!
//! Method: one warm-up sample, then [`SAMPLES`] samples of the same number of iterations, each
//! timed as a whole; the figure is the median over the samples of (sample time / iterations).
//!
//! peergraph is measured exactly as `benches/benches/transports.rs` measures it; the byte-stream
//! stacks (raw TLS, raw quinn, rust-libp2p, iroh) exactly as that bench measures its raw
//! members, with the servers' behaviours of `peergraph_benches::raw::Serve`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use peergraph::{ConnectionId, PeerGraph, PeerLocator, TransportKind};
use peergraph_benches::loopback::{Progress, read_frame, runtime, write_frame};
use peergraph_benches::nodes::{BenchNode, Target, is_connected, node_config, target};
use peergraph_benches::raw::{Serve, echo_first_byte};
use tokio::io::{AsyncWriteExt, BufStream, BufWriter};

use crate::stacks::{Client, Kind, Servers};

/// Timed samples per figure, after one warm-up sample.
pub const SAMPLES: usize = 10;
/// Bytes per bulk message or write.
pub const BULK: usize = 1 << 20;
/// Bytes per small message.
pub const SMALL: usize = 64;
/// Buffer of the byte-stream stacks' small-message writer; peergraph sends as many payload
/// bytes per `send_data_batch` call.
const STREAM_BATCH: usize = 64 * 1024;
/// Small messages per `send_data_batch` call.
const SEND_BATCH: usize = STREAM_BATCH / SMALL;
/// Servers a QUIC open rotates over, so no open can reuse a connection or resume a TLS
/// session where another stack could not.
const QUIC_TARGETS: usize = 8;

/// A figure this module measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    /// Microseconds from asking for a connection until the dialer can be sure the other end
    /// is ready for data.
    OpenLatency,
    /// Bytes a second moved in 1 MiB messages.
    Throughput,
    /// 64-byte messages a second, one way.
    SmallMessages,
    /// Microseconds for a 64-byte message to go and come back.
    RoundTrip,
}

impl Figure {
    /// Iterations per sample.
    fn iterations(self) -> u64 {
        match self {
            Figure::OpenLatency => 50,
            Figure::Throughput => 256,
            Figure::SmallMessages => 1 << 20,
            Figure::RoundTrip => 10_000,
        }
    }

    /// The reported unit.
    pub fn unit(self) -> &'static str {
        match self {
            Figure::OpenLatency | Figure::RoundTrip => "us",
            Figure::Throughput => "bytes/s",
            Figure::SmallMessages => "messages/s",
        }
    }

    /// The figure's number from the median seconds per iteration.
    fn value(self, seconds: f64) -> f64 {
        match self {
            Figure::OpenLatency | Figure::RoundTrip => seconds * 1e6,
            Figure::Throughput => BULK as f64 / seconds,
            Figure::SmallMessages => 1.0 / seconds,
        }
    }
}

/// What is measured: peergraph over a transport, or a byte-stream stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stack {
    /// peergraph nodes.
    Peergraph(TransportKind),
    /// A byte-stream stack.
    Stream(Kind),
}

/// Seconds per iteration of each timed sample.
struct Samples(Vec<f64>);

impl Samples {
    fn new() -> Self {
        Self(Vec::with_capacity(SAMPLES))
    }

    /// Records sample `index` (0 is the warm-up, not recorded).
    fn record(&mut self, index: usize, elapsed: Duration, iterations: u64) {
        if index > 0 {
            self.0.push(elapsed.as_secs_f64() / iterations as f64);
        }
    }

    fn median(mut self) -> f64 {
        self.0.sort_by(f64::total_cmp);
        let n = self.0.len();
        if n % 2 == 1 {
            self.0[n / 2]
        } else {
            (self.0[n / 2 - 1] + self.0[n / 2]) / 2.0
        }
    }
}

/// Measures `figure` on `stack` on a fresh runtime; returns the figure's number.
pub fn measure(stack: Stack, figure: Figure) -> f64 {
    let runtime = runtime();
    let seconds = runtime
        .block_on(runtime.spawn(async move {
            match stack {
                Stack::Peergraph(kind) => peergraph(kind, figure).await,
                Stack::Stream(kind) => stream(kind, figure).await,
            }
        }))
        .expect("a measurement does not panic");
    figure.value(seconds)
}

// ---- peergraph, as benches/benches/transports.rs measures it ----

async fn connected(kind: TransportKind, behaviour: Target) -> (BenchNode, PeerGraph, ConnectionId) {
    let mut dialer = BenchNode::new(kind, "dialer", node_config(1024, 256)).await;
    let (node, locator) = target(kind, node_config(1024, 256), behaviour).await;
    let id = dialer.connect(&locator).await;
    (dialer, node, id)
}

async fn peergraph(kind: TransportKind, figure: Figure) -> f64 {
    let n = figure.iterations();
    let mut samples = Samples::new();
    match figure {
        Figure::OpenLatency => {
            let count = if kind == TransportKind::Quic {
                QUIC_TARGETS
            } else {
                1
            };
            let closed = Arc::new(Progress::default());
            let mut dialer = BenchNode::new(kind, "dialer", node_config(1024, 256)).await;
            let mut targets: Vec<(PeerGraph, PeerLocator)> = Vec::new();
            for _ in 0..count {
                let drain = Target::Drain {
                    closed: closed.clone(),
                };
                targets.push(target(kind, node_config(1024, 256), drain).await);
            }
            let mut next = 0;
            for index in 0..=SAMPLES {
                let mut timed = Duration::ZERO;
                for _ in 0..n {
                    let (node, locator) = &targets[next % targets.len()];
                    next += 1;
                    let start = Instant::now();
                    let id = dialer.open(locator);
                    dialer.status_of(id, is_connected).await;
                    timed += start.elapsed();
                    // Untimed: both ends finish closing before the next open.
                    let goal = closed.total() + 1;
                    dialer.disconnect(id).await;
                    closed.wait_for(goal).await;
                    dialer.node.finish_closing().await;
                    node.finish_closing().await;
                }
                samples.record(index, timed, n);
            }
        }
        Figure::Throughput => {
            let received = Arc::new(Progress::default());
            let behaviour = Target::Count {
                bytes: received.clone(),
                messages: Arc::default(),
            };
            let (dialer, _target, id) = connected(kind, behaviour).await;
            let payload = Bytes::from(vec![0xa5; BULK]);
            for index in 0..=SAMPLES {
                let goal = received.total() + n * BULK as u64;
                let start = Instant::now();
                for _ in 0..n {
                    dialer.send(id, payload.clone()).await;
                }
                received.wait_for(goal).await;
                samples.record(index, start.elapsed(), n);
            }
        }
        Figure::SmallMessages => {
            let received = Arc::new(Progress::default());
            let behaviour = Target::Count {
                bytes: Arc::default(),
                messages: received.clone(),
            };
            let (dialer, _target, id) = connected(kind, behaviour).await;
            let batch = vec![Bytes::from_static(&[0x5a; SMALL]); SEND_BATCH];
            for index in 0..=SAMPLES {
                let goal = received.total() + n;
                let start = Instant::now();
                let mut left = n as usize;
                while left > 0 {
                    let count = left.min(SEND_BATCH);
                    dialer.send_batch(id, &batch[..count]).await;
                    left -= count;
                }
                received.wait_for(goal).await;
                samples.record(index, start.elapsed(), n);
            }
        }
        Figure::RoundTrip => {
            let (mut dialer, _target, id) = connected(kind, Target::Echo).await;
            let payload = Bytes::from(vec![0x3c; SMALL]);
            for index in 0..=SAMPLES {
                let start = Instant::now();
                for _ in 0..n {
                    dialer.send(id, payload.clone()).await;
                    let echoed = dialer.incoming().await;
                    assert_eq!(echoed.len(), SMALL, "the echo is whole");
                }
                samples.record(index, start.elapsed(), n);
            }
        }
    }
    samples.median()
}

// ---- byte-stream stacks, as transports.rs measures its raw members ----

async fn stream(kind: Kind, figure: Figure) -> f64 {
    let n = figure.iterations();
    let mut samples = Samples::new();
    let client = Client::new(kind).await;
    match figure {
        Figure::OpenLatency => {
            let count = match kind {
                Kind::RawTcp | Kind::Libp2pTcp => 1,
                Kind::RawQuic | Kind::Libp2pQuic | Kind::Iroh => QUIC_TARGETS,
            };
            let ended = Arc::new(Progress::default());
            let servers =
                Servers::start(kind, count, Serve::EchoFramesCountingEnds(ended.clone())).await;
            let mut next = 0;
            for index in 0..=SAMPLES {
                let mut timed = Duration::ZERO;
                for _ in 0..n {
                    let addr = &servers.addrs[next % servers.addrs.len()];
                    next += 1;
                    let goal = ended.total() + 1;
                    let start = Instant::now();
                    let mut conn = client.connect(addr).await;
                    echo_first_byte(&mut conn.stream).await;
                    timed += start.elapsed();
                    // Untimed: the server has seen the stream end before the next open.
                    client.close(conn).await;
                    ended.wait_for(goal).await;
                }
                samples.record(index, timed, n);
            }
        }
        Figure::Throughput => {
            let received = Arc::new(Progress::default());
            let servers = Servers::start(kind, 1, Serve::CountBytes(received.clone())).await;
            let mut conn = client.connect(&servers.addrs[0]).await;
            let payload = vec![0xa5; BULK];
            for index in 0..=SAMPLES {
                let goal = received.total() + n * BULK as u64;
                let start = Instant::now();
                for _ in 0..n {
                    conn.stream
                        .write_all(&payload)
                        .await
                        .expect("the reader reads");
                }
                conn.stream.flush().await.expect("the reader reads");
                received.wait_for(goal).await;
                samples.record(index, start.elapsed(), n);
            }
        }
        Figure::SmallMessages => {
            let received = Arc::new(Progress::default());
            let servers = Servers::start(kind, 1, Serve::CountFrames(received.clone())).await;
            let conn = client.connect(&servers.addrs[0]).await;
            let mut write = BufWriter::with_capacity(STREAM_BATCH, conn.stream);
            let payload = [0x5a; SMALL];
            for index in 0..=SAMPLES {
                let goal = received.total() + n;
                let start = Instant::now();
                for _ in 0..n {
                    write_frame(&mut write, &payload).await;
                }
                write.flush().await.expect("the reader reads");
                received.wait_for(goal).await;
                samples.record(index, start.elapsed(), n);
            }
        }
        Figure::RoundTrip => {
            let servers = Servers::start(kind, 1, Serve::EchoFrames).await;
            let conn = client.connect(&servers.addrs[0]).await;
            let mut stream = BufStream::new(conn.stream);
            let mut buffer = Vec::new();
            let payload = [0x3c; SMALL];
            for index in 0..=SAMPLES {
                let start = Instant::now();
                for _ in 0..n {
                    write_frame(&mut stream, &payload).await;
                    stream.flush().await.expect("the echo server reads");
                    assert!(
                        read_frame(&mut stream, &mut buffer).await,
                        "the echo comes back"
                    );
                    assert_eq!(buffer.len(), SMALL, "the echo is whole");
                }
                samples.record(index, start.elapsed(), n);
            }
        }
    }
    samples.median()
}

//! What every transport bench shares: the runtime layout, running measured code on the
//! runtime's workers, byte and message counters a measurement can wait on, raw framing, and
//! reading the resident set size.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

/// Worker threads of every runtime the transport benches build.
pub const WORKERS: usize = 2;

/// The layout every transport figure is measured in, peergraph and baseline alike.
pub const LAYOUT: &str =
    "tokio multi-thread runtime, 2 workers, both ends in one process, loopback 127.0.0.1";

/// How long any single expected thing may take before a bench fails instead of hanging.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The multi-thread runtime with [`WORKERS`] workers.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("a tokio runtime can be built")
}

/// A current-thread runtime: everything, peergraph and baseline alike, on one thread. Only the
/// `round_trip_current_thread` figures use it, to show the round trip without cross-thread
/// wake-ups.
pub fn current_thread_runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime can be built")
}

/// Runs `measure(state)` as a task on the runtime's workers, puts the state it returns back
/// into `state`, and returns the time it reported. The bench thread only waits, so the
/// measuring code runs on the same two workers as the code it measures, for peergraph and
/// baseline alike.
pub fn on_workers<S, F, Fut>(runtime: &Runtime, state: &mut Option<S>, measure: F) -> Duration
where
    S: Send + 'static,
    F: FnOnce(S) -> Fut,
    Fut: Future<Output = (S, Duration)> + Send + 'static,
{
    let taken = state.take().expect("the state is put back after every run");
    let (back, elapsed) = runtime
        .block_on(runtime.spawn(measure(taken)))
        .expect("a measured task does not panic");
    *state = Some(back);
    elapsed
}

/// `future`, or a panic naming `what` after [`PATIENCE`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// A running total that a receiver adds to and a measurement waits on.
#[derive(Debug)]
pub struct Progress {
    total: AtomicU64,
    goal: AtomicU64,
    reached: Notify,
}

impl Default for Progress {
    fn default() -> Self {
        Self {
            total: AtomicU64::new(0),
            goal: AtomicU64::new(u64::MAX),
            reached: Notify::new(),
        }
    }
}

impl Progress {
    /// Adds `amount`, waking the waiter if its goal is reached.
    pub fn add(&self, amount: u64) {
        let total = self.total.fetch_add(amount, Ordering::SeqCst) + amount;
        if total >= self.goal.load(Ordering::SeqCst) {
            self.reached.notify_one();
        }
    }

    /// The total so far.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::SeqCst)
    }

    /// Waits until the total reaches `goal`; panics after [`PATIENCE`].
    pub async fn wait_for(&self, goal: u64) {
        self.goal.store(goal, Ordering::SeqCst);
        within("the receiver to catch up", async {
            while self.total() < goal {
                self.reached.notified().await;
            }
        })
        .await;
        self.goal.store(u64::MAX, Ordering::SeqCst);
    }
}

/// Appends one raw frame (4-byte big-endian length, then the payload) to `out`.
pub async fn write_frame<W: AsyncWrite + Unpin>(out: &mut W, payload: &[u8]) {
    let len = u32::try_from(payload.len()).expect("bench frames are small");
    out.write_all(&len.to_be_bytes())
        .await
        .expect("the raw peer is reading");
    out.write_all(payload)
        .await
        .expect("the raw peer is reading");
}

/// Reads one raw frame into `buffer`; false at a clean end of stream.
pub async fn read_frame<R: AsyncReadExt + Unpin>(input: &mut R, buffer: &mut Vec<u8>) -> bool {
    let mut prefix = [0u8; 4];
    if input.read_exact(&mut prefix).await.is_err() {
        return false;
    }
    buffer.resize(u32::from_be_bytes(prefix) as usize, 0);
    input.read_exact(buffer).await.is_ok()
}

/// The resident set size of process `pid` (`None`: this process) in bytes, from
/// `/proc/<pid>/status`; 0 where that file does not exist.
pub fn resident_bytes(pid: Option<u32>) -> u64 {
    let path = pid.map_or_else(
        || "/proc/self/status".to_owned(),
        |pid| format!("/proc/{pid}/status"),
    );
    let status = std::fs::read_to_string(path).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

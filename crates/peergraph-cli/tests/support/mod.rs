//! Runs the built `peergraph` binary in child processes: their stdout as a stream of lines to
//! wait on (never sleeps), every wait bounded, every child killed when dropped.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use ring::digest::{Context, SHA256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{mpsc, oneshot};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_peergraph");

/// How long any one expected thing may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(40);

/// A running `peergraph` process.
pub struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    stderr: Option<oneshot::Receiver<String>>,
    /// Every stdout line seen so far, for failure messages.
    seen: Vec<String>,
}

impl Running {
    /// Starts `peergraph ARGS` with piped stdin, stdout and stderr.
    pub fn spawn(args: &[&str]) -> Self {
        Self::start(Command::new(BIN).args(args))
    }

    /// Starts `peergraph ARGS` inside network namespace `netns` (`ip netns exec` execs it, so
    /// the child is the `peergraph` process itself).
    pub fn spawn_in(netns: &str, args: &[&str]) -> Self {
        Self::start(
            Command::new("ip")
                .args(["netns", "exec", netns, BIN])
                .args(args),
        )
    }

    fn start(command: &mut Command) -> Self {
        let mut child = command
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stdout.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (done, stderr) = oneshot::channel();
        let mut pipe = child.stderr.take().unwrap();
        tokio::spawn(async move {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text).await;
            let _ = done.send(text);
        });
        Self {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr: Some(stderr),
            seen: Vec::new(),
        }
    }

    /// The next stdout line that satisfies `wanted`, skipping others.
    pub async fn line_where(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let found = tokio::time::timeout(PATIENCE, async {
            while let Some(line) = self.lines.recv().await {
                self.seen.push(line.clone());
                if wanted(&line) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!("no stdout line {what}; saw {:#?}", self.seen),
        }
    }

    pub async fn line_starting(&mut self, prefix: &str) -> String {
        self.line_where(&format!("starting {prefix:?}"), |l| l.starts_with(prefix))
            .await
    }

    pub async fn line_containing(&mut self, needle: &str) -> String {
        self.line_where(&format!("containing {needle:?}"), |l| l.contains(needle))
            .await
    }

    /// Reads the `listening: LOCATOR` line and returns the locator.
    pub async fn locator(&mut self) -> String {
        let line = self.line_starting("listening: ").await;
        line["listening: ".len()..].to_owned()
    }

    pub async fn write_line(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin
            .write_all(format!("{text}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Kills this child at once (SIGKILL): it says nothing to anyone.
    pub async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }

    /// Sends SIGINT (Ctrl-C) to this child, by its id.
    pub fn interrupt(&self) {
        let pid = self.child.id().unwrap().to_string();
        let status = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the exit; returns the code, the rest of stdout and all of stderr.
    pub async fn exit(mut self) -> Finished {
        let code = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("no exit; stdout so far {:#?}", self.seen))
            .unwrap()
            .code();
        let mut stdout = self.seen.join("\n");
        while let Some(line) = self.lines.recv().await {
            stdout.push('\n');
            stdout.push_str(&line);
        }
        let stderr = self.stderr.take().unwrap().await.unwrap_or_default();
        Finished {
            code,
            stdout,
            stderr,
        }
    }
}

/// How a process ended.
#[derive(Debug)]
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// Asserts the exit code, and for failures the one-line error on stderr.
    pub fn expect_code(&self, code: i32) {
        assert_eq!(self.code, Some(code), "{self:#?}");
        if code != 0 {
            let lines: Vec<&str> = self.stderr.lines().collect();
            assert_eq!(lines.len(), 1, "one error line expected: {self:#?}");
            assert!(lines[0].starts_with("peergraph: error: "), "{self:#?}");
        }
    }
}

/// Runs `peergraph ARGS` to completion.
pub async fn run(args: &[&str]) -> Finished {
    let mut running = Running::spawn(args);
    running.close_stdin();
    running.exit().await
}

/// A `listen` node; returns it and its locator.
pub async fn listen(transport: &str, peer_id: &str, extra: &[&str]) -> (Running, String) {
    let mut args = vec![
        "listen",
        "--graph",
        "g",
        "--peer-id",
        peer_id,
        "--transport",
        transport,
    ];
    args.extend_from_slice(extra);
    let mut node = Running::spawn(&args);
    let locator = node.locator().await;
    (node, locator)
}

/// `send --message hello` from `alice` to `to`, plus any extra arguments.
pub async fn send_text(transport: &str, to: &str, extra: &[&str]) -> Finished {
    send_message(transport, to, "hello", extra).await
}

/// `send --message TEXT` from `alice` to `to`, plus any extra arguments.
pub async fn send_message(transport: &str, to: &str, text: &str, extra: &[&str]) -> Finished {
    let mut args = vec![
        "send",
        "--graph",
        "g",
        "--peer-id",
        "alice",
        "--transport",
        transport,
        "--to",
        to,
        "--message",
        text,
    ];
    args.extend_from_slice(extra);
    run(&args).await
}

/// A port on loopback that nothing listens on (bound, then released).
pub fn dead_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The same for UDP.
pub fn dead_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes `len` pseudo-random bytes (xorshift; fast and incompressible enough) to `path`.
pub fn write_random_file(path: &Path, len: usize, seed: u64) {
    let mut state = seed | 1;
    let mut bytes = vec![0u8; len];
    for chunk in bytes.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
    std::fs::write(path, bytes).unwrap();
}

/// SHA-256 of a file, as hex.
pub fn sha256_file(path: &Path) -> String {
    let mut context = Context::new(&SHA256);
    context.update(&std::fs::read(path).unwrap());
    context
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

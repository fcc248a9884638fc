//! C programs written against `include/p2p.h` alone, built with the system C compiler and linked
//! to `libp2pgraph.so`: `tests/c/graphchat.c`, in the spirit of Windows' GraphChat sample (two
//! processes chat over a direct connection, and each prints what it saw; a third joins the graph
//! and lists its nodes; two more add records and list them), and
//! `tests/c/bad_input.c` (bad input gets its documented HRESULT). Under valgrind both show no
//! invalid access and no leak.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a step may take, valgrind included, on a slow machine.
const STEP: Duration = Duration::from_secs(120);

/// The directory holding `libp2pgraph.so`: the one cargo built next to this test.
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    [deps, deps.parent().unwrap()]
        .into_iter()
        .find(|dir| dir.join("libp2pgraph.so").exists())
        .unwrap_or_else(|| panic!("libp2pgraph.so next to {}", exe.display()))
        .to_path_buf()
}

/// `tests/c/NAME.c`, compiled with warnings as errors (once per test process and program).
fn compile(name: &str) -> PathBuf {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = LOCK.lock().unwrap();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    if out.exists() {
        return out;
    }
    {
        let krate = Path::new(env!("CARGO_MANIFEST_DIR"));
        let status = Command::new("cc")
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-o"])
            .arg(&out)
            .arg("-I")
            .arg(krate.join("include"))
            .arg(krate.join(format!("tests/c/{name}.c")))
            .arg("-L")
            .arg(library_dir())
            .arg("-lp2pgraph")
            .status()
            .unwrap();
        assert!(status.success(), "cc failed: {status}");
    }
    out
}

fn graphchat() -> &'static Path {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| compile("graphchat"))
}

/// A `graphchat` process, optionally under valgrind's memcheck, with its output piped.
///
/// memcheck reports invalid reads and writes and definite leaks (exit code 99). Its checks of
/// uninitialised values are off: ring encrypts in assembly whose writes memcheck cannot follow,
/// so every TLS record it sends would be reported.
fn spawn(args: &[&str], valgrind: bool) -> Child {
    spawn_program(graphchat(), args, valgrind)
}

fn spawn_program(program: &Path, args: &[&str], valgrind: bool) -> Child {
    let mut command = if valgrind {
        let mut command = Command::new("valgrind");
        command
            .args([
                "--quiet",
                "--error-exitcode=99",
                "--undef-value-errors=no",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite",
                "--show-leak-kinds=definite",
            ])
            .arg(program);
        command
    } else {
        Command::new(program)
    };
    command
        .args(args)
        .env("LD_LIBRARY_PATH", library_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The listener's lines as they come.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if send.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    receive
}

/// Waits for `child` to exit, at most [`STEP`]; its output.
fn finish(child: Child) -> Output {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || send.send(child.wait_with_output().unwrap()));
    receive
        .recv_timeout(STEP)
        .expect("the process exits in time")
}

fn text(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Bob listens, Alice sends two lines: each prints the other's lines and the acks. Either may
/// run under valgrind.
fn chat(valgrind_bob: bool, valgrind_alice: bool) {
    let mut bob = spawn(&["listen", "bob", "s3cret"], valgrind_bob);
    let bob_lines = lines_of(&mut bob);
    let first = bob_lines.recv_timeout(STEP).expect("bob listens");
    let port = first
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("{first:?}"))
        .to_owned();
    let alice = spawn(
        &[
            "send",
            "alice",
            "bob",
            &port,
            "s3cret",
            "hello",
            "how are you",
        ],
        valgrind_alice,
    );
    let alice = finish(alice);
    assert_eq!(
        text(&alice.stdout),
        ["connected bob", "bob: ack hello", "bob: ack how are you"],
        "alice's stderr: {}",
        String::from_utf8_lossy(&alice.stderr)
    );
    assert!(alice.status.success(), "alice: {}", alice.status);
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("disconnected") {
        seen.push(bob_lines.recv_timeout(STEP).expect("bob's next line"));
    }
    assert_eq!(
        seen,
        [
            "connected alice",
            "alice: hello",
            "alice: how are you",
            "disconnected"
        ]
    );
    let bob = finish(bob);
    assert!(
        bob.status.success(),
        "bob: {} {}",
        bob.status,
        String::from_utf8_lossy(&bob.stderr)
    );
}

#[test]
fn two_c_processes_chat_through_the_abi() {
    chat(false, false);
}

#[test]
fn a_c_process_with_another_secret_is_told_not_authenticated_and_bob_sees_nothing() {
    let mut bob = spawn(&["listen", "bob", "s3cret"], false);
    let bob_lines = lines_of(&mut bob);
    let first = bob_lines.recv_timeout(STEP).expect("bob listens");
    let port = first.strip_prefix("listening ").unwrap().to_owned();
    let alice = finish(spawn(
        &["send", "alice", "bob", &port, "sunshine", "hello"],
        false,
    ));
    assert_eq!(text(&alice.stdout), ["failed 0x8063010a"]);
    assert_eq!(alice.status.code(), Some(2));
    bob.kill().unwrap();
    let _ = bob.wait();
    let rest: Vec<String> = bob_lines.try_iter().collect();
    assert!(rest.is_empty(), "bob saw {rest:?}");
}

/// Alice joins bob's graph through a neighbor connection and lists its nodes
/// (`PeerGraphEnumNodes`, `PeerGraphGetNodeInfo` for another node, `NODE_CHANGED`). Alice may
/// run under valgrind.
fn nodes(valgrind: bool) {
    let mut bob = spawn(&["listen", "bob", "s3cret"], false);
    let bob_lines = lines_of(&mut bob);
    let first = bob_lines.recv_timeout(STEP).expect("bob listens");
    let port = first.strip_prefix("listening ").unwrap().to_owned();
    let alice = finish(spawn(&["nodes", "alice", &port, "s3cret"], valgrind));
    assert_eq!(
        text(&alice.stdout),
        [format!("node bob port {port}")],
        "valgrind {valgrind}: {}",
        String::from_utf8_lossy(&alice.stderr)
    );
    assert!(
        alice.status.success(),
        "valgrind {valgrind}: {}",
        alice.status
    );
    bob.kill().unwrap();
    let _ = bob.wait();
}

/// Alice and carol join bob's graph at once, each adds a record once its neighbor connection
/// is up and waits until it holds both, then lists them (`PeerGraphAddRecord`, `RECORD_CHANGED`
/// filtered by type, `PeerGraphEnumRecords`, `PeerGraphSearchRecords`): each record reaches the
/// other through bob. Carol may run under valgrind.
fn records(valgrind: bool) {
    let mut bob = spawn(&["listen", "bob", "s3cret"], false);
    let bob_lines = lines_of(&mut bob);
    let first = bob_lines.recv_timeout(STEP).expect("bob listens");
    let port = first.strip_prefix("listening ").unwrap().to_owned();
    let alice = spawn(&["records", "alice", &port, "s3cret", "hello", "2"], false);
    let carol = spawn(&["records", "carol", &port, "s3cret", "hi", "2"], valgrind);
    for (end, text_added) in [(finish(alice), "hello"), (finish(carol), "hi")] {
        let mut listed = text(&end.stdout);
        let found = listed.pop();
        listed.sort();
        assert_eq!(
            (listed, found.as_deref()),
            (
                vec![
                    "record alice hello".to_owned(),
                    "record carol hi".to_owned()
                ],
                Some("found 1")
            ),
            "{text_added}, valgrind {valgrind}: {}",
            String::from_utf8_lossy(&end.stderr)
        );
        assert!(end.status.success(), "valgrind {valgrind}: {}", end.status);
    }
    bob.kill().unwrap();
    let _ = bob.wait();
}

#[test]
fn c_processes_add_and_list_records() {
    records(false);
}

#[test]
fn a_c_process_lists_the_graphs_nodes() {
    nodes(false);
}

/// One side at a time: a target waits 3 s of wall-clock time for its initiator's Hello and
/// Confirm, and a process under valgrind runs tens of times slower, so two of them together
/// would time each other out.
#[test]
fn the_chat_runs_clean_under_valgrind_on_each_side() {
    chat(true, false);
    chat(false, true);
    nodes(true);
    records(true);
}

#[test]
fn bad_input_from_c_gets_its_documented_hresult_under_valgrind_too() {
    let program = compile("bad_input");
    for valgrind in [false, true] {
        let output = finish(spawn_program(&program, &[], valgrind));
        let lines = text(&output.stdout);
        assert_eq!(
            lines.last().map(String::as_str),
            Some("checks 51 failed 0"),
            "valgrind {valgrind}: {lines:#?}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.status.success(),
            "valgrind {valgrind}: {}",
            output.status
        );
    }
}

/// C++ programs include the same header (its declarations are wrapped in `extern "C"`).
#[test]
fn the_header_compiles_as_cpp() {
    let source = Path::new(env!("CARGO_TARGET_TMPDIR")).join("p2p_header_check.cpp");
    std::fs::write(
        &source,
        "#include \"p2p.h\"\nint main() {\n    PEER_VERSION_DATA version;\n    \
         return PeerGraphStartup(PEER_GRAPH_VERSION, &version) == S_OK ? 0 : 1;\n}\n",
    )
    .unwrap();
    let status = Command::new("c++")
        .args([
            "-std=c++17",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fsyntax-only",
            "-I",
        ])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("include"))
        .arg(&source)
        .status()
        .unwrap();
    assert!(status.success(), "c++ failed: {status}");
}

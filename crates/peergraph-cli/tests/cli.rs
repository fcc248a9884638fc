//! The built `peergraph` binary, run in separate processes on loopback: file transfer on both
//! transports, chat over piped stdin, the demo, and every error class with its exit code.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use support::{
    Running, dead_tcp_port, dead_udp_port, listen, run, send_message, send_text, sha256_file,
    write_random_file,
};

const FILE_LEN: usize = 50 << 20;

/// Listen, send a 50 MiB file, compare SHA-256 of source and saved copy; Ctrl-C ends the
/// listener with exit 0.
async fn a_50_mib_file_arrives_identical(transport: &str) {
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("save");
    std::fs::create_dir(&save).unwrap();
    let source = dir.path().join("payload.bin");
    write_random_file(&source, FILE_LEN, 0x5eed);

    let (mut bob, locator) =
        listen(transport, "bob", &["--save-dir", save.to_str().unwrap()]).await;
    let sent = run(&[
        "send",
        "--graph",
        "g",
        "--peer-id",
        "alice",
        "--transport",
        transport,
        "--to",
        &locator,
        "--file",
        source.to_str().unwrap(),
    ])
    .await;
    sent.expect_code(0);
    assert!(sent.stdout.contains("confirmed (sha256 "), "{sent:#?}");
    assert!(
        sent.stderr.is_empty(),
        "no progress bar when piped: {sent:#?}"
    );
    bob.line_starting("[bob] saved ").await;
    assert_eq!(sha256_file(&save.join("payload.bin")), sha256_file(&source));

    bob.interrupt();
    let bob = bob.exit().await;
    bob.expect_code(0);
    assert!(bob.stdout.contains("interrupted"), "{bob:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mib_file_arrives_identical_over_tcp() {
    a_50_mib_file_arrives_identical("tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mib_file_arrives_identical_over_quic() {
    a_50_mib_file_arrives_identical("quic").await;
}

#[tokio::test]
async fn a_text_message_is_printed_and_confirmed() {
    let (mut bob, locator) = listen("quic", "bob", &[]).await;
    send_text("quic", &locator, &[]).await.expect_code(0);
    let line = bob.line_starting("<alice#").await;
    assert!(line.ends_with("> hello"), "{line}");
}

#[tokio::test]
async fn text_from_a_peer_reaches_the_terminal_with_its_control_characters_escaped() {
    let (mut bob, locator) = listen("tcp", "bob", &[]).await;
    send_message("tcp", &locator, "\u{1b}[2Jgone", &[])
        .await
        .expect_code(0);
    let line = bob.line_starting("<alice#").await;
    let (_, text) = line.split_once("> ").expect("a text line");
    assert_eq!(text, "\\u{1b}[2Jgone", "escaped, not sent to the terminal");
}

/// A chat room of three processes driven through piped stdin: lines flood as records to every
/// node, a node that joins later prints the history, a whisper reaches only its peer, and EOF
/// leaves the room with exit 0.
async fn two_chats_exchange_lines(transport: &str) {
    let chat = |peer_id: &str, extra: &[&str]| {
        let mut args = vec![
            "chat",
            "--graph",
            "g",
            "--peer-id",
            peer_id,
            "--transport",
            transport,
        ];
        args.extend_from_slice(extra);
        Running::spawn(&args)
    };
    let mut ann = chat("ann", &["--listen", "127.0.0.1:0"]);
    let locator = ann.locator().await;
    let mut ben = chat("ben", &["--bootstrap", &locator]);
    ben.line_containing("SYNCHRONIZED").await;
    ben.write_line("hello from ben").await;
    let line = ann.line_starting("<ben#").await;
    assert!(line.ends_with("> hello from ben"), "{line}");
    ann.write_line("hi ben").await;
    let line = ben.line_starting("<ann#").await;
    assert!(line.ends_with("> hi ben"), "{line}");

    // Carol joins later and sees the room's history, in order.
    let mut carol = chat("carol", &["--bootstrap", &locator]);
    let first = carol.line_starting("<").await;
    assert!(first.ends_with("> hello from ben"), "{first}");
    let second = carol.line_starting("<").await;
    assert!(second.ends_with("> hi ben"), "{second}");

    ben.write_line("/w ann psst").await;
    let line = ann.line_containing("(whisper)").await;
    assert!(
        line.starts_with("<ben#") && line.ends_with("(whisper) psst"),
        "{line}"
    );
    ben.write_line("for everyone").await;
    carol.line_containing("> for everyone").await;

    for (name, mut node) in [("ben", ben), ("carol", carol), ("ann", ann)] {
        node.close_stdin();
        let finished = node.exit().await;
        finished.expect_code(0);
        if name == "carol" {
            assert!(!finished.stdout.contains("psst"), "{finished:#?}");
        }
    }
}

#[tokio::test]
async fn two_chats_exchange_lines_over_tcp() {
    two_chats_exchange_lines("tcp").await;
}

#[tokio::test]
async fn two_chats_exchange_lines_over_quic() {
    two_chats_exchange_lines("quic").await;
}

#[tokio::test]
async fn the_demo_exits_0_over_tcp() {
    let demo = run(&["demo", "--messages", "50", "--size", "512"]).await;
    demo.expect_code(0);
    assert!(
        demo.stdout.contains("intact         100 of 100 messages"),
        "{demo:#?}"
    );
    assert!(demo.stdout.contains("connected to bob"), "{demo:#?}");
    assert!(
        demo.stdout.contains("[alice] added: record ") && demo.stdout.contains("by bob"),
        "the record bob added reached alice: {demo:#?}"
    );
}

#[tokio::test]
async fn the_demo_exits_0_over_quic() {
    run(&[
        "demo",
        "--transport",
        "quic",
        "--messages",
        "50",
        "--size",
        "512",
    ])
    .await
    .expect_code(0);
}

/// QUIC over loopback gets no answer from a closed UDP port, so it cannot tell unreachable
/// from slow: only TCP can assert exit code 3 (see the QUIC test below).
#[tokio::test]
async fn an_address_nothing_listens_on_exits_3() {
    let to = format!("bob@127.0.0.1:{}", dead_tcp_port());
    send_text("tcp", &to, &[]).await.expect_code(3);
}

#[tokio::test]
async fn quic_to_a_dead_port_exits_3_or_8_within_the_connect_timeout() {
    let to = format!("bob@127.0.0.1:{}", dead_udp_port());
    let sent = send_text("quic", &to, &["--connect-timeout", "2"]).await;
    assert!(matches!(sent.code, Some(3 | 8)), "{sent:#?}");
    sent.expect_code(sent.code.unwrap());
}

#[tokio::test]
async fn a_peer_id_not_registered_there_exits_4() {
    let (_bob, locator) = listen("tcp", "bob", &[]).await;
    let to = locator.replacen("bob@", "carol@", 1);
    send_text("tcp", &to, &[]).await.expect_code(4);
}

#[tokio::test]
async fn a_wrong_graph_secret_exits_5() {
    let dir = tempfile::tempdir().unwrap();
    let (right, wrong) = (dir.path().join("right"), dir.path().join("wrong"));
    std::fs::write(&right, "s3cret\n").unwrap();
    std::fs::write(&wrong, "guess\n").unwrap();
    let (_bob, locator) = listen("tcp", "bob", &["--secret-file", right.to_str().unwrap()]).await;
    send_text("tcp", &locator, &["--secret-file", wrong.to_str().unwrap()])
        .await
        .expect_code(5);
    send_text("tcp", &locator, &[]).await.expect_code(5);
    send_text("tcp", &locator, &["--secret-file", right.to_str().unwrap()])
        .await
        .expect_code(0);
}

#[tokio::test]
async fn a_different_pinned_identity_exits_6() {
    let (_bob, locator) = listen("quic", "bob", &[]).await;
    let (address, identity) = locator.split_once('#').unwrap();
    let other = if identity == "ab".repeat(32) {
        "cd"
    } else {
        "ab"
    }
    .repeat(32);
    send_text("quic", &format!("{address}#{other}"), &[])
        .await
        .expect_code(6);
}

#[tokio::test]
async fn bad_address_syntax_exits_2() {
    for to in ["nobody", "bob@", "bob@127.0.0.1:1#zz", "bob@127.0.0.1"] {
        send_text("tcp", to, &[]).await.expect_code(2);
    }
}

#[tokio::test]
async fn a_missing_file_exits_7_before_dialing() {
    let to = format!("bob@127.0.0.1:{}", dead_tcp_port());
    run(&[
        "send",
        "--graph",
        "g",
        "--peer-id",
        "alice",
        "--to",
        &to,
        "--file",
        "/no/such/file",
    ])
    .await
    .expect_code(7);
}

/// The receiver cannot save (a directory is in the way), so it acknowledges with an error and
/// the sender exits 9; no partial file is left behind.
#[tokio::test]
async fn a_transfer_the_receiver_rejects_exits_9() {
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("save");
    std::fs::create_dir_all(save.join("data.bin")).unwrap();
    let source = dir.path().join("data.bin");
    write_random_file(&source, 300_000, 7);
    let (mut bob, locator) = listen("tcp", "bob", &["--save-dir", save.to_str().unwrap()]).await;
    send_file(&locator, &source).await.expect_code(9);
    bob.line_starting("[bob] rejected data.bin").await;
    assert!(!save.join(".data.bin.part").exists());
}

/// A disk that fills up mid-transfer: the receiver names the failure, acknowledges with it, and
/// leaves no partial file; the sender exits 9 with the receiver's reason. The disk is a 256 KiB
/// tmpfs mounted for the test, which needs root (as CI has).
#[tokio::test]
async fn a_full_disk_is_a_named_rejection_and_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("small-disk");
    std::fs::create_dir_all(&save).unwrap();
    let _disk = SmallDisk::mount(&save, 256 * 1024);
    let source = dir.path().join("big.bin");
    write_random_file(&source, 1_000_000, 9);
    let (mut bob, locator) = listen("tcp", "bob", &["--save-dir", save.to_str().unwrap()]).await;
    let sent = send_file(&locator, &source).await;
    sent.expect_code(9);
    assert!(sent.stderr.contains("No space left on device"), "{sent:#?}");
    let rejected = bob.line_starting("[bob] rejected big.bin").await;
    assert!(rejected.contains("No space left on device"), "{rejected}");
    let left: Vec<_> = std::fs::read_dir(&save).unwrap().collect();
    assert!(left.is_empty(), "no partial file: {left:?}");
}

/// A tmpfs of a given size mounted on a directory, unmounted on drop.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(path: &std::path::Path, bytes: usize) -> Self {
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(path)
            .status()
            .expect("running mount");
        assert!(status.success(), "mounting a tmpfs needs root, as in CI");
        Self(path.to_owned())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// `send --file PATH` from `alice` over TCP to `locator`.
async fn send_file(locator: &str, path: &std::path::Path) -> support::Finished {
    run(&[
        "send",
        "--graph",
        "g",
        "--peer-id",
        "alice",
        "--to",
        locator,
        "--file",
        path.to_str().unwrap(),
    ])
    .await
}

#[tokio::test]
async fn an_existing_file_is_kept_unless_the_receiver_asks_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("save");
    std::fs::create_dir_all(&save).unwrap();
    std::fs::write(save.join("notes.txt"), b"mine").unwrap();
    let source = dir.path().join("notes.txt");
    write_random_file(&source, 10_000, 3);
    let save_dir = save.to_str().unwrap();

    let (mut bob, locator) = listen("tcp", "bob", &["--save-dir", save_dir]).await;
    send_file(&locator, &source).await.expect_code(9);
    bob.line_starting("[bob] rejected notes.txt").await;
    assert_eq!(std::fs::read(save.join("notes.txt")).unwrap(), b"mine");

    let (_carol, locator) = listen("tcp", "carol", &["--save-dir", save_dir, "--overwrite"]).await;
    send_file(&locator, &source).await.expect_code(0);
    assert_eq!(sha256_file(&save.join("notes.txt")), sha256_file(&source));
}

#[tokio::test]
async fn a_dotfile_and_a_file_over_the_size_limit_are_refused_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("save");
    std::fs::create_dir_all(&save).unwrap();
    let (mut bob, locator) = listen(
        "tcp",
        "bob",
        &[
            "--save-dir",
            save.to_str().unwrap(),
            "--max-file-size",
            "1000",
        ],
    )
    .await;
    let dotfile = dir.path().join(".bashrc");
    std::fs::write(&dotfile, b"echo owned").unwrap();
    send_file(&locator, &dotfile).await.expect_code(9);
    bob.line_starting("[bob] rejected .bashrc").await;
    let large = dir.path().join("large.bin");
    write_random_file(&large, 1001, 4);
    send_file(&locator, &large).await.expect_code(9);
    bob.line_starting("[bob] rejected large.bin").await;
    let left: Vec<_> = std::fs::read_dir(&save).unwrap().collect();
    assert!(left.is_empty(), "nothing saved, no partial file: {left:?}");
}

#[tokio::test]
async fn secret_new_writes_a_private_random_secret_once_and_members_use_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("graph.secret");
    let file = path.to_str().unwrap();
    run(&["secret", "new", file]).await.expect_code(0);
    let secret = std::fs::read_to_string(&path).unwrap();
    let digits = secret.trim_end();
    assert_eq!(digits.len(), 64, "{secret:?}");
    assert!(digits.chars().all(|c| c.is_ascii_hexdigit()), "{secret:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // Never over an existing file; a second secret differs from the first.
    run(&["secret", "new", file]).await.expect_code(7);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), secret);
    let other = dir.path().join("other.secret");
    run(&["secret", "new", other.to_str().unwrap()])
        .await
        .expect_code(0);
    assert_ne!(std::fs::read_to_string(&other).unwrap(), secret);
    let (_bob, locator) = listen("tcp", "bob", &["--secret-file", file]).await;
    send_text("tcp", &locator, &["--secret-file", file])
        .await
        .expect_code(0);
}

//! `peergraph send`: one text or one file to a listening peer, confirmed by its checksum.

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use indicatif::{ProgressBar, ProgressStyle};
use peergraph::{ConnectionId, ConnectionStatus, GraphEvent};
use ring::digest::{Context, SHA256};
use tokio::fs::File;
use tokio::io::AsyncReadExt;

use crate::cli::SendArgs;
use crate::exit::{ErrorClass, Failure, Outcome};
use crate::node::{LocalNode, hex, linger};
use crate::shown::Shown;
use crate::transfer::{Ack, CHUNK_SIZE, Message, file_name_of, finish, sha256};

/// How long to wait for the receiver to close after `bye` before closing ourselves.
const BYE_PATIENCE: Duration = Duration::from_secs(5);

pub(crate) async fn run(args: SendArgs) -> Outcome {
    // Check the file before touching the network, so a typo fails fast and clearly.
    let file = match &args.file {
        Some(path) => Some(open_file(path).await?),
        None => None,
    };
    let mut local = LocalNode::start(&args.node, None, false).await?;
    let outcome = if local.bootstraps.is_empty() {
        transfer(&mut local, args, file).await
    } else {
        match local.join().await {
            Ok(()) => transfer(&mut local, args, file).await,
            Err(failure) => Err(failure),
        }
    };
    // Whatever the outcome, what the node still has to say (a farewell, the Close after a bad
    // exchange, the QUIC connection's close) reaches the wire before the process exits.
    // In a graph, the shutdown also withdraws this node from the others' lists.
    if outcome.is_err() || !local.bootstraps.is_empty() {
        let _ = local.node.shutdown();
    }
    linger(&local.node).await;
    outcome
}

async fn transfer(
    local: &mut LocalNode,
    args: SendArgs,
    file: Option<(std::path::PathBuf, File, u64)>,
) -> Outcome {
    let connection = local.connect_to(&args.to).await?;
    let started = Instant::now();
    let (what, sent_sha256) = match (file, args.message) {
        (Some((path, file, size)), _) => {
            let name = file_name_of(&path).unwrap_or_else(|| "file".into());
            let digest = send_file(local, connection, file, &name, size).await?;
            (format!("{name} ({size} bytes)"), digest)
        }
        (None, Some(text)) => {
            let digest = sha256(text.as_bytes());
            local.send(connection, Message::Text(text)).await?;
            ("message".to_owned(), digest)
        }
        (None, None) => return Err(Failure::new(ErrorClass::Usage, "nothing to send")),
    };
    let ack = wait_for_ack(local, connection).await?;
    match ack {
        Ack::Ok { sha256 } if sha256 == sent_sha256 => println!(
            "sent {what} to {} in {:.2?}: confirmed (sha256 {})",
            args.to,
            started.elapsed(),
            hex(&sha256)
        ),
        Ack::Ok { sha256 } => {
            return Err(Failure::new(
                ErrorClass::TransferFailed,
                format!(
                    "checksum mismatch: sent {}, receiver got {}",
                    hex(&sent_sha256),
                    hex(&sha256)
                ),
            ));
        }
        Ack::Err(reason) => {
            return Err(Failure::new(
                ErrorClass::TransferFailed,
                format!("{} rejected the transfer: {}", args.to, Shown(&reason)),
            ));
        }
    }
    say_bye(local, connection).await;
    Ok(())
}

async fn open_file(path: &Path) -> Result<(std::path::PathBuf, File, u64), Failure> {
    let unreadable = |error: std::io::Error| {
        Failure::new(
            ErrorClass::File,
            format!("cannot read {}: {error}", path.display()),
        )
    };
    let file = File::open(path).await.map_err(unreadable)?;
    let metadata = file.metadata().await.map_err(unreadable)?;
    if !metadata.is_file() {
        return Err(Failure::new(
            ErrorClass::File,
            format!("{} is not a regular file", path.display()),
        ));
    }
    Ok((path.to_owned(), file, metadata.len()))
}

/// Sends start, chunks and end; returns the SHA-256 of what was read.
async fn send_file(
    local: &LocalNode,
    connection: ConnectionId,
    mut file: File,
    name: &str,
    size: u64,
) -> Result<[u8; 32], Failure> {
    let progress = progress_bar(size);
    local
        .send(
            connection,
            Message::FileStart {
                name: name.to_owned(),
                size,
            },
        )
        .await?;
    let mut hasher = Context::new(&SHA256);
    loop {
        let mut chunk = BytesMut::with_capacity(CHUNK_SIZE);
        while chunk.len() < CHUNK_SIZE {
            let read = file.read_buf(&mut chunk).await.map_err(|error| {
                Failure::new(ErrorClass::File, format!("cannot read {name}: {error}"))
            })?;
            if read == 0 {
                break;
            }
        }
        if chunk.is_empty() {
            break;
        }
        hasher.update(&chunk);
        progress.inc(chunk.len() as u64);
        local
            .send(connection, Message::FileChunk(chunk.freeze()))
            .await?;
    }
    let digest = finish(&hasher);
    local
        .send(connection, Message::FileEnd { sha256: digest })
        .await?;
    progress.finish_and_clear();
    Ok(digest)
}

/// A progress bar on a terminal; nothing when stderr is piped, so logs stay clean.
fn progress_bar(size: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(size);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}

async fn wait_for_ack(local: &mut LocalNode, connection: ConnectionId) -> Result<Ack, Failure> {
    loop {
        let event = local.next_event().await?;
        local.print(&event);
        match event {
            GraphEvent::IncomingData(data) if data.connection == connection => {
                if let Ok(Message::Ack(ack)) = Message::decode(data.type_id, data.data) {
                    return Ok(ack);
                }
            }
            GraphEvent::DirectConnection(change) if change.connection == connection => {
                if let ConnectionStatus::Disconnected(reason) = change.status {
                    return Err(Failure::new(
                        ErrorClass::TransferFailed,
                        format!("connection lost before the receiver confirmed: {reason}"),
                    ));
                }
            }
            _ => {}
        }
    }
}

/// Tells the receiver we are done and waits for it to close, so our exit cannot cut off what is
/// still in flight; closes locally if it does not answer in time.
pub(crate) async fn say_bye(local: &mut LocalNode, connection: ConnectionId) {
    if local.send(connection, Message::Bye).await.is_err() {
        return; // already gone
    }
    let closed = tokio::time::timeout(BYE_PATIENCE, async {
        loop {
            match local.next_event().await {
                Ok(event) => {
                    local.print(&event);
                    if event.is_terminal() {
                        if let GraphEvent::DirectConnection(change) = &event {
                            if change.connection == connection {
                                return;
                            }
                        }
                    }
                }
                Err(_) => return,
            }
        }
    })
    .await;
    if closed.is_err() {
        let _ = local.node.close_direct_connection(local.graph, connection);
        linger(&local.node).await;
    }
}

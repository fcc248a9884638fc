//! `peergraph listen`: accept direct connections, print texts, save files and confirm them.

use std::collections::HashMap;
use std::path::Path;

use peergraph::{ConnectionId, GraphEvent, IncomingData};

use crate::cli::ListenArgs;
use crate::exit::{ErrorClass, Failure, Outcome};
use crate::node::{LocalNode, hex, linger};
use crate::save::{IncomingFile, SavePolicy};
use crate::shown::Shown;
use crate::transfer::{Ack, Message, sha256};

/// `listen`, or `join` (`in_graph`): the same node, which with `--bootstrap` first joins the
/// graph, and in a graph reconnects to its bootstrap members whenever the graph asks for a
/// connection.
pub(crate) async fn run(args: ListenArgs, in_graph: bool) -> Outcome {
    if !args.save_dir.is_dir() {
        return Err(Failure::new(
            ErrorClass::File,
            format!(
                "save directory {} is not a directory",
                args.save_dir.display()
            ),
        ));
    }
    let mut local = LocalNode::start(&args.node, Some(args.listen), in_graph).await?;
    print_listening(&local);
    if !local.bootstraps.is_empty() {
        local.join().await?;
    }
    let mut files: HashMap<ConnectionId, IncomingFile> = HashMap::new();
    let policy = SavePolicy {
        overwrite: args.overwrite,
        max_size: args.max_file_size,
    };
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    // A node in a graph takes record commands on stdin; `listen` reads nothing.
    let mut commands = in_graph.then(crate::chat::stdin_lines);
    loop {
        let event = tokio::select! {
            event = local.next_event() => event?,
            line = next_line(&mut commands) => {
                match line {
                    Some(line) => {
                        for output in crate::records::run_command(&local, &line) {
                            println!("{output}");
                        }
                    }
                    // Stdin ended: the node stays until interrupted.
                    None => commands = None,
                }
                continue;
            }
            _ = &mut interrupt => break,
        };
        local.print(&event);
        match event {
            GraphEvent::IncomingData(data) => {
                handle_data(&mut local, &mut files, &args.save_dir, &policy, data).await;
            }
            GraphEvent::ConnectionRequired => {
                local.connect_bootstraps();
            }
            event if event.is_terminal() => {
                if let GraphEvent::DirectConnection(change) = event {
                    if let Some(file) = files.remove(&change.connection) {
                        println!("[{}] transfer of {} abandoned", local.peer_id, file.name());
                    }
                }
            }
            _ => {}
        }
    }
    println!("[{}] interrupted: closing every connection", local.peer_id);
    // The last shutdown disconnects every peer; dropping the node afterwards flushes it.
    local.node.shutdown().map_err(Failure::other)?;
    linger(&local.node).await;
    Ok(())
}

/// The next line of `lines`, or never without them.
async fn next_line(lines: &mut Option<tokio::sync::mpsc::Receiver<String>>) -> Option<String> {
    match lines {
        Some(lines) => lines.recv().await,
        None => std::future::pending().await,
    }
}

/// The line tests and users parse: `listening: PEER@ADDR#IDENTITY`.
pub(crate) fn print_listening(local: &LocalNode) {
    if let Some(locator) = local.locator() {
        println!("listening: {locator}");
    }
}

async fn handle_data(
    local: &mut LocalNode,
    files: &mut HashMap<ConnectionId, IncomingFile>,
    save_dir: &Path,
    policy: &SavePolicy,
    data: IncomingData,
) {
    let me = local.peer_id.clone();
    let connection = data.connection;
    let peer = local.peers.get(&connection).cloned().unwrap_or_default();
    let from = Shown(&peer);
    let reply = match Message::decode(data.type_id, data.data) {
        Ok(Message::Text(text)) => {
            println!("<{from}> {}", Shown(&text));
            Some(Ack::Ok {
                sha256: sha256(text.as_bytes()),
            })
        }
        Ok(Message::FileStart { name, size }) => {
            let file = IncomingFile::start(save_dir, &name, size, policy).await;
            println!(
                "[{me}] receiving {} ({size} bytes) from {from}",
                Shown(file.name())
            );
            files.insert(connection, file);
            None
        }
        Ok(Message::FileChunk(chunk)) => {
            if let Some(file) = files.get_mut(&connection) {
                file.write(&chunk).await;
            }
            None
        }
        Ok(Message::FileEnd { sha256 }) => Some(match files.remove(&connection) {
            Some(file) => {
                let (name, target) = (file.name().to_owned(), file.target().to_owned());
                let ack = file.finish(sha256).await;
                match &ack {
                    Ack::Ok { sha256 } => println!(
                        "[{me}] saved {} from {from} (sha256 {})",
                        Shown(&target.display().to_string()),
                        hex(sha256)
                    ),
                    Ack::Err(reason) => {
                        println!("[{me}] rejected {} from {from}: {reason}", Shown(&name));
                    }
                }
                ack
            }
            None => Ack::Err("file end without a file start".into()),
        }),
        Ok(Message::Bye) => {
            // The peer is done and waits for us to close: closing proves everything arrived.
            let _ = local.node.close_direct_connection(local.graph, connection);
            None
        }
        Ok(Message::Ack(_)) => None,
        Err(_) => {
            println!("[{me}] ignored an unknown message from {from}");
            None
        }
    };
    if let Some(ack) = reply {
        // A peer gone meanwhile shows up as its Disconnected event.
        let _ = local.send(connection, Message::Ack(ack)).await;
    }
}

//! `peergraph chat`: stdin lines to every connected peer, their lines to stdout (GraphChat).

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::time::Duration;

use peergraph::{ConnectionId, ConnectionStatus, GraphEvent};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::cli::ChatArgs;
use crate::exit::{Failure, Outcome};
use crate::listen::print_listening;
use crate::node::{LocalNode, linger};
use crate::shown::Shown;
use crate::transfer::{Ack, Message, sha256};

/// How long to wait, after stdin ends, for peers to close in answer to `bye`.
const BYE_PATIENCE: Duration = Duration::from_secs(5);

pub(crate) async fn run(args: ChatArgs) -> Outcome {
    let mut local = LocalNode::start(&args.node, args.listen, false).await?;
    if !local.bootstraps.is_empty() {
        local.join().await?;
    }
    if args.listen.is_some() {
        print_listening(&local);
    }
    let mut dialing = HashMap::new();
    for target in &args.connect {
        dialing.insert(local.open_target(target)?, target.to_string());
    }
    let mut connected: HashSet<ConnectionId> = HashSet::new();
    let mut lines = stdin_lines();
    // Stdin is read only once every --connect has its outcome, so no early line is lost.
    let mut stdin_open = true;
    let mut leaving: Option<Instant> = None;
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    loop {
        tokio::select! {
            event = local.next_event() => {
                let event = event?;
                local.print(&event);
                match event {
                    GraphEvent::DirectConnection(change) => {
                        let id = change.connection;
                        match change.status {
                            ConnectionStatus::Connected(_) => {
                                dialing.remove(&id);
                                connected.insert(id);
                            }
                            ConnectionStatus::Failed(reason) => {
                                if let Some(target) = dialing.remove(&id) {
                                    return Err(Failure::connect(&target, reason));
                                }
                            }
                            _ => {
                                connected.remove(&id);
                            }
                        }
                    }
                    GraphEvent::IncomingData(data) => {
                        let from = local.peers.get(&data.connection).cloned().unwrap_or_default();
                        let reply = match Message::decode(data.type_id, data.data) {
                            Ok(Message::Text(text)) => {
                                println!("<{}> {}", Shown(&from), Shown(&text));
                                Some(Ack::Ok { sha256: sha256(text.as_bytes()) })
                            }
                            Ok(Message::FileEnd { .. }) => Some(Ack::Err("chat does not accept files".into())),
                            Ok(Message::Bye) => {
                                let _ = local.node.close_direct_connection(local.graph, data.connection);
                                None
                            }
                            _ => None,
                        };
                        if let Some(ack) = reply {
                            let _ = local.send(data.connection, Message::Ack(ack)).await;
                        }
                    }
                    _ => {}
                }
            }
            line = lines.recv(), if stdin_open && dialing.is_empty() => match line {
                Some(line) => {
                    for &id in &connected {
                        // A peer that left meanwhile shows up as its Disconnected event.
                        let _ = local.send(id, Message::Text(line.clone())).await;
                    }
                }
                None => {
                    stdin_open = false;
                    for &id in &connected {
                        let _ = local.send(id, Message::Bye).await;
                    }
                    leaving = Some(Instant::now() + BYE_PATIENCE);
                }
            },
            () = sleep_until(leaving), if leaving.is_some() => {
                for &id in &connected {
                    let _ = local.node.close_direct_connection(local.graph, id);
                }
                linger(&local.node).await;
                return Ok(());
            }
            _ = &mut interrupt => {
                local.node.shutdown().map_err(Failure::other)?;
                linger(&local.node).await;
                return Ok(());
            }
        }
        if !stdin_open && connected.is_empty() && dialing.is_empty() {
            return Ok(());
        }
    }
}

/// Waits until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Stdin lines on a plain thread: tokio's stdin would keep the runtime from shutting down while
/// a read blocks.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(64);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

//! `peergraph chat`: a room for the whole graph, as the GraphChat sample is. Each stdin line is
//! a chat record flooded to every node (a node that joins later sees the history once it has
//! synchronized); `/w PEER TEXT` whispers to one peer over a direct connection.

use std::collections::HashMap;
use std::io::BufRead;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use peergraph::{
    ConnectionId, ConnectionStatus, GraphEvent, Record, RecordChangeKind, RecordContent,
};
use tokio::sync::mpsc;

use crate::cli::{ChatArgs, Target};
use crate::exit::{Failure, Outcome};
use crate::listen::print_listening;
use crate::node::{LocalNode, linger};
use crate::shown::Shown;
use crate::transfer::{Ack, Message, sha256};

/// The record type of chat lines.
const CHAT_TYPE: &str = "graphchat";

/// How long a chat line stays in the room.
const CHAT_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

pub(crate) async fn run(args: ChatArgs) -> Outcome {
    let chat_type = crate::records::record_type(CHAT_TYPE).expect("a valid type name");
    let mut local = LocalNode::start(&args.node, args.listen, true).await?;
    local.show_records = false;
    if args.listen.is_some() {
        print_listening(&local);
    }
    if !local.bootstraps.is_empty() {
        local.join().await?;
    }
    let mut history = local
        .node
        .enum_records(local.graph, Some(chat_type), None)
        .map_err(Failure::other)?;
    history.sort_by_key(|record| record.created_at);
    for record in &history {
        println!("{}", chat_line(record));
    }
    // Whisper connections by peer id, and lines waiting for theirs to open.
    let mut whispers: HashMap<String, ConnectionId> = HashMap::new();
    let mut waiting: HashMap<ConnectionId, Vec<String>> = HashMap::new();
    let mut lines = stdin_lines();
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    loop {
        tokio::select! {
            event = local.next_event() => {
                let event = event?;
                local.print(&event);
                match event {
                    GraphEvent::RecordChanged(change) if change.change == RecordChangeKind::Added
                        && change.record_type == chat_type =>
                    {
                        if let Ok(record) = local.node.get_record(local.graph, change.record_id) {
                            if record.author != local.node.identity() {
                                println!("{}", chat_line(&record));
                            }
                        }
                    }
                    GraphEvent::DirectConnection(change) => match change.status {
                        ConnectionStatus::Connected(_) => {
                            for text in waiting.remove(&change.connection).unwrap_or_default() {
                                let _ = local.send(change.connection, Message::Text(text)).await;
                            }
                        }
                        _ => {
                            waiting.remove(&change.connection);
                            whispers.retain(|_, id| *id != change.connection);
                        }
                    },
                    GraphEvent::IncomingData(data) => {
                        let from = local.peers.get(&data.connection).cloned().unwrap_or_default();
                        if let Ok(Message::Text(text)) = Message::decode(data.type_id, data.data) {
                            println!("<{}> (whisper) {}", Shown(&from), Shown(&text));
                            let ack = Ack::Ok { sha256: sha256(text.as_bytes()) };
                            let _ = local.send(data.connection, Message::Ack(ack)).await;
                        }
                    }
                    GraphEvent::ConnectionRequired => {
                        local.connect_bootstraps();
                    }
                    _ => {}
                }
            }
            line = lines.recv() => match line {
                Some(line) => match line.strip_prefix("/w ") {
                    Some(whisper) => {
                        whisper_to(&mut local, &mut whispers, &mut waiting, whisper).await;
                    }
                    None if line.trim().is_empty() => {}
                    None => {
                        let content = RecordContent {
                            record_type: chat_type,
                            attributes: Vec::new(),
                            data: Bytes::from(line),
                            expires_at: SystemTime::now() + CHAT_LIFETIME,
                        };
                        if let Err(error) = local.node.add_record(local.graph, content) {
                            println!("[{}] not sent: {error}", local.peer_id);
                        }
                    }
                },
                None => break,
            },
            _ = &mut interrupt => break,
        }
    }
    local.node.shutdown().map_err(Failure::other)?;
    linger(&local.node).await;
    Ok(())
}

/// `/w PEER TEXT`: sends TEXT to PEER over a direct connection (opened by peer id the first
/// time).
async fn whisper_to(
    local: &mut LocalNode,
    whispers: &mut HashMap<String, ConnectionId>,
    waiting: &mut HashMap<ConnectionId, Vec<String>>,
    whisper: &str,
) {
    let Some((peer, text)) = whisper.trim().split_once(' ') else {
        println!("[{}] usage: /w PEER TEXT", local.peer_id);
        return;
    };
    let text = text.trim().to_owned();
    if let Some(&id) = whispers.get(peer) {
        match waiting.get_mut(&id) {
            Some(queue) => queue.push(text),
            None => {
                let _ = local.send(id, Message::Text(text)).await;
            }
        }
        return;
    }
    match local.open_target(&Target::Named(peer.to_owned())) {
        Ok(id) => {
            whispers.insert(peer.to_owned(), id);
            waiting.insert(id, vec![text]);
        }
        Err(failure) => println!("[{}] cannot whisper: {failure}", local.peer_id),
    }
}

/// `<PEER#IDENTITY> TEXT`: the author's peer id (a claim) and the start of the identity that
/// signed the line.
fn chat_line(record: &Record) -> String {
    let identity = record.author.to_string();
    format!(
        "<{}#{}> {}",
        Shown(&record.creator_id),
        &identity[..8],
        Shown(&String::from_utf8_lossy(&record.data))
    )
}

/// Stdin lines on a plain thread: tokio's stdin would keep the runtime from shutting down while
/// a read blocks.
pub(crate) fn stdin_lines() -> mpsc::Receiver<String> {
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

//! `peergraph demo`: a small graph forms on loopback in one process (bob creates it, carol joins
//! through bob, alice through carol and so learns of bob from the graph), bob adds a record
//! that floods to alice through carol, then alice opens a direct connection to bob by name
//! alone; data both ways, close, with every event printed and the figures at the end.

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use peergraph::{
    Config, ConnectionId, ConnectionStatus, Direction, GraphConfig, GraphEvent, Limits, PeerGraph,
    TransportKind,
};

use crate::cli::{DemoArgs, Target};
use crate::exit::{ErrorClass, Failure, Outcome};
use crate::node::{GRAPH_EVENTS, LocalNode};

/// The type id of demo messages.
const DEMO_TYPE: [u8; 16] = *b"peergraph.demo\0\0";
/// Data events printed in full per direction before the rest is counted.
const SHOWN: u32 = 3;
/// The longest any one step may take before the demo gives up.
const PATIENCE: Duration = Duration::from_secs(120);

/// What one direction measured.
struct Leg {
    elapsed: Duration,
    intact: u32,
}

pub(crate) async fn run(args: DemoArgs) -> Outcome {
    let max = Limits::default().max_message_size;
    if args.size > max {
        return Err(Failure::new(
            ErrorClass::Usage,
            format!(
                "--size {} exceeds the maximum message size of {max} bytes",
                args.size
            ),
        ));
    }
    let kind = TransportKind::from(args.transport);
    println!(
        "demo over {kind}: {} messages of {} bytes each way between alice and bob on loopback",
        args.messages, args.size
    );
    let node = |kind| PeerGraph::new(Config::new(kind)).map_err(Failure::other);
    let loopback = "127.0.0.1:0".parse().ok();
    let mut bob = LocalNode::with_graph(
        node(kind)?,
        GraphConfig::new("demo", "bob"),
        loopback,
        false,
        GRAPH_EVENTS,
    )
    .await?;
    let bob_at = bob
        .locator()
        .ok_or_else(|| Failure::other("bob is not listening"))?;
    println!("[bob] created graph `demo`, listening at {bob_at}");
    let mut carol = LocalNode::with_graph(
        node(kind)?,
        GraphConfig::new("demo", "carol"),
        loopback,
        true,
        GRAPH_EVENTS,
    )
    .await?;
    carol.bootstraps = vec![bob_at];
    println!("[carol] joining through bob");
    within("carol joining", carol.join()).await??;
    let carol_at = carol
        .locator()
        .ok_or_else(|| Failure::other("carol is not listening"))?;
    let mut alice = LocalNode::with_graph(
        node(kind)?,
        GraphConfig::new("demo", "alice"),
        None,
        true,
        GRAPH_EVENTS,
    )
    .await?;
    alice.bootstraps = vec![carol_at];
    println!("[alice] joining through carol");
    within("alice joining", alice.join()).await??;

    let flooded = Instant::now();
    let added = crate::records::run_command(&bob, "add type:demo greeting=hello a record from bob");
    let record = added
        .first()
        .and_then(|line| line.strip_prefix("added "))
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| Failure::other(format!("bob could not add a record: {added:?}")))?;
    println!("[bob] added record {record}, which floods to every node");
    within("the record reaching alice", wait_record(&mut alice, record)).await??;
    let flood_latency = flooded.elapsed();

    let opened = Instant::now();
    let alice_id = alice.open_target(&Target::Named("bob".into()))?;
    println!(
        "[alice] opening connection #{} to bob, found in the graph",
        alice_id.get()
    );
    within(
        "alice's connection",
        wait_connected(&mut alice, Direction::Outbound),
    )
    .await??;
    let open_latency = opened.elapsed();
    let bob_id = within(
        "bob's connection",
        wait_connected(&mut bob, Direction::Inbound),
    )
    .await??;

    let there = exchange(&alice, alice_id, &mut bob, bob_id, &args).await?;
    let back = exchange(&bob, bob_id, &mut alice, alice_id, &args).await?;

    alice
        .node
        .close_direct_connection(alice.graph, alice_id)
        .map_err(Failure::other)?;
    within("alice's disconnect", wait_terminal(&mut alice, alice_id)).await??;
    within("bob's disconnect", wait_terminal(&mut bob, bob_id)).await??;

    let total = 2 * args.messages;
    let intact = there.intact + back.intact;
    println!("summary ({kind}):");
    println!(
        "  record flood   {:.3} ms from bob to alice, through carol",
        flood_latency.as_secs_f64() * 1e3
    );
    println!(
        "  open latency   {:.3} ms",
        open_latency.as_secs_f64() * 1e3
    );
    println!("  alice -> bob   {}", figures(&there, &args));
    println!("  bob -> alice   {}", figures(&back, &args));
    println!("  intact         {intact} of {total} messages");
    if intact == total {
        Ok(())
    } else {
        Err(Failure::new(
            ErrorClass::TransferFailed,
            format!(
                "{} of {total} messages did not arrive intact",
                total - intact
            ),
        ))
    }
}

/// Waits until `node` has the record `id`, printing every event.
async fn wait_record(node: &mut LocalNode, id: peergraph::RecordId) -> Result<(), Failure> {
    loop {
        let event = node.next_event().await?;
        node.print(&event);
        if let GraphEvent::RecordChanged(change) = event {
            if change.record_id == id {
                return Ok(());
            }
        }
    }
}

fn figures(leg: &Leg, args: &DemoArgs) -> String {
    let seconds = leg.elapsed.as_secs_f64().max(1e-9);
    let bytes = f64::from(args.messages) * args.size as f64;
    format!(
        "{} messages in {:.1} ms: {:.1} MiB/s, {:.0} messages/s",
        args.messages,
        seconds * 1e3,
        bytes / seconds / f64::from(1 << 20),
        f64::from(args.messages) / seconds
    )
}

/// The demo payload of message `seq`: a pattern that differs per message, so reordering or
/// corruption shows up.
fn payload(seq: u32, size: usize) -> Bytes {
    let seed = (seq as usize).wrapping_mul(31);
    (0..size).map(|i| seed.wrapping_add(i) as u8).collect()
}

/// Sends the messages one way and checks them on the other side, concurrently.
async fn exchange(
    sender: &LocalNode,
    from: ConnectionId,
    receiver: &mut LocalNode,
    to: ConnectionId,
    args: &DemoArgs,
) -> Result<Leg, Failure> {
    let (count, size) = (args.messages, args.size);
    let started = Instant::now();
    let send = async {
        for seq in 0..count {
            sender
                .node
                .send_data(sender.graph, from, DEMO_TYPE, payload(seq, size))
                .await
                .map_err(|error| Failure::new(ErrorClass::TransferFailed, error.to_string()))?;
        }
        Ok::<_, Failure>(())
    };
    let receive = async {
        let (mut seq, mut intact) = (0, 0);
        while seq < count {
            let event = receiver.next_event().await?;
            receiver.print(&event);
            match event {
                GraphEvent::IncomingData(data) if data.connection == to => {
                    let ok = data.type_id == DEMO_TYPE && data.data == payload(seq, size);
                    intact += u32::from(ok);
                    seq += 1;
                    if seq <= SHOWN {
                        let verdict = if ok { "intact" } else { "CORRUPT" };
                        println!(
                            "[{}] data on connection #{}: {} bytes, message {seq} of {count}, {verdict}",
                            receiver.peer_id,
                            to.get(),
                            data.data.len()
                        );
                    }
                }
                event if event.is_terminal() => {
                    return Err(Failure::new(ErrorClass::TransferFailed, "connection lost"));
                }
                _ => {}
            }
        }
        if count > SHOWN {
            println!(
                "[{}] … {} more data events on connection #{} ({intact} of {count} intact)",
                receiver.peer_id,
                count - SHOWN,
                to.get()
            );
        }
        Ok(Leg {
            elapsed: started.elapsed(),
            intact,
        })
    };
    let (sent, received) = within("the exchange", async { tokio::join!(send, receive) }).await?;
    sent?;
    received
}

/// Waits for the next connection in `direction` to come up.
async fn wait_connected(
    local: &mut LocalNode,
    direction: Direction,
) -> Result<ConnectionId, Failure> {
    loop {
        let event = local.next_event().await?;
        local.print(&event);
        if let GraphEvent::DirectConnection(change) = event {
            match change.status {
                ConnectionStatus::Connected(remote) if remote.direction == direction => {
                    return Ok(change.connection);
                }
                ConnectionStatus::Failed(reason) => return Err(Failure::connect("bob", reason)),
                _ => {}
            }
        }
    }
}

/// Waits for `id`'s terminal event.
async fn wait_terminal(local: &mut LocalNode, id: ConnectionId) -> Result<(), Failure> {
    loop {
        let event = local.next_event().await?;
        local.print(&event);
        if let GraphEvent::DirectConnection(change) = &event {
            if change.connection == id && event.is_terminal() {
                return Ok(());
            }
        }
    }
}

async fn within<T>(what: &str, future: impl Future<Output = T>) -> Result<T, Failure> {
    tokio::time::timeout(PATIENCE, future).await.map_err(|_| {
        Failure::new(
            ErrorClass::TimedOut,
            format!("timed out waiting for {what}"),
        )
    })
}

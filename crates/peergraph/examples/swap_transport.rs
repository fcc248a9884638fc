//! Two nodes exchange a message over the transport named on the command line; the only line
//! that differs between TCP and QUIC is the `Config::new(kind)` below.
//!
//! Run with `cargo run -p peergraph --example swap_transport -- quic` (or `tcp`).

#![allow(missing_docs)]

use peergraph::{
    Config, ConnectionStatus, EventType, GraphConfig, GraphEvent, PEER_GRAPH_VERSION, PeerGraph,
    TransportKind,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let kind: TransportKind = std::env::args()
        .nth(1)
        .as_deref()
        .unwrap_or("quic")
        .parse()?;
    let events = [EventType::DirectConnection, EventType::IncomingData];

    let bob = PeerGraph::new(Config::new(kind))?; // <- the one line that picks the transport
    bob.startup(PEER_GRAPH_VERSION)?;
    bob.listen("127.0.0.1:0".parse()?).await?;
    let bob_graph = bob.create_graph(GraphConfig::new("example", "bob"))?;
    let mut bob_events = bob.register_event(bob_graph, &events)?;

    let alice = PeerGraph::new(Config::new(kind))?;
    alice.startup(PEER_GRAPH_VERSION)?;
    let alice_graph = alice.create_graph(GraphConfig::new("example", "alice"))?;
    let mut alice_events = alice.register_event(alice_graph, &events)?;

    let bob_at = bob.locator("bob").ok_or("bob listens")?;
    println!("alice -> {bob_at} over {kind}");
    let id = alice.open_direct_connection(alice_graph, &bob_at.peer_id, bob_at.address)?;
    while let Some(event) = alice_events.next().await {
        if let GraphEvent::DirectConnection(change) = event {
            println!("alice: {}: {:?}", change.connection, change.status);
            match change.status {
                ConnectionStatus::Connected(_) => break,
                _ => return Err("connection failed".into()),
            }
        }
    }
    alice
        .send_data(
            alice_graph,
            id,
            *b"example-message!",
            &b"hello over a swappable link"[..],
        )
        .await?;
    while let Some(event) = bob_events.next().await {
        if let GraphEvent::IncomingData(data) = event {
            println!(
                "bob: {}: {:?}",
                data.connection,
                String::from_utf8_lossy(&data.data)
            );
            break;
        }
    }
    alice.close_direct_connection(alice_graph, id)?;
    while let Some(event) = bob_events.next().await {
        if let GraphEvent::DirectConnection(change) = event {
            println!("bob: {}: {:?}", change.connection, change.status);
            break;
        }
    }
    Ok(())
}

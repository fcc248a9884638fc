//! peergraph beside rust-libp2p, iroh and the raw transports, doing the same work in the same
//! runtime layout. `cargo xtask bench --peers` runs this binary once per stack and figure (a
//! fresh process each) and tabulates the JSON lines it prints.
//!
//! ```text
//! peers figure --stack STACK --figure open_latency|throughput|small_messages|round_trip
//! peers memory --stack STACK --count N
//! ```
//!
//! STACK is one of `peergraph-tcp`, `peergraph-quic`, `libp2p-tcp`, `libp2p-quic`, `iroh`,
//! `raw-tcp`, `raw-quic`. See `README.md` for how each is configured.

mod figures;
mod memory;
mod p2p;
mod stacks;

use peergraph::TransportKind;
use peergraph_benches::loopback::LAYOUT;

use crate::figures::{Figure, Stack};
use crate::stacks::Kind;

fn stack(name: &str) -> Stack {
    match name {
        "peergraph-tcp" => Stack::Peergraph(TransportKind::Tcp),
        "peergraph-quic" => Stack::Peergraph(TransportKind::Quic),
        "libp2p-tcp" => Stack::Stream(Kind::Libp2pTcp),
        "libp2p-quic" => Stack::Stream(Kind::Libp2pQuic),
        "iroh" => Stack::Stream(Kind::Iroh),
        "raw-tcp" => Stack::Stream(Kind::RawTcp),
        "raw-quic" => Stack::Stream(Kind::RawQuic),
        _ => usage(&format!("unknown stack {name}")),
    }
}

fn figure(name: &str) -> Figure {
    match name {
        "open_latency" => Figure::OpenLatency,
        "throughput" => Figure::Throughput,
        "small_messages" => Figure::SmallMessages,
        "round_trip" => Figure::RoundTrip,
        _ => usage(&format!("unknown figure {name}")),
    }
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "{problem}\nusage: peers figure --stack STACK --figure FIGURE\n       \
         peers memory --stack STACK --count N"
    );
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        usage("no command");
    };
    let option = |name: &str| {
        rest.iter()
            .position(|arg| arg == name)
            .and_then(|at| rest.get(at + 1))
            .map(String::as_str)
            .unwrap_or_else(|| usage(&format!("missing {name}")))
    };
    let stack_name = option("--stack");
    let stack = stack(stack_name);
    match command.as_str() {
        "figure" => {
            let figure_name = option("--figure");
            let figure = figure(figure_name);
            eprintln!("peers: {stack_name} {figure_name} ({LAYOUT})");
            let value = figures::measure(stack, figure);
            println!(
                "{{\"stack\": \"{stack_name}\", \"figure\": \"{figure_name}\", \
                 \"value\": {value}, \"unit\": \"{}\"}}",
                figure.unit()
            );
        }
        "memory" | "serve" => {
            let count: usize = option("--count")
                .parse()
                .unwrap_or_else(|_| usage("--count takes a number"));
            memory::raise_open_file_limit();
            if command == "serve" {
                memory::serve(stack, count);
                return;
            }
            eprintln!("peers: {stack_name} memory, {count} connections");
            let held = memory::measure(stack, stack_name, count);
            println!(
                "{{\"stack\": \"{stack_name}\", \"figure\": \"memory\", \"count\": {count}, \
                 \"open_seconds\": {}, \"bytes_per_connection\": {}, \"held_mib\": {}}}",
                held.open_seconds, held.bytes_per_connection, held.held_mib
            );
        }
        other => usage(&format!("unknown command {other}")),
    }
}

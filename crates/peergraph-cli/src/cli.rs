//! The command line: subcommands and their options.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use peergraph::{PeerLocator, TransportKind};

/// Peer graph direct connections from the command line.
#[derive(Debug, Parser)]
#[command(name = "peergraph", version, after_help = crate::exit::help_table())]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Two nodes on loopback: connect, exchange data both ways, close, print events and figures.
    #[command(after_help = crate::exit::help_table())]
    Demo(DemoArgs),
    /// Accept direct connections; print text messages and save received files.
    #[command(after_help = crate::exit::help_table())]
    Listen(ListenArgs),
    /// Send one text message or one file to a listening peer and wait for its confirmation.
    #[command(after_help = crate::exit::help_table())]
    Send(SendArgs),
    /// A chat room for the whole graph (GraphChat): each stdin line is a record every node
    /// prints, a node that joins later prints the history, and `/w PEER TEXT` whispers to one
    /// peer over a direct connection. Without --bootstrap this node opens the room.
    #[command(after_help = crate::exit::help_table())]
    Chat(ChatArgs),
    /// Stay in a graph: keep neighbors, print node, neighbor and record events, accept direct
    /// connections as `listen` does, and take record commands on stdin (`add`, `update`,
    /// `delete`, `get`, `list`, `search`, `export`, `import`, `stats`, `properties`, `name`,
    /// `comment`; see USAGE.md). Without
    /// --bootstrap this node starts the graph.
    #[command(after_help = crate::exit::help_table())]
    Join(ListenArgs),
    /// Join a graph through --bootstrap, print its nodes once synchronized, and leave.
    #[command(after_help = crate::exit::help_table())]
    Nodes(NodesArgs),
    /// Graph secrets.
    #[command(subcommand)]
    Secret(SecretCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum SecretCommand {
    /// Write a new random graph secret (256 bits, as 64 hex digits) to a file that does not exist
    /// yet, readable by its owner only; give it to every member with `--secret-file`.
    #[command(after_help = crate::exit::help_table())]
    New {
        /// The file to create.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// The transports, as command-line values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum Transport {
    /// TLS 1.3 over TCP.
    #[default]
    Tcp,
    /// QUIC.
    Quic,
}

impl From<Transport> for TransportKind {
    fn from(transport: Transport) -> Self {
        match transport {
            Transport::Tcp => TransportKind::Tcp,
            Transport::Quic => TransportKind::Quic,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Transport between the two nodes.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) transport: Transport,
    /// Messages sent each way.
    #[arg(long, default_value_t = 1000)]
    pub(crate) messages: u32,
    /// Bytes per message (at most 16 MiB).
    #[arg(long, default_value_t = 1024)]
    pub(crate) size: usize,
}

/// Who this node is: shared by `listen`, `send` and `chat`.
#[derive(Debug, Args)]
pub(crate) struct NodeArgs {
    /// Graph id (both sides must use the same).
    #[arg(long, value_name = "GRAPH")]
    pub(crate) graph: String,
    /// This node's peer id in the graph.
    #[arg(long, value_name = "ID")]
    pub(crate) peer_id: String,
    /// Transport (both sides must use the same).
    #[arg(long, value_enum, default_value_t)]
    pub(crate) transport: Transport,
    /// File holding the graph secret (trailing whitespace ignored); peers must hold the same.
    #[arg(long, value_name = "FILE")]
    pub(crate) secret_file: Option<PathBuf>,
    /// Directory keeping this node's key pair, so its identity survives restarts (created if
    /// missing). Without it the identity is new on every run.
    #[arg(long, value_name = "DIR")]
    pub(crate) identity_dir: Option<PathBuf>,
    /// Seconds an outgoing connection may take to be established.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub(crate) connect_timeout: u64,
    /// Join the graph through this member (repeatable): the node keeps neighbors, learns every
    /// node of the graph, and can reach peers by peer id alone.
    #[arg(long, value_name = "PEER@HOST:PORT[#IDENTITY]")]
    pub(crate) bootstrap: Vec<PeerLocator>,
    /// The address other nodes dial to reach this one (repeatable), when it is not the listen
    /// address (a wildcard such as 0.0.0.0, or a port mapping).
    #[arg(long, value_name = "ADDR")]
    pub(crate) advertise: Vec<SocketAddr>,
    /// Free text other nodes see with this node (`set_node_attributes`).
    #[arg(long, value_name = "TEXT")]
    pub(crate) attributes: Option<String>,
    /// Seconds this node's presence lasts without a refresh: a node that vanishes drops out of
    /// the others' lists within it.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub(crate) presence_lifetime: u64,
    /// Directory keeping the graph's records (a database per graph and peer id), so they
    /// survive restarts; a node started again opens the graph from it. Without it records are
    /// kept in memory.
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ListenArgs {
    #[command(flatten)]
    pub(crate) node: NodeArgs,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub(crate) listen: SocketAddr,
    /// Directory where received files are saved.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub(crate) save_dir: PathBuf,
    /// Replace an existing file of the same name (without it, such a transfer is refused).
    #[arg(long)]
    pub(crate) overwrite: bool,
    /// Refuse a file announced larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 4 << 30)]
    pub(crate) max_file_size: u64,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("payload").required(true).args(["message", "file"]))]
pub(crate) struct SendArgs {
    #[command(flatten)]
    pub(crate) node: NodeArgs,
    /// The peer to send to: a locator, or with --bootstrap a peer id found in the graph.
    #[arg(long, value_name = "PEER@HOST:PORT[#IDENTITY] | PEER")]
    pub(crate) to: Target,
    /// Send this text as one message.
    #[arg(long, value_name = "TEXT")]
    pub(crate) message: Option<String>,
    /// Send this file.
    #[arg(long, value_name = "PATH")]
    pub(crate) file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct NodesArgs {
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// A peer to reach: at a locator, or by its peer id in the graph.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    At(PeerLocator),
    Named(String),
}

impl std::str::FromStr for Target {
    type Err = peergraph::LocatorError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.contains('@') {
            text.parse().map(Self::At)
        } else {
            Ok(Self::Named(text.to_owned()))
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::At(locator) => locator.fmt(f),
            Self::Named(peer_id) => f.write_str(peer_id),
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct ChatArgs {
    #[command(flatten)]
    pub(crate) node: NodeArgs,
    /// Accept peers on this address (prints `listening: LOCATOR`).
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<SocketAddr>,
}

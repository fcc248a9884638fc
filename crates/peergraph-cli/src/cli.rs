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
    /// Line-based chat: stdin lines go to every connected peer, received lines go to stdout.
    #[command(after_help = crate::exit::help_table())]
    Chat(ChatArgs),
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
    /// The peer to send to.
    #[arg(long, value_name = "PEER@HOST:PORT[#IDENTITY]")]
    pub(crate) to: PeerLocator,
    /// Send this text as one message.
    #[arg(long, value_name = "TEXT")]
    pub(crate) message: Option<String>,
    /// Send this file.
    #[arg(long, value_name = "PATH")]
    pub(crate) file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ChatArgs {
    #[command(flatten)]
    pub(crate) node: NodeArgs,
    /// Accept peers on this address (prints `listening: LOCATOR`).
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<SocketAddr>,
    /// Connect to this peer before reading stdin (repeatable).
    #[arg(long, value_name = "PEER@HOST:PORT[#IDENTITY]")]
    pub(crate) connect: Vec<PeerLocator>,
}

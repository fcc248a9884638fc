//! `peergraph`: a loopback demo, and real nodes that listen, send files and chat over
//! peergraph direct connections. See USAGE.md for the commands, the file protocol and the exit
//! codes.

mod chat;
mod cli;
mod demo;
mod exit;
mod graph;
mod listen;
mod node;
mod records;
mod save;
mod secret;
mod send;
mod shown;
mod transfer;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::cli::{Cli, Command, SecretCommand};
use crate::exit::{ErrorClass, Failure};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return report(&Failure::other(format!(
                "cannot start the runtime: {error}"
            )));
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Demo(args) => demo::run(args).await,
            Command::Listen(args) => listen::run(args, false).await,
            Command::Send(args) => send::run(args).await,
            Command::Chat(args) => chat::run(args).await,
            Command::Join(args) => listen::run(args, true).await,
            Command::Nodes(args) => graph::nodes(args).await,
            Command::Secret(SecretCommand::New { file }) => secret::new(&file),
        }
    });
    drop(runtime);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => report(&failure),
    }
}

fn report(failure: &Failure) -> ExitCode {
    eprintln!("peergraph: error: {failure}");
    failure.exit_code()
}

/// Help and version go to stdout with success; anything else is one line and exit code 2.
fn usage_error(error: &clap::Error) -> ExitCode {
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = error.print();
        return if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::from(ErrorClass::Usage.exit_code())
        } else {
            ExitCode::SUCCESS
        };
    }
    // clap's message is a headline plus indented details, then usage: fold the first two.
    let text = error.render().to_string();
    let line = text
        .lines()
        .take_while(|line| !line.trim().is_empty() && !line.starts_with("Usage:"))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    let line = line.trim_start_matches("error: ");
    report(&Failure::new(
        ErrorClass::Usage,
        format!("{line} (see --help)"),
    ))
}

/// Logs only when `RUST_LOG` asks for them, on stderr.
fn init_logging() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
}

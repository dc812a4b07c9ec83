//! The `slipway` command line: argument parsing, output and exit codes only.
//! Every engine lives in a library crate; this crate turns their values and
//! errors into text and exit codes.

mod cmd;
mod exit;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::cmd::Command;

/// Slipway: Git to running environments, safely.
///
/// Policy as code (Kyverno-compatible), manifest risk scoring, supply-chain
/// gates and GitOps delivery in one binary.
#[derive(Debug, Parser)]
#[command(
    name = "slipway",
    version,
    about,
    long_about = None,
    after_help = exit::EXIT_CODES_HELP,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cmd::run(cli.command) {
        Ok(code) => code.into(),
        Err(err) => {
            output::print_error(&err);
            exit::Exit::BadInput.into()
        }
    }
}

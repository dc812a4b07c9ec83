//! The `slipway` command line: argument parsing, output and exit codes only.

use std::process::ExitCode;

use clap::Parser;

/// Slipway: Git to running environments, safely.
#[derive(Debug, Parser)]
#[command(name = "slipway", version, about)]
struct Cli {}

fn main() -> ExitCode {
    let _cli = Cli::parse();
    ExitCode::SUCCESS
}

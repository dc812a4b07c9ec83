//! `slipway policy ...`: Kyverno-compatible policies.

use clap::Subcommand;

use crate::exit::Exit;

/// Policy commands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {}

/// Runs a policy command.
pub fn run(command: PolicyCommand) -> anyhow::Result<Exit> {
    match command {}
}

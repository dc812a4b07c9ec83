//! `slipway vuln ...`: tools around the vulnerability engine (`slipway-vuln`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use slipway_vuln::version::{Ecosystem, check_comparisons};

use crate::exit::Exit;
use crate::output;

/// Vulnerability engine tools.
#[derive(Debug, Subcommand)]
pub enum VulnCommand {
    /// Check an ecosystem's version order against a file of `A < B`, `A = B`, `A > B` lines.
    ///
    /// Each line must hold in both directions. Blank lines and lines starting with
    /// `#` or `//` are skipped. Prints every mismatch, then `N passed, N failed`;
    /// exits 1 when anything failed.
    CompareVersions {
        /// Ecosystem whose order to apply (OSV spelling, e.g. Debian, Alpine, PyPI, npm,
        /// crates.io, Go, Maven, RubyGems, Packagist, NuGet).
        #[arg(long, short)]
        ecosystem: Ecosystem,
        /// File of comparisons.
        file: PathBuf,
    },
}

/// Runs a vuln command.
pub fn run(command: VulnCommand) -> anyhow::Result<Exit> {
    match command {
        VulnCommand::CompareVersions { ecosystem, file } => {
            let text = fs_err::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let report = check_comparisons(ecosystem, &text);
            let mut out = String::new();
            for m in &report.mismatches {
                out.push_str(&format!(
                    "{}:{}: `{}`: {}\n",
                    file.display(),
                    m.line,
                    m.text.trim(),
                    m.problem
                ));
            }
            out.push_str(&format!(
                "{} passed, {} failed\n",
                report.passed,
                report.mismatches.len()
            ));
            output::stdout(&out)?;
            Ok(if report.mismatches.is_empty() {
                Exit::Success
            } else {
                Exit::Findings
            })
        }
    }
}

//! Exit codes, documented in `--help` and the README.

use std::process::ExitCode;

/// The text appended to `slipway --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success: nothing at or above the threshold failed
  1  the check found violations (an Enforce policy rule failed, a test case did not match,
     vulnerabilities at or above the threshold)
  2  bad input or usage: a file, policy or argument could not be read or understood
  (slipway scan manifests follows kubesec: 2 when an object scores below --min-score, 1 on input errors)";

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything passed.
    Success,
    /// The check ran and found something that fails the gate.
    Findings,
    /// The input could not be used.
    BadInput,
    /// A specific code (for commands that follow another tool's convention).
    Code(u8),
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        match e {
            Exit::Success => ExitCode::SUCCESS,
            Exit::Findings => ExitCode::from(1),
            Exit::BadInput => ExitCode::from(2),
            Exit::Code(c) => ExitCode::from(c),
        }
    }
}

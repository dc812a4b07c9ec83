//! Writing to the terminal: results to stdout, diagnostics to stderr.

use std::io::{self, IsTerminal, Write};

/// Writes `text` to stdout. A closed pipe (`slipway ... | head`) is not an error.
pub fn stdout(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Whether stdout is a terminal (colors, progress bars).
pub fn stdout_is_terminal() -> bool {
    io::stdout().is_terminal()
}

/// Prints an error with its chain of causes and any `hint:` the error carries.
pub fn print_error(err: &anyhow::Error) {
    let mut text = format!("error: {err}\n");
    for cause in err.chain().skip(1) {
        text.push_str(&format!("  caused by: {cause}\n"));
    }
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

/// Prints a warning line to stderr.
pub fn warn(message: &str) {
    let _ = writeln!(io::stderr().lock(), "warning: {message}");
}

/// Whether stderr is a terminal (progress bars go there).
pub fn stderr_is_terminal() -> bool {
    io::stderr().is_terminal()
}

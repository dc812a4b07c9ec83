//! The human table: one row per finding with the columns RESULT, SEVERITY, CHECK,
//! OBJECT, LOCATION and MESSAGE, then a summary line.
//!
//! Cell text comes from user files (names, messages with substituted variables),
//! so every control character is replaced before it reaches a terminal: an ANSI
//! escape in a resource name must not be able to rewrite the screen. Widths count
//! `char`s, which aligns everything but double-width scripts; that is acceptable
//! for a table whose cells are mostly ASCII identifiers.

use std::fmt::Write as _;

use crate::{Finding, Outcome, RenderOptions, Report, Severity};

const HEADERS: [&str; 6] = [
    "RESULT", "SEVERITY", "CHECK", "OBJECT", "LOCATION", "MESSAGE",
];
const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";

/// The table, ending with the summary line and a newline. Rows for `pass` and
/// `skip` are shown only with [`RenderOptions::show_passed`].
pub fn render(report: &Report, options: &RenderOptions) -> String {
    let rows: Vec<(&Finding, [String; 6])> = report
        .findings
        .iter()
        .filter(|f| options.show_passed || !matches!(f.result, Outcome::Pass | Outcome::Skip))
        .map(|f| (f, cells(f)))
        .collect();

    let mut widths = HEADERS.map(|h| h.chars().count());
    for (_, row) in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }

    let mut out = String::new();
    if !rows.is_empty() {
        let header = HEADERS.map(str::to_string);
        write_row(&mut out, &header, &widths, |_| {
            options.color.then_some(BOLD)
        });
        for (finding, row) in &rows {
            write_row(&mut out, row, &widths, |column| {
                if !options.color {
                    return None;
                }
                match column {
                    0 => Some(outcome_color(finding.result)),
                    1 => Some(severity_color(finding.severity)),
                    _ => None,
                }
            });
        }
        out.push('\n');
    }
    out.push_str(&summary_line(report, rows.len()));
    out.push('\n');
    out
}

fn cells(f: &Finding) -> [String; 6] {
    let check = match (&f.policy, &f.rule) {
        (Some(policy), Some(rule)) => format!("{policy}/{rule}"),
        _ => f.check_id.to_string(),
    };
    let object = f
        .object
        .as_ref()
        .map_or_else(|| "-".to_string(), ToString::to_string);
    let location = f
        .location
        .as_ref()
        .map_or_else(|| "-".to_string(), |l| format!("{}:{}", l.file, l.line));
    [
        f.result.as_str().to_ascii_uppercase(),
        f.severity.as_str().to_ascii_uppercase(),
        sanitize(&check),
        sanitize(&object),
        sanitize(&location),
        sanitize(&f.message),
    ]
}

/// Writes one row: cells padded to `widths` and separated by two spaces; the last
/// cell is not padded, so lines carry no trailing blanks.
fn write_row(
    out: &mut String,
    row: &[String; 6],
    widths: &[usize; 6],
    color: impl Fn(usize) -> Option<&'static str>,
) {
    let mut line = String::new();
    for (i, cell) in row.iter().enumerate() {
        if i > 0 {
            line.push_str("  ");
        }
        let padding = if i + 1 < row.len() {
            widths[i].saturating_sub(cell.chars().count())
        } else {
            0
        };
        // Colour wraps the text only, so escapes never count towards the width.
        match color(i) {
            Some(code) => {
                let _ = write!(line, "{code}{cell}{RESET}");
            }
            None => line.push_str(cell),
        }
        line.extend(std::iter::repeat_n(' ', padding));
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

fn summary_line(report: &Report, shown: usize) -> String {
    let summary = report.summary();
    let mut line = format!(
        "{} {}: ",
        summary.total,
        if summary.total == 1 {
            "finding"
        } else {
            "findings"
        }
    );
    let parts: Vec<String> = Outcome::ALL
        .iter()
        .map(|o| format!("{} {}", summary.count(*o), o.as_str()))
        .collect();
    line.push_str(&parts.join(", "));
    let failing: Vec<String> = Severity::ALL
        .iter()
        .filter(|s| summary.failing(**s) > 0)
        .map(|s| format!("{} {}", summary.failing(*s), s.as_str()))
        .collect();
    if !failing.is_empty() {
        let _ = write!(line, " (failing: {})", failing.join(", "));
    }
    let hidden = summary.total - shown;
    if hidden > 0 {
        let _ = write!(line, "; {hidden} passed or skipped not shown");
    }
    line
}

fn outcome_color(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Fail => "\x1b[1;31m",
        Outcome::Warn => "\x1b[33m",
        Outcome::Pass => "\x1b[32m",
        Outcome::Error => "\x1b[35m",
        Outcome::Skip => "\x1b[2m",
    }
}

fn severity_color(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "\x1b[1;31m",
        Severity::High => "\x1b[31m",
        Severity::Medium => "\x1b[33m",
        Severity::Low => "\x1b[36m",
        Severity::Info => "\x1b[2m",
    }
}

/// Makes text safe for one table cell: line breaks and tabs become spaces; other
/// control characters and bidirectional overrides (which can reorder what a
/// reader sees) become U+FFFD.
pub(crate) fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if c.is_control() => '\u{FFFD}',
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

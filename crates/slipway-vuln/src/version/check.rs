//! Checking a comparator against a file of expected comparisons (`A < B` lines),
//! the format of the OSV conformance data and of `slipway vuln compare-versions`.

use std::cmp::Ordering;

use super::{Ecosystem, compare};

/// One line whose expectation did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// 1-based line number.
    pub line: usize,
    /// The line as written.
    pub text: String,
    /// What went wrong (the actual orders, or why the line could not be checked).
    pub problem: String,
}

/// Result of checking a comparison file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Lines whose comparison held in both directions.
    pub passed: usize,
    /// Lines that did not.
    pub mismatches: Vec<Mismatch>,
}

fn op_symbol(o: Ordering) -> &'static str {
    match o {
        Ordering::Less => "<",
        Ordering::Equal => "=",
        Ordering::Greater => ">",
    }
}

/// Check every `A <op> B` line of `text` (op one of `<`, `=`, `>`); blank lines
/// and lines starting with `#` or `//` are comments. A line holds when
/// `compare(A, B)` gives op and `compare(B, A)` gives the mirrored op.
pub fn check_comparisons(ecosystem: Ecosystem, text: &str) -> CheckReport {
    let mut report = CheckReport::default();
    for (idx, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("//") {
            continue;
        }
        let mut fail = |problem: String| {
            report.mismatches.push(Mismatch {
                line: idx + 1,
                text: raw.to_owned(),
                problem,
            });
        };
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [a, op, b] = parts.as_slice() else {
            fail("expected `A <op> B`".to_owned());
            continue;
        };
        let expected = match *op {
            "<" => Ordering::Less,
            "=" => Ordering::Equal,
            ">" => Ordering::Greater,
            other => {
                fail(format!("unknown operator `{other}`"));
                continue;
            }
        };
        match (compare(ecosystem, a, b), compare(ecosystem, b, a)) {
            (Ok(x), Ok(y)) if x == expected && y == expected.reverse() => report.passed += 1,
            (Ok(x), Ok(y)) => fail(format!(
                "got {a} {} {b} and {b} {} {a}",
                op_symbol(x),
                op_symbol(y)
            )),
            (Err(e), _) | (_, Err(e)) => fail(e.to_string()),
        }
    }
    report
}

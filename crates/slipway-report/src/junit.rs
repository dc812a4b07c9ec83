//! JUnit XML output, for CI test-report viewers (GitLab, Jenkins, GitHub actions
//! that read JUnit).
//!
//! Layout: `<testsuites>` holds one `<testsuite>` per source, and per policy for
//! policy findings (`policy/require-labels`, `kubesec`, `secrets`), in order of
//! first appearance. Each suite holds one `<testcase>` per (check, subject), where
//! the subject is the object (`Deployment/shop/web`), else the file, else `-`;
//! several findings of one pair (a secret found on two lines of a file) are one
//! test case. A case with any `fail` has a `<failure>`; else any `error` gives an
//! `<error>`; a case whose findings are all `skip` is `<skipped/>`; anything else
//! passes, with `warn` messages in `<system-out>`. Every suite and the root carry
//! `tests`, `failures`, `errors` and `skipped` counts.
//!
//! XML 1.0 cannot carry most control characters even as character references, so
//! they are written as visible `\uXXXX` text; markup characters are escaped, and
//! line breaks in attributes become character references so parsers keep them.

use std::fmt::Write as _;

use crate::{Finding, Outcome, Report};

struct Case<'a> {
    name: String,
    classname: String,
    findings: Vec<&'a Finding>,
}

struct Suite<'a> {
    name: String,
    cases: Vec<Case<'a>>,
}

#[derive(Default, Clone, Copy)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.tests += other.tests;
        self.failures += other.failures;
        self.errors += other.errors;
        self.skipped += other.skipped;
    }

    fn attributes(self) -> String {
        format!(
            r#"tests="{}" failures="{}" errors="{}" skipped="{}""#,
            self.tests, self.failures, self.errors, self.skipped
        )
    }
}

enum Verdict {
    Failure,
    Error,
    Skipped,
    Passed,
}

impl Case<'_> {
    fn verdict(&self) -> Verdict {
        let any = |o: Outcome| self.findings.iter().any(|f| f.result == o);
        if any(Outcome::Fail) {
            Verdict::Failure
        } else if any(Outcome::Error) {
            Verdict::Error
        } else if self.findings.iter().all(|f| f.result == Outcome::Skip) {
            Verdict::Skipped
        } else {
            Verdict::Passed
        }
    }
}

/// The JUnit XML document, with a final newline.
pub fn render(report: &Report) -> String {
    let suites = group(report);
    let mut total = Counts::default();
    let mut body = String::new();
    for suite in &suites {
        let mut counts = Counts::default();
        let mut cases = String::new();
        for case in &suite.cases {
            counts.tests += 1;
            match case.verdict() {
                Verdict::Failure => counts.failures += 1,
                Verdict::Error => counts.errors += 1,
                Verdict::Skipped => counts.skipped += 1,
                Verdict::Passed => {}
            }
            write_case(&mut cases, case);
        }
        total.add(counts);
        let _ = writeln!(
            body,
            r#"  <testsuite name="{}" {}>"#,
            attr(&suite.name),
            counts.attributes()
        );
        body.push_str(&cases);
        body.push_str("  </testsuite>\n");
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        r#"<testsuites name="{}" {}>"#,
        attr(&report.tool.name),
        total.attributes()
    );
    out.push_str(&body);
    out.push_str("</testsuites>\n");
    out
}

fn group(report: &Report) -> Vec<Suite<'_>> {
    let mut suites: Vec<Suite<'_>> = Vec::new();
    for f in &report.findings {
        let suite_name = match &f.policy {
            Some(policy) => format!("{}/{}", f.source, policy),
            None => f.source.to_string(),
        };
        let subject = match (&f.object, &f.location) {
            (Some(o), _) => o.to_string(),
            // Forward slashes, so one file has one name whatever the OS.
            (None, Some(loc)) => loc.file.replace('\\', "/"),
            (None, None) => "-".to_string(),
        };
        let case_name = format!("{} {}", f.rule_name(), subject);
        let suite = match suites.iter().position(|s| s.name == suite_name) {
            Some(i) => &mut suites[i],
            None => {
                suites.push(Suite {
                    name: suite_name.clone(),
                    cases: Vec::new(),
                });
                let last = suites.len() - 1;
                &mut suites[last]
            }
        };
        match suite.cases.iter_mut().find(|c| c.name == case_name) {
            Some(case) => case.findings.push(f),
            None => suite.cases.push(Case {
                name: case_name,
                classname: format!("{}.{}", report.tool.name, suite_name.replace('/', ".")),
                findings: vec![f],
            }),
        }
    }
    suites
}

fn write_case(out: &mut String, case: &Case<'_>) {
    let _ = write!(
        out,
        r#"    <testcase name="{}" classname="{}""#,
        attr(&case.name),
        attr(&case.classname)
    );
    let with = |outcomes: &[Outcome]| -> Vec<&Finding> {
        case.findings
            .iter()
            .copied()
            .filter(|f| outcomes.contains(&f.result))
            .collect()
    };
    match case.verdict() {
        Verdict::Failure => {
            let failing = with(&[Outcome::Fail, Outcome::Error, Outcome::Warn]);
            element(out, "failure", &failing);
        }
        Verdict::Error => element(out, "error", &with(&[Outcome::Error, Outcome::Warn])),
        Verdict::Skipped => {
            let message = case.findings.first().map_or("", |f| f.message.as_str());
            let _ = write!(
                out,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                attr(message)
            );
        }
        Verdict::Passed => {
            let warnings = with(&[Outcome::Warn]);
            if warnings.is_empty() {
                out.push_str("/>\n");
            } else {
                let _ = write!(
                    out,
                    ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                    text(&details(&warnings))
                );
            }
        }
    }
}

/// `<failure>` or `<error>` with the first finding's message and severity as
/// attributes and every finding's details as text.
fn element(out: &mut String, tag: &str, findings: &[&Finding]) {
    let (message, kind) = findings
        .first()
        .map_or(("", ""), |f| (f.message.as_str(), f.severity.as_str()));
    let _ = write!(
        out,
        ">\n      <{tag} message=\"{}\" type=\"{}\">{}</{tag}>\n    </testcase>\n",
        attr(message),
        kind,
        text(&details(findings))
    );
}

/// One paragraph per finding: result, severity, message, location, remediation.
fn details(findings: &[&Finding]) -> String {
    let mut out = String::new();
    for (i, f) in findings.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{} [{}] {}: {}",
            f.result, f.severity, f.check_id, f.message
        );
        if let Some(loc) = &f.location {
            let _ = writeln!(out, "location: {}:{}", loc.file, loc.line);
        }
        if let Some(fix) = &f.remediation {
            let _ = writeln!(out, "remediation: {fix}");
        }
    }
    out
}

/// Whether XML 1.0 allows `c` in a document.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn escape(s: &str, in_attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if in_attribute => out.push_str("&quot;"),
            '\'' if in_attribute => out.push_str("&apos;"),
            // Attribute-value normalization turns raw whitespace into spaces.
            '\n' if in_attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if in_attribute => out.push_str("&#9;"),
            c if !is_xml_char(c) => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

fn attr(s: &str) -> String {
    escape(s, true)
}

fn text(s: &str) -> String {
    escape(s, false)
}

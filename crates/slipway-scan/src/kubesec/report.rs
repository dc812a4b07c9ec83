//! The `kubesec scan` report: fields, field order and JSON layout.

use std::io::{self, Write};

use serde::Serialize;
use slipway_model::SourceLocation;

use super::rules::Rule;

/// One rule in a bucket: `id`, `selector`, `reason`, `points`, in that order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRef {
    /// Rule id.
    pub id: &'static str,
    /// Display selector.
    pub selector: &'static str,
    /// Why the rule matters.
    pub reason: &'static str,
    /// Points of the rule.
    pub points: i64,
}

impl RuleRef {
    /// The entry for `rule`.
    pub fn of(rule: &'static Rule) -> Self {
        Self {
            id: rule.id,
            selector: rule.selector,
            reason: rule.reason,
            points: rule.points,
        }
    }
}

/// The three buckets; empty ones are left out of the JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Scoring {
    /// Matched rules with negative points.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub critical: Vec<RuleRef>,
    /// Matched rules with positive points.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub passed: Vec<RuleRef>,
    /// Positive rules that did not match.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub advise: Vec<RuleRef>,
}

/// One object's result, serialised exactly like an element of `kubesec scan`'s output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KubesecReport {
    /// `<kind>/<name>.<namespace>`.
    pub object: String,
    /// False only when schema validation failed.
    pub valid: bool,
    /// The input's name as given.
    #[serde(rename = "fileName")]
    pub file_name: String,
    /// Summary, or the schema validator's text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Sum of the points of matched rules.
    pub score: i64,
    /// The buckets.
    pub scoring: Scoring,
    /// Where the object was read (not part of KubeSec's JSON; used by SARIF and tables).
    #[serde(skip)]
    pub location: Option<SourceLocation>,
}

/// Writes reports as KubeSec does: a JSON array indented by two spaces, with Go's HTML-safe
/// escaping of `<`, `>` and `&`, and a final newline.
pub fn write_json_array<'a, W: Write>(
    out: &mut W,
    reports: impl IntoIterator<Item = &'a KubesecReport>,
) -> io::Result<()> {
    let mut writer = JsonArrayWriter::default();
    for report in reports {
        writer.push(out, report)?;
    }
    writer.finish(out)
}

/// Streams the KubeSec JSON array one report at a time, so memory stays flat however many
/// objects are scanned. Call [`JsonArrayWriter::finish`] once at the end.
#[derive(Debug, Default)]
pub struct JsonArrayWriter {
    started: bool,
}

impl JsonArrayWriter {
    /// Writes one element.
    pub fn push<W: Write>(&mut self, out: &mut W, report: &KubesecReport) -> io::Result<()> {
        out.write_all(if self.started { b",\n" } else { b"[\n" })?;
        self.started = true;
        let text = serde_json::to_string_pretty(report).map_err(io::Error::other)?;
        let text = go_html_escape(&text);
        for (i, line) in text.lines().enumerate() {
            if i > 0 {
                out.write_all(b"\n")?;
            }
            out.write_all(b"  ")?;
            out.write_all(line.as_bytes())?;
        }
        Ok(())
    }

    /// Closes the array (`[]` when nothing was written).
    pub fn finish<W: Write>(self, out: &mut W) -> io::Result<()> {
        out.write_all(if self.started { b"\n]\n" } else { b"[]\n" })
    }
}

/// Go's `encoding/json` escapes these characters inside strings by default. They can only
/// occur inside strings in serialised JSON, so replacing them everywhere is safe.
fn go_html_escape(text: &str) -> String {
    if !text.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

//! The `Report`: which tool ran, every finding, and summary counts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::finding::{Finding, Outcome, Severity};

/// The tool that produced a report (SARIF's `tool.driver`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// `slipway`.
    pub name: String,
    /// The tool's version.
    pub version: String,
    /// The tool's home page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub information_uri: Option<String>,
}

impl Tool {
    /// A tool with a name and a version.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            information_uri: None,
        }
    }

    /// Slipway itself, at this crate's version.
    pub fn slipway() -> Self {
        Self {
            name: "slipway".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            information_uri: option_env!("CARGO_PKG_REPOSITORY")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        }
    }
}

/// All findings of one run.
///
/// The summary is computed from the findings when needed, so it can never be
/// out of date; it is serialized with the report (see [`crate::json`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Report {
    /// The producing tool.
    pub tool: Tool,
    /// Findings, in the order renderers show them (see [`Report::sort`]).
    pub findings: Vec<Finding>,
}

/// Counts of a report's findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of findings.
    pub total: usize,
    /// Findings per outcome; every outcome is present (zero when none).
    pub by_result: BTreeMap<Outcome, usize>,
    /// Failing findings (`fail` and `warn`) per severity; every severity is present.
    /// Passes are not counted here: "2 high" means two high-severity problems.
    pub failing_by_severity: BTreeMap<Severity, usize>,
}

impl Summary {
    /// The count of one outcome.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.by_result.get(&outcome).copied().unwrap_or(0)
    }

    /// The count of failing findings of one severity.
    pub fn failing(&self, severity: Severity) -> usize {
        self.failing_by_severity
            .get(&severity)
            .copied()
            .unwrap_or(0)
    }
}

impl Report {
    /// A report of `findings` by `tool`.
    pub fn new(tool: Tool, findings: Vec<Finding>) -> Self {
        Self { tool, findings }
    }

    /// Counts by outcome and by severity of failing findings.
    pub fn summary(&self) -> Summary {
        let mut by_result: BTreeMap<Outcome, usize> =
            Outcome::ALL.iter().map(|o| (*o, 0)).collect();
        let mut failing_by_severity: BTreeMap<Severity, usize> =
            Severity::ALL.iter().map(|s| (*s, 0)).collect();
        for f in &self.findings {
            *by_result.entry(f.result).or_default() += 1;
            if f.result.is_failing() {
                *failing_by_severity.entry(f.severity).or_default() += 1;
            }
        }
        Summary {
            total: self.findings.len(),
            by_result,
            failing_by_severity,
        }
    }

    /// Whether a finding failed (`fail`, not `warn`) at `threshold` or above: the
    /// gate question of `slipway check --severity-threshold`.
    pub fn fails_at(&self, threshold: Severity) -> bool {
        self.findings
            .iter()
            .any(|f| f.result == Outcome::Fail && f.severity >= threshold)
    }

    /// Sorts findings into the canonical order: by file, document and line (unlocated
    /// findings last), then object, source, check id and result. Engines that run in parallel call this
    /// so that output does not depend on scheduling. The sort is stable.
    pub fn sort(&mut self) {
        self.findings.sort_by(|a, b| {
            location_key(a)
                .cmp(&location_key(b))
                .then_with(|| a.object.cmp(&b.object))
                .then_with(|| a.source.cmp(&b.source))
                .then_with(|| a.check_id.cmp(&b.check_id))
                .then_with(|| a.result.cmp(&b.result))
        });
    }
}

/// Findings without a location sort after located ones (`None` would sort first).
fn location_key(f: &Finding) -> (bool, Option<(&str, usize, usize)>) {
    let loc = f
        .location
        .as_ref()
        .map(|l| (l.file.as_str(), l.document, l.line));
    (loc.is_none(), loc)
}

impl Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            tool: &'a Tool,
            summary: Summary,
            findings: &'a [Finding],
        }
        Wire {
            tool: &self.tool,
            summary: self.summary(),
            findings: &self.findings,
        }
        .serialize(serializer)
    }
}

//! The JSON rendering of a [`Report`]: the machine-readable contract of
//! `--output json`. Field names are stable; new optional fields may be added.
//!
//! ```text
//! {
//!   "tool":    { "name", "version", "information_uri"? },
//!   "summary": { "total",
//!                "by_result":           { "pass", "fail", "warn", "error", "skip" },
//!                "failing_by_severity": { "info", "low", "medium", "high", "critical" } },
//!   "findings": [ {
//!       "check_id":    kebab-case id,
//!       "source":      "policy" | "kubesec" | "secrets" | "vuln" | "signature",
//!       "severity":    "critical" | "high" | "medium" | "low" | "info",
//!       "result":      "pass" | "fail" | "warn" | "error" | "skip",
//!       "title", "message",
//!       "remediation"?, "help_uri"?,
//!       "object"?:   { "apiVersion", "kind", "namespace"?, "name", "uid"? },
//!       "location"?: { "file", "document" (0-based), "line" (1-based) },
//!       "category"?, "policy"?, "rule"?, "score"? (integer),
//!       "properties"?: { free-form JSON }
//!   } ]
//! }
//! ```
//!
//! Optional fields (`?`) are omitted when absent rather than written as `null`.

use crate::{Format, RenderError, Report};

/// The report as pretty-printed JSON, with a final newline.
pub fn render(report: &Report) -> Result<String, RenderError> {
    let mut text = serde_json::to_string_pretty(report).map_err(|source| RenderError::Json {
        format: Format::Json,
        source,
    })?;
    text.push('\n');
    Ok(text)
}

/// The report as a JSON value (for embedding in API responses).
pub fn to_value(report: &Report) -> Result<serde_json::Value, RenderError> {
    serde_json::to_value(report).map_err(|source| RenderError::Json {
        format: Format::Json,
        source,
    })
}

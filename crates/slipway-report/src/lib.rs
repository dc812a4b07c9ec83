//! One `Finding` model for every check of the platform, and its renderers.
//!
//! Engines (policies, KubeSec risk rules, secret detection, vulnerabilities,
//! signatures) return [`Finding`]s; the CLI and the server collect them in a
//! [`Report`] and render it with [`render`] in one of the [`Format`]s:
//!
//! - [`table`]: aligned text for humans;
//! - [`json`]: the report as JSON, with stable field names;
//! - [`sarif`]: SARIF 2.1.0, for code-scanning dashboards;
//! - [`junit`]: JUnit XML, for CI test reports;
//! - [`policy_report`]: `wgpolicyk8s.io/v1alpha2` PolicyReports, as Kyverno emits them.
//!
//! **Invariant:** renderers are pure: the same report and options give the same
//! bytes. Nothing here reads the clock, the environment or the filesystem; the
//! caller passes the timestamp and the colour choice in [`RenderOptions`].

pub mod finding;
pub mod json;
pub mod junit;
pub mod policy_report;
pub mod report;
pub mod sarif;
pub mod table;

use std::fmt;
use std::io;
use std::str::FromStr;

pub use finding::{
    CatalogError, CheckId, Finding, InvalidCheckId, ObjectRef, Outcome, Severity, Source,
    UnknownSeverity, is_kebab_case, validate_catalog,
};
pub use report::{Report, Summary, Tool};
pub use slipway_model::SourceLocation;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Aligned text table.
    Table,
    /// JSON of the report.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// JUnit XML.
    Junit,
    /// PolicyReport / ClusterPolicyReport YAML documents.
    PolicyReport,
}

impl Format {
    /// Every format, in help order.
    pub const ALL: [Format; 5] = [
        Format::Table,
        Format::Json,
        Format::Sarif,
        Format::Junit,
        Format::PolicyReport,
    ];

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Table => "table",
            Self::Json => "json",
            Self::Sarif => "sarif",
            Self::Junit => "junit",
            Self::PolicyReport => "policyreport",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A format name that is not one of [`Format::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown output format `{given}`: expected one of table, json, sarif, junit, policyreport")]
pub struct UnknownFormat {
    /// The rejected name.
    pub given: String,
}

impl FromStr for Format {
    type Err = UnknownFormat;
    /// Case-insensitive; `policy-report` is accepted for `policyreport`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "table" => Ok(Self::Table),
            "json" => Ok(Self::Json),
            "sarif" => Ok(Self::Sarif),
            "junit" => Ok(Self::Junit),
            "policyreport" | "policy-report" => Ok(Self::PolicyReport),
            _ => Err(UnknownFormat {
                given: s.to_string(),
            }),
        }
    }
}

/// A point in time as PolicyReports carry it: seconds and nanoseconds since the
/// Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Timestamp {
    /// Whole seconds since 1970-01-01T00:00:00Z.
    pub seconds: i64,
    /// Nanoseconds within the second (0..1e9).
    pub nanos: i32,
}

impl Timestamp {
    /// The current time (for callers; renderers never read the clock).
    pub fn now() -> Self {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Self {
                seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
            },
            // A clock before 1970 is a broken clock; the epoch is as good as any.
            Err(_) => Self::default(),
        }
    }
}

/// Options of [`render`]. `Default` gives no colour, no passes in the table, and
/// the epoch as timestamp: callers set `timestamp` to [`Timestamp::now`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Colour the table with ANSI escapes (only when writing to a terminal).
    pub color: bool,
    /// Show `pass` and `skip` rows in the table (the summary always counts them).
    pub show_passed: bool,
    /// When PolicyReport results were produced.
    pub timestamp: Timestamp,
    /// The directory that relative SARIF URIs are relative to; absolute file
    /// paths under it become relative. When `None`, absolute paths stay
    /// absolute `file://` URIs.
    pub base_dir: Option<String>,
}

/// A report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Writing the output failed.
    #[error("cannot write the {format} report")]
    Write {
        /// The format being written.
        format: Format,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// JSON serialization failed.
    #[error("cannot serialize the {format} report as JSON")]
    Json {
        /// The format being written.
        format: Format,
        /// The serializer error.
        #[source]
        source: serde_json::Error,
    },
    /// YAML serialization failed.
    #[error("cannot serialize the {format} report as YAML")]
    Yaml {
        /// The format being written.
        format: Format,
        /// The serializer error.
        #[source]
        source: serde_saphyr::SerializeError,
    },
}

/// Renders `report` in `format`.
///
/// ```
/// use slipway_report::{render, CheckId, Finding, Format, Outcome, Report, RenderOptions, Severity, Source, Tool};
///
/// let finding = Finding::new(
///     CheckId::new("run-as-non-root").unwrap(),
///     Source::Kubesec,
///     Severity::High,
///     Outcome::Fail,
///     "Containers must run as non-root",
///     "securityContext.runAsNonRoot is not true",
/// );
/// let report = Report::new(Tool::new("slipway", "0.1.0"), vec![finding]);
/// let text = render(&report, Format::Table, &RenderOptions::default()).unwrap();
/// assert!(text.contains("run-as-non-root"));
/// ```
pub fn render(
    report: &Report,
    format: Format,
    options: &RenderOptions,
) -> Result<String, RenderError> {
    match format {
        Format::Table => Ok(table::render(report, options)),
        Format::Json => json::render(report),
        Format::Sarif => sarif::render(report, options),
        Format::Junit => Ok(junit::render(report)),
        Format::PolicyReport => policy_report::render_yaml(report, options),
    }
}

/// Renders `report` in `format` into `out`.
pub fn render_to(
    out: &mut impl io::Write,
    report: &Report,
    format: Format,
    options: &RenderOptions,
) -> Result<(), RenderError> {
    let text = render(report, format, options)?;
    out.write_all(text.as_bytes())
        .map_err(|source| RenderError::Write { format, source })
}

#[cfg(test)]
mod tests;

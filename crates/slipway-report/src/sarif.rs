//! SARIF 2.1.0 output, for code-scanning dashboards (GitHub, GitLab, Azure DevOps).
//!
//! Choices, because SARIF leaves them to the tool:
//! - **Only `fail` and `warn` findings become `results`.** SARIF results are
//!   problems; a pass is not a problem, and code-scanning services would show it
//!   as an alert. Passes and skips still contribute their check to `rules`, so the
//!   log says what was checked.
//! - **`error` findings** (a check that could not be evaluated) are not results
//!   either: they are `invocations[0].toolExecutionNotifications` of level
//!   `error` with an `associatedRule`, and make `executionSuccessful` false.
//! - **Levels:** a `fail` of critical or high severity is `error`, medium is
//!   `warning`, low and info are `note`. A `warn` is at most `warning`.
//!   `defaultConfiguration.level` of a rule is the level of a `fail` at its severity.
//! - **`security-severity`** (GitHub's numeric severity) follows Trivy: critical
//!   9.5, high 8.0, medium 5.5, low 2.0, info 0.0.
//! - **Rules** are sorted by id; `ruleIndex` points into that list. A rule's texts
//!   come from the first finding of the check in report order.
//! - **URIs** are relative with forward slashes and `uriBaseId` `%SRCROOT%`.
//!   Absolute paths under [`RenderOptions::base_dir`] are made relative; other
//!   absolute paths become `file://` URIs. Standard input (`-`) has no physical
//!   location. `region.startLine` is the first line of the object's document.
//! - **Logical locations** name the Kubernetes object: `kind` is `resource`,
//!   `name` its name, `fullyQualifiedName` `Kind/namespace/name`.
//! - **`partialFingerprints["slipway/v1"]`** identifies the finding across runs
//!   without line numbers when there is an object (`check|apiVersion/Kind/ns/name`),
//!   so moving a manifest within its file keeps the alert.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use crate::{Finding, Format, Outcome, RenderError, RenderOptions, Report, Severity};

/// The `$schema` of the log.
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The SARIF version written.
pub const VERSION: &str = "2.1.0";
/// The base URI id of relative artifact locations.
pub const SRCROOT: &str = "%SRCROOT%";
/// The key of our partial fingerprint.
pub const FINGERPRINT_KEY: &str = "slipway/v1";

/// A SARIF level (`error`, `warning`, `note`, `none`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// A serious problem.
    Error,
    /// A problem.
    Warning,
    /// A minor problem or an observation.
    Note,
    /// Not a problem.
    None,
}

impl Level {
    /// The SARIF name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Note => "note",
            Self::None => "none",
        }
    }

    /// The level of a finding with this severity and outcome (see the module docs).
    pub fn of(severity: Severity, result: Outcome) -> Self {
        match (result, severity) {
            (Outcome::Fail | Outcome::Error, Severity::Critical | Severity::High) => Self::Error,
            (Outcome::Fail | Outcome::Error, Severity::Medium) => Self::Warning,
            (Outcome::Warn, Severity::Critical | Severity::High | Severity::Medium) => {
                Self::Warning
            }
            (Outcome::Fail | Outcome::Warn | Outcome::Error, Severity::Low | Severity::Info) => {
                Self::Note
            }
            (Outcome::Pass | Outcome::Skip, _) => Self::None,
        }
    }
}

/// GitHub's numeric `security-severity` of a severity, as a string (see the module docs).
pub fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
        Severity::Info => "0.0",
    }
}

/// The SARIF log as a JSON value.
pub fn to_value(report: &Report, options: &RenderOptions) -> Value {
    let base = options.base_dir.as_deref().map(normalize_base);

    // Rules: one per check id, sorted, described by the check's first finding.
    let mut first_of: BTreeMap<&str, &Finding> = BTreeMap::new();
    for f in &report.findings {
        first_of.entry(f.check_id.as_str()).or_insert(f);
    }
    let index: BTreeMap<&str, usize> = first_of
        .keys()
        .enumerate()
        .map(|(i, id)| (*id, i))
        .collect();
    let rules: Vec<Value> = first_of.values().map(|f| rule(f)).collect();

    let mut results = Vec::new();
    let mut notifications = Vec::new();
    for f in &report.findings {
        let rule_index = index.get(f.check_id.as_str()).copied().unwrap_or(0);
        match f.result {
            Outcome::Fail | Outcome::Warn => results.push(result(f, rule_index, base.as_deref())),
            Outcome::Error => notifications.push(notification(f, rule_index, base.as_deref())),
            Outcome::Pass | Outcome::Skip => {}
        }
    }

    let mut driver = Map::new();
    driver.insert("name".into(), json!(report.tool.name));
    driver.insert("version".into(), json!(report.tool.version));
    if let Some(uri) = &report.tool.information_uri {
        driver.insert("informationUri".into(), json!(uri));
    }
    driver.insert("rules".into(), Value::Array(rules));

    let mut invocation = Map::new();
    invocation.insert(
        "executionSuccessful".into(),
        json!(notifications.is_empty()),
    );
    if !notifications.is_empty() {
        invocation.insert(
            "toolExecutionNotifications".into(),
            Value::Array(notifications),
        );
    }

    let mut run = Map::new();
    run.insert("tool".into(), json!({ "driver": driver }));
    run.insert("invocations".into(), json!([invocation]));
    if let Some(base) = &base {
        run.insert(
            "originalUriBaseIds".into(),
            json!({ SRCROOT: { "uri": format!("{}/", file_uri(base)) } }),
        );
    }
    run.insert("results".into(), Value::Array(results));

    json!({
        "$schema": SCHEMA_URI,
        "version": VERSION,
        "runs": [run],
    })
}

/// The SARIF log, pretty-printed, with a final newline.
pub fn render(report: &Report, options: &RenderOptions) -> Result<String, RenderError> {
    let mut text = serde_json::to_string_pretty(&to_value(report, options)).map_err(|source| {
        RenderError::Json {
            format: Format::Sarif,
            source,
        }
    })?;
    text.push('\n');
    Ok(text)
}

fn rule(f: &Finding) -> Value {
    let full = match &f.remediation {
        Some(fix) => format!("{} {}", sentence(&f.title), fix),
        None => f.title.clone(),
    };
    let help = f.remediation.clone().unwrap_or_else(|| f.title.clone());
    let mut tags = vec![json!("security"), json!(f.source.as_str())];
    if let Some(category) = &f.category {
        tags.push(json!(category));
    }
    let mut rule = Map::new();
    rule.insert("id".into(), json!(f.check_id.as_str()));
    rule.insert("name".into(), json!(pascal_case(f.check_id.as_str())));
    rule.insert("shortDescription".into(), json!({ "text": f.title }));
    rule.insert("fullDescription".into(), json!({ "text": full }));
    rule.insert("help".into(), json!({ "text": help }));
    if let Some(uri) = &f.help_uri {
        rule.insert("helpUri".into(), json!(uri));
    }
    rule.insert(
        "defaultConfiguration".into(),
        json!({ "level": Level::of(f.severity, Outcome::Fail).as_str() }),
    );
    rule.insert(
        "properties".into(),
        json!({
            "security-severity": security_severity(f.severity),
            "tags": tags,
        }),
    );
    Value::Object(rule)
}

fn result(f: &Finding, rule_index: usize, base: Option<&str>) -> Value {
    let mut result = Map::new();
    result.insert("ruleId".into(), json!(f.check_id.as_str()));
    result.insert("ruleIndex".into(), json!(rule_index));
    result.insert(
        "level".into(),
        json!(Level::of(f.severity, f.result).as_str()),
    );
    result.insert("message".into(), json!({ "text": f.message }));
    if let Some(location) = location(f, base) {
        result.insert("locations".into(), json!([location]));
    }
    result.insert(
        "partialFingerprints".into(),
        json!({ FINGERPRINT_KEY: fingerprint(f) }),
    );
    result.insert("properties".into(), Value::Object(properties(f)));
    Value::Object(result)
}

fn notification(f: &Finding, rule_index: usize, base: Option<&str>) -> Value {
    let mut n = Map::new();
    n.insert("level".into(), json!("error"));
    n.insert("message".into(), json!({ "text": f.message }));
    if let Some(location) = location(f, base) {
        n.insert("locations".into(), json!([location]));
    }
    n.insert(
        "associatedRule".into(),
        json!({ "id": f.check_id.as_str(), "index": rule_index }),
    );
    n.insert("properties".into(), Value::Object(properties(f)));
    Value::Object(n)
}

/// The location of a finding: physical (file and line) and logical (the object).
/// `None` when it has neither.
fn location(f: &Finding, base: Option<&str>) -> Option<Value> {
    let mut location = Map::new();
    if let Some(loc) = &f.location
        && loc.file != "-"
        && !loc.file.is_empty()
    {
        let mut physical = Map::new();
        physical.insert(
            "artifactLocation".into(),
            artifact_location(&loc.file, base),
        );
        if loc.line >= 1 {
            physical.insert("region".into(), json!({ "startLine": loc.line }));
        }
        location.insert("physicalLocation".into(), Value::Object(physical));
    }
    if let Some(object) = &f.object {
        location.insert(
            "logicalLocations".into(),
            json!([{
                "name": object.name,
                "fullyQualifiedName": object.to_string(),
                "kind": "resource",
            }]),
        );
    }
    (!location.is_empty()).then_some(Value::Object(location))
}

fn artifact_location(file: &str, base: Option<&str>) -> Value {
    let path = file.replace('\\', "/");
    let relative = match base {
        Some(base) if is_absolute(&path) => path
            .strip_prefix(base)
            .and_then(|rest| rest.strip_prefix('/'))
            .map(str::to_string),
        _ if is_absolute(&path) => None,
        _ => Some(path.trim_start_matches("./").to_string()),
    };
    match relative {
        Some(rel) => json!({ "uri": percent_encode(&rel, true), "uriBaseId": SRCROOT }),
        None => json!({ "uri": file_uri(&path) }),
    }
}

fn is_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    path.starts_with('/')
        || (bytes.len() >= 3
            && bytes[0].is_ascii_alphabetic()
            && bytes[1] == b':'
            && bytes[2] == b'/')
}

/// A base directory with forward slashes and no trailing slash.
fn normalize_base(base: &str) -> String {
    let base = base.replace('\\', "/");
    let trimmed = base.trim_end_matches('/');
    if trimmed.is_empty() {
        base
    } else {
        trimmed.to_string()
    }
}

/// `file:///abs/path` (or `file:///C:/path`) for an absolute path with forward slashes.
fn file_uri(path: &str) -> String {
    let encoded = percent_encode(path, false);
    if encoded.starts_with('/') {
        format!("file://{encoded}")
    } else {
        format!("file:///{encoded}")
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, sub-delimiters,
/// `/` and `@`. `:` is encoded in relative references, where a colon in the first
/// segment would read as a scheme.
fn percent_encode(path: &str, relative: bool) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || b"-._~/!$&'()*+,;=@".contains(&byte)
            || (byte == b':' && !relative);
        if keep {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

fn fingerprint(f: &Finding) -> String {
    let subject = match (&f.object, &f.location) {
        (Some(o), _) => format!(
            "{}/{}/{}/{}",
            o.api_version,
            o.kind,
            o.namespace.as_deref().unwrap_or(""),
            o.name
        ),
        (None, Some(loc)) => format!("{}:{}", loc.file.replace('\\', "/"), loc.line),
        (None, None) => f.message.clone(),
    };
    format!("{}|{}", f.check_id, subject)
}

fn properties(f: &Finding) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("source".into(), json!(f.source.as_str()));
    p.insert("severity".into(), json!(f.severity.as_str()));
    p.insert("result".into(), json!(f.result.as_str()));
    if let Some(policy) = &f.policy {
        p.insert("policy".into(), json!(policy));
    }
    if let Some(rule) = &f.rule {
        p.insert("rule".into(), json!(rule));
    }
    if let Some(category) = &f.category {
        p.insert("category".into(), json!(category));
    }
    if let Some(score) = f.score {
        p.insert("score".into(), json!(score));
    }
    if let Some(object) = &f.object {
        p.insert("object".into(), json!(object));
    }
    if !f.properties.is_empty() {
        p.insert("details".into(), Value::Object(f.properties.clone()));
    }
    p
}

/// `run-as-non-root` -> `RunAsNonRoot` (SARIF's rule `name` is an identifier-like
/// friendly name).
fn pascal_case(id: &str) -> String {
    id.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// `text` ending with a period, so that a remediation can follow it.
fn sentence(text: &str) -> String {
    let trimmed = text.trim_end();
    if trimmed.ends_with(['.', '!', '?']) {
        trimmed.to_string()
    } else {
        format!("{trimmed}.")
    }
}

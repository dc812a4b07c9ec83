//! The `validate.podSecurity` subrule: the Pod Security Standards checks of
//! k8s.io/pod-security-admission (baseline and restricted, per version) on a pod spec, with
//! Kyverno's `exclude` entries (`controlName`, `images`, `restrictedField`, `values`).
//!
//! Each check reports findings (one per offending field value, tied to a container when the
//! field belongs to one); exclusions remove findings; the checks with findings left become
//! violations, worded like pod-security-admission (`privileged (container "x" must not set
//! securityContext.privileged=true)`).

mod checks;
#[cfg(test)]
mod tests;

use serde_json::Value;

/// A Pod Security Standards level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// No restriction.
    Privileged,
    /// The baseline profile.
    Baseline,
    /// The restricted profile (includes baseline).
    Restricted,
}

/// The standards version: `latest` or `v1.<minor>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// The newest checks.
    Latest,
    /// `v1.<minor>`.
    V1(u32),
}

impl Version {
    /// `true` when this version includes changes introduced in `v1.<minor>`.
    fn at_least(self, minor: u32) -> bool {
        match self {
            Version::Latest => true,
            Version::V1(m) => m >= minor,
        }
    }
}

/// One `exclude` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclusion {
    /// The control name (`Capabilities`, `Host Namespaces`, ...).
    pub control_name: String,
    /// Image wildcards: the exclusion applies to containers running a matching image.
    pub images: Vec<String>,
    /// A field path such as `spec.containers[*].securityContext.capabilities.add`.
    pub restricted_field: Option<String>,
    /// Values of `restricted_field` that are exempted.
    pub values: Vec<String>,
}

/// A parsed `podSecurity` subrule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSecurityRule {
    /// The level to enforce.
    pub level: Level,
    /// The standards version.
    pub version: Version,
    /// Exemptions.
    pub exclude: Vec<Exclusion>,
}

/// A failed control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PssViolation {
    /// The control name as Kyverno names it (`Privileged Containers`, ...).
    pub control: String,
    /// pod-security-admission's message, `reason (detail)`.
    pub message: String,
}

/// Why a `podSecurity` block could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid podSecurity at {path}: {reason}")]
pub struct PodSecurityError {
    /// Field path inside the `podSecurity` block (`level`, `exclude[0].images`, ...).
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

fn err(path: impl Into<String>, reason: impl Into<String>) -> PodSecurityError {
    PodSecurityError {
        path: path.into(),
        reason: reason.into(),
    }
}

/// The control names Kyverno accepts in `exclude[].controlName`.
pub const CONTROL_NAMES: &[&str] = &[
    "HostProcess",
    "Host Namespaces",
    "Privileged Containers",
    "Capabilities",
    "HostPath Volumes",
    "Host Ports",
    "AppArmor",
    "SELinux",
    "/proc Mount Type",
    "Seccomp",
    "Sysctls",
    "Volume Types",
    "Privilege Escalation",
    "Running as Non-root",
    "Running as Non-root user",
];

impl PodSecurityRule {
    /// Parses the value of `validate.podSecurity`.
    pub fn parse(value: &Value) -> Result<Self, PodSecurityError> {
        let map = value.as_object().ok_or_else(|| err("", "must be a map"))?;
        let level = match map.get("level").and_then(Value::as_str) {
            Some("privileged") => Level::Privileged,
            Some("baseline") => Level::Baseline,
            Some("restricted") => Level::Restricted,
            Some(other) => {
                return Err(err(
                    "level",
                    format!("unknown level {other:?} (privileged, baseline or restricted)"),
                ));
            }
            None => return Err(err("level", "missing level")),
        };
        let version = match map.get("version") {
            None | Some(Value::Null) => Version::Latest,
            Some(Value::String(s)) if s == "latest" || s.is_empty() => Version::Latest,
            Some(Value::String(s)) => {
                let minor = s
                    .strip_prefix("v1.")
                    .and_then(|m| m.parse::<u32>().ok())
                    .ok_or_else(|| {
                        err("version", format!("{s:?} is not \"latest\" or v1.<minor>"))
                    })?;
                Version::V1(minor)
            }
            Some(_) => return Err(err("version", "must be a string")),
        };
        let mut exclude = Vec::new();
        match map.get("exclude") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    exclude.push(parse_exclusion(item, &format!("exclude[{i}]"))?);
                }
            }
            Some(_) => return Err(err("exclude", "must be a list")),
        }
        Ok(PodSecurityRule {
            level,
            version,
            exclude,
        })
    }
}

fn string_list(value: Option<&Value>, path: &str) -> Result<Vec<String>, PodSecurityError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                Value::Bool(b) => Ok(b.to_string()),
                _ => Err(err(format!("{path}[{i}]"), "must be a string")),
            })
            .collect(),
        Some(_) => Err(err(path, "must be a list of strings")),
    }
}

fn parse_exclusion(item: &Value, path: &str) -> Result<Exclusion, PodSecurityError> {
    let map = item.as_object().ok_or_else(|| err(path, "must be a map"))?;
    let control_name = map
        .get("controlName")
        .and_then(Value::as_str)
        .ok_or_else(|| err(format!("{path}.controlName"), "missing controlName"))?;
    if !CONTROL_NAMES.contains(&control_name) {
        return Err(err(
            format!("{path}.controlName"),
            format!("unknown control {control_name:?}"),
        ));
    }
    let restricted_field = match map.get("restrictedField") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(err(format!("{path}.restrictedField"), "must be a string")),
    };
    Ok(Exclusion {
        control_name: control_name.to_string(),
        images: string_list(map.get("images"), &format!("{path}.images"))?,
        restricted_field,
        values: string_list(map.get("values"), &format!("{path}.values"))?,
    })
}

/// Runs the checks of the rule's level and version on a pod (or pod template) and returns
/// the controls that fail after exclusions; empty means the rule passes.
pub fn evaluate(
    rule: &PodSecurityRule,
    pod_metadata: &Value,
    pod_spec: &Value,
) -> Vec<PssViolation> {
    let findings = checks::run(rule.level, rule.version, pod_metadata, pod_spec);
    let kept: Vec<checks::Finding> = findings
        .into_iter()
        .filter(|f| !rule.exclude.iter().any(|e| excludes(e, f)))
        .collect();
    checks::violations(&kept)
}

fn excludes(exclusion: &Exclusion, finding: &checks::Finding) -> bool {
    if exclusion.control_name != finding.check.control() {
        return false;
    }
    if !exclusion.images.is_empty() {
        let Some(image) = &finding.image else {
            return false;
        };
        if !exclusion
            .images
            .iter()
            .any(|p| crate::wildcard::matches(p, image))
        {
            return false;
        }
    }
    match &exclusion.restricted_field {
        None => true,
        Some(field) => {
            field_matches(field, &finding.field)
                && (exclusion.values.is_empty() || exclusion.values.contains(&finding.value))
        }
    }
}

/// Field paths compare with `[*]` wildcards and an optional `spec.` prefix difference.
fn field_matches(pattern: &str, field: &str) -> bool {
    let norm = |s: &str| s.trim_start_matches("spec.").to_string();
    norm(pattern) == norm(field)
}

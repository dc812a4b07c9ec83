//! The `.slipwayignore` file: accepted findings, each with a rule, an object
//! selector, a reason and an expiry date.
//!
//! ```yaml
//! suppressions:
//!   - rule: Privileged                      # KubeSec rule id, check id, policy or policy/rule; * and ? wildcards
//!     object: DaemonSet/kube-system/node-*  # Kind/namespace/name (Kind/name: no namespace); default: every object
//!     reason: the node agent needs host access, reviewed in SEC-12
//!     expires: 2026-06-30                   # YYYY-MM-DD, last day the suppression holds
//! ```
//!
//! The per-object form is the `slipway.dev/ignore` annotation (see
//! [`crate::kubesec::IGNORE_ANNOTATION`]); this file covers objects one cannot
//! annotate (rendered from a chart, owned by another team) and gives every
//! suppression an end: after its expiry date a suppression no longer applies and
//! [`IgnoreFile::expired`] names it, so that the check fails and says so instead
//! of silently reporting the finding again.
//!
//! Nothing here reads the clock: callers pass today's date.

use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;
use slipway_model::ObjectExt;

/// The file name looked for in scanned directories and the working directory.
pub const IGNORE_FILE_NAME: &str = ".slipwayignore";

/// A `.slipwayignore` file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IgnoreFileError {
    /// The file could not be read.
    #[error("cannot read the ignore file {path}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not the expected YAML.
    #[error(
        "{path}: not a valid ignore file (expected `suppressions:` with rule, object, reason, expires)"
    )]
    Parse {
        /// The file.
        path: String,
        /// The parser error (with line and column), boxed: it is large and rare.
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    /// One entry is incomplete or malformed.
    #[error("{path}:{line}: suppression field `{field}` {problem}")]
    Entry {
        /// The file.
        path: String,
        /// The entry's line.
        line: usize,
        /// The field at fault.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    suppressions: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    rule: Spanned<String>,
    #[serde(default)]
    object: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    expires: Option<String>,
}

/// Which objects a suppression covers: kind, namespace and name patterns with
/// `*` and `?` wildcards. An empty namespace pattern matches objects without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSelector {
    /// Kind pattern (`Deployment`, `*`).
    pub kind: String,
    /// Namespace pattern.
    pub namespace: String,
    /// Name pattern.
    pub name: String,
}

impl ObjectSelector {
    /// Every object.
    pub fn any() -> Self {
        Self {
            kind: "*".into(),
            namespace: "*".into(),
            name: "*".into(),
        }
    }

    /// Parses `Kind/namespace/name` or `Kind/name` (objects without a namespace).
    pub fn parse(text: &str) -> Option<Self> {
        let parts: Vec<&str> = text.trim().split('/').collect();
        let (kind, namespace, name) = match parts.as_slice() {
            [kind, name] => (*kind, "", *name),
            [kind, namespace, name] => (*kind, *namespace, *name),
            _ => return None,
        };
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(Self {
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }

    /// Whether the selector covers an object with these coordinates.
    pub fn matches(&self, kind: &str, namespace: Option<&str>, name: &str) -> bool {
        wildcard_match(&self.kind, kind)
            && wildcard_match(&self.namespace, namespace.unwrap_or(""))
            && wildcard_match(&self.name, name)
    }

    /// Whether the selector covers `object` (a Kubernetes object value).
    pub fn matches_object(&self, object: &Value) -> bool {
        self.matches(object.kind(), object.namespace(), object.name())
    }
}

impl std::fmt::Display for ObjectSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// One accepted finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// Rule pattern, matched against every name the finding has (see [`Suppression::matches`]).
    pub rule: String,
    /// The objects covered.
    pub object: ObjectSelector,
    /// Why the risk is accepted.
    pub reason: String,
    /// The last day the suppression applies.
    pub expires: NaiveDate,
    /// The file it was read from.
    pub file: String,
    /// The 1-based line of its `rule`.
    pub line: usize,
}

impl Suppression {
    /// Whether the suppression covers a finding known by any of `rule_names`
    /// (e.g. `Privileged` and `kubesec-privileged`) on `object`.
    pub fn matches(&self, rule_names: &[&str], object: &Value) -> bool {
        rule_names.iter().any(|r| wildcard_match(&self.rule, r))
            && self.object.matches_object(object)
    }

    /// Whether the expiry date has passed on `today`.
    pub fn is_expired(&self, today: NaiveDate) -> bool {
        today > self.expires
    }

    /// `FILE:LINE`, for messages.
    pub fn position(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// A one-line message for an expired suppression.
    pub fn expired_message(&self) -> String {
        format!(
            "{}: the suppression of rule `{}` for {} expired on {} (reason was: {}); fix the finding, or renew the suppression with a new date",
            self.position(),
            self.rule,
            self.object,
            self.expires,
            self.reason
        )
    }
}

/// Every suppression of one or more ignore files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoreFile {
    /// The suppressions, in file order.
    pub suppressions: Vec<Suppression>,
}

impl IgnoreFile {
    /// Reads and validates one file.
    pub fn load(path: &Path) -> Result<Self, IgnoreFileError> {
        let display = path.display().to_string();
        let text = fs_err::read_to_string(path).map_err(|source| IgnoreFileError::Read {
            path: display.clone(),
            source,
        })?;
        Self::parse(&text, &display)
    }

    /// Parses the text of a file named `path` (for messages).
    pub fn parse(text: &str, path: &str) -> Result<Self, IgnoreFileError> {
        let raw: RawFile = if text.trim().is_empty() {
            RawFile {
                suppressions: Vec::new(),
            }
        } else {
            serde_saphyr::from_str(text).map_err(|source| IgnoreFileError::Parse {
                path: path.to_string(),
                source: Box::new(source),
            })?
        };
        let mut suppressions = Vec::with_capacity(raw.suppressions.len());
        for entry in raw.suppressions {
            let line = entry.rule.referenced.line() as usize;
            let err = |field: &'static str, problem: &str| IgnoreFileError::Entry {
                path: path.to_string(),
                line,
                field,
                problem: problem.to_string(),
            };
            let rule = entry.rule.value.trim().to_string();
            if rule.is_empty() {
                return Err(err("rule", "is empty"));
            }
            let object = match entry.object.as_deref() {
                None => ObjectSelector::any(),
                Some(text) => ObjectSelector::parse(text).ok_or_else(|| {
                    err(
                        "object",
                        &format!("`{text}` is not Kind/namespace/name or Kind/name"),
                    )
                })?,
            };
            let reason = entry.reason.unwrap_or_default().trim().to_string();
            if reason.is_empty() {
                return Err(err(
                    "reason",
                    "is missing: every accepted risk must say why",
                ));
            }
            let expires = match entry.expires.as_deref().map(str::trim) {
                None | Some("") => {
                    return Err(err(
                        "expires",
                        "is missing: give the last day the suppression holds (YYYY-MM-DD)",
                    ));
                }
                Some(date) => NaiveDate::parse_from_str(date, "%Y-%m-%d")
                    .map_err(|_| err("expires", &format!("`{date}` is not a date (YYYY-MM-DD)")))?,
            };
            suppressions.push(Suppression {
                rule,
                object,
                reason,
                expires,
                file: path.to_string(),
                line,
            });
        }
        Ok(Self { suppressions })
    }

    /// Loads the `.slipwayignore` files found in `dirs` (each read once, in order).
    pub fn discover<P: AsRef<Path>>(dirs: &[P]) -> Result<Self, IgnoreFileError> {
        let mut out = Self::default();
        let mut seen = Vec::new();
        for dir in dirs {
            let path = dir.as_ref().join(IGNORE_FILE_NAME);
            if !path.is_file() {
                continue;
            }
            let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
            if seen.contains(&canonical) {
                continue;
            }
            seen.push(canonical);
            out.extend(Self::load(&path)?);
        }
        Ok(out)
    }

    /// Appends another file's suppressions.
    pub fn extend(&mut self, other: IgnoreFile) {
        self.suppressions.extend(other.suppressions);
    }

    /// The suppressions still in force on `today`.
    pub fn active(&self, today: NaiveDate) -> Vec<Suppression> {
        self.suppressions
            .iter()
            .filter(|s| !s.is_expired(today))
            .cloned()
            .collect()
    }

    /// The suppressions whose date has passed on `today`: each fails the check.
    pub fn expired(&self, today: NaiveDate) -> Vec<&Suppression> {
        self.suppressions
            .iter()
            .filter(|s| s.is_expired(today))
            .collect()
    }
}

/// Today's date in UTC, for callers (this module never reads the clock itself).
pub fn today_utc() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// Glob matching with `*` (any run, possibly empty) and `?` (one character).
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was and what it has consumed so far, for backtracking.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    const FILE: &str = "\
# accepted risks
suppressions:
  - rule: Privileged
    object: DaemonSet/kube-system/node-*
    reason: node agent, SEC-12
    expires: 2030-01-31
  - rule: kubesec-*
    object: Deployment/legacy
    reason: retired next quarter
    expires: 2024-03-01
";

    #[test]
    fn wildcards() {
        for (p, t, ok) in [
            ("*", "", true),
            ("*", "abc", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbb", false),
            ("node-?", "node-1", true),
            ("node-?", "node-12", false),
            ("*-agent*", "x-agent-y", true),
            ("Deployment", "deployment", false),
        ] {
            assert_eq!(wildcard_match(p, t), ok, "{p} vs {t}");
        }
    }

    #[test]
    fn parses_entries_with_lines() {
        let f = IgnoreFile::parse(FILE, ".slipwayignore").unwrap();
        assert_eq!(f.suppressions.len(), 2);
        let s = &f.suppressions[0];
        assert_eq!(s.rule, "Privileged");
        assert_eq!(s.line, 3);
        assert_eq!(s.object.to_string(), "DaemonSet/kube-system/node-*");
        assert_eq!(s.expires, date("2030-01-31"));
        assert_eq!(f.suppressions[1].line, 7);
        assert_eq!(f.suppressions[1].object.namespace, "");
    }

    #[test]
    fn matching_by_rule_and_object() {
        let f = IgnoreFile::parse(FILE, ".slipwayignore").unwrap();
        let s = &f.suppressions[0];
        let ds = json!({"kind": "DaemonSet", "metadata": {"name": "node-exporter", "namespace": "kube-system"}});
        let other_ns = json!({"kind": "DaemonSet", "metadata": {"name": "node-exporter", "namespace": "default"}});
        assert!(s.matches(&["Privileged", "kubesec-privileged"], &ds));
        assert!(!s.matches(&["HostNetwork"], &ds));
        assert!(!s.matches(&["Privileged"], &other_ns));
        let legacy = json!({"kind": "Deployment", "metadata": {"name": "legacy"}});
        let legacy_ns =
            json!({"kind": "Deployment", "metadata": {"name": "legacy", "namespace": "x"}});
        assert!(f.suppressions[1].matches(&["kubesec-run-as-non-root"], &legacy));
        assert!(!f.suppressions[1].matches(&["kubesec-run-as-non-root"], &legacy_ns));
    }

    #[test]
    fn expiry_splits_active_and_expired() {
        let f = IgnoreFile::parse(FILE, ".slipwayignore").unwrap();
        let today = date("2025-01-01");
        assert_eq!(f.active(today).len(), 1);
        let expired = f.expired(today);
        assert_eq!(expired.len(), 1);
        assert_eq!(
            expired[0].expired_message(),
            ".slipwayignore:7: the suppression of rule `kubesec-*` for Deployment/legacy expired on 2024-03-01 (reason was: retired next quarter); fix the finding, or renew the suppression with a new date"
        );
        // The expiry day itself still holds.
        assert!(f.expired(date("2024-03-01")).is_empty());
    }

    #[test]
    fn incomplete_entries_are_errors_naming_the_line() {
        let cases = [
            (
                "suppressions:\n  - rule: A\n    expires: 2030-01-01\n",
                "x:2: suppression field `reason` is missing: every accepted risk must say why",
            ),
            (
                "suppressions:\n  - rule: A\n    reason: r\n",
                "x:2: suppression field `expires` is missing: give the last day the suppression holds (YYYY-MM-DD)",
            ),
            (
                "suppressions:\n  - rule: A\n    reason: r\n    expires: soon\n",
                "x:2: suppression field `expires` `soon` is not a date (YYYY-MM-DD)",
            ),
            (
                "suppressions:\n\n  - rule: A\n    object: a/b/c/d\n    reason: r\n    expires: 2030-01-01\n",
                "x:3: suppression field `object` `a/b/c/d` is not Kind/namespace/name or Kind/name",
            ),
        ];
        for (text, expected) in cases {
            let err = IgnoreFile::parse(text, "x").unwrap_err();
            assert_eq!(err.to_string(), expected);
        }
        let err = IgnoreFile::parse("suppressions:\n  - rul: A\n", "x").unwrap_err();
        assert!(matches!(err, IgnoreFileError::Parse { .. }), "{err}");
        assert!(IgnoreFile::parse("", "x").unwrap().suppressions.is_empty());
    }
}

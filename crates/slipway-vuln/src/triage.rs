//! What happens to findings after matching: alias groups become one finding,
//! then the user's decisions apply: an ignore file (every entry with a reason,
//! optionally an expiry date: expired entries stop applying and are reported),
//! OpenVEX statements (`not_affected` and `fixed` suppress, `affected` and
//! `under_investigation` keep the finding with that status), `--ignore-unfixed`
//! and the severity set. Suppressed findings are kept with the rule that
//! suppressed them, so a report shows what was hidden and why.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cvss::SeverityLevel;
use crate::scan::Finding;

/// An ignore file or VEX document that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    /// Reading failed.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The content is malformed.
    #[error("{path}:{line}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// What is wrong.
        message: String,
    },
}

fn read(path: &Path) -> Result<String, TriageError> {
    fs_err::read_to_string(path).map_err(|source| TriageError::Io {
        path: path.to_owned(),
        source,
    })
}

/// One entry of an ignore file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreEntry {
    /// Vulnerability id; an id ignores its aliases too.
    pub id: String,
    /// Why it is accepted (required).
    #[serde(default)]
    pub reason: String,
    /// Last day (`YYYY-MM-DD`, inclusive) or instant (RFC 3339) the entry applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Only these packages (names or purls without version); all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<String>,
}

/// An ignore file: YAML (or JSON) `{ignore: [{id, reason, expires, packages}]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreFile {
    /// Entries.
    #[serde(default)]
    pub ignore: Vec<IgnoreEntry>,
    /// Where it was read from.
    #[serde(skip)]
    pub path: String,
}

impl IgnoreFile {
    /// Load and validate an ignore file.
    ///
    /// # Errors
    /// When it cannot be read, is not YAML of the expected shape, or an entry
    /// has no `id`/`reason` or an unreadable `expires`.
    pub fn load(path: &Path) -> Result<Self, TriageError> {
        let text = read(path)?;
        let mut file: IgnoreFile =
            serde_saphyr::from_str(&text).map_err(|e| TriageError::Malformed {
                path: path.to_owned(),
                line: e
                    .location()
                    .map_or(0, |l| usize::try_from(l.line()).unwrap_or(0)),
                message: e.to_string(),
            })?;
        for (i, e) in file.ignore.iter().enumerate() {
            let bad = |message: String| TriageError::Malformed {
                path: path.to_owned(),
                line: 0,
                message: format!("ignore[{i}] ({}): {message}", e.id),
            };
            if e.id.trim().is_empty() {
                return Err(bad("`id` is required".to_owned()));
            }
            if e.reason.trim().is_empty() {
                return Err(bad(
                    "`reason` is required: say why the finding is accepted".to_owned()
                ));
            }
            if let Some(x) = &e.expires
                && expiry_instant(x).is_none()
            {
                return Err(bad(format!(
                    "`expires: {x}` is not a date (YYYY-MM-DD) or RFC 3339 time"
                )));
            }
        }
        file.path = path.display().to_string();
        Ok(file)
    }
}

/// The end of an expiry: a date means the end of that day (UTC).
fn expiry_instant(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let t = text.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&chrono::Utc));
    }
    let day = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(23, 59, 59)?.and_utc())
}

/// One OpenVEX statement, reduced to what matching needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VexStatement {
    /// Vulnerability name and aliases.
    pub vulnerabilities: Vec<String>,
    /// Product and subcomponent identifiers (purls or others).
    pub products: Vec<String>,
    /// `not_affected`, `affected`, `fixed`, `under_investigation`.
    pub status: String,
    /// Justification or impact statement.
    pub justification: Option<String>,
    /// The document the statement came from.
    pub source: String,
}

/// OpenVEX statements from one or more documents, in document order (later wins).
#[derive(Debug, Clone, Default)]
pub struct Vex {
    /// Statements.
    pub statements: Vec<VexStatement>,
}

fn ids_of(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Object(o) => {
            let mut out = Vec::new();
            for k in ["name", "@id"] {
                if let Some(s) = o.get(k).and_then(Value::as_str) {
                    out.push(s.to_owned());
                }
            }
            if let Some(a) = o.get("aliases").and_then(Value::as_array) {
                out.extend(a.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            out
        }
        _ => Vec::new(),
    }
}

impl Vex {
    /// Add the statements of an OpenVEX JSON document.
    ///
    /// # Errors
    /// When it cannot be read or is not an OpenVEX document.
    pub fn load(&mut self, path: &Path) -> Result<(), TriageError> {
        let text = read(path)?;
        let bad = |line: usize, message: String| TriageError::Malformed {
            path: path.to_owned(),
            line,
            message,
        };
        let doc: Value = serde_json::from_str(&text).map_err(|e| bad(e.line(), e.to_string()))?;
        let statements = doc
            .get("statements")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                bad(
                    0,
                    "not an OpenVEX document: no `statements` array".to_owned(),
                )
            })?;
        for (i, s) in statements.iter().enumerate() {
            let vulnerabilities = s.get("vulnerability").map(ids_of).unwrap_or_default();
            if vulnerabilities.is_empty() {
                return Err(bad(0, format!("statements[{i}]: no `vulnerability`")));
            }
            let status = s
                .get("status")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(0, format!("statements[{i}]: no `status`")))?;
            if !matches!(
                status,
                "not_affected" | "affected" | "fixed" | "under_investigation"
            ) {
                return Err(bad(
                    0,
                    format!("statements[{i}]: unknown status `{status}`"),
                ));
            }
            let mut products = Vec::new();
            for p in s
                .get("products")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                products.extend(ids_of(p));
                for sub in p
                    .get("subcomponents")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    products.extend(ids_of(sub));
                }
            }
            let justification = s
                .get("justification")
                .or_else(|| s.get("impact_statement"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            self.statements.push(VexStatement {
                vulnerabilities,
                products,
                status: status.to_owned(),
                justification,
                source: path.display().to_string(),
            });
        }
        Ok(())
    }
}

/// A purl without qualifiers and subpath, and without version when `keep_version` is false.
fn purl_base(purl: &str, keep_version: bool) -> String {
    let p = purl.split(['?', '#']).next().unwrap_or(purl);
    if keep_version {
        return p.to_owned();
    }
    // The version separator is the last `@` after the type.
    match p.rfind('@') {
        Some(i) if i > "pkg:".len() && p[..i].contains('/') => p[..i].to_owned(),
        _ => p.to_owned(),
    }
}

/// Whether `spec` (a purl, with or without version) names the finding's package.
fn names_package(spec: &str, finding: &Finding) -> bool {
    if !spec.starts_with("pkg:") {
        return spec == finding.pkg_name || Some(spec) == finding.src_name.as_deref();
    }
    let spec_base = purl_base(spec, true);
    let has_version = purl_base(spec, false) != spec_base;
    if has_version {
        purl_base(&finding.purl, true) == spec_base
    } else {
        purl_base(&finding.purl, false) == spec_base
    }
}

/// Every id of a finding: its id, its aliases and the records that matched.
fn all_ids(f: &Finding) -> BTreeSet<&str> {
    std::iter::once(f.vulnerability_id.as_str())
        .chain(f.aliases.iter().map(String::as_str))
        .chain(f.matched_records.iter().map(String::as_str))
        .collect()
}

/// Merge findings of the same package whose ids alias each other into one.
///
/// The group is reported under its CVE id when it has one (what Trivy users
/// look up), with every other id in `Aliases`, the highest severity, and every
/// matching record in `MatchedRecords`.
pub fn group_aliases(findings: Vec<Finding>) -> Vec<Finding> {
    let mut groups: Vec<Finding> = Vec::new();
    for f in findings {
        let ids: BTreeSet<String> = all_ids(&f).into_iter().map(str::to_owned).collect();
        let same_pkg = |g: &Finding| {
            g.target == f.target
                && g.pkg_name == f.pkg_name
                && g.installed_version == f.installed_version
        };
        let pos = groups
            .iter()
            .position(|g| same_pkg(g) && all_ids(g).iter().any(|i| ids.contains(*i)));
        let Some(pos) = pos else {
            groups.push(f);
            continue;
        };
        let g = &mut groups[pos];
        let base_ids: BTreeSet<String> = all_ids(g).into_iter().map(str::to_owned).collect();
        if f.severity > g.severity {
            let mut f = f;
            f.matched_records.extend(g.matched_records.iter().cloned());
            if f.fixed_version.is_none() {
                f.fixed_version = g.fixed_version.clone();
            }
            *g = f;
        } else {
            g.matched_records.extend(f.matched_records.iter().cloned());
            if g.fixed_version.is_none() {
                g.fixed_version = f.fixed_version.clone();
                g.status = f.status;
            }
        }
        let mut every: BTreeSet<String> = base_ids;
        every.extend(ids);
        g.matched_records.sort();
        g.matched_records.dedup();
        let primary = every
            .iter()
            .find(|i| i.starts_with("CVE-"))
            .cloned()
            .unwrap_or_else(|| g.vulnerability_id.clone());
        g.aliases = every.into_iter().filter(|i| *i != primary).collect();
        g.vulnerability_id = primary;
    }
    // A lone finding named by a record also gets its CVE as primary id.
    for g in &mut groups {
        if !g.vulnerability_id.starts_with("CVE-")
            && let Some(cve) = g.aliases.iter().find(|a| a.starts_with("CVE-")).cloned()
        {
            let old = std::mem::replace(&mut g.vulnerability_id, cve.clone());
            g.aliases.retain(|a| *a != cve);
            g.aliases.push(old);
            g.aliases.sort();
        }
    }
    groups
}

/// The user's triage decisions.
#[derive(Debug, Clone, Default)]
pub struct TriageOptions {
    /// Severities kept (all when empty).
    pub severities: Vec<SeverityLevel>,
    /// Drop findings without a fixed version.
    pub ignore_unfixed: bool,
    /// Ignore file.
    pub ignore: Option<IgnoreFile>,
    /// VEX statements.
    pub vex: Vex,
}

/// A finding the user's decisions removed, with the decision.
#[derive(Debug, Clone, Serialize)]
pub struct Suppressed {
    /// The finding.
    #[serde(flatten)]
    pub finding: Finding,
    /// What suppressed it (`ignore-file`, `vex`, `unfixed`, `severity`).
    #[serde(rename = "SuppressedBy")]
    pub by: String,
    /// The reason given (ignore reason, VEX justification).
    #[serde(rename = "Reason")]
    pub reason: String,
}

/// An ignore entry that no longer applies or never applied.
#[derive(Debug, Clone, Serialize)]
pub struct StaleIgnore {
    /// The entry.
    #[serde(flatten)]
    pub entry: IgnoreEntry,
    /// `expired` or `unused`.
    #[serde(rename = "state")]
    pub state: &'static str,
}

/// Outcome of triage.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Triaged {
    /// Findings that remain.
    pub findings: Vec<Finding>,
    /// Findings removed, with why.
    pub suppressed: Vec<Suppressed>,
    /// Ignore entries past their expiry (they no longer apply) or matching nothing.
    pub stale_ignores: Vec<StaleIgnore>,
}

/// Apply the decisions in `opts` at `now` (RFC 3339).
pub fn triage(findings: Vec<Finding>, opts: &TriageOptions, now: &str) -> Triaged {
    let now_t = chrono::DateTime::parse_from_rfc3339(now)
        .map(|d| d.with_timezone(&chrono::Utc))
        .ok();
    let mut out = Triaged::default();
    let entries: &[IgnoreEntry] = opts.ignore.as_ref().map_or(&[], |f| &f.ignore);
    let expired: Vec<bool> = entries
        .iter()
        .map(|e| match (&e.expires, now_t) {
            (Some(x), Some(now)) => expiry_instant(x).is_some_and(|x| x < now),
            _ => false,
        })
        .collect();
    let mut used = vec![false; entries.len()];
    for mut f in findings {
        let ids = all_ids(&f)
            .into_iter()
            .map(str::to_owned)
            .collect::<BTreeSet<_>>();
        let hit = entries.iter().enumerate().find(|(i, e)| {
            !expired[*i]
                && ids.contains(&e.id)
                && (e.packages.is_empty() || e.packages.iter().any(|p| names_package(p, &f)))
        });
        if let Some((i, e)) = hit {
            used[i] = true;
            let file = opts.ignore.as_ref().map_or("", |f| f.path.as_str());
            out.suppressed.push(Suppressed {
                finding: f,
                by: format!("ignore-file {file}"),
                reason: e.reason.clone(),
            });
            continue;
        }
        let vex = opts.vex.statements.iter().rev().find(|s| {
            s.vulnerabilities.iter().any(|v| ids.contains(v)) && {
                let pkgs: Vec<&String> = s
                    .products
                    .iter()
                    .filter(|p| {
                        p.starts_with("pkg:")
                            && !p.starts_with("pkg:oci/")
                            && !p.starts_with("pkg:docker/")
                    })
                    .collect();
                pkgs.is_empty() || pkgs.iter().any(|p| names_package(p, &f))
            }
        });
        if let Some(s) = vex {
            match s.status.as_str() {
                "not_affected" | "fixed" => {
                    out.suppressed.push(Suppressed {
                        finding: f,
                        by: format!("vex {} ({})", s.source, s.status),
                        reason: s.justification.clone().unwrap_or_default(),
                    });
                    continue;
                }
                "under_investigation" => f.status = "under_investigation",
                _ => {
                    f.status = if f.fixed_version.is_some() {
                        "fixed"
                    } else {
                        "affected"
                    }
                }
            }
        }
        if opts.ignore_unfixed && f.fixed_version.is_none() {
            out.suppressed.push(Suppressed {
                finding: f,
                by: "ignore-unfixed".to_owned(),
                reason: "no fixed version is known".to_owned(),
            });
            continue;
        }
        if !opts.severities.is_empty() && !opts.severities.contains(&f.severity) {
            let level = format!("{:?}", f.severity).to_uppercase();
            out.suppressed.push(Suppressed {
                finding: f,
                by: "severity".to_owned(),
                reason: format!("{level} is not in the selected severities"),
            });
            continue;
        }
        out.findings.push(f);
    }
    for (i, e) in entries.iter().enumerate() {
        if expired[i] {
            out.stale_ignores.push(StaleIgnore {
                entry: e.clone(),
                state: "expired",
            });
        } else if !used[i] {
            out.stale_ignores.push(StaleIgnore {
                entry: e.clone(),
                state: "unused",
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;

//! Secret detection in files and in Git history.
//!
//! Line-based patterns ([`rules`]) find private keys, cloud and service tokens (AWS, GitHub,
//! GitLab, Slack, Stripe, Google, JWTs) and high-entropy values under secret-like keys; a
//! structural pass finds Kubernetes `Secret` manifests committed with `data`/`stringData`.
//!
//! **Invariant:** a [`SecretFinding`] never holds the secret: only a redacted form and a
//! fingerprint (SHA-256 of rule, file and secret) that a [`Baseline`] uses to accept it.
//! History scanning runs the `git` command line (`git log -p`), reading its output as a
//! stream, and reports the commit that added each line.

pub mod rules;

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use slipway_model::SourceLocation;
use slipway_report::{CheckId, Finding, Outcome, Severity, Source};

use crate::input::{self, MAX_INPUT_BYTES};
use rules::{GENERIC, compiled, entropy, generic_value_is_secret};

/// The rule id of committed Kubernetes `Secret` data.
pub const KUBERNETES_SECRET: &str = "kubernetes-secret-data";

/// Lines longer than this are cut before matching (minified files, embedded blobs).
const MAX_LINE: usize = 4096;

/// One secret found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretFinding {
    /// Rule id, e.g. `github-token`.
    pub rule: String,
    /// What was found.
    pub description: String,
    /// File (relative to the repository for history scans).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// The commit that added the line (history scans only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The match with the secret masked.
    pub redacted: String,
    /// SHA-256 of rule, file and secret (hex), stable across line moves.
    pub fingerprint: String,
}

impl SecretFinding {
    fn new(
        rule: &str,
        description: &str,
        file: &str,
        line: usize,
        secret: &str,
        shown: String,
    ) -> Self {
        let mut hash = Sha256::new();
        for part in [rule, file, secret] {
            hash.update(part.as_bytes());
            hash.update([0u8]);
        }
        Self {
            rule: rule.to_string(),
            description: description.to_string(),
            file: file.to_string(),
            line,
            commit: None,
            redacted: shown,
            fingerprint: hex::encode(hash.finalize()),
        }
    }

    /// As a platform finding (fails the gate, severity high).
    pub fn to_finding(&self) -> Finding {
        let id = CheckId::new(format!("secret-{}", self.rule))
            .unwrap_or_else(|_| CheckId::slugify(&self.rule));
        let location = match &self.commit {
            Some(c) => format!("{}:{} (commit {})", self.file, self.line, short(c)),
            None => format!("{}:{}", self.file, self.line),
        };
        let mut f = Finding::new(
            id,
            Source::Secrets,
            Severity::High,
            Outcome::Fail,
            format!("No {} in the repository", self.description.to_lowercase()),
            format!("{}: {} ({})", location, self.description, self.redacted),
        )
        .with_location(SourceLocation::new(self.file.clone(), 0, self.line))
        .with_property("fingerprint", self.fingerprint.clone())
        .with_property("redacted", self.redacted.clone())
        .with_remediation("remove the secret, rotate it, and load it at runtime (mounted Secret, vault); accept false positives with a baseline");
        if let Some(c) = &self.commit {
            f = f.with_property("commit", c.clone());
        }
        f
    }
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// Masks a secret: a short non-secret prefix (token formats announce themselves) and the length.
pub fn redact(secret: &str) -> String {
    let chars = secret.chars().count();
    if chars <= 8 {
        return "*".repeat(chars.max(4));
    }
    let prefix: String = secret.chars().take(4).collect();
    format!("{prefix}…[{chars} chars redacted]")
}

/// A problem reading one input; the scan goes on.
#[derive(Debug, thiserror::Error)]
pub enum SecretScanError {
    /// A file or directory could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `git` could not be run or failed.
    #[error("git history of {path} could not be read: {message}")]
    Git {
        /// The repository.
        path: PathBuf,
        /// What git said.
        message: String,
    },
}

/// What a scan found and what it skipped.
#[derive(Debug, Default)]
pub struct SecretScan {
    /// Findings, in file and line order for file scans, history order for Git.
    pub findings: Vec<SecretFinding>,
    /// Binary or oversized files that were skipped.
    pub skipped: Vec<PathBuf>,
    /// Inputs that could not be read.
    pub errors: Vec<SecretScanError>,
}

/// Scans text from `file`: patterns on every line, and Kubernetes `Secret` manifests when
/// `file` looks like YAML or JSON.
pub fn scan_text(text: &str, file: &str) -> Vec<SecretFinding> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        scan_line(line, file, i + 1, &mut out);
    }
    if is_manifest_name(file) && text.contains("Secret") {
        let manifests = kubernetes_secrets(text, file);
        // A Secret's data line is reported once, as Secret data, not also as a generic value.
        out.retain(|f| f.rule != GENERIC || !manifests.iter().any(|m| m.line == f.line));
        out.extend(manifests);
    }
    out.sort_by_key(|f| f.line);
    out
}

fn is_manifest_name(file: &str) -> bool {
    [".yaml", ".yml", ".json"].iter().any(|e| file.ends_with(e))
}

/// Applies the pattern rules to one line.
fn scan_line(line: &str, file: &str, line_no: usize, out: &mut Vec<SecretFinding>) {
    let line = match line.char_indices().nth(MAX_LINE) {
        Some((cut, _)) => &line[..cut],
        None => line,
    };
    let lower = line.to_ascii_lowercase();
    // Byte ranges of secrets matched by specific rules, so the generic rule does not report
    // the same value again (the generic rule comes last).
    let mut spans: Vec<std::ops::Range<usize>> = Vec::new();
    for rule in compiled() {
        if !rule.may_match(line, &lower) {
            continue;
        }
        for caps in rule.regex.captures_iter(line) {
            let Some(whole) = caps.get(0) else { continue };
            if rule.rule.id == GENERIC {
                let (Some(key), Some(value)) = (caps.get(1), caps.get(2)) else {
                    continue;
                };
                let overlaps = spans
                    .iter()
                    .any(|s| s.start < value.end() && value.start() < s.end);
                if overlaps || !generic_value_is_secret(key.as_str(), value.as_str()) {
                    continue;
                }
                let shown = format!("{}: {}", key.as_str(), redact(value.as_str()));
                out.push(SecretFinding::new(
                    rule.rule.id,
                    rule.rule.description,
                    file,
                    line_no,
                    value.as_str(),
                    shown,
                ));
                continue;
            }
            let secret = caps.get(1).unwrap_or(whole);
            spans.push(secret.range());
            if rule.rule.id == "private-key" {
                // The header names the key type and is not secret; the key body follows it.
                out.push(SecretFinding::new(
                    rule.rule.id,
                    rule.rule.description,
                    file,
                    line_no,
                    secret.as_str(),
                    secret.as_str().to_string(),
                ));
                continue;
            }
            if entropy(secret.as_str()) < rule.rule.min_entropy {
                continue;
            }
            out.push(SecretFinding::new(
                rule.rule.id,
                rule.rule.description,
                file,
                line_no,
                secret.as_str(),
                redact(secret.as_str()),
            ));
        }
    }
}

/// `Secret` objects with non-empty `data` or `stringData` values.
fn kubernetes_secrets(text: &str, file: &str) -> Vec<SecretFinding> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    input::read_text(text, file, &mut |doc| {
        let Ok(doc) = doc else { return };
        if doc.object.get("kind").and_then(Value::as_str) != Some("Secret") {
            return;
        }
        let name = doc
            .object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        for field in ["data", "stringData"] {
            let Some(map) = doc.object.get(field).and_then(Value::as_object) else {
                continue;
            };
            for (key, value) in map {
                let Some(v) = value.as_str().filter(|v| !v.trim().is_empty()) else {
                    continue;
                };
                if v.contains("{{") || v.contains("${") {
                    continue;
                }
                let line = find_key_line(&lines, doc.source.line, field, key);
                out.push(SecretFinding::new(
                    KUBERNETES_SECRET,
                    "Kubernetes Secret with committed data",
                    file,
                    line,
                    v,
                    format!("Secret/{name} {field}.{key}: {}", redact(v)),
                ));
            }
        }
    });
    out
}

/// The line of `key:` after the `field:` line, from the document's first line on.
fn find_key_line(lines: &[&str], start: usize, field: &str, key: &str) -> usize {
    let from = start.saturating_sub(1);
    let field_line = lines
        .iter()
        .enumerate()
        .skip(from)
        .find(|(_, l)| {
            let t = l.trim_start().trim_start_matches('"');
            t.starts_with(field)
                && t[field.len()..]
                    .trim_start_matches('"')
                    .trim_start()
                    .starts_with(':')
        })
        .map_or(from, |(i, _)| i);
    lines
        .iter()
        .enumerate()
        .skip(field_line + 1)
        .find(|(_, l)| {
            let t = l.trim_start().trim_start_matches('"');
            t.starts_with(key)
                && t[key.len()..]
                    .trim_start_matches('"')
                    .trim_start()
                    .starts_with(':')
        })
        .map_or(start, |(i, _)| i + 1)
}

/// Scans files and directories (recursively, skipping `.git` and other hidden entries).
/// Binary files (NUL bytes in the first 8 KiB) and files over the size limit are skipped
/// and listed.
pub fn scan_paths<P: AsRef<Path>>(paths: &[P]) -> SecretScan {
    let mut scan = SecretScan::default();
    for path in paths {
        let path = path.as_ref();
        let walker = walkdir::WalkDir::new(path)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        for entry in walker {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    scan.errors.push(SecretScanError::Io {
                        path: e
                            .path()
                            .map_or_else(|| path.to_path_buf(), Path::to_path_buf),
                        source: e.into(),
                    });
                    continue;
                }
            };
            if !entry.file_type().is_file() {
                continue;
            }
            scan_file(entry.path(), &mut scan);
        }
    }
    scan
}

fn scan_file(path: &Path, scan: &mut SecretScan) {
    let too_big = fs_err::metadata(path).map(|m| m.len() > MAX_INPUT_BYTES);
    match too_big {
        Ok(true) => return scan.skipped.push(path.to_path_buf()),
        Ok(false) => {}
        Err(source) => {
            return scan.errors.push(SecretScanError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    }
    let bytes = match fs_err::read(path) {
        Ok(b) => b,
        Err(source) => {
            return scan.errors.push(SecretScanError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if bytes[..bytes.len().min(8192)].contains(&0) {
        return scan.skipped.push(path.to_path_buf());
    }
    let text = String::from_utf8_lossy(&bytes);
    scan.findings
        .extend(scan_text(&text, &path.display().to_string()));
}

/// Scans every line ever added in the Git history of `repo` (all refs), reporting the commit
/// that added it. A secret added once and later deleted is still found.
pub fn scan_git_history(repo: &Path) -> SecretScan {
    let mut scan = SecretScan::default();
    let child = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args([
            "log",
            "-p",
            "--all",
            "--no-color",
            "--no-ext-diff",
            "--no-renames",
            "--unified=0",
            "--format=%x00commit %H",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            scan.errors.push(SecretScanError::Git {
                path: repo.to_path_buf(),
                message: e.to_string(),
            });
            return scan;
        }
    };
    let Some(stdout) = child.stdout.take() else {
        return scan;
    };
    let mut commit = String::new();
    let mut file: Option<String> = None;
    let mut line_no = 0usize;
    // Oldest introduction wins: git log lists newest first, so later entries replace earlier.
    let mut by_fingerprint: HashMap<String, usize> = HashMap::new();
    let mut reader = BufReader::new(stdout);
    let mut raw = Vec::new();
    loop {
        raw.clear();
        match reader.read_until(b'\n', &mut raw) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                scan.errors.push(SecretScanError::Git {
                    path: repo.to_path_buf(),
                    message: e.to_string(),
                });
                break;
            }
        }
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim_end_matches(['\n', '\r']);
        if let Some(hash) = line.strip_prefix("\0commit ") {
            commit = hash.to_string();
            file = None;
        } else if let Some(path) = line.strip_prefix("+++ ") {
            file = path.strip_prefix("b/").map(str::to_string);
        } else if line.starts_with("@@") {
            line_no = hunk_start(line).unwrap_or(1);
        } else if let (Some(added), Some(f)) = (line.strip_prefix('+'), &file) {
            let mut found = Vec::new();
            scan_line(added, f, line_no, &mut found);
            for mut finding in found {
                finding.commit = Some(commit.clone());
                match by_fingerprint.get(&finding.fingerprint) {
                    Some(&i) => scan.findings[i] = finding,
                    None => {
                        by_fingerprint.insert(finding.fingerprint.clone(), scan.findings.len());
                        scan.findings.push(finding);
                    }
                }
            }
            line_no += 1;
        }
    }
    match child.wait_with_output() {
        Ok(out) if !out.status.success() => scan.errors.push(SecretScanError::Git {
            path: repo.to_path_buf(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        }),
        Ok(_) => {}
        Err(e) => scan.errors.push(SecretScanError::Git {
            path: repo.to_path_buf(),
            message: e.to_string(),
        }),
    }
    scan
}

/// The new-side start line of a hunk header `@@ -a,b +c,d @@`.
fn hunk_start(header: &str) -> Option<usize> {
    let plus = header.split_whitespace().find(|p| p.starts_with('+'))?;
    plus[1..].split(',').next()?.parse().ok()
}

/// Accepted findings, by fingerprint. Stored as JSON:
/// `{"accepted": [{"fingerprint": "…", "rule": "…", "file": "…", "reason": "…"}]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Baseline {
    /// The accepted findings.
    pub accepted: Vec<BaselineEntry>,
}

/// One accepted finding.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BaselineEntry {
    /// The finding's fingerprint.
    pub fingerprint: String,
    /// Rule id (informational).
    #[serde(default)]
    pub rule: String,
    /// File (informational).
    #[serde(default)]
    pub file: String,
    /// Why it is accepted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// A baseline file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// Reading failed.
    #[error("cannot read baseline {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a baseline.
    #[error("baseline {path} is not valid JSON of the form {{\"accepted\": [...]}}")]
    Parse {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

impl Baseline {
    /// Reads a baseline file.
    pub fn load(path: &Path) -> Result<Self, BaselineError> {
        let text = fs_err::read_to_string(path).map_err(|source| BaselineError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| BaselineError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }

    /// A baseline accepting every finding.
    pub fn of(findings: &[SecretFinding]) -> Self {
        let mut seen = BTreeSet::new();
        Self {
            accepted: findings
                .iter()
                .filter(|f| seen.insert(f.fingerprint.clone()))
                .map(|f| BaselineEntry {
                    fingerprint: f.fingerprint.clone(),
                    rule: f.rule.clone(),
                    file: f.file.clone(),
                    reason: String::new(),
                })
                .collect(),
        }
    }

    /// The findings this baseline does not accept.
    pub fn filter(&self, findings: Vec<SecretFinding>) -> Vec<SecretFinding> {
        let accepted: BTreeSet<&str> = self
            .accepted
            .iter()
            .map(|e| e.fingerprint.as_str())
            .collect();
        findings
            .into_iter()
            .filter(|f| !accepted.contains(f.fingerprint.as_str()))
            .collect()
    }
}

#[cfg(test)]
mod tests;

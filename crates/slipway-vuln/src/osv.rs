//! The OSV record (schema 1.7): the fields a scanner needs, parsed tolerantly.
//!
//! Unknown fields are ignored and `null` reads as absent, so a record from a
//! newer schema or a sloppy producer still loads; what cannot be evaluated is
//! dropped at matching time, never at load time.

use serde::{Deserialize, Deserializer};

use crate::version::Ecosystem;

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One OSV vulnerability record.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
pub struct Record {
    /// Primary key, `<DB>-<ENTRYID>`.
    pub id: String,
    /// RFC 3339 time of the last change; picks the newest copy of a duplicated id.
    #[serde(default, deserialize_with = "null_as_default")]
    pub modified: String,
    /// RFC 3339 publication time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// RFC 3339 retraction time: a withdrawn record produces no findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    /// The same vulnerability in other databases.
    #[serde(default, deserialize_with = "null_as_default")]
    pub aliases: Vec<String>,
    /// Upstream vulnerabilities a distro advisory bundles (not merged into alias groups).
    #[serde(default, deserialize_with = "null_as_default")]
    pub upstream: Vec<String>,
    /// One-line summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// CommonMark details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Record-level severities (vectors).
    #[serde(default, deserialize_with = "null_as_default")]
    pub severity: Vec<Severity>,
    /// Affected packages.
    #[serde(default, deserialize_with = "null_as_default")]
    pub affected: Vec<Affected>,
    /// Links.
    #[serde(default, deserialize_with = "null_as_default")]
    pub references: Vec<Reference>,
    /// Free-form; GitHub records put a `severity` word here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

/// A `{type, score}` severity entry; `score` is a vector string for CVSS types.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
pub struct Severity {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4` or `Ubuntu`.
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub kind: String,
    /// The vector (or the Ubuntu priority word).
    #[serde(default, deserialize_with = "null_as_default")]
    pub score: String,
}

/// A reference link.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
pub struct Reference {
    /// ADVISORY, WEB, FIX, ...
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub kind: String,
    /// The URL.
    #[serde(default, deserialize_with = "null_as_default")]
    pub url: String,
}

/// One `affected[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
pub struct Affected {
    /// The package; entries without one cannot match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    /// Per-package severities (win over the record's).
    #[serde(default, deserialize_with = "null_as_default")]
    pub severity: Vec<Severity>,
    /// Version ranges.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ranges: Vec<Range>,
    /// Explicitly affected versions.
    #[serde(default, deserialize_with = "null_as_default")]
    pub versions: Vec<String>,
    /// Free-form (Debian `urgency`, Go `imports`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<serde_json::Value>,
    /// Free-form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

/// `affected[].package`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
pub struct Package {
    /// `Debian:12`, `PyPI`, `Packagist:https://...`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ecosystem: String,
    /// Package name (source package for distros).
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// Optional purl without version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// Range type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeType {
    /// SemVer 2.0 precedence.
    Semver,
    /// The package ecosystem's own order.
    Ecosystem,
    /// Commit hashes; not evaluable offline.
    Git,
    /// Anything else.
    Unknown,
}

/// One `ranges[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
pub struct Range {
    /// `SEMVER`, `ECOSYSTEM` or `GIT`.
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub kind: String,
    /// Repository of a GIT range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// Events, not necessarily sorted.
    #[serde(default, deserialize_with = "null_as_default")]
    pub events: Vec<Event>,
}

impl Range {
    /// The parsed range type.
    pub fn range_type(&self) -> RangeType {
        match self.kind.as_str() {
            "SEMVER" => RangeType::Semver,
            "ECOSYSTEM" => RangeType::Ecosystem,
            "GIT" => RangeType::Git,
            _ => RangeType::Unknown,
        }
    }
}

/// One event; exactly one field is set in valid data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Event {
    /// Start of an affected window (`"0"` = before every version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    /// Exclusive end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    /// Inclusive end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    /// Upper limit (GIT; `"*"` = infinity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

/// An OSV ecosystem string split into its base and optional suffix
/// (`Debian:12`, `Alpine:v3.18`, `Ubuntu:22.04:LTS`, `Packagist:https://...`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EcosystemName {
    /// Base name, case-sensitive.
    pub base: String,
    /// Release or registry suffix.
    pub suffix: Option<String>,
}

impl EcosystemName {
    /// Split `s` at its first `:`.
    pub fn parse(s: &str) -> Self {
        match s.split_once(':') {
            Some((b, rest)) => EcosystemName {
                base: b.to_owned(),
                suffix: Some(rest.to_owned()).filter(|r| !r.is_empty()),
            },
            None => EcosystemName {
                base: s.to_owned(),
                suffix: None,
            },
        }
    }

    /// The known ecosystem, for version ordering.
    pub fn known(&self) -> Option<Ecosystem> {
        Ecosystem::from_osv(&self.base)
    }

    /// Whether a record for `self` applies to a package found in `package`.
    ///
    /// Bases must be equal. A release suffix on the record must equal the
    /// package's; a registry-URL suffix (`Packagist:https://...`) matches packages
    /// of the default registry too, as osv-scanner does.
    pub fn record_applies_to(&self, package: &EcosystemName) -> bool {
        if self.base != package.base {
            return false;
        }
        match &self.suffix {
            None => true,
            Some(s) if s.contains("://") => true,
            Some(s) => package.suffix.as_deref() == Some(s.as_str()),
        }
    }
}

impl std::fmt::Display for EcosystemName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.suffix {
            Some(s) => write!(f, "{}:{s}", self.base),
            None => f.write_str(&self.base),
        }
    }
}

/// PEP 503 normalisation (lowercase, runs of `-_.` become `-`), used for PyPI names.
pub fn normalize_pypi_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_sep {
                out.push('-');
            }
            in_sep = true;
        } else {
            out.push(c.to_ascii_lowercase());
            in_sep = false;
        }
    }
    out
}

/// The name under which a package of `ecosystem` is looked up.
pub fn lookup_name(ecosystem: &str, name: &str) -> String {
    if EcosystemName::parse(ecosystem).base == "PyPI" {
        normalize_pypi_name(name)
    } else {
        name.to_owned()
    }
}

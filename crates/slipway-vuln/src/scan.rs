//! Matching an inventory against a set of OSV records: findings with Trivy's
//! field names plus why each one matched, severity per the spec's rule, and
//! alias groups.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Serialize;

use crate::cvss::{self, CvssVersion, SeverityLevel};
use crate::inventory::Package;
use crate::matching::{MatchReason, Query, Verdict, evaluate};
use crate::osv::{EcosystemName, Record, Severity, lookup_name};

/// An in-memory advisory set indexed by (ecosystem base, lookup name).
#[derive(Debug, Default)]
pub struct Advisories {
    records: Vec<Record>,
    by_id: HashMap<String, usize>,
    index: HashMap<(String, String), Vec<usize>>,
    /// Files that could not be parsed as OSV records (path, error).
    pub skipped: Vec<(String, String)>,
}

impl Advisories {
    /// Add a record; of two copies of an id the newer `modified` wins.
    pub fn insert(&mut self, record: Record) {
        if let Some(&i) = self.by_id.get(&record.id) {
            if self.records[i].modified >= record.modified {
                return;
            }
            self.records[i] = record;
            self.reindex();
            return;
        }
        let i = self.records.len();
        self.by_id.insert(record.id.clone(), i);
        self.index_record(i, &record);
        self.records.push(record);
    }

    fn index_record(&mut self, i: usize, record: &Record) {
        for a in &record.affected {
            if let Some(p) = &a.package {
                let key = (
                    EcosystemName::parse(&p.ecosystem).base,
                    lookup_name(&p.ecosystem, &p.name),
                );
                let list = self.index.entry(key).or_default();
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
        }
    }

    fn reindex(&mut self) {
        self.index.clear();
        let records = std::mem::take(&mut self.records);
        for (i, r) in records.iter().enumerate() {
            self.index_record(i, r);
        }
        self.records = records;
    }

    /// Number of records held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Load every `*.json` file under `dir` (recursively). Unparseable files are
    /// listed in [`Advisories::skipped`], never fatal.
    pub fn load_dir(dir: &Path) -> Self {
        let mut db = Advisories::default();
        let mut stack = vec![dir.to_owned()];
        let mut files = Vec::new();
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "json") {
                    files.push(p);
                }
            }
        }
        files.sort();
        for f in files {
            match fs_err::read(&f)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Record>(&b).map_err(|e| e.to_string()))
            {
                Ok(r) if !r.id.is_empty() => db.insert(r),
                Ok(_) => db
                    .skipped
                    .push((f.display().to_string(), "record has no id".to_owned())),
                Err(e) => db.skipped.push((f.display().to_string(), e)),
            }
        }
        db
    }

    /// The records that name a package, by (ecosystem base, lookup name).
    pub fn candidates(&self, ecosystem: &str, name: &str) -> impl Iterator<Item = &Record> {
        let key = (
            EcosystemName::parse(ecosystem).base,
            lookup_name(ecosystem, name),
        );
        self.index
            .get(&key)
            .into_iter()
            .flatten()
            .map(|&i| &self.records[i])
    }
}

/// A set of advisories the matcher can ask for the records affecting a package.
///
/// `Sync` so a scan can look packages up on several threads.
pub trait AdvisoryLookup: Sync {
    /// Why a lookup failed (a database read error; never "not found").
    type Error: Send;

    /// Call `f` with every record that affects the package of `query` at time
    /// `now` (RFC 3339, for withdrawals), with why it matched.
    ///
    /// # Errors
    /// When the records cannot be read: a scan must then fail, not pass.
    fn affecting(
        &self,
        query: &Query<'_>,
        now: &str,
        f: &mut dyn FnMut(&Record, MatchReason),
    ) -> Result<(), Self::Error>;
}

impl AdvisoryLookup for Advisories {
    type Error = std::convert::Infallible;

    fn affecting(
        &self,
        query: &Query<'_>,
        now: &str,
        f: &mut dyn FnMut(&Record, MatchReason),
    ) -> Result<(), Self::Error> {
        for record in self.candidates(query.ecosystem, query.name) {
            if let Verdict::Affected(reason) = evaluate(record, query, now) {
                f(record, reason);
            }
        }
        Ok(())
    }
}

/// CVSS details of a finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CvssInfo {
    /// The vector.
    #[serde(rename = "Vector")]
    pub vector: String,
    /// Its base score.
    #[serde(rename = "Score")]
    pub score: f64,
}

/// Why a finding matched (beyond Trivy's fields).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchedBy {
    /// Ecosystem of the affected entry that matched.
    #[serde(rename = "Ecosystem")]
    pub ecosystem: String,
    /// The name looked up (the source package for distros).
    #[serde(rename = "LookupName")]
    pub lookup_name: String,
    /// The range or list that matched.
    #[serde(rename = "Range")]
    pub range: MatchReason,
}

/// One vulnerability in one package, in Trivy's JSON vocabulary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The record id.
    #[serde(rename = "VulnerabilityID")]
    pub vulnerability_id: String,
    /// Other ids of the same vulnerability (alias group).
    #[serde(rename = "Aliases", skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Installed (binary) package name.
    #[serde(rename = "PkgName")]
    pub pkg_name: String,
    /// Source package, when it differs.
    #[serde(rename = "SrcName", skip_serializing_if = "Option::is_none")]
    pub src_name: Option<String>,
    /// Installed version (the one matched).
    #[serde(rename = "InstalledVersion")]
    pub installed_version: String,
    /// First fixed version above it, if any.
    #[serde(rename = "FixedVersion", skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    /// `fixed` when a fix exists, else `affected`.
    #[serde(rename = "Status")]
    pub status: &'static str,
    /// Bucketed severity.
    #[serde(rename = "Severity")]
    pub severity: SeverityLevel,
    /// Scored vectors, v3 first.
    #[serde(rename = "CVSS", skip_serializing_if = "Vec::is_empty")]
    pub cvss: Vec<CvssInfo>,
    /// The record's first ADVISORY (else first) reference.
    #[serde(rename = "PrimaryURL", skip_serializing_if = "Option::is_none")]
    pub primary_url: Option<String>,
    /// One-line summary.
    #[serde(rename = "Title", skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// File the package came from.
    #[serde(rename = "Target")]
    pub target: String,
    /// Purl of the package.
    #[serde(rename = "PkgIdentifier")]
    pub purl: String,
    /// Why it matched.
    #[serde(rename = "MatchedBy")]
    pub matched_by: MatchedBy,
    /// Ids of the records that matched (several once alias groups are merged).
    #[serde(rename = "MatchedRecords")]
    pub matched_records: Vec<String>,
    /// Line of the package entry in `Target`, when the format has lines.
    #[serde(rename = "Line", skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl Finding {
    /// The score used for ordering and display (first vector).
    pub fn score(&self) -> Option<f64> {
        self.cvss.first().map(|c| c.score)
    }
}

/// A package that could not be assessed (unknown or non-version like `(devel)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotAssessed {
    /// Package name.
    pub name: String,
    /// The version string as found.
    pub version: String,
    /// Where it was found.
    pub source_file: String,
    /// Why it was not assessed.
    pub reason: String,
}

/// Result of matching an inventory.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanResult {
    /// Findings, one per (vulnerability, source package, version).
    pub findings: Vec<Finding>,
    /// Packages without a usable version.
    pub not_assessed: Vec<NotAssessed>,
}

/// Severity per the spec: the affected entry's (else the record's) CVSS v3
/// vector, else v4, else v2; else `database_specific.severity` or an Ubuntu
/// priority; else UNKNOWN.
fn severity(record: &Record, affected_index: usize) -> (SeverityLevel, Vec<CvssInfo>) {
    let entry = record.affected.get(affected_index);
    let list: &[Severity] = match entry {
        Some(a) if !a.severity.is_empty() => &a.severity,
        _ => &record.severity,
    };
    let mut scored: Vec<(CvssVersion, CvssInfo)> = list
        .iter()
        .filter(|s| s.kind.starts_with("CVSS_"))
        .filter_map(|s| cvss::score(&s.score).ok())
        .map(|s| {
            (
                s.version,
                CvssInfo {
                    vector: s.vector,
                    score: s.score,
                },
            )
        })
        .collect();
    let rank = |v: CvssVersion| match v {
        CvssVersion::V3 => 0,
        CvssVersion::V4 => 1,
        CvssVersion::V2 => 2,
    };
    scored.sort_by_key(|(v, _)| rank(*v));
    if let Some((_, first)) = scored.first() {
        let level = SeverityLevel::from_score(first.score);
        return (level, scored.into_iter().map(|(_, c)| c).collect());
    }
    let word = record
        .database_specific
        .as_ref()
        .and_then(|d| d.get("severity"))
        .and_then(|s| s.as_str())
        .or_else(|| {
            list.iter()
                .find(|s| s.kind == "Ubuntu")
                .map(|s| s.score.as_str())
        });
    (
        word.and_then(SeverityLevel::from_word)
            .unwrap_or(SeverityLevel::Unknown),
        Vec::new(),
    )
}

/// Whether a version string is something the matcher can use.
fn usable_version(v: &str) -> Result<(), &'static str> {
    let v = v.trim();
    if v.is_empty() {
        Err("no version")
    } else if v.starts_with('(') || v.contains(' ') {
        Err("not a version")
    } else {
        Ok(())
    }
}

/// Match every package against the in-memory `db`. `now` (RFC 3339) decides withdrawals.
pub fn scan(packages: &[Package], db: &Advisories, now: &str) -> ScanResult {
    match scan_in(packages, db, now) {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

/// What one package gave.
enum PackageResult {
    NotAssessed(NotAssessed),
    Findings(Vec<Finding>),
}

fn scan_package<L: AdvisoryLookup>(
    p: &Package,
    db: &L,
    now: &str,
) -> Result<PackageResult, L::Error> {
    let version = p.lookup_version();
    let usable = if p.ecosystem.is_empty() {
        Err("no OSV ecosystem for this package type")
    } else {
        usable_version(version)
    };
    if let Err(reason) = usable {
        return Ok(PackageResult::NotAssessed(NotAssessed {
            name: p.name.clone(),
            version: p.version.clone(),
            source_file: p.source_file.clone(),
            reason: reason.to_owned(),
        }));
    }
    let query = Query {
        ecosystem: &p.ecosystem,
        name: p.lookup_name(),
        version,
    };
    let mut findings = Vec::new();
    db.affecting(&query, now, &mut |record: &Record, reason: MatchReason| {
        let (level, cvss) = severity(record, reason.affected_index);
        let primary_url = record
            .references
            .iter()
            .find(|r| r.kind == "ADVISORY")
            .or_else(|| record.references.first())
            .map(|r| r.url.clone());
        let ecosystem = record
            .affected
            .get(reason.affected_index)
            .and_then(|a| a.package.as_ref())
            .map(|pk| pk.ecosystem.clone())
            .unwrap_or_default();
        findings.push(Finding {
            vulnerability_id: record.id.clone(),
            aliases: record.aliases.clone(),
            pkg_name: p.name.clone(),
            src_name: p.source_name.clone().filter(|s| *s != p.name),
            installed_version: version.to_owned(),
            fixed_version: reason.fixed.clone(),
            status: if reason.fixed.is_some() {
                "fixed"
            } else {
                "affected"
            },
            severity: level,
            cvss,
            primary_url,
            title: record.summary.clone(),
            target: p.source_file.clone(),
            purl: p.purl.clone(),
            matched_by: MatchedBy {
                ecosystem,
                lookup_name: p.lookup_name().to_owned(),
                range: reason,
            },
            matched_records: vec![record.id.clone()],
            line: p.line,
        });
    })?;
    Ok(PackageResult::Findings(findings))
}

/// Packages per thread below which a scan stays on one thread.
const PARALLEL_MIN: usize = 64;

/// Match every package against any [`AdvisoryLookup`] (the on-disk database).
/// Packages are looked up on up to 4 threads; the result is the same as a
/// sequential scan.
///
/// # Errors
/// When the lookup fails; no partial result is returned, so a damaged
/// database never reads as "no vulnerabilities".
pub fn scan_in<L: AdvisoryLookup>(
    packages: &[Package],
    db: &L,
    now: &str,
) -> Result<ScanResult, L::Error> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get().min(4))
        .min(packages.len() / PARALLEL_MIN)
        .max(1);
    let run = |chunk: &[Package]| -> Result<Vec<PackageResult>, L::Error> {
        chunk.iter().map(|p| scan_package(p, db, now)).collect()
    };
    let per_package: Vec<PackageResult> = if threads == 1 {
        run(packages)?
    } else {
        let size = packages.len().div_ceil(threads);
        let parts: Vec<Result<Vec<PackageResult>, L::Error>> = std::thread::scope(|s| {
            let handles: Vec<_> = packages
                .chunks(size)
                .map(|chunk| s.spawn(move || run(chunk)))
                .collect();
            handles
                .into_iter()
                .zip(packages.chunks(size))
                // A panicking worker is a bug; its chunk is scanned again here
                // so the panic surfaces on this thread.
                .map(|(h, chunk)| h.join().unwrap_or_else(|_| run(chunk)))
                .collect()
        });
        let mut all = Vec::with_capacity(packages.len());
        for part in parts {
            all.extend(part?);
        }
        all
    };
    let mut result = ScanResult::default();
    // Binary packages of one source package are reported once.
    let mut seen: HashSet<(String, String, String, String)> = HashSet::new();
    for (p, r) in packages.iter().zip(per_package) {
        match r {
            PackageResult::NotAssessed(n) => result.not_assessed.push(n),
            PackageResult::Findings(list) => {
                for f in list {
                    let key = (
                        f.vulnerability_id.clone(),
                        p.ecosystem.clone(),
                        p.lookup_name().to_owned(),
                        f.installed_version.clone(),
                    );
                    if seen.insert(key) {
                        result.findings.push(f);
                    }
                }
            }
        }
    }
    Ok(result)
}

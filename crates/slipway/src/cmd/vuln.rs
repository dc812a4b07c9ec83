//! `slipway vuln ...`: tools around the vulnerability engine (`slipway-vuln`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use slipway_report::{Format, RenderOptions, Report, Tool};
use slipway_vuln::cvss::SeverityLevel;
use slipway_vuln::db::{self, Database};
use slipway_vuln::report::{cyclonedx, to_report_finding};
use slipway_vuln::scan::{Finding, scan_in};
use slipway_vuln::triage::{IgnoreFile, TriageOptions, Vex, group_aliases, triage};
use slipway_vuln::version::{Ecosystem, check_comparisons};

use crate::cmd::db::DataDir;
use crate::cmd::inventory;
use crate::exit::Exit;
use crate::output;

/// Output formats of `scan vulns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VulnsFormat {
    /// One row per finding.
    Table,
    /// Trivy-style JSON (VulnerabilityID, PkgName, InstalledVersion, FixedVersion, Severity,
    /// CVSS, PrimaryURL, Status) plus why each matched, what was suppressed and skipped.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// CycloneDX 1.5 JSON with components and vulnerabilities.
    Cyclonedx,
}

/// Arguments of `scan vulns`.
#[derive(Debug, Args)]
pub struct VulnsArgs {
    /// An OCI image layout directory, a project directory or root filesystem, a lockfile,
    /// or an SBOM (CycloneDX or SPDX JSON).
    #[arg(value_name = "TARGET")]
    pub target: PathBuf,
    /// Severities that count (comma-separated: UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL);
    /// `HIGH+` means HIGH and above. Default: all.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub severity: Vec<String>,
    /// Drop findings that have no fixed version.
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// YAML ignore file: `ignore: [{id, reason, expires: YYYY-MM-DD, packages: [..]}]`.
    /// Expired entries stop applying and are reported.
    #[arg(long, value_name = "FILE")]
    pub ignore_file: Option<PathBuf>,
    /// OpenVEX documents; `not_affected` and `fixed` statements suppress findings.
    #[arg(long, value_name = "FILE")]
    pub vex: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = VulnsFormat::Table)]
    pub format: VulnsFormat,
    /// Fail when the newest advisory in the database is older than this (m, h, d, w).
    #[arg(long, default_value = "7d", value_name = "AGE")]
    pub max_db_age: String,
    #[command(flatten)]
    pub data: DataDir,
}

fn parse_severities(items: &[String]) -> anyhow::Result<Vec<SeverityLevel>> {
    const ORDER: [SeverityLevel; 5] = [
        SeverityLevel::Unknown,
        SeverityLevel::Low,
        SeverityLevel::Medium,
        SeverityLevel::High,
        SeverityLevel::Critical,
    ];
    let mut out = Vec::new();
    for item in items {
        let (word, and_above) = match item.trim().strip_suffix('+') {
            Some(w) => (w, true),
            None => (item.trim(), false),
        };
        let level = ORDER
            .iter()
            .copied()
            .find(|l| format!("{l:?}").eq_ignore_ascii_case(word))
            .with_context(|| {
                format!(
                    "unknown severity `{item}`: expected UNKNOWN, LOW, MEDIUM, HIGH or CRITICAL"
                )
            })?;
        if and_above {
            out.extend(ORDER.iter().copied().filter(|l| *l >= level));
        } else {
            out.push(level);
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Runs `scan vulns`: exit 1 when findings remain after the filters, 2 on errors
/// (no or stale database, unreadable target) or when inputs were skipped.
pub fn scan_vulns(args: &VulnsArgs) -> anyhow::Result<Exit> {
    let severities = parse_severities(&args.severity)?;
    let max_age = db::parse_age(&args.max_db_age).map_err(anyhow::Error::msg)?;
    let ignore = args
        .ignore_file
        .as_deref()
        .map(IgnoreFile::load)
        .transpose()?;
    let mut vex = Vex::default();
    for v in &args.vex {
        vex.load(v)?;
    }
    let now = db::now_rfc3339();
    let database = Database::open(&args.data.data_dir)?;
    db::check_fresh(database.dir(), database.meta(), &now, max_age)?;
    let inv = inventory::collect(&args.target)?;
    let result = scan_in(&inv.packages, &database, &now)?;
    let opts = TriageOptions {
        severities,
        ignore_unfixed: args.ignore_unfixed,
        ignore,
        vex,
    };
    let mut out = triage(group_aliases(result.findings), &opts, &now);
    out.findings.sort_by(|a, b| {
        (
            &a.target,
            &a.pkg_name,
            std::cmp::Reverse(a.severity),
            &a.vulnerability_id,
        )
            .cmp(&(
                &b.target,
                &b.pkg_name,
                std::cmp::Reverse(b.severity),
                &b.vulnerability_id,
            ))
    });
    for s in &out.stale_ignores {
        let what = match s.state {
            "expired" => format!(
                "ignore entry {} expired on {} and no longer applies",
                s.entry.id,
                s.entry.expires.as_deref().unwrap_or("?")
            ),
            _ => format!("ignore entry {} matched no finding", s.entry.id),
        };
        output::warn(&what);
    }
    let skipped: Vec<String> = inv.skipped.iter().map(ToString::to_string).collect();
    let text = match args.format {
        VulnsFormat::Json => {
            let mut results: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
            for f in &out.findings {
                results.entry(f.target.as_str()).or_default().push(f);
            }
            let results: Vec<serde_json::Value> = results
                .into_iter()
                .map(|(target, findings)| {
                    let eco = findings
                        .first()
                        .map(|f| f.matched_by.ecosystem.clone())
                        .unwrap_or_default();
                    let os = eco.contains(':');
                    serde_json::json!({
                        "Target": target,
                        "Class": if os { "os-pkgs" } else { "lang-pkgs" },
                        "Type": eco.split(':').next().unwrap_or(""),
                        "Vulnerabilities": findings,
                    })
                })
                .collect();
            let meta = database.meta();
            serde_json::to_string_pretty(&serde_json::json!({
                "SchemaVersion": 2,
                "CreatedAt": now,
                "ArtifactName": args.target.display().to_string(),
                "ArtifactType": artifact_type(&args.target),
                "Database": {
                    "Records": meta.records,
                    "NewestModified": meta.newest_modified,
                    "ImportedAt": meta.imported_at,
                },
                "PackagesScanned": inv.packages.len(),
                "Results": results,
                "Suppressed": out.suppressed,
                "StaleIgnores": out.stale_ignores,
                "NotAssessed": result.not_assessed,
                "Skipped": skipped,
            }))? + "\n"
        }
        VulnsFormat::Cyclonedx => {
            serde_json::to_string_pretty(&cyclonedx(&inv.packages, &out.findings, &now))? + "\n"
        }
        VulnsFormat::Table | VulnsFormat::Sarif => {
            let report = Report::new(
                Tool::slipway(),
                out.findings.iter().map(to_report_finding).collect(),
            );
            let format = if args.format == VulnsFormat::Table {
                Format::Table
            } else {
                Format::Sarif
            };
            let options = RenderOptions {
                color: format == Format::Table && output::stdout_is_terminal(),
                ..RenderOptions::default()
            };
            let mut text = slipway_report::render(&report, format, &options)?;
            if format == Format::Table {
                text.push_str(&format!(
                    "\n{} packages scanned, {} vulnerabilities, {} suppressed, {} not assessed, {} inputs skipped\n",
                    inv.packages.len(),
                    out.findings.len(),
                    out.suppressed.len(),
                    result.not_assessed.len(),
                    skipped.len()
                ));
                for s in &out.suppressed {
                    text.push_str(&format!(
                        "suppressed {} in {} {} by {}: {}\n",
                        s.finding.vulnerability_id,
                        s.finding.pkg_name,
                        s.finding.installed_version,
                        s.by,
                        s.reason
                    ));
                }
                for s in &skipped {
                    text.push_str(&format!("skipped {s}\n"));
                }
            }
            text
        }
    };
    output::stdout(&text)?;
    Ok(if !out.findings.is_empty() {
        Exit::Findings
    } else if !skipped.is_empty() {
        Exit::BadInput
    } else {
        Exit::Success
    })
}

fn artifact_type(target: &std::path::Path) -> &'static str {
    if target.is_dir() && slipway_vuln::inventory::is_oci_layout(target) {
        "oci-layout"
    } else if target.is_dir() {
        "filesystem"
    } else {
        "file"
    }
}

/// Vulnerability engine tools.
#[derive(Debug, Subcommand)]
pub enum VulnCommand {
    /// Check an ecosystem's version order against a file of `A < B`, `A = B`, `A > B` lines.
    ///
    /// Each line must hold in both directions. Blank lines and lines starting with
    /// `#` or `//` are skipped. Prints every mismatch, then `N passed, N failed`;
    /// exits 1 when anything failed.
    CompareVersions {
        /// Ecosystem whose order to apply (OSV spelling, e.g. Debian, Alpine, PyPI, npm,
        /// crates.io, Go, Maven, RubyGems, Packagist, NuGet).
        #[arg(long, short)]
        ecosystem: Ecosystem,
        /// File of comparisons.
        file: PathBuf,
    },
}

/// Runs a vuln command.
pub fn run(command: VulnCommand) -> anyhow::Result<Exit> {
    match command {
        VulnCommand::CompareVersions { ecosystem, file } => {
            let text = fs_err::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let report = check_comparisons(ecosystem, &text);
            let mut out = String::new();
            for m in &report.mismatches {
                out.push_str(&format!(
                    "{}:{}: `{}`: {}\n",
                    file.display(),
                    m.line,
                    m.text.trim(),
                    m.problem
                ));
            }
            out.push_str(&format!(
                "{} passed, {} failed\n",
                report.passed,
                report.mismatches.len()
            ));
            output::stdout(&out)?;
            Ok(if report.mismatches.is_empty() {
                Exit::Success
            } else {
                Exit::Findings
            })
        }
    }
}

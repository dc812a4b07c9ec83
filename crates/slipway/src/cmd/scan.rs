//! `slipway scan ...`: manifest risk scoring (KubeSec rules) and secret detection.
//!
//! `scan manifests` follows kubesec's exit convention: 0 when every object scores above
//! `--min-score`, 2 otherwise, 1 when an input could not be read (the readable rest is still
//! scanned and reported).

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use slipway_report::{
    CheckId, Finding, Format, Outcome, RenderOptions, Report, Severity, Source, Tool,
};
use slipway_scan::input::{self, InputError};
use slipway_scan::kubesec::{self, JsonArrayWriter, KubesecReport, Scorer};
use slipway_scan::secrets::{self, Baseline, SecretFinding, SecretScan};
use slipway_scan::suppress::{self, IgnoreFile, Suppression};

use crate::exit::Exit;
use crate::output;

/// Scan commands.
#[derive(Debug, Subcommand)]
pub enum ScanCommand {
    /// Score Kubernetes manifests with the KubeSec rules (files, directories, `-` for stdin).
    ///
    /// Every object is validated against the Kubernetes v1.35 schemas (strict, like kubesec)
    /// and scored with kubesec's 30 rules. Exit status: 0 when every object scores above
    /// --min-score, 2 otherwise (including unsupported kinds and schema-invalid objects, and
    /// an expired `.slipwayignore` suppression), 1 when an input could not be read.
    Manifests(ManifestsArgs),
    /// Find secrets in files (and with --git, in every commit of the history).
    ///
    /// Private keys, AWS/GitHub/GitLab/Slack/Stripe/Google tokens, JWTs, high-entropy values
    /// under secret-like keys, and Kubernetes Secret manifests committed with data. Matches are
    /// redacted; the secret itself is never printed. Exit status: 0 when nothing is found
    /// (after the baseline), 1 when secrets are found, 2 when an input could not be read.
    Secrets(SecretsArgs),
    /// Find known vulnerabilities (OSV advisories from `slipway db import`) in an OCI image
    /// layout, a directory, a lockfile or an SBOM.
    ///
    /// Exit status: 1 when findings remain after --severity, --ignore-unfixed, the ignore
    /// file and VEX; 2 when the database is missing or older than --max-db-age, the target
    /// cannot be read, or some inputs were skipped (the rest is still scanned and reported).
    Vulns(crate::cmd::vuln::VulnsArgs),
}

/// Output formats of `scan secrets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecretsFormat {
    /// One row per finding.
    Table,
    /// JSON array of findings (rule, description, file, line, commit, redacted, fingerprint).
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// JUnit XML.
    Junit,
}

/// Arguments of `scan secrets`.
#[derive(Debug, Args)]
pub struct SecretsArgs {
    /// Files or directories to scan (hidden entries such as .git are skipped); with --git,
    /// Git repositories.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Scan every line ever added in the Git history (all refs) instead of the files.
    #[arg(long)]
    pub git: bool,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = SecretsFormat::Table)]
    pub format: SecretsFormat,
    /// Accepted findings (JSON written by --write-baseline); they are not reported.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Write every current finding to FILE as a baseline, then exit 0.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
}

/// Output formats of `scan manifests`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ManifestFormat {
    /// One row per object: score, verdict and critical rules.
    Table,
    /// The `kubesec scan` JSON array (same fields, order and layout).
    Json,
    /// SARIF 2.1.0 with the file and line of each object.
    Sarif,
    /// JUnit XML.
    Junit,
}

/// Arguments of `scan manifests`.
#[derive(Debug, Args)]
pub struct ManifestsArgs {
    /// Files or directories to scan (directories recursively: *.yaml, *.yml, *.json); `-` reads stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = ManifestFormat::Table)]
    pub format: ManifestFormat,
    /// Objects must score above this to pass.
    #[arg(
        long,
        default_value_t = 0,
        allow_negative_numbers = true,
        value_name = "N"
    )]
    pub min_score: i64,
    /// Skip Kubernetes schema validation and only apply the rules.
    #[arg(long)]
    pub no_schema: bool,
    /// Only evaluate these rule ids (comma-separated, e.g. Privileged,RunAsNonRoot).
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub rules: Vec<String>,
    /// Score exactly the kinds kubesec scores. By default custom resources with a pod
    /// template (Argo Rollouts and the like) are scored like Deployments.
    #[arg(long)]
    pub kubesec_kinds: bool,
    /// Ignore suppressions: `slipway.dev/ignore: RULE[,RULE] -- reason` annotations on objects
    /// and `.slipwayignore` files.
    #[arg(long)]
    pub no_suppressions: bool,
    /// Suppressions file (rule, object selector, reason, expiry date). By default
    /// `.slipwayignore` is read from the working directory and from each scanned directory.
    /// An expired suppression fails the scan (exit 2) and is named on stderr.
    #[arg(long, value_name = "FILE")]
    pub ignore_file: Option<PathBuf>,
}

/// Runs a scan command.
pub fn run(command: ScanCommand) -> anyhow::Result<Exit> {
    match command {
        ScanCommand::Manifests(args) => manifests(&args),
        ScanCommand::Secrets(args) => secrets(&args),
        ScanCommand::Vulns(args) => crate::cmd::vuln::scan_vulns(&args),
    }
}

/// The `.slipwayignore` suppressions that apply to a scan of `paths`.
fn ignore_file(args: &ManifestsArgs) -> anyhow::Result<IgnoreFile> {
    if args.no_suppressions {
        return Ok(IgnoreFile::default());
    }
    if let Some(path) = &args.ignore_file {
        return Ok(IgnoreFile::load(path)?);
    }
    let mut dirs = vec![PathBuf::from(".")];
    dirs.extend(args.paths.iter().filter(|p| p.is_dir()).cloned());
    Ok(IgnoreFile::discover(&dirs)?)
}

fn manifests(args: &ManifestsArgs) -> anyhow::Result<Exit> {
    // A broken ignore file is an input error: kubesec's convention makes that exit 1.
    let ignore = match ignore_file(args) {
        Ok(ignore) => ignore,
        Err(err) => {
            output::print_error(&err);
            return Ok(Exit::Code(1));
        }
    };
    let today = suppress::today_utc();
    let expired: Vec<&Suppression> = ignore.expired(today);
    let mut scorer = Scorer::new()
        .with_schema(!args.no_schema)
        .with_pod_template_crds(!args.kubesec_kinds)
        .with_suppression_annotations(!args.no_suppressions)
        .with_suppressions(ignore.active(today));
    if !args.rules.is_empty() {
        scorer = scorer.with_rules(&args.rules)?;
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut json = JsonArrayWriter::default();
    let mut rows = Vec::new();
    let mut findings = Vec::new();
    let mut input_errors = 0usize;
    let mut all_pass = true;
    let mut write_error: Option<io::Error> = None;

    input::read_paths(&args.paths, &mut |item| match item {
        Ok(doc) => {
            let report = scorer.score_document(&doc);
            all_pass &= report.score > args.min_score;
            match args.format {
                ManifestFormat::Json => {
                    if write_error.is_none()
                        && let Err(e) = json.push(&mut out, &report)
                    {
                        write_error = Some(e);
                    }
                }
                ManifestFormat::Table => rows.push(Row::of(&report, args.min_score)),
                ManifestFormat::Sarif | ManifestFormat::Junit => findings.extend(
                    kubesec::findings::findings(&report, &doc.object, args.min_score),
                ),
            }
        }
        Err(err) => {
            input_errors += 1;
            if matches!(args.format, ManifestFormat::Sarif | ManifestFormat::Junit) {
                findings.push(input_error_finding(&err));
            }
            output::print_error(&anyhow::Error::new(err));
        }
    });

    for s in &expired {
        output::print_error(&anyhow::anyhow!(s.expired_message()));
        if matches!(args.format, ManifestFormat::Sarif | ManifestFormat::Junit) {
            findings.push(expired_finding(s));
        }
    }
    let result = match args.format {
        ManifestFormat::Json => match write_error {
            Some(e) => Err(e),
            None => json.finish(&mut out),
        },
        ManifestFormat::Table => out.write_all(render_table(&rows, input_errors).as_bytes()),
        ManifestFormat::Sarif | ManifestFormat::Junit => {
            let format = if args.format == ManifestFormat::Sarif {
                Format::Sarif
            } else {
                Format::Junit
            };
            let report = Report::new(Tool::slipway(), findings);
            let text = slipway_report::render(&report, format, &RenderOptions::default())?;
            out.write_all(text.as_bytes())
        }
    };
    match result.and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => other.context("cannot write the report")?,
    }
    Ok(if input_errors > 0 {
        Exit::Code(1)
    } else if all_pass && expired.is_empty() {
        Exit::Success
    } else {
        Exit::Code(2)
    })
}

fn expired_finding(s: &Suppression) -> Finding {
    Finding::new(
        CheckId::slugify("suppression-expired"),
        Source::Kubesec,
        Severity::Medium,
        Outcome::Fail,
        "Suppressions must not be past their expiry date",
        s.expired_message(),
    )
    .with_location(slipway_report::SourceLocation::new(
        s.file.clone(),
        0,
        s.line,
    ))
}

fn input_error_finding(err: &InputError) -> Finding {
    let mut finding = Finding::new(
        CheckId::new("input-error").unwrap_or_else(|_| CheckId::slugify("input-error")),
        Source::Kubesec,
        Severity::High,
        Outcome::Error,
        "Input must be readable YAML or JSON",
        err.to_string(),
    );
    if let InputError::Parse { location, .. } = err {
        finding.location = Some(location.clone());
    }
    finding
}

/// One table row.
struct Row {
    object: String,
    location: String,
    score: i64,
    verdict: &'static str,
    detail: String,
}

impl Row {
    fn of(report: &KubesecReport, min_score: i64) -> Self {
        let (verdict, detail) = if !report.valid {
            (
                "invalid",
                report
                    .message
                    .lines()
                    .skip(1)
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        } else if report.message == kubesec::UNSUPPORTED_MESSAGE {
            ("fail", "kind not scored by kubesec".to_string())
        } else {
            let critical: Vec<&str> = report.scoring.critical.iter().map(|r| r.id).collect();
            let verdict = if report.score > min_score {
                "pass"
            } else {
                "fail"
            };
            (verdict, critical.join(", "))
        };
        // Schema errors without detail lines (e.g. "could not find schema") use the message.
        let detail = if detail.is_empty() && !report.valid {
            report.message.clone()
        } else {
            detail
        };
        Self {
            object: report.object.clone(),
            location: report.location.as_ref().map_or_else(
                || report.file_name.clone(),
                |l| format!("{}:{}", l.file, l.line),
            ),
            score: report.score,
            verdict,
            detail,
        }
    }
}

fn render_table(rows: &[Row], input_errors: usize) -> String {
    let clean = |s: &str| {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>()
    };
    let headers = ["OBJECT", "LOCATION", "SCORE", "RESULT", "CRITICAL / DETAIL"];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            [
                clean(&r.object),
                clean(&r.location),
                r.score.to_string(),
                r.verdict.to_string(),
                clean(&r.detail),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cols: [&str; 5]| {
        let mut text = String::new();
        for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
            if i == 4 {
                text.push_str(c);
            } else if i == 2 {
                text.push_str(&format!("{c:>w$}  "));
            } else {
                text.push_str(&format!("{c:<w$}  "));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    if !cells.is_empty() {
        line(headers);
        for row in &cells {
            line([&row[0], &row[1], &row[2], &row[3], &row[4]]);
        }
        out.push('\n');
    }
    let count = |v: &str| rows.iter().filter(|r| r.verdict == v).count();
    out.push_str(&format!(
        "{} objects: {} passed, {} failed, {} invalid",
        rows.len(),
        count("pass"),
        count("fail"),
        count("invalid")
    ));
    if input_errors > 0 {
        out.push_str(&format!("; {input_errors} input errors"));
    }
    out.push('\n');
    out
}

fn secrets(args: &SecretsArgs) -> anyhow::Result<Exit> {
    let mut scan = SecretScan::default();
    if args.git {
        for repo in &args.paths {
            let one = secrets::scan_git_history(repo);
            scan.findings.extend(one.findings);
            scan.errors.extend(one.errors);
        }
    } else {
        scan = secrets::scan_paths(&args.paths);
    }
    for err in scan.errors.drain(..) {
        output::print_error(&anyhow::Error::new(err));
    }
    let failed_inputs = args.paths.iter().any(|p| !p.exists());
    if let Some(path) = &args.write_baseline {
        let baseline = Baseline::of(&scan.findings);
        let text = serde_json::to_string_pretty(&baseline)?;
        fs_err::write(path, text + "\n")
            .with_context(|| format!("cannot write baseline {}", path.display()))?;
        output::stdout(&format!(
            "wrote {} accepted findings to {}\n",
            baseline.accepted.len(),
            path.display()
        ))?;
        return Ok(Exit::Success);
    }
    let findings = match &args.baseline {
        Some(path) => Baseline::load(path)?.filter(scan.findings),
        None => scan.findings,
    };
    let text = match args.format {
        SecretsFormat::Json => serde_json::to_string_pretty(&findings)? + "\n",
        SecretsFormat::Table => secrets_table(&findings, scan.skipped.len()),
        SecretsFormat::Sarif | SecretsFormat::Junit => {
            let format = if args.format == SecretsFormat::Sarif {
                Format::Sarif
            } else {
                Format::Junit
            };
            let report = Report::new(
                Tool::slipway(),
                findings.iter().map(SecretFinding::to_finding).collect(),
            );
            slipway_report::render(&report, format, &RenderOptions::default())?
        }
    };
    output::stdout(&text)?;
    Ok(if failed_inputs {
        Exit::BadInput
    } else if findings.is_empty() {
        Exit::Success
    } else {
        Exit::Findings
    })
}

fn secrets_table(findings: &[SecretFinding], skipped: usize) -> String {
    let mut out = String::new();
    if !findings.is_empty() {
        let rows: Vec<[String; 4]> = findings
            .iter()
            .map(|f| {
                let location = match &f.commit {
                    Some(c) => format!("{}:{} @{}", f.file, f.line, c.get(..12).unwrap_or(c)),
                    None => format!("{}:{}", f.file, f.line),
                };
                [
                    f.rule.clone(),
                    location,
                    f.description.clone(),
                    f.redacted.clone(),
                ]
            })
            .collect();
        let headers = ["RULE", "LOCATION", "WHAT", "MATCH (REDACTED)"];
        let mut widths = headers.map(str::len);
        for row in &rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut line = |cols: [&str; 4]| {
            let text: String = cols
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}  "))
                .collect();
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(headers);
        for r in &rows {
            line([&r[0], &r[1], &r[2], &r[3]]);
        }
        out.push('\n');
    }
    out.push_str(&format!("{} secrets found", findings.len()));
    if skipped > 0 {
        out.push_str(&format!("; {skipped} binary or oversized files skipped"));
    }
    out.push('\n');
    out
}

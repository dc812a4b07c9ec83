//! `slipway policy ...`: Kyverno-compatible policies.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use slipway_policy::engine::Engine;
use slipway_policy::kyverno_test::spec::ValuesFile;
use slipway_policy::kyverno_test::{self, SuiteReport, Summary};

use crate::exit::Exit;
use crate::output;

/// Policy commands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run kyverno-test.yaml suites strictly, as `kyverno test` does.
    ///
    /// Finds every kyverno-test.yaml below the given directories (also inside
    /// .kyverno-test/), evaluates its policies against its resources and
    /// compares each (result entry, resource) pair with the expected outcome.
    /// A check matches only when the engine produced exactly that result for
    /// that rule and resource; no response matches only `skip`.
    ///
    /// Exit status: 0 when every check matched, 1 otherwise, 2 on bad input.
    Test(TestArgs),

    /// Apply policies to resources and report every rule's result.
    ///
    /// Resources go through all mutate rules first (each policy sees the
    /// previous one's output), then validate, then generate, as in admission.
    /// A failing Audit rule is reported as `warn`; a failing Enforce rule as
    /// `fail`.
    ///
    /// Exit status: 1 when an Enforce rule fails, 0 otherwise, 2 on bad input.
    Apply(ApplyArgs),
}

/// Arguments of `policy apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Policy files or directories (ClusterPolicy / Policy YAML).
    #[arg(short = 'p', long = "policy", required = true, num_args = 1.., value_name = "POLICY")]
    pub policies: Vec<PathBuf>,
    /// Resource files or directories, or `-` for standard input.
    #[arg(short = 'r', long = "resource", required = true, num_args = 1.., value_name = "RESOURCE")]
    pub resources: Vec<PathBuf>,
    /// A kyverno-test `Values` file: variables, context data, namespace labels.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub values_file: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', default_value = "table", value_parser = parse_format)]
    pub format: slipway_report::Format,
    /// Show passing and skipped rules in the table too.
    #[arg(long)]
    pub show_passed: bool,
}

fn parse_format(s: &str) -> Result<slipway_report::Format, String> {
    s.parse::<slipway_report::Format>()
        .map_err(|e| e.to_string())
}

/// Output formats of `policy test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestFormat {
    /// One line per suite and per mismatch, then `N passed, N failed`.
    Table,
    /// `{"summary": {...}, "results": [...]}`.
    Json,
}

/// Arguments of `policy test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Directories (or kyverno-test.yaml files) to search.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = TestFormat::Table)]
    pub format: TestFormat,
    /// Also list the checks that matched (table format).
    #[arg(long)]
    pub verbose: bool,
}

/// Runs a policy command.
pub fn run(command: PolicyCommand) -> anyhow::Result<Exit> {
    match command {
        PolicyCommand::Test(args) => test(args),
        PolicyCommand::Apply(args) => apply(args),
    }
}

fn test(args: TestArgs) -> anyhow::Result<Exit> {
    for d in &args.dirs {
        anyhow::ensure!(
            d.exists(),
            "{} does not exist\nhint: pass directories that contain kyverno-test.yaml files",
            d.display()
        );
    }
    let files = kyverno_test::discover(&args.dirs).context("searching for kyverno-test.yaml")?;
    anyhow::ensure!(
        !files.is_empty(),
        "no kyverno-test.yaml found below {}\nhint: a suite is a kyverno-test.yaml file, usually in a .kyverno-test/ directory beside the policy",
        args.dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let engine = Engine::new();
    let progress = if output::stderr_is_terminal() {
        indicatif::ProgressBar::new(files.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut reports = Vec::with_capacity(files.len());
    for f in &files {
        progress.set_message(kyverno_test::suite_name(f));
        reports.push(kyverno_test::run_suite(&engine, f));
        progress.inc(1);
    }
    progress.finish_and_clear();
    let summary = Summary::of(&reports);
    let text = match args.format {
        TestFormat::Json => render_json(&reports, summary)?,
        TestFormat::Table => render_table(&reports, summary, args.verbose),
    };
    output::stdout(&text)?;
    Ok(if summary.matched == summary.checks {
        Exit::Success
    } else {
        Exit::Findings
    })
}

fn apply(args: ApplyArgs) -> anyhow::Result<Exit> {
    // The gate's loader: Kyverno and CEL policies, VAP bindings applied.
    let mut policies = slipway_gate::PolicySet::default();
    for path in &args.policies {
        let set = slipway_gate::load_policy_set(path)
            .with_context(|| format!("reading policies from {}", path.display()))?;
        policies.kyverno.extend(set.kyverno);
        policies.cel.extend(set.cel);
        policies.skipped.extend(set.skipped);
    }
    for s in &policies.skipped {
        output::warn(&format!("{} is not evaluated: {}", s.what, s.reason));
    }
    anyhow::ensure!(
        !policies.kyverno.is_empty() || !policies.cel.is_empty(),
        "no policy found in {}\nhint: policies are kyverno.io ClusterPolicy/Policy, policies.kyverno.io ValidatingPolicy/MutatingPolicy or ValidatingAdmissionPolicy documents",
        args.policies
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let resources = slipway_manifests::load_paths(&args.resources).context("reading resources")?;
    let values = match &args.values_file {
        Some(f) => {
            let docs = slipway_manifests::load_path(f)?;
            let first = docs
                .into_iter()
                .next()
                .with_context(|| format!("{} is empty", f.display()))?;
            serde_json::from_value(first.object)
                .with_context(|| format!("{}: not a Values document", first.source))?
        }
        None => ValuesFile::default(),
    };
    let engine = Engine::new();
    let verdicts = slipway_policy::apply::apply(&engine, &policies.kyverno, &resources, &values);
    let cel_verdicts = slipway_policy::apply::apply_cel(&policies.cel, &resources, &values);
    let blocked = verdicts.iter().chain(&cel_verdicts).any(|v| v.blocked());
    let mut findings = slipway_policy::apply::findings(&policies.kyverno, &verdicts);
    findings.extend(slipway_policy::apply::cel_findings(
        &policies.cel,
        &cel_verdicts,
    ));
    let report = slipway_report::Report::new(slipway_report::Tool::slipway(), findings);
    let options = slipway_report::RenderOptions {
        color: output::stdout_is_terminal(),
        show_passed: args.show_passed,
        timestamp: slipway_report::Timestamp::now(),
        base_dir: std::env::current_dir()
            .ok()
            .map(|d| d.display().to_string()),
    };
    let text = slipway_report::render(&report, args.format, &options)?;
    output::stdout(&text)?;
    Ok(if blocked {
        Exit::Findings
    } else {
        Exit::Success
    })
}

fn render_json(reports: &[SuiteReport], summary: Summary) -> anyhow::Result<String> {
    let results: Vec<_> = reports.iter().flat_map(|r| &r.checks).collect();
    let suites: Vec<_> = reports
        .iter()
        .filter(|r| r.error.is_some() || !r.unsupported.is_empty())
        .map(|r| json!({"suite": r.suite, "error": r.error, "unsupported": r.unsupported}))
        .collect();
    let doc = json!({
        "summary": summary,
        "results": results,
        "suites": suites,
    });
    Ok(serde_json::to_string_pretty(&doc)? + "\n")
}

fn render_table(reports: &[SuiteReport], summary: Summary, verbose: bool) -> String {
    let mut out = String::new();
    for r in reports {
        let matched = r.checks.iter().filter(|c| c.matched).count();
        let total = r.checks.len();
        let mark = if matched == total && r.error.is_none() {
            "ok  "
        } else {
            "FAIL"
        };
        let _ = writeln!(out, "{mark} {} ({matched}/{total})", r.suite);
        if let Some(e) = &r.error {
            let _ = writeln!(out, "     error: {e}");
        }
        for u in &r.unsupported {
            let _ = writeln!(out, "     unsupported: {u}");
        }
        for c in r.checks.iter().filter(|c| verbose || !c.matched) {
            let _ = writeln!(
                out,
                "     {} {}/{} {} {}: expected {}, got {}{}",
                if c.matched { "ok  " } else { "MISS" },
                c.policy,
                c.rule,
                c.kind,
                c.resource,
                c.expected,
                c.actual,
                if c.message.is_empty() || c.matched {
                    String::new()
                } else {
                    format!(" ({})", c.message)
                }
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{} suites, {} checks: {} matched, {} mismatched, {} errors",
        reports.len(),
        summary.checks,
        summary.matched,
        summary.mismatched,
        summary.errors
    );
    let _ = writeln!(
        out,
        "{} passed, {} failed",
        summary.matched,
        summary.checks - summary.matched
    );
    out
}

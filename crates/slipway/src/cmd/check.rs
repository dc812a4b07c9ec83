//! `slipway check TARGET...`: the security validation gate in one command.
//!
//! Each target is rendered first: a platform repo root (a directory with
//! `slipway.yaml`) gives its `apps/` and `platform/` manifests and its gate
//! settings (`spec.gates`: policies, minScore, secrets, ignoreFile); a directory
//! or file gives its manifests. Argo CD Applications among them are rendered from
//! their Git sources with the GitOps renderer. Then `slipway_gate` runs the
//! policies, the KubeSec risk score and the secret scan, and one report is printed.
//! Exit status: 0 the gate passed, 1 it failed, 2 bad input.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use slipway_gate::config::PLATFORM_FILE;
use slipway_gate::{Gate, GateConfig, GateInput, ScanText};
use slipway_gitops::render::is_application;
use slipway_model::{Document, SourceLocation};
use slipway_report::{Format, RenderOptions, Timestamp};
use slipway_scan::suppress::{self, IgnoreFile};

use crate::cmd::render::{application_objects, with_scratch_controller};
use crate::exit::Exit;
use crate::output;

/// Arguments of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Platform repo roots (with slipway.yaml), manifest directories, manifest or Application files.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<PathBuf>,
    /// Output format: table, json, sarif, junit.
    #[arg(long, short = 'f', default_value = "table", value_parser = parse_format)]
    pub format: Format,
    /// Kyverno policies (file or directory); default: slipway.yaml's spec.gates.policies.
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// Every scored object must score at least N; default: slipway.yaml's spec.gates.minScore, else 0.
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub min_score: Option<i64>,
    /// Suppressions file; default: spec.gates.ignoreFile, else .slipwayignore at the repo root.
    #[arg(long, value_name = "FILE")]
    pub ignore_file: Option<PathBuf>,
    /// Show passing checks in the table too.
    #[arg(long)]
    pub show_passed: bool,
}

fn parse_format(s: &str) -> Result<Format, String> {
    match s.parse::<Format>() {
        Ok(Format::PolicyReport) | Err(_) => Err(format!(
            "unknown format `{s}`: expected table, json, sarif or junit"
        )),
        Ok(f) => Ok(f),
    }
}

/// Runs `check`. Input problems are errors (exit 2, printed by `main`).
pub fn run(args: CheckArgs) -> anyhow::Result<Exit> {
    let mut config = GateConfig::default();
    let mut documents = Vec::new();
    for target in &args.targets {
        if target.is_dir() && target.join(PLATFORM_FILE).is_file() {
            // The first platform repo gives the settings.
            if config == GateConfig::default() {
                config = GateConfig::load(target)?;
            }
            for sub in ["apps", "platform"] {
                let dir = target.join(sub);
                if dir.is_dir() {
                    documents.extend(load(&dir)?);
                }
            }
        } else {
            documents.extend(load(target)?);
        }
    }
    if let Some(p) = &args.policies {
        config.policies = Some(p.clone());
    }
    if let Some(n) = args.min_score {
        config.min_score = n;
    }
    if let Some(f) = &args.ignore_file {
        config.ignore_file = Some(f.clone());
    }

    let policies = match &config.policies {
        Some(p) => slipway_gate::load_policy_set(p)?,
        None => slipway_gate::PolicySet::default(),
    };
    for s in &policies.skipped {
        output::warn(&format!("{} is not evaluated: {}", s.what, s.reason));
    }
    let ignore = match &config.ignore_file {
        Some(f) => IgnoreFile::load(f)?,
        None => IgnoreFile::default(),
    };

    // Secrets are searched in the files the manifests came from.
    let files: BTreeSet<String> = documents
        .iter()
        .map(|d| d.source.file.clone())
        .filter(|f| Path::new(f).is_file())
        .collect();
    let mut texts = Vec::new();
    for file in files {
        let text = fs_err::read_to_string(&file)?;
        texts.push(ScanText { file, text });
    }
    let documents = render_applications(documents)?;

    let gate = Gate::new(policies.kyverno, &config, &ignore, suppress::today_utc())
        .with_cel_policies(policies.cel);
    let outcome = gate.evaluate(&GateInput { documents, texts });
    let options = RenderOptions {
        color: args.format == Format::Table && output::stdout_is_terminal(),
        show_passed: args.show_passed,
        timestamp: Timestamp::now(),
        base_dir: std::env::current_dir()
            .ok()
            .map(|d| d.display().to_string()),
    };
    let text = slipway_report::render(&outcome.report, args.format, &options)?;
    output::stdout(&text)?;
    for a in &outcome.audits {
        output::warn(&format!("audit: {a}"));
    }
    if outcome.passed() {
        Ok(Exit::Success)
    } else {
        let mut msg = format!("gate failed ({} reasons):\n", outcome.failures.len());
        for f in &outcome.failures {
            msg.push_str(&format!("  - {f}\n"));
        }
        // The reasons go to stderr so that stdout stays a clean JSON/SARIF/JUnit document.
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), msg.as_bytes());
        Ok(Exit::Findings)
    }
}

fn load(path: &Path) -> anyhow::Result<Vec<Document>> {
    slipway_manifests::load_path(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Replaces every Argo CD Application by the objects it renders from Git.
fn render_applications(documents: Vec<Document>) -> anyhow::Result<Vec<Document>> {
    if !documents.iter().any(|d| is_application(&d.object)) {
        return Ok(documents);
    }
    with_scratch_controller(|controller| {
        let mut out = Vec::new();
        for d in documents {
            if !is_application(&d.object) {
                out.push(d);
                continue;
            }
            let (app, objects) = application_objects(controller, &d)?;
            for (i, object) in objects.into_iter().enumerate() {
                let source = SourceLocation::new(
                    format!("{} (Application {})", d.source.file, app.name),
                    i,
                    d.source.line,
                );
                out.push(Document::new(object, source));
            }
        }
        Ok(out)
    })
}

//! `slipway render TARGET`: prints the manifests a target renders to, as a
//! multi-document YAML (or JSON) stream: a kustomization directory is built
//! with the native Kustomize renderer, any other directory or file is loaded
//! as plain manifests. `--app FILE` and `--app-name NAME` render an Argo CD
//! Application from Git at its target revision through the sync engine's own
//! renderer (`Controller::desired`), so what is printed is what a sync applies.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde_json::Value;

use slipway_gitops::application::Application;
use slipway_gitops::controller::Controller;
use slipway_gitops::environments::Environments;
use slipway_gitops::render::is_application;
use slipway_model::Document;

use crate::cmd::app::StateArgs;
use crate::exit::Exit;
use crate::output;

/// Output formats of `render`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RenderFormat {
    /// A multi-document YAML stream.
    Yaml,
    /// A JSON array.
    Json,
}

/// Arguments of `slipway render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// A kustomization directory, a directory of manifests, or a manifest file.
    pub target: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "yaml")]
    pub format: RenderFormat,
    /// Render the source of the Application in FILE at its target revision.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["target", "app_name"])]
    pub app: Option<PathBuf>,
    /// Render an Application registered in the data directory (`slipway app apply`).
    #[arg(long, value_name = "NAME", conflicts_with = "target")]
    pub app_name: Option<String>,
    /// Data directory and platform repo (for `--app` and `--app-name`).
    #[command(flatten)]
    pub state: StateArgs,
}

/// Renders the Application(s) named by `--app` or `--app-name`.
fn render_app(args: &RenderArgs) -> anyhow::Result<Option<Vec<Value>>> {
    if let Some(name) = &args.app_name {
        let controller = args.state.controller()?;
        let (app, _) = controller.application(name)?;
        let docs = controller
            .desired(&app)
            .map_err(|e| anyhow::anyhow!("cannot render Application {name}: {e}"))?;
        return Ok(Some(docs));
    }
    let Some(file) = &args.app else {
        return Ok(None);
    };
    let docs = slipway_manifests::load_path(file)
        .with_context(|| format!("loading {}", file.display()))?;
    if !docs.iter().any(|d| is_application(&d.object)) {
        anyhow::bail!(
            "{}: no argoproj.io Application in this file; give a file holding one (kind: Application)",
            file.display()
        );
    }
    with_scratch_controller(|controller| {
        let mut out = Vec::new();
        for d in docs.iter().filter(|d| is_application(&d.object)) {
            out.extend(application_objects(controller, d)?.1);
        }
        Ok(Some(out))
    })
}

/// Runs `f` with a controller on a throw-away data directory: rendering an
/// Application file must not leave state behind or need `slipway app apply`.
pub fn with_scratch_controller<T>(
    f: impl FnOnce(&Controller) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let data_dir = tempfile::Builder::new()
        .prefix("slipway-render-")
        .tempdir()
        .context("cannot create a temporary data directory")?;
    let controller = Controller::open(data_dir.path(), Environments::local_only())?;
    f(&controller)
}

/// The objects an Application document renders to at its target revision.
pub fn application_objects(
    controller: &Controller,
    d: &Document,
) -> anyhow::Result<(Application, Vec<Value>)> {
    let app = Application::from_document(d)
        .with_context(|| format!("{}: invalid Application", d.source))?;
    let objects = controller.desired(&app).map_err(|e| {
        anyhow::anyhow!("{}: cannot render Application {}: {e}", d.source, app.name)
    })?;
    Ok((app, objects))
}

/// Renders a kustomization directory, or loads a manifest directory or file.
fn render_path(target: &std::path::Path) -> anyhow::Result<Vec<Value>> {
    Ok(if slipway_manifests::is_kustomization_dir(target) {
        slipway_manifests::kustomize_build(target)
            .with_context(|| format!("rendering {}", target.display()))?
    } else {
        slipway_manifests::load_path(target)
            .with_context(|| format!("loading {}", target.display()))?
            .into_iter()
            .map(|d| d.object)
            .collect()
    })
}

/// Runs `slipway render`.
pub fn run(args: RenderArgs) -> anyhow::Result<Exit> {
    let docs: Vec<Value> = if let Some(docs) = render_app(&args)? {
        docs
    } else {
        let target = args.target.as_ref().context(
            "give a TARGET (a kustomization directory, a manifest directory or file), --app FILE or --app-name NAME",
        )?;
        render_path(target)?
    };
    let text = match args.format {
        RenderFormat::Json => serde_json::to_string_pretty(&docs)? + "\n",
        RenderFormat::Yaml => {
            let mut out = String::new();
            for (i, d) in docs.iter().enumerate() {
                if i > 0 {
                    out.push_str("---\n");
                }
                out.push_str(&slipway_manifests::kustomize::to_yaml(d)?);
            }
            out
        }
    };
    output::stdout(&text)?;
    Ok(Exit::Success)
}

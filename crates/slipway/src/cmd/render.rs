//! `slipway render TARGET`: prints the manifests a target renders to, as a
//! multi-document YAML (or JSON) stream: a kustomization directory is built
//! with the native Kustomize renderer, any other directory or file is loaded
//! as plain manifests.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde_json::Value;

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
    /// Render an Application file's source (not supported yet).
    #[arg(long, value_name = "FILE")]
    pub app: Option<PathBuf>,
    /// Render an Application from the data directory (not supported yet).
    #[arg(long, value_name = "NAME")]
    pub app_name: Option<String>,
}

/// Runs `slipway render`.
pub fn run(args: RenderArgs) -> anyhow::Result<Exit> {
    if args.app.is_some() || args.app_name.is_some() {
        anyhow::bail!("rendering Applications (--app, --app-name) is not supported yet");
    }
    let target = args
        .target
        .context("give a TARGET: a kustomization directory or a directory of manifests")?;
    let docs: Vec<Value> = if slipway_manifests::is_kustomization_dir(&target) {
        slipway_manifests::kustomize_build(&target)
            .with_context(|| format!("rendering {}", target.display()))?
    } else {
        slipway_manifests::load_path(&target)
            .with_context(|| format!("loading {}", target.display()))?
            .into_iter()
            .map(|d| d.object)
            .collect()
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

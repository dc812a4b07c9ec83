//! `slipway health -f FILE...`: the health the sync engine assigns to live
//! objects (as `kubectl get -o yaml` prints them), with Argo CD's rules
//! (`slipway_gitops::health`). Objects are judged as a real cluster's would be:
//! their status was written by controllers, so workload status is trusted.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use slipway_gitops::health::{HealthStatus, resource_health};
use slipway_model::ObjectExt;

use crate::exit::Exit;
use crate::output;

/// Output formats of `health`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum HealthFormat {
    /// One line per object.
    Table,
    /// A JSON array of `{apiVersion, kind, namespace, name, source, status, message}`.
    Json,
}

/// Arguments of `slipway health`.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Files or directories of live objects (YAML or JSON; `-` for stdin).
    #[arg(short = 'f', long = "filename", value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: HealthFormat,
}

/// One object's verdict; `status` is `None` for kinds without a health check
/// (Argo CD leaves their health empty and they do not count towards the app's).
struct Row {
    object: Value,
    source: String,
    status: Option<HealthStatus>,
    message: String,
}

/// Runs `slipway health`. Exit 0 when every object was judged; 2 on input errors.
pub fn run(args: HealthArgs) -> anyhow::Result<Exit> {
    let mut rows = Vec::new();
    for path in &args.files {
        let docs = slipway_manifests::load_path(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        for d in docs {
            let health = resource_health(&d.object);
            rows.push(Row {
                source: d.source.to_string(),
                status: health.as_ref().map(|h| h.status),
                message: health.map(|h| h.message).unwrap_or_default(),
                object: d.object,
            });
        }
    }
    let text = match args.format {
        HealthFormat::Json => {
            let items: Vec<Value> = rows
                .iter()
                .map(|r| {
                    json!({
                        "apiVersion": r.object.api_version(),
                        "kind": r.object.kind(),
                        "namespace": r.object.namespace(),
                        "name": r.object.name(),
                        "source": r.source,
                        "status": r.status.map(HealthStatus::as_str),
                        "message": r.message,
                    })
                })
                .collect();
            serde_json::to_string_pretty(&items)? + "\n"
        }
        HealthFormat::Table => {
            let mut text = format!("{:<48} {:<12} {}\n", "OBJECT", "HEALTH", "MESSAGE");
            for r in &rows {
                let o = &r.object;
                // kubectl's `kind.group` spelling: a Knative Service is not a Service.
                let gvk = o.gvk();
                let kind = if gvk.group.is_empty() {
                    gvk.kind.clone()
                } else {
                    format!("{}.{}", gvk.kind, gvk.group)
                };
                let id = match o.namespace() {
                    Some(ns) => format!("{kind}/{ns}/{}", o.name()),
                    None => format!("{kind}/{}", o.name()),
                };
                let status = r.status.map_or("-", HealthStatus::as_str);
                let message = if r.status.is_none() {
                    "no health check for this kind"
                } else {
                    r.message.as_str()
                };
                text.push_str(&format!("{id:<48} {status:<12} {message}\n"));
            }
            text
        }
    };
    output::stdout(&text)?;
    Ok(Exit::Success)
}

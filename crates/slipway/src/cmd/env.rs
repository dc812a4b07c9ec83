//! `slipway env ...`: read and change live objects of an embedded environment
//! by hand, as kubectl would, so drift can be made and then healed. With
//! `--server URL` every verb goes through a running control plane's REST API.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use slipway_gitops::cluster::{ResourceRef, Selector};
use slipway_model::{ObjectExt, is_cluster_scoped};

use slipway_server::client::{Client, encode};

use crate::cmd::app::{Format, RemoteArgs, StateArgs};
use crate::exit::Exit;
use crate::output;

/// Environment commands.
#[derive(Debug, Args)]
pub struct EnvArgs {
    #[command(flatten)]
    state: StateArgs,
    #[command(flatten)]
    remote: RemoteArgs,
    #[command(subcommand)]
    command: EnvCommand,
}

/// Environment subcommands.
#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// List environments and their object counts.
    List,
    /// Show objects: `KIND` (list) or `KIND/NAME`.
    Get {
        /// `Kind`, `Kind/name`, `group/Kind/name` is not needed: kinds are unique enough here.
        target: String,
        /// Namespace.
        #[arg(short, long)]
        namespace: Option<String>,
        /// Environment.
        #[arg(long = "env", default_value = "local")]
        env: String,
        /// Output format.
        #[arg(short, long, value_enum, default_value = "wide")]
        output: Format,
        /// Label selector (`app=web,tier!=db`).
        #[arg(short = 'l', long)]
        selector: Option<String>,
    },
    /// Apply objects from a file as a field manager.
    Apply {
        /// File or directory.
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
        /// Environment.
        #[arg(long = "env", default_value = "local")]
        env: String,
        /// Field manager (who made the change).
        #[arg(long = "as", default_value = "kubectl")]
        manager: String,
        /// Namespace for namespaced objects that set none.
        #[arg(short, long, default_value = "default")]
        namespace: String,
    },
    /// Delete `KIND/NAME`.
    Delete {
        /// `Kind/name`.
        target: String,
        /// Namespace.
        #[arg(short, long, default_value = "default")]
        namespace: String,
        /// Environment.
        #[arg(long = "env", default_value = "local")]
        env: String,
        /// Field manager.
        #[arg(long = "as", default_value = "kubectl")]
        manager: String,
    },
}

fn find<'a>(objs: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    objs.iter()
        .filter(|o| o.kind().eq_ignore_ascii_case(kind))
        .collect()
}

/// Runs an env command.
pub fn run(args: EnvArgs) -> anyhow::Result<Exit> {
    if let Some(client) = args.remote.client(&args.state)? {
        return run_remote(&client, args.command);
    }
    let c = args.state.controller()?;
    match args.command {
        EnvCommand::List => {
            let counts = slipway_gitops::cluster::embedded::EmbeddedCluster::environments(
                &args.state.data_dir,
            )?;
            let mut t = env_header();
            for e in &c.environments().items {
                let n = counts
                    .iter()
                    .find(|(n, _)| *n == e.name)
                    .map_or(0, |(_, n)| *n);
                let target = match e.target {
                    slipway_gitops::environments::Target::Embedded => "embedded",
                    slipway_gitops::environments::Target::Kubeconfig { .. } => "kubeconfig",
                };
                t.push_str(&env_row(&e.name, target, &n.to_string()));
            }
            output::stdout(&t)?;
            Ok(Exit::Success)
        }
        EnvCommand::Get {
            target,
            namespace,
            env,
            output: fmt,
            selector,
        } => {
            let cluster = c.cluster(&env)?;
            let labels = match &selector {
                Some(s) => Selector::parse_labels(s).map_err(anyhow::Error::msg)?,
                None => Vec::new(),
            };
            let (kind, name) = match target.split_once('/') {
                Some((k, n)) => (k.to_string(), Some(n.to_string())),
                None => (target.clone(), None),
            };
            let all = cluster.list(&Selector {
                labels,
                namespace: namespace.clone(),
                ..Selector::default()
            })?;
            let mut objs: Vec<&serde_json::Value> = find(&all, &kind);
            if let Some(n) = &name {
                objs.retain(|o| o.name() == n);
                if objs.is_empty() {
                    anyhow::bail!("{kind}/{n} not found in environment {env}");
                }
            }
            print_objects(&objs, name.is_some(), fmt)?;
            Ok(Exit::Success)
        }
        EnvCommand::Apply {
            file,
            env,
            manager,
            namespace,
        } => {
            let cluster = c.cluster(&env)?;
            for d in slipway_manifests::load_path(&file)? {
                let mut obj = d.object;
                if !is_cluster_scoped(obj.kind()) && obj.namespace().is_none() && obj.is_object() {
                    obj["metadata"]["namespace"] = serde_json::Value::String(namespace.clone());
                }
                let stored = cluster
                    .apply(&obj, &manager)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", d.source))?;
                output::stdout(&applied_text(&stored))?;
            }
            Ok(Exit::Success)
        }
        EnvCommand::Delete {
            target,
            namespace,
            env,
            manager,
        } => {
            let cluster = c.cluster(&env)?;
            let (kind, name) = target
                .split_once('/')
                .ok_or_else(|| anyhow::anyhow!("expected KIND/NAME, got {target:?}"))?;
            let all = cluster.list(&Selector::default())?;
            let obj = all
                .iter()
                .find(|o| {
                    o.kind().eq_ignore_ascii_case(kind)
                        && o.name() == name
                        && (is_cluster_scoped(o.kind())
                            || o.namespace() == Some(namespace.as_str()))
                })
                .ok_or_else(|| anyhow::anyhow!("{kind}/{name} not found in environment {env}"))?;
            let r = ResourceRef::of(obj);
            cluster.delete(&r, &manager)?;
            output::stdout(&format!("{r} deleted\n"))?;
            Ok(Exit::Success)
        }
    }
}

fn env_header() -> String {
    format!("{:<16} {:<10} {}\n", "NAME", "TARGET", "OBJECTS")
}

fn env_row(name: &str, target: &str, objects: &str) -> String {
    format!("{name:<16} {target:<10} {objects}\n")
}

fn applied_text(stored: &serde_json::Value) -> String {
    format!(
        "{} applied (resourceVersion {})\n",
        ResourceRef::of(stored),
        stored
            .pointer("/metadata/resourceVersion")
            .and_then(|v| v.as_str())
            .unwrap_or("")
    )
}

/// `env get` output: one object when a name was asked for, else a list.
fn print_objects(objs: &[&serde_json::Value], single: bool, fmt: Format) -> anyhow::Result<()> {
    match fmt {
        Format::Json => {
            let v: Vec<_> = objs.iter().map(|o| (*o).clone()).collect();
            let out = match (single, v.first()) {
                (true, Some(first)) => first.clone(),
                _ => serde_json::Value::Array(v),
            };
            output::stdout(&format!("{}\n", serde_json::to_string_pretty(&out)?))?;
        }
        Format::Yaml => {
            for o in objs {
                output::stdout(&format!("---\n{}", serde_saphyr::to_string(o)?))?;
            }
        }
        Format::Wide => {
            let mut t = format!(
                "{:<16} {:<32} {:<10} {}\n",
                "NAMESPACE", "NAME", "GEN", "RV"
            );
            for o in objs {
                t.push_str(&format!(
                    "{:<16} {:<32} {:<10} {}\n",
                    o.namespace().unwrap_or(""),
                    o.name(),
                    o.pointer("/metadata/generation")
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                    o.pointer("/metadata/resourceVersion")
                        .and_then(|v| v.as_str())
                        .unwrap_or("")
                ));
            }
            output::stdout(&t)?;
        }
    }
    Ok(())
}

/// Every env verb through the REST API of a running control plane.
fn run_remote(client: &Client, command: EnvCommand) -> anyhow::Result<Exit> {
    match command {
        EnvCommand::List => {
            let envs = client.get("/environments")?;
            let mut t = env_header();
            for e in envs.as_array().into_iter().flatten() {
                let objects = match (e["objects"].as_u64(), e["error"].as_str()) {
                    (Some(n), _) => n.to_string(),
                    (None, Some(err)) => format!("error: {err}"),
                    (None, None) => String::new(),
                };
                t.push_str(&env_row(
                    e["name"].as_str().unwrap_or(""),
                    e["target"].as_str().unwrap_or(""),
                    &objects,
                ));
            }
            output::stdout(&t)?;
            Ok(Exit::Success)
        }
        EnvCommand::Get {
            target,
            namespace,
            env,
            output: fmt,
            selector,
        } => {
            let (kind, name) = match target.split_once('/') {
                Some((k, n)) => (k.to_string(), Some(n.to_string())),
                None => (target.clone(), None),
            };
            let mut query = format!("kind={}", encode(&kind));
            for (key, value) in [
                ("name", &name),
                ("namespace", &namespace),
                ("selector", &selector),
            ] {
                if let Some(v) = value {
                    query.push_str(&format!("&{key}={}", encode(v)));
                }
            }
            let out = client.get(&format!("/environments/{}/objects?{query}", encode(&env)))?;
            let objs: Vec<&serde_json::Value> = out.as_array().into_iter().flatten().collect();
            if let Some(n) = &name
                && objs.is_empty()
            {
                anyhow::bail!("{kind}/{n} not found in environment {env}");
            }
            print_objects(&objs, name.is_some(), fmt)?;
            Ok(Exit::Success)
        }
        EnvCommand::Apply {
            file,
            env,
            manager,
            namespace,
        } => {
            let objects: Vec<_> = slipway_manifests::load_path(&file)?
                .into_iter()
                .map(|d| d.object)
                .collect();
            let out = client.post(
                &format!(
                    "/environments/{}/objects?manager={}&namespace={}",
                    encode(&env),
                    encode(&manager),
                    encode(&namespace)
                ),
                &serde_json::json!({"objects": objects}),
            )?;
            let mut t = String::new();
            for stored in out.as_array().into_iter().flatten() {
                t.push_str(&applied_text(stored));
            }
            output::stdout(&t)?;
            Ok(Exit::Success)
        }
        EnvCommand::Delete {
            target,
            namespace,
            env,
            manager,
        } => {
            let (kind, name) = target
                .split_once('/')
                .ok_or_else(|| anyhow::anyhow!("expected KIND/NAME, got {target:?}"))?;
            let out = client.delete(&format!(
                "/environments/{}/objects/{}/{}?namespace={}&manager={}",
                encode(&env),
                encode(kind),
                encode(name),
                encode(&namespace),
                encode(&manager)
            ))?;
            output::stdout(&format!(
                "{} deleted\n",
                out["deleted"].as_str().unwrap_or(target.as_str())
            ))?;
            Ok(Exit::Success)
        }
    }
}

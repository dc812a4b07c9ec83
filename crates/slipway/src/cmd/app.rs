//! `slipway app ...`: Argo CD Applications and ApplicationSets against a data
//! directory: apply, list, get, diff, sync, history, rollback, delete, and the
//! automated reconcile loop.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use slipway_gitops::controller::{Controller, SyncRequest};
use slipway_gitops::environments::Environments;
use slipway_gitops::gate::SyncGate;
use slipway_gitops::store::SyncStatusCode;

use crate::exit::Exit;
use crate::output;

/// Environment variable naming the data directory.
pub const DATA_DIR_ENV: &str = "SLIPWAY_DATA_DIR";

/// Where state lives and where environments are declared.
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// Data directory (state, embedded environments, Git cache).
    #[arg(long, global = true, env = DATA_DIR_ENV, default_value = ".slipway")]
    pub data_dir: PathBuf,
    /// Platform repository root holding `slipway.yaml` (environments).
    #[arg(long, global = true, default_value = ".")]
    pub platform: PathBuf,
}

impl StateArgs {
    /// Opens the controller, with the platform's pre-sync policy gate when
    /// `slipway.yaml` is there.
    pub fn controller(&self) -> anyhow::Result<Controller> {
        let envs = Environments::load(&self.platform)?;
        let controller = Controller::open(&self.data_dir, envs)?;
        Ok(match SyncGate::load(&self.platform)? {
            Some(gate) => {
                for s in &gate.skipped {
                    output::warn(&format!("pre-sync gate: {s} (not evaluated)"));
                }
                controller.with_gate(gate)
            }
            None => controller,
        })
    }
}

/// Output formats of `app get`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// Human summary.
    Wide,
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

/// App commands.
#[derive(Debug, Args)]
pub struct AppArgs {
    #[command(flatten)]
    state: StateArgs,
    #[command(subcommand)]
    command: AppCommand,
}

/// App subcommands.
#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Store Applications / ApplicationSets from a file (or directory).
    Apply {
        /// The manifest file.
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
    },
    /// List applications with sync and health status.
    List,
    /// Show an application (refreshes its status first).
    Get {
        /// Name.
        name: String,
        /// Output format.
        #[arg(short, long, value_enum, default_value = "wide")]
        output: Format,
    },
    /// Unified diff of live against Git; exit 1 when out of sync.
    Diff {
        /// Name.
        name: String,
    },
    /// Sync an application.
    Sync {
        /// Name.
        name: String,
        /// Revision to sync to (branch, tag, SHA).
        #[arg(long)]
        revision: Option<String>,
        /// Delete resources no longer in Git.
        #[arg(long)]
        prune: bool,
        /// Show the plan without changing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Sync history.
    History {
        /// Name.
        name: String,
    },
    /// Roll back to a history id (refused while automated sync is on).
    Rollback {
        /// Name.
        name: String,
        /// History id.
        id: u64,
        /// Prune resources not in that revision.
        #[arg(long)]
        prune: bool,
    },
    /// Delete an application.
    Delete {
        /// Name.
        name: String,
        /// Also delete its resources.
        #[arg(long)]
        cascade: bool,
    },
    /// Run the automated loop: poll sources, auto-sync, self-heal.
    Reconcile {
        /// One pass (the default).
        #[arg(long, conflicts_with = "watch")]
        once: bool,
        /// Keep running, one pass every --interval seconds.
        #[arg(long)]
        watch: bool,
        /// Seconds between passes with --watch.
        #[arg(long, default_value_t = 10)]
        interval: u64,
    },
}

fn user() -> String {
    std::env::var("USER").unwrap_or_else(|_| "cli".into())
}

/// Runs an app command.
pub fn run(args: AppArgs) -> anyhow::Result<Exit> {
    let c = args.state.controller()?;
    match args.command {
        AppCommand::Apply { file } => {
            let docs = slipway_manifests::load_path(&file)?;
            for name in c.apply_documents(&docs)? {
                output::stdout(&format!("{name} configured\n"))?;
            }
            Ok(Exit::Success)
        }
        AppCommand::List => {
            let mut text = format!(
                "{:<28} {:<10} {:<12} {:<12} {}\n",
                "NAME", "ENV", "SYNC", "HEALTH", "REVISION"
            );
            for a in c.store().list(slipway_gitops::controller::APP_KIND)? {
                let env = a
                    .manifest
                    .pointer("/spec/destination/name")
                    .or_else(|| a.manifest.pointer("/spec/destination/server"))
                    .and_then(|v| v.as_str())
                    .unwrap_or("");
                let rev = a
                    .status
                    .revisions
                    .first()
                    .map(|r| &r[..r.len().min(12)])
                    .unwrap_or("");
                text.push_str(&format!(
                    "{:<28} {:<10} {:<12} {:<12} {}\n",
                    a.name,
                    env,
                    a.status.sync.as_str(),
                    a.status.health.status.as_str(),
                    rev
                ));
            }
            output::stdout(&text)?;
            Ok(Exit::Success)
        }
        AppCommand::Get { name, output: fmt } => {
            let (_, status) = c.refresh(&name)?;
            let (app, _) = c.application(&name)?;
            let mut obj = app.manifest.clone();
            obj["status"] = serde_json::to_value(&status)?;
            match fmt {
                Format::Json => {
                    output::stdout(&format!("{}\n", serde_json::to_string_pretty(&obj)?))?
                }
                Format::Yaml => output::stdout(&serde_saphyr::to_string(&obj)?)?,
                Format::Wide => {
                    let mut t = format!(
                        "Name:      {}\nProject:   {}\nSync:      {} {}\nHealth:    {} {}\nRevision:  {}\n",
                        app.name,
                        app.project(),
                        status.sync.as_str(),
                        status.sync_reason,
                        status.health.status.as_str(),
                        status.health.causes,
                        status.revisions.join(",")
                    );
                    for cond in &status.conditions {
                        t.push_str(&format!("Condition: {}: {}\n", cond.kind, cond.message));
                    }
                    if let Some(op) = &status.operation_state {
                        t.push_str(&format!(
                            "Operation: {} ({}) {}\n",
                            op.phase, op.initiator, op.message
                        ));
                    }
                    t.push_str(&format!(
                        "\n{:<48} {:<10} {:<12} {}\n",
                        "RESOURCE", "STATUS", "HEALTH", "MESSAGE"
                    ));
                    for r in &status.resources {
                        let id = slipway_gitops::cluster::ResourceRef::new(
                            &r.group,
                            &r.kind,
                            &r.namespace,
                            &r.name,
                        );
                        let (h, m) = r
                            .health
                            .as_ref()
                            .map_or(("", ""), |h| (h.status.as_str(), h.message.as_str()));
                        let s = if r.requires_pruning {
                            "Prune"
                        } else {
                            r.status.as_str()
                        };
                        t.push_str(&format!(
                            "{:<48} {:<10} {:<12} {}\n",
                            id.to_string(),
                            s,
                            h,
                            m
                        ));
                    }
                    output::stdout(&t)?;
                }
            }
            Ok(Exit::Success)
        }
        AppCommand::Diff { name } => {
            let (cmp, texts) = c.diff(&name)?;
            if let Some(e) = &cmp.error {
                output::stdout(&format!("error: {e}\n"))?;
            }
            output::stdout(&texts.concat())?;
            Ok(if cmp.sync == SyncStatusCode::Synced {
                Exit::Success
            } else {
                Exit::Findings
            })
        }
        AppCommand::Sync {
            name,
            revision,
            prune,
            dry_run,
        } => {
            let out = c.sync(
                &name,
                &SyncRequest {
                    revision,
                    prune,
                    dry_run,
                    initiator: user(),
                    reason: "manual sync".into(),
                    ..SyncRequest::default()
                },
            )?;
            print_entry(&out.entry)?;
            Ok(if out.entry.result == "Succeeded" {
                Exit::Success
            } else {
                Exit::Findings
            })
        }
        AppCommand::History { name } => {
            c.application(&name)?;
            let mut t = format!(
                "{:<4} {:<26} {:<12} {:<10} {:<14} {}\n",
                "ID", "DEPLOYED", "REVISION", "RESULT", "INITIATOR", "REASON"
            );
            for e in c.store().history(&name)? {
                let rev = e
                    .revisions
                    .first()
                    .map(|r| &r[..r.len().min(12)])
                    .unwrap_or("");
                t.push_str(&format!(
                    "{:<4} {:<26} {:<12} {:<10} {:<14} {}\n",
                    e.id, e.deployed_at, rev, e.result, e.initiator, e.reason
                ));
            }
            output::stdout(&t)?;
            Ok(Exit::Success)
        }
        AppCommand::Rollback { name, id, prune } => {
            let out = c.rollback(&name, id, &user(), prune)?;
            print_entry(&out.entry)?;
            Ok(if out.entry.result == "Succeeded" {
                Exit::Success
            } else {
                Exit::Findings
            })
        }
        AppCommand::Delete { name, cascade } => {
            let deleted = c.delete(&name, cascade)?;
            let mut t = String::new();
            for r in deleted {
                t.push_str(&format!("deleted {r}\n"));
            }
            t.push_str(&format!("application {name} deleted\n"));
            output::stdout(&t)?;
            Ok(Exit::Success)
        }
        AppCommand::Reconcile {
            once: _,
            watch,
            interval,
        } => loop {
            let report = c.reconcile_once().context("reconcile pass")?;
            let mut t = format!("reconciled {} application(s)\n", report.compared);
            for (app, reason, result) in &report.synced {
                t.push_str(&format!("synced {app}: {reason}: {result}\n"));
            }
            for (app, e) in &report.errors {
                t.push_str(&format!("error {app}: {e}\n"));
            }
            output::stdout(&t)?;
            if !watch {
                return Ok(if report.errors.is_empty() {
                    Exit::Success
                } else {
                    Exit::Findings
                });
            }
            std::thread::sleep(std::time::Duration::from_secs(interval));
        },
    }
}

fn print_entry(e: &slipway_gitops::store::HistoryEntry) -> anyhow::Result<()> {
    let mut t = format!(
        "Operation: {} ({})\nRevision:  {}\nMessage:   {}\n\n{:<8} {:<5} {:<48} {:<13} {}\n",
        e.result,
        e.reason,
        e.revisions.join(","),
        e.message,
        "PHASE",
        "WAVE",
        "RESOURCE",
        "STATUS",
        "MESSAGE"
    );
    for v in &e.policy_violations {
        t.push_str(&format!("Blocked:   {v}\n"));
    }
    for a in &e.policy_audits {
        t.push_str(&format!("Audit:     {a}\n"));
    }
    for r in &e.resources {
        let id =
            slipway_gitops::cluster::ResourceRef::new(&r.group, &r.kind, &r.namespace, &r.name);
        t.push_str(&format!(
            "{:<8} {:<5} {:<48} {:<13} {}\n",
            r.sync_phase.as_str(),
            r.wave,
            id.to_string(),
            r.status,
            r.message
        ));
    }
    output::stdout(&t)
}

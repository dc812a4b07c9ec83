//! `slipway app ...`: Argo CD Applications and ApplicationSets against a data
//! directory: apply, list, get, diff, sync, history, rollback, delete, and the
//! automated reconcile loop. With `--server URL` (or `SLIPWAY_SERVER`) every
//! verb goes through a running control plane's REST API instead, so the CLI
//! and `slipway serve` never write the same state from two processes.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use slipway_gitops::controller::{Controller, SyncRequest};
use slipway_gitops::environments::Environments;
use slipway_gitops::gate::SyncGate;
use slipway_gitops::store::{AppStatus, HistoryEntry, SyncStatusCode};
use slipway_server::client::{Client, encode};

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

/// Environment variable naming the control plane URL.
pub const SERVER_ENV: &str = "SLIPWAY_SERVER";
/// Environment variable holding the API token.
pub const TOKEN_ENV: &str = "SLIPWAY_TOKEN";

/// Where a running control plane listens, for `app` and `env` verbs.
#[derive(Debug, Clone, Args)]
pub struct RemoteArgs {
    /// Use the control plane at this URL (REST API, e.g. http://127.0.0.1:8080)
    /// instead of opening the data directory.
    #[arg(long, global = true, env = SERVER_ENV)]
    pub server: Option<String>,
    /// API token for calls that change state (default: the token file in
    /// the data directory, when readable).
    #[arg(long, global = true, env = TOKEN_ENV, hide_env_values = true)]
    pub token: Option<String>,
}

impl RemoteArgs {
    /// The API client when `--server` is given.
    pub fn client(&self, state: &StateArgs) -> anyhow::Result<Option<Client>> {
        let Some(url) = &self.server else {
            return Ok(None);
        };
        let token = match &self.token {
            Some(t) => Some(t.trim().to_string()),
            None => fs_err::read_to_string(state.data_dir.join(slipway_server::server::TOKEN_FILE))
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
        };
        Ok(Some(Client::new(url, token, Some(user()))?))
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
    #[command(flatten)]
    remote: RemoteArgs,
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
    if let Some(client) = args.remote.client(&args.state)? {
        return run_remote(&client, args.command);
    }
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
            let mut text = list_header();
            for a in c.store().list(slipway_gitops::controller::APP_KIND)? {
                let env = a
                    .manifest
                    .pointer("/spec/destination/name")
                    .or_else(|| a.manifest.pointer("/spec/destination/server"))
                    .and_then(|v| v.as_str())
                    .unwrap_or("");
                text.push_str(&list_row(
                    &a.name,
                    env,
                    a.status.sync.as_str(),
                    a.status.health.status.as_str(),
                    a.status.revisions.first().map_or("", String::as_str),
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
                Format::Json | Format::Yaml => print_object(&obj, fmt)?,
                Format::Wide => output::stdout(&wide(&app.name, app.project(), &status))?,
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
            output::stdout(&history(&c.store().history(&name)?))?;
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
            let deleted: Vec<String> = c
                .delete(&name, cascade)?
                .iter()
                .map(ToString::to_string)
                .collect();
            output::stdout(&deleted_text(&name, &deleted))?;
            Ok(Exit::Success)
        }
        AppCommand::Reconcile {
            once: _,
            watch,
            interval,
        } => loop {
            let report = c.reconcile_once().context("reconcile pass")?;
            output::stdout(&reconcile_text(
                report.compared,
                &report.synced,
                &report.errors,
            ))?;
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

fn list_header() -> String {
    format!(
        "{:<28} {:<10} {:<12} {:<12} {}\n",
        "NAME", "ENV", "SYNC", "HEALTH", "REVISION"
    )
}

fn list_row(name: &str, env: &str, sync: &str, health: &str, revision: &str) -> String {
    let rev = &revision[..revision.len().min(12)];
    format!("{name:<28} {env:<10} {sync:<12} {health:<12} {rev}\n")
}

fn print_object(obj: &serde_json::Value, fmt: Format) -> anyhow::Result<()> {
    match fmt {
        Format::Yaml => output::stdout(&serde_saphyr::to_string(obj)?),
        Format::Json | Format::Wide => {
            output::stdout(&format!("{}\n", serde_json::to_string_pretty(obj)?))
        }
    }
}

/// `app get` in the human format.
fn wide(name: &str, project: &str, status: &AppStatus) -> String {
    let mut t = format!(
        "Name:      {}\nProject:   {}\nSync:      {} {}\nHealth:    {} {}\nRevision:  {}\n",
        name,
        project,
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
        let id =
            slipway_gitops::cluster::ResourceRef::new(&r.group, &r.kind, &r.namespace, &r.name);
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
    t
}

fn history(entries: &[HistoryEntry]) -> String {
    let mut t = format!(
        "{:<4} {:<26} {:<12} {:<10} {:<14} {}\n",
        "ID", "DEPLOYED", "REVISION", "RESULT", "INITIATOR", "REASON"
    );
    for e in entries {
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
    t
}

fn deleted_text(name: &str, resources: &[String]) -> String {
    let mut t = String::new();
    for r in resources {
        t.push_str(&format!("deleted {r}\n"));
    }
    t.push_str(&format!("application {name} deleted\n"));
    t
}

fn reconcile_text(
    compared: usize,
    synced: &[(String, String, String)],
    errors: &[(String, String)],
) -> String {
    let mut t = format!("reconciled {compared} application(s)\n");
    for (app, reason, result) in synced {
        t.push_str(&format!("synced {app}: {reason}: {result}\n"));
    }
    for (app, e) in errors {
        t.push_str(&format!("error {app}: {e}\n"));
    }
    t
}

fn entry_exit(e: &HistoryEntry) -> Exit {
    if e.result == "Succeeded" {
        Exit::Success
    } else {
        Exit::Findings
    }
}

fn str_of<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v.get(key).and_then(serde_json::Value::as_str).unwrap_or("")
}

/// Every app verb through the REST API of a running control plane.
fn run_remote(client: &Client, command: AppCommand) -> anyhow::Result<Exit> {
    match command {
        AppCommand::Apply { file } => {
            let docs = slipway_manifests::load_path(&file)?;
            let objects: Vec<_> = docs.into_iter().map(|d| d.object).collect();
            let out = client.post("/applications", &serde_json::json!({"documents": objects}))?;
            let mut t = String::new();
            for name in out["configured"].as_array().into_iter().flatten() {
                t.push_str(&format!("{} configured\n", name.as_str().unwrap_or("")));
            }
            output::stdout(&t)?;
            Ok(Exit::Success)
        }
        AppCommand::List => {
            let apps = client.get("/applications")?;
            let mut t = list_header();
            for a in apps.as_array().into_iter().flatten() {
                t.push_str(&list_row(
                    str_of(a, "name"),
                    str_of(a, "env"),
                    str_of(a, "sync"),
                    str_of(a, "health"),
                    str_of(a, "revision"),
                ));
            }
            output::stdout(&t)?;
            Ok(Exit::Success)
        }
        AppCommand::Get { name, output: fmt } => {
            let out = client.get(&format!("/applications/{}?refresh=true", encode(&name)))?;
            let obj = &out["application"];
            match fmt {
                Format::Json | Format::Yaml => print_object(obj, fmt)?,
                Format::Wide => {
                    let status: AppStatus = serde_json::from_value(obj["status"].clone())
                        .context("the server's application status")?;
                    output::stdout(&wide(&name, str_of(&out["summary"], "project"), &status))?;
                }
            }
            Ok(Exit::Success)
        }
        AppCommand::Diff { name } => {
            let out = client.get(&format!("/applications/{}/diff", encode(&name)))?;
            if let Some(e) = out["error"].as_str() {
                output::stdout(&format!("error: {e}\n"))?;
            }
            let texts: Vec<&str> = out["diffs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(serde_json::Value::as_str)
                .collect();
            output::stdout(&texts.concat())?;
            Ok(if out["sync"] == SyncStatusCode::Synced.as_str() {
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
            let out = client.post(
                &format!("/applications/{}/sync", encode(&name)),
                &serde_json::json!({"revision": revision, "prune": prune, "dryRun": dry_run}),
            )?;
            let entry: HistoryEntry =
                serde_json::from_value(out["entry"].clone()).context("the server's sync result")?;
            print_entry(&entry)?;
            Ok(entry_exit(&entry))
        }
        AppCommand::History { name } => {
            let out = client.get(&format!("/applications/{}/history", encode(&name)))?;
            let entries: Vec<HistoryEntry> =
                serde_json::from_value(out).context("the server's history")?;
            output::stdout(&history(&entries))?;
            Ok(Exit::Success)
        }
        AppCommand::Rollback { name, id, prune } => {
            let out = client.post(
                &format!("/applications/{}/rollback", encode(&name)),
                &serde_json::json!({"id": id, "prune": prune}),
            )?;
            let entry: HistoryEntry = serde_json::from_value(out["entry"].clone())
                .context("the server's rollback result")?;
            print_entry(&entry)?;
            Ok(entry_exit(&entry))
        }
        AppCommand::Delete { name, cascade } => {
            let out = client.delete(&format!(
                "/applications/{}?cascade={cascade}",
                encode(&name)
            ))?;
            let resources: Vec<String> = out["resources"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect();
            output::stdout(&deleted_text(&name, &resources))?;
            Ok(Exit::Success)
        }
        AppCommand::Reconcile {
            once: _,
            watch,
            interval,
        } => loop {
            let out = client.post("/reconcile", &serde_json::json!({}))?;
            let synced: Vec<(String, String, String)> = out["synced"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    (
                        str_of(s, "app").to_string(),
                        str_of(s, "reason").to_string(),
                        str_of(s, "result").to_string(),
                    )
                })
                .collect();
            let errors: Vec<(String, String)> = out["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| (str_of(e, "app").to_string(), str_of(e, "error").to_string()))
                .collect();
            let compared = out["compared"].as_u64().unwrap_or(0) as usize;
            output::stdout(&reconcile_text(compared, &synced, &errors))?;
            if !watch {
                return Ok(if errors.is_empty() {
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

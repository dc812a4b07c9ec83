//! Subcommands. Each module owns one command group: its clap `Args` and a
//! `run` function returning an [`Exit`]. To add a group: write `cmd/<name>.rs`
//! with `pub struct <Name>Args` (clap `Args` or `Subcommand`) and
//! `pub fn run(args) -> anyhow::Result<Exit>`, then add one variant below and
//! one arm in [`run`].

use clap::Subcommand;

use crate::exit::Exit;

pub mod app;
pub mod check;
pub mod db;
pub mod env;
pub mod health;
pub mod image;
pub mod inventory;
pub mod key;
pub mod policy;
pub mod render;
pub mod scan;
pub mod serve;
pub mod sigstore;
pub mod up;
pub mod vuln;
pub mod webhook;

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// GitOps: Argo CD Applications and ApplicationSets, synced from Git to environments.
    App(app::AppArgs),
    /// The security gate: policies, risk score and secrets over rendered manifests, one report, one exit code.
    Check(check::CheckArgs),
    /// Environments: read and change live objects by hand (as kubectl would).
    Env(env::EnvArgs),
    /// Health of live objects as the sync engine judges it (Argo CD's rules).
    Health(health::HealthArgs),
    /// Kyverno-compatible policies: apply them to resources, run kyverno-test suites.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Render a target (kustomization or manifest directory) to its manifests, as `kustomize build` does.
    Render(render::RenderArgs),
    /// Security scans: manifest risk scores (KubeSec rules), secrets in files and Git history.
    #[command(subcommand)]
    Scan(scan::ScanCommand),
    /// Vulnerability engine tools (version order checks).
    #[command(subcommand)]
    Vuln(vuln::VulnCommand),
    /// The admission webhook: print its Kubernetes registration manifests.
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
    /// The control plane: reconcilers, REST API, console, /metrics, admission webhook.
    Serve(serve::ServeArgs),
    /// Quickstart: the control plane with the example platform repository.
    Up(up::UpArgs),
    /// The offline OSV advisory database: import, status.
    #[command(subcommand)]
    Db(db::DbCommand),
    /// List the packages in an image layout, a directory, a lockfile or an SBOM.
    Inventory(inventory::InventoryArgs),
    /// Images without Docker: build, push, pull, copy, inspect, list, sign, verify.
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// Cosign-compatible signing keys.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Sigstore bundles: offline verification (the sigstore-conformance client protocol).
    #[command(subcommand)]
    Sigstore(sigstore::SigstoreCommand),
}

/// Runs a command.
pub fn run(command: Command) -> anyhow::Result<Exit> {
    match command {
        Command::App(a) => app::run(a),
        Command::Check(a) => check::run(a),
        Command::Env(a) => env::run(a),
        Command::Health(a) => health::run(a),
        Command::Policy(c) => policy::run(c),
        Command::Render(a) => render::run(a),
        Command::Scan(c) => scan::run(c),
        Command::Vuln(c) => vuln::run(c),
        Command::Webhook(c) => webhook::run(c),
        Command::Serve(a) => serve::run(a),
        Command::Up(a) => up::run(a),
        Command::Db(c) => db::run(c),
        Command::Inventory(a) => inventory::run(a),
        Command::Image(c) => image::run(c),
        Command::Key(c) => key::run(c),
        Command::Sigstore(c) => sigstore::run(c),
    }
}

//! `slipway up`: the quickstart. Creates the data directory, turns
//! `examples/platform` into a Git repository there (unless `--repo`), registers
//! its environments and Applications, and serves the control plane.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::Value;
use slipway_gitops::controller::Controller;
use slipway_gitops::environments::Environments;
use slipway_server::server::{ServeConfig, ensure_token};

use crate::cmd::serve::{LogFormat, init_logging, serve_until_signal};
use crate::exit::Exit;

/// `up` options.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// The platform repository (a path or a Git URL); default: a Git copy of examples/platform.
    #[arg(long)]
    repo: Option<String>,
    /// Where the example platform is read from when --repo is absent.
    #[arg(long, default_value = "examples/platform")]
    example: PathBuf,
    /// Data directory.
    #[arg(long, env = crate::cmd::app::DATA_DIR_ENV, default_value = ".slipway")]
    data_dir: PathBuf,
    /// API and console port (127.0.0.1).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Admission webhook port (HTTPS, 127.0.0.1).
    #[arg(long, default_value_t = 8443)]
    webhook_port: u16,
    /// Seconds between reconcile passes.
    #[arg(long, default_value_t = 5)]
    interval: u64,
    /// Log format.
    #[arg(long, value_enum, default_value = "human")]
    log_format: LogFormat,
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=slipway",
            "-c",
            "user.email=slipway@localhost",
        ])
        .args(args)
        .output()
        .context("cannot run git (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "git {} in {}: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs_err::create_dir_all(to)?;
    for e in fs_err::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_tree(&e.path(), &target)?;
        } else {
            fs_err::copy(e.path(), &target)?;
        }
    }
    Ok(())
}

/// Creates `<data>/platform` as a Git repository holding the example (once).
fn example_repo(example: &Path, data_dir: &Path) -> anyhow::Result<PathBuf> {
    let repo = data_dir.join("platform");
    if repo.join(".git").exists() {
        return Ok(repo);
    }
    if !example.join("slipway.yaml").exists() {
        bail!(
            "{} has no slipway.yaml\nhint: run `slipway up` from the root of a Slipway checkout, or pass --example DIR or --repo PATH|URL",
            example.display()
        );
    }
    copy_tree(example, &repo)?;
    git(&repo, &["init", "-q", "-b", "main"])?;
    git(&repo, &["add", "-A"])?;
    git(&repo, &["commit", "-q", "-m", "example platform"])?;
    Ok(repo)
}

/// Registers the Applications found in the platform repo; an Application
/// whose `repoURL` is `.` points at the platform repository itself.
fn register(c: &Controller, platform: &Path, repo_url: &str) -> anyhow::Result<Vec<String>> {
    let mut docs = Vec::new();
    for dir in ["applications", "apps", "platform"] {
        let d = platform.join(dir);
        if d.exists() {
            docs.extend(slipway_manifests::load_path(&d)?);
        }
    }
    let mut apps = Vec::new();
    for mut d in docs {
        let is_app = d.object.get("apiVersion").and_then(Value::as_str)
            == Some("argoproj.io/v1alpha1")
            && matches!(
                d.object.get("kind").and_then(Value::as_str),
                Some("Application" | "ApplicationSet")
            );
        if !is_app {
            continue;
        }
        if let Some(src) = d.object.pointer_mut("/spec/source/repoURL")
            && src.as_str() == Some(".")
        {
            *src = Value::String(repo_url.to_string());
        }
        apps.push(d);
    }
    Ok(c.apply_documents(&apps)?)
}

/// Runs `up`.
pub fn run(args: UpArgs) -> anyhow::Result<Exit> {
    init_logging(args.log_format);
    fs_err::create_dir_all(&args.data_dir)?;
    let data_dir = fs_err::canonicalize(&args.data_dir)?;
    let (platform, repo_url) = match &args.repo {
        Some(r) if Path::new(r).exists() => {
            let p = fs_err::canonicalize(r)?;
            (p.clone(), format!("file://{}", p.display()))
        }
        Some(url) => {
            // A remote platform repo: clone it once to read its layout.
            let p = data_dir.join("platform");
            if !p.join(".git").exists() {
                let out = Command::new("git")
                    .args(["clone", "-q", url])
                    .arg(&p)
                    .output()
                    .context("cannot run git")?;
                if !out.status.success() {
                    bail!(
                        "git clone {url}: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                }
            }
            (p, url.clone())
        }
        None => {
            let p = example_repo(&args.example, &data_dir)?;
            (p.clone(), format!("file://{}", p.display()))
        }
    };
    let envs = Environments::load(&platform)?;
    let registered = {
        let c = Controller::open(&data_dir, envs)?;
        register(&c, &platform, &repo_url)?
    };
    let token = ensure_token(&data_dir)?;
    let config = ServeConfig {
        data_dir: data_dir.clone(),
        platform: platform.clone(),
        policies: None,
        listen: ([127, 0, 0, 1], args.port).into(),
        webhook_listen: Some(([127, 0, 0, 1], args.webhook_port).into()),
        tls: None,
        poll_interval: Duration::from_secs(args.interval.max(1)),
    };
    let platform_shown = platform.display().to_string();
    serve_until_signal(config, move |r| {
        let url = format!("http://{}/", r.api_addr);
        let mut s = String::new();
        s.push_str(&format!("Slipway is up.\n\n  Console:   {url}\n  API:       {url}api/v1/applications\n  Metrics:   {url}metrics\n"));
        if let Some(w) = r.webhook_addr {
            s.push_str(&format!(
                "  Webhook:   https://{w}/validate  (CA: {}/tls/ca.pem)\n",
                data_dir.display()
            ));
        }
        s.push_str(&format!("  Token:     {token}\n  Data dir:  {}\n  Platform:  {platform_shown} (a Git repository)\n", data_dir.display()));
        s.push_str(&format!("  Registered: {}\n\n", registered.join(", ")));
        s.push_str("Try next:\n");
        s.push_str(&format!("  - watch drift healed: slipway env --data-dir {d} --platform {p} ... (edit a live object of web-staging), then reload the console\n", d = data_dir.display(), p = platform_shown));
        s.push_str(&format!("  - ship a change: edit {platform_shown}/apps/web/deployment.yaml, `git -C {platform_shown} commit -am change`, and watch web-staging sync\n"));
        s.push_str(&format!("  - sync prod by hand: curl -X POST -H 'Authorization: Bearer {token}' {url}api/v1/applications/web-prod/sync\n"));
        s.push_str(&format!("  - the webhook blocks a Pod with a latest tag: slipway webhook manifest --data-dir {} --url https://127.0.0.1:{}\n", data_dir.display(), args.webhook_port));
        s.push_str("\nCtrl-C stops; running `slipway up` again reuses the data directory.\n");
        s
    })
}

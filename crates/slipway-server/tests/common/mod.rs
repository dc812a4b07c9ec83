//! Shared set-up for the server's integration tests: a real Git platform
//! repository with one environment and one Application registered in a
//! data directory, readiness polling and PATH look-ups.

#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use slipway_gitops::controller::Controller;
use slipway_gitops::environments::Environments;

pub fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(args)
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}

/// A platform repo with one environment (`prod`) and one manual Application
/// (`web`, the guestbook); returns the repository and the data directory.
pub fn platform(root: &Path) -> (PathBuf, PathBuf) {
    let repo = root.join("platform");
    let example = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/platform"));
    fs_err::create_dir_all(repo.join("apps/guestbook")).unwrap();
    for f in [
        "slipway.yaml",
        "apps/guestbook/deployment.yaml",
        "apps/guestbook/service.yaml",
    ] {
        fs_err::copy(example.join(f), repo.join(f)).unwrap();
    }
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "init"]);
    let data = root.join("data");
    let app = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web\nspec:\n  project: default\n  source:\n    repoURL: file://{}\n    targetRevision: HEAD\n    path: apps/guestbook\n  destination:\n    name: prod\n    namespace: web\n",
        repo.display()
    );
    let c = Controller::open(&data, Environments::load(&repo).unwrap()).unwrap();
    c.apply_documents(&slipway_manifests::load_str(&app, "app.yaml").unwrap())
        .unwrap();
    (repo, data)
}

pub async fn wait_ready(http: &reqwest::Client, base: &str) {
    let start = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "never ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An executable on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A free loopback port (bound then released: the child binds it next).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
